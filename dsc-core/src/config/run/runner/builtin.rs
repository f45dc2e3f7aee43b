//! The group resources traek runs itself: `Microsoft.DSC/Group` (nested resources, run with
//! the document's operation), `Microsoft.DSC/Assertion` (nested resources tested whatever the
//! operation; resources depending on a failed assertion are skipped) and
//! `Microsoft.DSC/Include` (another document, with its own parameters). Their `result` is the
//! list of the nested results, as dsc prints it; after `test`, a group's and an assertion's is a
//! test response with that list as `actualState`.

use super::{Outcome, Runner};
use crate::config::document::{ResourceEntry, parse_document, parse_parameters_input};
use crate::config::run::scope::evaluate_tree;
use crate::config::run::{ConfigMessage, Operation, RunError};
use crate::trace::{Level, Message};
use serde_json::{Map, Value};
use std::path::Path;

/// How deeply includes may nest (an include of itself stops here).
const MAX_INCLUDE_DEPTH: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Builtin {
    Group,
    Assertion,
    Include,
}

/// The built-in a type name denotes (case-insensitive).
pub(super) fn kind(type_name: &str) -> Option<Builtin> {
    match type_name.to_ascii_lowercase().as_str() {
        "microsoft.dsc/group" => Some(Builtin::Group),
        "microsoft.dsc/assertion" => Some(Builtin::Assertion),
        "microsoft.dsc/include" => Some(Builtin::Include),
        _ => None,
    }
}

pub(super) fn run(
    runner: &mut Runner<'_>,
    b: Builtin,
    entry: &ResourceEntry,
    copy: Option<(&str, i64)>,
    _sink: &mut Vec<Message>,
) -> Result<Outcome, String> {
    match b {
        Builtin::Group | Builtin::Assertion => {
            let nested = nested_resources(entry)?;
            let saved = runner.operation;
            if b == Builtin::Assertion {
                runner.operation = Operation::Test;
            }
            let before = std::mem::replace(&mut runner.had_errors, false);
            let results = runner.run_resources(&nested);
            let nested_failed = runner.had_errors;
            runner.had_errors |= before;
            runner.operation = saved;
            let results = results.map_err(|e| e.to_string())?;
            let mut failed = nested_failed;
            if b == Builtin::Assertion {
                let drifted: Vec<String> = results
                    .iter()
                    .filter(|r| r["result"]["inDesiredState"] == Value::Bool(false))
                    .map(|r| format!("'{}'", r["name"].as_str().unwrap_or_default()))
                    .collect();
                if !drifted.is_empty() || nested_failed {
                    failed = true;
                    runner.assertion_failed = true;
                    runner.had_errors = true;
                    let why = if drifted.is_empty() {
                        "a nested resource failed".to_string()
                    } else {
                        format!("{} not in the desired state", drifted.join(", "))
                    };
                    runner.messages.push(ConfigMessage {
                        name: entry.name.clone(),
                        type_name: entry.type_name.clone(),
                        level: Level::Error,
                        message: format!("assertion failed: {why}"),
                    });
                }
            }
            let result = if saved == Operation::Test {
                test_shape(entry, results)
            } else {
                Value::Array(results)
            };
            Ok(Outcome {
                result,
                metadata: None,
                failed,
            })
        }
        Builtin::Include => include(runner, entry, copy),
    }
}

/// A group's `test` result as dsc prints it: a resource test response whose `actualState` is
/// the list of nested results. It is in the desired state when every nested result is.
fn test_shape(entry: &ResourceEntry, results: Vec<Value>) -> Value {
    let in_desired_state = results
        .iter()
        .all(|r| r["result"]["inDesiredState"] == Value::Bool(true));
    let differing: Vec<&str> = if in_desired_state {
        Vec::new()
    } else {
        vec!["resources"]
    };
    serde_json::json!({
        "desiredState": entry.properties.clone().unwrap_or_default(),
        "actualState": results,
        "inDesiredState": in_desired_state,
        "differingProperties": differing,
    })
}

fn nested_resources(entry: &ResourceEntry) -> Result<Vec<ResourceEntry>, String> {
    let resources = entry
        .properties
        .as_ref()
        .and_then(|p| p.get("resources"))
        .ok_or_else(|| format!("'{}' needs 'resources' in its properties", entry.type_name))?;
    serde_json::from_value(resources.clone())
        .map_err(|e| format!("nested resources of '{}': {e}", entry.name))
}

fn include(
    runner: &mut Runner<'_>,
    entry: &ResourceEntry,
    copy: Option<(&str, i64)>,
) -> Result<Outcome, String> {
    let props = match &entry.properties {
        Some(p) => evaluate_tree(&Value::Object(p.clone()), &runner.ctx(copy))
            .map_err(|e| format!("properties: {e}"))?,
        None => Value::Object(Map::new()),
    };
    let (text, base_dir) = match (
        props.get("configurationFile"),
        props.get("configurationContent"),
    ) {
        (Some(Value::String(f)), None) => {
            let path = include_path(&runner.base_dir, f)?;
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("reading '{}': {e}", path.display()))?;
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (text, dir)
        }
        (None, Some(Value::String(c))) => (c.clone(), runner.base_dir.clone()),
        _ => {
            return Err(
                "Microsoft.DSC/Include needs either 'configurationFile' or 'configurationContent' (a string)"
                    .into(),
            );
        }
    };
    let supplied = include_parameters(&runner.base_dir, &props)?;
    let doc = parse_document(&text).map_err(|e| format!("included document: {e}"))?;
    run_nested(runner, &doc, &supplied, base_dir, "included document")
}

/// A file an Include names: relative to the including document's directory, and never
/// reaching out of it through `..` (an absolute path is taken as it is).
fn include_path(base_dir: &Path, file: &str) -> Result<std::path::PathBuf, String> {
    let path = Path::new(file);
    if path.is_relative()
        && path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!(
            "'{file}' reaches outside the including document's directory ('..'); use an absolute path"
        ));
    }
    Ok(base_dir.join(path))
}

/// An Include's parameter values: `parameters` (an object), `parametersFile` or
/// `parametersContent` (JSON or YAML text, `{"parameters": {...}}`), at most one of them.
fn include_parameters(base_dir: &Path, props: &Value) -> Result<Map<String, Value>, String> {
    let given: Vec<&str> = ["parameters", "parametersFile", "parametersContent"]
        .into_iter()
        .filter(|k| props.get(*k).is_some())
        .collect();
    if given.len() > 1 {
        return Err(format!(
            "give one of 'parameters', 'parametersFile' and 'parametersContent', not {}",
            given.join(" and ")
        ));
    }
    match given.first().map(|k| (*k, &props[*k])) {
        None => Ok(Map::new()),
        Some(("parameters", Value::Object(p))) => Ok(p.clone()),
        Some(("parametersFile", Value::String(f))) => {
            let path = include_path(base_dir, f)?;
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("reading '{}': {e}", path.display()))?;
            parse_parameters_input(&text).map_err(|e| e.to_string())
        }
        Some(("parametersContent", Value::String(text))) => {
            parse_parameters_input(text).map_err(|e| format!("parametersContent: {e}"))
        }
        Some((k, _)) => Err(format!(
            "'{k}' must be {}",
            if k == "parameters" {
                "an object"
            } else {
                "a string"
            }
        )),
    }
}

/// Runs an importer resource: its `resolve` gives a document and parameters, run in place.
pub(super) fn import(
    runner: &mut Runner<'_>,
    resource: &crate::discovery::Resource,
    properties: &Value,
    sink: &mut Vec<Message>,
) -> Result<Outcome, String> {
    let resolved = runner
        .engine
        .resolve(resource, properties, sink)
        .map_err(|e| e.to_string())?;
    let doc: crate::config::document::ConfigurationDocument =
        serde_json::from_value(resolved.configuration)
            .map_err(|e| format!("the imported document is not valid: {e}"))?;
    let base_dir = runner.base_dir.clone();
    run_nested(
        runner,
        &doc,
        &resolved.parameters.unwrap_or_default(),
        base_dir,
        "imported document",
    )
}

/// Runs another document (its own parameters and variables) and folds what it reported into
/// this run; its results are the outcome's nested results.
fn run_nested(
    runner: &mut Runner<'_>,
    doc: &crate::config::document::ConfigurationDocument,
    supplied: &Map<String, Value>,
    base_dir: std::path::PathBuf,
    what: &str,
) -> Result<Outcome, String> {
    if runner.include_depth >= MAX_INCLUDE_DEPTH {
        return Err(format!(
            "documents nest more than {MAX_INCLUDE_DEPTH} deep (does a document include itself?)"
        ));
    }
    let mut child = Runner::prepare(
        runner.engine,
        runner.operation,
        doc,
        supplied,
        base_dir,
        runner.include_depth + 1,
    )
    .map_err(|e: RunError| format!("{what}: {e}"))?;
    let results = child.run_resources(&doc.resources);
    runner.messages.append(&mut child.messages);
    runner.exported.append(&mut child.exported);
    runner
        .state
        .restart_required
        .append(&mut child.state.restart_required);
    runner.had_errors |= child.had_errors;
    runner.assertion_failed |= child.assertion_failed;
    let results = results.map_err(|e| format!("{what}: {e}"))?;
    for s in child.scope.secrets.borrow().iter() {
        runner.scope.add_secret(&Value::String(s.clone()));
    }
    Ok(Outcome {
        result: Value::Array(results),
        metadata: None,
        failed: child.had_errors,
    })
}
