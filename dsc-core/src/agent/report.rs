//! What a cycle found, per resource, and the SendReport body that carries it: the shape of a
//! WMF LCM's final report (`Status`, `Errors`, and `StatusData` with `ResourcesInDesiredState`
//! / `ResourcesNotInDesiredState`), so the server reads agents and LCMs alike.

use crate::config::run::ConfigResult;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One resource's state after a cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    /// The configuration (package) name.
    pub configuration: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub in_desired_state: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ResourceStatus {
    /// `[Type]name`, the LCM's ResourceId form.
    pub fn resource_id(&self) -> String {
        format!("[{}]{}", self.type_name, self.name)
    }
}

/// Per-resource states from a run's results. After `test`, a resource is in desired state when
/// its test said so; after `set`, when it was set without error.
pub fn statuses(configuration: &str, result: &ConfigResult, was_set: bool) -> Vec<ResourceStatus> {
    result
        .results
        .iter()
        .map(|r| {
            let meta = &r["metadata"]["Microsoft.DSC"];
            let error = meta["error"].as_str().map(str::to_string).or_else(|| {
                (meta["skipped"] == true)
                    .then(|| meta["reason"].as_str().unwrap_or("skipped").to_string())
            });
            let in_desired_state = error.is_none()
                && (was_set || r["result"]["inDesiredState"].as_bool().unwrap_or(false));
            ResourceStatus {
                configuration: configuration.to_string(),
                name: r["name"].as_str().unwrap_or_default().to_string(),
                type_name: r["type"].as_str().unwrap_or_default().to_string(),
                in_desired_state,
                error,
            }
        })
        .collect()
}

/// The LCM's time format: `2016-08-15T14:25:51.2030000+00:00`.
pub fn lcm_time(t: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:7]+00:00"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}

/// Everything a report says.
pub struct ReportInput<'a> {
    pub job_id: uuid::Uuid,
    pub initial: bool,
    pub start: time::OffsetDateTime,
    pub end: time::OffsetDateTime,
    pub node_name: &'a str,
    pub ip_address: &'a str,
    pub agent_id: uuid::Uuid,
    pub mode: super::Mode,
    pub interval_secs: u64,
    pub checksum: Option<&'a str>,
    pub resources: &'a [ResourceStatus],
    /// Failures that are not a resource's (a refused package, a broken document).
    pub errors: &'a [String],
}

fn resource_entry(r: &ResourceStatus, start: &str) -> Value {
    let module = r.type_name.split('/').next().unwrap_or_default();
    let mut v = json!({
        "SourceInfo": "", "ModuleName": module, "ModuleVersion": "", "DurationInSeconds": "0",
        "InstanceName": r.name, "ResourceName": r.type_name, "ResourceId": r.resource_id(),
        "ConfigurationName": r.configuration, "StartDate": start, "RebootRequested": "False",
        "InDesiredState": r.in_desired_state,
    });
    if let Some(e) = &r.error {
        v["Error"] = json!(e);
    }
    v
}

/// The SendReport body.
pub fn body(i: &ReportInput<'_>) -> Vec<u8> {
    let start = lcm_time(i.start);
    let failed = !i.errors.is_empty() || i.resources.iter().any(|r| r.error.is_some());
    let status = if failed { "Failure" } else { "Success" };
    let kind = if i.initial { "Initial" } else { "Consistency" };
    let mut errors: Vec<Value> = i.errors.iter().map(|m| error_entry(m, "")).collect();
    errors.extend(
        i.resources
            .iter()
            .filter_map(|r| r.error.as_deref().map(|e| error_entry(e, &r.resource_id()))),
    );
    let (ok, not_ok): (Vec<_>, Vec<_>) = i.resources.iter().partition(|r| r.in_desired_state);
    let status_data = json!({
        "StartDate": start, "JobID": format!("{{{}}}", i.job_id.to_string().to_uppercase()),
        "Type": kind, "Mode": "Pull", "Status": status, "LCMVersion": super::LCM_VERSION,
        "HostName": i.node_name, "IPV4Addresses": [i.ip_address], "Locale": "en-US",
        "DurationInSeconds": (i.end - i.start).whole_seconds().to_string(),
        "NumberOfResources": i.resources.len().to_string(), "RebootRequested": "False",
        "CurrentChecksum": i.checksum.unwrap_or_default(),
        "ResourcesInDesiredState": ok.iter().map(|r| resource_entry(r, &start)).collect::<Vec<_>>(),
        "ResourcesNotInDesiredState": not_ok.iter().map(|r| resource_entry(r, &start)).collect::<Vec<_>>(),
        "MetaConfiguration": {
            "AgentId": i.agent_id.to_string().to_uppercase(), "RefreshMode": "Pull",
            "ConfigurationMode": i.mode.as_str(), "RefreshFrequencyMins": (i.interval_secs / 60).max(1),
            "LCMVersion": super::LCM_VERSION,
        },
    });
    let report = json!({
        "JobId": i.job_id.to_string(), "OperationType": kind, "RefreshMode": "Pull",
        "Status": status, "LCMVersion": super::LCM_VERSION, "ReportFormatVersion": "2.0",
        "NodeName": i.node_name, "IpAddress": i.ip_address, "StartTime": start,
        "EndTime": lcm_time(i.end), "RebootRequested": "False",
        "Errors": errors.iter().map(Value::to_string).collect::<Vec<_>>(),
        "StatusData": [status_data.to_string()],
    });
    serde_json::to_vec(&report).unwrap_or_default()
}

fn error_entry(message: &str, resource_id: &str) -> Value {
    json!({
        "ErrorSource": "traek-agent", "Locale": "en-US", "ErrorCode": "1",
        "ErrorMessage": message, "ResourceId": resource_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_parse_as_lcm_reports_and_list_each_resource() {
        let resources = vec![
            ResourceStatus {
                configuration: "Web".into(),
                name: "a".into(),
                type_name: "Test/File".into(),
                in_desired_state: true,
                error: None,
            },
            ResourceStatus {
                configuration: "Web".into(),
                name: "b".into(),
                type_name: "Test/File".into(),
                in_desired_state: false,
                error: None,
            },
        ];
        let now = time::OffsetDateTime::now_utc();
        let job = uuid::Uuid::new_v4();
        let b = body(&ReportInput {
            job_id: job,
            initial: false,
            start: now,
            end: now,
            node_name: "n",
            ip_address: "10.0.0.1",
            agent_id: uuid::Uuid::new_v4(),
            mode: super::super::Mode::Monitor,
            interval_secs: 1800,
            checksum: Some("AB"),
            resources: &resources,
            errors: &[],
        });
        let summary = crate::pull::messages::parse_report(&b).unwrap();
        assert_eq!(summary.job_id, job);
        assert_eq!(summary.status.as_deref(), Some("Success"));
        let v: Value = serde_json::from_slice(&b).unwrap();
        let data: Value = serde_json::from_str(v["StatusData"][0].as_str().unwrap()).unwrap();
        assert_eq!(
            data["ResourcesInDesiredState"][0]["ResourceId"],
            "[Test/File]a"
        );
        assert_eq!(
            data["ResourcesNotInDesiredState"][0]["InDesiredState"],
            false
        );
    }
}
