//! What the node list, the node page and the overview read: node summaries and their query,
//! the names a node gets (assignment, tags, registered names), and the fleet summary.

use super::ComplianceStatus;
use dsc_core::pull::compliance::node_status;
use serde::Serialize;
use uuid::Uuid;

pub use dsc_core::pull::assignment::{TagNames, effective_name_refs, effective_names};

/// Parses a stored JSON list of names (tags, configuration names); empty when absent or odd.
pub fn names_of(json: Option<&str>) -> Vec<String> {
    json.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}

/// A row of the node list.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

    /// Whether the node matches the tag, configuration and text filters of a query.
    pub fn matches(&self, q: &NodeQuery) -> bool {
        let has = |list: &[String], x: &str| list.iter().any(|v| v.eq_ignore_ascii_case(x));
        let text = q.text.as_deref().map(str::to_lowercase);
        q.tag.as_deref().is_none_or(|t| has(&self.tags, t))
            && q.configuration
                .as_deref()
                .is_none_or(|c| has(&self.configurations, c))
            && text.is_none_or(|t| {
                self.agent_id.to_string().contains(&t)
                    || self
                        .node_name
                        .as_deref()
                        .is_some_and(|n| n.to_lowercase().contains(&t))
                    || self.ip_addresses.iter().any(|ip| ip.contains(&t))
            })
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

/// Which nodes to list (keyset pagination by agent id).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeQuery {
    pub after: Option<Uuid>,
    pub limit: usize,
    /// Only nodes with this status now.
    pub status: Option<ComplianceStatus>,
    /// Now and the stale threshold (seconds), for `status`.
    pub now: i64,
    pub stale_after: i64,
    /// Only nodes with this tag (any case).
    pub tag: Option<String>,
    /// Only nodes that get this configuration name.
    pub configuration: Option<String>,
    /// Only nodes whose name, agent id or an address contains this text.
    pub text: Option<String>,
}

impl NodeQuery {
    /// The SQL condition on `run_status` / `run_time` that selects `status`, with the stale
    /// cutoff as its one parameter (`{p}` is replaced by the placeholder).
    pub fn status_condition(&self) -> Option<String> {
        Some(match self.status? {
            ComplianceStatus::Pending => "run_status IS NULL AND {p} IS NOT NULL".to_string(),
            ComplianceStatus::Stale => "run_status IS NOT NULL AND run_time < {p}".to_string(),
            s => format!("run_status = '{}' AND run_time >= {{p}}", s.as_str()),
        })
    }

    /// Received before this, a node's latest run is stale.
    pub fn stale_cutoff(&self) -> i64 {
        self.now - self.stale_after
    }
}

/// The fleet at a glance.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameCount {
    pub name: String,
    pub nodes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyCounts {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub counts: std::collections::BTreeMap<String, u64>,
}

/// Days of daily status counts kept and shown.
pub const DAILY_DAYS: i64 = 30;

/// The UTC day number of a Unix time.
pub fn day_of(t: i64) -> i64 {
    t.div_euclid(86_400)
}

/// Builds the summary's daily list from `(day, status, count)` rows, the last [`DAILY_DAYS`]
/// days up to `today`, every day present.
pub fn daily_counts(rows: &[(i64, String, i64)], today: i64) -> Vec<DailyCounts> {
    (today - DAILY_DAYS + 1..=today)
        .map(|day| {
            let mut counts: std::collections::BTreeMap<String, u64> = [
                ComplianceStatus::Compliant,
                ComplianceStatus::NonCompliant,
                ComplianceStatus::Failed,
            ]
            .iter()
            .map(|s| (s.as_str().to_string(), 0))
            .collect();
            for (d, status, n) in rows {
                if *d == day {
                    *counts.entry(status.clone()).or_default() += u64::try_from(*n).unwrap_or(0);
                }
            }
            let date = time::OffsetDateTime::from_unix_timestamp(day * 86_400)
                .map(|t| t.date().to_string())
                .unwrap_or_default();
            DailyCounts { day: date, counts }
        })
        .collect()
}

/// Nodes per status from `(run_status, stale, count)` rows.
pub fn status_counts(
    rows: &[(Option<String>, bool, i64)],
) -> std::collections::BTreeMap<String, u64> {
    let mut out: std::collections::BTreeMap<String, u64> = ComplianceStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    for (run, stale, n) in rows {
        let status = match (run.as_deref().and_then(ComplianceStatus::parse), stale) {
            (None, _) => ComplianceStatus::Pending,
            (Some(_), true) => ComplianceStatus::Stale,
            (Some(s), false) => s,
        };
        *out.entry(status.as_str().to_string()).or_default() += u64::try_from(*n).unwrap_or(0);
    }
    out
}
