//! Logical and comparison functions.

use crate::text::plain;
use crate::text::type_name;
use serde_json::Value;
use std::cmp::Ordering;

pub(super) fn call(name: &str, a: &[Value]) -> Option<Result<Value, String>> {
    Some(match name {
        "equals" => Ok(Value::Bool(
            crate::compare::values_match(&a[0], &a[1], None)
                && crate::compare::values_match(&a[1], &a[0], None),
        )),
        "not" => as_bool(&a[0]).map(|b| Value::Bool(!b)),
        "and" => all_bools(a).map(|b| Value::Bool(b.iter().all(|x| *x))),
        "or" => all_bools(a).map(|b| Value::Bool(b.iter().any(|x| *x))),
        "greater" => compare(&a[0], &a[1]).map(|o| Value::Bool(o.is_gt())),
        "greaterOrEquals" => compare(&a[0], &a[1]).map(|o| Value::Bool(o.is_ge())),
        "less" => compare(&a[0], &a[1]).map(|o| Value::Bool(o.is_lt())),
        "lessOrEquals" => compare(&a[0], &a[1]).map(|o| Value::Bool(o.is_le())),
        "coalesce" => Ok(a
            .iter()
            .find(|v| !v.is_null())
            .cloned()
            .unwrap_or(Value::Null)),
        "bool" => to_bool(&a[0]),
        "true" => Ok(Value::Bool(true)),
        "false" => Ok(Value::Bool(false)),
        "null" => Ok(Value::Null),
        _ => return None,
    })
}

fn as_bool(v: &Value) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| format!("expected a boolean, got {}", type_name(v)))
}

fn all_bools(a: &[Value]) -> Result<Vec<bool>, String> {
    a.iter().map(as_bool).collect()
}

fn compare(a: &Value, b: &Value) -> Result<Ordering, String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .zip(y.as_f64())
            .and_then(|(x, y)| x.partial_cmp(&y))
            .ok_or_else(|| "numbers cannot be compared".to_string()),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => Err(format!(
            "cannot compare {} with {}",
            type_name(a),
            type_name(b)
        )),
    }
}

fn to_bool(v: &Value) -> Result<Value, String> {
    match v {
        Value::Bool(b) => Ok(Value::Bool(*b)),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
        Value::Number(n) => Ok(Value::Bool(n.as_f64() != Some(0.0))),
        other => Err(format!("cannot convert {} to a boolean", plain(other))),
    }
}
