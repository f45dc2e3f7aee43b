//! A blocking client of the pull protocol, speaking exactly as a WMF 5 LCM does (headers,
//! OData paths, signed registration, checksum-verified downloads). Used by the tests today and by
//! an agent later.

use super::PROTOCOL_VERSION;
use super::auth::{authorization_header, format_date};
use super::checksum::{ALGORITHM, same_checksum, sha256_hex};
use super::messages::{GetDscActionRequest, GetDscActionResponse, RegisterRequest};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use std::time::Duration;
use uuid::Uuid;

/// Characters percent-encoded inside a quoted key value.
const KEY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'\\')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// A client failure.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("HTTP: {0}")]
    Http(String),
    #[error("the server answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error(
        "the downloaded content hashes to {actual}, but the server's Checksum header says {expected}"
    )]
    ChecksumMismatch { expected: String, actual: String },
    #[error("the server's answer is not understood: {0}")]
    Protocol(String),
}

/// A raw answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Downloaded, checksum-verified content.
#[derive(Debug, Clone)]
pub struct Content {
    pub bytes: Vec<u8>,
    pub checksum: String,
}

/// OData key value: `'` doubled, then percent-encoded.
pub fn key_value(v: &str) -> String {
    utf8_percent_encode(&v.replace('\'', "''"), KEY_VALUE).to_string()
}

/// A pull-protocol client for one agent.
pub struct PullClient {
    agent: ureq::Agent,
    server_url: String,
    pub agent_id: Uuid,
}

/// HTTPS settings of a client.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// PEM certificate(s) of the CA that signed the server's certificate; `None` trusts the
    /// system's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM certificate and private key presented to the server (an LCM's client certificate).
    pub client_cert_pem: Option<Vec<u8>>,
    pub client_key_pem: Option<Vec<u8>>,
}

fn tls_error(what: &str, e: impl std::fmt::Display) -> ClientError {
    ClientError::Http(format!("{what}: {e}"))
}

impl ClientTls {
    pub(crate) fn config(&self) -> Result<ureq::tls::TlsConfig, ClientError> {
        use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};
        let roots = match &self.ca_pem {
            Some(pem) => {
                let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(pem)
                    .filter_map(|item| match item {
                        Ok(PemItem::Certificate(c)) => Some(c),
                        _ => None,
                    })
                    .collect();
                if certs.is_empty() {
                    return Err(tls_error("the CA file", "holds no PEM certificate"));
                }
                RootCerts::new_with_certs(&certs)
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                let certs: Vec<Certificate<'static>> = found
                    .certs
                    .iter()
                    .map(|c| Certificate::from_der(c.as_ref()).to_owned())
                    .collect();
                RootCerts::new_with_certs(&certs)
            }
        };
        let client = match (&self.client_cert_pem, &self.client_key_pem) {
            (Some(cert), Some(key)) => {
                let cert =
                    Certificate::from_pem(cert).map_err(|e| tls_error("client certificate", e))?;
                let key = PrivateKey::from_pem(key).map_err(|e| tls_error("client key", e))?;
                Some(ClientCert::new_with_certs(&[cert], key))
            }
            _ => None,
        };
        Ok(TlsConfig::builder()
            .root_certs(roots)
            .client_cert(client)
            .build())
    }
}

impl PullClient {
    /// A client with HTTPS settings (used for `https://` URLs).
    pub fn with_tls(
        server_url: &str,
        agent_id: Uuid,
        tls: &ClientTls,
    ) -> Result<Self, ClientError> {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(60)))
            .tls_config(tls.config()?)
            .build();
        Ok(PullClient {
            agent: config.into(),
            server_url: server_url.trim_end_matches('/').to_string(),
            agent_id,
        })
    }

    /// `server_url` is the LCM's `ServerURL` (e.g. `http://host:8080/PSDSCPullServer.svc`).
    pub fn new(server_url: &str, agent_id: Uuid) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(60)))
            .build();
        PullClient {
            agent: config.into(),
            server_url: server_url.trim_end_matches('/').to_string(),
            agent_id,
        }
    }

    fn node_path(&self) -> String {
        format!(
            "/Nodes(AgentId='{}')",
            self.agent_id.to_string().to_uppercase()
        )
    }

    /// Sends a request to `server_url + suffix` with the LCM's headers plus `extra` (a
    /// `Content-Type` in `extra` replaces the JSON one).
    pub fn request(
        &self,
        method: &str,
        suffix: &str,
        extra: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Reply, ClientError> {
        let url = format!("{}{suffix}", self.server_url);
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("ProtocolVersion", PROTOCOL_VERSION);
        let given = |name: &str| extra.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        if body.is_some() && !given("Content-Type") {
            builder = builder
                .header("Accept", "application/json")
                .header("Content-Type", "application/json; charset=utf-8");
        }
        for (k, v) in extra {
            builder = builder.header(*k, *v);
        }
        let request = builder
            .body(body.map(<[u8]>::to_vec).unwrap_or_default())
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .map_err(|e| ClientError::Http(e.to_string()))?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    fn ok(reply: Reply) -> Result<Reply, ClientError> {
        if (200..300).contains(&reply.status) {
            Ok(reply)
        } else {
            Err(ClientError::Status {
                status: reply.status,
                body: String::from_utf8_lossy(&reply.body).into_owned(),
            })
        }
    }

    /// Registers with a key: the body is serialised compactly and signed with the current time.
    pub fn register(&self, key: &str, request: &RegisterRequest) -> Result<Reply, ClientError> {
        let body = serde_json::to_vec(request).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let date = format_date(time::OffsetDateTime::now_utc());
        self.register_raw(
            &body,
            Some(&date),
            Some(&authorization_header(key, &body, &date)),
        )
    }

    /// Sends a registration exactly as given (for tests of refusals).
    pub fn register_raw(
        &self,
        body: &[u8],
        date: Option<&str>,
        authorization: Option<&str>,
    ) -> Result<Reply, ClientError> {
        let mut extra = Vec::new();
        if let Some(d) = date {
            extra.push(("x-ms-date", d));
        }
        if let Some(a) = authorization {
            extra.push(("Authorization", a));
        }
        self.request("PUT", &self.node_path(), &extra, Some(body))
    }

    /// Asks what to do.
    pub fn get_dsc_action(
        &self,
        request: &GetDscActionRequest,
    ) -> Result<GetDscActionResponse, ClientError> {
        let body = serde_json::to_vec(request).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let reply = Self::ok(self.request(
            "POST",
            &format!("{}/GetDscAction", self.node_path()),
            &[],
            Some(&body),
        )?)?;
        serde_json::from_slice(&reply.body)
            .map_err(|e| ClientError::Protocol(format!("GetDscAction answer: {e}")))
    }

    fn content(reply: Reply) -> Result<Content, ClientError> {
        let reply = Self::ok(reply)?;
        let expected = reply
            .header("Checksum")
            .ok_or_else(|| ClientError::Protocol("no Checksum header".into()))?
            .to_string();
        if !reply
            .header("ChecksumAlgorithm")
            .is_some_and(|a| a.eq_ignore_ascii_case(ALGORITHM))
        {
            return Err(ClientError::Protocol(
                "ChecksumAlgorithm is not SHA-256".into(),
            ));
        }
        let actual = sha256_hex(&reply.body);
        if !same_checksum(&expected, &actual) {
            return Err(ClientError::ChecksumMismatch { expected, actual });
        }
        Ok(Content {
            bytes: reply.body,
            checksum: actual,
        })
    }

    /// Downloads a configuration (checksum verified).
    pub fn get_configuration(&self, name: &str) -> Result<Content, ClientError> {
        let suffix = format!(
            "{}/Configurations(ConfigurationName='{}')/ConfigurationContent",
            self.node_path(),
            key_value(name)
        );
        Self::content(self.request("GET", &suffix, &[], None)?)
    }

    /// Downloads a module (checksum verified).
    pub fn get_module(&self, name: &str, version: &str) -> Result<Content, ClientError> {
        let suffix = format!(
            "/Modules(ModuleName='{}',ModuleVersion='{}')/ModuleContent",
            key_value(name),
            key_value(version)
        );
        let agent = self.agent_id.to_string().to_uppercase();
        Self::content(self.request("GET", &suffix, &[("AgentId", &agent)], None)?)
    }

    /// Sends a report body as is.
    pub fn send_report(&self, body: &[u8]) -> Result<Reply, ClientError> {
        self.request(
            "POST",
            &format!("{}/SendReport", self.node_path()),
            &[],
            Some(body),
        )
    }

    /// All reports of this agent (`{"value": [...]}`), or one job's merged report.
    pub fn get_reports(&self, job: Option<Uuid>) -> Result<serde_json::Value, ClientError> {
        let suffix = match job {
            Some(j) => format!("{}/Reports(JobId='{j}')", self.node_path()),
            None => format!("{}/Reports", self.node_path()),
        };
        let reply =
            Self::ok(self.request("GET", &suffix, &[("Accept", "application/json")], None)?)?;
        serde_json::from_slice(&reply.body).map_err(|e| ClientError::Protocol(e.to_string()))
    }
}
