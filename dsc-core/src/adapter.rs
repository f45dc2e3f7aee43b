//! Adapted resources: resources an adapter runs on their behalf.
//!
//! An adapted resource comes from a `*.dsc.adaptedResource.json|yaml|yml` file (naming its
//! adapter with `requireAdapter`) or from the JSON Lines an adapter's `list` method prints. It
//! becomes an ordinary [`Resource`] whose methods are the adapter's: `resourceTypeArg` then
//! passes the adapted type, `resourcePathArg` the adapted resource's `path`, and
//! `adaptedContentArg` its inline `content`; commands run in the adapter's directory.
//!
//! The adapter's `inputKind` decides what the adapter reads as input:
//! - `single` (default): the instance's properties, like any resource;
//! - `full`: a configuration document holding the instance
//!   (`{"$schema", "resources": [{"name", "type", "properties"}], "metadata":
//!   {"Microsoft.DSC": {"context": "configuration"}}}`); an answer shaped
//!   `{"result": [{"properties": ...}]}` or `{"resources": [{"properties": ...}]}` is unwrapped
//!   to that instance's state;
//! - `sequence`: the instance as one JSON line `{"name", "type", "properties"}`; an answer of the
//!   same shape (same type) is unwrapped to its `properties`.

use crate::manifest::{AdapterInputKind, Kind, ResourceVersion, SchemaSource};
use crate::resource::{Adapted, Resource};
use crate::results::CONFIG_DOCUMENT_SCHEMA;
use crate::text;
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Whether a file name is an adapted resource manifest (case-insensitive).
pub fn is_adapted_manifest_file(name: &str) -> bool {
    text::suffix_ci(
        name,
        &[
            ".dsc.adaptedResource.json",
            ".dsc.adaptedResource.yaml",
            ".dsc.adaptedResource.yml",
        ],
    )
    .is_some()
}

/// What describes an adapted resource, in a file or in an adapter's `list` output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdaptedDescription {
    #[serde(rename = "type")]
    pub type_name: String,
    pub version: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// The adapter's type; `list` output may leave it out.
    #[serde(default)]
    pub require_adapter: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub content: Option<Value>,
    /// `{"embedded": ...}`, `{"command": ...}`, or the JSON Schema itself.
    #[serde(default, deserialize_with = "schema_source")]
    pub schema: Option<SchemaSource>,
    /// An expression that must be true for the resource to be used here.
    #[serde(default)]
    pub condition: Option<String>,
}

/// An adapted resource's `schema`: a schema source, or (as dsc's adapted manifests may write
/// it) the schema itself.
fn schema_source<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SchemaSource>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(v) if v.get("embedded").is_some() || v.get("command").is_some() => {
            SchemaSource::deserialize(v)
                .map(Some)
                .map_err(serde::de::Error::custom)
        }
        Some(v) => Ok(Some(SchemaSource::Embedded(
            crate::manifest::EmbeddedSchema::from_value(&v),
        ))),
    }
}

/// Reads a `.dsc.adaptedResource.json|yaml|yml` file.
pub fn read_adapted_file(path: &Path) -> Result<Value, String> {
    let bytes = text::read_bounded(path, crate::manifest::MAX_MANIFEST_BYTES)?;
    let (value, _) = text::parse_json_or_yaml(text::decode_utf8(&bytes).map_err(|e| e.message)?)
        .map_err(|e| e.message)?;
    Ok(value)
}

/// An adapted resource manifest (a file's, or one of a manifest list's `adaptedResources`),
/// which must name its adapter.
pub fn adapted_description(value: Value) -> Result<AdaptedDescription, String> {
    let desc: AdaptedDescription = serde_json::from_value(value)
        .map_err(|e| format!("not an adapted resource manifest: {e}"))?;
    if desc.require_adapter.is_none() {
        return Err("'requireAdapter' is missing".into());
    }
    Ok(desc)
}

/// Builds the resource for an adapted description run by `adapter`.
pub fn synthesize(
    desc: AdaptedDescription,
    origin: &Path,
    base_dir: &Path,
    adapter: &Resource,
) -> Result<Resource, String> {
    let Some(section) = &adapter.manifest.adapter else {
        return Err(format!("'{}' is not an adapter", adapter.type_name));
    };
    if adapter.kind != Kind::Adapter {
        return Err(format!("'{}' is not an adapter", adapter.type_name));
    }
    if !crate::manifest::is_valid_type_name(&desc.type_name) {
        return Err(format!(
            "type '{}' is not of the form <owner>[.<group>][.<area>]/<name>",
            desc.type_name
        ));
    }
    let version = ResourceVersion::parse(&desc.version).map_err(|e| e.to_string())?;
    let mut manifest = adapter.manifest.clone();
    manifest.type_name = desc.type_name.clone();
    manifest.version = desc.version.clone();
    manifest.kind = Some(Kind::Resource);
    manifest.description = desc.description.clone();
    manifest.tags = desc.tags.clone();
    manifest.adapter = None;
    manifest.condition = None;
    manifest.schema = desc.schema.clone();
    let path = desc
        .path
        .as_deref()
        .map(|p| base_dir.join(p))
        .unwrap_or_else(|| origin.to_path_buf());
    Ok(Resource {
        type_name: desc.type_name,
        version,
        kind: Kind::Resource,
        path,
        directory: adapter.directory.clone(),
        manifest,
        builtin: false,
        adapted: Some(Adapted {
            adapter: adapter.type_name.clone(),
            input_kind: section.effective_input_kind(),
            content: desc.content,
        }),
    })
}

/// The input an adapter reads for one instance of an adapted resource.
pub fn adapter_input(r: &Resource, input: &Value) -> Value {
    let instance = || json!({"name": r.type_name, "type": r.type_name, "properties": input});
    match r.adapted.as_ref().map(|a| a.input_kind) {
        Some(AdapterInputKind::Full) => json!({
            "$schema": CONFIG_DOCUMENT_SCHEMA,
            "resources": [instance()],
            "metadata": {"Microsoft.DSC": {"context": "configuration"}},
        }),
        Some(AdapterInputKind::Sequence) => instance(),
        _ => input.clone(),
    }
}

/// The instance state inside a `full`/`sequence` adapter's answer (unchanged otherwise).
pub fn adapter_output(r: &Resource, stdout: String) -> String {
    let Some(a) = &r.adapted else {
        return stdout;
    };
    if a.input_kind == AdapterInputKind::Single {
        return stdout;
    }
    let Ok(v) = serde_json::from_str::<Value>(stdout.trim()) else {
        return stdout;
    };
    let state = match a.input_kind {
        AdapterInputKind::Sequence => v
            .get("type")
            .and_then(Value::as_str)
            .filter(|t| t.eq_ignore_ascii_case(&r.type_name))
            .and_then(|_| v.get("properties")),
        _ => v
            .get("result")
            .or_else(|| v.get("resources"))
            .and_then(|x| x.get(0))
            .and_then(|f| f.get("properties").or_else(|| f.get("result"))),
    };
    match state {
        Some(state) => state.to_string(),
        None => stdout,
    }
}

/// Where adapters' `list` output is cached: `$XDG_CACHE_HOME/traek/adapters`, else
/// `~/.cache/traek/adapters`.
pub fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("traek").join("adapters"))
}

/// The cache file for an adapter's list: keyed by the manifest's path, size and mtime, so a
/// changed adapter is listed again.
pub fn cache_file(adapter: &Resource) -> Option<PathBuf> {
    use sha2::Digest;
    let meta = std::fs::metadata(&adapter.path).ok()?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let key = format!(
        "{}|{}|{}|{}",
        adapter.path.display(),
        meta.len(),
        mtime,
        adapter.version
    );
    let digest = sha2::Sha256::digest(key.as_bytes());
    let name: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    Some(cache_dir()?.join(format!("{name}.jsonl")))
}
