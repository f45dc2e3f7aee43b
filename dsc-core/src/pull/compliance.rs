//! The compliance model shared by the server's API and dashboard, the agent and embedders:
//! what a report says about a node, and the status a node has now.
//!
//! - A **final** report (one with `Status`) decides a run: `failed` when its status is
//!   `Failure` or it carries errors, `non-compliant` when a resource is not in the desired state
//!   (listed in `ResourcesNotInDesiredState`, or with `InDesiredState: false`), else
//!   `compliant`. Start and error-only reports (no `Status`) decide nothing.
//! - A node's status is its latest run's, `pending` before any run, and `stale` when its latest
//!   report is older than the stale threshold.
//!
//! `StatusData` and `Errors` entries are JSON-encoded strings in LCM reports (objects are
//! accepted too); anything unreadable in them is skipped, never an error.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A node's compliance status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ComplianceStatus {
    Compliant,
    NonCompliant,
    Failed,
    Pending,
    Stale,
}

impl ComplianceStatus {
    pub const ALL: [ComplianceStatus; 5] = [
        ComplianceStatus::Compliant,
        ComplianceStatus::NonCompliant,
        ComplianceStatus::Failed,
        ComplianceStatus::Pending,
        ComplianceStatus::Stale,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceStatus::Compliant => "compliant",
            ComplianceStatus::NonCompliant => "non-compliant",
            ComplianceStatus::Failed => "failed",
            ComplianceStatus::Pending => "pending",
            ComplianceStatus::Stale => "stale",
        }
    }

    pub fn parse(text: &str) -> Option<ComplianceStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// One resource's result in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceResult {
    /// `[Type]Name` as the LCM writes it.
    pub resource_id: String,
    #[serde(default)]
    pub module: String,
    pub in_desired_state: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a final report says about its run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunCompliance {
    pub status: ComplianceStatus,
    pub resources: Vec<ResourceResult>,
    /// Error messages of the run (report `Errors` and resources' errors).
    pub errors: Vec<String>,
}

/// A JSON-encoded string entry, or the object itself.
fn entry(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) => serde_json::from_str(s).ok(),
        Value::Object(_) => Some(v.clone()),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Null => None,
        Value::String(_) => None,
        other => Some(other.to_string()),
    }
}

fn resource(v: &Value, listed_in_desired_state: bool) -> Option<ResourceResult> {
    let id = v.get("ResourceId").and_then(text)?;
    let in_desired_state = match v.get("InDesiredState") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => listed_in_desired_state,
    };
    Some(ResourceResult {
        resource_id: id,
        module: v.get("ModuleName").and_then(text).unwrap_or_default(),
        in_desired_state: in_desired_state && listed_in_desired_state,
        error: v.get("Error").and_then(text),
    })
}

/// The run a report describes, or `None` for a start or error-only report (no `Status`).
pub fn run_compliance(report: &Value) -> Option<RunCompliance> {
    let status = report.get("Status").and_then(Value::as_str)?;
    let mut errors: Vec<String> = report
        .get("Errors")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(entry)
                .filter_map(|e| e.get("ErrorMessage").and_then(text))
                .collect()
        })
        .unwrap_or_default();
    let mut resources = Vec::new();
    for data in report
        .get("StatusData")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(entry)
    {
        for (key, ok) in [
            ("ResourcesInDesiredState", true),
            ("ResourcesNotInDesiredState", false),
        ] {
            if let Some(list) = data.get(key).and_then(Value::as_array) {
                resources.extend(list.iter().filter_map(|r| resource(r, ok)));
            }
        }
        if let Some(e) = data.get("Error").and_then(text) {
            errors.push(e);
        }
    }
    errors.extend(resources.iter().filter_map(|r| r.error.clone()));
    errors.dedup();
    let status = if status.eq_ignore_ascii_case("Failure") || !errors.is_empty() {
        ComplianceStatus::Failed
    } else if resources.iter().any(|r| !r.in_desired_state) {
        ComplianceStatus::NonCompliant
    } else {
        ComplianceStatus::Compliant
    };
    Some(RunCompliance {
        status,
        resources,
        errors,
    })
}

/// A node's status now: its latest run's (`run_status`, received at `run_time`), `pending`
/// without one, `stale` when that is older than `stale_after` seconds.
pub fn node_status(
    run_status: Option<ComplianceStatus>,
    run_time: Option<i64>,
    now: i64,
    stale_after: i64,
) -> ComplianceStatus {
    match (run_status, run_time) {
        (Some(_), Some(t)) if now - t > stale_after => ComplianceStatus::Stale,
        (Some(s), _) => s,
        (None, _) => ComplianceStatus::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(status: Option<&str>, data: Value, errors: Value) -> Value {
        let mut r = json!({"JobId": "x", "Errors": errors, "StatusData": [data.to_string()]});
        if let Some(s) = status {
            r["Status"] = json!(s);
        }
        r
    }

    #[test]
    fn runs_are_compliant_non_compliant_or_failed() {
        let ok = json!({"ResourcesInDesiredState": [{"ResourceId": "[File]a", "ModuleName": "PSDesiredStateConfiguration", "InDesiredState": true}]});
        let r = run_compliance(&report(Some("Success"), ok, json!([]))).unwrap();
        assert_eq!(r.status, ComplianceStatus::Compliant);
        assert_eq!(r.resources[0].module, "PSDesiredStateConfiguration");
        let drift = json!({"ResourcesInDesiredState": [], "ResourcesNotInDesiredState": [{"ResourceId": "[File]b", "InDesiredState": false}]});
        let r = run_compliance(&report(Some("Success"), drift, json!([]))).unwrap();
        assert_eq!(r.status, ComplianceStatus::NonCompliant);
        assert!(!r.resources[0].in_desired_state);
        let failed = report(
            Some("Failure"),
            json!({}),
            json!([json!({"ErrorMessage": "boom"}).to_string()]),
        );
        let r = run_compliance(&failed).unwrap();
        assert_eq!(
            (r.status, r.errors.clone()),
            (ComplianceStatus::Failed, vec!["boom".to_string()])
        );
        let resource_error = json!({"ResourcesNotInDesiredState": [{"ResourceId": "[X]c", "InDesiredState": false, "Error": "denied"}]});
        let r = run_compliance(&report(Some("Success"), resource_error, json!([]))).unwrap();
        assert_eq!(r.status, ComplianceStatus::Failed);
    }

    #[test]
    fn start_reports_decide_nothing_and_garbage_is_skipped() {
        assert_eq!(run_compliance(&report(None, json!({}), json!([]))), None);
        let odd = json!({"JobId": "x", "Status": "Success", "StatusData": [1, "not json", {"ResourcesInDesiredState": "nope"}], "Errors": [null]});
        let r = run_compliance(&odd).unwrap();
        assert_eq!(
            (r.status, r.resources.len()),
            (ComplianceStatus::Compliant, 0)
        );
    }

    #[test]
    fn nodes_are_pending_before_a_run_and_stale_after_the_threshold() {
        assert_eq!(node_status(None, None, 100, 10), ComplianceStatus::Pending);
        assert_eq!(
            node_status(Some(ComplianceStatus::Failed), Some(95), 100, 10),
            ComplianceStatus::Failed
        );
        assert_eq!(
            node_status(Some(ComplianceStatus::Compliant), Some(80), 100, 10),
            ComplianceStatus::Stale
        );
        for s in ComplianceStatus::ALL {
            assert_eq!(ComplianceStatus::parse(s.as_str()), Some(s));
        }
    }
}
