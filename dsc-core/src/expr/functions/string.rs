//! String functions, including URIs, data URIs, Base64 and `uniqueString`.

use super::{as_array, as_int, as_str};
use crate::text::plain;
use crate::text::type_name;
use base64::Engine as _;
use serde_json::Value;

pub(super) fn call(name: &str, a: &[Value]) -> Option<Result<Value, String>> {
    let s = |i: usize, what: &str| as_str(&a[i], what).map(str::to_string);
    Some(match name {
        "concat" => concat(a),
        "format" => format(a),
        "string" => Ok(Value::String(plain(&a[0]))),
        "toLower" => s(0, "the argument").map(|x| Value::String(x.to_lowercase())),
        "toUpper" => s(0, "the argument").map(|x| Value::String(x.to_uppercase())),
        "trim" => s(0, "the argument").map(|x| Value::String(x.trim().to_string())),
        "base64" => s(0, "the argument").map(|x| Value::String(b64().encode(x))),
        "base64ToString" => s(0, "the argument").and_then(|x| decode_base64(&x)),
        "startsWith" => two_strings(a).map(|(x, y)| Value::Bool(x.starts_with(y))),
        "endsWith" => two_strings(a).map(|(x, y)| Value::Bool(x.ends_with(y))),
        "substring" => substring(a),
        "join" => join(a),
        "uniqueString" => unique_string(a),
        "uri" => two_strings(a).and_then(|(b, r)| combine_uri(b, r).map(Value::String)),
        "uriComponent" => s(0, "the argument").map(|x| Value::String(encode_component(&x))),
        "uriComponentToString" => s(0, "the argument").and_then(|x| decode_component(&x)),
        "dataUri" => s(0, "the argument").map(|x| {
            Value::String(format!(
                "data:text/plain;charset=utf8;base64,{}",
                b64().encode(x)
            ))
        }),
        "dataUriToString" => s(0, "the argument").and_then(|x| data_uri_to_string(&x)),
        _ => return None,
    })
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn two_strings(a: &[Value]) -> Result<(&str, &str), String> {
    Ok((
        as_str(&a[0], "the first argument")?,
        as_str(&a[1], "the second argument")?,
    ))
}

fn decode_base64(s: &str) -> Result<Value, String> {
    let bytes = b64().decode(s).map_err(|e| format!("not base64: {e}"))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| "the decoded bytes are not UTF-8".into())
}

/// `concat()` as dsc's: all strings (joined), or all arrays of strings (one array).
fn concat(a: &[Value]) -> Result<Value, String> {
    if a.iter().all(Value::is_string) {
        return Ok(Value::String(a.iter().filter_map(Value::as_str).collect()));
    }
    if a.iter().all(Value::is_array) {
        let items: Vec<Value> = a
            .iter()
            .filter_map(Value::as_array)
            .flatten()
            .cloned()
            .collect();
        if let Some(other) = items.iter().find(|v| !v.is_string()) {
            return Err(format!(
                "arrays are joined only when they hold strings, and one holds {}",
                type_name(other)
            ));
        }
        return Ok(Value::Array(items));
    }
    Err("arguments must be all strings or all arrays of strings".into())
}

/// `format()` as dsc's: `{N}` or `{N:spec}` with spec `x`, `X`, `o`, `b`, `e`, `E` (numbers
/// only) or empty; `{{` and `}}` for braces. Every argument must be a boolean, an integer or a
/// string, used or not.
fn format(a: &[Value]) -> Result<Value, String> {
    let f = as_str(&a[0], "the format string")?;
    for (i, v) in a[1..].iter().enumerate() {
        let ok = match v {
            Value::Bool(_) | Value::String(_) => true,
            Value::Number(n) => n.is_i64(),
            _ => false,
        };
        if !ok {
            return Err(format!(
                "argument {i} is {}: format() takes booleans, integers and strings",
                type_name(v)
            ));
        }
    }
    let mut out = String::new();
    let mut rest = f;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err("a '}' in the format string has no '{' (write '}}' for a brace)".into());
        }
        let end = tail.find('}').ok_or("unclosed '{' in the format string")?;
        out.push_str(&placeholder(&tail[1..end], &a[1..])?);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

/// One `{N[:spec]}` of `format()` (without its braces).
fn placeholder(inner: &str, args: &[Value]) -> Result<String, String> {
    let (index, spec) = inner.split_once(':').unwrap_or((inner, ""));
    let n: usize = index
        .parse()
        .map_err(|_| format!("'{{{inner}}}' is not a placeholder like {{0}} or {{0:x}}"))?;
    let v = args
        .get(n)
        .ok_or_else(|| format!("placeholder {{{n}}} has no argument"))?;
    if spec.is_empty() {
        return Ok(plain(v));
    }
    let Some(i) = v.as_i64() else {
        return Err(format!(
            "'{{{inner}}}' formats numbers, but argument {n} is {}",
            type_name(v)
        ));
    };
    Ok(match spec {
        "x" => format!("{i:x}"),
        "X" => format!("{i:X}"),
        "o" => format!("{i:o}"),
        "b" => format!("{i:b}"),
        "e" => format!("{i:e}"),
        "E" => format!("{i:E}"),
        other => {
            return Err(format!("'{other}' is not a format (x, X, o, b, e or E)"));
        }
    })
}

fn substring(a: &[Value]) -> Result<Value, String> {
    let s = as_str(&a[0], "the string")?;
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len() as i64;
    let start = as_int(&a[1], "the start index")?;
    if start < 0 || start > len {
        return Err(format!(
            "the start index {start} is outside the string (length {len})"
        ));
    }
    let length = match a.get(2) {
        Some(v) => as_int(v, "the length")?,
        None => len - start,
    };
    if length < 0 {
        return Err(format!("the length must not be negative, got {length}"));
    }
    if start + length > len {
        return Err(format!(
            "start index {start} plus length {length} is past the end of the string (length {len})"
        ));
    }
    let (from, to) = (start as usize, (start + length) as usize);
    Ok(Value::String(chars[from..to].iter().collect()))
}

fn join(a: &[Value]) -> Result<Value, String> {
    let items = as_array(&a[0], "the first argument")?;
    let delimiter = as_str(&a[1], "the delimiter")?;
    let parts = items
        .iter()
        .map(|v| match v {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(plain(v)),
            other => Err(format!(
                "array elements must be strings, numbers or booleans, got {}",
                type_name(other)
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::String(parts.join(delimiter)))
}

/// MurmurHash64A of the arguments joined with `-`, as 13 lower-case Base32 characters (dsc's
/// algorithm, so the same arguments give the same string in both).
fn unique_string(a: &[Value]) -> Result<Value, String> {
    let parts = a
        .iter()
        .map(|v| as_str(v, "every argument"))
        .collect::<Result<Vec<_>, _>>()?;
    let hash = murmurhash64::murmur_hash64a(parts.join("-").as_bytes(), 0);
    Ok(Value::String(base32::encode(
        base32::Alphabet::Rfc4648Lower { padding: false },
        &hash.to_le_bytes(),
    )))
}

/// Combines a base and a relative URI as dsc does: a base ending in `/` is extended; otherwise
/// the base's last path segment is replaced, and a base that is only `scheme://host` gets a
/// `/` before the relative part (as .NET's `Uri` does). The base may not be empty.
fn combine_uri(base: &str, relative: &str) -> Result<String, String> {
    if base.is_empty() {
        return Err("the baseUri must not be empty".into());
    }
    if relative.is_empty() {
        return Ok(base.to_string());
    }
    if base.ends_with('/') {
        return Ok(format!(
            "{base}{}",
            relative.strip_prefix('/').unwrap_or(relative)
        ));
    }
    let authority_start = if base.starts_with("http://") || base.starts_with("https://") {
        base.find("://").map_or(0, |p| p + 3)
    } else if base.starts_with("//") {
        2
    } else {
        0
    };
    Ok(match base[authority_start..].rfind('/') {
        Some(slash) => {
            let keep = &base[..=authority_start + slash];
            match relative.strip_prefix('/') {
                Some(rest) => format!("{keep}{rest}"),
                None => format!("{keep}{relative}"),
            }
        }
        None if relative.starts_with('/') => format!("{base}{relative}"),
        None => format!("{base}/{relative}"),
    })
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode_component(s: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, KEEP).to_string()
}

fn decode_component(s: &str) -> Result<Value, String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| Value::String(c.into_owned()))
        .map_err(|_| "the decoded bytes are not UTF-8".into())
}

/// `dataUriToString()` as dsc's: only base64 data URIs, in UTF-8 (a `charset` other than
/// `utf-8`/`utf8` is refused).
fn data_uri_to_string(s: &str) -> Result<Value, String> {
    let rest = s
        .strip_prefix("data:")
        .ok_or("not a data URI (it must start with 'data:')")?;
    let (meta, data) = rest
        .split_once(',')
        .ok_or("not a data URI (there is no ',' before the data)")?;
    if !meta.contains(";base64") {
        return Err("only base64 data URIs are supported (';base64' before the ',')".into());
    }
    if let Some(charset) = meta
        .split(';')
        .filter_map(|p| p.strip_prefix("charset="))
        .find(|c| !c.eq_ignore_ascii_case("utf-8") && !c.eq_ignore_ascii_case("utf8"))
    {
        return Err(format!("charset '{charset}' is not supported (only UTF-8)"));
    }
    decode_base64(data)
}
