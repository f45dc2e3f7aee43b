//! Finding the members of a manifest that traek does not know, so that loading can warn about
//! them (by JSON Pointer) instead of rejecting the manifest.
//!
//! The typed model ignores members it does not know; serializing it back gives exactly the
//! members it kept. Every member of the file that is missing from that round trip (and is not
//! `null`, which the model also drops) is unknown. This costs a few microseconds per manifest,
//! where walking the generated JSON Schema would first cost generating it (~0.3 ms a process).

use super::ResourceManifest;
use serde_json::Value;

/// Members whose values are maps with keys of their own (`exitCodes`: `"0"` and `"00"` are the
/// same code), so their keys are not compared.
const MAPS: &[&str] = &["/exitCodes"];

/// JSON Pointers of the members of `value` that `manifest` (parsed from it) did not keep.
pub fn unknown_members(value: &Value, manifest: &ResourceManifest) -> Vec<String> {
    let Ok(kept) = serde_json::to_value(manifest) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    diff(value, &kept, String::new(), &mut out);
    out
}

fn diff(original: &Value, kept: &Value, pointer: String, out: &mut Vec<String>) {
    if MAPS.contains(&pointer.as_str()) {
        return;
    }
    match (original, kept) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let child = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                match b.get(k) {
                    Some(kept_v) => diff(v, kept_v, child, out),
                    None if v.is_null() => {}
                    None => out.push(child),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(x, y, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}
