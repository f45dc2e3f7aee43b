//! The typed model of a DSC v3 resource manifest (`*.dsc.resource.json|yaml|yml`).
//!
//! Field names and shapes follow Microsoft's published manifest schema. Members traek does not
//! know are accepted (manifests must survive dsc's future additions) and reported as warnings
//! naming them, so a typo (`exitcodes`, `implementPretest`) is still visible; a known member of
//! the wrong type is an error.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The pattern of a fully qualified resource type: `<owner>[.<group>][.<area>]/<name>`.
pub const TYPE_PATTERN: &str = r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+){0,2}/[A-Za-z0-9_]+$";

/// A resource manifest, as written in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "DSC resource manifest")]
pub struct ResourceManifest {
    /// The manifest schema this manifest is written against.
    #[serde(rename = "$schema")]
    pub schema_uri: String,
    /// Fully qualified type name, `<owner>[.<group>][.<area>]/<name>`; compared case-insensitively.
    #[serde(rename = "type")]
    #[schemars(pattern(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+){0,2}/[A-Za-z0-9_]+$"))]
    pub type_name: String,
    /// Semantic version of the resource (a `YYYY-MM-DD` date is accepted with a warning).
    pub version: String,
    /// What kind of resource this is; `resource` unless an `adapter` section makes it `adapter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// An expression deciding whether the resource is usable on this machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// When set, the resource is deprecated and this message is shown when it is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecation_message: Option<String>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get: Option<Method>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<Box<SetMethod>>,
    /// A dedicated what-if method; when absent, what-if uses set's `whatIfArg` or a synthetic test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what_if: Option<Box<SetMethod>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Box<TestMethod>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<Box<Method>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<Box<ExportMethod>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validate: Option<Box<Method>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve: Option<Box<Method>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<Box<Adapter>>,
    /// Meanings of the executable's exit codes, keyed by the code as a string (`"0"`, `"-1"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_codes: Option<BTreeMap<i32, String>>,
    /// The JSON Schema of an instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<SchemaSource>,
}

/// The kind of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    Resource,
    Adapter,
    Group,
    Importer,
    Exporter,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Resource => "resource",
            Kind::Adapter => "adapter",
            Kind::Group => "group",
            Kind::Importer => "importer",
            Kind::Exporter => "exporter",
        }
    }
}

/// How the instance JSON reaches the executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum InputKind {
    /// The JSON text on stdin.
    Stdin,
    /// One environment variable per top-level property.
    Env,
}

/// What a set, test or what-if method prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ReturnKind {
    /// One JSON line: the instance's state.
    State,
    /// Two JSON lines: the state, then an array of the names of the differing properties.
    StateAndDiff,
}

/// One argument of a method's command line (read by the `Deserialize` in `arg.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Arg {
    /// Passed as-is.
    Plain(String),
    /// `{"jsonInputArg": "--input", "mandatory": false}`: the argument, then the instance JSON.
    JsonInput(JsonInputArg),
    /// `{"resourceTypeArg": "--type"}`: the argument, then the resource type name.
    ResourceType(ResourceTypeArg),
    /// `{"resourceVersionArg": "--version"}`: the argument, then the resource version.
    ResourceVersion(ResourceVersionArg),
    /// `{"resourcePathArg": "--path", "includeQuotes": false}`: the argument, then the manifest path.
    ResourcePath(ResourcePathArg),
    /// `{"whatIfArg": "--what-if"}`: present only in what-if mode (set and delete).
    WhatIf(WhatIfArg),
    /// `{"adaptedContentArg": "--content"}` (adapters): the argument, then the adapted
    /// resource's inline `content` as compact JSON; the argument alone when it has none.
    AdaptedContent(AdaptedContentArg),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdaptedContentArg {
    pub adapted_content_arg: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JsonInputArg {
    pub json_input_arg: String,
    /// When true, the argument is passed even with empty input (as `{}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mandatory: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceTypeArg {
    pub resource_type_arg: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceVersionArg {
    pub resource_version_arg: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourcePathArg {
    pub resource_path_arg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_quotes: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhatIfArg {
    pub what_if_arg: String,
}

/// A method (get, delete, validate, resolve): an executable, its arguments and how input is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Method {
    pub executable: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<Arg>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputKind>,
    /// The security context this method needs (`current`, `elevated`, `restricted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_security_context: Option<RequiredSecurityContext>,
}

/// The set (or whatIf) method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetMethod {
    pub executable: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<Arg>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputKind>,
    /// The security context this method needs (`current`, `elevated`, `restricted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_security_context: Option<RequiredSecurityContext>,
    /// The resource tests by itself before setting, so traek need not run test first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implements_pretest: Option<bool>,
    /// The resource handles `_exist: false` itself, so traek need not call delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handles_exist: Option<bool>,
    #[serde(rename = "return", default, skip_serializing_if = "Option::is_none")]
    pub returns: Option<ReturnKind>,
    /// What the method prints in what-if mode (defaults to `return`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what_if_returns: Option<ReturnKind>,
}

/// The test method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestMethod {
    pub executable: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<Arg>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputKind>,
    /// The security context this method needs (`current`, `elevated`, `restricted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_security_context: Option<RequiredSecurityContext>,
    #[serde(rename = "return", default, skip_serializing_if = "Option::is_none")]
    pub returns: Option<ReturnKind>,
}

/// The export method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportMethod {
    pub executable: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<Arg>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputKind>,
    /// The security context this method needs (`current`, `elevated`, `restricted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_security_context: Option<RequiredSecurityContext>,
    /// JSON Schema of the filter export accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Whether export accepts a filter as input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_filtering: Option<bool>,
    /// What export prints per instance (`state`, the default, or `stateAndDiff`).
    #[serde(rename = "return", default, skip_serializing_if = "Option::is_none")]
    pub returns: Option<ReturnKind>,
}

/// The security context a method requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RequiredSecurityContext {
    Current,
    Elevated,
    Restricted,
}

impl RequiredSecurityContext {
    pub fn as_str(self) -> &'static str {
        match self {
            RequiredSecurityContext::Current => "current",
            RequiredSecurityContext::Elevated => "elevated",
            RequiredSecurityContext::Restricted => "restricted",
        }
    }

    /// Whether a process running in `process` (`elevated` or `restricted`) satisfies this.
    pub fn is_met_by(self, process: &str) -> bool {
        self == RequiredSecurityContext::Current || self.as_str() == process
    }
}

/// Where the instance schema comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SchemaSource {
    /// The schema itself, inline.
    Embedded(EmbeddedSchema),
    /// A command that prints the schema.
    Command(SchemaCommand),
}

/// An embedded instance schema, kept as the JSON text it was written as. It is read into a
/// value only when a resource's instances are checked against it, so listing many resources
/// does not build every schema of every manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmbeddedSchema(Box<serde_json::value::RawValue>);

impl EmbeddedSchema {
    /// The schema of a value (a manifest read from YAML, an adapted resource's `schema`).
    pub fn from_value(value: &Value) -> Self {
        // A `Value` always serializes, and its text is always valid JSON.
        let text = value.to_string();
        match serde_json::value::RawValue::from_string(text) {
            Ok(raw) => EmbeddedSchema(raw),
            Err(_) => EmbeddedSchema(Box::default()), // `null`
        }
    }

    /// The schema as a value.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }

    /// The schema's JSON text, as written (without surrounding whitespace).
    pub fn text(&self) -> &str {
        self.0.get()
    }
}

/// Two schemas are equal when their JSON values are, whatever their spacing.
impl PartialEq for EmbeddedSchema {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text() || self.to_value().ok() == other.to_value().ok()
    }
}

impl JsonSchema for EmbeddedSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        Value::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        Value::json_schema(generator)
    }

    fn inline_schema() -> bool {
        true
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaCommand {
    pub executable: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<Arg>>,
}

/// The adapter section of an adapter resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Adapter {
    /// How to list the resources the adapter manages; an adapter without it serves only the
    /// resources of `.dsc.adaptedResource.json` manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<ListMethod>,
    /// How the adapter takes input: `full`, `sequence` or `single`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_kind: Option<AdapterInputKind>,
    /// The older name of `inputKind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<AdapterInputKind>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListMethod {
    pub executable: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<Arg>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AdapterInputKind {
    Full,
    Sequence,
    Single,
}

impl Adapter {
    /// `inputKind` (or the older `config`); `single` when neither is given.
    pub fn effective_input_kind(&self) -> AdapterInputKind {
        self.input_kind
            .or(self.config)
            .unwrap_or(AdapterInputKind::Single)
    }
}

impl ResourceManifest {
    /// The effective kind: the declared one, else `adapter` when an adapter section exists,
    /// else `resource`.
    pub fn effective_kind(&self) -> Kind {
        match (self.kind, &self.adapter) {
            (Some(k), _) => k,
            (None, Some(_)) => Kind::Adapter,
            (None, None) => Kind::Resource,
        }
    }

    /// Names of the operations this resource supports, as `dsc resource list` shows them.
    pub fn capabilities(&self) -> Vec<&'static str> {
        let mut caps = Vec::new();
        if self.get.is_some() {
            caps.push("get");
        }
        if let Some(set) = &self.set {
            caps.push("set");
            if set.handles_exist == Some(true) {
                caps.push("setHandlesExist");
            }
        }
        if self.what_if.is_some() || self.set.as_deref().is_some_and(set_has_what_if_arg) {
            caps.push("whatIf");
        }
        if self.test.is_some() {
            caps.push("test");
        }
        if self.delete.is_some() {
            caps.push("delete");
        }
        if self.export.is_some() {
            caps.push("export");
        }
        if self.resolve.is_some() {
            caps.push("resolve");
        }
        caps
    }
}

fn set_has_what_if_arg(set: &SetMethod) -> bool {
    set.args
        .iter()
        .flatten()
        .any(|a| matches!(a, Arg::WhatIf(_)))
}
