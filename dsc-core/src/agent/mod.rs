//! The pull agent for DSC v3 nodes: a local configuration manager that registers with a traek
//! pull server over MS-DSCPM v2 (as a WMF LCM does), pulls signed `.dscpkg` packages, verifies
//! them against trusted keys, tests and (depending on the mode) applies them, and reports each
//! run with per-resource results in the LCM's report shape.
//!
//! - [`register`]: creates the agent id and a client certificate, registers, saves settings.
//! - [`cycle::run_cycle`]: one cycle (GetDscAction, download + verify, test, set, report).
//! - [`store`]: the state directory, written atomically; [`queue`]: reports kept while the
//!   server is unreachable; [`report`]: report bodies; [`cert`]: the client certificate.
//!
//! Frontends (`traek agent`) only parse arguments, schedule cycles and print.

pub mod cert;
pub mod cycle;
pub mod queue;
pub mod report;
pub mod store;

use crate::pull::client::{ClientTls, PullClient};
use crate::pull::messages::{
    AgentInformation, RegisterRequest, RegistrationInformation, RegistrationMessageType,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use store::{StateDir, read_json, write_atomic, write_json};

/// The LCMVersion an agent registers with; the server serves packages to agents whose version
/// starts with `traek-agent/`.
pub const LCM_VERSION: &str = concat!("traek-agent/", env!("CARGO_PKG_VERSION"));

/// Why an agent operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    Io(String),
    #[error("creating the client certificate: {0}")]
    Certificate(String),
    #[error("no agent is registered in {0}: run `traek agent register` first")]
    NotRegistered(PathBuf),
    #[error("{0}")]
    Settings(String),
    #[error("the pull server: {0}")]
    Server(String),
}

/// When the agent changes the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Test and report; never change anything.
    Monitor,
    /// Apply each new package once; afterwards only test and report.
    #[default]
    Apply,
    /// Apply whenever the node drifted from the package.
    Autocorrect,
}

impl Mode {
    pub fn parse(text: &str) -> Result<Mode, AgentError> {
        match text.to_ascii_lowercase().as_str() {
            "monitor" => Ok(Mode::Monitor),
            "apply" => Ok(Mode::Apply),
            "autocorrect" => Ok(Mode::Autocorrect),
            _ => Err(AgentError::Settings(format!(
                "mode '{text}' is not one of monitor, apply, autocorrect"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Monitor => "monitor",
            Mode::Apply => "apply",
            Mode::Autocorrect => "autocorrect",
        }
    }
}

/// The agent's settings (`agent.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    pub agent_id: uuid::Uuid,
    /// The pull server's URL (its LCM ServerURL, e.g. `https://host:8080/PSDSCPullServer.svc`).
    pub server: String,
    pub registration_key: String,
    pub configuration_names: Vec<String>,
    /// Public keys (PEM) whose signatures make a package trusted.
    pub trusted_keys: Vec<PathBuf>,
    /// A directory of trusted public keys.
    #[serde(default)]
    pub trusted_keys_dir: Option<PathBuf>,
    pub mode: Mode,
    /// Seconds between cycles.
    pub interval_secs: u64,
    /// A private CA's PEM certificate for an HTTPS server; none trusts the system's roots.
    #[serde(default)]
    pub server_ca: Option<PathBuf>,
    /// Plain `http://` was allowed at registration (`--allow-http`): packages are still
    /// verified, but the registration key, reports and the agent's identity cross the network
    /// unencrypted.
    #[serde(default)]
    pub allow_http: bool,
}

/// Refuses a plain `http://` server unless it was allowed explicitly.
pub fn check_scheme(server: &str, allow_http: bool) -> Result<(), AgentError> {
    let lower = server.to_ascii_lowercase();
    if lower.starts_with("https://") || (allow_http && lower.starts_with("http://")) {
        return Ok(());
    }
    if lower.starts_with("http://") {
        return Err(AgentError::Settings(format!(
            "{server} is plain HTTP: the registration key and reports would cross the network unencrypted; use https://, or pass --allow-http to accept that"
        )));
    }
    Err(AgentError::Settings(format!(
        "{server} is not an http:// or https:// URL"
    )))
}

impl Settings {
    /// Reads the settings of the agent registered in `dir`.
    pub fn load(dir: &StateDir) -> Result<Settings, AgentError> {
        read_json(&dir.settings())?.ok_or_else(|| AgentError::NotRegistered(dir.root.clone()))
    }

    /// The trusted public keys, read now (a missing or broken key file is an error).
    pub fn trusted_keys(&self) -> Result<Vec<ed25519_dalek::VerifyingKey>, AgentError> {
        let bad = |e: crate::package::signing::KeyError| AgentError::Settings(e.0);
        let mut keys = Vec::new();
        for path in &self.trusted_keys {
            keys.push(crate::package::signing::read_public(path).map_err(bad)?);
        }
        if let Some(dir) = &self.trusted_keys_dir {
            keys.extend(crate::package::signing::read_public_dir(dir).map_err(bad)?);
        }
        Ok(keys)
    }

    /// A protocol client for the server: HTTPS with the agent's client certificate (and the
    /// private CA when set), or plain HTTP.
    pub fn client(&self, dir: &StateDir) -> Result<PullClient, AgentError> {
        check_scheme(&self.server, self.allow_http)?;
        if !self.server.starts_with("https://") {
            return Ok(PullClient::new(&self.server, self.agent_id));
        }
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| AgentError::Io(format!("reading {}: {e}", p.display())))
        };
        let tls = ClientTls {
            ca_pem: self.server_ca.as_deref().map(read).transpose()?,
            client_cert_pem: Some(read(&dir.client_cert())?),
            client_key_pem: Some(read(&dir.client_key())?),
        };
        PullClient::with_tls(&self.server, self.agent_id, &tls)
            .map_err(|e| AgentError::Server(e.to_string()))
    }
}

/// This machine's name.
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length; gethostname NUL-terminates within it
    // or truncates, and we stop at the first NUL or the end.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    if ok && end > 0 {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "localhost".to_string()
    }
}

/// The address this machine uses to reach `server` (no packet is sent), else loopback.
pub fn local_address(server: &str) -> String {
    let host_port = server
        .split("://")
        .nth(1)
        .unwrap_or(server)
        .split('/')
        .next()
        .unwrap_or("");
    let with_port = if host_port.contains(':') && !host_port.ends_with(']') {
        host_port.to_string()
    } else if server.starts_with("https://") {
        format!("{host_port}:443")
    } else {
        format!("{host_port}:80")
    };
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect(with_port.as_str()).map(|_| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".to_string())
}

/// Parses an interval such as `30m`, `1h` or `90s` into seconds.
pub fn parse_interval(text: &str) -> Result<u64, AgentError> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        AgentError::Settings(format!(
            "interval '{text}' is not a duration ({e}); write e.g. 30m or 1h"
        ))
    })?;
    match d.as_secs() {
        0 => Err(AgentError::Settings(
            "the interval must be at least one second".into(),
        )),
        s => Ok(s),
    }
}

/// What `traek agent register` was given.
#[derive(Debug, Clone)]
pub struct RegisterOptions {
    pub server: String,
    pub registration_key: String,
    pub configuration_names: Vec<String>,
    pub trusted_keys: Vec<PathBuf>,
    pub trusted_keys_dir: Option<PathBuf>,
    pub mode: Mode,
    pub interval_secs: u64,
    pub server_ca: Option<PathBuf>,
    pub allow_http: bool,
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The agent's client certificate: the one it registered before while it has more than 30 days
/// left (the server is pinned to it and refuses another), else a new one.
fn client_certificate(
    dir: &StateDir,
    agent_id: uuid::Uuid,
) -> Result<crate::pull::messages::CertificateInformation, AgentError> {
    let kept = read_json::<crate::pull::messages::CertificateInformation>(&dir.client_info())
        .ok()
        .flatten()
        .filter(|_| dir.client_cert().exists() && dir.client_key().exists())
        .filter(|info| {
            time::OffsetDateTime::parse(
                &info.not_after,
                &time::format_description::well_known::Rfc3339,
            )
            .is_ok_and(|end| {
                end - crate::pull::identity::RENEWAL_WINDOW > time::OffsetDateTime::now_utc()
            })
        });
    if let Some(info) = kept {
        return Ok(info);
    }
    let certificate = cert::create(agent_id)?;
    write_atomic(&dir.client_cert(), certificate.cert_pem.as_bytes())?;
    write_atomic(&dir.client_key(), certificate.key_pem.as_bytes())?;
    write_json(&dir.client_info(), &certificate.info)?;
    Ok(certificate.info)
}

/// Registers with the server and saves the settings. A directory that already holds an agent
/// keeps its agent id (re-registration, e.g. with a new certificate or names).
pub fn register(dir: &StateDir, o: RegisterOptions) -> Result<Settings, AgentError> {
    if o.configuration_names.is_empty() {
        return Err(AgentError::Settings(
            "give at least one --configuration-name".into(),
        ));
    }
    if o.interval_secs == 0 {
        return Err(AgentError::Settings(
            "the interval must be longer than zero".into(),
        ));
    }
    dir.create()?;
    let agent_id = read_json::<Settings>(&dir.settings())
        .ok()
        .flatten()
        .map_or_else(uuid::Uuid::new_v4, |s| s.agent_id);
    let settings = Settings {
        agent_id,
        server: o.server.trim_end_matches('/').to_string(),
        registration_key: o.registration_key,
        configuration_names: o.configuration_names,
        trusted_keys: o.trusted_keys.iter().map(|p| absolute(p)).collect(),
        trusted_keys_dir: o.trusted_keys_dir.as_deref().map(absolute),
        mode: o.mode,
        interval_secs: o.interval_secs,
        server_ca: o.server_ca.as_deref().map(absolute),
        allow_http: o.allow_http,
    };
    check_scheme(&settings.server, settings.allow_http)?;
    let keys = settings.trusted_keys()?;
    if keys.is_empty() {
        return Err(AgentError::Settings(
            "no trusted key: give --trusted-key FILE or --trusted-keys DIR (packages must be signed by one)".into(),
        ));
    }
    let info = client_certificate(dir, agent_id)?;
    let request = RegisterRequest {
        agent_information: AgentInformation {
            lcm_version: LCM_VERSION.to_string(),
            node_name: host_name(),
            ip_address: local_address(&settings.server),
        },
        configuration_names: Some(settings.configuration_names.clone()),
        registration_information: RegistrationInformation {
            certificate_information: Some(info),
            registration_message_type: RegistrationMessageType::ConfigurationRepository,
        },
    };
    let reply = settings
        .client(dir)?
        .register(&settings.registration_key, &request)
        .map_err(|e| AgentError::Server(e.to_string()))?;
    if !(200..300).contains(&reply.status) {
        let body = String::from_utf8_lossy(&reply.body).into_owned();
        return Err(AgentError::Server(format!(
            "registration refused ({}): {body}",
            reply.status
        )));
    }
    write_json(&dir.settings(), &settings)?;
    Ok(settings)
}
