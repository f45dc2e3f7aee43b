//! Typed request and response bodies of the pull protocol (member names as the LCM spells
//! them). Registration and GetDscAction bodies refuse unknown members, as the Windows pull
//! server does (400); member order never matters.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// `RegisterDscAgent` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct RegisterRequest {
    pub agent_information: AgentInformation,
    /// Only in a `ConfigurationRepository` registration (omitted for the other types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration_names: Option<Vec<String>>,
    pub registration_information: RegistrationInformation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentInformation {
    #[serde(rename = "LCMVersion")]
    pub lcm_version: String,
    #[serde(rename = "NodeName")]
    pub node_name: String,
    /// Every address of the node, `;`-separated.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct RegistrationInformation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_information: Option<CertificateInformation>,
    pub registration_message_type: RegistrationMessageType,
}

/// The LCM's self-signed client certificate, as it describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct CertificateInformation {
    pub friendly_name: String,
    pub issuer: String,
    pub not_after: String,
    pub not_before: String,
    pub subject: String,
    /// Useless in practice: base64 of a .NET type name (an LCM bug).
    pub public_key: String,
    /// SHA-1 thumbprint of the client certificate, 40 hex digits.
    pub thumbprint: String,
    /// Must be an integer (a string is refused, as on Windows).
    pub version: i64,
}

/// Which server block of the meta-configuration a registration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RegistrationMessageType {
    ConfigurationRepository,
    ResourceRepository,
    ReportServer,
}

impl RegistrationMessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConfigurationRepository => "ConfigurationRepository",
            Self::ResourceRepository => "ResourceRepository",
            Self::ReportServer => "ReportServer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ConfigurationRepository" => Some(Self::ConfigurationRepository),
            "ResourceRepository" => Some(Self::ResourceRepository),
            "ReportServer" => Some(Self::ReportServer),
            _ => None,
        }
    }
}

/// `GetDscAction` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct GetDscActionRequest {
    pub client_status: Vec<ClientStatus>,
}

/// One configuration the node asks about (one per partial configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct ClientStatus {
    /// Checksum of the MOF the node last applied; empty before the first pull.
    #[serde(default)]
    pub checksum: Option<String>,
    /// Present (for partial configurations) or absent, `null` or `""`.
    #[serde(default)]
    pub configuration_name: Option<String>,
    #[serde(default)]
    pub checksum_algorithm: Option<String>,
}

/// What the node should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeStatus {
    Ok,
    Retry,
    GetConfiguration,
    UpdateMetaConfiguration,
}

/// One entry of `Details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ActionDetail {
    pub configuration_name: String,
    pub status: NodeStatus,
}

/// `GetDscAction` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetDscActionResponse {
    pub node_status: NodeStatus,
    pub details: Vec<ActionDetail>,
}

impl GetDscActionResponse {
    /// The JSON body with the OData metadata member first, as the Windows server writes it.
    pub fn to_odata_json(&self, service_root: &str) -> Vec<u8> {
        #[derive(Serialize)]
        struct OData<'a> {
            #[serde(rename = "odata.metadata")]
            metadata: String,
            #[serde(rename = "NodeStatus")]
            node_status: NodeStatus,
            #[serde(rename = "Details")]
            details: &'a [ActionDetail],
        }
        let body = OData {
            metadata: format!("{service_root}/$metadata#MSFT.DSCNodeStatus"),
            node_status: self.node_status,
            details: &self.details,
        };
        // Serializing plain strings and enums into a Vec cannot fail.
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

/// The `SendReport` answer body.
pub fn saved_report_json(service_root: &str) -> Vec<u8> {
    serde_json::json!({"odata.metadata": format!("{service_root}/$metadata#Edm.String"), "value": "SavedReport"})
        .to_string()
        .into_bytes()
}

/// The indexed fields of a `SendReport` body. The body itself is kept byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSummary {
    pub job_id: Uuid,
    pub operation_type: Option<String>,
    pub refresh_mode: Option<String>,
    /// `Success` or `Failure` (final reports only).
    pub status: Option<String>,
    pub node_name: Option<String>,
    pub ip_address: Option<String>,
    /// RFC 3339 text as sent.
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    /// Start time as Unix seconds (for range queries).
    pub start_unix: Option<i64>,
    pub end_unix: Option<i64>,
    pub error_count: usize,
    /// The first error message, when the report carries errors.
    pub first_error: Option<String>,
    /// What a final report says about its run (`None` for start and error-only reports, and
    /// for summaries read back from storage).
    pub run: Option<super::compliance::RunCompliance>,
    /// Keep at most one report of this JobId from this agent. A traek agent sends one report
    /// per job and sends it again when it did not see the answer; an LCM sends several reports
    /// per job (start, errors, final), all kept. Storage enforces it with a unique index.
    pub once_per_job: bool,
    /// The checksums of what the server had given the node when it reported (comma-separated,
    /// by configuration name): the version the report is about. Set by the server.
    pub applied: Option<String>,
}

impl ReportSummary {
    /// The JobId under which storage keeps this report unique, if it does (see
    /// [`ReportSummary::once_per_job`]).
    pub fn unique_job(&self) -> Option<Uuid> {
        self.once_per_job.then_some(self.job_id)
    }
}

/// Why a report was refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReportError(pub String);

/// Parses and checks a `SendReport` body: a JSON object with a GUID `JobId`; `StartTime` and
/// `EndTime`, when present, are dates; unknown members (`AdditionalData` and others) are kept.
pub fn parse_report(body: &[u8]) -> Result<ReportSummary, ReportError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ReportError("the report body is empty".into()));
    }
    let text = crate::text::decode_utf8(body).map_err(|e| ReportError(e.message))?;
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ReportError(format!("the report is not JSON: {e}")))?;
    let Value::Object(map) = &value else {
        return Err(ReportError("the report must be a JSON object".into()));
    };
    let text_of = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_string);
    let job_text = text_of("JobId").ok_or_else(|| ReportError("the report has no JobId".into()))?;
    let job_id = Uuid::try_parse(job_text.trim_matches(['{', '}']))
        .map_err(|_| ReportError(format!("JobId '{job_text}' is not a GUID")))?;
    let time_of = |k: &str| -> Result<(Option<String>, Option<i64>), ReportError> {
        match map.get(k) {
            None | Some(Value::Null) => Ok((None, None)),
            Some(Value::String(s)) if s.is_empty() => Ok((None, None)),
            Some(Value::String(s)) => {
                let t = OffsetDateTime::parse(s, &Rfc3339)
                    .map_err(|_| ReportError(format!("{k} '{s}' is not a date")))?;
                Ok((Some(s.clone()), Some(t.unix_timestamp())))
            }
            Some(other) => Err(ReportError(format!("{k} must be a string, not {other}"))),
        }
    };
    let (start_time, start_unix) = time_of("StartTime")?;
    let (end_time, end_unix) = time_of("EndTime")?;
    let errors: Vec<&Value> = map
        .get("Errors")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let first_error = errors.first().map(|e| {
        // Each entry is usually a JSON-encoded object with an ErrorMessage.
        let parsed = e
            .as_str()
            .and_then(|s| serde_json::from_str::<Value>(s).ok());
        parsed
            .as_ref()
            .and_then(|p| p.get("ErrorMessage"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| {
                e.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| e.to_string())
            })
    });
    Ok(ReportSummary {
        job_id,
        operation_type: text_of("OperationType"),
        refresh_mode: text_of("RefreshMode"),
        status: text_of("Status"),
        node_name: text_of("NodeName"),
        ip_address: text_of("IpAddress"),
        start_time,
        end_time,
        start_unix,
        end_unix,
        error_count: errors.len(),
        first_error,
        run: super::compliance::run_compliance(&value),
        once_per_job: false,
        applied: None,
    })
}

/// Merges the reports of one job (start, error and final reports share a JobId): the first
/// non-empty value of each member wins, and `Errors` and `StatusData` are concatenated.
pub fn merge_reports(reports: &[Value]) -> Value {
    let mut merged = serde_json::Map::new();
    for r in reports {
        let Value::Object(map) = r else { continue };
        for (k, v) in map {
            if k == "Errors" || k == "StatusData" {
                let slot = merged
                    .entry(k.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let (Value::Array(acc), Value::Array(items)) = (slot, v) {
                    acc.extend(items.iter().cloned());
                }
                continue;
            }
            let empty = matches!(v, Value::Null) || v.as_str() == Some("");
            match merged.get(k) {
                Some(existing) if !(existing.is_null() || existing.as_str() == Some("")) => {}
                _ if empty && merged.contains_key(k) => {}
                _ => {
                    merged.insert(k.clone(), v.clone());
                }
            }
        }
    }
    Value::Object(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn captured_registration_bodies_parse() {
        for f in [
            "traek-registration-body.json",
            "windows-registration-body.json",
        ] {
            let body =
                std::fs::read(format!("{}/tests/data/{f}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let r: RegisterRequest = serde_json::from_slice(&body).unwrap();
            assert_eq!(r.agent_information.lcm_version, "2.0");
            assert!(r.registration_information.certificate_information.is_some());
        }
    }

    #[test]
    fn registration_with_unknown_member_or_string_version_is_refused() {
        let body = std::fs::read(format!(
            "{}/tests/data/windows-registration-body.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(
            serde_json::from_str::<RegisterRequest>(
                &text.replace("\"NodeName\"", "\"Extra\":1,\"NodeName\"")
            )
            .is_err()
        );
        assert!(
            serde_json::from_str::<RegisterRequest>(
                &text.replace("\"Version\":3", "\"Version\":\"3\"")
            )
            .is_err()
        );
    }

    #[test]
    fn get_dsc_action_accepts_any_member_order_and_null_names() {
        let a: GetDscActionRequest = serde_json::from_str(r#"{"ClientStatus":[{"Checksum":"","ConfigurationName":"P1","ChecksumAlgorithm":"SHA-256"},{"ChecksumAlgorithm":"SHA-256","ConfigurationName":null,"Checksum":"AB"}]}"#).unwrap();
        assert_eq!(a.client_status[0].configuration_name.as_deref(), Some("P1"));
        assert_eq!(a.client_status[1].configuration_name, None);
        assert!(
            serde_json::from_str::<GetDscActionRequest>(
                r#"{"ClientStatus":[{"Checksum":"","Bogus":1}]}"#
            )
            .is_err()
        );
    }

    #[test]
    fn reports_need_a_guid_job_id_and_real_dates() {
        let ok = parse_report(br#"{"JobId":"d6a09c93-632e-11e6-9c21-80e6500eb60d","StartTime":"2016-08-15T14:25:52.5680000-07:00","Errors":["{\"ErrorMessage\":\"boom\"}"],"AdditionalData":[]}"#).unwrap();
        assert_eq!(ok.error_count, 1);
        assert_eq!(ok.first_error.as_deref(), Some("boom"));
        assert!(ok.start_unix.is_some());
        assert!(parse_report(b"").is_err());
        assert!(parse_report(b"[1]").is_err());
        assert!(parse_report(br#"{"JobId":"nope"}"#).is_err());
        assert!(
            parse_report(
                br#"{"JobId":"d6a09c93-632e-11e6-9c21-80e6500eb60d","EndTime":"yesterday"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn reports_of_one_job_merge() {
        let merged = merge_reports(&[
            json!({"JobId": "j", "NodeName": "N", "Status": null, "Errors": [], "StatusData": ["a"]}),
            json!({"JobId": "j", "Errors": ["e"], "StatusData": []}),
            json!({"JobId": "j", "Status": "Failure", "NodeName": "", "StatusData": ["b"]}),
        ]);
        assert_eq!(merged["NodeName"], "N");
        assert_eq!(merged["Status"], "Failure");
        assert_eq!(merged["Errors"], json!(["e"]));
        assert_eq!(merged["StatusData"], json!(["a", "b"]));
    }
}
