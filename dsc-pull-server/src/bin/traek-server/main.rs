//! `traek-server`: the DSC pull server.
//!
//! With no arguments it serves on 127.0.0.1:8080 with its data in ./traek-data, creating a
//! registration key and an admin token if none exist, and prints where they are.
mod cli;
mod setup;
mod users;

use clap::Parser;
use cli::{Cli, Command, overrides};
use dsc_pull_server::app::{App, serve};
use dsc_pull_server::config::{FileConfig, ServerConfig};
use dsc_pull_server::keys::KeyFile;
use dsc_pull_server::metrics::Metrics;
use dsc_pull_server::storage::{self, Storage};
use setup::{
    FIRST_ADMIN, admin_token, first_admin, keep_git_source, registration_keys, single_sign_on,
};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use users::users;

fn main() -> ExitCode {
    // Everything the server writes (database, blobs, keys, tokens) is its user's alone.
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask; no memory is involved.
    unsafe {
        libc::umask(0o077);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let file = match cli.opts.config.as_deref().map(FileConfig::load).transpose() {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let config = match ServerConfig::resolve(file, overrides(&cli.opts)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(Command::Healthcheck { url }) = &cli.command {
        return healthcheck(
            url.clone()
                .unwrap_or_else(|| format!("http://{}", config.listen)),
        );
    }
    init_logging(config.log_json);
    if std::env::args().any(|a| a == "--admin-token" || a.starts_with("--admin-token=")) {
        tracing::warn!(
            "--admin-token on the command line is visible to every user of this machine (ps); give it in TRAEK_ADMIN_TOKEN or the TOML file"
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Some(Command::Import { from }) => import(config, &from).await,
            Some(Command::Migrate) => migrate(&config).await,
            Some(Command::User(cmd)) => users(&config, cmd).await,
            Some(Command::Healthcheck { .. }) => Ok(()),
            None | Some(Command::Serve) => run(config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn healthcheck(base: String) -> ExitCode {
    let client = dsc_core::pull::client::PullClient::new(&base, uuid::Uuid::nil());
    match client.request("GET", "/healthz", &[], None) {
        Ok(r) if r.status == 200 => ExitCode::SUCCESS,
        Ok(r) => {
            eprintln!("unhealthy: {base}/healthz answered {}", r.status);
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("unhealthy: {base}/healthz: {e}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Opens the configured storage and the keys mirror: with SQLite the keys file is always
/// mirrored; with PostgreSQL only when named explicitly.
async fn open_storage(config: &ServerConfig) -> Result<(Arc<dyn Storage>, KeyFile), String> {
    if config.database.is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| format!("creating {}: {e}", config.data_dir.display()))?;
    }
    let storage = storage::open(&config.storage_location())
        .await
        .map_err(|e| e.to_string())?;
    let keys = if config.database.is_none() || config.registration_keys_explicit {
        KeyFile::new(&config.registration_keys)
    } else {
        KeyFile::none()
    };
    Ok((storage, keys))
}

async fn migrate(config: &ServerConfig) -> Result<(), String> {
    let Some(url) = &config.database else {
        return Err("migrate needs --database postgres://... (SQLite migrates itself)".into());
    };
    storage::postgres::check_url(url).map_err(|e| e.to_string())?;
    let target = storage::postgres::Target::new(url, config.database_ca.as_deref())
        .map_err(|e| e.to_string())?;
    let applied = storage::postgres::migrate(&target)
        .await
        .map_err(|e| e.to_string())?;
    if applied.is_empty() {
        println!(
            "schema is up to date (version {})",
            storage::postgres::schema::latest()
        );
    } else {
        for v in applied {
            println!("applied migration {v}");
        }
    }
    Ok(())
}

async fn run(config: ServerConfig) -> Result<(), String> {
    let (token, token_file) = admin_token(&config)?;
    let (storage, keys) = open_storage(&config).await?;
    dsc_pull_server::keys::secure_data_dir(&config.data_dir);
    let active = registration_keys(&config, storage.as_ref(), &keys).await?;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(dsc_pull_server::tls::server_config(cert, key)?),
        (None, None) => None,
        _ => return Err("HTTPS needs both --tls-cert and --tls-key".to_string()),
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("listening on {}: {e}", config.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // Handled from before the server says it listens: a signal sent as soon as it does is
    // never the default action (for SIGTERM and SIGHUP, ending the process on the spot).
    let signals = Signals::handle()?;
    eprintln!("traek-server listening on {scheme}://{local}");
    if tls.is_none() && !local.ip().is_loopback() && config.trusted_proxies.nets.is_empty() {
        tracing::warn!(
            "serving plain HTTP on a non-loopback address without --trusted-proxy: registrations, configurations (which may hold credentials) and dashboard sessions cross the network unencrypted; use --tls-cert/--tls-key or a TLS-terminating proxy"
        );
    }
    match &config.database {
        Some(url) => eprintln!("  database:           {}", storage::postgres::redact(url)),
        None => eprintln!("  data directory:     {}", config.data_dir.display()),
    }
    if let Some(content) = &config.content {
        eprintln!("  content:            {content}");
    }
    match keys.path() {
        Some(p) => eprintln!("  registration keys:  {} ({active} key(s))", p.display()),
        None => eprintln!("  registration keys:  in the database ({active} key(s))"),
    }
    if active == 0 {
        tracing::warn!(
            "no registration key is active: add one with `traek server keys add` or POST /api/v1/keys"
        );
    }
    match &token_file {
        Some(f) => eprintln!("  admin token:        in {}", f.display()),
        None => eprintln!("  admin token:        from configuration"),
    }
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{local}"));
    eprintln!("  LCM ServerURL:      {public_url}/PSDSCPullServer.svc");
    eprintln!("  dashboard:          {public_url}/ui/");
    let oidc = single_sign_on(&config, &public_url)?;
    keep_git_source(&config, storage.as_ref()).await?;
    match first_admin(&config, storage.as_ref()).await? {
        Some(file) => eprintln!(
            "  first sign-in:      user {FIRST_ADMIN}, password in {}",
            file.display()
        ),
        None => tracing::debug!("accounts exist: no first-run account"),
    }
    let app = Arc::new(App {
        storage: storage.clone(),
        keys,
        config,
        admin_token: token,
        metrics: Metrics::default(),
        tls,
        notifier: Default::default(),
        oidc,
        public_url,
        git_sync: Default::default(),
    });
    let shutdown = signals.watch(Arc::clone(&app));
    serve(Arc::clone(&app), listener, shutdown)
        .await
        .map_err(|e| e.to_string())?;
    drop(app);
    drop(storage);
    tracing::info!("stopped");
    Ok(())
}

/// The signals the server acts on, handled from the moment this is made.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn handle() -> Result<Self, String> {
        use tokio::signal::unix::{SignalKind, signal};
        let handle = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| format!("handling {name}: {e}"))
        };
        Ok(Signals {
            term: handle(SignalKind::terminate(), "SIGTERM")?,
            int: handle(SignalKind::interrupt(), "SIGINT")?,
            hup: handle(SignalKind::hangup(), "SIGHUP")?,
        })
    }

    #[cfg(not(unix))]
    fn handle() -> Result<Self, String> {
        Ok(Signals {})
    }

    /// Reloads the registration keys on each SIGHUP (in a task of its own); the future ends at
    /// the first SIGTERM or SIGINT (Ctrl-C elsewhere).
    #[cfg(unix)]
    fn watch(self, app: Arc<App>) -> impl std::future::Future<Output = ()> {
        let Signals {
            mut term,
            mut int,
            mut hup,
        } = self;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                match app.keys.sync(app.storage.as_ref()).await {
                    Ok(n) => tracing::info!(keys = n, "registration keys reloaded (SIGHUP)"),
                    Err(e) => tracing::error!(error = %e, "reloading registration keys failed"),
                }
            }
        });
        async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
        }
    }

    #[cfg(not(unix))]
    fn watch(self, _app: Arc<App>) -> impl std::future::Future<Output = ()> {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn import(config: ServerConfig, from: &Path) -> Result<(), String> {
    let (storage, keys) = open_storage(&config).await?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    let report =
        dsc_pull_server::import::import_windows_layout(from, storage.as_ref(), &keys, &public_url)
            .await?;
    for c in &report.configurations {
        println!("imported configuration {c}");
    }
    for m in &report.modules {
        println!("imported module {m}");
    }
    println!("registration keys added: {}", report.keys_added);
    for (file, reason) in &report.skipped {
        eprintln!("skipped {file}: {reason}");
    }
    drop(storage);
    if report.skipped.is_empty() {
        Ok(())
    } else {
        Err(format!("{} item(s) skipped", report.skipped.len()))
    }
}
