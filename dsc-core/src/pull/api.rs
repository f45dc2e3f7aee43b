//! The admin API's (`/api/v1`) bodies: what the server sends and takes, what the dashboard
//! shows and what [`super::admin_client::AdminClient`] returns, one type for all three.

use super::assignment::{TagNames, effective_names};
use super::compliance::{ComplianceStatus, node_status};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Which content.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContentKey {
    /// A MOF, served to WMF LCMs.
    Configuration {
        name: String,
    },
    Module {
        name: String,
        version: String,
    },
    /// A signed `.dscpkg` package of the same configuration name, served to traek agents.
    Package {
        name: String,
    },
}

/// The kinds of content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentKind {
    Configuration,
    Module,
    Package,
}

impl ContentKind {
    /// The name stored in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentKind::Configuration => "configuration",
            ContentKind::Module => "module",
            ContentKind::Package => "package",
        }
    }
}

impl ContentKey {
    pub fn kind(&self) -> ContentKind {
        match self {
            ContentKey::Configuration { .. } => ContentKind::Configuration,
            ContentKey::Module { .. } => ContentKind::Module,
            ContentKey::Package { .. } => ContentKind::Package,
        }
    }
}

/// Content metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentMeta {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Uppercase hex SHA-256 of the bytes.
    pub checksum: String,
    pub size: u64,
    pub updated_at: i64,
    /// Key ids of a package's signatures (packages only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<String>,
}

impl ContentMeta {
    /// The metadata of `bytes` stored under `key`, as of now.
    pub fn of(key: &ContentKey, bytes: &[u8]) -> Self {
        let (name, version) = match key {
            ContentKey::Configuration { name } | ContentKey::Package { name } => {
                (name.clone(), None)
            }
            ContentKey::Module { name, version } => (name.clone(), Some(version.clone())),
        };
        ContentMeta {
            name,
            version,
            checksum: super::checksum::sha256_hex(bytes),
            size: bytes.len() as u64,
            updated_at: time::OffsetDateTime::now_utc().unix_timestamp(),
            signers: Vec::new(),
        }
    }
}

/// An active registration key.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    /// A short, non-secret fingerprint of the key.
    pub id: String,
    pub key: String,
    /// Where it came from: `file`, `api`, `import`, `generated`.
    pub source: String,
    pub added_at: i64,
}

/// A row of the node list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSummary {
    pub agent_id: Uuid,
    pub node_name: Option<String>,
    pub ip_addresses: Vec<String>,
    pub lcm_version: Option<String>,
    pub registration_types: Vec<String>,
    pub registered_names: Vec<String>,
    pub assigned_names: Option<Vec<String>>,
    pub last_seen: Option<i64>,
    pub last_report_status: Option<String>,
    pub last_report_time: Option<i64>,
    /// The status of the node's latest run (final report), and when it was received.
    pub run_status: Option<ComplianceStatus>,
    pub run_time: Option<i64>,
    /// The node's status now (`pending`, `stale` included): see [`NodeSummary::judge`].
    pub status: ComplianceStatus,
    pub tags: Vec<String>,
    /// The configuration names the node gets (assignment, else tags, else registered).
    pub configurations: Vec<String>,
}

impl NodeSummary {
    /// Sets the latest run's status and time as stored.
    pub fn set_run(&mut self, status: Option<String>, time: Option<i64>) {
        self.run_status = status.as_deref().and_then(ComplianceStatus::parse);
        self.run_time = time;
    }

    /// Computes `status` as of `now` with the stale threshold (seconds).
    pub fn judge(&mut self, now: i64, stale_after: i64) {
        self.status = node_status(self.run_status, self.run_time, now, stale_after);
    }

    /// A node with the fields of its agent row and no registration yet.
    pub fn new(
        agent_id: Uuid,
        last_seen: Option<i64>,
        assigned_names: Option<String>,
        last_report_status: Option<String>,
        last_report_time: Option<i64>,
    ) -> Self {
        NodeSummary {
            agent_id,
            node_name: None,
            ip_addresses: Vec::new(),
            lcm_version: None,
            registration_types: Vec::new(),
            registered_names: Vec::new(),
            assigned_names: assigned_names.and_then(|a| serde_json::from_str(&a).ok()),
            last_seen,
            last_report_status,
            last_report_time,
            run_status: None,
            run_time: None,
            status: ComplianceStatus::Pending,
            tags: Vec::new(),
            configurations: Vec::new(),
        }
    }

    /// Fills `configurations` from the assignment, the tags and the registered names.
    pub fn resolve_configurations(&mut self, tag_names: &TagNames) {
        self.configurations = effective_names(
            self.assigned_names.as_deref(),
            &self.tags,
            &self.registered_names,
            tag_names,
        );
    }

    /// Adds one registration (rows in message-type order; the first names the node).
    pub fn add_registration(
        &mut self,
        message_type: String,
        node_name: String,
        ip_addresses: &str,
        lcm_version: String,
        names: Option<String>,
    ) {
        self.node_name.get_or_insert(node_name);
        if self.ip_addresses.is_empty() {
            self.ip_addresses = ip_addresses
                .split(';')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
        }
        self.lcm_version.get_or_insert(lcm_version);
        if let Some(n) = names.and_then(|n| serde_json::from_str::<Vec<String>>(&n).ok()) {
            self.registered_names = n;
        }
        self.registration_types.push(message_type);
    }

    /// Takes the later of the stored last-seen time and one known only in memory.
    pub fn seen_in_memory(&mut self, t: i64) {
        if t > 0 {
            self.last_seen = Some(self.last_seen.map_or(t, |s| s.max(t)));
        }
    }
}

/// The fleet at a glance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Nodes per status (every status present, zero or not).
    pub statuses: std::collections::BTreeMap<String, u64>,
    /// Nodes per configuration name they are given (assigned, else registered).
    pub configurations: Vec<NameCount>,
    /// Per day (UTC, oldest first, the last 30): nodes by the status of their last run that day.
    pub daily: Vec<DailyCounts>,
    /// Resources not in the desired state on most nodes (latest runs).
    pub failing_resources: Vec<NameCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameCount {
    pub name: String,
    pub nodes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyCounts {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub counts: std::collections::BTreeMap<String, u64>,
}

/// `GET /nodes`: a page of nodes; `next` is the `after` of the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeList {
    pub nodes: Vec<NodeSummary>,
    pub next: Option<Uuid>,
}

/// `PUT` / `DELETE /nodes/{id}/configurations`: the node's assignment now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    pub agent_id: Uuid,
    pub assigned_names: Option<Vec<String>>,
}

/// One report in `GET /reports`: its indexed fields and the report as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportInfo {
    pub id: i64,
    pub agent_id: Uuid,
    pub job_id: Uuid,
    pub received_at: i64,
    pub operation_type: Option<String>,
    pub status: Option<String>,
    pub node_name: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub error_count: usize,
    pub first_error: Option<String>,
    /// The checksum(s) of the content the node had been given: the version it applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
    /// The body the node sent (`null` when it is not JSON).
    pub report: serde_json::Value,
}

/// `GET /reports`: a page of reports; `next` is the `after` of the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportList {
    pub reports: Vec<ReportInfo>,
    pub next: Option<i64>,
}

/// `GET /reports` filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportQuery {
    pub agent: Option<String>,
    pub status: Option<String>,
    /// Received at or after (Unix seconds).
    pub since: Option<i64>,
    /// Received before (Unix seconds).
    pub until: Option<i64>,
    pub limit: usize,
}

impl ReportQuery {
    /// As a URL query (`limit=100&agent=...`), values percent-encoded.
    pub fn to_query(&self) -> String {
        let enc = |v: &str| {
            percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let mut q = format!("limit={}", self.limit);
        if let Some(a) = &self.agent {
            q.push_str(&format!("&agent={}", enc(a)));
        }
        if let Some(s) = &self.status {
            q.push_str(&format!("&status={}", enc(s)));
        }
        if let Some(x) = self.since {
            q.push_str(&format!("&since={x}"));
        }
        if let Some(x) = self.until {
            q.push_str(&format!("&until={x}"));
        }
        q
    }
}

/// `GET /keys`: the active registration keys, and the keys file they are kept in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyList {
    pub keys: Vec<KeyRecord>,
    pub file: Option<std::path::PathBuf>,
}

/// `POST /keys`: the key to add, or none to have one generated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewKey {
    /// Absent: generate one. Present, it must be a string (`null` is refused).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_string"
    )]
    pub key: Option<String>,
}

/// A member that, when present, is a string.
fn present_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

impl NewKey {
    /// The key to add: the one given (trimmed; 1 to 256 characters, no `#`, no control
    /// characters, the registration keys file's rules), or a new random one.
    pub fn key(&self) -> Result<String, String> {
        match &self.key {
            None => Ok(Uuid::new_v4().to_string()),
            Some(raw) => {
                let k = raw.trim();
                // The length as given (the API's schema counts the untrimmed text).
                if k.is_empty()
                    || raw.chars().count() > 256
                    || k.chars().any(|c| c == '#' || c.is_ascii_control())
                {
                    Err("a registration key is 1 to 256 characters, with no '#' and no control characters".into())
                } else {
                    Ok(k.to_string())
                }
            }
        }
    }
}

/// `POST /keys`: the key added and its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedKey {
    pub id: String,
    pub key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_generated_or_checked() {
        let generated = NewKey::default().key().unwrap();
        assert!(Uuid::parse_str(&generated).is_ok());
        let given = NewKey {
            key: Some("  secret  ".into()),
        };
        assert_eq!(given.key().unwrap(), "secret");
        for bad in ["", "   ", "a#b", "a\nb", "a\u{7f}b", &"k".repeat(257)] {
            let k = NewKey {
                key: Some(bad.to_string()),
            };
            assert!(k.key().is_err(), "{bad:?}");
        }
        // Control characters outside ASCII are allowed, as the API's schema says.
        let c1 = NewKey {
            key: Some("a\u{85}b".into()),
        };
        assert!(c1.key().is_ok());
        // `{"key": null}` is not "no key".
        assert!(serde_json::from_str::<NewKey>(r#"{"key": null}"#).is_err());
        assert_eq!(
            serde_json::from_str::<NewKey>("{}").unwrap(),
            NewKey::default()
        );
    }
}
