//! Functions that read the document, the run or the machine: `parameters`, `variables`,
//! `reference`, `resourceId`, `envvar`, `utcNow`, `context`, `path`, `systemRoot`, `tryWhich`,
//! `secret`, `stdout`, `stateChanged`, `restartRequired`, `loadTextContent`, `loadFileAsBase64`.

use super::{Context, as_str};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

pub(super) fn call(name: &str, a: &[Value], ctx: &dyn Context) -> Option<Result<Value, String>> {
    Some(match name {
        "parameters" => lookup(&a[0], "parameter", |n| ctx.parameter(n)),
        "variables" => lookup(&a[0], "variable", |n| ctx.variable(n)),
        "resourceId" => as_str(&a[0], "the type").and_then(|t| {
            if t.matches('/').count() != 1 {
                return Err(format!(
                    "the type '{t}' must have exactly one '/' (like Microsoft/OSInfo)"
                ));
            }
            Ok(Value::String(super::super::resource_id(t, as_str(&a[1], "the name")?)))
        }),
        "reference" => as_str(&a[0], "the resource id").and_then(|id| {
            ctx.reference(id).ok_or_else(|| {
                format!("no result for '{id}' yet (a reference needs the resource to run earlier: add it to dependsOn)")
            })
        }),
        "envvar" => as_str(&a[0], "the variable name").and_then(|n| {
            ctx.env(n)
                .map(Value::String)
                .ok_or_else(|| format!("environment variable '{n}' is not set"))
        }),
        "utcNow" => utc_now(a, ctx),
        "context" => Ok(json!({"os": os_info(), "security": ctx.security_context()})),
        "path" => path(a),
        "systemRoot" => Ok(Value::String(system_root())),
        "tryWhich" => {
            as_str(&a[0], "the command").map(|c| which(c).map_or(Value::Null, Value::String))
        }
        "secret" => secret(a, ctx),
        "stdout" => Err("No standard output is available from the last executed resource".into()),
        "stateChanged" => as_str(&a[0], "the resource id").and_then(|id| {
            ctx.state_changed(id)
                .map(Value::Bool)
                .ok_or_else(|| format!("there is no state change information for '{id}' (it has not run yet)"))
        }),
        "restartRequired" => restart_required(a, ctx),
        "loadTextContent" => load_text_content(a),
        "loadFileAsBase64" => as_str(&a[0], "the file path").and_then(|p| {
            use base64::Engine;
            let bytes = read_file(p, MAX_BASE64_FILE)?;
            Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)))
        }),
        _ => return None,
    })
}

fn lookup(name: &Value, what: &str, get: impl Fn(&str) -> Option<Value>) -> Result<Value, String> {
    let n = as_str(name, &format!("the {what} name"))?;
    get(n).ok_or_else(|| format!("no {what} named '{n}'"))
}

fn utc_now(a: &[Value], ctx: &dyn Context) -> Result<Value, String> {
    if !ctx.parameter_default() {
        return Err("utcNow() can only be used in the defaultValue of a parameter".into());
    }
    let t = ctx.now().to_offset(time::UtcOffset::UTC);
    let Some(format) = a.first() else {
        return Ok(Value::String(format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.microsecond()
        )));
    };
    Ok(Value::String(format_time(as_str(format, "the format")?, t)))
}

/// Formats a time with the .NET format tokens dsc understands, longest first; any other
/// character is copied.
fn format_time(format: &str, t: time::OffsetDateTime) -> String {
    const TOKENS: &[&str] = &[
        "yyyy", "yy", "y", "dddd", "ddd", "dd", "d", "HH", "H", "mm", "m", "ss", "s", "fff",
        "MMMM", "MMM", "MM", "zzz", "tt",
    ];
    let weekday = t.weekday().to_string();
    let month = t.month().to_string();
    let mut out = String::new();
    let mut rest = format;
    while let Some(c) = rest.chars().next() {
        let Some(token) = TOKENS.iter().find(|k| rest.starts_with(**k)) else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        out.push_str(&match *token {
            "yyyy" => format!("{:04}", t.year()),
            "yy" => format!("{:02}", t.year().rem_euclid(100)),
            "y" => t.year().to_string(),
            "dddd" => weekday.clone(),
            "ddd" => weekday[..3].to_string(),
            "dd" => format!("{:02}", t.day()),
            "d" => t.day().to_string(),
            "HH" => format!("{:02}", t.hour()),
            "H" => t.hour().to_string(),
            "mm" => format!("{:02}", t.minute()),
            "m" => t.minute().to_string(),
            "ss" => format!("{:02}", t.second()),
            "s" => t.second().to_string(),
            // dsc maps this to chrono's `%f`: nanoseconds, nine digits.
            "fff" => format!("{:09}", t.nanosecond()),
            "MMMM" => month.clone(),
            "MMM" => month[..3].to_string(),
            "MM" => format!("{:02}", u8::from(t.month())),
            "zzz" => "+00:00".to_string(),
            _ => if t.hour() < 12 { "AM" } else { "PM" }.to_string(),
        });
        rest = &rest[token.len()..];
    }
    out
}

/// The largest file `loadFileAsBase64` reads, as in dsc.
const MAX_BASE64_FILE: u64 = 96 * 1024;
/// The most characters `loadTextContent` returns, as in dsc.
const MAX_TEXT_CHARS: usize = 131_072;

fn load_text_content(a: &[Value]) -> Result<Value, String> {
    let path = as_str(&a[0], "the file path")?;
    let encoding = match a.get(1) {
        None => encoding_rs::UTF_8,
        Some(e) => match as_str(e, "the encoding")?.to_lowercase().as_str() {
            "utf-8" => encoding_rs::UTF_8,
            "utf-16" => encoding_rs::UTF_16LE,
            "utf-16be" => encoding_rs::UTF_16BE,
            // As in the Encoding Standard (and dsc), both are read as windows-1252.
            "iso-8859-1" | "us-ascii" => encoding_rs::WINDOWS_1252,
            other => {
                return Err(format!(
                    "unsupported encoding '{other}': use utf-8, utf-16, utf-16BE, iso-8859-1 or us-ascii"
                ));
            }
        },
    };
    // Four bytes per character is the most any of these encodings needs.
    let bytes = read_file(path, 4 * MAX_TEXT_CHARS as u64)?;
    let (text, had_errors) = encoding.decode_without_bom_handling(&bytes);
    if had_errors {
        return Err(format!("'{path}' is not valid {}", encoding.name()));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(format!(
            "'{path}' has more than {MAX_TEXT_CHARS} characters, the most loadTextContent reads"
        ));
    }
    Ok(Value::String(text.into_owned()))
}

/// A file's bytes, refused when it is missing, not a regular file, or larger than `max`.
fn read_file(path: &str, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open '{path}': {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read '{path}': {e}"))?;
    if !meta.is_file() {
        return Err(format!("'{path}' is not a file"));
    }
    if meta.len() > max {
        return Err(format!("'{path}' is larger than {max} bytes"));
    }
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read '{path}': {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!("'{path}' is larger than {max} bytes"));
    }
    Ok(bytes)
}

fn path(a: &[Value]) -> Result<Value, String> {
    let mut p = PathBuf::new();
    for v in a {
        p.push(as_str(v, "every segment")?);
    }
    Ok(Value::String(p.to_string_lossy().into_owned()))
}

fn system_root() -> String {
    if cfg!(windows) {
        std::env::var("SystemDrive").map_or_else(|_| "C:\\".into(), |d| format!("{d}\\"))
    } else {
        "/".into()
    }
}

/// The full path of an executable file named `command` in a `PATH` directory.
pub fn which(command: &str) -> Option<String> {
    if command.is_empty() {
        return None;
    }
    if command.contains(std::path::MAIN_SEPARATOR) {
        return is_executable(Path::new(command)).then(|| command.to_string());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(command))
        .find(|p| is_executable(p))
        .map(|p| p.to_string_lossy().into_owned())
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// `elevated` when the effective user is root, else `restricted` (dsc's meaning on Linux).
pub fn process_security_context() -> &'static str {
    if effective_uid() == Some(0) {
        "elevated"
    } else {
        "restricted"
    }
}

/// The effective user id, from `/proc/self/status` (no `libc` call needed).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The operating system, in the shape of dsc's `Microsoft/OSInfo` resource.
fn os_info() -> Value {
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |key: &str| {
        release.lines().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|r| r.strip_prefix('='))
                .map(|v| v.trim_matches('"').to_string())
        })
    };
    let family = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "macOS",
        "windows" => "Windows",
        other => other,
    };
    let mut info = json!({
        "family": family,
        "version": field("VERSION_ID").unwrap_or_default(),
        "bitness": if cfg!(target_pointer_width = "64") { "64" } else { "32" },
        "architecture": std::env::consts::ARCH,
    });
    if let (Some(m), Some(codename)) = (info.as_object_mut(), field("VERSION_CODENAME")) {
        m.insert("codename".into(), Value::String(codename));
    }
    info
}

fn secret(a: &[Value], ctx: &dyn Context) -> Result<Value, String> {
    let name = as_str(&a[0], "the secret name")?;
    let vault = a.get(1).map(|v| as_str(v, "the vault name")).transpose()?;
    ctx.secret(name, vault).map(Value::String)
}

/// `restartRequired('system')`, `restartRequired('service', NAME)`,
/// `restartRequired('process', NAME)` over the `_restartRequired` entries reported so far.
fn restart_required(a: &[Value], ctx: &dyn Context) -> Result<Value, String> {
    let kind = as_str(&a[0], "the kind")?;
    let name = a.get(1).map(|v| as_str(v, "the name")).transpose()?;
    let entries = ctx.restart_required();
    let found = match (kind, name) {
        ("system", None) => entries.iter().any(|e| e.get("system").is_some()),
        ("system", Some(_)) => return Err("'system' takes no name".into()),
        ("service", Some(n)) => entries
            .iter()
            .any(|e| e.get("service").and_then(Value::as_str) == Some(n)),
        ("process", Some(n)) => entries.iter().any(|e| {
            e.get("process")
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                == Some(n)
        }),
        ("service" | "process", None) => return Err(format!("'{kind}' needs a name")),
        _ => {
            return Err(format!(
                "the kind must be 'system', 'service' or 'process', got '{kind}'"
            ));
        }
    };
    Ok(Value::Bool(found))
}
