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
mod tests {
    use super::*;
    use serde_json::json;

    const MINIMAL: &str = r#"{"$schema":"https://aka.ms/dsc/schemas/v3/bundled/resource/manifest.json","type":"Test/Echo","version":"1.0.0","get":{"executable":"echo.sh","input":"stdin"}}"#;

    fn single_json() -> ManifestFileKind {
        ManifestFileKind::Single(Format::Json)
    }

    #[test]
    fn suffixes_are_matched_case_insensitively() {
        assert_eq!(
            manifest_file_kind("a.DSC.Resource.JSON"),
            Some(single_json())
        );
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
    fn unknown_members_load_with_a_warning_naming_each() {
        let loader = ManifestLoader::new();
        let text = MINIMAL
            .replace("\"version\"", "\"bogusField\":1,\"version\"")
            .replace(
                "\"input\"",
                "\"futureFlag\":true,\"args\":[{\"jsonInputArg\":\"-i\",\"later\":1}],\"input\"",
            );
        let m = loader.parse(text.as_bytes(), single_json()).unwrap();
        let w = m[0].warnings.join("\n");
        assert!(w.contains("'/bogusField'"), "{w}");
        assert!(w.contains("'/get/futureFlag'"), "{w}");
        assert!(w.contains("'/get/args/0/later'"), "{w}");
        assert_eq!(m[0].warnings.len(), 3, "{w}");
        assert!(
            loader.parse(MINIMAL.as_bytes(), single_json()).unwrap()[0]
                .warnings
                .is_empty()
        );
    }

    #[test]
    fn a_known_member_of_the_wrong_type_is_still_an_error() {
        let loader = ManifestLoader::new();
        let text = MINIMAL.replace(
            "\"input\":\"stdin\"",
            "\"input\":\"stdin\",\"requireSecurityContext\":\"root\"",
        );
        let err = loader.parse(text.as_bytes(), single_json()).unwrap_err();
        assert!(err.contains("requireSecurityContext"), "{err}");
    }

    #[test]
    fn members_of_dsc_3_4_manifests_load_without_warnings() {
        let loader = ManifestLoader::new();
        let text = r#"{"$schema":"x","type":"Test/Adapter","version":"1.0.0","kind":"adapter",
            "get":{"executable":"a","args":["get",{"resourceTypeArg":"-r"},{"adaptedContentArg":"--content"},{"jsonInputArg":"-i","mandatory":true}],"requireSecurityContext":"elevated"},
            "set":{"executable":"a","input":"stdin","requireSecurityContext":"current","return":"state"},
            "export":{"executable":"a","return":"state","requireSecurityContext":"restricted"},
            "resolve":{"executable":"a"},"validate":{"executable":"a"},
            "adapter":{"inputKind":"single"}}"#;
        let m = loader.parse(text.as_bytes(), single_json()).unwrap();
        assert!(m[0].warnings.is_empty(), "{:?}", m[0].warnings);
        let a = m[0].manifest.adapter.as_ref().unwrap();
        assert!(a.list.is_none());
        assert_eq!(a.effective_input_kind(), AdapterInputKind::Single);
        assert_eq!(
            m[0].manifest.get.as_ref().unwrap().require_security_context,
            Some(RequiredSecurityContext::Elevated)
        );
        for kind in ["full", "sequence", "single"] {
            let t = text.replace("\"single\"", &format!("\"{kind}\""));
            assert!(loader.parse(t.as_bytes(), single_json()).is_ok(), "{kind}");
        }
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
        for schema in [
            "schema:\n  embedded:\n    type: object\n",
            "schema: !embedded\n  type: object\n",
        ] {
            let text = format!("{base}{schema}");
            let m = loader
                .parse(text.as_bytes(), ManifestFileKind::Single(Format::Yaml))
                .unwrap();
            let Some(SchemaSource::Embedded(schema)) = &m[0].manifest.schema else {
                panic!("no embedded schema in {text}");
            };
            assert_eq!(schema.to_value().unwrap(), json!({"type": "object"}));
        }
    }

    #[test]
    fn an_embedded_schema_reads_the_same_from_json_yaml_and_a_manifest_list() {
        let loader = ManifestLoader::new();
        let schema = json!({"type": "object", "properties": {"b": {"type": "string"}, "a": {"type": "integer", "unknownKeyword": null}}});
        let mut one: Value = serde_json::from_str(MINIMAL).unwrap();
        one["schema"] = json!({"embedded": schema});
        let json_text = serde_json::to_string_pretty(&one).unwrap();
        let yaml_text = serde_norway::to_string(&one).unwrap();
        let list_text = json!({"resources": [one]}).to_string();
        let read = |text: &str, kind| {
            let m = loader.parse(text.as_bytes(), kind).unwrap().remove(0);
            assert!(m.warnings.is_empty(), "{:?}", m.warnings);
            match m.manifest.schema {
                Some(SchemaSource::Embedded(s)) => s,
                other => panic!("{other:?}"),
            }
        };
        let from_json = read(&json_text, single_json());
        let from_yaml = read(&yaml_text, ManifestFileKind::Single(Format::Yaml));
        let from_list = read(&list_text, ManifestFileKind::List(Format::Json));
        for s in [&from_json, &from_yaml, &from_list] {
            // Members keep their order; nothing inside a schema is an unknown manifest member.
            assert_eq!(s.to_value().unwrap(), schema);
            let keys: Vec<String> = s.to_value().unwrap()["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            assert_eq!(keys, ["b", "a"]);
        }
        assert_eq!(from_json, from_yaml, "equal whatever the spacing");
        let printed = serde_json::to_value(&from_json).unwrap();
        assert_eq!(printed, schema, "written back as the schema itself");
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

    /// The typed gate and the JSON Schema gate must agree, manifest by manifest.
    #[test]
    fn a_manifest_list_holds_resources_and_adapted_resources() {
        let loader = ManifestLoader::new();
        let list = format!(
            r#"{{"resources": [{MINIMAL}], "adaptedResources": [{{"type": "A/B", "version": "1.0.0", "requireAdapter": "X/Y"}}], "extensions": [{{"type": "E/F"}}]}}"#
        );
        let kind = ManifestFileKind::List(Format::Json);
        let parsed = loader.parse_file(list.as_bytes(), kind).unwrap();
        assert_eq!(parsed.manifests.len(), 1);
        assert_eq!(parsed.adapted.len(), 1);
        assert!(
            parsed.warnings[0].contains("extensions"),
            "{:?}",
            parsed.warnings
        );
        // Only adapted resources is a list too.
        let only = br#"{"adaptedResources": []}"#;
        assert!(loader.parse_file(only, kind).unwrap().manifests.is_empty());
        for (bad, why) in [
            (&br#"{"resources": {}}"#[..], "must be an array"),
            (br#"{"resourcez": []}"#, "unknown field 'resourcez'"),
            (br#"[]"#, "must be an object"),
        ] {
            let e = loader.parse_file(bad, kind).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn typed_model_and_schema_accept_the_same_manifests() {
        let loader = ManifestLoader::new();
        let base: Value = serde_json::from_str(MINIMAL).unwrap();
        let variants: Vec<(&str, Value)> = vec![
            ("/type", json!("A/b")),
            ("/type", json!("A.B.C/d")),
            ("/type", json!("A.B.C.D/e")),
            ("/type", json!("A/")),
            ("/type", json!("/x")),
            ("/type", json!("A/b/c")),
            ("/type", json!("A-b/c")),
            ("/type", json!("Ä/b")),
            ("/type", json!(5)),
            ("/version", json!(1)),
            ("/kind", json!("group")),
            ("/kind", json!("nonsense")),
            ("/get/input", json!("env")),
            ("/get/input", json!("args")),
            (
                "/get/args",
                json!(["a", {"jsonInputArg": "-i", "mandatory": true}]),
            ),
            ("/get/args", json!([{"jsonInputArg": "-i", "extra": 1}])),
            (
                "/get/args",
                json!([{"resourcePathArg": "-p", "includeQuotes": true}]),
            ),
            ("/get/args", json!([3])),
            ("/get/bogus", json!(1)),
            (
                "/set",
                json!({"executable": "x", "return": "stateAndDiff", "handlesExist": true}),
            ),
            ("/set", json!({"executable": "x", "return": "diff"})),
            ("/test", json!({"executable": "x", "return": "state"})),
            (
                "/export",
                json!({"executable": "x", "supportsFiltering": true, "schema": {}}),
            ),
            ("/exitCodes", json!({"0": "ok", "-5": "bad"})),
            ("/exitCodes", json!({"x": "bad"})),
            ("/exitCodes", json!({"1": 1})),
            ("/schema", json!({"embedded": {"type": "object"}})),
            (
                "/schema",
                json!({"command": {"executable": "x", "args": ["a"]}}),
            ),
            (
                "/schema",
                json!({"command": {"executable": "x"}, "embedded": {}}),
            ),
            ("/schema", json!({"other": {}})),
            (
                "/adapter",
                json!({"list": {"executable": "x"}, "config": "full"}),
            ),
            (
                "/adapter",
                json!({"list": {"executable": "x"}, "config": "partial"}),
            ),
            ("/tags", json!(["a", 1])),
            ("/metadata", json!({"any": ["thing"]})),
            ("/metadata", json!("text")),
            ("/deprecationMessage", json!("old")),
            ("/condition", json!(true)),
        ];
        for (pointer, value) in variants {
            let mut m = base.clone();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            let target = if parent.is_empty() {
                &mut m
            } else {
                m.pointer_mut(parent).unwrap()
            };
            target[key] = value.clone();
            let typed =
                unknown::deserialize(&m).is_ok_and(|(t, _)| is_valid_type_name(&t.type_name));
            let from_text = unknown::deserialize_json(&m.to_string())
                .is_ok_and(|(t, _)| is_valid_type_name(&t.type_name));
            assert_eq!(
                typed, from_text,
                "value and text disagree on {pointer} = {value}"
            );
            let schema = loader.validator().is_valid(&m);
            assert_eq!(typed, schema, "gates disagree on {pointer} = {value}");
        }
    }

    #[test]
    fn exit_code_keys_must_be_integers() {
        let loader = ManifestLoader::new();
        let ok = MINIMAL.replace(
            "\"get\"",
            "\"exitCodes\":{\"0\":\"ok\",\"-1\":\"bad\"},\"get\"",
        );
        assert!(loader.parse(ok.as_bytes(), single_json()).is_ok());
        let bad = MINIMAL.replace("\"get\"", "\"exitCodes\":{\"one\":\"x\"},\"get\"");
        assert!(loader.parse(bad.as_bytes(), single_json()).is_err());
    }
}
