//! Running a resource's command: arguments, environment, input, stdout, stderr messages,
//! timeouts, exit codes.

use super::*;

impl Engine {
    pub(super) fn invoke(
        &self,
        r: &Resource,
        m: &MethodRef<'_>,
        input: Option<&Value>,
        what_if: bool,
        sink: &mut dyn MessageSink,
    ) -> Result<Invocation> {
        check_security_context(r, m.operation)?;
        let spec = self.command_spec(r, m, input, what_if)?;
        let mut plain = StderrTail::default();
        let mut last_error: Option<String> = None;
        let resource_type = r.type_name.clone();
        let result = process::run(&spec, &mut |line| match parse_stderr_line(line) {
            StderrLine::Message(level, text) => {
                if level == Level::Error {
                    last_error = Some(text.clone());
                }
                self.emit(
                    sink,
                    Message {
                        level,
                        resource_type: Some(resource_type.clone()),
                        message: text,
                    },
                );
            }
            StderrLine::Plain(text) => plain.push(&text),
        });
        let out = result.map_err(|e| run_error(r, m, e))?;
        if out.code != 0 {
            return Err(failure(r, m, out.code, plain.text(), last_error));
        }
        let stdout = String::from_utf8(out.stdout)
            .map_err(|_| bad_output(r, m.operation, "stdout is not valid UTF-8".into()))?;
        Ok(Invocation {
            stdout: crate::adapter::adapter_output(r, stdout),
        })
    }
}

impl Engine {
    /// The process to start for a method: program, arguments, input on stdin or in the
    /// environment, and the engine's environment and timeout.
    fn command_spec(
        &self,
        r: &Resource,
        m: &MethodRef<'_>,
        input: Option<&Value>,
        what_if: bool,
    ) -> Result<CommandSpec> {
        let wrapped = input.map(|v| crate::adapter::adapter_input(r, v));
        let input = wrapped.as_ref();
        let input_json = input.map(|v| v.to_string());
        let mut spec = CommandSpec {
            program: resolve_executable(&r.directory, m.executable),
            args: build_args(r, m.args, input_json.as_deref(), what_if),
            cwd: Some(r.directory.clone()),
            env: Vec::new(),
            stdin: None,
            timeout: self.options.timeout,
        };
        match (m.input, input) {
            (Some(InputKind::Stdin), Some(_)) => spec.stdin = input_json.map(String::into_bytes),
            (Some(InputKind::Env), Some(v)) => {
                for (k, val) in env_from_input(&r.type_name, v)? {
                    spec.env.push((k.into(), val.into()));
                }
            }
            _ => {}
        }
        spec.env.push((
            "DSC_TRACE_LEVEL".into(),
            self.options.trace_level.as_str().into(),
        ));
        spec.env.extend(self.options.env.iter().cloned());
        Ok(spec)
    }
}

/// A process that did not run to the end: timed out, or could not start.
fn run_error(r: &Resource, m: &MethodRef<'_>, e: RunError) -> Error {
    match e {
        RunError::Timeout(t) => Error::Timeout {
            resource: r.type_name.clone(),
            operation: m.operation,
            seconds: t.as_secs_f64(),
        },
        RunError::Spawn(e) => {
            let reason = if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "executable not found (looked in '{}' and on PATH)",
                    r.directory.display()
                )
            } else {
                e.to_string()
            };
            Error::Spawn {
                resource: r.type_name.clone(),
                executable: m.executable.to_string(),
                reason,
            }
        }
    }
}

/// A non-zero exit: the manifest's meaning of the code, then what the resource wrote on
/// stderr (plain lines, else its last error message).
fn failure(
    r: &Resource,
    m: &MethodRef<'_>,
    code: i32,
    stderr_text: String,
    last_error: Option<String>,
) -> Error {
    let described = r
        .manifest
        .exit_codes
        .as_ref()
        .and_then(|c| c.get(&code))
        .cloned();
    let message = match (described, stderr_text.is_empty()) {
        (Some(d), true) => d,
        (Some(d), false) => format!("{d}\n{stderr_text}"),
        (None, false) => stderr_text,
        (None, true) => {
            last_error.unwrap_or_else(|| "the resource wrote no error message".to_string())
        }
    };
    Error::ResourceFailed {
        resource: r.type_name.clone(),
        operation: m.operation,
        code,
        message,
    }
}

/// Refuses a method whose `requireSecurityContext` this process does not meet (elevated =
/// effective uid 0).
fn check_security_context(r: &Resource, operation: &'static str) -> Result<()> {
    let m = &r.manifest;
    let required = match operation {
        "get" => m.get.as_ref().and_then(|x| x.require_security_context),
        "set" => m.set.as_ref().and_then(|x| x.require_security_context),
        "whatIf" => m.what_if.as_ref().and_then(|x| x.require_security_context),
        "test" => m.test.as_ref().and_then(|x| x.require_security_context),
        "delete" => m.delete.as_ref().and_then(|x| x.require_security_context),
        "export" => m.export.as_ref().and_then(|x| x.require_security_context),
        "validate" => m.validate.as_ref().and_then(|x| x.require_security_context),
        "resolve" => m.resolve.as_ref().and_then(|x| x.require_security_context),
        _ => None,
    };
    let Some(required) = required else {
        return Ok(());
    };
    let current = crate::expr::functions::system::process_security_context();
    if required.is_met_by(current) {
        return Ok(());
    }
    Err(Error::SecurityContext {
        resource: r.type_name.clone(),
        operation,
        required: required.as_str(),
        current,
    })
}

pub(super) struct LevelFilter<'a> {
    pub(super) level: Level,
    pub(super) inner: &'a mut dyn MessageSink,
}

impl MessageSink for LevelFilter<'_> {
    fn message(&mut self, m: Message) {
        if m.level.enabled_at(self.level) {
            self.inner.message(m);
        }
    }
}

/// The last 64 KiB of a resource's plain stderr text, for error messages.
#[derive(Default)]
struct StderrTail {
    lines: std::collections::VecDeque<String>,
    bytes: usize,
    dropped: usize,
}

impl StderrTail {
    const LIMIT: usize = 64 * 1024;

    fn push(&mut self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        self.bytes += line.len() + 1;
        self.lines.push_back(line.to_string());
        while self.bytes > Self::LIMIT && self.lines.len() > 1 {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.len() + 1;
                self.dropped += 1;
            }
        }
    }

    fn text(&self) -> String {
        let mut s = String::new();
        if self.dropped > 0 {
            s.push_str(&format!(
                "[{} earlier stderr lines omitted]\n",
                self.dropped
            ));
        }
        for (i, l) in self.lines.iter().enumerate() {
            if i > 0 {
                s.push('\n');
            }
            s.push_str(l);
        }
        s
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the cache lock cannot leave it inconsistent (inserts are atomic).
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Builds the command line from a method's `args`.
///
/// - `jsonInputArg`: the argument, then the input JSON; dropped when there is no input unless
///   `mandatory`, in which case the argument is followed by an empty string (as in dsc).
/// - `resourceTypeArg` / `resourceVersionArg`: the argument, then the type name / version.
/// - `resourcePathArg`: the argument, then the manifest's path (in double quotes when
///   `includeQuotes`).
/// - `whatIfArg`: only in what-if mode.
pub fn build_args(
    r: &Resource,
    args: Option<&[Arg]>,
    input_json: Option<&str>,
    what_if: bool,
) -> Vec<OsString> {
    let mut out = Vec::new();
    for arg in args.unwrap_or_default() {
        match arg {
            Arg::Plain(s) => out.push(s.into()),
            Arg::JsonInput(j) => match input_json {
                Some(json) => {
                    out.push(j.json_input_arg.clone().into());
                    out.push(json.into());
                }
                None if j.mandatory == Some(true) => {
                    out.push(j.json_input_arg.clone().into());
                    out.push(OsString::new());
                }
                None => {}
            },
            Arg::ResourceType(t) => {
                out.push(t.resource_type_arg.clone().into());
                out.push(r.type_name.clone().into());
            }
            Arg::ResourceVersion(v) => {
                out.push(v.resource_version_arg.clone().into());
                out.push(r.version.to_string().into());
            }
            Arg::ResourcePath(p) => {
                out.push(p.resource_path_arg.clone().into());
                let path = r.path.display().to_string();
                out.push(
                    if p.include_quotes == Some(true) {
                        format!("\"{path}\"")
                    } else {
                        path
                    }
                    .into(),
                );
            }
            Arg::WhatIf(w) => {
                if what_if {
                    out.push(w.what_if_arg.clone().into());
                }
            }
            Arg::AdaptedContent(c) => {
                out.push(c.adapted_content_arg.clone().into());
                if let Some(content) = r.adapted.as_ref().and_then(|a| a.content.as_ref()) {
                    out.push(content.to_string().into());
                }
            }
        }
    }
    out
}

/// Environment variables for `input: env`: one per top-level property. Strings as they are,
/// numbers and booleans as text, arrays of scalars joined with `,`, nulls dropped; nested
/// objects (and arrays holding objects or arrays) are an error.
pub fn env_from_input(resource: &str, input: &Value) -> Result<Vec<(String, String)>> {
    let Value::Object(map) = input else {
        return Err(Error::InvalidInput(format!(
            "input for resource '{resource}' must be a JSON object"
        )));
    };
    let mut out = Vec::with_capacity(map.len());
    for (k, v) in map {
        let text = match v {
            Value::Null => continue,
            Value::Array(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for item in items {
                    match scalar_text(item) {
                        Some(t) => parts.push(t),
                        None => {
                            return Err(Error::InvalidInput(format!(
                                "property '{k}' of resource '{resource}' cannot be passed as an environment variable: arrays may hold only strings, numbers and booleans"
                            )));
                        }
                    }
                }
                parts.join(",")
            }
            other => match scalar_text(other) {
                Some(t) => t,
                None => {
                    return Err(Error::InvalidInput(format!(
                        "property '{k}' of resource '{resource}' is an object, which cannot be passed as an environment variable"
                    )));
                }
            },
        };
        out.push((k.clone(), text));
    }
    Ok(out)
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Merges `Map`s for callers that build inputs.
pub fn object(pairs: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::Object(pairs.into_iter().collect::<Map<String, Value>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_config_root_is_set_once_and_the_last_setting_wins() {
        let mut o = EngineOptions::from_process_env();
        assert_eq!(o.config_root(), None);
        o.set_config_root("/a");
        o.set_config_root("/b");
        assert_eq!(o.config_root(), Some(std::path::PathBuf::from("/b")));
        let roots = o.env.iter().filter(|(k, _)| k == "DSC_CONFIG_ROOT").count();
        assert_eq!(roots, 1);
    }

    #[test]
    fn env_input_follows_the_conversion_rules() {
        let vars = env_from_input(
            "T/x",
            &json!({"s": "a b", "n": 3, "b": true, "l": ["x", 1, false], "z": null}),
        )
        .unwrap();
        assert_eq!(
            vars,
            vec![
                ("s".into(), "a b".into()),
                ("n".into(), "3".into()),
                ("b".into(), "true".into()),
                ("l".into(), "x,1,false".into())
            ]
        );
        assert!(env_from_input("T/x", &json!({"o": {"a": 1}})).is_err());
        assert!(env_from_input("T/x", &json!({"l": [[1]]})).is_err());
    }
}
