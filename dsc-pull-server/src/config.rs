//! Server configuration: defaults < TOML file (`--config`) < environment variables < flags.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub registration_keys: PathBuf,
    /// The keys file was named explicitly (flag, variable or TOML), not defaulted.
    pub registration_keys_explicit: bool,
    pub admin_token: Option<String>,
    /// Bearer token that `/metrics` asks for (`None`: open, as Prometheus expects by default).
    pub metrics_token: Option<String>,
    pub max_clock_skew: Duration,
    /// Largest protocol request body (registrations, reports).
    pub max_body_bytes: usize,
    /// Largest admin upload (configurations, modules).
    pub max_upload_bytes: usize,
    /// Time allowed to read a request's headers, and its body.
    pub read_timeout: Duration,
    pub log_json: bool,
    /// PEM certificate chain and key: HTTPS when both are set.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `postgres://...`; `None` is SQLite in the data directory.
    pub database: Option<String>,
    /// CA certificate (PEM) of the database server, for `sslmode=require`.
    pub database_ca: Option<PathBuf>,
    /// `s3://BUCKET/PREFIX` or `file:///DIR`; `None` is `DATA_DIR/blobs`.
    pub content: Option<String>,
    /// Reports older than this are pruned (`None`: kept).
    pub report_retention: Option<Duration>,
    /// Reports kept per node (`None`: all).
    pub max_reports_per_node: Option<u64>,
    /// Versions kept of each configuration and package (besides the current one, a rollout's
    /// candidate and what nodes run).
    pub keep_versions: u64,
    /// How often retention is applied.
    pub prune_interval: Duration,
    /// A node whose latest report is older than this is `stale`.
    pub stale_after: Duration,
    /// Audit entries older than this are pruned.
    pub audit_retention: Duration,
    /// Proxies whose forwarding headers are believed, and the client-certificate header.
    pub trusted_proxies: crate::proxy::TrustedProxies,
    /// The address users and webhook receivers reach the server at (`https://dsc.example.com`),
    /// without a trailing slash; `None`: the address it listens on.
    pub public_url: Option<String>,
    /// Single sign-on through an OpenID provider.
    pub oidc: Option<OidcSettings>,
    /// Local accounts (user name and password) may sign in.
    pub local_accounts: bool,
    /// The Git source `--content-git` names (kept as the source `default`).
    pub content_git: Option<dsc_core::pull::source::Source>,
}

/// `--content-git` and its companions, from flags, environment or the file.
#[derive(Debug, Default, Clone)]
pub struct GitOptions {
    pub url: Option<String>,
    pub branch: Option<String>,
    pub path: Option<String>,
    pub interval: Option<String>,
    pub token_file: Option<PathBuf>,
}

impl GitOptions {
    fn or(self, other: GitOptions) -> GitOptions {
        GitOptions {
            url: self.url.or(other.url),
            branch: self.branch.or(other.branch),
            path: self.path.or(other.path),
            interval: self.interval.or(other.interval),
            token_file: self.token_file.or(other.token_file),
        }
    }

    /// The checked source, if a URL is given; the token is read from its file.
    fn resolve(self) -> Result<Option<dsc_core::pull::source::Source>, String> {
        let Some(url) = self.url.filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        let token = self
            .token_file
            .map(|p| {
                std::fs::read_to_string(&p)
                    .map(|t| t.trim().to_string())
                    .map_err(|e| format!("reading --content-git-token-file {}: {e}", p.display()))
            })
            .transpose()?;
        dsc_core::pull::source::SourceBody {
            url,
            branch: self.branch,
            path: self.path,
            interval: self.interval,
            token,
            username: None,
            candidates: false,
            plan: None,
            delete_removed: false,
        }
        .check()
        .map(Some)
        .map_err(|e| format!("--content-git: {e}"))
    }
}

/// Single sign-on settings (`--oidc-*`).
#[derive(Clone)]
pub struct OidcSettings {
    /// The issuer (`https://`, or `http://` on a loopback address).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// The ID token claim whose values map to roles (`groups`).
    pub role_claim: String,
    /// Claim value → role.
    pub roles: Vec<(String, dsc_core::pull::policy::Role)>,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"(hidden)")
            .field("scopes", &self.scopes)
            .field("role_claim", &self.role_claim)
            .field("roles", &self.roles)
            .finish()
    }
}

/// The `--oidc-*` values as given (flags win over the file).
#[derive(Debug, Default, Clone)]
pub struct OidcOptions {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    pub scopes: Option<Vec<String>>,
    pub role_claim: Option<String>,
    pub roles: Vec<String>,
}

/// Checks an issuer URL: `https://`, or `http://` on a loopback address (tests).
pub fn check_issuer(url: &str) -> Result<String, String> {
    let trimmed = url.trim().trim_end_matches('/');
    if trimmed.starts_with("https://") && trimmed.len() > "https://".len() {
        return Ok(trimmed.to_string());
    }
    let host = trimmed
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .map(|authority| authority.rsplit_once(':').map_or(authority, |(h, _)| h));
    match host {
        Some("127.0.0.1" | "localhost" | "[::1]") => Ok(trimmed.to_string()),
        _ => Err(format!(
            "--oidc-issuer '{url}' must be an https:// URL (plain http:// only on a loopback address)"
        )),
    }
}

/// Single sign-on (flags win over the file, key by key) and whether local accounts may sign
/// in; switching them off needs single sign-on.
fn sign_in(
    flags: OidcOptions,
    file: OidcOptions,
    local_accounts: Option<bool>,
) -> Result<(Option<OidcSettings>, bool), String> {
    let oidc = resolve_oidc(OidcOptions {
        issuer: flags.issuer.or(file.issuer),
        client_id: flags.client_id.or(file.client_id),
        client_secret_file: flags.client_secret_file.or(file.client_secret_file),
        scopes: flags.scopes.or(file.scopes),
        role_claim: flags.role_claim.or(file.role_claim),
        roles: if flags.roles.is_empty() {
            file.roles
        } else {
            flags.roles
        },
    })?;
    let local_accounts = local_accounts.unwrap_or(true);
    if !local_accounts && oidc.is_none() {
        return Err(
            "--local-accounts false needs single sign-on (--oidc-issuer): otherwise nobody could sign in to the dashboard"
                .into(),
        );
    }
    Ok((oidc, local_accounts))
}

/// Resolves the single sign-on settings; `None` without an issuer.
pub fn resolve_oidc(o: OidcOptions) -> Result<Option<OidcSettings>, String> {
    let Some(issuer) = o.issuer.filter(|i| !i.is_empty()) else {
        return Ok(None);
    };
    let issuer = check_issuer(&issuer)?;
    let client_id = o
        .client_id
        .filter(|c| !c.is_empty())
        .ok_or("--oidc-issuer needs --oidc-client-id")?;
    let secret_file = o
        .client_secret_file
        .ok_or("--oidc-issuer needs --oidc-client-secret-file")?;
    let text = std::fs::read_to_string(&secret_file)
        .map_err(|e| format!("--oidc-client-secret-file {}: {e}", secret_file.display()))?;
    let client_secret = text.lines().next().unwrap_or("").trim().to_string();
    if client_secret.is_empty() {
        return Err(format!(
            "--oidc-client-secret-file {} is empty",
            secret_file.display()
        ));
    }
    let roles = o
        .roles
        .iter()
        .map(|r| dsc_core::pull::policy::parse_role_mapping(r))
        .collect::<Result<Vec<_>, _>>()?;
    if roles.is_empty() {
        return Err(
            "--oidc-issuer needs at least one --oidc-role VALUE=ROLE (e.g. traek-admins=admin): without one nobody could sign in"
                .into(),
        );
    }
    let scopes = o
        .scopes
        .unwrap_or_else(|| vec!["profile".into(), "email".into()])
        .into_iter()
        .flat_map(|s| s.split([',', ' ']).map(str::to_string).collect::<Vec<_>>())
        .filter(|s| !s.is_empty() && s != "openid")
        .collect();
    Ok(Some(OidcSettings {
        issuer,
        client_id,
        client_secret,
        scopes,
        role_claim: o.role_claim.unwrap_or_else(|| "groups".into()),
        roles,
    }))
}

/// How long audit entries are kept unless `--audit-retention` says otherwise.
pub const DEFAULT_AUDIT_RETENTION: Duration = Duration::from_secs(365 * 86_400);

/// The shortest admin token accepted.
pub const MIN_ADMIN_TOKEN: usize = 24;

/// The TOML file's shape (every key optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub registration_keys: Option<PathBuf>,
    pub admin_token: Option<String>,
    pub metrics_token_file: Option<PathBuf>,
    pub max_clock_skew: Option<u64>,
    pub max_body_bytes: Option<usize>,
    pub max_upload_bytes: Option<usize>,
    pub read_timeout: Option<u64>,
    pub log_json: Option<bool>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub database: Option<String>,
    pub database_ca: Option<PathBuf>,
    pub content: Option<String>,
    pub report_retention: Option<String>,
    pub max_reports_per_node: Option<u64>,
    pub keep_versions: Option<u64>,
    pub prune_interval: Option<String>,
    pub stale_after: Option<String>,
    pub audit_retention: Option<String>,
    pub trusted_proxies: Option<Vec<String>>,
    pub client_cert_header: Option<String>,
    pub public_url: Option<String>,
    pub oidc_issuer: Option<String>,
    pub oidc_client_id: Option<String>,
    pub oidc_client_secret_file: Option<PathBuf>,
    pub oidc_scopes: Option<Vec<String>>,
    pub oidc_role_claim: Option<String>,
    pub oidc_roles: Option<Vec<String>>,
    pub local_accounts: Option<bool>,
    pub content_git: Option<String>,
    pub content_git_branch: Option<String>,
    pub content_git_path: Option<String>,
    pub content_git_interval: Option<String>,
    pub content_git_token_file: Option<PathBuf>,
}

impl FileConfig {
    /// The file's `content-git*` keys (taken out of it).
    fn git_options(&mut self) -> GitOptions {
        GitOptions {
            url: self.content_git.take(),
            branch: self.content_git_branch.take(),
            path: self.content_git_path.take(),
            interval: self.content_git_interval.take(),
            token_file: self.content_git_token_file.take(),
        }
    }

    /// The file's `oidc-*` keys (taken out of it).
    fn oidc_options(&mut self) -> OidcOptions {
        OidcOptions {
            issuer: self.oidc_issuer.take(),
            client_id: self.oidc_client_id.take(),
            client_secret_file: self.oidc_client_secret_file.take(),
            scopes: self.oidc_scopes.take(),
            role_claim: self.oidc_role_claim.take(),
            roles: self.oidc_roles.take().unwrap_or_default(),
        }
    }

    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Values from flags or environment (clap fills both).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub registration_keys: Option<PathBuf>,
    pub admin_token: Option<String>,
    pub metrics_token_file: Option<PathBuf>,
    pub max_clock_skew: Option<u64>,
    pub log_json: bool,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub database: Option<String>,
    pub database_ca: Option<PathBuf>,
    pub content: Option<String>,
    pub report_retention: Option<String>,
    pub max_reports_per_node: Option<u64>,
    pub keep_versions: Option<u64>,
    pub prune_interval: Option<String>,
    pub stale_after: Option<String>,
    pub audit_retention: Option<String>,
    pub trusted_proxies: Vec<String>,
    pub client_cert_header: Option<String>,
    pub public_url: Option<String>,
    pub oidc: OidcOptions,
    pub local_accounts: Option<bool>,
    pub content_git: GitOptions,
}

/// Checks `--public-url` (`http://` or `https://` and a host, no query or fragment) and drops
/// a trailing slash.
pub fn check_public_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim().trim_end_matches('/');
    let host = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .map(|rest| rest.split('/').next().unwrap_or(""));
    match host {
        Some(h) if !h.is_empty() && !h.contains('@') && !trimmed.contains(['?', '#', ' ']) => {
            Ok(trimmed.to_string())
        }
        _ => Err(format!(
            "--public-url '{url}' must be an http:// or https:// address with a host, such as https://dsc.example.com"
        )),
    }
}

/// Parses `--trusted-proxy` values: CIDR ranges or single addresses.
pub fn parse_proxies(items: &[String]) -> Result<Vec<ipnet::IpNet>, String> {
    items
        .iter()
        .flat_map(|i| i.split(','))
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(|i| {
            i.parse::<ipnet::IpNet>()
                .or_else(|_| i.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    format!(
                        "--trusted-proxy '{i}' is not an address or CIDR range (e.g. 10.0.0.0/8)"
                    )
                })
        })
        .collect()
}

/// Checks an admin token's length (it guards every change the API can make).
pub fn check_admin_token(token: &str) -> Result<(), String> {
    if token.chars().count() < MIN_ADMIN_TOKEN {
        return Err(format!(
            "the admin token must have at least {MIN_ADMIN_TOKEN} characters; generate one with e.g. `openssl rand -hex 32`"
        ));
    }
    Ok(())
}

/// Reads the metrics token from its file (the first line; at least [`MIN_ADMIN_TOKEN`]
/// characters, so that it cannot be guessed).
pub fn read_metrics_token(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--metrics-token-file {}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.chars().count() < MIN_ADMIN_TOKEN {
        return Err(format!(
            "--metrics-token-file {}: the token must have at least {MIN_ADMIN_TOKEN} characters; generate one with e.g. `openssl rand -hex 32`",
            path.display()
        ));
    }
    Ok(token)
}

/// Parses a duration such as `90d`, `12h`, `30m` or `1h 30m`.
pub fn parse_duration(what: &str, text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        format!("{what} '{text}' is not a duration ({e}); write e.g. 90d, 12h or 30m")
    })?;
    if d.is_zero() {
        return Err(format!("{what} must be longer than zero"));
    }
    Ok(d)
}

/// The trusted proxies (flags win over the file) and their client-certificate header.
fn trusted_proxies(
    flags: Vec<String>,
    file: Option<Vec<String>>,
    cert_header: Option<String>,
) -> Result<crate::proxy::TrustedProxies, String> {
    let proxies = if flags.is_empty() {
        file.unwrap_or_default()
    } else {
        flags
    };
    let cert_header = cert_header.unwrap_or_else(|| crate::proxy::DEFAULT_CERT_HEADER.to_string());
    if hyper::header::HeaderName::from_bytes(cert_header.as_bytes()).is_err() {
        return Err(format!(
            "--client-cert-header '{cert_header}' is not a header name"
        ));
    }
    Ok(crate::proxy::TrustedProxies::new(
        parse_proxies(&proxies)?,
        &cert_header,
    ))
}

/// Checks `--max-reports-per-node` (at least 1) and `--keep-versions` (1 to 10,000, default
/// [`KEEP_VERSIONS`](crate::storage::versions::KEEP_VERSIONS)).
fn kept_counts(max_reports: Option<u64>, keep: Option<u64>) -> Result<(Option<u64>, u64), String> {
    if max_reports == Some(0) {
        return Err(
            "--max-reports-per-node must be at least 1 (a node's newest report is always kept)"
                .into(),
        );
    }
    let keep = keep.unwrap_or(crate::storage::versions::KEEP_VERSIONS);
    if !(1..=10_000).contains(&keep) {
        return Err("--keep-versions must be 1 to 10000".into());
    }
    Ok((max_reports, keep))
}

impl ServerConfig {
    pub fn resolve(mut file: FileConfig, o: Overrides) -> Result<Self, String> {
        let local_accounts = o.local_accounts.or(file.local_accounts);
        let (oidc, local_accounts) = sign_in(o.oidc, file.oidc_options(), local_accounts)?;
        let content_git = o.content_git.or(file.git_options()).resolve()?;
        let data_dir = o
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("traek-data"));
        let explicit_keys = o.registration_keys.or(file.registration_keys);
        let registration_keys_explicit = explicit_keys.is_some();
        let registration_keys =
            explicit_keys.unwrap_or_else(|| data_dir.join("RegistrationKeys.txt"));
        let report_retention = o
            .report_retention
            .or(file.report_retention)
            .map(|t| parse_duration("--report-retention", &t))
            .transpose()?;
        let prune_interval = o
            .prune_interval
            .or(file.prune_interval)
            .map(|t| parse_duration("--prune-interval", &t))
            .transpose()?
            .unwrap_or(Duration::from_secs(3600));
        let stale_after = o
            .stale_after
            .or(file.stale_after)
            .map(|t| parse_duration("--stale-after", &t))
            .transpose()?
            .unwrap_or(Duration::from_secs(2 * 3600));
        let audit_retention = o
            .audit_retention
            .or(file.audit_retention)
            .map(|t| parse_duration("--audit-retention", &t))
            .transpose()?
            .unwrap_or(DEFAULT_AUDIT_RETENTION);
        let trusted_proxies = trusted_proxies(
            o.trusted_proxies,
            file.trusted_proxies,
            o.client_cert_header.or(file.client_cert_header),
        )?;
        let admin_token = o.admin_token.or(file.admin_token).filter(|t| !t.is_empty());
        if let Some(t) = &admin_token {
            check_admin_token(t)?;
        }
        let metrics_token = o
            .metrics_token_file
            .or(file.metrics_token_file)
            .map(|p| read_metrics_token(&p))
            .transpose()?;
        let public_url = o
            .public_url
            .or(file.public_url)
            .filter(|u| !u.is_empty())
            .map(|u| check_public_url(&u))
            .transpose()?;
        let (max_reports_per_node, keep_versions) = kept_counts(
            o.max_reports_per_node.or(file.max_reports_per_node),
            o.keep_versions.or(file.keep_versions),
        )?;
        Ok(ServerConfig {
            listen: o
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            registration_keys,
            registration_keys_explicit,
            admin_token,
            metrics_token,
            max_clock_skew: Duration::from_secs(
                o.max_clock_skew.or(file.max_clock_skew).unwrap_or(300),
            ),
            max_body_bytes: file.max_body_bytes.unwrap_or(16 * 1024 * 1024),
            max_upload_bytes: file.max_upload_bytes.unwrap_or(1024 * 1024 * 1024),
            read_timeout: Duration::from_secs(file.read_timeout.unwrap_or(60)),
            log_json: o.log_json || file.log_json.unwrap_or(false),
            tls_cert: o.tls_cert.or(file.tls_cert),
            tls_key: o.tls_key.or(file.tls_key),
            database: o.database.or(file.database).filter(|d| !d.is_empty()),
            database_ca: o.database_ca.or(file.database_ca),
            content: o.content.or(file.content).filter(|c| !c.is_empty()),
            report_retention,
            max_reports_per_node,
            keep_versions,
            prune_interval,
            stale_after,
            audit_retention,
            trusted_proxies,
            data_dir,
            public_url,
            oidc,
            local_accounts,
            content_git,
        })
    }

    /// Where the storage lives.
    pub fn storage_location(&self) -> crate::storage::StorageLocation {
        crate::storage::StorageLocation {
            database: self.database.clone(),
            database_ca: self.database_ca.clone(),
            content: self.content.clone(),
            data_dir: self.data_dir.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(
            parse_duration("x", "90d").unwrap(),
            Duration::from_secs(90 * 86400)
        );
        assert_eq!(
            parse_duration("x", "12h").unwrap(),
            Duration::from_secs(12 * 3600)
        );
        assert_eq!(
            parse_duration("x", "1h 30m").unwrap(),
            Duration::from_secs(5400)
        );
        assert!(parse_duration("x", "soon").unwrap_err().contains("90d"));
        assert!(parse_duration("x", "0s").is_err());
    }
}
