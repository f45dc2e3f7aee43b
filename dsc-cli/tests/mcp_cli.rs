//! `traek mcp`: the MCP server over stdio, driven as an MCP client would (JSON-RPC lines).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

mod support;
use support::fixtures;

struct Mcp {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    _state: tempfile::TempDir,
}

impl Mcp {
    fn start() -> Self {
        let state = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_traek"))
            .arg("mcp")
            .env("DSC_RESOURCE_PATH", fixtures("compat"))
            .env("TRAEK_TEST_STATE", state.path())
            .env("XDG_CACHE_HOME", state.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut m = Mcp {
            child,
            stdin,
            stdout,
            _state: state,
        };
        let init = m.request(
            1,
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}),
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "traek");
        m.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        m
    }

    fn send(&mut self, v: Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{v}").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends a request and returns the response with the same id.
    fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "server closed stdout"
            );
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["id"] == id {
                return v;
            }
        }
    }

    /// Calls a tool; returns (isError, the text parsed as JSON when it is JSON).
    fn call(&mut self, id: u64, tool: &str, args: Value) -> (bool, Value) {
        let r = self.request(id, "tools/call", json!({"name": tool, "arguments": args}));
        let text = r["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (r["result"]["isError"] == true, value)
    }
}

impl Drop for Mcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn mcp_lists_the_tools_and_invokes_resources_and_configurations() {
    let mut m = Mcp::start();
    let tools = m.request(2, "tools/list", json!({}));
    let mut names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "invoke_dsc_config",
            "invoke_dsc_expression",
            "invoke_dsc_function",
            "invoke_dsc_resource",
            "list_dsc_functions",
            "list_dsc_resources",
            "show_dsc_resource",
            "show_dsc_schema"
        ]
    );

    let (err, list) = m.call(3, "list_dsc_resources", json!({"type_filter": "test/e?ho"}));
    assert!(!err);
    let types: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["Test/Echo"]);
    let (_, adapted) = m.call(4, "list_dsc_resources", json!({"adapter": "Test/Adapter"}));
    assert_eq!(adapted.as_array().unwrap().len(), 4, "{adapted}");

    let (err, got) = m.call(
        5,
        "invoke_dsc_resource",
        json!({"operation": "get", "type": "Test/Echo", "properties": {"a": 1}}),
    );
    assert!(!err);
    assert_eq!(got, json!({"actualState": {"a": 1}}));
    let (err, set) = m.call(6, "invoke_dsc_resource", json!({"operation": "set", "type": "TestAdapted/Listed", "properties": {"name": "m", "value": 3}}));
    assert!(!err, "{set}");
    let (_, after) = m.call(
        7,
        "invoke_dsc_resource",
        json!({"operation": "get", "type": "TestAdapted/Listed", "properties": {"name": "m"}}),
    );
    assert_eq!(after["actualState"]["value"], 3);
    let (_, tested) = m.call(
        8,
        "invoke_dsc_resource",
        json!({"operation": "test", "type": "Test/Echo", "properties": {"value": 1, "want": 2}}),
    );
    assert_eq!(tested["inDesiredState"], false);

    let doc = "$schema: x\nparameters:\n  n: {type: int}\nresources:\n  - {name: e, type: Test/Echo, properties: {n: \"[add(parameters('n'), 1)]\"}}\n";
    let (err, config) = m.call(
        9,
        "invoke_dsc_config",
        json!({"operation": "set", "configuration": doc, "parameters": {"n": 41}, "what_if": true}),
    );
    assert!(!err, "{config}");
    assert_eq!(config["results"][0]["result"]["afterState"]["n"], 42);
    assert_eq!(config["executionInformation"]["executionType"], "whatIf");

    let group = json!({"resources": [{"name": "g", "type": "Test/Echo", "properties": {"v": 2}}]});
    let (err, nested) = m.call(
        12,
        "invoke_dsc_resource",
        json!({"operation": "get", "type": "Microsoft.DSC/Group", "properties": group}),
    );
    assert!(!err, "{nested}");
    assert_eq!(nested[0]["result"]["actualState"]["v"], 2);

    let (err, shown) = m.call(10, "show_dsc_resource", json!({"type": "Test/Echo"}));
    assert!(!err);
    assert_eq!(shown["type"], "Test/Echo");
    let (_, functions) = m.call(11, "list_dsc_functions", json!({}));
    assert_eq!(functions.as_array().unwrap().len(), 85);
}

#[test]
fn mcp_invokes_functions_and_expressions_and_shows_schemas() {
    let mut m = Mcp::start();
    let (err, v) = m.call(
        2,
        "invoke_dsc_function",
        json!({"function": "Concat", "parameters": ["a", "b", "c"]}),
    );
    assert!(!err, "{v}");
    assert_eq!(v, json!({"result": "abc"}));
    let (err, v) = m.call(
        3,
        "invoke_dsc_expression",
        json!({"expression": "[add(mul(2, 3), length('four'))]"}),
    );
    assert!(!err, "{v}");
    assert_eq!(v, json!({"result": 10}));
    let (err, v) = m.call(
        4,
        "invoke_dsc_expression",
        json!({"expression": "plain text"}),
    );
    assert!(!err, "{v}");
    assert_eq!(v, json!({"result": "plain text"}));
    let (err, v) = m.call(5, "show_dsc_schema", json!({"type": "configuration"}));
    assert!(!err, "{v}");
    assert!(v["schema"]["properties"]["resources"].is_object(), "{v}");
    // Failures are tool errors that say what is wrong.
    for (id, tool, args, why) in [
        (
            6,
            "invoke_dsc_function",
            json!({"function": "nope", "parameters": []}),
            "unknown function 'nope'",
        ),
        (
            7,
            "invoke_dsc_function",
            json!({"function": "concat", "parameters": "a"}),
            "JSON array",
        ),
        (
            8,
            "invoke_dsc_function",
            json!({"function": "if", "parameters": [true, 1, 2]}),
            "takes expressions",
        ),
        (
            9,
            "invoke_dsc_function",
            json!({"function": "add", "parameters": [1]}),
            "add",
        ),
        (
            10,
            "invoke_dsc_expression",
            json!({"expression": "[add(1,]"}),
            "expression",
        ),
        (
            11,
            "show_dsc_schema",
            json!({"type": "nonsense"}),
            "resource-manifest",
        ),
    ] {
        let (err, text) = m.call(id, tool, args);
        assert!(err, "{tool}: {text}");
        assert!(
            text.as_str().unwrap_or_default().contains(why),
            "{tool}: {text}"
        );
    }
}

#[test]
fn mcp_reports_failures_as_tool_errors_and_survives_bad_input() {
    let mut m = Mcp::start();
    let (err, text) = m.call(
        2,
        "invoke_dsc_resource",
        json!({"operation": "get", "type": "No/Such"}),
    );
    assert!(err);
    assert!(
        text.as_str().unwrap().contains("'No/Such' was not found"),
        "{text}"
    );
    let (err, text) = m.call(
        3,
        "invoke_dsc_config",
        json!({"operation": "get", "configuration": "{not: [valid"}),
    );
    assert!(err, "{text}");
    let bad = m.request(4, "tools/call", json!({"name": "invoke_dsc_resource", "arguments": {"operation": "explode", "type": "Test/Echo"}}));
    assert!(
        bad.get("error").is_some() || bad["result"]["isError"] == true,
        "{bad}"
    );
    // Lines that are not requests get a JSON-RPC error; the session goes on.
    m.send(json!("not a request"));
    writeln!(m.stdin.as_mut().unwrap(), "{{{{ definitely not json").unwrap();
    let tools = m.request(5, "tools/list", json!({}));
    assert!(tools["result"]["tools"].is_array(), "{tools}");
    // Closing stdin ends the session: traek exits 0.
    drop(m.stdin.take());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = m.child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0), "{status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "traek mcp did not exit after stdin closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
