//! Resource manifests: file naming, parsing (JSON and YAML), schema validation and the typed
//! model.
//!
//! Loading a manifest is: decode UTF-8 (BOM allowed) → parse JSON or YAML into a JSON value →
//! validate against the manifest's own JSON Schema (derived from [`ResourceManifest`] with
//! schemars, compiled once per [`ManifestLoader`]) → deserialize into the typed model → check
//! what a schema cannot say (the version).

mod model;
mod version;

pub use model::*;
pub use version::{BadVersion, ResourceVersion, VersionReq};

use crate::text::{self, Format};
use serde::Deserialize;
use serde_json::Value;

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
    let bytes = file_name.as_bytes();
    SUFFIXES.iter().find_map(|(suffix, kind)| {
        let n = suffix.len();
        (bytes.len() > n && bytes[bytes.len() - n..].eq_ignore_ascii_case(suffix.as_bytes()))
            .then_some(*kind)
    })
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

/// Parses and validates manifests. Holds the compiled manifest schema: build one and reuse it.
pub struct ManifestLoader {
    validator: jsonschema::Validator,
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
    /// Compiles the manifest schema.
    pub fn new() -> Self {
        let schema = manifest_json_schema();
        // The schema is generated from our own types; failing to compile it is a bug in
        // traek, never a consequence of outside input.
        let validator = jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("traek bug: manifest schema does not compile: {e}"));
        ManifestLoader { validator }
    }

    /// Parses the bytes of a manifest file of the given kind. The error string is the reason
    /// (the caller names the file).
    pub fn parse(&self, bytes: &[u8], kind: ManifestFileKind) -> Result<Vec<LoadedManifest>, String> {
        let text = text::decode_utf8(bytes).map_err(|e| e.message)?;
        let format = match kind {
            ManifestFileKind::Single(f) | ManifestFileKind::List(f) => f,
        };
        let value = match format {
            Format::Json => text::parse_json(text),
            Format::Yaml => text::parse_yaml(text),
        }
        .map_err(|e| e.message)?;
        match kind {
            ManifestFileKind::Single(_) => Ok(vec![self.check(&value)?]),
            ManifestFileKind::List(_) => {
                let Value::Object(map) = &value else {
                    return Err(format!(
                        "a manifest list must be an object with a 'resources' array, not {}",
                        text::type_name(&value)
                    ));
                };
                if let Some(unknown) = map.keys().find(|k| *k != "resources" && *k != "$schema") {
                    return Err(format!("unknown field '{unknown}' (expected 'resources')"));
                }
                let Some(Value::Array(items)) = map.get("resources") else {
                    return Err("a manifest list needs a 'resources' array".to_string());
                };
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.check(item).map_err(|e| format!("resources[{i}]: {e}")))
                    .collect()
            }
        }
    }

    /// Validates one manifest value and builds the typed model.
    pub fn check(&self, value: &Value) -> Result<LoadedManifest, String> {
        if let Value::Object(map) = value {
            let known = known_top_level_fields();
            if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
                return Err(format!("unknown field '{unknown}'"));
            }
        }
        if let Some(err) = self.validator.iter_errors(value).next() {
            let path = err.instance_path().to_string();
            let at = if path.is_empty() { "/".to_string() } else { path };
            return Err(format!("does not match the manifest schema at {at}: {err}"));
        }
        let manifest = ResourceManifest::deserialize(value).map_err(|e| e.to_string())?;
        let version = ResourceVersion::parse(&manifest.version).map_err(|e| e.to_string())?;
        let mut warnings = Vec::new();
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

fn known_top_level_fields() -> &'static [&'static str] {
    &[
        "$schema",
        "type",
        "version",
        "kind",
        "description",
        "tags",
        "condition",
        "deprecationMessage",
        "metadata",
        "get",
        "set",
        "whatIf",
        "test",
        "delete",
        "export",
        "validate",
        "resolve",
        "adapter",
        "exitCodes",
        "schema",
    ]
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
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"$schema":"https://aka.ms/dsc/schemas/v3/bundled/resource/manifest.json","type":"Test/Echo","version":"1.0.0","get":{"executable":"echo.sh","input":"stdin"}}"#;

    fn single_json() -> ManifestFileKind {
        ManifestFileKind::Single(Format::Json)
    }

    #[test]
    fn suffixes_are_matched_case_insensitively() {
        assert_eq!(manifest_file_kind("a.DSC.Resource.JSON"), Some(single_json()));
        assert_eq!(
            manifest_file_kind("x.dsc.manifests.yml"),
            Some(ManifestFileKind::List(Format::Yaml))
        );
        assert_eq!(manifest_file_kind("x.dsc.resource.txt"), None);
        assert_eq!(manifest_file_kind(".dsc.resource.json"), None);
    }

    #[test]
    fn minimal_manifest_loads_with_resource_kind() {
        let loader = ManifestLoader::new();
        let m = loader.parse(MINIMAL.as_bytes(), single_json()).unwrap();
        assert_eq!(m[0].manifest.effective_kind(), Kind::Resource);
        assert_eq!(m[0].manifest.capabilities(), vec!["get"]);
    }

    #[test]
    fn unknown_top_level_field_is_named() {
        let loader = ManifestLoader::new();
        let text = MINIMAL.replace("\"version\"", "\"bogusField\":1,\"version\"");
        let err = loader.parse(text.as_bytes(), single_json()).unwrap_err();
        assert!(err.contains("bogusField"), "{err}");
    }

    #[test]
    fn bad_type_name_is_rejected_by_schema() {
        let loader = ManifestLoader::new();
        let text = MINIMAL.replace("Test/Echo", "no slash here");
        let err = loader.parse(text.as_bytes(), single_json()).unwrap_err();
        assert!(err.contains("/type"), "{err}");
    }

    #[test]
    fn yaml_embedded_schema_loads_in_both_spellings() {
        let loader = ManifestLoader::new();
        let base = "$schema: x\ntype: Test/Y\nversion: 1.0.0\nget:\n  executable: y\n";
        for schema in ["schema:\n  embedded:\n    type: object\n", "schema: !embedded\n  type: object\n"] {
            let text = format!("{base}{schema}");
            let m = loader
                .parse(text.as_bytes(), ManifestFileKind::Single(Format::Yaml))
                .unwrap();
            assert!(matches!(m[0].manifest.schema, Some(SchemaSource::Embedded(_))));
        }
    }

    #[test]
    fn adapter_section_makes_kind_adapter() {
        let loader = ManifestLoader::new();
        let text = MINIMAL.replace(
            "\"get\"",
            "\"adapter\":{\"list\":{\"executable\":\"l\"},\"config\":\"full\"},\"get\"",
        );
        let m = loader.parse(text.as_bytes(), single_json()).unwrap();
        assert_eq!(m[0].manifest.effective_kind(), Kind::Adapter);
    }

    #[test]
    fn date_version_loads_with_a_warning() {
        let loader = ManifestLoader::new();
        let text = MINIMAL.replace("1.0.0", "2023-04-05");
        let m = loader.parse(text.as_bytes(), single_json()).unwrap();
        assert_eq!(m[0].warnings.len(), 1);
    }

    #[test]
    fn what_if_arg_outside_set_and_delete_is_rejected() {
        let loader = ManifestLoader::new();
        let text = MINIMAL.replace("\"input\"", "\"args\":[{\"whatIfArg\":\"-w\"}],\"input\"");
        assert!(loader.parse(text.as_bytes(), single_json()).is_err());
    }

    #[test]
    fn exit_code_keys_must_be_integers() {
        let loader = ManifestLoader::new();
        let ok = MINIMAL.replace("\"get\"", "\"exitCodes\":{\"0\":\"ok\",\"-1\":\"bad\"},\"get\"");
        assert!(loader.parse(ok.as_bytes(), single_json()).is_ok());
        let bad = MINIMAL.replace("\"get\"", "\"exitCodes\":{\"one\":\"x\"},\"get\"");
        assert!(loader.parse(bad.as_bytes(), single_json()).is_err());
    }
}
