//! dsc's own unit tests of its expression functions, as the specification: every expression
//! below is one that a test in `lib/dsc-lib/src/functions/<file>` of PowerShell/DSC evaluates,
//! written down with the value dsc's test expects, or `Err` where dsc's test expects an error.
//! A case that gives another value, or no error where dsc errors, fails this suite.

use dsc_core::expr::{Standalone, evaluate_string};
use serde_json::{Value, json};

/// What dsc's test expects.
enum Want {
    Is(Value),
    Fails,
}

use Want::*;

/// (dsc's source file, expression, what dsc's test expects)
fn cases() -> Vec<(&'static str, &'static str, Want)> {
    vec![
        // uri.rs
        (
            "uri.rs",
            "[uri('https://example.com/', 'path/file.html')]",
            Is(json!("https://example.com/path/file.html")),
        ),
        (
            "uri.rs",
            "[uri('https://example.com/', '/path/file.html')]",
            Is(json!("https://example.com/path/file.html")),
        ),
        (
            "uri.rs",
            "[uri('https://example.com/api/v1', 'users')]",
            Is(json!("https://example.com/api/users")),
        ),
        (
            "uri.rs",
            "[uri('https://example.com/api/v1', '/users')]",
            Is(json!("https://example.com/api/users")),
        ),
        (
            "uri.rs",
            "[uri('https://example.com', 'path')]",
            Is(json!("https://example.com/path")),
        ),
        (
            "uri.rs",
            "[uri('https://example.com', '/path')]",
            Is(json!("https://example.com/path")),
        ),
        (
            "uri.rs",
            "[uri('https://api.example.com/v2/resource/', 'item/123')]",
            Is(json!("https://api.example.com/v2/resource/item/123")),
        ),
        (
            "uri.rs",
            "[uri('https://example.com/api/', 'search?q=test')]",
            Is(json!("https://example.com/api/search?q=test")),
        ),
        (
            "uri.rs",
            "[uri('https://example.com/', '')]",
            Is(json!("https://example.com/")),
        ),
        (
            "uri.rs",
            "[uri('http://example.com/', 'page.html')]",
            Is(json!("http://example.com/page.html")),
        ),
        (
            "uri.rs",
            "[uri('https://example.com:8080/', 'api')]",
            Is(json!("https://example.com:8080/api")),
        ),
        (
            "uri.rs",
            "[uri(concat('https://example.com', '/'), 'path')]",
            Is(json!("https://example.com/path")),
        ),
        (
            "uri.rs",
            "[uri('//example.com/', 'path')]",
            Is(json!("//example.com/path")),
        ),
        (
            "uri.rs",
            "[uri('https://example.com/a/b/c/', 'd/e/f')]",
            Is(json!("https://example.com/a/b/c/d/e/f")),
        ),
        (
            "uri.rs",
            "[uri('https://example.com/old/path', 'new')]",
            Is(json!("https://example.com/old/new")),
        ),
        ("uri.rs", "[uri('', 'path')]", Fails),
        // data_uri.rs
        (
            "data_uri.rs",
            "[dataUri('Hello')]",
            Is(json!("data:text/plain;charset=utf8;base64,SGVsbG8=")),
        ),
        (
            "data_uri.rs",
            "[dataUri('')]",
            Is(json!("data:text/plain;charset=utf8;base64,")),
        ),
        (
            "data_uri.rs",
            "[dataUri('Hello, World!')]",
            Is(json!(
                "data:text/plain;charset=utf8;base64,SGVsbG8sIFdvcmxkIQ=="
            )),
        ),
        (
            "data_uri.rs",
            "[dataUri('héllo')]",
            Is(json!("data:text/plain;charset=utf8;base64,aMOpbGxv")),
        ),
        ("data_uri.rs", "[dataUri(123)]", Fails),
    ]
}

#[test]
fn every_expression_of_dscs_function_tests_gives_dscs_answer() {
    let mut wrong = Vec::new();
    let cases = cases();
    for (file, expression, want) in &cases {
        let got = evaluate_string(expression, &Standalone);
        let ok = match (want, &got) {
            (Is(v), Ok(g)) => v == g,
            (Fails, Err(_)) => true,
            _ => false,
        };
        if !ok {
            let want = match want {
                Is(v) => v.to_string(),
                Fails => "an error".to_string(),
            };
            let got = match got {
                Ok(v) => v.to_string(),
                Err(e) => format!("error: {e}"),
            };
            wrong.push(format!(
                "{file}: {expression}\n    dsc: {want}\n    traek: {got}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases differ from dsc:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}
