//! Running a resource operation, a document or a package for a frontend.

use super::FrontendError;
use crate::config::document::parse_document;
use crate::config::run::{ConfigResult, Operation, run, run_builtin_resource};
use crate::engine::Engine;
use crate::manifest::VersionReq;
use crate::trace::{Message, MessageSink};
use serde_json::{Map, Value};

/// An operation on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceOp {
    /// The actual state of the instance given (or of the resource's only instance).
    Get,
    /// The actual state of every instance (through the resource's export).
    GetAll,
    Test,
    Set {
        what_if: bool,
    },
    Delete {
        what_if: bool,
    },
    /// Every instance, as a configuration document.
    Export,
    /// The resource's instance JSON Schema.
    Schema,
}

impl ResourceOp {
    /// The operation named `name` (`get`, `set`, `test`, `delete`, `export`, `schema`).
    pub fn parse(name: &str, what_if: bool) -> Result<Self, FrontendError> {
        Ok(match name {
            "get" => ResourceOp::Get,
            "test" => ResourceOp::Test,
            "set" => ResourceOp::Set { what_if },
            "delete" => ResourceOp::Delete { what_if },
            "export" => ResourceOp::Export,
            "schema" => ResourceOp::Schema,
            other => {
                return Err(FrontendError::Usage(format!(
                    "unknown operation '{other}' (get, set, test, delete, export, schema)"
                )));
            }
        })
    }

    /// The operation's name.
    pub fn name(self) -> &'static str {
        match self {
            ResourceOp::Get | ResourceOp::GetAll => "get",
            ResourceOp::Test => "test",
            ResourceOp::Set { .. } => "set",
            ResourceOp::Delete { .. } => "delete",
            ResourceOp::Export => "export",
            ResourceOp::Schema => "schema",
        }
    }
}

/// The configuration operation named `name` (`get`, `test`, `set`, `export`).
pub fn config_operation(name: &str, what_if: bool) -> Result<Operation, FrontendError> {
    Ok(match name {
        "get" => Operation::Get,
        "test" => Operation::Test,
        "set" => Operation::Set { what_if },
        "export" => Operation::Export,
        other => {
            return Err(FrontendError::Usage(format!(
                "unknown operation '{other}' (get, test, set, export)"
            )));
        }
    })
}

/// What an operation produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// One JSON document (a result, a configuration result or document, a schema).
    Value(Value),
    /// One result per instance (`resource get --all`).
    Values(Vec<Value>),
    /// Nothing to show (a delete that is not a what-if).
    Nothing,
}

impl Output {
    /// As one JSON value: `Values` as an array, `Nothing` as `null`.
    pub fn to_json(&self) -> Value {
        match self {
            Output::Value(v) => v.clone(),
            Output::Values(vs) => Value::Array(vs.clone()),
            Output::Nothing => Value::Null,
        }
    }
}

/// How a run ended, beyond its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// One or more resources failed (exit code 2).
    HadErrors,
    /// A `Microsoft.DSC/Assertion` did not hold (exit code 8).
    AssertionFailed,
    /// The run finished but its package could not be removed as it asked (exit code 2).
    RemovalFailed(String),
}

impl Status {
    /// The exit code: 0, 2 or 8, as dsc's.
    pub fn code(&self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::HadErrors | Status::RemovalFailed(_) => 2,
            Status::AssertionFailed => 8,
        }
    }

    /// What went wrong, for the user (`None` when nothing did).
    pub fn message(&self) -> Option<String> {
        match self {
            Status::Ok => None,
            Status::HadErrors => {
                Some("one or more resources failed; see 'messages' in the result".into())
            }
            Status::AssertionFailed => {
                Some("an assertion did not hold; see 'messages' in the result".into())
            }
            Status::RemovalFailed(m) => Some(m.clone()),
        }
    }
}

/// The output of an operation, the messages of a configuration run (attributed to their
/// resources as `Type 'name'`), and its status.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub output: Output,
    pub messages: Vec<Message>,
    pub status: Status,
}

impl Outcome {
    fn of(output: Output) -> Self {
        Outcome {
            output,
            messages: Vec::new(),
            status: Status::Ok,
        }
    }

    /// A configuration run shown as `output`.
    fn of_run(result: &ConfigResult, output: Value) -> Self {
        let status = if result.assertion_failed {
            Status::AssertionFailed
        } else if result.had_errors {
            Status::HadErrors
        } else {
            Status::Ok
        };
        Outcome {
            output: Output::Value(output),
            messages: result
                .messages
                .iter()
                .map(|m| Message {
                    level: m.level,
                    resource_type: Some(format!("{} '{}'", m.type_name, m.name)),
                    message: m.message.clone(),
                })
                .collect(),
            status,
        }
    }

    /// What a configuration run shows: the exported document, else the whole result.
    fn of_document_run(result: &ConfigResult) -> Self {
        let shown = match &result.exported {
            Some(doc) => doc.clone(),
            None => serde_json::to_value(result).unwrap_or(Value::Null),
        };
        Outcome::of_run(result, shown)
    }
}

fn value<T: serde::Serialize>(v: T) -> Result<Output, FrontendError> {
    serde_json::to_value(v)
        .map(Output::Value)
        .map_err(|e| FrontendError::Core(crate::Error::InvalidInput(e.to_string())))
}

/// Runs `op` on the resource `type_name` (newest version matching `version`, e.g. `^2`).
/// Built-in group types run as a one-resource configuration; their result is that resource's.
pub fn invoke_resource(
    engine: &Engine,
    type_name: &str,
    version: Option<&str>,
    op: ResourceOp,
    input: Option<Value>,
    sink: &mut dyn MessageSink,
) -> Result<Outcome, FrontendError> {
    let version = version
        .map(VersionReq::parse)
        .transpose()
        .map_err(FrontendError::Usage)?;
    let r = engine.find(type_name, version.as_ref(), sink)?;
    if r.builtin {
        return invoke_builtin(engine, &r.type_name, op, input);
    }
    let need = |input: Option<Value>| {
        input.ok_or(FrontendError::MissingInput {
            operation: op.name(),
        })
    };
    let output = match op {
        ResourceOp::GetAll => Output::Values(
            engine
                .export(&r, None, sink)?
                .actual_state
                .into_iter()
                .map(|s| serde_json::json!({"actualState": s}))
                .collect(),
        ),
        ResourceOp::Get => value(engine.get(&r, input.as_ref(), sink)?)?,
        ResourceOp::Test => value(engine.test(&r, &need(input)?, sink)?)?,
        ResourceOp::Set { what_if } => value(engine.set(&r, &need(input)?, what_if, sink)?)?,
        ResourceOp::Delete { what_if } => match engine.delete(&r, &need(input)?, what_if, sink)? {
            Some(w) => value(w)?,
            None => Output::Nothing,
        },
        ResourceOp::Export => {
            // An empty filter is no filter.
            let filter = input.filter(|v| v.as_object().is_none_or(|m| !m.is_empty()));
            Output::Value(engine.export_configuration(&r, filter.as_ref(), sink)?)
        }
        ResourceOp::Schema => Output::Value(engine.schema(&r, sink)?),
    };
    Ok(Outcome::of(output))
}

fn invoke_builtin(
    engine: &Engine,
    type_name: &str,
    op: ResourceOp,
    input: Option<Value>,
) -> Result<Outcome, FrontendError> {
    let operation = match op {
        ResourceOp::Get | ResourceOp::GetAll => Operation::Get,
        ResourceOp::Test => Operation::Test,
        ResourceOp::Set { what_if } => Operation::Set { what_if },
        ResourceOp::Export => Operation::Export,
        ResourceOp::Delete { .. } | ResourceOp::Schema => {
            return Err(FrontendError::Usage(format!(
                "'{type_name}' supports get, set, test and export"
            )));
        }
    };
    let input = input.unwrap_or_else(|| Value::Object(Map::new()));
    let result = run_builtin_resource(engine, type_name, &input, operation)
        .ok_or_else(|| FrontendError::Usage(format!("'{type_name}' is not built in")))??;
    Ok(Outcome::of_run(&result, result.single_result()))
}

/// Runs a configuration document (JSON or YAML text). Resources see the engine's
/// `DSC_CONFIG_ROOT` (see [`crate::EngineOptions::set_config_root`]).
pub fn run_document(
    engine: &Engine,
    text: &str,
    parameters: &Map<String, Value>,
    operation: Operation,
) -> Result<Outcome, FrontendError> {
    let doc = parse_document(text)?;
    let result = run(engine, &doc, parameters, operation)?;
    Ok(Outcome::of_document_run(&result))
}

/// What a frontend hears while a package runs.
#[cfg(feature = "package")]
pub struct PackageHooks<'a> {
    /// Verification progress: bytes done, bytes in all.
    pub progress: &'a mut dyn FnMut(u64, u64),
    /// The private directory the package was unpacked into (to remove it on an interrupt).
    pub unpacked: &'a mut dyn FnMut(&std::path::Path),
}

/// Runs a `.dscpkg` package like a document (see [`crate::package::run::run_package`]); a
/// package that could not be removed as it asked ends with [`Status::RemovalFailed`].
#[cfg(feature = "package")]
pub fn run_package(
    options: &crate::engine::EngineOptions,
    package: &std::path::Path,
    trust: &crate::package::run::Trust,
    core_dirs: &[std::path::PathBuf],
    parameters: &Map<String, Value>,
    operation: Operation,
    hooks: PackageHooks<'_>,
) -> Result<Outcome, FrontendError> {
    let run = crate::package::run::run_package(
        options,
        package,
        trust,
        core_dirs,
        parameters,
        operation,
        hooks.progress,
        hooks.unpacked,
    )?;
    let mut outcome = Outcome::of_document_run(&run.result);
    if let Err(message) = run.removed {
        outcome.status = Status::RemovalFailed(message);
    }
    Ok(outcome)
}
