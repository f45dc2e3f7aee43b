//! Resource manifests: file naming, parsing (JSON and YAML), schema validation and the typed
//! model.
//!
//! Loading a manifest is: decode UTF-8 (BOM allowed) → parse JSON or YAML into a JSON value →
//! validate against the manifest's own JSON Schema (derived from [`ResourceManifest`] with
//! schemars, compiled once per [`ManifestLoader`]) → deserialize into the typed model → check
//! what a schema cannot say (the version).

mod arg;
mod model;
pub mod unknown;
mod version;

pub use model::*;

/// The largest manifest file read (Microsoft's largest bundle is well under 1 MiB).
pub const MAX_MANIFEST_BYTES: u64 = 8 * 1024 * 1024;
pub use version::{BadVersion, ResourceVersion, VersionReq};

use crate::text::{self, Format};
use serde_json::Value;
use std::sync::OnceLock;

/// What kind of manifest file a file name denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestFileKind {
    /// `*.dsc.resource.{json,yaml,yml}`: one manifest.
    Single(Format),
    /// `*.dsc.manifests.{json,yaml,yml}`: `{"resources": [...]}`.
    List(Format),
}

/// Classifies a file name by its suffix (case-insensitively); `None` when it is not a manifest.
pub fn manifest_file_kind(file_name: &str) -> Option<ManifestFileKind> {
    const SUFFIXES: [(&str, ManifestFileKind); 6] = [
        (".dsc.resource.json", ManifestFileKind::Single(Format::Json)),
        (".dsc.resource.yaml", ManifestFileKind::Single(Format::Yaml)),
        (".dsc.resource.yml", ManifestFileKind::Single(Format::Yaml)),
        (".dsc.manifests.json", ManifestFileKind::List(Format::Json)),
        (".dsc.manifests.yaml", ManifestFileKind::List(Format::Yaml)),
        (".dsc.manifests.yml", ManifestFileKind::List(Format::Yaml)),
    ];
    let names = SUFFIXES.map(|(suffix, _)| suffix);
    let found = text::suffix_ci(file_name, &names)?;
    SUFFIXES.iter().find(|(s, _)| *s == found).map(|(_, k)| *k)
}

/// The JSON Schema of a resource manifest (draft 2020-12), as `traek schema resource-manifest`
/// prints it.
pub fn manifest_json_schema() -> Value {
    schemars::schema_for!(ResourceManifest).to_value()
}

/// A manifest that loaded, with the warnings its loading produced.
#[derive(Debug, Clone)]
pub struct LoadedManifest {
    pub manifest: ResourceManifest,
    pub version: ResourceVersion,
    /// Things worth telling the user that did not stop the manifest from loading.
    pub warnings: Vec<String>,
}

/// What a manifest file holds: resource manifests, and (in a manifest list) adapted resource
/// descriptions, which are resolved once their adapters are known.
#[derive(Debug, Clone, Default)]
pub struct ParsedFile {
    pub manifests: Vec<LoadedManifest>,
    /// The `adaptedResources` of a manifest list, as written.
    pub adapted: Vec<Value>,
    /// Things about the file itself worth telling the user.
    pub warnings: Vec<String>,
}

/// Parses and validates manifests.
///
/// Validation has two gates that accept exactly the same manifests: the typed serde model
/// (which ignores members it does not know; [`unknown`] turns them into warnings) plus the checks
/// a type system cannot express (the type-name pattern, the version), and the JSON Schema derived
/// from that same model. The fast typed gate runs on every manifest; the schema validator,
/// compiled once per loader on first need, runs only when the typed gate rejects a manifest, so
/// that the error names the JSON Pointer of the offending value (generating and compiling the
/// manifest schema is work `traek resource get` need not do on every run). The test
/// `typed_model_and_schema_accept_the_same_manifests` and the `manifest` fuzz target keep the two
/// gates in agreement.
pub struct ManifestLoader {
    validator: OnceLock<jsonschema::Validator>,
}

impl std::fmt::Debug for ManifestLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManifestLoader").finish_non_exhaustive()
    }
}

impl Default for ManifestLoader {
    fn default() -> Self {
        Self::new()
    }
}

impl ManifestLoader {
    pub fn new() -> Self {
        ManifestLoader {
            validator: OnceLock::new(),
        }
    }

    /// The compiled manifest schema.
    pub fn validator(&self) -> &jsonschema::Validator {
        self.validator.get_or_init(|| {
            // The schema is generated from our own types; failing to compile it is a bug in
            // traek, never a consequence of outside input.
            jsonschema::validator_for(&manifest_json_schema())
                .unwrap_or_else(|e| panic!("traek bug: manifest schema does not compile: {e}"))
        })
    }

    /// The first schema violation of a manifest value, as `at /pointer: reason`.
    pub fn schema_error(&self, value: &Value) -> Option<String> {
        self.validator().iter_errors(value).next().map(|err| {
            let path = err.instance_path().to_string();
            let at = if path.is_empty() {
                "/".to_string()
            } else {
                path
            };
            format!("does not match the manifest schema at {at}: {err}")
        })
    }

    /// Parses the bytes of a manifest file of the given kind: its resource manifests. The error
    /// string is the reason (the caller names the file).
    pub fn parse(
        &self,
        bytes: &[u8],
        kind: ManifestFileKind,
    ) -> Result<Vec<LoadedManifest>, String> {
        self.parse_file(bytes, kind).map(|f| f.manifests)
    }

    /// Parses the bytes of a manifest file of the given kind, adapted resources of a manifest
    /// list included.
    pub fn parse_file(&self, bytes: &[u8], kind: ManifestFileKind) -> Result<ParsedFile, String> {
        let text = text::decode_utf8(bytes).map_err(|e| e.message)?;
        let format = match kind {
            ManifestFileKind::Single(f) | ManifestFileKind::List(f) => f,
        };
        if let (ManifestFileKind::Single(Format::Json), Some(loaded)) =
            (kind, self.check_json(text::strip_bom(text)))
        {
            return Ok(ParsedFile {
                manifests: vec![loaded?],
                ..ParsedFile::default()
            });
        }
        let value = match format {
            Format::Json => text::parse_json(text),
            Format::Yaml => text::parse_yaml(text),
        }
        .map_err(|e| e.message)?;
        match kind {
            ManifestFileKind::Single(_) => Ok(ParsedFile {
                manifests: vec![self.check(&value)?],
                ..ParsedFile::default()
            }),
            ManifestFileKind::List(_) => self.parse_list(&value),
        }
    }

    /// A manifest list: `{"resources": [...], "adaptedResources": [...], "extensions": [...]}`,
    /// each member optional.
    fn parse_list(&self, value: &Value) -> Result<ParsedFile, String> {
        const MEMBERS: [&str; 4] = ["resources", "adaptedResources", "extensions", "$schema"];
        let Value::Object(map) = value else {
            return Err(format!(
                "a manifest list must be an object with a 'resources' array, not {}",
                text::type_name(value)
            ));
        };
        if let Some(unknown) = map.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
            return Err(format!(
                "unknown field '{unknown}' (expected 'resources', 'adaptedResources' or 'extensions')"
            ));
        }
        let array = |name: &str| match map.get(name) {
            None => Ok(&[][..]),
            Some(Value::Array(items)) => Ok(items.as_slice()),
            Some(other) => Err(format!(
                "'{name}' must be an array, not {}",
                text::type_name(other)
            )),
        };
        let manifests = array("resources")?
            .iter()
            .enumerate()
            .map(|(i, item)| self.check(item).map_err(|e| format!("resources[{i}]: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let adapted = array("adaptedResources")?.to_vec();
        let mut warnings = Vec::new();
        if !array("extensions")?.is_empty() {
            warnings.push(
                "its 'extensions' are not loaded: traek loads extensions from *.dsc.extension.json files"
                    .to_string(),
            );
        }
        Ok(ParsedFile {
            manifests,
            adapted,
            warnings,
        })
    }

    /// Validates one manifest value and builds the typed model.
    pub fn check(&self, value: &Value) -> Result<LoadedManifest, String> {
        let (manifest, unknown) = match unknown::deserialize(value) {
            Ok((m, unknown)) if is_valid_type_name(&m.type_name) => (m, unknown),
            Ok((m, _)) => {
                return Err(self.schema_error(value).unwrap_or_else(|| {
                    format!(
                        "type '{}' is not of the form <owner>[.<group>][.<area>]/<name>",
                        m.type_name
                    )
                }));
            }
            Err(e) => return Err(self.schema_error(value).unwrap_or_else(|| e.to_string())),
        };
        self.finish(manifest, unknown)
    }

    /// A single JSON manifest read straight from its text, the common case. `None` when it
    /// does not read cleanly: [`Self::check`] of the parsed value then says why.
    fn check_json(&self, text: &str) -> Option<Result<LoadedManifest, String>> {
        match unknown::deserialize_json(text) {
            Ok((m, unknown)) if is_valid_type_name(&m.type_name) => Some(self.finish(m, unknown)),
            _ => None,
        }
    }

    /// The checks after the model was read: the version, warnings for unknown members and date
    /// versions, and `whatIfArg`s where they mean something.
    fn finish(
        &self,
        manifest: ResourceManifest,
        unknown: Vec<String>,
    ) -> Result<LoadedManifest, String> {
        let version = ResourceVersion::parse(&manifest.version).map_err(|e| e.to_string())?;
        let mut warnings: Vec<String> = unknown
            .into_iter()
            .map(|p| {
                format!(
                    "resource '{}': manifest member '{p}' is not known to traek and is ignored",
                    manifest.type_name
                )
            })
            .collect();
        if let ResourceVersion::Date(d) = &version {
            warnings.push(format!(
                "resource '{}' uses the date version '{d}'; use a semantic version (like 1.0.0)",
                manifest.type_name
            ));
        }
        check_what_if_args(&manifest)?;
        Ok(LoadedManifest {
            manifest,
            version,
            warnings,
        })
    }
}

/// Whether a type name matches [`TYPE_PATTERN`]: one to three dot-separated segments, a slash,
/// a name; every segment of ASCII letters, digits and `_` (JSON Schema's `\w`).
pub fn is_valid_type_name(name: &str) -> bool {
    let segment =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let Some((namespace, leaf)) = name.split_once('/') else {
        return false;
    };
    let parts: Vec<&str> = namespace.split('.').collect();
    parts.len() <= 3 && parts.iter().all(|p| segment(p)) && segment(leaf)
}

/// `whatIfArg` means something only to set, whatIf and delete.
fn check_what_if_args(m: &ResourceManifest) -> Result<(), String> {
    let has = |args: &Option<Vec<Arg>>| args.iter().flatten().any(|a| matches!(a, Arg::WhatIf(_)));
    let offenders = [
        ("get", m.get.as_ref().map(|x| &x.args)),
        ("test", m.test.as_ref().map(|x| &x.args)),
        ("export", m.export.as_ref().map(|x| &x.args)),
        ("validate", m.validate.as_ref().map(|x| &x.args)),
        ("resolve", m.resolve.as_ref().map(|x| &x.args)),
    ];
    for (name, args) in offenders {
        if args.is_some_and(has) {
            return Err(format!(
                "'whatIfArg' is only allowed in set and delete, not in {name}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
