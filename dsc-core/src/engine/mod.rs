//! The engine: discovery settings and caches, and the resource operations
//! (get, set, test, delete, export, validate, schema; what-if for set and delete).
//!
//! An [`Engine`] is created per process (or per embedding handle); it holds no global state.
//! It is `Send + Sync`: discovery runs once, lazily, and instance schemas are compiled (and schema
//! commands run) at most once per resource.

use crate::compare::differing_properties;
use crate::discovery::{Registry, Resource, SearchPath};
use crate::error::{Error, Result};
use crate::manifest::{Arg, InputKind, Kind, ManifestLoader, ReturnKind, VersionReq};
use crate::process::{self, CommandSpec, RunError};
use crate::results::{ExportResult, GetResult, ResolveResult, TestResult, ValidateResult};
use crate::text;
use crate::trace::{Level, Message, MessageSink, StderrLine, parse_stderr_line};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

mod adapters;
mod exporter;
mod invoke;
mod output;
mod schema;
mod set;

pub use crate::process::resolve_executable;
use invoke::{LevelFilter, lock};
pub use invoke::{build_args, env_from_input, object};
use output::*;

/// How an engine finds and runs resources.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Directories searched for manifests.
    pub search_path: SearchPath,
    /// Messages below this level are dropped; passed to resources as `DSC_TRACE_LEVEL`.
    pub trace_level: Level,
    /// Per-invocation timeout; `None` waits forever.
    pub timeout: Option<Duration>,
    /// Extra environment variables for every resource process (e.g. `DSC_CONFIG_ROOT`).
    pub env: Vec<(OsString, OsString)>,
}

impl EngineOptions {
    /// Sets `DSC_CONFIG_ROOT`, the directory of the document being run: resources see it in
    /// their environment and `Microsoft.DSC/Include` paths are relative to it.
    pub fn set_config_root(&mut self, dir: impl Into<OsString>) {
        self.env.retain(|(k, _)| k != "DSC_CONFIG_ROOT");
        self.env.push(("DSC_CONFIG_ROOT".into(), dir.into()));
    }

    /// The `DSC_CONFIG_ROOT` set with [`EngineOptions::set_config_root`] (or given in `env`).
    pub fn config_root(&self) -> Option<std::path::PathBuf> {
        self.env
            .iter()
            .find(|(k, _)| k == "DSC_CONFIG_ROOT")
            .map(|(_, v)| std::path::PathBuf::from(v))
    }

    /// Options from this process's environment (`DSC_RESOURCE_PATH` / `PATH`), level `warn`,
    /// no timeout.
    pub fn from_process_env() -> Self {
        EngineOptions {
            search_path: SearchPath::from_process_env(),
            trace_level: Level::Warn,
            timeout: None,
            env: Vec::new(),
        }
    }
}

/// A compiled instance schema.
struct InstanceSchema {
    json: Value,
    validator: jsonschema::Validator,
}

/// Discovers and invokes resources.
pub struct Engine {
    options: EngineOptions,
    registry: OnceLock<Registry>,
    extensions: OnceLock<crate::extension::Extensions>,
    /// Adapter manifest path + type → the resources its `list` printed.
    listed: Mutex<HashMap<PathBuf, Arc<Vec<Arc<Resource>>>>>,
    schemas: Mutex<HashMap<PathBuf, Arc<InstanceSchema>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The stdout of one invocation.
struct Invocation {
    stdout: String,
}

/// The pieces of a method that invocation needs.
struct MethodRef<'a> {
    operation: &'static str,
    executable: &'a str,
    args: Option<&'a [Arg]>,
    input: Option<InputKind>,
}

impl<'a> MethodRef<'a> {
    /// The pieces of a get, delete, validate or resolve method.
    fn of(operation: &'static str, m: &'a crate::manifest::Method) -> Self {
        MethodRef {
            operation,
            executable: &m.executable,
            args: m.args.as_deref(),
            input: m.input,
        }
    }
}

impl Engine {
    pub fn new(options: EngineOptions) -> Self {
        Engine {
            options,
            registry: OnceLock::new(),
            extensions: OnceLock::new(),
            listed: Mutex::new(HashMap::new()),
            schemas: Mutex::new(HashMap::new()),
        }
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// The resources on the search path (discovered on first use; warnings go to `sink` then).
    pub fn registry(&self, sink: &mut dyn MessageSink) -> &Registry {
        self.registry.get_or_init(|| {
            let loader = ManifestLoader::new();
            let mut filter = LevelFilter {
                level: self.options.trace_level,
                inner: sink,
            };
            Registry::discover(&self.options.search_path, &loader, &mut filter)
        })
    }

    /// The extensions on the search path (read on first use).
    pub fn extensions(&self) -> &crate::extension::Extensions {
        self.extensions
            .get_or_init(|| crate::extension::Extensions::discover(&self.options.search_path))
    }

    /// Finds a resource for a configuration document: like [`Engine::find`], and when
    /// `require_adapter` is given, the resource must be one that adapter provides.
    pub fn find_for(
        &self,
        type_name: &str,
        version: Option<&VersionReq>,
        require_adapter: Option<&str>,
        sink: &mut dyn MessageSink,
    ) -> Result<Arc<Resource>> {
        let r = self.find(type_name, version, sink)?;
        if let Some(adapter) = require_adapter {
            let by = r
                .adapted
                .as_ref()
                .map(|a| a.adapter.as_str())
                .unwrap_or_default();
            if !by.eq_ignore_ascii_case(adapter) {
                return Err(Error::ResourceNotFound(format!(
                    "resource '{type_name}' is not provided by adapter '{adapter}'"
                )));
            }
        }
        Ok(r)
    }

    /// Finds a resource by type (case-insensitive) and optional version requirement.
    pub fn find(
        &self,
        type_name: &str,
        version: Option<&VersionReq>,
        sink: &mut dyn MessageSink,
    ) -> Result<Arc<Resource>> {
        let r = match self.registry(sink).find(type_name, version) {
            Ok(r) => r,
            Err(e) => self.find_listed(type_name, version, sink).ok_or(e)?,
        };
        if let Some(msg) = &r.manifest.deprecation_message {
            self.emit(
                sink,
                Message::engine(
                    Level::Warn,
                    format!("resource '{}' is deprecated: {msg}", r.type_name),
                ),
            );
        }
        Ok(r)
    }

    // ----- operations -------------------------------------------------------------------

    /// Gets the actual state of an instance. `input` (optional) selects the instance.
    pub fn get(
        &self,
        r: &Resource,
        input: Option<&Value>,
        sink: &mut dyn MessageSink,
    ) -> Result<GetResult> {
        let Some(get) = &r.manifest.get else {
            return Err(not_implemented(r, "get"));
        };
        if let Some(input) = input {
            self.check_input(r, input, sink)?;
        }
        let m = MethodRef::of("get", get);
        let out = self.invoke(r, &m, input, false, sink)?;
        let actual = parse_one(r, "get", &out.stdout)?;
        self.check_output(r, "get", &actual, sink)?;
        Ok(GetResult {
            actual_state: actual,
        })
    }

    /// Tests whether an instance is in the desired state.
    ///
    /// - No `test` method: a synthetic test (get, then compare; see [`crate::compare`]).
    /// - `return: state`: the output is the actual state; `_inDesiredState` in it is honoured,
    ///   otherwise the states are compared.
    /// - `return: stateAndDiff`: a state line, then a line with the differing property names.
    /// - no `return`: the exit code says the test ran; the state comes from a get and is
    ///   compared (as dsc does).
    pub fn test(
        &self,
        r: &Resource,
        desired: &Value,
        sink: &mut dyn MessageSink,
    ) -> Result<TestResult> {
        self.check_input(r, desired, sink)?;
        let Some(test) = &r.manifest.test else {
            return self.synthetic_test(r, desired, sink);
        };
        let m = MethodRef {
            operation: "test",
            executable: &test.executable,
            args: test.args.as_deref(),
            input: test.input,
        };
        let out = self.invoke(r, &m, Some(desired), false, sink)?;
        let schema = self.instance_schema(r, sink)?;
        let schema_json = schema.as_ref().map(|s| &s.json);
        match test.returns {
            Some(ReturnKind::State) => {
                let actual = parse_one(r, "test", &out.stdout)?;
                self.check_output(r, "test", &actual, sink)?;
                let diff = differing_properties(desired, &actual, schema_json);
                let in_desired = in_desired_state_flag(&actual).unwrap_or(diff.is_empty());
                Ok(TestResult {
                    desired_state: desired.clone(),
                    actual_state: actual,
                    in_desired_state: in_desired,
                    differing_properties: diff,
                })
            }
            Some(ReturnKind::StateAndDiff) => {
                let (actual, diff) = parse_state_and_diff(r, "test", &out.stdout)?;
                self.check_output(r, "test", &actual, sink)?;
                let in_desired = in_desired_state_flag(&actual).unwrap_or(diff.is_empty());
                Ok(TestResult {
                    desired_state: desired.clone(),
                    actual_state: actual,
                    in_desired_state: in_desired,
                    differing_properties: diff,
                })
            }
            None => self.synthetic_test(r, desired, sink),
        }
    }

    fn synthetic_test(
        &self,
        r: &Resource,
        desired: &Value,
        sink: &mut dyn MessageSink,
    ) -> Result<TestResult> {
        let actual = self.get(r, Some(desired), sink)?.actual_state;
        let schema = self.instance_schema(r, sink)?;
        let diff = differing_properties(desired, &actual, schema.as_ref().map(|s| &s.json));
        Ok(TestResult {
            desired_state: desired.clone(),
            actual_state: actual,
            in_desired_state: diff.is_empty(),
            differing_properties: diff,
        })
    }

    /// Exports every instance (filtered by `input` when given). The resource prints JSON Lines
    /// (any sequence of JSON values is accepted). Without an export method, falls back to get.
    pub fn export(
        &self,
        r: &Resource,
        input: Option<&Value>,
        sink: &mut dyn MessageSink,
    ) -> Result<ExportResult> {
        let Some(export) = &r.manifest.export else {
            if r.manifest.get.is_some() {
                let g = self.get(r, input, sink)?;
                return Ok(ExportResult {
                    actual_state: vec![g.actual_state],
                });
            }
            return Err(not_implemented(r, "export"));
        };
        let m = MethodRef {
            operation: "export",
            executable: &export.executable,
            args: export.args.as_deref(),
            input: export.input,
        };
        let out = self.invoke(r, &m, input, false, sink)?;
        let mut instances = Vec::new();
        for item in serde_json::Deserializer::from_str(&out.stdout).into_iter::<Value>() {
            let v = item.map_err(|e| bad_output(r, "export", format!("not JSON Lines: {e}")))?;
            self.check_output(r, "export", &v, sink)?;
            instances.push(v);
        }
        Ok(ExportResult {
            actual_state: instances,
        })
    }

    /// Resolves an importer resource's instance to the configuration document it imports
    /// (`{"configuration": {...}, "parameters": {...}}` on stdout).
    pub fn resolve(
        &self,
        r: &Resource,
        input: &Value,
        sink: &mut dyn MessageSink,
    ) -> Result<ResolveResult> {
        let Some(resolve) = &r.manifest.resolve else {
            return Err(not_implemented(r, "resolve"));
        };
        self.check_input(r, input, sink)?;
        let m = MethodRef::of("resolve", resolve);
        let out = self.invoke(r, &m, Some(input), false, sink)?;
        let value = parse_one(r, "resolve", &out.stdout)?;
        serde_json::from_value(value).map_err(|e| {
            bad_output(
                r,
                "resolve",
                format!("expected {{\"configuration\": {{...}}, \"parameters\": {{...}}}}: {e}"),
            )
        })
    }

    /// Validates an instance: with the resource's `validate` method when it has one (which
    /// prints `{"valid": bool, "reason": ...}`), else against the instance schema.
    pub fn validate(
        &self,
        r: &Resource,
        input: &Value,
        sink: &mut dyn MessageSink,
    ) -> Result<ValidateResult> {
        if let Some(v) = &r.manifest.validate {
            let m = MethodRef::of("validate", v);
            let out = self.invoke(r, &m, Some(input), false, sink)?;
            let value = parse_one(r, "validate", &out.stdout)?;
            let valid = value.get("valid").and_then(Value::as_bool).ok_or_else(|| {
                bad_output(
                    r,
                    "validate",
                    "expected an object with a boolean 'valid'".into(),
                )
            })?;
            let reason = value
                .get("reason")
                .and_then(Value::as_str)
                .map(str::to_string);
            return Ok(ValidateResult { valid, reason });
        }
        match self.instance_schema(r, sink)? {
            Some(schema) => Ok(match first_schema_error(&schema.validator, input) {
                None => ValidateResult {
                    valid: true,
                    reason: None,
                },
                Some(e) => ValidateResult {
                    valid: false,
                    reason: Some(e),
                },
            }),
            None => Ok(ValidateResult {
                valid: true,
                reason: None,
            }),
        }
    }

    // ----- invocation -------------------------------------------------------------------

    fn emit(&self, sink: &mut dyn MessageSink, m: Message) {
        if m.level.enabled_at(self.options.trace_level) {
            sink.message(m);
        }
    }
}
