//! Finding the members of a manifest that its JSON Schema does not describe, so that loading
//! can warn about them (by JSON Pointer) instead of rejecting the manifest.

use serde_json::{Map, Value};

/// JSON Pointers of the object members in `value` that `schema` (with `$ref`s into its
/// `$defs`) does not name. Inside `anyOf`/`oneOf`, a member is unknown only when no branch
/// names it.
pub fn unknown_members(value: &Value, schema: &Value) -> Vec<String> {
    let defs = schema.get("$defs").and_then(Value::as_object);
    let mut out = Vec::new();
    walk(value, schema, defs, String::new(), &mut out);
    out
}

fn resolve<'a>(schema: &'a Value, defs: Option<&'a Map<String, Value>>) -> &'a Value {
    let mut s = schema;
    for _ in 0..16 {
        match s
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
            .and_then(|name| defs?.get(name))
        {
            Some(next) => s = next,
            None => break,
        }
    }
    s
}

/// The branches of a schema: itself, or its `anyOf`/`oneOf` alternatives (resolved).
fn branches<'a>(schema: &'a Value, defs: Option<&'a Map<String, Value>>) -> Vec<&'a Value> {
    let s = resolve(schema, defs);
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alts)) = s.get(key) {
            return alts
                .iter()
                .flat_map(|a| branches(a, defs))
                .filter(|b| !b.get("type").is_some_and(|t| t == "null"))
                .collect();
        }
    }
    vec![s]
}

fn walk(
    value: &Value,
    schema: &Value,
    defs: Option<&Map<String, Value>>,
    pointer: String,
    out: &mut Vec<String>,
) {
    let alts = branches(schema, defs);
    match value {
        Value::Object(map) => {
            let with_props: Vec<&Map<String, Value>> = alts
                .iter()
                .filter_map(|b| b.get("properties").and_then(Value::as_object))
                .collect();
            if with_props.is_empty() {
                // A free-form object (metadata, embedded schemas, exit codes).
                return;
            }
            // The branch naming the most of the value's members describes it.
            let best = with_props
                .iter()
                .max_by_key(|p| map.keys().filter(|k| p.contains_key(*k)).count())
                .copied();
            for (k, v) in map {
                let child = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                match best.and_then(|p| p.get(k)) {
                    Some(sub) => walk(v, sub, defs, child, out),
                    None => out.push(child),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(item_schema) = alts.iter().find_map(|b| b.get("items")) {
                    walk(item, item_schema, defs, format!("{pointer}/{i}"), out);
                }
            }
        }
        _ => {}
    }
}
