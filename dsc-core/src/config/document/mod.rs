//! The configuration document: its typed model (with a JSON Schema from schemars), parsing from
//! JSON or YAML, parameter resolution with constraints, and the run order of its resources.

use crate::expr::{self, Context};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A DSC v3 configuration document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "DSC configuration document")]
pub struct ConfigurationDocument {
    #[serde(rename = "$schema")]
    pub schema_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<BTreeMap<String, Parameter>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Map<String, Value>>,
    pub resources: Vec<ResourceEntry>,
    /// Values computed after the resources ran, printed beside the results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<BTreeMap<String, Output>>,
    /// User-defined functions, called as `namespace.name(...)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functions: Option<Vec<FunctionNamespace>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directives: Option<DocumentDirectives>,
}

/// An output of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Output {
    #[serde(rename = "type")]
    pub output_type: ParameterType,
    /// The value; strings may be expressions.
    pub value: Value,
    /// An expression; when false the output is left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

/// A namespace of user-defined functions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FunctionNamespace {
    pub namespace: String,
    pub members: BTreeMap<String, FunctionDefinition>,
}

/// One user-defined function: typed parameters and an output expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FunctionDefinition {
    #[serde(default)]
    pub parameters: Vec<FunctionParameter>,
    pub output: FunctionOutput,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FunctionParameter {
    pub name: String,
    #[serde(rename = "type")]
    pub parameter_type: ParameterType,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FunctionOutput {
    #[serde(rename = "type")]
    pub output_type: ParameterType,
    /// The expression computing the output.
    pub value: String,
}

/// Directives of a whole document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DocumentDirectives {
    /// A version requirement on traek (`>=0.1`): a document needing a newer engine is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `duringDeployment` (default) or `preDeployment`: whether resources are found as they are
    /// used or all before the run starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_discovery: Option<ResourceDiscovery>,
    /// The security context the whole document needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,
}

/// Directives of one resource instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourceDirectives {
    /// The adapter that must run this (adapted) resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_adapter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ResourceDiscovery {
    DuringDeployment,
    PreDeployment,
}

/// A security context: `current` (any), `elevated` (root here), `restricted` (not root). The
/// same type as a manifest method's `requireSecurityContext`.
pub use crate::manifest::RequiredSecurityContext as SecurityContext;

/// A `copy` loop: the resource is repeated `count` times; `copyIndex()` is the repetition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CopyLoop {
    pub name: String,
    /// An integer, or an expression giving one.
    pub count: Value,
    /// `serial` or `parallel` (both run one after the other here, in index order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u64>,
}

/// One resource instance of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourceEntry {
    #[serde(rename = "type")]
    pub type_name: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
    /// `[resourceId('<type>', '<name>')]` expressions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
    /// An expression; when it evaluates to false the resource is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// A version requirement for the resource (`apiVersion` is accepted as an alias).
    #[serde(default, alias = "apiVersion", skip_serializing_if = "Option::is_none")]
    pub require_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// Repeats the resource (`name` then usually holds `copyIndex()`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<CopyLoop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directives: Option<ResourceDirectives>,
}

/// A parameter definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Parameter {
    #[serde(rename = "type")]
    pub parameter_type: ParameterType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_values: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

/// The type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ParameterType {
    String,
    SecureString,
    Int,
    Bool,
    Object,
    SecureObject,
    Array,
}

impl ParameterType {
    /// Whether values of this type must never appear in results, messages or logs.
    pub fn is_secure(self) -> bool {
        matches!(
            self,
            ParameterType::SecureString | ParameterType::SecureObject
        )
    }

    /// The type's name as documents spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ParameterType::String => "string",
            ParameterType::SecureString => "secureString",
            ParameterType::Int => "int",
            ParameterType::Bool => "bool",
            ParameterType::Object => "object",
            ParameterType::SecureObject => "secureObject",
            ParameterType::Array => "array",
        }
    }

    pub fn accepts(self, v: &Value) -> bool {
        match self {
            ParameterType::String | ParameterType::SecureString => v.is_string(),
            ParameterType::Int => v.as_i64().is_some(),
            ParameterType::Bool => v.is_boolean(),
            ParameterType::Object | ParameterType::SecureObject => v.is_object(),
            ParameterType::Array => v.is_array(),
        }
    }
}

/// Why a document cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// JSON/YAML syntax (exit code 3).
    #[error("{0}")]
    Syntax(String),
    /// Shape, unknown fields, duplicate names, bad dependencies (exit code 4... or 2).
    #[error("{0}")]
    Invalid(String),
    /// A parameter is missing or breaks a constraint (exit code 4).
    #[error("{0}")]
    Parameter(String),
}

impl DocumentError {
    /// Syntax is a parse error; anything else is invalid input.
    pub fn class(&self) -> crate::ErrorClass {
        match self {
            DocumentError::Syntax(_) => crate::ErrorClass::Parse,
            DocumentError::Invalid(_) | DocumentError::Parameter(_) => {
                crate::ErrorClass::InvalidInput
            }
        }
    }
}

/// The JSON Schema of a configuration document (`traek schema configuration`).
pub fn document_json_schema() -> Value {
    schemars::schema_for!(ConfigurationDocument).to_value()
}

/// Parses a document from JSON or YAML text.
pub fn parse_document(text: &str) -> Result<ConfigurationDocument, DocumentError> {
    let (value, _) =
        crate::text::parse_json_or_yaml(text).map_err(|e| DocumentError::Syntax(e.message))?;
    let doc = ConfigurationDocument::deserialize(&value)
        .map_err(|e| DocumentError::Invalid(format!("invalid configuration document: {e}")))?;
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (i, r) in doc.resources.iter().enumerate() {
        let key = (r.type_name.to_lowercase(), r.name.clone());
        if let Some(first) = seen.insert(key, i) {
            return Err(DocumentError::Invalid(format!(
                "resources {first} and {i} are both named '{}' of type '{}': names must be unique per type",
                r.name, r.type_name
            )));
        }
    }
    Ok(doc)
}

/// Parses the `--parameters` input: `{"parameters": {"name": value}}` (JSON or YAML).
pub fn parse_parameters_input(text: &str) -> Result<Map<String, Value>, DocumentError> {
    let (value, _) = crate::text::parse_json_or_yaml(text)
        .map_err(|e| DocumentError::Syntax(format!("parameters: {e}")))?;
    match value {
        Value::Object(mut m) if m.len() == 1 && m.contains_key("parameters") => {
            match m.remove("parameters") {
                Some(Value::Object(p)) => Ok(p),
                _ => Err(DocumentError::Parameter(
                    "'parameters' must be an object of name: value".into(),
                )),
            }
        }
        _ => Err(DocumentError::Parameter(
            "parameters must be given as {\"parameters\": {\"name\": value}}".into(),
        )),
    }
}

/// Resolves parameter values: supplied values, else defaults; checks types and constraints.
/// Defaults may be expressions (evaluated with `ctx`, which sees no parameters yet).
pub fn resolve_parameters(
    doc: &ConfigurationDocument,
    supplied: &Map<String, Value>,
    ctx: &dyn Context,
) -> Result<Map<String, Value>, DocumentError> {
    let defs = doc.parameters.clone().unwrap_or_default();
    if let Some(unknown) = supplied.keys().find(|k| !defs.contains_key(*k)) {
        return Err(DocumentError::Parameter(format!(
            "parameter '{unknown}' is not defined by the document"
        )));
    }
    let mut out = Map::new();
    for (name, def) in &defs {
        let value = match supplied.get(name) {
            Some(v) => v.clone(),
            None => match &def.default_value {
                Some(Value::String(s)) => expr::evaluate_string(s, &expr::ParameterDefault(ctx))
                    .map_err(|e| {
                        DocumentError::Parameter(format!("default of parameter '{name}': {e}"))
                    })?,
                Some(v) => v.clone(),
                None => {
                    return Err(DocumentError::Parameter(format!(
                        "parameter '{name}' has no value and no defaultValue"
                    )));
                }
            },
        };
        check_parameter(name, def, &value)?;
        out.insert(name.clone(), value);
    }
    Ok(out)
}

fn check_parameter(name: &str, def: &Parameter, v: &Value) -> Result<(), DocumentError> {
    let fail = |m: String| Err(DocumentError::Parameter(format!("parameter '{name}': {m}")));
    let shown = |v: &Value| {
        if def.parameter_type.is_secure() {
            "(secure value)".to_string()
        } else {
            v.to_string()
        }
    };
    if !def.parameter_type.accepts(v) {
        return fail(format!(
            "expected a value of type {:?}, got {}",
            def.parameter_type,
            crate::text::type_name(v)
        ));
    }
    if let Some(allowed) = &def.allowed_values
        && !allowed.contains(v)
    {
        let list: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
        return fail(format!(
            "{} is not one of the allowed values ({})",
            shown(v),
            list.join(", ")
        ));
    }
    if let Some(n) = v.as_i64() {
        if let Some(min) = def.min_value
            && n < min
        {
            return fail(format!("{n} is less than minValue {min}"));
        }
        if let Some(max) = def.max_value
            && n > max
        {
            return fail(format!("{n} is greater than maxValue {max}"));
        }
    }
    let len = match v {
        Value::String(s) => Some(s.chars().count() as u64),
        Value::Array(a) => Some(a.len() as u64),
        _ => None,
    };
    if let Some(len) = len {
        if let Some(min) = def.min_length
            && len < min
        {
            return fail(format!("length {len} is less than minLength {min}"));
        }
        if let Some(max) = def.max_length
            && len > max
        {
            return fail(format!("length {len} is greater than maxLength {max}"));
        }
    }
    Ok(())
}

/// The run order: a topological order of the resources by `dependsOn`, keeping document order
/// among resources that do not depend on each other. `ids[i]` are the evaluated dependsOn ids of
/// resource `i` (`type:name`). A missing dependency or a cycle is an error naming the resources.
pub fn run_order(
    resources: &[ResourceEntry],
    ids: &[Vec<String>],
) -> Result<Vec<usize>, DocumentError> {
    let nodes: Vec<(String, String)> = resources
        .iter()
        .map(|r| (expr::resource_id(&r.type_name, &r.name), r.name.clone()))
        .collect();
    run_order_of(&nodes, ids)
}

/// [`run_order`] over `(id, name)` pairs (instances of copy loops have their own names).
pub fn run_order_of(
    resources: &[(String, String)],
    ids: &[Vec<String>],
) -> Result<Vec<usize>, DocumentError> {
    let index: BTreeMap<String, usize> = resources
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.to_lowercase(), i))
        .collect();
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(resources.len());
    for (i, list) in ids.iter().enumerate() {
        let mut d = Vec::new();
        for id in list {
            match index.get(&id.to_lowercase()) {
                Some(&j) if j == i => {
                    return Err(DocumentError::Invalid(format!(
                        "resource '{}' depends on itself",
                        resources[i].1
                    )));
                }
                Some(&j) => d.push(j),
                None => {
                    return Err(DocumentError::Invalid(format!(
                        "resource '{}' depends on '{id}', which is not in the document",
                        resources[i].1
                    )));
                }
            }
        }
        deps.push(d);
    }
    let mut done = vec![false; resources.len()];
    let mut order = Vec::with_capacity(resources.len());
    while order.len() < resources.len() {
        // The first resource in document order whose dependencies have all run.
        let next = (0..resources.len()).find(|&i| !done[i] && deps[i].iter().all(|&d| done[d]));
        match next {
            Some(i) => {
                done[i] = true;
                order.push(i);
            }
            None => {
                let stuck: Vec<String> = (0..resources.len())
                    .filter(|&i| !done[i])
                    .map(|i| format!("'{}'", resources[i].1))
                    .collect();
                return Err(DocumentError::Invalid(format!(
                    "dependsOn forms a cycle among {}",
                    stuck.join(", ")
                )));
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests;
