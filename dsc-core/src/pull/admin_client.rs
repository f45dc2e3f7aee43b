//! A blocking client of traek's admin API (`/api/v1`), used by `traek server ...`.

use super::api::{
    AddedKey, Assignment, ContentMeta, KeyList, NewKey, NodeList, ReportList, ReportQuery,
};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// An admin API failure.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the server answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error(
        "the server's answer is not what this traek expects (is the server another version?): {0}"
    )]
    BadAnswer(String),
}

/// Admin API client.
pub struct AdminClient {
    agent: ureq::Agent,
    base: String,
    token: String,
}

/// A path segment, percent-encoded.
pub fn segment(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

impl AdminClient {
    /// `server` is the server's base URL (`http://host:8080`).
    pub fn new(server: &str, token: &str) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(300)))
            .build();
        AdminClient {
            agent: config.into(),
            base: format!("{}/api/v1", server.trim_end_matches('/')),
            token: token.to_string(),
        }
    }

    /// A client that trusts the CA certificate(s) in `ca_pem` for an HTTPS server.
    pub fn with_ca(server: &str, token: &str, ca_pem: Vec<u8>) -> Result<Self, AdminError> {
        let tls = crate::pull::client::ClientTls {
            ca_pem: Some(ca_pem),
            ..Default::default()
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(300)))
            .tls_config(tls.config().map_err(|e| AdminError::Unreachable {
                url: server.to_string(),
                reason: e.to_string(),
            })?)
            .build();
        Ok(AdminClient {
            agent: config.into(),
            base: format!("{}/api/v1", server.trim_end_matches('/')),
            token: token.to_string(),
        })
    }

    /// Sends a request; returns the JSON answer (`Null` for an empty one).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Value, AdminError> {
        let url = format!("{}{path}", self.base);
        let mut b = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Authorization", format!("Bearer {}", self.token));
        let payload = match body {
            Some((content_type, bytes)) => {
                b = b.header("Content-Type", content_type);
                bytes
            }
            None => Vec::new(),
        };
        let request = b.body(payload).map_err(|e| AdminError::Unreachable {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| AdminError::Unreachable {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .map_err(|e| AdminError::Unreachable {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        let value: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| AdminError::BadAnswer(e.to_string()))?
        };
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            let message = value
                .get("error")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            Err(AdminError::Status { status, message })
        }
    }

    /// Sends a request and reads the answer as `T`.
    fn typed<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<T, AdminError> {
        let value = self.call(method, path, body)?;
        serde_json::from_value(value).map_err(|e| AdminError::BadAnswer(e.to_string()))
    }

    /// Publishes a configuration (a compiled MOF), served to WMF LCMs.
    pub fn publish_configuration(
        &self,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<ContentMeta, AdminError> {
        self.typed(
            "PUT",
            &format!("/configurations/{}", segment(name)),
            Some(("application/octet-stream", bytes)),
        )
    }

    /// Publishes a signed `.dscpkg` under a configuration name (served to traek agents).
    pub fn publish_package(&self, name: &str, bytes: Vec<u8>) -> Result<ContentMeta, AdminError> {
        self.typed(
            "PUT",
            &format!("/packages/{}", segment(name)),
            Some(("application/zip", bytes)),
        )
    }

    pub fn publish_module(
        &self,
        name: &str,
        version: &str,
        bytes: Vec<u8>,
    ) -> Result<ContentMeta, AdminError> {
        self.typed(
            "PUT",
            &format!("/modules/{}/{}", segment(name), segment(version)),
            Some(("application/zip", bytes)),
        )
    }

    /// A page of nodes, after the agent id `after` (the previous page's `next`).
    pub fn nodes(&self, limit: usize, after: Option<&str>) -> Result<NodeList, AdminError> {
        let after = after
            .map(|a| format!("&after={}", segment(a)))
            .unwrap_or_default();
        self.typed("GET", &format!("/nodes?limit={limit}{after}"), None)
    }

    /// Assigns configuration names to a node, or with `None` clears its assignment.
    pub fn assign(&self, agent: &str, names: Option<&[String]>) -> Result<Assignment, AdminError> {
        let path = format!("/nodes/{}/configurations", segment(agent));
        match names {
            Some(n) => {
                let body =
                    serde_json::to_vec(n).map_err(|e| AdminError::BadAnswer(e.to_string()))?;
                self.typed("PUT", &path, Some(("application/json", body)))
            }
            None => {
                self.call("DELETE", &path, None)?;
                let agent_id = uuid::Uuid::parse_str(agent)
                    .map_err(|e| AdminError::BadAnswer(e.to_string()))?;
                Ok(Assignment {
                    agent_id,
                    assigned_names: None,
                })
            }
        }
    }

    /// A page of reports.
    pub fn reports(&self, query: &ReportQuery) -> Result<ReportList, AdminError> {
        self.typed("GET", &format!("/reports?{}", query.to_query()), None)
    }

    pub fn keys(&self) -> Result<KeyList, AdminError> {
        self.typed("GET", "/keys", None)
    }

    /// Adds a registration key (the server generates one for `NewKey { key: None }`).
    pub fn add_key(&self, key: &NewKey) -> Result<AddedKey, AdminError> {
        let body = serde_json::to_vec(key).map_err(|e| AdminError::BadAnswer(e.to_string()))?;
        self.typed("POST", "/keys", Some(("application/json", body)))
    }

    pub fn revoke_key(&self, id: &str) -> Result<(), AdminError> {
        self.call("DELETE", &format!("/keys/{}", segment(id)), None)
            .map(|_| ())
    }
}
