//! The command line: options, subcommands, and the overrides they make to the configuration.

use clap::{Args, Parser, Subcommand};
use dsc_pull_server::config::Overrides;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "traek-server",
    version,
    about = "DSC pull server (MS-DSCPM v2) for Windows LCMs.",
    long_about = "DSC pull server (MS-DSCPM v2) for Windows LCMs.\n\nWith no arguments it serves on 127.0.0.1:8080 with SQLite and content in ./traek-data. \
Give --database postgres://... (and --content s3://BUCKET/PREFIX) to run any number of identical replicas."
)]
pub struct Cli {
    #[command(flatten)]
    pub opts: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// TOML configuration file: the long flags below as keys (listen, data-dir,
    /// public-url, metrics-token-file, ...) plus max-body-bytes, max-upload-bytes and
    /// read-timeout.
    #[arg(long, global = true, env = "TRAEK_CONFIG")]
    pub config: Option<PathBuf>,
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
pub enum Command {
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
pub enum UserCommand {
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
pub fn overrides(o: &ServeArgs) -> Overrides {
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
