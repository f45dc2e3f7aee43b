//! The C ABI and the `traek` CLI give the same answers to the same requests: both read
//! traek's settings file from the install directory, run the built-in group types, render
//! configuration results the same way and classify errors with the same codes.

mod common;

use serde_json::{Value, json};
use std::ffi::{CStr, CString, c_char};
use std::path::{Path, PathBuf};
use std::process::Command;
use traek::*;

/// An install directory: a copy of the `traek` binary next to a `traek.settings.json` that
/// makes the test fixtures the only resources (the environment may not override it).
struct Install {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Install {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("traek");
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(common::target_dir().join("traek"), dir.join("traek")).unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let settings = json!({"resourcePath": {
            "allowEnvOverride": false, "appendEnvPath": false, "directories": [fixtures]}});
        std::fs::write(dir.join("traek.settings.json"), settings.to_string()).unwrap();
        Install { _tmp: tmp, dir }
    }

    /// Runs the CLI with JSON output: (exit code, stdout as JSON or null, stderr).
    fn cli(&self, args: &[&str]) -> (u8, Value, String) {
        let out = Command::new(self.dir.join("traek"))
            .args(args)
            .args(["-o", "json"])
            .env_remove("DSC_IGNORE_SETTINGS_FILE")
            .env_remove("TRAEK_IGNORE_SETTINGS_FILE")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let value = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
        let code = out.status.code().unwrap_or(-1) as u8;
        (
            code,
            value,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// An engine made from the same install directory and nothing else.
struct Engine(*mut traek_engine);

impl Engine {
    fn new(install: &Install) -> Self {
        let options = CString::new(json!({"installDir": install.dir}).to_string()).unwrap();
        let mut engine = std::ptr::null_mut();
        let r = unsafe { traek_engine_new(options.as_ptr(), &mut engine) };
        assert_eq!(r, traek_result::TRAEK_OK);
        Engine(engine)
    }

    /// (result code, output JSON or null, last error).
    fn answer(&self, r: traek_result, out: *mut c_char) -> (u8, Value, String) {
        let value = if out.is_null() {
            Value::Null
        } else {
            let text = unsafe { CStr::from_ptr(out) }
                .to_string_lossy()
                .into_owned();
            unsafe { traek_string_free(out) };
            serde_json::from_str(&text).unwrap()
        };
        let error = unsafe { traek_engine_last_error(self.0) };
        let error = if error.is_null() || r == traek_result::TRAEK_OK {
            String::new()
        } else {
            unsafe { CStr::from_ptr(error) }
                .to_string_lossy()
                .into_owned()
        };
        (r as u8, value, error)
    }

    fn invoke(&self, op: &str, ty: &str, input: Option<&str>) -> (u8, Value, String) {
        let op = CString::new(op).unwrap();
        let ty = CString::new(ty).unwrap();
        let input = input.map(|i| CString::new(i).unwrap());
        let mut out = std::ptr::null_mut();
        let r = unsafe {
            traek_resource_invoke(
                self.0,
                op.as_ptr(),
                ty.as_ptr(),
                std::ptr::null(),
                input.as_ref().map_or(std::ptr::null(), |i| i.as_ptr()),
                0,
                &mut out,
            )
        };
        self.answer(r, out)
    }

    fn config(&self, op: &str, doc: &str) -> (u8, Value, String) {
        let op = CString::new(op).unwrap();
        let doc = CString::new(doc).unwrap();
        let mut out = std::ptr::null_mut();
        let r = unsafe {
            traek_config_run(
                self.0,
                op.as_ptr(),
                doc.as_ptr(),
                std::ptr::null(),
                0,
                &mut out,
            )
        };
        self.answer(r, out)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        unsafe { traek_engine_free(self.0) };
    }
}

/// The value without what differs from run to run (times and durations).
fn steady(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "executionInformation"))
                .map(|(k, v)| (k.clone(), steady(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(steady).collect()),
        other => other.clone(),
    }
}

const GROUP: &str = r#"{"resources": [{"name": "a", "type": "Ffi/Echo", "properties": {"v": 1}}]}"#;
const DOCUMENT: &str = r#"{"$schema": "https://aka.ms/dsc/schemas/v3/bundled/config/document.json",
 "resources": [{"name": "e", "type": "Ffi/Echo", "properties": {"v": "[concat('a', 'b')]"}},
               {"name": "g", "type": "Microsoft.DSC/Group", "properties": {"resources": [
                 {"name": "inner", "type": "Ffi/Echo", "properties": {"w": 2}}]}}]}"#;

#[test]
fn resources_and_documents_give_the_same_results_and_codes_through_the_cli_and_the_c_abi() {
    let install = Install::new();
    let engine = Engine::new(&install);
    // (CLI arguments, C ABI call)
    type Call<'a> = Box<dyn Fn() -> (u8, Value, String) + 'a>;
    let cases: Vec<(&str, Vec<&str>, Call)> = vec![
        (
            "get through settings",
            vec![
                "resource",
                "get",
                "-r",
                "ffi/echo",
                "-i",
                r#"{"name": "x"}"#,
            ],
            Box::new(|| engine.invoke("get", "ffi/echo", Some(r#"{"name": "x"}"#))),
        ),
        (
            "a group's get",
            vec!["resource", "get", "-r", "Microsoft.DSC/Group", "-i", GROUP],
            Box::new(|| engine.invoke("get", "Microsoft.DSC/Group", Some(GROUP))),
        ),
        (
            "an assertion's test",
            vec![
                "resource",
                "test",
                "-r",
                "Microsoft.DSC/Assertion",
                "-i",
                GROUP,
            ],
            Box::new(|| engine.invoke("test", "Microsoft.DSC/Assertion", Some(GROUP))),
        ),
        (
            "a group has no delete",
            vec![
                "resource",
                "delete",
                "-r",
                "Microsoft.DSC/Group",
                "-i",
                GROUP,
            ],
            Box::new(|| engine.invoke("delete", "Microsoft.DSC/Group", Some(GROUP))),
        ),
        (
            "an unknown type",
            vec!["resource", "get", "-r", "Ffi/Nothing"],
            Box::new(|| engine.invoke("get", "Ffi/Nothing", None)),
        ),
        (
            "input that does not parse",
            vec!["resource", "get", "-r", "Ffi/Echo", "-i", "{"],
            Box::new(|| engine.invoke("get", "Ffi/Echo", Some("{"))),
        ),
        (
            "a failing resource",
            vec!["resource", "get", "-r", "Ffi/Fail"],
            Box::new(|| engine.invoke("get", "Ffi/Fail", None)),
        ),
        (
            "test without an instance",
            vec!["resource", "test", "-r", "Ffi/Echo"],
            Box::new(|| engine.invoke("test", "Ffi/Echo", None)),
        ),
        (
            "a document with a group and an expression",
            vec!["config", "get", "-i", DOCUMENT],
            Box::new(|| engine.config("get", DOCUMENT)),
        ),
        (
            "a document that does not parse",
            vec!["config", "get", "-i", "resources: ["],
            Box::new(|| engine.config("get", "resources: [")),
        ),
    ];
    let mut seen_codes = Vec::new();
    for (what, args, c_abi) in &cases {
        let (cli_code, cli_out, cli_err) = install.cli(args);
        let (c_code, c_out, c_err) = c_abi();
        assert_eq!(
            cli_code, c_code,
            "{what}: exit code vs result code\n{cli_err}\n{c_err}"
        );
        assert_eq!(steady(&cli_out), steady(&c_out), "{what}: output");
        // The core's errors read the same (each frontend names where the input came from;
        // argument errors speak of its own arguments).
        if c_code > 1 {
            let reason = c_err.split_once(": ").map_or(c_err.as_str(), |(_, r)| r);
            assert!(
                cli_err.contains(reason),
                "{what}: the CLI's message {cli_err:?} differs from {c_err:?}"
            );
        }
        seen_codes.push(c_code);
    }
    // The cases cover success and every error class the requests can reach.
    assert_eq!(seen_codes, [0, 0, 0, 1, 7, 3, 2, 1, 0, 3]);
    // And the results are the real ones, not two agreeing failures.
    let (_, group, _) = engine.invoke("get", "Microsoft.DSC/Group", Some(GROUP));
    assert_eq!(group[0]["result"]["actualState"], json!({"v": 1}));
    let (_, doc, _) = engine.config("get", DOCUMENT);
    assert_eq!(
        doc["results"][0]["result"]["actualState"],
        json!({"v": "ab"})
    );
    assert_eq!(doc["hadErrors"], json!(false));
}
