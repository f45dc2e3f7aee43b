//! What the node list, the node page and the overview read: node summaries and their query,
//! the names a node gets (assignment, tags, registered names), and the fleet summary.

use super::ComplianceStatus;
use uuid::Uuid;

pub use dsc_core::pull::assignment::{TagNames, effective_name_refs, effective_names};

/// Parses a stored JSON list of names (tags, configuration names); empty when absent or odd.
pub fn names_of(json: Option<&str>) -> Vec<String> {
    json.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
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
    /// Whether `node` matches the tag, configuration and text filters.
    pub fn matches(&self, node: &NodeSummary) -> bool {
        let has = |list: &[String], x: &str| list.iter().any(|v| v.eq_ignore_ascii_case(x));
        let text = self.text.as_deref().map(str::to_lowercase);
        self.tag.as_deref().is_none_or(|t| has(&node.tags, t))
            && self
                .configuration
                .as_deref()
                .is_none_or(|c| has(&node.configurations, c))
            && text.is_none_or(|t| {
                node.agent_id.to_string().contains(&t)
                    || node
                        .node_name
                        .as_deref()
                        .is_some_and(|n| n.to_lowercase().contains(&t))
                    || node.ip_addresses.iter().any(|ip| ip.contains(&t))
            })
    }

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

pub use dsc_core::pull::api::{DailyCounts, NameCount, NodeSummary, Summary};

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
