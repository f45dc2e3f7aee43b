//! DSC extensions (`*.dsc.extension.json|yaml|yml`) with the `secret` capability: the source of
//! the `secret()` expression function.
//!
//! An extension manifest names an executable and its arguments for `secret`; the argument
//! objects `{"nameArg": "--name"}` and `{"vaultArg": "--vault"}` become the flag followed by the
//! secret's name or vault. The executable prints the secret on stdout (a trailing newline is
//! dropped); empty output means "not mine". As in dsc, every extension is asked, and two that
//! return different values for one name are an error.

use crate::discovery::SearchPath;
use crate::process::{self, CommandSpec};
use crate::text;
use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one extension may take to answer.
const SECRET_TIMEOUT: Duration = Duration::from_secs(30);

/// One extension that can provide secrets.
#[derive(Debug, Clone)]
pub struct SecretExtension {
    pub type_name: String,
    pub directory: PathBuf,
    pub executable: String,
    pub args: Vec<Value>,
}

/// The extensions found on a search path.
#[derive(Debug, Clone, Default)]
pub struct Extensions {
    pub secret: Vec<SecretExtension>,
    /// Files that could not be read as extension manifests, with the reason.
    pub skipped: Vec<String>,
}

fn is_extension_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        ".dsc.extension.json",
        ".dsc.extension.yaml",
        ".dsc.extension.yml",
    ]
    .iter()
    .any(|s| lower.len() > s.len() && lower.ends_with(s))
}

impl Extensions {
    /// Reads every extension manifest at the top level of the search directories.
    pub fn discover(search: &SearchPath) -> Self {
        let mut out = Extensions::default();
        for dir in &search.dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok())
                .filter(|e| is_extension_file(&e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect();
            files.sort();
            for path in files {
                if let Err(reason) = out.load(&path) {
                    out.skipped
                        .push(format!("skipping extension '{}': {reason}", path.display()));
                }
            }
        }
        out
    }

    fn load(&mut self, path: &Path) -> Result<(), String> {
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        let (value, _) =
            text::parse_json_or_yaml(text::decode_utf8(&bytes).map_err(|e| e.message)?)
                .map_err(|e| e.message)?;
        let type_name = value
            .get("type")
            .and_then(Value::as_str)
            .ok_or("the manifest has no 'type'")?
            .to_string();
        let Some(secret) = value.get("secret") else {
            return Ok(());
        };
        let executable = secret
            .get("executable")
            .and_then(Value::as_str)
            .ok_or("'secret' has no 'executable'")?
            .to_string();
        let args = match secret.get("args") {
            None => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err("'secret.args' must be an array".into()),
        };
        self.secret.push(SecretExtension {
            type_name,
            directory: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            executable,
            args,
        });
        Ok(())
    }

    /// The secret `name` (from `vault` when given), asking every secret extension.
    pub fn secret(&self, name: &str, vault: Option<&str>) -> Result<String, String> {
        if self.secret.is_empty() {
            return Err(format!(
                "no extension that provides secrets was found, so secret '{name}' cannot be read"
            ));
        }
        let mut found: Option<String> = None;
        let mut failures = Vec::new();
        for ext in &self.secret {
            match ext.ask(name, vault) {
                Ok(Some(v)) => match &found {
                    Some(prev) if *prev != v => {
                        return Err(format!(
                            "extensions returned different values for secret '{name}'"
                        ));
                    }
                    _ => found = Some(v),
                },
                Ok(None) => {}
                Err(e) => failures.push(format!("{}: {e}", ext.type_name)),
            }
        }
        found.ok_or_else(|| {
            let mut m = format!("secret '{name}' was not found");
            if !failures.is_empty() {
                m.push_str(&format!(" ({})", failures.join("; ")));
            }
            m
        })
    }
}

impl SecretExtension {
    fn ask(&self, name: &str, vault: Option<&str>) -> Result<Option<String>, String> {
        let mut args: Vec<OsString> = Vec::new();
        for a in &self.args {
            match a {
                Value::String(s) => args.push(s.into()),
                Value::Object(o) => {
                    if let Some(flag) = o.get("nameArg").and_then(Value::as_str) {
                        args.push(flag.into());
                        args.push(name.into());
                    } else if let (Some(flag), Some(v)) =
                        (o.get("vaultArg").and_then(Value::as_str), vault)
                    {
                        args.push(flag.into());
                        args.push(v.into());
                    }
                }
                _ => {}
            }
        }
        let spec = CommandSpec {
            program: crate::process::resolve_executable(&self.directory, &self.executable),
            args,
            cwd: Some(self.directory.clone()),
            timeout: Some(SECRET_TIMEOUT),
            ..CommandSpec::default()
        };
        let out = process::run(&spec, &mut |_| {}).map_err(|e| match e {
            process::RunError::Spawn(e) => format!("cannot start '{}': {e}", self.executable),
            process::RunError::Timeout(d) => format!("no answer within {}s", d.as_secs()),
        })?;
        if out.code != 0 {
            return Err(format!("exited with code {}", out.code));
        }
        let mut s = String::from_utf8(out.stdout).map_err(|_| "the secret is not UTF-8")?;
        while s.ends_with('\n') || s.ends_with('\r') {
            s.pop();
        }
        Ok((!s.is_empty()).then_some(s))
    }
}
