//! `traek-server`: the DSC pull server.
//!
//! With no arguments it serves on 127.0.0.1:8080 with its data in ./traek-data, creating a
//! registration key and an admin token if none exist, and prints where they are.

use clap::{Args, Parser, Subcommand};
use dsc_pull_server::app::{App, serve};
use dsc_pull_server::config::{FileConfig, Overrides, ServerConfig};
use dsc_pull_server::keys::{KeyFile, restrict};
use dsc_pull_server::metrics::Metrics;
use dsc_pull_server::storage::{self, Storage};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "traek-server",
    version,
    about = "DSC pull server (MS-DSCPM v2) for Windows LCMs.",
    long_about = "DSC pull server (MS-DSCPM v2) for Windows LCMs.\n\nWith no arguments it serves on 127.0.0.1:8080 with SQLite and content in ./traek-data. \
Give --database postgres://... (and --content s3://BUCKET/PREFIX) to run any number of identical replicas."
)]
struct Cli {
    #[command(flatten)]
    opts: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
struct ServeArgs {
    /// TOML configuration file: the long flags below as keys (listen, data-dir,
    /// public-url, metrics-token-file, ...) plus max-body-bytes, max-upload-bytes and
    /// read-timeout.
    #[arg(long, global = true, env = "TRAEK_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, global = true, env = "TRAEK_LISTEN")]
    listen: Option<SocketAddr>,
    /// Directory of the database and content [default: ./traek-data].
    #[arg(long, global = true, env = "TRAEK_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Registration keys file [default with SQLite: DATA_DIR/RegistrationKeys.txt; with
    /// PostgreSQL: none, the database holds the keys].
    #[arg(long, global = true, env = "TRAEK_REGISTRATION_KEYS")]
    registration_keys: Option<PathBuf>,
    /// Bearer token of the admin API [default: the one in DATA_DIR/admin-token, created if missing].
    #[arg(long, global = true, env = "TRAEK_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// File holding a bearer token that `/metrics` then asks for (Prometheus:
    /// `authorization: {credentials_file: ...}`) [default: /metrics is open].
    #[arg(long, global = true, env = "TRAEK_METRICS_TOKEN_FILE")]
    metrics_token_file: Option<PathBuf>,
    /// Largest accepted difference between a registration's x-ms-date and the server clock, in seconds [default: 300].
    #[arg(long, global = true, env = "TRAEK_MAX_CLOCK_SKEW")]
    max_clock_skew: Option<u64>,
    /// Log as JSON lines.
    #[arg(long, global = true, env = "TRAEK_LOG_JSON")]
    log_json: bool,
    /// PEM certificate chain: serve HTTPS (with --tls-key). LCM client certificates are then
    /// pinned to the thumbprint each agent registered.
    #[arg(long, global = true, env = "TRAEK_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, global = true, env = "TRAEK_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DB) shared by every replica
    /// [default: SQLite in DATA_DIR].
    #[arg(
        long,
        global = true,
        env = "TRAEK_DATABASE_URL",
        hide_env_values = true
    )]
    database: Option<String>,
    /// CA certificate (PEM) of the database server, when the URL has sslmode=require
    /// [default: the system's roots].
    #[arg(long, global = true, env = "TRAEK_DATABASE_CA")]
    database_ca: Option<PathBuf>,
    /// Where content bytes live: s3://BUCKET/PREFIX (endpoint and credentials from AWS_*
    /// variables) or file:///DIR [default: DATA_DIR/blobs].
    #[arg(long, global = true, env = "TRAEK_CONTENT_URL")]
    content: Option<String>,
    /// Prune reports older than this (e.g. 90d, 12h) [default: keep every report].
    #[arg(long, global = true, env = "TRAEK_REPORT_RETENTION")]
    report_retention: Option<String>,
    /// Keep at most this many reports per node, the newest [default: unlimited].
    #[arg(long, global = true, env = "TRAEK_MAX_REPORTS_PER_NODE")]
    max_reports_per_node: Option<u64>,
    /// Versions kept of each configuration and package; the current one, a rollout's
    /// candidate and every version some node runs are kept besides [default: 20].
    #[arg(long, global = true, env = "TRAEK_KEEP_VERSIONS")]
    keep_versions: Option<u64>,
    /// How often retention is applied [default: 1h].
    #[arg(long, global = true, env = "TRAEK_PRUNE_INTERVAL")]
    prune_interval: Option<String>,
    /// A node whose latest report is older than this is `stale` [default: 2h].
    #[arg(long, global = true, env = "TRAEK_STALE_AFTER")]
    stale_after: Option<String>,
    /// Prune audit entries older than this [default: 365d]. Used registration signatures and
    /// sign-in failures are forgotten on the same schedule.
    #[arg(long, global = true, env = "TRAEK_AUDIT_RETENTION")]
    audit_retention: Option<String>,
    /// A reverse proxy or ingress (address or CIDR, repeatable) whose X-Forwarded-For,
    /// X-Forwarded-Proto and client-certificate headers are believed; from any other address
    /// they are ignored.
    #[arg(
        long = "trusted-proxy",
        global = true,
        env = "TRAEK_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<String>,
    /// The header in which a trusted proxy forwards the client certificate (URL-escaped PEM,
    /// as nginx's $ssl_client_escaped_cert, or base64 DER, as IIS ARR's X-ARR-ClientCert)
    /// [default: X-SSL-Client-Cert].
    #[arg(long, global = true, env = "TRAEK_CLIENT_CERT_HEADER")]
    client_cert_header: Option<String>,
    /// The address users and webhook receivers reach this server at, e.g.
    /// https://dsc.example.com (links in notifications, the sign-in redirect) [default: the
    /// address it listens on].
    #[arg(long, global = true, env = "TRAEK_PUBLIC_URL")]
    public_url: Option<String>,
    /// Single sign-on: the OpenID provider's issuer URL (https://; Entra ID:
    /// https://login.microsoftonline.com/TENANT/v2.0). The redirect URI to register with it is
    /// PUBLIC_URL/ui/oidc/callback.
    #[arg(long, global = true, env = "TRAEK_OIDC_ISSUER")]
    oidc_issuer: Option<String>,
    /// The client id registered with the provider.
    #[arg(long, global = true, env = "TRAEK_OIDC_CLIENT_ID")]
    oidc_client_id: Option<String>,
    /// File holding the client secret.
    #[arg(long, global = true, env = "TRAEK_OIDC_CLIENT_SECRET_FILE")]
    oidc_client_secret_file: Option<PathBuf>,
    /// Scopes asked for besides openid, comma-separated [default: profile,email].
    #[arg(long, global = true, env = "TRAEK_OIDC_SCOPES")]
    oidc_scopes: Option<String>,
    /// The ID token claim whose values map to roles [default: groups].
    #[arg(long, global = true, env = "TRAEK_OIDC_ROLE_CLAIM")]
    oidc_role_claim: Option<String>,
    /// VALUE=ROLE (repeatable): users whose role claim holds VALUE get ROLE (admin, operator,
    /// viewer; the highest wins). Users with no mapped value are refused.
    #[arg(
        long = "oidc-role",
        global = true,
        env = "TRAEK_OIDC_ROLES",
        value_delimiter = ';'
    )]
    oidc_roles: Vec<String>,
    /// Whether local accounts (user name and password) may sign in [default: true].
    #[arg(long, global = true, env = "TRAEK_LOCAL_ACCOUNTS")]
    local_accounts: Option<bool>,
    /// Publish content from this Git repository (https://, ssh://, file:// or user@host:path):
    /// every *.mof (with *.mof.checksum if present), *.dscpkg and NAME_VERSION.zip module under
    /// --content-git-path, one version per changed file per commit. Kept as the source
    /// `default` (see /api/v1/sources).
    #[arg(long, global = true, env = "TRAEK_CONTENT_GIT")]
    content_git: Option<String>,
    /// The branch to follow [default: main].
    #[arg(long, global = true, env = "TRAEK_CONTENT_GIT_BRANCH")]
    content_git_branch: Option<String>,
    /// The folder inside the repository [default: the whole repository].
    #[arg(long, global = true, env = "TRAEK_CONTENT_GIT_PATH")]
    content_git_path: Option<String>,
    /// How often to look for new commits, e.g. 30s, 5m (10 s to 1 day) [default: 1m].
    #[arg(long, global = true, env = "TRAEK_CONTENT_GIT_INTERVAL")]
    content_git_interval: Option<String>,
    /// File holding a token for HTTPS (sent as the password of HTTP basic authentication).
    #[arg(long, global = true, env = "TRAEK_CONTENT_GIT_TOKEN_FILE")]
    content_git_token_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve (the default).
    Serve,
    /// Import a Windows pull server's content folder (Configuration/, Modules/, RegistrationKeys.txt).
    Import {
        /// The Windows content folder.
        #[arg(long)]
        from: PathBuf,
    },
    /// Manage dashboard and API users (stored with the server's data: give the same
    /// --data-dir or --database as the server).
    #[command(subcommand)]
    User(UserCommand),
    /// Ask a running server's /healthz (for container health checks); exit 0 when healthy.
    Healthcheck {
        /// The server's base URL [default: http://LISTEN].
        #[arg(long)]
        url: Option<String>,
    },
    /// Apply the PostgreSQL schema migrations and exit (serving replicas also migrate at
    /// start, one at a time).
    Migrate,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Add a user. The password comes from stdin with --password-stdin; otherwise one is
    /// generated and printed once.
    Add {
        name: String,
        #[arg(long, value_parser = ["admin", "operator", "viewer"])]
        role: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users and their roles.
    List,
    /// Remove a user (their sessions and tokens end).
    Remove { name: String },
    /// Change a user's password (their sessions end).
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

/// The values given by flags and environment.
fn overrides(o: &ServeArgs) -> Overrides {
    Overrides {
        listen: o.listen,
        data_dir: o.data_dir.clone(),
        registration_keys: o.registration_keys.clone(),
        admin_token: o.admin_token.clone(),
        metrics_token_file: o.metrics_token_file.clone(),
        max_clock_skew: o.max_clock_skew,
        log_json: o.log_json,
        tls_cert: o.tls_cert.clone(),
        tls_key: o.tls_key.clone(),
        database: o.database.clone(),
        database_ca: o.database_ca.clone(),
        content: o.content.clone(),
        report_retention: o.report_retention.clone(),
        max_reports_per_node: o.max_reports_per_node,
        keep_versions: o.keep_versions,
        prune_interval: o.prune_interval.clone(),
        stale_after: o.stale_after.clone(),
        audit_retention: o.audit_retention.clone(),
        trusted_proxies: o.trusted_proxies.clone(),
        client_cert_header: o.client_cert_header.clone(),
        public_url: o.public_url.clone(),
        oidc: dsc_pull_server::config::OidcOptions {
            issuer: o.oidc_issuer.clone(),
            client_id: o.oidc_client_id.clone(),
            client_secret_file: o.oidc_client_secret_file.clone(),
            scopes: o.oidc_scopes.clone().map(|s| vec![s]),
            role_claim: o.oidc_role_claim.clone(),
            roles: o.oidc_roles.clone(),
        },
        local_accounts: o.local_accounts,
        content_git: dsc_pull_server::config::GitOptions {
            url: o.content_git.clone(),
            branch: o.content_git_branch.clone(),
            path: o.content_git_path.clone(),
            interval: o.content_git_interval.clone(),
            token_file: o.content_git_token_file.clone(),
        },
    }
}

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

fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The admin token: configured, else read from DATA_DIR/admin-token, else created there.
fn admin_token(config: &ServerConfig) -> Result<(String, Option<PathBuf>), String> {
    if let Some(t) = &config.admin_token {
        return Ok((t.clone(), None));
    }
    if config.database.is_some() {
        return Err(
            "with --database, give every replica the same --admin-token (or TRAEK_ADMIN_TOKEN)"
                .into(),
        );
    }
    let path = config.data_dir.join("admin-token");
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok((t.trim().to_string(), Some(path))),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    }
    let token = random_secret();
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("creating {}: {e}", config.data_dir.display()))?;
    dsc_core::atomic::write(&path, format!("{token}\n").as_bytes())
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    restrict(&path);
    tracing::info!(file = %path.display(), "created an admin token");
    Ok((token, Some(path)))
}

/// Mirrors the keys file into storage, generates a key when a keys file has none, and
/// returns the number of active keys.
async fn registration_keys(
    config: &ServerConfig,
    storage: &dyn Storage,
    keys: &dsc_pull_server::keys::KeyFile,
) -> Result<usize, String> {
    let active = keys.sync(storage).await.map_err(|e| e.to_string())?;
    if active == 0 && keys.path().is_some() {
        let key = uuid::Uuid::new_v4().to_string();
        keys.add(storage, &key, "generated")
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(file = %config.registration_keys.display(), "created a registration key");
    }
    Ok(storage
        .registration_keys()
        .await
        .map_err(|e| e.to_string())?
        .len())
}

/// The OpenID provider of `--oidc-issuer`, announced with its redirect URI.
fn single_sign_on(
    config: &ServerConfig,
    public_url: &str,
) -> Result<Option<Arc<dsc_pull_server::oidc::Oidc>>, String> {
    let Some(settings) = &config.oidc else {
        return Ok(None);
    };
    eprintln!(
        "  single sign-on:     {} (redirect URI {public_url}/ui/oidc/callback)",
        settings.issuer
    );
    let oidc = dsc_pull_server::oidc::Oidc::new(settings.clone(), public_url)?;
    Ok(Some(Arc::new(oidc)))
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
    let hup_app = Arc::clone(&app);
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                return;
            };
            while hup.recv().await.is_some() {
                match hup_app.keys.sync(hup_app.storage.as_ref()).await {
                    Ok(n) => tracing::info!(keys = n, "registration keys reloaded (SIGHUP)"),
                    Err(e) => tracing::error!(error = %e, "reloading registration keys failed"),
                }
            }
        }
    });
    serve(Arc::clone(&app), listener, shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    drop(app);
    drop(storage);
    tracing::info!("stopped");
    Ok(())
}

/// The account made on a first start.
const FIRST_ADMIN: &str = "admin";

/// On a first start (no account at all, no single sign-on), makes an admin account named [`FIRST_ADMIN`] with a
/// generated password, written to a 0600 file in the data directory, and audits it. `None`
/// when accounts exist (or another replica made the account first).
/// Keeps the `--content-git` source as the source `default`.
async fn keep_git_source(config: &ServerConfig, storage: &dyn Storage) -> Result<(), String> {
    let Some(source) = &config.content_git else {
        return Ok(());
    };
    storage
        .sources()
        .put("default", source, storage::now_unix())
        .await
        .map_err(|e| format!("keeping the --content-git source: {e}"))?;
    eprintln!(
        "  content from git:   {} (branch {}, folder '{}', every {} s; source 'default')",
        source.url, source.branch, source.path, source.interval_secs
    );
    Ok(())
}

async fn first_admin(
    config: &ServerConfig,
    storage: &dyn Storage,
) -> Result<Option<PathBuf>, String> {
    // With single sign-on, administrators come from the provider.
    if config.oidc.is_some() {
        return Ok(None);
    }
    let accounts = storage.accounts();
    if accounts.has_users().await.map_err(|e| e.to_string())? {
        return Ok(None);
    }
    let password = dsc_pull_server::auth::secret()[..24].to_string();
    let user = dsc_pull_server::storage::accounts::User {
        name: FIRST_ADMIN.to_string(),
        role: "admin".to_string(),
        created_at: storage::now_unix(),
        password_hash: dsc_pull_server::auth::hash_password(&password)?,
    };
    if !accounts.add_user(&user).await.map_err(|e| e.to_string())? {
        return Ok(None);
    }
    let path = config.data_dir.join("admin-password");
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("creating {}: {e}", config.data_dir.display()))?;
    dsc_core::atomic::write(&path, format!("{password}\n").as_bytes())
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    let now = time::OffsetDateTime::now_utc();
    let entry = dsc_pull_server::storage::accounts::AuditEntry {
        id: dsc_pull_server::storage::accounts::audit_id(now),
        at: now.unix_timestamp(),
        actor: "traek-server".to_string(),
        address: String::new(),
        action: dsc_core::pull::policy::Action::UserAdd
            .audit_name()
            .unwrap_or("user.add")
            .to_string(),
        target: FIRST_ADMIN.to_string(),
        outcome: format!("ok: first start, password in {}", path.display()),
    };
    accounts
        .append_audit(&entry)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(file = %path.display(), "created the first admin account");
    Ok(Some(path))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            std::future::pending::<()>().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
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

/// The password: stdin's first line with `--password-stdin`, else a generated one (printed).
fn password(from_stdin: bool) -> Result<(String, bool), String> {
    if !from_stdin {
        return Ok((dsc_pull_server::auth::secret()[..24].to_string(), true));
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("reading the password from stdin: {e}"))?;
    let p = line.trim_end_matches(['\r', '\n']).to_string();
    dsc_core::pull::policy::check_password(&p)?;
    Ok((p, false))
}

async fn users(config: &ServerConfig, cmd: UserCommand) -> Result<(), String> {
    let (storage, _) = open_storage(config).await?;
    let accounts = storage.accounts();
    let fail = |e: dsc_pull_server::storage::StorageError| e.to_string();
    match cmd {
        UserCommand::Add {
            name,
            role,
            password_stdin,
        } => {
            dsc_core::pull::policy::check_user_name(&name)?;
            let (pw, generated) = password(password_stdin)?;
            let user = dsc_pull_server::storage::accounts::User {
                name: name.clone(),
                role,
                created_at: storage::now_unix(),
                password_hash: dsc_pull_server::auth::hash_password(&pw)?,
            };
            if !accounts.add_user(&user).await.map_err(fail)? {
                return Err(format!("user '{name}' exists"));
            }
            println!("added user {name} ({})", user.role);
            if generated {
                println!("password: {pw}");
            }
        }
        UserCommand::List => {
            for u in accounts.users().await.map_err(fail)? {
                println!("{}\t{}", u.name, u.role);
            }
        }
        UserCommand::Remove { name } => {
            if !accounts.remove_user(&name).await.map_err(fail)? {
                return Err(format!("no user '{name}'"));
            }
            println!("removed user {name}");
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let (pw, generated) = password(password_stdin)?;
            let hash = dsc_pull_server::auth::hash_password(&pw)?;
            if !accounts.set_password(&name, &hash).await.map_err(fail)? {
                return Err(format!("no user '{name}'"));
            }
            println!("changed the password of {name}");
            if generated {
                println!("password: {pw}");
            }
        }
    }
    Ok(())
}
