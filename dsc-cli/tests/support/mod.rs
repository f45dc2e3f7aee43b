//! What the end-to-end tests of `traek` share: a sandbox per test, and the outcome of one run of
//! the binary. Each test file uses the part it needs.
#![allow(dead_code)]

use serde_json::Value;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A folder of `tests/fixtures`.
pub fn fixtures(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(folder)
}

/// The exit code and output of one run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Standard output as one JSON value.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    /// Standard output as JSON Lines.
    pub fn lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

/// A sandbox: the state directory the script resources keep their state in
/// (`TRAEK_TEST_STATE`), a directory for documents, a cache directory (`XDG_CACHE_HOME`), and
/// the resource path traek searches.
pub struct Sandbox {
    pub state: tempfile::TempDir,
    pub docs: tempfile::TempDir,
    pub cache: tempfile::TempDir,
    pub resource_path: OsString,
}

impl Sandbox {
    /// Resources from one folder of `tests/fixtures`.
    pub fn new(fixture_folder: &str) -> Self {
        Self::with_path(fixtures(fixture_folder))
    }

    /// Resources from `path` (a `DSC_RESOURCE_PATH` value).
    pub fn with_path(path: impl Into<OsString>) -> Self {
        Sandbox {
            state: tempfile::tempdir().unwrap(),
            docs: tempfile::tempdir().unwrap(),
            cache: tempfile::tempdir().unwrap(),
            resource_path: path.into(),
        }
    }

    /// Writes a file into the documents directory.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.docs.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A command running `program` in this sandbox.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("DSC_RESOURCE_PATH", &self.resource_path)
            .env("TRAEK_TEST_STATE", self.state.path())
            .env("XDG_CACHE_HOME", self.cache.path());
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_full(args, &[], None)
    }

    pub fn run_with(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        self.run_full(args, envs, None)
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        self.run_full(args, &[], stdin)
    }

    fn run_full(&self, args: &[&str], envs: &[(&str, &str)], stdin: Option<&str>) -> Run {
        let mut c = self.command(env!("CARGO_BIN_EXE_traek"));
        c.args(args)
            .envs(envs.iter().copied())
            .stdin(match stdin {
                Some(_) => Stdio::piped(),
                None => Stdio::null(),
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(text.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Writes `doc` and runs `traek config OP` on it with JSON output.
    pub fn config(&self, op: &str, doc: &str) -> Run {
        let f = self.write("doc.dsc.yaml", doc);
        self.run(&["config", op, "-f", f.to_str().unwrap(), "-o", "json"])
    }

    /// The calls the script resources logged, one line each.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.state.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Sets the stored state of a script resource's instance.
    pub fn write_state(&self, name: &str, state: Value) {
        std::fs::write(
            self.state.path().join(format!("{name}.json")),
            state.to_string(),
        )
        .unwrap();
    }

    /// The stored state of a script resource's instance, if any.
    pub fn state_of(&self, name: &str) -> Option<Value> {
        let text = std::fs::read_to_string(self.state.path().join(format!("{name}.json"))).ok()?;
        serde_json::from_str(&text).ok()
    }
}
