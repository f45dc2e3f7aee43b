//! Result shapes of resource operations, serialized exactly as Microsoft's `dsc` prints them.

use serde::Serialize;
use serde_json::Value;

/// `resource get`: `{"actualState": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetResult {
    pub actual_state: Value,
}

/// `resource test`: `{"desiredState", "actualState", "inDesiredState", "differingProperties"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    pub desired_state: Value,
    pub actual_state: Value,
    pub in_desired_state: bool,
    pub differing_properties: Vec<String>,
}

/// `resource set` (and what-if of set or delete): `{"beforeState", "afterState", "changedProperties"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetResult {
    pub before_state: Value,
    pub after_state: Value,
    pub changed_properties: Vec<String>,
}

/// `resource export`: the instances found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportResult {
    pub actual_state: Vec<Value>,
}

/// `validate`: whether an instance is valid, and why not.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidateResult {
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `resolve` (importer resources): the configuration document an importer found, and the
/// parameter values to run it with.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolveResult {
    pub configuration: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Map<String, Value>>,
}

/// The `$schema` of a configuration document, as dsc writes it in export output.
pub const CONFIG_DOCUMENT_SCHEMA: &str =
    "https://aka.ms/dsc/schemas/v3/bundled/config/document.json";

impl ExportResult {
    /// The configuration document `resource export` prints: one resource per instance, named by
    /// the instance's `_name` when it has one (which is then removed from the properties), else
    /// `<type>-<index>` as dsc does.
    pub fn to_configuration(&self, type_name: &str) -> Value {
        let resources: Vec<Value> = self
            .actual_state
            .iter()
            .enumerate()
            .map(|(i, instance)| {
                let mut props = instance.clone();
                let name = props
                    .as_object_mut()
                    .and_then(|m| m.remove("_name"))
                    .map(|n| match n {
                        Value::String(s) => s,
                        other => other.to_string(),
                    })
                    .unwrap_or_else(|| format!("{type_name}-{i}"));
                serde_json::json!({"name": name, "type": type_name, "properties": props})
            })
            .collect();
        serde_json::json!({"$schema": CONFIG_DOCUMENT_SCHEMA, "resources": resources})
    }
}
