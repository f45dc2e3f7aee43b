//! Array and object functions.

use super::{as_array, as_int, as_object, as_str};
use crate::text::plain;
use crate::text::type_name;
use serde_json::{Map, Value, json};

pub(super) fn call(name: &str, a: &[Value]) -> Option<Result<Value, String>> {
    Some(match name {
        "createArray" => create_array(a),
        "createObject" => create_object(a),
        "array" => match &a[0] {
            v @ (Value::String(_) | Value::Number(_) | Value::Object(_) | Value::Array(_)) => {
                Ok(Value::Array(vec![v.clone()]))
            }
            other => Err(format!(
                "the argument must be a string, number, object or array, got {}",
                type_name(other)
            )),
        },
        "json" => as_str(&a[0], "the argument")
            .and_then(|s| serde_json::from_str(s).map_err(|e| format!("not JSON: {e}"))),
        "length" => length(&a[0]),
        "contains" => contains(&a[0], &a[1]),
        "empty" => Ok(Value::Bool(match &a[0] {
            Value::Null => true,
            Value::Array(x) => x.is_empty(),
            Value::Object(x) => x.is_empty(),
            Value::String(s) => s.is_empty(),
            _ => false,
        })),
        "union" => union(a),
        "intersection" => intersection(a),
        "first" => end_of(&a[0], true),
        "last" => end_of(&a[0], false),
        "skip" => slice(a, true),
        "take" => slice(a, false),
        "indexOf" => as_array(&a[0], "the first argument")
            .map(|x| position(x.iter().position(|v| *v == a[1]))),
        "lastIndexOf" => as_array(&a[0], "the first argument")
            .map(|x| position(x.iter().rposition(|v| *v == a[1]))),
        "objectKeys" => as_object(&a[0], "the argument")
            .map(|m| Value::Array(m.keys().map(|k| Value::String(k.clone())).collect())),
        "items" => as_object(&a[0], "the argument").map(|m| {
            Value::Array(
                m.iter()
                    .map(|(k, v)| json!({"key": k, "value": v}))
                    .collect(),
            )
        }),
        "shallowMerge" => shallow_merge(&a[0]),
        "tryGet" => try_get(&a[0], &a[1]),
        "tryIndexFromEnd" => try_index_from_end(&a[0], &a[1]),
        _ => return None,
    })
}

/// `createArray()` as dsc's: values of one kind (strings, numbers, objects or arrays).
fn create_array(a: &[Value]) -> Result<Value, String> {
    let kind = |v: &Value| match v {
        Value::String(_) | Value::Number(_) | Value::Object(_) | Value::Array(_) => {
            Ok(type_name(v))
        }
        other => Err(format!(
            "the arguments must be strings, numbers, objects or arrays, got {}",
            type_name(other)
        )),
    };
    if let Some(first) = a.first() {
        let want = kind(first)?;
        for v in a {
            let k = kind(v)?;
            if k != want {
                return Err(format!(
                    "the arguments must all be of one kind: {want} and {k} are mixed"
                ));
            }
        }
    }
    Ok(Value::Array(a.to_vec()))
}

fn create_object(a: &[Value]) -> Result<Value, String> {
    if !a.len().is_multiple_of(2) {
        return Err("needs key/value pairs (an even number of arguments)".into());
    }
    let mut m = Map::new();
    for pair in a.chunks(2) {
        m.insert(as_str(&pair[0], "a key")?.to_string(), pair[1].clone());
    }
    Ok(Value::Object(m))
}

fn length(v: &Value) -> Result<Value, String> {
    Ok(Value::from(match v {
        Value::Array(x) => x.len(),
        Value::Object(x) => x.len(),
        Value::String(s) => s.chars().count(),
        other => return Err(format!("{} has no length", type_name(other))),
    }))
}

fn contains(container: &Value, item: &Value) -> Result<Value, String> {
    Ok(Value::Bool(match (container, item) {
        (Value::Array(x), item) => x.contains(item),
        (Value::Object(x), Value::String(k)) => x.contains_key(k),
        (Value::String(s), item) => s.contains(&plain(item)),
        (c, _) => return Err(format!("cannot search in {}", type_name(c))),
    }))
}

fn union(a: &[Value]) -> Result<Value, String> {
    if a.iter().all(Value::is_array) {
        let mut out: Vec<Value> = Vec::new();
        for x in a.iter().filter_map(Value::as_array).flatten() {
            if !out.contains(x) {
                out.push(x.clone());
            }
        }
        Ok(Value::Array(out))
    } else if a.iter().all(Value::is_object) {
        let mut m = Map::new();
        for o in a.iter().filter_map(Value::as_object) {
            m.extend(o.clone());
        }
        Ok(Value::Object(m))
    } else {
        Err("arguments must be all arrays or all objects".into())
    }
}

fn intersection(a: &[Value]) -> Result<Value, String> {
    let mixed = || "arguments must be all arrays or all objects".to_string();
    match &a[0] {
        Value::Array(first) => {
            let others = a[1..]
                .iter()
                .map(|v| v.as_array().ok_or_else(mixed))
                .collect::<Result<Vec<_>, _>>()?;
            let mut out: Vec<Value> = Vec::new();
            for item in first {
                if others.iter().all(|o| o.contains(item)) && !out.contains(item) {
                    out.push(item.clone());
                }
            }
            Ok(Value::Array(out))
        }
        Value::Object(first) => {
            let others = a[1..]
                .iter()
                .map(|v| v.as_object().ok_or_else(mixed))
                .collect::<Result<Vec<_>, _>>()?;
            let common = first
                .iter()
                .filter(|(k, v)| others.iter().all(|o| o.get(*k) == Some(*v)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Ok(Value::Object(common))
        }
        _ => Err(mixed()),
    }
}

fn end_of(v: &Value, first: bool) -> Result<Value, String> {
    match v {
        Value::Array(x) => {
            let item = if first { x.first() } else { x.last() };
            item.cloned().ok_or_else(|| "the array is empty".into())
        }
        Value::String(s) => {
            let c = if first {
                s.chars().next()
            } else {
                s.chars().next_back()
            };
            c.map(|c| Value::String(c.to_string()))
                .ok_or_else(|| "the string is empty".into())
        }
        other => Err(format!(
            "the argument must be an array or a string, got {}",
            type_name(other)
        )),
    }
}

/// `skip` (drop the first n) and `take` (keep the first n); n is clamped to 0..=length.
fn slice(a: &[Value], skip: bool) -> Result<Value, String> {
    let n = as_int(&a[1], "the count")?;
    let cut = |len: usize| n.clamp(0, len as i64) as usize;
    match &a[0] {
        Value::Array(x) => {
            let k = cut(x.len());
            Ok(Value::Array(if skip { &x[k..] } else { &x[..k] }.to_vec()))
        }
        Value::String(s) => {
            let chars: Vec<char> = s.chars().collect();
            let k = cut(chars.len());
            Ok(Value::String(
                if skip { &chars[k..] } else { &chars[..k] }
                    .iter()
                    .collect(),
            ))
        }
        other => Err(format!(
            "the first argument must be an array or a string, got {}",
            type_name(other)
        )),
    }
}

fn position(p: Option<usize>) -> Value {
    p.map_or(Value::from(-1), Value::from)
}

fn shallow_merge(v: &Value) -> Result<Value, String> {
    let mut out = Map::new();
    for item in as_array(v, "the argument")? {
        let o = item
            .as_object()
            .ok_or_else(|| format!("every element must be an object, got {}", type_name(item)))?;
        out.extend(o.clone());
    }
    Ok(Value::Object(out))
}

fn try_get(source: &Value, key: &Value) -> Result<Value, String> {
    match source {
        Value::Object(m) => Ok(m
            .get(as_str(key, "the key of an object")?)
            .cloned()
            .unwrap_or(Value::Null)),
        Value::Array(x) => {
            let i = as_int(key, "the index of an array")?;
            Ok(usize::try_from(i)
                .ok()
                .and_then(|i| x.get(i))
                .cloned()
                .unwrap_or(Value::Null))
        }
        other => Err(format!(
            "the first argument must be an object or an array, got {}",
            type_name(other)
        )),
    }
}

fn try_index_from_end(source: &Value, index: &Value) -> Result<Value, String> {
    let x = as_array(source, "the first argument")?;
    let from_end = as_int(index, "the index")?;
    Ok(usize::try_from(from_end)
        .ok()
        .filter(|n| *n >= 1 && *n <= x.len())
        .map(|n| x[x.len() - n].clone())
        .unwrap_or(Value::Null))
}
