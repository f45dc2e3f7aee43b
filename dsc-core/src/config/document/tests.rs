use super::*;
use serde_json::json;

use crate::expr::Isolated;

const DOC: &str = r#"
$schema: https://aka.ms/dsc/schemas/v3/bundled/config/document.json
parameters:
  name: {type: string, defaultValue: web, allowedValues: [web, db]}
  port: {type: int, defaultValue: 80, minValue: 1, maxValue: 65535}
  tag: {type: string, minLength: 2, maxLength: 4}
  secret: {type: secureString, defaultValue: hunter2}
  upper: {type: string, defaultValue: "[toUpper('x')]"}
resources:
  - {type: Test/A, name: a}
  - {type: Test/B, name: b, dependsOn: ["[resourceId('Test/A', 'a')]"], apiVersion: "^1"}
"#;

#[test]
fn documents_parse_from_yaml_and_json_and_refuse_unknown_fields() {
    let d = parse_document(DOC).unwrap();
    assert_eq!(d.resources.len(), 2);
    assert_eq!(d.resources[1].require_version.as_deref(), Some("^1"));
    let json =
        r#"{"$schema": "x", "resources": [{"type": "T/x", "name": "n", "properties": {"a": 1}}]}"#;
    assert_eq!(
        parse_document(json).unwrap().resources[0]
            .properties
            .as_ref()
            .unwrap()["a"],
        1
    );
    let err = parse_document(r#"{"$schema": "x", "resources": [], "bogus": 1}"#).unwrap_err();
    assert!(err.to_string().contains("bogus"), "{err}");
    let err = parse_document(
        r#"{"$schema": "x", "resources": [{"type": "T/x", "name": "n", "extra": 1}]}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("extra"), "{err}");
    assert!(matches!(
        parse_document("{\"a\": "),
        Err(DocumentError::Syntax(_))
    ));
}

#[test]
fn duplicate_names_of_one_type_are_refused() {
    let err = parse_document(r#"{"$schema": "x", "resources": [{"type": "T/x", "name": "n"}, {"type": "t/X", "name": "n"}]}"#).unwrap_err();
    assert!(err.to_string().contains("'n'"), "{err}");
    assert!(parse_document(r#"{"$schema": "x", "resources": [{"type": "T/x", "name": "n"}, {"type": "T/y", "name": "n"}]}"#).is_ok());
}

#[test]
fn parameters_resolve_with_defaults_and_constraints() {
    let d = parse_document(DOC).unwrap();
    let p = resolve_parameters(
        &d,
        &json!({"tag": "ab"}).as_object().unwrap().clone(),
        &Isolated,
    )
    .unwrap();
    assert_eq!(p["name"], "web");
    assert_eq!(p["port"], 80);
    assert_eq!(p["upper"], "X");
    let bad = |supplied: Value, fragment: &str| {
        let e = resolve_parameters(&d, supplied.as_object().unwrap(), &Isolated).unwrap_err();
        assert!(matches!(e, DocumentError::Parameter(_)));
        assert!(e.to_string().contains(fragment), "{e} lacks {fragment}");
    };
    bad(json!({}), "parameter 'tag' has no value");
    bad(json!({"tag": "a"}), "length 1 is less than minLength 2");
    bad(json!({"tag": "abcde"}), "greater than maxLength 4");
    bad(json!({"tag": "ab", "port": 0}), "less than minValue 1");
    bad(
        json!({"tag": "ab", "port": 70000}),
        "greater than maxValue 65535",
    );
    bad(
        json!({"tag": "ab", "port": "80"}),
        "expected a value of type Int",
    );
    bad(
        json!({"tag": "ab", "name": "mail"}),
        "not one of the allowed values",
    );
    bad(
        json!({"tag": "ab", "nope": 1}),
        "parameter 'nope' is not defined",
    );
    bad(json!({"tag": "ab", "secret": 5}), "parameter 'secret'");
}

#[test]
fn secure_values_are_not_echoed_in_constraint_errors() {
    let d = parse_document(r#"{"$schema": "x", "parameters": {"pw": {"type": "secureString", "allowedValues": ["a"]}}, "resources": []}"#).unwrap();
    let e = resolve_parameters(
        &d,
        json!({"pw": "topsecret"}).as_object().unwrap(),
        &Isolated,
    )
    .unwrap_err();
    assert!(!e.to_string().contains("topsecret"), "{e}");
}

#[test]
fn parameters_input_has_the_documented_shape() {
    assert_eq!(
        parse_parameters_input(r#"{"parameters": {"a": 1}}"#).unwrap()["a"],
        1
    );
    assert_eq!(
        parse_parameters_input("parameters:\n  a: x\n").unwrap()["a"],
        "x"
    );
    assert!(parse_parameters_input(r#"{"a": 1}"#).is_err());
    assert!(matches!(
        parse_parameters_input("{"),
        Err(DocumentError::Syntax(_))
    ));
}

fn entries(names: &[&str]) -> Vec<ResourceEntry> {
    names
        .iter()
        .map(|n| ResourceEntry {
            type_name: "T/x".into(),
            name: n.to_string(),
            properties: None,
            depends_on: None,
            condition: None,
            require_version: None,
            metadata: None,
            copy: None,
            directives: None,
        })
        .collect()
}

#[test]
fn run_order_is_topological_and_keeps_document_order() {
    let r = entries(&["a", "b", "c", "d"]);
    let ids = vec![
        vec!["T/x:c".to_string()],
        vec![],
        vec![],
        vec!["t/X:a".to_string()],
    ];
    assert_eq!(run_order(&r, &ids).unwrap(), vec![1, 2, 0, 3]);
    assert_eq!(run_order(&r, &vec![vec![]; 4]).unwrap(), vec![0, 1, 2, 3]);
}

#[test]
fn cycles_and_missing_dependencies_name_the_resources() {
    let r = entries(&["a", "b", "c"]);
    let e = run_order(&r, &[vec!["T/x:b".into()], vec!["T/x:a".into()], vec![]]).unwrap_err();
    assert!(e.to_string().contains("cycle among 'a', 'b'"), "{e}");
    let e = run_order(&r, &[vec![], vec!["T/x:zz".into()], vec![]]).unwrap_err();
    assert!(e.to_string().contains("'b' depends on 'T/x:zz'"), "{e}");
    let e = run_order(&r, &[vec!["T/x:a".into()], vec![], vec![]]).unwrap_err();
    assert!(e.to_string().contains("depends on itself"), "{e}");
}

#[test]
fn the_document_schema_is_draft_2020_12() {
    let s = document_json_schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert!(s["properties"]["resources"].is_object());
}
