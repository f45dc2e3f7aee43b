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
    pub admin_token: Option<String>,
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
}

/// The TOML file's shape (every key optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub registration_keys: Option<PathBuf>,
    pub admin_token: Option<String>,
    pub max_clock_skew: Option<u64>,
    pub max_body_bytes: Option<usize>,
    pub max_upload_bytes: Option<usize>,
    pub read_timeout: Option<u64>,
    pub log_json: Option<bool>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

impl FileConfig {
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
    pub max_clock_skew: Option<u64>,
    pub log_json: bool,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

impl ServerConfig {
    pub fn resolve(file: FileConfig, o: Overrides) -> Self {
        let data_dir = o
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("traek-data"));
        let registration_keys = o
            .registration_keys
            .or(file.registration_keys)
            .unwrap_or_else(|| data_dir.join("RegistrationKeys.txt"));
        ServerConfig {
            listen: o
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            registration_keys,
            admin_token: o.admin_token.or(file.admin_token).filter(|t| !t.is_empty()),
            max_clock_skew: Duration::from_secs(
                o.max_clock_skew.or(file.max_clock_skew).unwrap_or(300),
            ),
            max_body_bytes: file.max_body_bytes.unwrap_or(16 * 1024 * 1024),
            max_upload_bytes: file.max_upload_bytes.unwrap_or(1024 * 1024 * 1024),
            read_timeout: Duration::from_secs(file.read_timeout.unwrap_or(60)),
            log_json: o.log_json || file.log_json.unwrap_or(false),
            tls_cert: o.tls_cert.or(file.tls_cert),
            tls_key: o.tls_key.or(file.tls_key),
            data_dir,
        }
    }
}
