//! The GetDscAction decision: what the node should do, given what it has applied and what the
//! server holds.
//!
//! 1. A single item without a name targets the node's registered configuration name. With no
//!    registered name the answer is `Ok` with no details. With several registered names (a
//!    misconfiguration: only partial configurations may have several) the answer is `Ok` with no
//!    details and a diagnosis for the log; never the `UpdateMetaConfig` the Windows server sends,
//!    which the LCM cannot parse.
//! 2. Named items (partial configurations) are answered one by one; names the node did not
//!    register are left out (as the Windows server does).
//! 3. Per target: no stored configuration → `Retry`; an empty checksum, or one that differs
//!    (case-insensitively) from the stored one → `GetConfiguration`; equal → `Ok`.
//! 4. `NodeStatus` is `GetConfiguration` if any detail says so, else `Retry` if any, else `Ok`.

use super::checksum::same_checksum;
use super::messages::{ActionDetail, GetDscActionRequest, GetDscActionResponse, NodeStatus};

/// The decision, with a diagnosis worth logging when the request could not be fully answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub response: GetDscActionResponse,
    pub diagnosis: Option<String>,
}

/// Decides. `assigned` are the configuration names the node may get; `stored_checksum` looks
/// up the checksum of a stored configuration by name.
pub fn decide(
    request: &GetDscActionRequest,
    assigned: &[String],
    stored_checksum: impl Fn(&str) -> Option<String>,
) -> Decision {
    let mut details = Vec::new();
    let mut diagnosis = None;
    let unnamed = |c: &Option<String>| c.as_deref().is_none_or(str::is_empty);
    for item in &request.client_status {
        let target = if unnamed(&item.configuration_name) {
            match assigned {
                [] => {
                    diagnosis = Some(
                        "the node has no configuration name assigned; answering Ok".to_string(),
                    );
                    continue;
                }
                [one] => one.clone(),
                many => {
                    diagnosis = Some(format!(
                        "the node registered several configuration names ({}) without partial configurations; only partial configurations may name several. Answering Ok",
                        many.join(", ")
                    ));
                    continue;
                }
            }
        } else {
            let name = item.configuration_name.clone().unwrap_or_default();
            match assigned.iter().find(|a| a.eq_ignore_ascii_case(&name)) {
                Some(a) => a.clone(),
                None => {
                    diagnosis = Some(format!(
                        "the node asked about '{name}', which is not assigned to it; left out"
                    ));
                    continue;
                }
            }
        };
        let status = match stored_checksum(&target) {
            None => NodeStatus::Retry,
            Some(stored) => match item.checksum.as_deref() {
                Some(c) if !c.is_empty() && same_checksum(c, &stored) => NodeStatus::Ok,
                _ => NodeStatus::GetConfiguration,
            },
        };
        if status == NodeStatus::Retry {
            diagnosis = Some(format!(
                "configuration '{target}' is assigned but not stored on the server; answering Retry"
            ));
        }
        details.push(ActionDetail {
            configuration_name: target,
            status,
        });
    }
    let node_status = if details
        .iter()
        .any(|d| d.status == NodeStatus::GetConfiguration)
    {
        NodeStatus::GetConfiguration
    } else if details.iter().any(|d| d.status == NodeStatus::Retry) {
        NodeStatus::Retry
    } else {
        NodeStatus::Ok
    };
    Decision {
        response: GetDscActionResponse {
            node_status,
            details,
        },
        diagnosis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pull::messages::ClientStatus;

    fn req(items: &[(Option<&str>, &str)]) -> GetDscActionRequest {
        GetDscActionRequest {
            client_status: items
                .iter()
                .map(|(n, c)| ClientStatus {
                    checksum: Some(c.to_string()),
                    configuration_name: n.map(str::to_string),
                    checksum_algorithm: Some("SHA-256".into()),
                })
                .collect(),
        }
    }

    fn store(name: &str) -> Option<String> {
        match name {
            "Web" => Some("AB".repeat(32)),
            "P1" => Some("CD".repeat(32)),
            _ => None,
        }
    }

    #[test]
    fn first_pull_gets_the_configuration_and_echoes_the_registered_name() {
        let d = decide(&req(&[(None, "")]), &["Web".into()], store);
        assert_eq!(d.response.node_status, NodeStatus::GetConfiguration);
        assert_eq!(
            d.response.details,
            vec![ActionDetail {
                configuration_name: "Web".into(),
                status: NodeStatus::GetConfiguration
            }]
        );
    }

    #[test]
    fn same_checksum_in_any_case_is_ok_and_a_different_one_pulls() {
        let lower = "ab".repeat(32);
        assert_eq!(
            decide(&req(&[(None, &lower)]), &["Web".into()], store)
                .response
                .node_status,
            NodeStatus::Ok
        );
        assert_eq!(
            decide(&req(&[(None, &"EE".repeat(32))]), &["Web".into()], store)
                .response
                .node_status,
            NodeStatus::GetConfiguration
        );
    }

    #[test]
    fn missing_configuration_is_retry_and_no_names_is_ok() {
        let d = decide(&req(&[(None, "")]), &["Gone".into()], store);
        assert_eq!(d.response.node_status, NodeStatus::Retry);
        assert!(d.diagnosis.is_some());
        let d = decide(&req(&[(None, "")]), &[], store);
        assert_eq!(
            d.response,
            GetDscActionResponse {
                node_status: NodeStatus::Ok,
                details: vec![]
            }
        );
    }

    #[test]
    fn several_names_without_partials_never_say_update_meta_config() {
        let d = decide(&req(&[(None, "")]), &["Web".into(), "P1".into()], store);
        assert_eq!(
            d.response,
            GetDscActionResponse {
                node_status: NodeStatus::Ok,
                details: vec![]
            }
        );
        assert!(d.diagnosis.unwrap().contains("several"));
    }

    #[test]
    fn partials_are_answered_one_by_one() {
        let d = decide(
            &req(&[
                (Some("P1"), &"CD".repeat(32)),
                (Some("Web"), ""),
                (Some("Other"), ""),
            ]),
            &["Web".into(), "P1".into()],
            store,
        );
        assert_eq!(d.response.node_status, NodeStatus::GetConfiguration);
        assert_eq!(
            d.response.details,
            vec![
                ActionDetail {
                    configuration_name: "P1".into(),
                    status: NodeStatus::Ok
                },
                ActionDetail {
                    configuration_name: "Web".into(),
                    status: NodeStatus::GetConfiguration
                }
            ]
        );
    }
}
