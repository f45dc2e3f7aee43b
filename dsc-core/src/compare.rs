//! Comparing a desired state with an actual state, the way Microsoft's `dsc` does for its
//! synthetic test (a resource without a `test` method) and for `changedProperties`.
//!
//! The rules, each matching dsc's observable behaviour:
//! - only the keys present in the desired state are compared;
//! - `_exist` defaults to `true` on both sides (a resource that says nothing about existence
//!   exists);
//! - `$schema` is ignored (it is input, not state);
//! - properties whose instance schema says `"writeOnly": true` are skipped (a password the
//!   resource cannot read back never differs);
//! - a key missing from the actual state is compared with the schema's `default` for it;
//! - arrays are equal when they hold the same elements in any order;
//! - nested objects are compared recursively by the same rules (with the nested schema);
//! - numbers compare by value (`1` equals `1.0`); strings compare case-sensitively.

use serde_json::{Map, Value};

/// Names of the top-level properties of `desired` whose values differ in `actual`.
///
/// `schema` is the resource's instance schema, when it has one.
pub fn differing_properties(
    desired: &Value,
    actual: &Value,
    schema: Option<&Value>,
) -> Vec<String> {
    let Value::Object(desired) = desired else {
        return Vec::new();
    };
    let empty = Map::new();
    let actual = actual.as_object().unwrap_or(&empty);
    let mut out = Vec::new();
    for (key, want) in desired.iter() {
        if key == "$schema" {
            continue;
        }
        let prop_schema = property_schema(schema, key);
        if prop_schema
            .and_then(|s| s.get("writeOnly"))
            .and_then(Value::as_bool)
            == Some(true)
        {
            continue;
        }
        let default_exist = Value::Bool(true);
        let have = match actual.get(key) {
            Some(v) if !(key == "_exist" && v.is_null()) => Some(v),
            _ if key == "_exist" => Some(&default_exist),
            _ => prop_schema.and_then(|s| s.get("default")),
        };
        let same = match have {
            Some(have) => values_match(want, have, prop_schema),
            None => false,
        };
        if !same {
            out.push(key.clone());
        }
    }
    // `_exist` defaults to true on the desired side too: an actual `_exist: false` differs.
    if !desired.contains_key("_exist") && actual.get("_exist") == Some(&Value::Bool(false)) {
        out.push("_exist".to_string());
    }
    out
}

/// Whether `have` satisfies `want` under the comparison rules.
pub fn values_match(want: &Value, have: &Value, schema: Option<&Value>) -> bool {
    match (want, have) {
        (Value::Object(_), Value::Object(_)) => differing_properties(want, have, schema).is_empty(),
        (Value::Array(w), Value::Array(h)) => {
            let item_schema = schema.and_then(|s| s.get("items"));
            arrays_match_unordered(w, h, item_schema)
        }
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
        _ => want == have,
    }
}

fn arrays_match_unordered(want: &[Value], have: &[Value], item_schema: Option<&Value>) -> bool {
    if want.len() != have.len() {
        return false;
    }
    let mut used = vec![false; have.len()];
    'outer: for w in want {
        for (i, h) in have.iter().enumerate() {
            if !used[i] && values_match(w, h, item_schema) {
                used[i] = true;
                continue 'outer;
            }
        }
        return false;
    }
    true
}

fn property_schema<'a>(schema: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    schema?.get("properties")?.get(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_desired_keys_are_compared() {
        let d = differing_properties(&json!({"a": 1}), &json!({"a": 1, "b": 2}), None);
        assert!(d.is_empty());
        let d = differing_properties(&json!({"a": 1, "c": 3}), &json!({"a": 2}), None);
        assert_eq!(d, vec!["a", "c"]);
    }

    #[test]
    fn exist_defaults_to_true_on_both_sides() {
        assert!(differing_properties(&json!({"_exist": true}), &json!({}), None).is_empty());
        assert_eq!(
            differing_properties(&json!({"_exist": false}), &json!({}), None),
            vec!["_exist"]
        );
        assert_eq!(
            differing_properties(&json!({"a": 1}), &json!({"a": 1, "_exist": false}), None),
            vec!["_exist"]
        );
    }

    #[test]
    fn schema_key_and_write_only_properties_are_ignored() {
        let schema = json!({"properties": {"pw": {"type": "string", "writeOnly": true}}});
        let d = differing_properties(
            &json!({"$schema": "x", "pw": "secret"}),
            &json!({"pw": null}),
            Some(&schema),
        );
        assert!(d.is_empty());
    }

    #[test]
    fn missing_actual_key_uses_schema_default() {
        let schema = json!({"properties": {"mode": {"default": "auto"}}});
        assert!(
            differing_properties(&json!({"mode": "auto"}), &json!({}), Some(&schema)).is_empty()
        );
        assert_eq!(
            differing_properties(&json!({"mode": "manual"}), &json!({}), Some(&schema)),
            vec!["mode"]
        );
    }

    #[test]
    fn arrays_compare_regardless_of_order() {
        assert!(
            differing_properties(&json!({"l": [1, 2, 2]}), &json!({"l": [2, 1, 2]}), None)
                .is_empty()
        );
        assert_eq!(
            differing_properties(&json!({"l": [1, 2]}), &json!({"l": [1, 1]}), None),
            vec!["l"]
        );
        assert_eq!(
            differing_properties(&json!({"l": [1]}), &json!({"l": [1, 2]}), None),
            vec!["l"]
        );
    }

    #[test]
    fn nested_objects_compare_recursively() {
        let want = json!({"o": {"x": 1, "y": {"z": [1, 2]}}});
        let have = json!({"o": {"x": 1.0, "extra": true, "y": {"z": [2, 1]}}});
        assert!(differing_properties(&want, &have, None).is_empty());
        let have = json!({"o": {"x": 1, "y": {"z": [3]}}});
        assert_eq!(differing_properties(&want, &have, None), vec!["o"]);
    }

    #[test]
    fn strings_are_case_sensitive() {
        assert_eq!(
            differing_properties(&json!({"s": "A"}), &json!({"s": "a"}), None),
            vec!["s"]
        );
    }
}
