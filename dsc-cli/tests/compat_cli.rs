//! End-to-end tests of what a user moving from Microsoft's `dsc` 3.x expects: dsc 3.4 manifest
//! members, adapters and adapted resources, group resources, copy loops, user functions,
//! outputs, directives, secrets, result shapes and CLI options. Resources are the scripts in
//! tests/fixtures/compat.

use serde_json::{Value, json};

mod support;
use support::{Sandbox, fixtures};

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

#[test]
fn manifests_with_unknown_members_load_with_a_warning_and_conditions_hide_resources() {
    let s = Sandbox::new("compat");
    let r = s.run(&["resource", "list", "-o", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let types: Vec<String> = r
        .lines()
        .iter()
        .map(|v| v["type"].as_str().unwrap().to_string())
        .collect();
    assert!(types.contains(&"Test/Echo".to_string()), "{types:?}");
    assert!(types.contains(&"Test/WhereShIs".to_string()), "{types:?}");
    assert!(
        !types.contains(&"Test/Never".to_string()),
        "condition false: {types:?}"
    );
    assert!(
        types.contains(&"TestAdapted/Prebuilt".to_string()),
        "{types:?}"
    );
    assert!(r.stderr.contains("'/futureMember'"), "{}", r.stderr);
    let never = s.run(&["resource", "get", "-r", "Test/Never"]);
    assert_eq!(never.code, 7, "{}", never.stderr);
    // The built-in group types are listed, and run on their own like dsc's group resources:
    // the result is the list of nested results. dsc's own manifest for the type (it runs
    // `dsc`, found beside dsc on PATH) is passed over without a warning.
    let groups: Vec<Value> = r
        .lines()
        .into_iter()
        .filter(|v| v["type"] == "Microsoft.DSC/Group")
        .collect();
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0]["kind"], "group");
    assert_eq!(groups[0]["path"], "", "the built-in one: {groups:?}");
    assert!(!r.stderr.contains("Microsoft.DSC/Group"), "{}", r.stderr);
    let nested = r#"{"resources": [{"name": "a", "type": "Test/Echo", "properties": {"v": 1}}]}"#;
    let alone = s.run(&[
        "resource",
        "get",
        "-r",
        "Microsoft.DSC/Group",
        "-i",
        nested,
        "-o",
        "json",
    ]);
    assert_eq!(alone.code, 0, "{}", alone.stderr);
    assert_eq!(alone.json()[0]["result"]["actualState"], json!({"v": 1}));
    let failing = r#"{"resources": [{"name": "p", "type": "Test/Echo", "properties": {"value": 1, "want": 2}}]}"#;
    let assertion = s.run(&[
        "resource",
        "test",
        "-r",
        "Microsoft.DSC/Assertion",
        "-i",
        failing,
        "-o",
        "json",
    ]);
    assert_eq!(assertion.code, 8, "{}", assertion.stderr);
    // As dsc prints a group's test: a test response with the nested results as actualState.
    let response = assertion.json();
    assert_eq!(response["inDesiredState"], false);
    assert_eq!(response["differingProperties"], json!(["resources"]));
    assert_eq!(response["desiredState"]["resources"][0]["name"], "p");
    assert_eq!(
        response["actualState"][0]["result"]["inDesiredState"],
        false
    );
    let bad = s.run(&[
        "resource",
        "get",
        "-r",
        "Microsoft.DSC/Group",
        "-i",
        "{\"resources\": 5}",
    ]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("nested resources"), "{}", bad.stderr);
}

#[test]
fn resource_list_filters_by_description_tags_and_adapter() {
    let s = Sandbox::new("compat");
    let by_desc = s
        .run(&["resource", "list", "-d", "PRINTS ITS", "-o", "json"])
        .lines();
    assert_eq!(by_desc.len(), 1);
    assert_eq!(by_desc[0]["type"], "Test/Echo");
    let by_tag = s
        .run(&["resource", "list", "-t", "debug", "-o", "json"])
        .lines();
    assert_eq!(by_tag.len(), 1);
    assert!(
        s.run(&["resource", "list", "-t", "nope", "-o", "json"])
            .stdout
            .trim()
            .is_empty()
    );
    let adapted = s.run(&["resource", "list", "-a", "test/adapter", "-o", "json"]);
    assert_eq!(adapted.code, 0, "{}", adapted.stderr);
    let types: Vec<String> = adapted
        .lines()
        .iter()
        .map(|v| v["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        types,
        vec![
            "TestAdapted/Bundled",
            "TestAdapted/Listed",
            "TestAdapted/Other",
            "TestAdapted/Prebuilt"
        ]
    );
    // The adapter's list ran once; the second listing comes from the cache.
    s.run(&["resource", "list", "-a", "Test/Adapter", "-o", "json"]);
    let calls = std::fs::read_to_string(s.state.path().join("list-calls")).unwrap();
    assert_eq!(calls, "x");
}

#[test]
fn a_manifest_list_carries_adapted_resources_as_dscs_test_resources_do() {
    let s = Sandbox::new("compat");
    let r = s.run(&["resource", "list", "-a", "Test/Adapter", "-o", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bundled: Vec<Value> = r
        .lines()
        .into_iter()
        .filter(|v| v["type"] == "TestAdapted/Bundled")
        .collect();
    assert_eq!(bundled.len(), 1, "{}", r.stdout);
    assert_eq!(bundled[0]["requireAdapter"], "Test/Adapter");
    // A false condition hides one; a missing adapter is a warning naming the list.
    assert!(!r.stdout.contains("TestAdapted/Hidden"), "{}", r.stdout);
    assert!(
        r.stderr.contains("'TestAdapted/Orphan'") && r.stderr.contains("bundle.dsc.manifests.json"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("'Test/NoSuchAdapter' was not found"),
        "{}",
        r.stderr
    );
    // It runs through its adapter, with its content.
    let got = s.run(&[
        "resource",
        "get",
        "-r",
        "testadapted/bundled",
        "-i",
        r#"{"name": "a"}"#,
    ]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    let v = got.json();
    assert_eq!(v["actualState"]["adaptedType"], "TestAdapted/Bundled");
    assert_eq!(v["actualState"]["content"], json!({"flavor": "bundled"}));
    // Its schema, written as the schema itself (not under "embedded"), is the instance schema.
    let schema = s.run(&[
        "resource",
        "schema",
        "-r",
        "TestAdapted/Bundled",
        "-o",
        "json",
    ]);
    assert_eq!(schema.code, 0, "{}", schema.stderr);
    assert_eq!(schema.json()["properties"]["two"]["type"], "string");
    let bad = s.run(&[
        "resource",
        "set",
        "-r",
        "TestAdapted/Bundled",
        "-i",
        r#"{"two": 3}"#,
    ]);
    assert_eq!(bad.code, 4, "the schema is enforced: {}", bad.stderr);
}

#[test]
fn adapted_resources_run_through_their_adapter_with_type_and_content() {
    let s = Sandbox::new("compat");
    let r = s.run(&[
        "resource",
        "get",
        "-r",
        "TestAdapted/Prebuilt",
        "-i",
        r#"{"name": "a"}"#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["actualState"]["adaptedType"], "TestAdapted/Prebuilt");
    assert_eq!(v["actualState"]["content"], json!({"flavor": "prebuilt"}));
    // A listed resource (found through the adapter's list) can be set and read back.
    let set = s.run(&[
        "resource",
        "set",
        "-r",
        "TestAdapted/Listed",
        "-i",
        r#"{"name": "b", "value": 5}"#,
    ]);
    assert_eq!(set.code, 0, "{}", set.stderr);
    let got = s
        .run(&[
            "resource",
            "get",
            "-r",
            "TestAdapted/Listed",
            "-i",
            r#"{"name": "b"}"#,
        ])
        .json();
    assert_eq!(got["actualState"]["value"], 5);
    assert!(got["actualState"].get("content").is_none());
    // inputKind full: the adapter reads a document and answers with a result list.
    let full = s.run(&[
        "resource",
        "get",
        "-r",
        "TestAdapted/Full",
        "-i",
        r#"{"name": "a"}"#,
    ]);
    assert_eq!(full.code, 0, "{}", full.stderr);
    assert_eq!(
        full.json()["actualState"]["adaptedType"],
        "TestAdapted/Full"
    );
    // get --all goes through export.
    let all = s.run(&[
        "resource",
        "get",
        "-r",
        "TestAdapted/Listed",
        "--all",
        "-o",
        "json",
    ]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert_eq!(all.lines()[0]["actualState"]["name"], "exported");
}

#[test]
fn adapted_resources_work_in_documents_with_require_adapter_depends_on_and_reference() {
    let s = Sandbox::new("compat");
    let r = s.config(
        "set",
        r#"
$schema: https://aka.ms/dsc/schemas/v3/bundled/config/document.json
resources:
  - name: first
    type: TestAdapted/Listed
    properties: {name: doc, value: 7}
    directives: {requireAdapter: Test/Adapter}
  - name: second
    type: Test/Echo
    dependsOn: ["[resourceId('TestAdapted/Listed', 'first')]"]
    properties:
      copied: "[reference(resourceId('TestAdapted/Listed', 'first')).value]"
"#,
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["results"][1]["result"]["afterState"]["copied"], 7);
    let wrong = s.config(
        "get",
        r#"
$schema: x
resources:
  - {name: x, type: TestAdapted/Listed, properties: {name: doc}, directives: {requireAdapter: Test/FullAdapter}}
"#,
    );
    assert_eq!(wrong.code, 2);
    assert!(
        wrong
            .stderr
            .contains("not provided by adapter 'Test/FullAdapter'"),
        "{}",
        wrong.stderr
    );
}

#[test]
fn copy_loops_user_functions_and_outputs_evaluate_as_in_dsc() {
    let s = Sandbox::new("compat");
    let r = s.config(
        "get",
        r#"
$schema: https://aka.ms/dsc/schemas/v3/bundled/config/document.json
parameters:
  prefix: {type: string, defaultValue: web}
functions:
  - namespace: site
    members:
      host:
        parameters: [{name: n, type: int}]
        output: {type: string, value: "[format('{0}.example.com', string(parameters('n')))]"}
resources:
  - name: "[format('{0}-{1}', parameters('prefix'), copyIndex())]"
    type: Test/Echo
    copy: {name: hosts, count: 3}
    properties:
      index: "[copyIndex()]"
      fqdn: "[site.host(copyIndex(1))]"
outputs:
  last: {type: string, value: "[reference(resourceId('Test/Echo', 'web-2')).fqdn]"}
  count: {type: int, value: "[length(range(0, 3))]"}
  hidden: {type: string, value: x, condition: "[equals(1, 2)]"}
"#,
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    let names: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["web-0", "web-1", "web-2"]);
    assert_eq!(
        v["results"][1]["result"]["actualState"],
        json!({"index": 1, "fqdn": "2.example.com"})
    );
    assert_eq!(v["outputs"], json!({"last": "3.example.com", "count": 3}));
    assert_eq!(v["executionInformation"]["operation"], "get");
    assert_eq!(v["executionInformation"]["executionType"], "actual");
    assert_eq!(v["results"][0]["executionInformation"]["operation"], "get");
    let dup = s.config(
        "get",
        "$schema: x\nresources:\n  - {name: same, type: Test/Echo, copy: {name: c, count: 2}}\n",
    );
    assert_eq!(dup.code, 4, "{}", dup.stderr);
    assert!(
        dup.stderr.contains("use copyIndex() in the name"),
        "{}",
        dup.stderr
    );
}

#[test]
fn groups_nest_results_and_failed_assertions_exit_8_and_skip_dependents() {
    let s = Sandbox::new("compat");
    let group = s.config(
        "get",
        r#"
$schema: x
resources:
  - name: g
    type: Microsoft.DSC/Group
    properties:
      resources:
        - {name: inner, type: Test/Echo, properties: {v: 1}}
        - name: inner2
          type: Test/Echo
          dependsOn: ["[resourceId('Test/Echo', 'inner')]"]
          properties: {v: "[add(reference(resourceId('Test/Echo', 'inner')).v, 1)]"}
"#,
    );
    assert_eq!(group.code, 0, "{}", group.stderr);
    let g = group.json();
    let nested = g["results"][0]["result"].as_array().unwrap();
    assert_eq!(nested.len(), 2);
    assert_eq!(nested[1]["name"], "inner2");
    assert_eq!(nested[1]["result"]["actualState"]["v"], 2);

    // dsc nests a group's test results under actualState.
    let tested = s.config(
        "test",
        r#"
$schema: x
resources:
  - name: g
    type: Microsoft.DSC/Group
    properties:
      resources:
        - {name: same, type: Test/Echo, properties: {value: 1, want: 1}}
        - {name: other, type: Test/Echo, properties: {value: 1, want: 2}}
"#,
    );
    assert_eq!(tested.code, 0, "{}", tested.stderr);
    let t = tested.json();
    let g = &t["results"][0]["result"];
    assert_eq!(g["inDesiredState"], false, "{g}");
    assert_eq!(g["differingProperties"], json!(["resources"]));
    assert_eq!(g["desiredState"]["resources"][1]["name"], "other");
    assert_eq!(g["actualState"][0]["result"]["inDesiredState"], true);
    assert_eq!(g["actualState"][1]["result"]["inDesiredState"], false);

    let assertion = s.config(
        "set",
        r#"
$schema: x
resources:
  - name: check
    type: Microsoft.DSC/Assertion
    properties:
      resources:
        - {name: probe, type: Test/Echo, properties: {value: 1, want: 2}}
  - name: after
    type: Test/Echo
    dependsOn: ["[resourceId('Microsoft.DSC/Assertion', 'check')]"]
    properties: {x: 1}
"#,
    );
    assert_eq!(
        assertion.code, 8,
        "{}\n{}",
        assertion.stdout, assertion.stderr
    );
    let a = assertion.json();
    assert_eq!(
        a["results"][0]["result"][0]["result"]["inDesiredState"],
        false
    );
    assert_eq!(
        a["results"][1]["metadata"]["Microsoft.DSC"]["skipped"],
        true
    );
    assert!(
        assertion.stderr.contains("assertion failed: 'probe'"),
        "{}",
        assertion.stderr
    );
}

#[test]
fn include_runs_another_document_with_its_parameters() {
    let s = Sandbox::new("compat");
    s.write(
        "inner.dsc.yaml",
        "$schema: x\nparameters:\n  who: {type: string}\nresources:\n  - {name: hello, type: Test/Echo, properties: {greeting: \"[concat('hi ', parameters('who'))]\"}}\n",
    );
    let r = s.config(
        "get",
        "$schema: x\nresources:\n  - name: inc\n    type: Microsoft.DSC/Include\n    properties:\n      configurationFile: inner.dsc.yaml\n      parameters: {who: there}\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(
        v["results"][0]["result"][0]["result"]["actualState"]["greeting"],
        "hi there"
    );
    let missing = s.config(
        "get",
        "$schema: x\nresources:\n  - {name: inc, type: Microsoft.DSC/Include, properties: {configurationFile: inner.dsc.yaml}}\n",
    );
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("parameter 'who' has no value"),
        "{}",
        missing.stderr
    );
    // Parameters given inline as text (parametersContent), or in a file beside the document.
    let inline = s.config(
        "get",
        "$schema: x\nresources:\n  - name: inc\n    type: Microsoft.DSC/Include\n    properties:\n      configurationFile: inner.dsc.yaml\n      parametersContent: '{\"parameters\": {\"who\": \"inline\"}}'\n",
    );
    assert_eq!(inline.code, 0, "{}", inline.stderr);
    assert_eq!(
        inline.json()["results"][0]["result"][0]["result"]["actualState"]["greeting"],
        "hi inline"
    );
    s.write("inner.parameters.yaml", "parameters:\n  who: file\n");
    let file = s.config(
        "get",
        "$schema: x\nresources:\n  - {name: inc, type: Microsoft.DSC/Include, properties: {configurationFile: inner.dsc.yaml, parametersFile: inner.parameters.yaml}}\n",
    );
    assert_eq!(file.code, 0, "{}", file.stderr);
    assert_eq!(
        file.json()["results"][0]["result"][0]["result"]["actualState"]["greeting"],
        "hi file"
    );
    // Two ways at once, and paths reaching out of the document's directory, are errors (2).
    for props in [
        "{configurationFile: inner.dsc.yaml, parametersFile: inner.parameters.yaml, parametersContent: '{}'}",
        "{configurationFile: ../inner.dsc.yaml}",
        "{configurationFile: inner.dsc.yaml, parametersFile: ../inner.parameters.yaml}",
    ] {
        let doc = format!(
            "$schema: x\nresources:\n  - {{name: inc, type: Microsoft.DSC/Include, properties: {props}}}\n"
        );
        let r = s.config("get", &doc);
        assert_eq!(r.code, 2, "{props}: {}", r.stderr);
        assert!(
            r.stderr.contains("ERROR") || r.stderr.contains("error"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn importer_resources_resolve_to_a_document_that_runs_in_place() {
    let s = Sandbox::new("compat");
    let r = s.config(
        "get",
        "$schema: x\nresources:\n  - {name: imp, type: Test/Importer, properties: {greeting: hello}}\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["results"][0]["result"][0]["name"], "imported");
    assert_eq!(
        v["results"][0]["result"][0]["result"]["actualState"]["said"],
        "hello"
    );
}

#[test]
fn exporter_resources_export_the_definitions_they_print() {
    let s = Sandbox::new("compat");
    let r = s.run(&["resource", "export", "-r", "Test/Exporter", "-o", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = r.json();
    let resources = doc["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 2, "{doc}");
    assert_eq!(resources[0]["type"], "Test/Echo");
    assert_eq!(resources[0]["properties"], json!({"x": 1}));
    assert_eq!(resources[1]["type"], "TestAdapted/Listed");
    assert_eq!(resources[1]["properties"]["name"], "exported");
    let c = s.config(
        "export",
        "$schema: x\nresources:\n  - {name: all, type: Test/Exporter}\n",
    );
    assert_eq!(c.code, 0, "{}", c.stderr);
    assert_eq!(c.json()["resources"].as_array().unwrap().len(), 2);
}

#[test]
fn restart_required_metadata_and_secrets_are_carried_through_and_redacted() {
    let s = Sandbox::new("compat");
    let r = s.config(
        "get",
        r#"
$schema: x
resources:
  - name: svc
    type: Test/Echo
    properties:
      _restartRequired: [{service: sshd}]
      _metadata: {origin: test}
      password: "[secret('db')]"
  - name: after
    type: Test/Echo
    dependsOn: ["[resourceId('Test/Echo', 'svc')]"]
    properties: {restart: "[restartRequired('service', 'sshd')]"}
"#,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["results"][0]["metadata"]["origin"], "test");
    assert!(
        v["results"][0]["result"]["actualState"]
            .get("_metadata")
            .is_none()
    );
    assert_eq!(
        v["results"][0]["result"]["actualState"]["password"],
        "*****"
    );
    assert!(!r.stdout.contains("pa55word"));
    assert_eq!(v["results"][1]["result"]["actualState"]["restart"], true);
    assert_eq!(
        v["metadata"]["Microsoft.DSC"]["restartRequired"],
        json!([{"service": "sshd"}])
    );
    assert_eq!(
        v["results"][0]["executionInformation"]["restartRequired"],
        json!([{"service": "sshd"}])
    );
    let missing = s.config("get", "$schema: x\nresources:\n  - {name: x, type: Test/Echo, properties: {p: \"[secret('db', 'other')]\"}}\n");
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("secret 'db' was not found"),
        "{}",
        missing.stderr
    );
}

#[test]
fn security_contexts_are_enforced_for_methods_documents_and_resources() {
    let s = Sandbox::new("compat");
    let (ok_type, refused_type, refused_ctx) = if is_root() {
        ("Test/Elevated", "Test/Restricted", "restricted")
    } else {
        ("Test/Restricted", "Test/Elevated", "elevated")
    };
    assert_eq!(
        s.run(&["resource", "get", "-r", ok_type, "-i", "{}"]).code,
        0
    );
    let refused = s.run(&["resource", "get", "-r", refused_type, "-i", "{}"]);
    assert_eq!(refused.code, 2);
    assert!(
        refused
            .stderr
            .contains(&format!("requires the '{refused_ctx}' security context")),
        "{}",
        refused.stderr
    );
    let doc = s.config(
        "get",
        &format!("$schema: x\ndirectives: {{securityContext: {refused_ctx}}}\nresources: []\n"),
    );
    assert_eq!(doc.code, 2);
    assert!(
        doc.stderr.contains("the document requires"),
        "{}",
        doc.stderr
    );
    let res = s.config(
        "get",
        &format!("$schema: x\nresources:\n  - {{name: x, type: Test/Echo, directives: {{securityContext: {refused_ctx}}}}}\n"),
    );
    assert_eq!(res.code, 2, "{}", res.stderr);
    let version = s.config(
        "get",
        "$schema: x\ndirectives: {version: '>=999'}\nresources: []\n",
    );
    assert_eq!(version.code, 4);
    assert!(
        version.stderr.contains("needs engine version"),
        "{}",
        version.stderr
    );
    let pre = s.config(
        "get",
        "$schema: x\ndirectives: {resourceDiscovery: preDeployment}\nresources:\n  - {name: a, type: Test/Echo}\n  - {name: b, type: Test/Nope}\n",
    );
    assert_eq!(pre.code, 4);
    assert!(pre.stdout.is_empty(), "nothing ran: {}", pre.stdout);
}

#[test]
fn function_list_and_trace_format_json() {
    let s = Sandbox::new("compat");
    let list = s.run(&["function", "list", "-o", "json"]);
    assert_eq!(list.code, 0);
    let functions = list.lines();
    assert_eq!(functions.len(), 85);
    let sw = functions
        .iter()
        .find(|f| f["name"] == "startsWith")
        .unwrap();
    assert_eq!(sw["minArgs"], 2);
    assert_eq!(sw["category"], "String");
    let one = s.run(&["function", "list", "cidr*", "-o", "json"]).lines();
    assert_eq!(one.len(), 2);
    let traced = s.run(&["--trace-format", "json", "resource", "list", "-o", "json"]);
    let line = traced
        .stderr
        .lines()
        .find(|l| l.contains("futureMember"))
        .unwrap();
    let v: Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["level"], "WARN");
    assert!(
        v["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("futureMember")
    );
    let bad = s.run(&["--progress-format", "loud", "resource", "list"]);
    assert_eq!(bad.code, 1);
}

#[test]
fn settings_next_to_the_binary_and_dsc_restricted_path_decide_where_resources_are_found() {
    let s = Sandbox::new("compat");
    // A copy of traek with its own settings file: the directories there, no environment override.
    let bin = tempfile::tempdir().unwrap();
    let traek = bin.path().join("traek");
    std::fs::copy(env!("CARGO_BIN_EXE_traek"), &traek).unwrap();
    let settings = json!({
        "resourcePath": {"allowEnvOverride": false, "appendEnvPath": false, "directories": [fixtures("compat")]},
        "tracing": {"level": "ERROR", "allowOverride": false}
    });
    std::fs::write(bin.path().join("traek.settings.json"), settings.to_string()).unwrap();
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let mut c = s.command(&traek);
        c.args(args)
            .env_remove("DSC_RESOURCE_PATH")
            .envs(envs.iter().copied());
        c.output().unwrap()
    };
    let out = run(
        &["-l", "warn", "resource", "list", "-o", "json"],
        &[("DSC_RESOURCE_PATH", "/nonexistent")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Test/Echo"), "{stdout}");
    // tracing.level ERROR without allowOverride: the unknown-member warning is not printed.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("futureMember"));
    // --ignore-settings-file: back to DSC_RESOURCE_PATH, and warnings at the default level.
    let out = run(
        &["--ignore-settings-file", "resource", "list", "-o", "json"],
        &[("DSC_RESOURCE_PATH", "/nonexistent")],
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Test/Echo"));
    // A malformed settings file is a warning, and the defaults apply.
    std::fs::write(bin.path().join("traek.settings.json"), "{oops").unwrap();
    let out = run(&["resource", "list", "-o", "json"], &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not valid JSON"));
    // DSC_RESTRICTED_PATH wins over DSC_RESOURCE_PATH.
    let out = s.run_with(
        &["resource", "list", "-o", "json"],
        &[
            ("DSC_RESTRICTED_PATH", fixtures("compat").to_str().unwrap()),
            ("DSC_RESOURCE_PATH", "/nonexistent"),
        ],
    );
    assert!(out.stdout.contains("Test/Echo"), "{}", out.stderr);
}
