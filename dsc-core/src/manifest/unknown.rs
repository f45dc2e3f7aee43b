//! Finding the members of a manifest that traek does not know, so that loading can warn about
//! them (by JSON Pointer) instead of rejecting the manifest.
//!
//! `serde_ignored` reports every member the typed model skips while it is deserialized, in one
//! pass (argument objects too: `arg.rs` reads them without an untagged enum's buffer, which
//! would hide what it skips). A member whose value is `null` is not reported (the model drops
//! nulls too).

use super::ResourceManifest;
use serde_json::Value;

/// The manifest in `value`, and the JSON Pointers of the members it did not keep.
pub fn deserialize(value: &Value) -> Result<(ResourceManifest, Vec<String>), serde_json::Error> {
    let mut unknown = Vec::new();
    let manifest = serde_ignored::deserialize(value, |path| unknown.push(pointer(&path)))?;
    unknown.retain(|p| !value.pointer(p).is_some_and(Value::is_null));
    Ok((manifest, unknown))
}

/// The same from JSON text, without building a [`Value`] first (the text is parsed a second
/// time only when it has unknown members, to leave out those that are `null`).
pub fn deserialize_json(text: &str) -> Result<(ResourceManifest, Vec<String>), serde_json::Error> {
    let mut unknown = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let manifest = serde_ignored::deserialize(&mut de, |path| unknown.push(pointer(&path)))?;
    de.end()?;
    if !unknown.is_empty() {
        let value: Value = serde_json::from_str(text)?;
        unknown.retain(|p| !value.pointer(p).is_some_and(Value::is_null));
    }
    Ok((manifest, unknown))
}

fn pointer(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}/{index}", pointer(parent)),
        Path::Map { parent, key } => format!("{}/{}", pointer(parent), escape(key)),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => pointer(parent),
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
