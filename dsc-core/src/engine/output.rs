//! Reading what a resource printed: one JSON state, a state and its differing properties,
//! and the errors for output that cannot be used.

use super::*;

pub(super) fn not_implemented(r: &Resource, operation: &'static str) -> Error {
    if r.builtin {
        return Error::InvalidInput(format!(
            "'{}' is built into configuration documents: use it as a resource of a document (traek config {operation} -f DOC)",
            r.type_name
        ));
    }
    Error::NotImplemented {
        resource: r.type_name.clone(),
        operation,
    }
}

pub(super) fn bad_output(r: &Resource, operation: &'static str, reason: String) -> Error {
    Error::BadOutput {
        resource: r.type_name.clone(),
        operation,
        reason,
    }
}

pub(super) fn first_schema_error(
    validator: &jsonschema::Validator,
    value: &Value,
) -> Option<String> {
    validator.iter_errors(value).next().map(|e| {
        let path = e.instance_path().to_string();
        if path.is_empty() {
            e.to_string()
        } else {
            format!("at {path}: {e}")
        }
    })
}

pub(super) fn parse_one(r: &Resource, operation: &'static str, stdout: &str) -> Result<Value> {
    if stdout.trim().is_empty() {
        return Err(bad_output(
            r,
            operation,
            "expected JSON on stdout, got nothing".into(),
        ));
    }
    serde_json::from_str(stdout.trim())
        .map_err(|e| bad_output(r, operation, format!("stdout is not one JSON value: {e}")))
}

pub(super) fn parse_state_and_diff(
    r: &Resource,
    operation: &'static str,
    stdout: &str,
) -> Result<(Value, Vec<String>)> {
    let mut values = serde_json::Deserializer::from_str(stdout).into_iter::<Value>();
    let state = match values.next() {
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            return Err(bad_output(
                r,
                operation,
                format!("the state line is not JSON: {e}"),
            ));
        }
        None => {
            return Err(bad_output(
                r,
                operation,
                "expected a state line and a diff line, got nothing".into(),
            ));
        }
    };
    let diff = match values.next() {
        Some(Ok(Value::Array(items))) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                other => Err(bad_output(
                    r,
                    operation,
                    format!("the diff line must list property names, found {other}"),
                )),
            })
            .collect::<Result<Vec<_>>>()?,
        Some(Ok(other)) => {
            return Err(bad_output(
                r,
                operation,
                format!(
                    "the diff line must be an array of property names, not {}",
                    text::type_name(&other)
                ),
            ));
        }
        Some(Err(e)) => {
            return Err(bad_output(
                r,
                operation,
                format!("the diff line is not JSON: {e}"),
            ));
        }
        None => {
            return Err(bad_output(
                r,
                operation,
                "return is stateAndDiff but there is no diff line".into(),
            ));
        }
    };
    Ok((state, diff))
}

pub(super) fn in_desired_state_flag(actual: &Value) -> Option<bool> {
    actual.get("_inDesiredState").and_then(Value::as_bool)
}

pub(super) fn strip_in_desired_state(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.remove("_inDesiredState");
    }
    v
}

pub(super) fn exist_is_false(v: &Value) -> bool {
    v.get("_exist") == Some(&Value::Bool(false))
}
