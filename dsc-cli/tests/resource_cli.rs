//! End-to-end tests of `traek resource ...` against real command resources (the scripts in
//! `tests/fixtures/resources`).

use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod support;
use support::{Sandbox, fixtures};

// ----- input kinds --------------------------------------------------------------------------

#[test]
fn get_sends_stdin_input_and_prints_the_actual_state() {
    let s = Sandbox::new("resources");
    let r = s.run(&["resource", "get", "-r", "test/stdin", "-i", r#"{"n": 5}"#]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json(), json!({"actualState": {"n": 5}}));
}

#[test]
fn get_without_input_closes_stdin_so_a_reading_resource_does_not_hang() {
    let s = Sandbox::new("resources");
    let start = Instant::now();
    let r = s.run(&["resource", "get", "-r", "Test/Stdin"]);
    assert!(start.elapsed() < Duration::from_secs(10));
    // `cat` prints nothing, which is not a state: a resource error, not a hang.
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("got nothing"), "{}", r.stderr);
}

#[test]
fn yaml_input_and_input_from_a_file_and_from_stdin_are_accepted() {
    let s = Sandbox::new("resources");
    let r = s.run(&["resource", "get", "-r", "Test/Stdin", "-i", "n: 7"]);
    assert_eq!(r.json(), json!({"actualState": {"n": 7}}));
    let file = s.state.path().join("in.yaml");
    std::fs::write(&file, "n: 8\n").unwrap();
    let r = s.run(&[
        "resource",
        "get",
        "-r",
        "Test/Stdin",
        "-f",
        file.to_str().unwrap(),
    ]);
    assert_eq!(r.json(), json!({"actualState": {"n": 8}}));
    let r = s.run_with_stdin(
        &["resource", "get", "-r", "Test/Stdin", "-f", "-"],
        Some("{\"n\": 9}"),
    );
    assert_eq!(r.json(), json!({"actualState": {"n": 9}}));
}

#[test]
fn malformed_input_is_exit_code_3() {
    let s = Sandbox::new("resources");
    let r = s.run(&["resource", "get", "-r", "Test/Stdin", "-i", "{\"n\": "]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("input (-i)"), "{}", r.stderr);
}

#[test]
fn input_that_breaks_the_instance_schema_is_exit_code_4() {
    let s = Sandbox::new("resources");
    let r = s.run(&[
        "resource",
        "get",
        "-r",
        "Test/Stdin",
        "-i",
        r#"{"n": "five"}"#,
    ]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("/n"), "{}", r.stderr);
    let r = s.run(&["resource", "get", "-r", "Test/Stdin", "-i", "[1, 2]"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
}

#[test]
fn env_input_sets_one_variable_per_property() {
    let s = Sandbox::new("resources");
    let r = s.run(&[
        "resource",
        "get",
        "-r",
        "Test/Env",
        "-i",
        r#"{"s": "a b", "n": 3, "b": false, "l": ["x", 2], "z": null}"#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let state = &r.json()["actualState"];
    assert_eq!(state["s"], "a b");
    assert_eq!(state["n"], "3");
    assert_eq!(state["b"], "false");
    assert_eq!(state["l"], "x,2");
    assert!(state.get("z").is_none(), "null properties are dropped");
    assert_eq!(state["trace"], "warn", "DSC_TRACE_LEVEL is passed");
    assert_eq!(
        PathBuf::from(state["cwd"].as_str().unwrap()),
        fixtures("resources"),
        "runs in the manifest's directory"
    );
}

#[test]
fn env_input_with_a_nested_object_is_invalid_input() {
    let s = Sandbox::new("resources");
    let r = s.run(&[
        "resource",
        "get",
        "-r",
        "Test/Env",
        "-i",
        r#"{"o": {"a": 1}}"#,
    ]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("'o'"), "{}", r.stderr);
}

#[test]
fn json_input_type_version_and_path_args_are_passed() {
    let s = Sandbox::new("resources");
    let r = s.run(&["resource", "get", "-r", "Test/ArgInput", "-i", r#"{"a":1}"#]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let path = fixtures("resources").join("inputs.dsc.manifests.yaml");
    assert_eq!(
        r.json()["actualState"]["argv"],
        json!([
            "--json",
            "{\"a\":1}",
            "--type",
            "Test/ArgInput",
            "--version",
            "1.0.0",
            "--path",
            format!("\"{}\"", path.display())
        ])
    );
    assert_eq!(
        r.json()["actualState"]["stdin"],
        "",
        "no stdin without input: stdin"
    );
}

#[test]
fn json_input_arg_is_dropped_without_input_unless_mandatory() {
    let s = Sandbox::new("resources");
    let r = s.run(&["resource", "get", "-r", "Test/ArgInput"]);
    assert_eq!(r.json()["actualState"]["argv"][0], "--type");
    let r = s.run(&["resource", "get", "-r", "Test/ArgMandatory"]);
    assert_eq!(r.json()["actualState"]["argv"], json!(["--json", ""]));
}

// ----- test ---------------------------------------------------------------------------------

#[test]
fn synthetic_test_compares_only_desired_keys_and_skips_write_only_and_uses_defaults() {
    let s = Sandbox::new("resources");
    s.write_state(
        "a",
        json!({"name": "a", "content": "hi", "_name": "not compared"}),
    );
    let r = s.run(&[
        "resource",
        "test",
        "-r",
        "Test/File",
        "-i",
        r#"{"name":"a","content":"hi","secret":"pw","mode":"0644"}"#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = r.json();
    assert_eq!(t["inDesiredState"], true, "{t}");
    assert_eq!(t["differingProperties"], json!([]));
    assert_eq!(t["desiredState"]["secret"], "pw");

    let r = s.run(&[
        "resource",
        "test",
        "-r",
        "Test/File",
        "-i",
        r#"{"name":"a","content":"bye","mode":"0600"}"#,
    ]);
    let t = r.json();
    assert_eq!(t["inDesiredState"], false);
    assert_eq!(t["differingProperties"], json!(["content", "mode"]));
    assert_eq!(t["actualState"]["content"], "hi");
}

#[test]
fn synthetic_test_treats_a_missing_instance_as_not_existing() {
    let s = Sandbox::new("resources");
    let r = s.run(&[
        "resource",
        "test",
        "-r",
        "Test/File",
        "-i",
        r#"{"name":"nope","_exist":false}"#,
    ]);
    assert_eq!(r.json()["inDesiredState"], true, "{}", r.stdout);
    let r = s.run(&[
        "resource",
        "test",
        "-r",
        "Test/File",
        "-i",
        r#"{"name":"nope"}"#,
    ]);
    assert_eq!(r.json()["inDesiredState"], false);
    assert_eq!(r.json()["differingProperties"], json!(["_exist"]));
}

#[test]
fn test_with_return_state_honours_in_desired_state() {
    let s = Sandbox::new("resources");
    s.write_state("a", json!({"name": "a", "content": "real"}));
    let r = s.run(&[
        "resource",
        "test",
        "-r",
        "Test/FileLiar",
        "-i",
        r#"{"name":"a","content":"wanted"}"#,
    ]);
    let t = r.json();
    assert_eq!(t["inDesiredState"], true, "the resource's own verdict wins");
    assert_eq!(t["differingProperties"], json!(["content"]));
}

#[test]
fn test_with_return_state_and_diff_reads_both_lines() {
    let s = Sandbox::new("resources");
    s.write_state("a", json!({"name": "a", "content": "real"}));
    let r = s.run(&[
        "resource",
        "test",
        "-r",
        "Test/FileDiff",
        "-i",
        r#"{"name":"a","content":"wanted"}"#,
    ]);
    let t = r.json();
    assert_eq!(t["inDesiredState"], false);
    assert_eq!(t["differingProperties"], json!(["content"]));
    assert_eq!(t["actualState"]["content"], "real");
}

#[test]
fn test_without_return_compares_a_fresh_get() {
    let s = Sandbox::new("resources");
    s.write_state("a", json!({"name": "a", "content": "same"}));
    let r = s.run(&[
        "resource",
        "test",
        "-r",
        "Test/FileNoReturn",
        "-i",
        r#"{"name":"a","content":"same"}"#,
    ]);
    assert_eq!(r.json()["inDesiredState"], true);
    assert_eq!(s.calls(), vec!["test", "get"]);
}

// ----- set ----------------------------------------------------------------------------------

#[test]
fn set_skips_an_instance_already_in_the_desired_state() {
    let s = Sandbox::new("resources");
    s.write_state("a", json!({"name": "a", "content": "x"}));
    let r = s.run(&[
        "resource",
        "set",
        "-r",
        "Test/File",
        "-i",
        r#"{"name":"a","content":"x"}"#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["changedProperties"], json!([]));
    assert!(!s.calls().contains(&"set".to_string()), "{:?}", s.calls());
}

#[test]
fn set_with_return_state_reports_before_after_and_changes() {
    let s = Sandbox::new("resources");
    s.write_state("a", json!({"name": "a", "content": "old"}));
    let r = s.run(&[
        "resource",
        "set",
        "-r",
        "Test/File",
        "-i",
        r#"{"name":"a","content":"new"}"#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["beforeState"]["content"], "old");
    assert_eq!(v["afterState"]["content"], "new");
    assert_eq!(v["changedProperties"], json!(["content"]));
    assert_eq!(s.state_of("a").unwrap()["content"], "new");
    // test (synthetic get) once, then set: the test's actual state is the before state.
    assert_eq!(s.calls(), vec!["get", "set"]);
}

#[test]
fn set_with_implements_pretest_does_not_test_first() {
    let s = Sandbox::new("resources");
    let r = s.run(&[
        "resource",
        "set",
        "-r",
        "Test/FileState",
        "-i",
        r#"{"name":"b","content":"v"}"#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.calls(), vec!["get", "set"]);
    assert_eq!(r.json()["afterState"]["content"], "v");
}

#[test]
fn set_with_return_state_and_diff_uses_the_resources_diff() {
    let s = Sandbox::new("resources");
    let r = s.run(&[
        "resource",
        "set",
        "-r",
        "Test/FileDiff",
        "-i",
        r#"{"name":"c","content":"v"}"#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["changedProperties"], json!(["content"]));
    assert_eq!(v["beforeState"]["_exist"], false);
    assert_eq!(v["afterState"]["content"], "v");
}

#[test]
fn set_without_return_gets_the_after_state() {
    let s = Sandbox::new("resources");
    let r = s.run(&[
        "resource",
        "set",
        "-r",
        "Test/FileNoReturn",
        "-i",
        r#"{"name":"d","content":"v"}"#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["afterState"]["content"], "v");
    assert_eq!(s.calls().last().map(String::as_str), Some("get"));
}

#[test]
fn set_with_exist_false_deletes_through_the_delete_method() {
    let s = Sandbox::new("resources");
    s.write_state("e", json!({"name": "e", "content": "x"}));
    let r = s.run(&[
        "resource",
        "set",
        "-r",
        "Test/File",
        "-i",
        r#"{"name":"e","_exist":false}"#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(s.state_of("e").is_none());
    assert_eq!(s.calls(), vec!["get", "delete", "get"]);
    let v = r.json();
    assert_eq!(v["beforeState"]["_exist"], true);
    assert_eq!(v["afterState"]["_exist"], false);
    assert_eq!(v["changedProperties"], json!(["_exist"]));
}

#[test]
fn set_what_if_uses_the_what_if_arg_and_changes_nothing() {
    let s = Sandbox::new("resources");
    let r = s.run(&[
        "resource",
        "set",
        "-w",
        "-r",
        "Test/File",
        "-i",
        r#"{"name":"f","content":"v"}"#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["afterState"]["_whatIf"], true);
    assert!(s.state_of("f").is_none());
    assert!(s.calls().contains(&"set-whatif".to_string()));
}

#[test]
fn set_what_if_prefers_a_dedicated_what_if_method() {
    let s = Sandbox::new("resources");
    let r = s.run(&[
        "resource",
        "set",
        "--what-if",
        "-r",
        "Test/FileState",
        "-i",
        r#"{"name":"f","content":"v"}"#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["afterState"]["_whatIf"], true);
    assert!(s.calls().contains(&"whatif".to_string()));
    assert!(s.state_of("f").is_none());
}

#[test]
fn set_what_if_without_support_is_synthesized_from_test() {
    let s = Sandbox::new("resources");
    s.write_state("g", json!({"name": "g", "content": "old"}));
    let r = s.run(&[
        "resource",
        "set",
        "-w",
        "-r",
        "Test/FileDiff",
        "-i",
        r#"{"name":"g","content":"new"}"#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["beforeState"]["content"], "old");
    assert_eq!(v["afterState"]["content"], "new");
    assert_eq!(v["changedProperties"], json!(["content"]));
    assert_eq!(s.state_of("g").unwrap()["content"], "old");
}

// ----- delete and export --------------------------------------------------------------------

#[test]
fn delete_removes_the_instance_and_what_if_only_reports() {
    let s = Sandbox::new("resources");
    s.write_state("h", json!({"name": "h"}));
    let r = s.run(&[
        "resource",
        "delete",
        "-w",
        "-r",
        "Test/File",
        "-i",
        r#"{"name":"h"}"#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["afterState"]["_exist"], false);
    assert_eq!(r.json()["changedProperties"], json!(["_exist"]));
    assert!(s.state_of("h").is_some());
    let r = s.run(&[
        "resource",
        "delete",
        "-r",
        "Test/File",
        "-i",
        r#"{"name":"h"}"#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    assert!(s.state_of("h").is_none());
}

#[test]
fn export_prints_a_configuration_document_named_by_underscore_name() {
    let s = Sandbox::new("resources");
    s.write_state("one", json!({"name": "one", "content": "1"}));
    let r = s.run(&["resource", "export", "-r", "Test/File"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = r.json();
    assert_eq!(
        doc["$schema"],
        "https://aka.ms/dsc/schemas/v3/bundled/config/document.json"
    );
    let resources = doc["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 2);
    assert_eq!(resources[0]["name"], "file-one");
    assert_eq!(resources[0]["type"], "Test/File");
    assert!(resources[0]["properties"].get("_name").is_none());
    assert_eq!(resources[1]["name"], "Test/File-1");
}

#[test]
fn export_without_an_export_method_falls_back_to_get() {
    let s = Sandbox::new("resources");
    let r = s.run(&["resource", "export", "-r", "Test/Stdin", "-i", r#"{"n":1}"#]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["resources"][0]["properties"], json!({"n": 1}));
}

// ----- errors, exit codes, messages ---------------------------------------------------------

#[test]
fn mapped_exit_code_shows_the_manifest_description() {
    let s = Sandbox::new("resources");
    let r = s.run(&["resource", "get", "-r", "Test/Fail", "-i", r#"{"code":3}"#]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("exit code 3: the widget is broken"),
        "{}",
        r.stderr
    );
}

#[test]
fn unmapped_exit_code_shows_the_resources_stderr_text() {
    let s = Sandbox::new("resources");
    let r = s.run(&["resource", "get", "-r", "Test/Fail", "-i", r#"{"code":5}"#]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("exit code 5: plain failure text"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("ERROR [Test/Fail] structured failure"),
        "{}",
        r.stderr
    );
}

#[test]
fn trace_level_chooses_which_resource_messages_are_shown() {
    let s = Sandbox::new("resources");
    let r = s.run(&["resource", "get", "-r", "Test/Messages"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("message at error") && r.stderr.contains("message at warn"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("message at info"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("just some text"),
        "plain text is shown only on failure"
    );
    assert_eq!(r.json()["actualState"]["trace"], "warn");

    let r = s.run(&["-l", "trace", "resource", "get", "-r", "Test/Messages"]);
    for level in ["error", "warn", "info", "debug", "trace"] {
        assert!(
            r.stderr.contains(&format!("message at {level}")),
            "{}",
            r.stderr
        );
    }
    assert!(
        r.stderr.contains("INFO  [Test/Messages] tracing style"),
        "{}",
        r.stderr
    );
    assert_eq!(r.json()["actualState"]["trace"], "trace");
}

#[test]
fn megabytes_on_stdout_and_stderr_do_not_deadlock() {
    let s = Sandbox::new("resources");
    let start = Instant::now();
    let r = s.run(&["resource", "get", "-r", "Test/Big"]);
    assert_eq!(r.code, 0, "{}", &r.stderr[..r.stderr.len().min(500)]);
    assert_eq!(
        r.json()["actualState"]["blob"].as_str().unwrap().len(),
        10_000_000
    );
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_hanging_resource_is_killed_at_the_timeout() {
    let s = Sandbox::new("resources");
    let start = Instant::now();
    let r = s.run(&["resource", "get", "-r", "Test/Hang", "--timeout", "0.5"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("did not finish within 0.500s"),
        "{}",
        r.stderr
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_missing_executable_is_a_clear_error() {
    let s = Sandbox::new("resources");
    let r = s.run(&["resource", "get", "-r", "Test/Missing"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("traek-no-such-executable-xyz") && r.stderr.contains("not found"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_unknown_type_is_exit_code_7() {
    let s = Sandbox::new("resources");
    let r = s.run(&["resource", "get", "-r", "Test/Nothing"]);
    assert_eq!(r.code, 7);
    assert!(r.stderr.contains("Test/Nothing"), "{}", r.stderr);
}

#[test]
fn invalid_arguments_are_exit_code_1() {
    let s = Sandbox::new("resources");
    assert_eq!(s.run(&["resource", "get"]).code, 1);
    assert_eq!(
        s.run(&["resource", "get", "-r", "Test/File", "--bogus"])
            .code,
        1
    );
    assert_eq!(
        s.run(&["resource", "get", "-r", "Test/File", "-v", "not a version"])
            .code,
        1
    );
    assert_eq!(s.run(&["-l", "loud", "resource", "list"]).code, 1);
    let r = s.run(&["resource", "set", "-r", "Test/File"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("-i"), "{}", r.stderr);
    assert_eq!(s.run(&["--help"]).code, 0);
    assert!(s.run(&["--help"]).stdout.contains("7  resource type"));
}

#[test]
fn a_deprecated_resource_warns() {
    let s = Sandbox::new("resources");
    let r = s.run(&[
        "resource",
        "get",
        "-r",
        "Test/Deprecated",
        "-i",
        r#"{"name":"x"}"#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("use Test/File instead"), "{}", r.stderr);
}

// ----- schemas ------------------------------------------------------------------------------

#[test]
fn schema_command_runs_once_per_process() {
    let s = Sandbox::new("resources");
    let r = s.run(&[
        "resource",
        "set",
        "-r",
        "Test/SchemaCommand",
        "-i",
        r#"{"name":"s","content":"x"}"#,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let calls = s.calls();
    assert_eq!(
        calls.iter().filter(|c| *c == "schema").count(),
        1,
        "{calls:?}"
    );
}

#[test]
fn resource_schema_prints_the_instance_schema() {
    let s = Sandbox::new("resources");
    let r = s.run(&["resource", "schema", "-r", "Test/File"]);
    assert_eq!(r.json()["required"], json!(["name"]));
    let r = s.run(&["resource", "schema", "-r", "Test/SchemaCommand"]);
    assert_eq!(r.json()["required"], json!(["name"]));
    let r = s.run(&["resource", "schema", "-r", "Test/Env"]);
    assert_eq!(r.code, 2);
}

#[test]
fn schema_resource_manifest_prints_the_manifest_json_schema() {
    let s = Sandbox::new("resources");
    let r = s.run(&["schema", "resource-manifest"]);
    let v = r.json();
    assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert!(v["properties"]["exitCodes"].is_object());
    let r = s.run(&["schema", "resource-manifest", "-o", "yaml"]);
    assert!(
        r.stdout.contains("title: DSC resource manifest"),
        "{}",
        r.stdout
    );
}

#[test]
fn output_formats_are_json_pretty_json_and_yaml() {
    let s = Sandbox::new("resources");
    let args = [
        "resource",
        "get",
        "-r",
        "Test/Stdin",
        "-i",
        r#"{"n":1}"#,
        "-o",
    ];
    let run = |f: &str| s.run(&[&args[..], &[f]].concat()).stdout;
    assert_eq!(run("json"), "{\"actualState\":{\"n\":1}}\n");
    assert_eq!(
        run("pretty-json"),
        "{\n  \"actualState\": {\n    \"n\": 1\n  }\n}\n"
    );
    assert_eq!(run("yaml"), "actualState:\n  n: 1\n");
}

// ----- discovery ----------------------------------------------------------------------------

#[test]
fn versions_select_the_newest_unless_a_requirement_is_given() {
    let s = Sandbox::new("resources");
    let v = |args: &[&str]| {
        let r = s.run(&[&["resource", "get", "-r", "Test/Versioned"], args].concat());
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.json()["actualState"]["argv"][1]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(v(&[]), "2.0.0");
    assert_eq!(v(&["-v", "=1.1.2"]), "1.1.2");
    assert_eq!(v(&["-v", "1.0.0"]), "1.0.0");
    assert_eq!(v(&["--version", ">=1.1,<2"]), "1.1.2");
    assert_eq!(v(&["-v", "^1"]), "1.1.2");
    let r = s.run(&["resource", "get", "-r", "Test/Versioned", "-v", "^3"]);
    assert_eq!(r.code, 7);
    assert!(
        r.stderr.contains("available: 1.0.0, 1.1.2, 2.0.0"),
        "{}",
        r.stderr
    );
}

fn manifest(type_name: &str, version: &str, description: &str) -> String {
    json!({"$schema": "x", "type": type_name, "version": version, "description": description,
           "get": {"executable": "cat", "input": "stdin"}})
    .to_string()
}

#[test]
fn a_listing_piped_into_a_reader_that_stops_early_ends_quietly_with_exit_code_0() {
    use std::io::{BufRead, BufReader};
    // Far more output than a pipe holds, so traek is still writing when the reader leaves.
    let d = tempfile::tempdir().unwrap();
    let long = "x".repeat(500);
    for i in 0..600 {
        let text = manifest(&format!("Test/R{i:04}"), "1.0.0", &long);
        std::fs::write(d.path().join(format!("r{i:04}.dsc.resource.json")), text).unwrap();
    }
    let s = Sandbox::with_path(d.path().display().to_string());
    let mut child = s
        .command(env!("CARGO_BIN_EXE_traek"))
        .args(["resource", "list", "Test/*"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("Test/R0000"), "{first}");
    // The read end is closed here, as `| head -1` would.
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "killed by a signal? {:?}",
        out.status
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn the_first_of_two_identical_types_in_search_order_wins_with_a_warning() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    std::fs::write(
        a.path().join("d.dsc.resource.json"),
        manifest("Test/Dup", "1.0.0", "from a"),
    )
    .unwrap();
    std::fs::write(
        b.path().join("d.dsc.resource.json"),
        manifest("test/dup", "1.0.0", "from b"),
    )
    .unwrap();
    let s = Sandbox::with_path(format!("{}:{}", b.path().display(), a.path().display()));
    let r = s.run(&["resource", "list", "test/*"]);
    assert_eq!(r.code, 0);
    let lines: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["description"], "from b");
    assert!(r.stderr.contains("also declared in"), "{}", r.stderr);
}

#[test]
fn broken_manifests_are_skipped_with_a_warning_naming_file_and_reason() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("good.dsc.resource.json"),
        manifest("Test/Good", "1.0.0", "ok"),
    )
    .unwrap();
    let unknown = manifest("Test/Unknown", "1.0.0", "x").replacen('{', "{\"frobnicate\": true,", 1);
    std::fs::write(d.path().join("unknown.dsc.resource.json"), unknown).unwrap();
    std::fs::write(
        d.path().join("broken.dsc.resource.yaml"),
        "type: [unclosed\n  version: 1",
    )
    .unwrap();
    std::fs::write(
        d.path().join("bom.dsc.resource.json"),
        format!("\u{feff}{}", manifest("Test/Bom", "1.0.0", "bom")),
    )
    .unwrap();
    std::fs::write(d.path().join("notamanifest.json"), "garbage").unwrap();
    let s = Sandbox::with_path(d.path().display().to_string());
    let r = s.run(&["resource", "list"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let types: Vec<String> = r
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // An unknown member loads the manifest, with a warning naming the member and the file;
    // the built-in group types are always there.
    assert_eq!(
        types,
        vec![
            "Microsoft.DSC/Assertion",
            "Microsoft.DSC/Group",
            "Microsoft.DSC/Include",
            "Test/Bom",
            "Test/Good",
            "Test/Unknown"
        ]
    );
    assert!(
        r.stderr.contains("unknown.dsc.resource.json") && r.stderr.contains("'/frobnicate'"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("broken.dsc.resource.yaml") && r.stderr.contains("invalid YAML"),
        "{}",
        r.stderr
    );
}

#[test]
fn resource_list_filters_by_wildcard_and_prints_json_lines() {
    let s = Sandbox::new("resources");
    let r = s.run(&["resource", "list", "test/file*"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let types: Vec<String> = r
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        types,
        vec![
            "Test/File",
            "Test/FileDiff",
            "Test/FileLiar",
            "Test/FileNoReturn",
            "Test/FileState"
        ]
    );
    let first: Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(
        first["capabilities"],
        json!(["get", "set", "whatIf", "delete", "export"])
    );
}

#[test]
fn completion_scripts_are_printed_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_traek()"),
        ("zsh", "#compdef traek"),
        ("fish", "complete -c traek"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_traek"))
            .args(["completer", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(marker) && text.contains("agent"),
            "{shell}: {}",
            &text[..text.len().min(200)]
        );
        // Nested subcommands and their options are there, `help`'s included.
        assert!(text.contains("register"), "{shell}");
    }
    let bash = std::process::Command::new(env!("CARGO_BIN_EXE_traek"))
        .args(["completer", "bash"])
        .output()
        .unwrap();
    let bash = String::from_utf8_lossy(&bash.stdout);
    assert!(bash.contains("traek__subcmd__help__subcmd__resource__subcmd__get"));
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_traek"))
        .args(["completer", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
}
