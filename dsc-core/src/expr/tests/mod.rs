//! Expression tests: the function table against values derived from dsc's documentation,
//! error messages and columns.

use super::*;
use serde_json::json;
use std::sync::Arc;

mod documented;

struct Ctx;
impl Context for Ctx {
    fn parameter(&self, name: &str) -> Option<Value> {
        match name {
            "name" => Some(json!("web")),
            "count" => Some(json!(3)),
            "list" => Some(json!(["a", "b"])),
            "obj" => Some(json!({"k": {"deep": [10, 20]}})),
            "flag" => Some(json!(true)),
            _ => None,
        }
    }
    fn variable(&self, name: &str) -> Option<Value> {
        (name == "v").then(|| json!("var"))
    }
    fn reference(&self, id: &str) -> Option<Value> {
        (id == "Test/File:f1").then(|| json!({"path": "/tmp/f1"}))
    }
    fn env(&self, name: &str) -> Option<String> {
        (name == "HOME").then(|| "/root".to_string())
    }
    fn now(&self) -> time::OffsetDateTime {
        time::macros::datetime!(2024-03-05 06:07:08 UTC)
    }
    fn copy_index(&self, loop_name: Option<&str>) -> Option<i64> {
        match loop_name {
            None | Some("inner") => Some(2),
            Some("outer") => Some(1),
            Some(_) => None,
        }
    }
    fn user_function(&self, name: &str) -> Option<Arc<UserFunction>> {
        let f = |params: &[(&str, &str)], output_type: &str, output: &str| {
            Some(Arc::new(UserFunction {
                parameters: params
                    .iter()
                    .map(|(n, t)| (n.to_string(), t.to_string()))
                    .collect(),
                output_type: output_type.into(),
                output: output.into(),
            }))
        };
        match name.to_lowercase().as_str() {
            "math.double" => f(&[("x", "int")], "int", "[mul(parameters('x'), 2)]"),
            "math.quad" => f(
                &[("x", "int")],
                "int",
                "[math.double(math.double(parameters('x')))]",
            ),
            "text.greet" => f(
                &[("who", "string")],
                "string",
                "[concat('hi ', parameters('who'))]",
            ),
            "text.leak" => f(&[], "string", "[variables('v')]"),
            "text.wrongtype" => f(&[], "int", "['no']"),
            "loop.forever" => f(&[], "int", "[loop.forever()]"),
            _ => None,
        }
    }
    fn secret(&self, name: &str, vault: Option<&str>) -> Result<String, String> {
        match (name, vault) {
            ("db", None | Some("main")) => Ok("s3cret".into()),
            _ => Err(format!("secret '{name}' was not found")),
        }
    }
    fn state_changed(&self, id: &str) -> Option<bool> {
        (id == "Test/File:f1").then_some(true)
    }
    fn restart_required(&self) -> Vec<Value> {
        vec![
            json!({"service": "sshd"}),
            json!({"process": {"name": "nginx", "id": 7}}),
        ]
    }
}

fn eval(s: &str) -> Result<Value, ExprError> {
    evaluate_string(s, &Ctx)
}

#[test]
fn expressions_evaluate_as_documented() {
    let cases: Vec<(&str, Value)> = vec![
        ("plain", json!("plain")),
        ("[[not an expression]", json!("[not an expression]")),
        ("['lit']", json!("lit")),
        ("['it''s']", json!("it's")),
        ("[42]", json!(42)),
        ("[-7]", json!(-7)),
        ("[true]", json!(true)),
        ("[null]", json!(null)),
        ("[parameters('name')]", json!("web")),
        ("[PARAMETERS('name')]", json!("web")),
        ("[variables('v')]", json!("var")),
        ("[concat('a', 'b', parameters('name'))]", json!("abweb")),
        (
            "[concat(createArray('a'), createArray('b', 'c'))]",
            json!(["a", "b", "c"]),
        ),
        ("[format('{0}-{1}', 'a', 2)]", json!("a-2")),
        ("[format('{{0}} {0}', 'x')]", json!("{0} x")),
        ("[resourceId('Test/File', 'f1')]", json!("Test/File:f1")),
        (
            "[reference(resourceId('Test/File', 'f1')).path]",
            json!("/tmp/f1"),
        ),
        ("[envvar('HOME')]", json!("/root")),
        ("[if(parameters('flag'), 'yes', 'no')]", json!("yes")),
        ("[if(false, parameters('missing'), 'lazy')]", json!("lazy")),
        ("[equals(1, 1)]", json!(true)),
        ("[equals('a', 'A')]", json!(false)),
        ("[equals(createArray(1,2), createArray(2,1))]", json!(true)),
        ("[not(equals(1, 2))]", json!(true)),
        ("[and(true, true, false)]", json!(false)),
        ("[or(false, true)]", json!(true)),
        ("[greater(3, 2)]", json!(true)),
        ("[greater('b', 'a')]", json!(true)),
        ("[less(parameters('count'), 2)]", json!(false)),
        ("[greaterOrEquals(2, 2)]", json!(true)),
        ("[lessOrEquals(1, 2)]", json!(true)),
        ("[createArray('a', 'b')]", json!(["a", "b"])),
        ("[createArray()]", json!([])),
        (
            "[createObject('a', 1, 'b', createArray())]",
            json!({"a": 1, "b": []}),
        ),
        ("[string(5)]", json!("5")),
        ("[string(createObject('a', 1))]", json!("{\"a\":1}")),
        ("[int('12')]", json!(12)),
        ("[int(3)]", json!(3)),
        ("[bool('TRUE')]", json!(true)),
        ("[bool(0)]", json!(false)),
        ("[json('{\"a\": [1]}').a[0]]", json!(1)),
        ("[length(parameters('list'))]", json!(2)),
        ("[length('héllo')]", json!(5)),
        ("[length(createObject('a', 1))]", json!(1)),
        ("[contains(parameters('list'), 'b')]", json!(true)),
        ("[contains('haystack', 'st')]", json!(true)),
        ("[contains(createObject('k', 1), 'k')]", json!(true)),
        ("[empty('')]", json!(true)),
        ("[empty(createArray(1))]", json!(false)),
        ("[empty(null())]", json!(true)),
        (
            "[union(createArray(1, 2), createArray(2, 3))]",
            json!([1, 2, 3]),
        ),
        (
            "[union(createObject('a', 1), createObject('b', 2, 'a', 3))]",
            json!({"a": 3, "b": 2}),
        ),
        ("[coalesce(null(), null(), 'x')]", json!("x")),
        ("[base64('hi')]", json!("aGk=")),
        ("[base64ToString('aGk=')]", json!("hi")),
        ("[toLower('AbC')]", json!("abc")),
        ("[toUpper('AbC')]", json!("ABC")),
        ("[trim('  x ')]", json!("x")),
        ("[parameters('obj').k.deep[1]]", json!(20)),
        ("[parameters('obj')['k']['deep'][0]]", json!(10)),
        (
            "[parameters('list')[length(parameters('list'))]]",
            Value::Null,
        ),
        ("[ concat( 'a' , 'b' ) ]", json!("ab")),
    ];
    let mut failures = Vec::new();
    for (text, want) in &cases {
        let got = eval(text);
        let ok = match (&got, want) {
            (Err(_), Value::Null) if text.contains("[length(") => true, // out of range: an error
            (Ok(v), w) => v == w,
            _ => false,
        };
        if !ok {
            failures.push(format!("{text}: got {got:?}, want {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.len() >= 60);
}

#[test]
fn errors_name_the_problem_and_its_column() {
    let cases: Vec<(&str, &str, usize)> = vec![
        ("[nosuch(1)]", "unknown function 'nosuch'", 1),
        ("[]x", "text follows the expression's closing ']'", 2),
        (
            "[concat('a')] tail",
            "an expression must be the whole string",
            13,
        ),
        ("[concat('a', nosuch())]", "unknown function 'nosuch'", 13),
        (
            "[parameters()]",
            "'parameters' takes 1 argument(s), got 0",
            1,
        ),
        ("[equals(1)]", "'equals' takes 2 argument(s), got 1", 1),
        ("[if(1, 2)]", "'if' takes 3 argument(s), got 2", 1),
        ("[and(true)]", "takes at least 2 argument(s)", 1),
        ("[parameters('missing')]", "no parameter named 'missing'", 1),
        ("['unterminated]", "unterminated string", 1),
        ("[concat('a' 'b')]", "expected ')'", 12),
        ("[concat('a',)]", "expected a function call", 12),
        ("[concat]", "must be followed by '('", 1),
        ("[1 2]", "unexpected number 2", 3),
        (
            "[parameters('name').x]",
            "cannot read property 'x' of string",
            19,
        ),
        ("[parameters('list')[5]]", "index 5 is out of range", 19),
        (
            "[parameters('list')['a']]",
            "cannot index array with string",
            19,
        ),
        ("[if(1, 'a', 'b')]", "if() needs a boolean", 1),
        ("[int('x')]", "'x' is not a number", 1),
        ("[json('{')]", "not JSON", 1),
        ("[format('{5}', 1)]", "placeholder {5} has no argument", 1),
        ("[concat('a', createArray())]", "all strings", 1),
        ("[createObject('a')]", "even number", 1),
        ("[reference('Test/File:none')]", "no result for", 1),
        ("[envvar('TRAEK_SURELY_UNSET')]", "is not set", 1),
        ("[greater('a', 1)]", "cannot compare", 1),
        ("[a$b()]", "unexpected character '$'", 2),
        ("[-]", "invalid number", 1),
    ];
    for (text, fragment, column) in cases {
        match eval(text) {
            Ok(v) => panic!("{text} evaluated to {v}, expected an error"),
            Err(e) => {
                assert!(
                    e.message.contains(fragment),
                    "{text}: '{}' lacks '{fragment}'",
                    e.message
                );
                assert_eq!(e.column, column, "{text}: {e}");
            }
        }
    }
}

#[test]
fn deeply_nested_expressions_are_refused_not_overflowing_the_stack() {
    let deep = format!("[{}1{}]", "not(".repeat(500), ")".repeat(500));
    let e = eval(&deep).unwrap_err();
    assert!(e.message.contains("nests more than 64 levels"), "{e}");
}

#[test]
fn utc_now_works_only_in_a_parameter_default_and_formats_like_dsc() {
    let default = ParameterDefault(&Ctx);
    let cases = [
        ("[utcNow()]", "2024-03-05T06:07:08.000000Z"),
        ("[utcNow('yyyy-MM-dd')]", "2024-03-05"),
        ("[utcNow('yyyyMMddTHHmmssZ')]", "20240305T060708Z"),
        (
            "[utcNow('dddd d MMMM yy, ddd MMM')]",
            "Tuesday 5 March 24, Tue Mar",
        ),
        (
            "[utcNow('H:m:s.fff tt zzz y')]",
            "6:7:8.000000000 AM +00:00 2024",
        ),
    ];
    for (expression, want) in cases {
        assert_eq!(
            evaluate_string(expression, &default).unwrap(),
            json!(want),
            "{expression}"
        );
    }
    let err = evaluate_string("[utcNow()]", &Ctx).unwrap_err();
    assert!(err.message.contains("defaultValue of a parameter"), "{err}");
}
