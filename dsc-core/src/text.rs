//! Parsing JSON and YAML text from outside the process into [`serde_json::Value`].
//!
//! Everything traek reads (manifests, resource input, resource output) becomes a JSON value
//! first, so that one JSON Schema validator and one set of serde models serve both formats.
//!
//! YAML tags are kept, not dropped: `!embedded {type: object}` becomes
//! `{"embedded": {"type": "object"}}`. That is how Microsoft's `dsc` (through serde_yaml) spells
//! an externally tagged enum in YAML, and it lets `schema: !embedded ...` and
//! `schema: {embedded: ...}` load the same way.

use serde_json::{Map, Number, Value};

/// Which syntax a document was parsed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

/// A JSON or YAML text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// Human-readable reason, with line and column where the parser knows them.
    pub message: String,
}

/// Strips a UTF-8 byte-order mark, if present.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Decodes bytes as UTF-8 (with or without BOM).
pub fn decode_utf8(bytes: &[u8]) -> Result<&str, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ParseError {
        message: format!("not valid UTF-8 ({e})"),
    })?;
    Ok(strip_bom(text))
}

/// Parses JSON text.
pub fn parse_json(text: &str) -> Result<Value, ParseError> {
    serde_json::from_str(strip_bom(text)).map_err(|e| ParseError {
        message: format!("invalid JSON: {e}"),
    })
}

/// Parses YAML text (a single document).
pub fn parse_yaml(text: &str) -> Result<Value, ParseError> {
    let yaml: serde_norway::Value =
        serde_norway::from_str(strip_bom(text)).map_err(|e| ParseError {
            message: format!("invalid YAML: {e}"),
        })?;
    yaml_to_json(yaml)
}

/// Parses text that may be JSON or YAML: JSON when it looks like JSON (starts with `{` or `[`),
/// YAML otherwise. The error of the format that was tried is returned.
pub fn parse_json_or_yaml(text: &str) -> Result<(Value, Format), ParseError> {
    let trimmed = strip_bom(text).trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        match parse_json(trimmed) {
            Ok(v) => Ok((v, Format::Json)),
            // Flow-style YAML (`{a: 1}`) also starts with `{`; accept it when JSON fails.
            Err(json_err) => match parse_yaml(trimmed) {
                Ok(v) => Ok((v, Format::Yaml)),
                Err(_) => Err(json_err),
            },
        }
    } else {
        parse_yaml(trimmed).map(|v| (v, Format::Yaml))
    }
}

/// Converts a YAML value to JSON. Tagged values become single-key objects named after the tag
/// (without `!`); mapping keys must be strings, numbers or booleans.
pub fn yaml_to_json(value: serde_norway::Value) -> Result<Value, ParseError> {
    use serde_norway::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Value::Number(u.into())
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                match Number::from_f64(f) {
                    Some(num) => Value::Number(num),
                    None => {
                        return Err(ParseError {
                            message: format!("YAML number {n} has no JSON representation"),
                        });
                    }
                }
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(seq) => Value::Array(
            seq.into_iter()
                .map(yaml_to_json)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Y::Mapping(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => {
                        return Err(ParseError {
                            message: format!(
                                "YAML mapping key {} is not a string",
                                describe_yaml(&other)
                            ),
                        });
                    }
                };
                out.insert(key, yaml_to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!').to_string();
            let mut out = Map::with_capacity(1);
            out.insert(name, yaml_to_json(tagged.value)?);
            Value::Object(out)
        }
    })
}

fn describe_yaml(v: &serde_norway::Value) -> &'static str {
    use serde_norway::Value as Y;
    match v {
        Y::Null => "null",
        Y::Sequence(_) => "(a sequence)",
        Y::Mapping(_) => "(a mapping)",
        Y::Tagged(_) => "(a tagged value)",
        _ => "(a scalar)",
    }
}

/// Short name of a JSON value's type, for error messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value as text: a string as it is, anything else as JSON.
pub fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether `name` ends with one of `suffixes` (ASCII case-insensitively) and has something
/// before it; the suffix found.
pub fn suffix_ci<'a>(name: &str, suffixes: &[&'a str]) -> Option<&'a str> {
    let bytes = name.as_bytes();
    suffixes.iter().copied().find(|suffix| {
        let n = suffix.len();
        bytes.len() > n && bytes[bytes.len() - n..].eq_ignore_ascii_case(suffix.as_bytes())
    })
}

/// Uppercase hex of a byte string.
pub fn upper_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// Reads a regular file of at most `max` bytes. A FIFO, device or directory is refused without
/// blocking on it, and a larger file without reading it. The bytes are the `len` the file had
/// when it was opened (one read for a small file: open, stat, read, close).
pub fn read_bounded(path: &std::path::Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let mut file = options.open(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".to_string());
    }
    if meta.len() > max {
        return Err(format!(
            "{} bytes, more than the {max} bytes allowed",
            meta.len()
        ));
    }
    let len = usize::try_from(meta.len()).map_err(|e| e.to_string())?;
    let mut bytes = vec![0; len];
    let mut filled = 0;
    while filled < len {
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_tag_becomes_single_key_object() {
        let v = parse_yaml("schema: !embedded\n  type: object\n").unwrap();
        assert_eq!(v, json!({"schema": {"embedded": {"type": "object"}}}));
    }

    #[test]
    fn bom_is_ignored_for_json_and_yaml() {
        assert_eq!(parse_json("\u{feff}{\"a\":1}").unwrap(), json!({"a": 1}));
        assert_eq!(parse_yaml("\u{feff}a: 1").unwrap(), json!({"a": 1}));
    }

    #[test]
    fn json_or_yaml_accepts_flow_yaml() {
        let (v, f) = parse_json_or_yaml("{a: 1}").unwrap();
        assert_eq!(v, json!({"a": 1}));
        assert_eq!(f, Format::Yaml);
        let (v, f) = parse_json_or_yaml("{\"a\": [1, 2]}").unwrap();
        assert_eq!(v, json!({"a": [1, 2]}));
        assert_eq!(f, Format::Json);
    }

    #[test]
    fn broken_inputs_are_errors_not_panics() {
        assert!(parse_json_or_yaml("{\"a\": ").is_err());
        assert!(parse_yaml("a: [1, 2").is_err());
        assert!(parse_yaml("? [1]\n: 2").is_err());
    }
}
