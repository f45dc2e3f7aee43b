//! End-to-end tests of `traek config ...` over the script resources in tests/fixtures.

use serde_json::json;
use std::path::PathBuf;

mod support;
use support::Sandbox;

const TWO_FILES: &str = r#"
$schema: https://aka.ms/dsc/schemas/v3/bundled/config/document.json
parameters:
  content: {type: string, defaultValue: hello}
resources:
  - name: first
    type: Test/File
    properties: {name: one, content: "[parameters('content')]"}
  - name: second
    type: Test/File
    properties: {name: two, content: "[concat(reference(resourceId('Test/File', 'first')).content, '!')]"}
    dependsOn: ["[resourceId('Test/File', 'first')]"]
"#;

#[test]
fn config_get_returns_dsc_shaped_results_in_dependency_order() {
    let s = Sandbox::new("resources");
    s.write_state("one", json!({"name": "one", "content": "stored"}));
    let doc = s.write("c.dsc.yaml", TWO_FILES);
    let r = s.run(&["config", "get", "-f", doc.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["metadata"]["Microsoft.DSC"]["operation"], "get");
    assert_eq!(v["metadata"]["Microsoft.DSC"]["executionType"], "actual");
    assert!(
        v["metadata"]["Microsoft.DSC"]["duration"]
            .as_str()
            .unwrap()
            .starts_with("PT")
    );
    assert_eq!(v["hadErrors"], false);
    assert_eq!(v["results"][0]["name"], "first");
    assert_eq!(v["results"][0]["type"], "Test/File");
    assert_eq!(
        v["results"][0]["result"]["actualState"]["content"],
        "stored"
    );
    assert_eq!(v["results"][1]["result"]["actualState"]["_exist"], false);
}

#[test]
fn config_test_then_set_then_test_again_converges() {
    let s = Sandbox::new("resources");
    let doc = s.write("c.dsc.yaml", TWO_FILES);
    let f = doc.to_str().unwrap();
    let t = s.run(&["config", "test", "-f", f]).json();
    assert_eq!(t["results"][0]["result"]["inDesiredState"], false);
    assert_eq!(
        t["results"][0]["result"]["differingProperties"],
        json!(["content", "_exist"])
    );
    // what-if changes nothing, whichever way it is spelled
    for flag in ["-w", "--what-if", "--dry-run", "--noop"] {
        let w = s.run(&["config", "set", flag, "-f", f]);
        assert_eq!(w.code, 0, "{}", w.stderr);
        assert_eq!(
            w.json()["metadata"]["Microsoft.DSC"]["executionType"],
            "whatIf"
        );
        assert!(!s.state.path().join("one.json").exists());
    }
    let set = s.run(&["config", "set", "-f", f]);
    assert_eq!(set.code, 0, "{}", set.stderr);
    let v = set.json();
    assert_eq!(v["results"][0]["result"]["afterState"]["content"], "hello");
    assert_eq!(
        v["results"][1]["result"]["afterState"]["content"], "hello!",
        "reference() saw the first resource's result"
    );
    let t = s.run(&["config", "test", "-f", f]).json();
    assert_eq!(t["results"][0]["result"]["inDesiredState"], true);
    assert_eq!(t["results"][1]["result"]["inDesiredState"], true);
}

#[test]
fn config_export_prints_a_configuration_document() {
    let s = Sandbox::new("resources");
    s.write_state("x", json!({"name": "x", "content": "1"}));
    let doc = s.write(
        "e.json",
        r#"{"$schema": "x", "resources": [{"type": "Test/File", "name": "all"}]}"#,
    );
    let r = s.run(&["config", "export", "-f", doc.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(
        v["$schema"],
        "https://aka.ms/dsc/schemas/v3/bundled/config/document.json"
    );
    assert_eq!(v["resources"][0]["name"], "file-x");
    assert_eq!(v["resources"][0]["properties"]["content"], "1");
}

#[test]
fn parameters_come_from_the_command_line_and_constraints_are_exit_code_4() {
    let s = Sandbox::new("resources");
    let doc = s.write("p.yaml", "$schema: x\nparameters:\n  n: {type: int, minValue: 1}\nresources:\n  - {name: e, type: Test/Env, properties: {n: \"[parameters('n')]\"}}\n");
    let f = doc.to_str().unwrap();
    let r = s.run(&[
        "config",
        "-p",
        r#"{"parameters": {"n": 5}}"#,
        "get",
        "-f",
        f,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["results"][0]["result"]["actualState"]["n"], "5");
    let pf = s.write("params.yaml", "parameters:\n  n: 7\n");
    let r = s.run(&[
        "config",
        "--parameters-file",
        pf.to_str().unwrap(),
        "get",
        "-f",
        f,
    ]);
    assert_eq!(r.json()["results"][0]["result"]["actualState"]["n"], "7");
    let r = s.run(&["config", "get", "-f", f]);
    assert_eq!(r.code, 4);
    assert!(
        r.stderr.contains("parameter 'n' has no value"),
        "{}",
        r.stderr
    );
    let r = s.run(&[
        "config",
        "-p",
        r#"{"parameters": {"n": 0}}"#,
        "get",
        "-f",
        f,
    ]);
    assert_eq!(r.code, 4);
    assert!(
        r.stderr.contains("parameter 'n'") && r.stderr.contains("minValue"),
        "{}",
        r.stderr
    );
}

#[test]
fn secure_values_never_appear_in_results_or_messages() {
    let s = Sandbox::new("resources");
    let doc = s.write(
        "s.yaml",
        "$schema: x\nparameters:\n  pw: {type: secureString}\nresources:\n  - {name: f, type: Test/File, properties: {name: sec, content: \"[parameters('pw')]\"}}\n  - {name: bad, type: Test/Fail, properties: {code: 5, note: \"[concat('pw is ', parameters('pw'))]\"}}\n",
    );
    let f = doc.to_str().unwrap();
    for op in ["test", "set", "get"] {
        let r = s.run(&[
            "-l",
            "trace",
            "config",
            "-p",
            r#"{"parameters": {"pw": "S3cr3t-value"}}"#,
            op,
            "-f",
            f,
        ]);
        assert!(
            !r.stdout.contains("S3cr3t-value"),
            "{op} stdout leaks: {}",
            r.stdout
        );
        assert!(
            !r.stderr.contains("S3cr3t-value"),
            "{op} stderr leaks: {}",
            r.stderr
        );
        assert!(r.stdout.contains("*****"), "{op}: {}", r.stdout);
    }
}

#[test]
fn a_failing_resource_skips_its_dependents_but_not_the_others() {
    let s = Sandbox::new("resources");
    let doc = s.write(
        "f.yaml",
        r#"$schema: x
resources:
  - {name: broken, type: Test/Fail, properties: {code: 3}}
  - {name: needs-broken, type: Test/Stdin, properties: {n: 1}, dependsOn: ["[resourceId('Test/Fail', 'broken')]"]}
  - {name: transitively, type: Test/Stdin, properties: {n: 2}, dependsOn: ["[resourceId('Test/Stdin', 'needs-broken')]"]}
  - {name: independent, type: Test/Stdin, properties: {n: 3}}
"#,
    );
    let r = s.run(&["config", "get", "-f", doc.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["hadErrors"], true);
    let by_name = |n: &str| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == n)
            .unwrap()
            .clone()
    };
    assert!(
        by_name("broken")["metadata"]["Microsoft.DSC"]["error"]
            .as_str()
            .unwrap()
            .contains("the widget is broken")
    );
    assert_eq!(
        by_name("needs-broken")["metadata"]["Microsoft.DSC"]["skipped"],
        true
    );
    assert!(
        by_name("transitively")["metadata"]["Microsoft.DSC"]["reason"]
            .as_str()
            .unwrap()
            .contains("'needs-broken'")
    );
    assert_eq!(by_name("independent")["result"]["actualState"]["n"], 3);
    let msgs = v["messages"].as_array().unwrap();
    assert!(
        msgs.iter().any(|m| m["name"] == "needs-broken"
            && m["message"]
                .as_str()
                .unwrap()
                .contains("skipped because 'broken'")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m["name"] == "broken" && m["level"] == "error"),
        "{msgs:?}"
    );
}

#[test]
fn conditions_skip_resources_and_messages_carry_resource_logs() {
    let s = Sandbox::new("resources");
    let doc = s.write(
        "c.yaml",
        "$schema: x\nparameters:\n  on: {type: bool, defaultValue: false}\nresources:\n  - {name: off, type: Test/Stdin, condition: \"[parameters('on')]\", properties: {n: 1}}\n  - {name: talk, type: Test/Messages}\n",
    );
    let r = s.run(&["config", "get", "-f", doc.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(
        v["results"][0]["metadata"]["Microsoft.DSC"]["skipped"],
        true
    );
    let msgs = v["messages"].as_array().unwrap();
    assert!(
        msgs.iter().any(|m| m["name"] == "talk"
            && m["type"] == "Test/Messages"
            && m["level"] == "warn"
            && m["message"] == "message at warn"),
        "{msgs:?}"
    );
}

#[test]
fn resources_see_the_documents_directory_as_dsc_config_root() {
    let s = Sandbox::new("resources");
    let doc = s.write(
        "root.yaml",
        "$schema: x\nresources:\n  - {name: e, type: Test/Env, properties: {s: x}}\n",
    );
    let r = s.run(&["config", "get", "-f", doc.to_str().unwrap()]);
    assert_eq!(
        PathBuf::from(
            r.json()["results"][0]["result"]["actualState"]["configRoot"]
                .as_str()
                .unwrap()
        ),
        s.docs.path()
    );
}

#[test]
fn broken_documents_get_specific_exit_codes() {
    let s = Sandbox::new("resources");
    let cases = [
        ("{\"$schema\": ", 3, "invalid JSON"),
        ("$schema: x\nresources: []\nbogus: 1\n", 4, "bogus"),
        (
            "$schema: x\nresources:\n  - {name: a, type: Test/Stdin, dependsOn: [\"[resourceId('Test/Stdin', 'b')]\"]}\n  - {name: b, type: Test/Stdin, dependsOn: [\"[resourceId('Test/Stdin', 'a')]\"]}\n",
            4,
            "cycle among 'a', 'b'",
        ),
        (
            "$schema: x\nresources:\n  - {name: a, type: Test/Stdin, dependsOn: [\"[resourceId('Test/Stdin', 'zz')]\"]}\n",
            4,
            "not in the document",
        ),
        (
            "$schema: x\nresources:\n  - {name: a, type: Test/Stdin, properties: {n: \"[nosuch()]\"}}\n",
            2,
            "unknown function 'nosuch'",
        ),
    ];
    for (i, (text, code, fragment)) in cases.iter().enumerate() {
        let doc = s.write(&format!("b{i}.yaml"), text);
        let r = s.run(&["config", "get", "-f", doc.to_str().unwrap()]);
        assert_eq!(r.code, *code, "{text}: {}", r.stderr);
        assert!(
            r.stderr.contains(fragment) || r.stdout.contains(fragment),
            "{text}: {} {}",
            r.stderr,
            r.stdout
        );
    }
    let r = s.run(&["config", "get"]);
    assert_eq!(r.code, 1);
}

#[test]
fn schema_configuration_prints_the_document_schema() {
    let s = Sandbox::new("resources");
    let v = s.run(&["schema", "configuration"]).json();
    assert_eq!(v["title"], "DSC configuration document");
    assert!(v["properties"]["resources"].is_object());
}
