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
        let typed = unknown::deserialize(&m).is_ok_and(|(t, _)| is_valid_type_name(&t.type_name));
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
