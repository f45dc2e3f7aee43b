//! Running a configuration document: get, test, set (or what-if) and export over its resources.
//!
//! - Parameters are resolved and checked, variables and resource properties evaluated
//!   (expressions may use `reference()` to read results of resources that ran earlier).
//! - Resources run in [`run_order`]; one that fails does not stop the others, but resources that
//!   depend on it (directly or not) are skipped with a message saying why. A `condition` that
//!   evaluates to false skips a resource.
//! - Every resource's messages are collected with its name and type; `hadErrors` is true when a
//!   resource failed.
//! - Values of `secureString` / `secureObject` parameters are replaced by `*****` everywhere in
//!   results and messages.

use super::document::{ConfigurationDocument, DocumentError, resolve_parameters, run_order};
use super::expr::{self, Context, ExprError};
use crate::engine::Engine;
use crate::manifest::VersionReq;
use crate::results::CONFIG_DOCUMENT_SCHEMA;
use crate::trace::{Level, Message};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::time::Instant;

/// What to do with every resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Get,
    Test,
    Set { what_if: bool },
    Export,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Get => "get",
            Operation::Test => "test",
            Operation::Set { .. } => "set",
            Operation::Export => "export",
        }
    }
}

/// One resource's message, as `messages` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigMessage {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub level: Level,
    pub message: String,
}

/// The result of a run, in Microsoft dsc's shape (plus `messages` for every resource and
/// `hadErrors`). For export, `results` holds the exported configuration document.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigResult {
    pub metadata: Value,
    pub results: Vec<Value>,
    pub messages: Vec<ConfigMessage>,
    pub had_errors: bool,
    /// The exported document (export only).
    #[serde(skip)]
    pub exported: Option<Value>,
}

/// Why a configuration could not run at all (as opposed to a resource failing in it).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error("{0}")]
    Expression(String),
}

struct Ctx<'a> {
    parameters: &'a Map<String, Value>,
    variables: &'a Map<String, Value>,
    results: &'a HashMap<String, Value>,
}

impl Context for Ctx<'_> {
    fn parameter(&self, name: &str) -> Option<Value> {
        self.parameters.get(name).cloned()
    }
    fn variable(&self, name: &str) -> Option<Value> {
        self.variables.get(name).cloned()
    }
    fn reference(&self, id: &str) -> Option<Value> {
        self.results
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(id))
            .map(|(_, v)| v.clone())
    }
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }
}

/// Evaluates every expression string inside a value.
fn evaluate_tree(v: &Value, ctx: &dyn Context) -> Result<Value, ExprError> {
    Ok(match v {
        Value::String(s) => expr::evaluate_string(s, ctx)?,
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| evaluate_tree(x, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), evaluate_tree(x, ctx)?)))
                .collect::<Result<_, ExprError>>()?,
        ),
        other => other.clone(),
    })
}

fn iso_duration(d: std::time::Duration) -> String {
    format!("PT{:.6}S", d.as_secs_f64())
}

fn now_text() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Collects the strings of secure parameter values (for redaction).
fn secrets(doc: &ConfigurationDocument, params: &Map<String, Value>) -> Vec<String> {
    fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if !s.is_empty() => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            Value::Object(m) => m.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (name, def) in doc.parameters.iter().flatten() {
        if def.parameter_type.is_secure()
            && let Some(v) = params.get(name)
        {
            strings(v, &mut out);
        }
    }
    // Longest first, so a secret that contains another is replaced whole.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

/// The text every secure value is replaced with.
pub const REDACTED: &str = "*****";

fn redact_str(s: &str, secrets: &[String]) -> String {
    let mut out = s.to_string();
    for secret in secrets {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
    }
    out
}

fn redact(v: &mut Value, secrets: &[String]) {
    match v {
        Value::String(s) => *s = redact_str(s, secrets),
        Value::Array(a) => a.iter_mut().for_each(|x| redact(x, secrets)),
        Value::Object(m) => m.values_mut().for_each(|x| redact(x, secrets)),
        _ => {}
    }
}

/// Runs `doc` with `operation`. `supplied` are the `--parameters` values. Resource failures are
/// reported in the result (`hadErrors`); only a document that cannot run at all is an error.
pub fn run(
    engine: &Engine,
    doc: &ConfigurationDocument,
    supplied: &Map<String, Value>,
    operation: Operation,
) -> Result<ConfigResult, RunError> {
    let started = Instant::now();
    let start_text = now_text();
    let empty = Map::new();
    let no_results = HashMap::new();
    let bare = Ctx {
        parameters: &empty,
        variables: &empty,
        results: &no_results,
    };
    let parameters = resolve_parameters(doc, supplied, &bare)?;
    let secrets = secrets(doc, &parameters);
    let mut variables = Map::new();
    for (k, v) in doc.variables.iter().flatten() {
        let ctx = Ctx {
            parameters: &parameters,
            variables: &variables,
            results: &no_results,
        };
        let value = evaluate_tree(v, &ctx).map_err(|e| {
            RunError::Expression(format!(
                "variable '{k}': {}",
                redact_str(&e.to_string(), &secrets)
            ))
        })?;
        variables.insert(k.clone(), value);
    }
    let mut dep_ids = Vec::with_capacity(doc.resources.len());
    for r in &doc.resources {
        let ctx = Ctx {
            parameters: &parameters,
            variables: &variables,
            results: &no_results,
        };
        let mut ids = Vec::new();
        for d in r.depends_on.iter().flatten() {
            let v = expr::evaluate_string(d, &ctx)
                .map_err(|e| RunError::Expression(format!("dependsOn of '{}': {e}", r.name)))?;
            match v {
                Value::String(s) => ids.push(s),
                other => {
                    return Err(RunError::Expression(format!(
                        "dependsOn of '{}' must be resource ids, got {other}",
                        r.name
                    )));
                }
            }
        }
        dep_ids.push(ids);
    }
    let order = run_order(&doc.resources, &dep_ids)?;

    let mut results_by_id: HashMap<String, Value> = HashMap::new();
    let mut failed: Vec<bool> = vec![false; doc.resources.len()];
    let mut entries: Vec<(usize, Value)> = Vec::new();
    let mut messages: Vec<ConfigMessage> = Vec::new();
    let mut exported: Vec<Value> = Vec::new();
    let mut had_errors = false;
    let index_of = |id: &str| {
        doc.resources
            .iter()
            .position(|r| expr::resource_id(&r.type_name, &r.name).eq_ignore_ascii_case(id))
    };

    for &i in &order {
        let r = &doc.resources[i];
        let resource_started = Instant::now();
        let mut note = |level: Level, message: String| {
            messages.push(ConfigMessage {
                name: r.name.clone(),
                type_name: r.type_name.clone(),
                level,
                message,
            })
        };
        let skipped = |reason: String| json!({"name": r.name, "type": r.type_name, "result": {}, "metadata": {"Microsoft.DSC": {"skipped": true, "reason": reason}}});
        // A resource whose dependency failed (or was skipped for that reason) does not run.
        if let Some(dep) = dep_ids[i]
            .iter()
            .filter_map(|d| index_of(d))
            .find(|&d| failed[d])
        {
            failed[i] = true;
            let reason = format!(
                "skipped because '{}' ({}) failed",
                doc.resources[dep].name, doc.resources[dep].type_name
            );
            note(Level::Warn, reason.clone());
            entries.push((i, skipped(reason)));
            continue;
        }
        let ctx = Ctx {
            parameters: &parameters,
            variables: &variables,
            results: &results_by_id,
        };
        if let Some(cond) = &r.condition {
            match expr::evaluate_string(cond, &ctx) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => {
                    note(Level::Info, "skipped because its condition is false".into());
                    entries.push((i, skipped("condition is false".into())));
                    continue;
                }
                Ok(other) => {
                    failed[i] = true;
                    had_errors = true;
                    note(
                        Level::Error,
                        format!("condition must evaluate to a boolean, got {other}"),
                    );
                    entries.push((i, json!({"name": r.name, "type": r.type_name, "result": {}, "metadata": {"Microsoft.DSC": {"error": "condition is not a boolean"}}})));
                    continue;
                }
                Err(e) => {
                    failed[i] = true;
                    had_errors = true;
                    note(Level::Error, format!("condition: {e}"));
                    entries.push((i, json!({"name": r.name, "type": r.type_name, "result": {}, "metadata": {"Microsoft.DSC": {"error": e.to_string()}}})));
                    continue;
                }
            }
        }
        let mut collected: Vec<Message> = Vec::new();
        let outcome = (|| -> Result<Value, String> {
            let properties = match &r.properties {
                Some(p) => evaluate_tree(&Value::Object(p.clone()), &ctx)
                    .map_err(|e| format!("properties: {e}"))?,
                None => Value::Object(Map::new()),
            };
            let req = r
                .require_version
                .as_deref()
                .map(VersionReq::parse)
                .transpose()?;
            let resource = engine
                .find(&r.type_name, req.as_ref(), &mut collected)
                .map_err(|e| e.to_string())?;
            let value = match operation {
                Operation::Get => serde_json::to_value(
                    engine
                        .get(&resource, Some(&properties), &mut collected)
                        .map_err(|e| e.to_string())?,
                ),
                Operation::Test => serde_json::to_value(
                    engine
                        .test(&resource, &properties, &mut collected)
                        .map_err(|e| e.to_string())?,
                ),
                Operation::Set { what_if } => serde_json::to_value(
                    engine
                        .set(&resource, &properties, what_if, &mut collected)
                        .map_err(|e| e.to_string())?,
                ),
                Operation::Export => {
                    let input = r.properties.as_ref().map(|_| &properties);
                    serde_json::to_value(
                        engine
                            .export(&resource, input, &mut collected)
                            .map_err(|e| e.to_string())?,
                    )
                }
            };
            value.map_err(|e| e.to_string())
        })();
        for m in collected {
            note(m.level, m.message);
        }
        let duration = iso_duration(resource_started.elapsed());
        match outcome {
            Ok(result) => {
                let id = expr::resource_id(&r.type_name, &r.name);
                let referenced = result
                    .get("actualState")
                    .or_else(|| result.get("afterState"))
                    .cloned()
                    .unwrap_or_else(|| result.clone());
                if operation == Operation::Export
                    && let Some(Value::Array(instances)) = result.get("actualState")
                {
                    let doc_part = crate::results::ExportResult {
                        actual_state: instances.clone(),
                    }
                    .to_configuration(&r.type_name);
                    if let Some(Value::Array(rs)) = doc_part.get("resources") {
                        exported.extend(rs.iter().cloned());
                    }
                }
                results_by_id.insert(id, referenced);
                entries.push((i, json!({"name": r.name, "type": r.type_name, "result": result, "metadata": {"Microsoft.DSC": {"duration": duration}}})));
            }
            Err(e) => {
                failed[i] = true;
                had_errors = true;
                note(Level::Error, e.clone());
                entries.push((i, json!({"name": r.name, "type": r.type_name, "result": {}, "metadata": {"Microsoft.DSC": {"duration": duration, "error": e}}})));
            }
        }
    }

    let execution_type = if matches!(operation, Operation::Set { what_if: true }) {
        "whatIf"
    } else {
        "actual"
    };
    let metadata = json!({"Microsoft.DSC": {
        "version": env!("CARGO_PKG_VERSION"),
        "operation": operation.name(),
        "executionType": execution_type,
        "startDatetime": start_text,
        "endDatetime": now_text(),
        "duration": iso_duration(started.elapsed()),
        "securityContext": "current",
    }});
    let mut results: Vec<Value> = entries.into_iter().map(|(_, v)| v).collect();
    for v in &mut results {
        redact(v, &secrets);
    }
    for m in &mut messages {
        m.message = redact_str(&m.message, &secrets);
    }
    let exported = (operation == Operation::Export).then(|| {
        let mut d = json!({"$schema": CONFIG_DOCUMENT_SCHEMA, "resources": exported});
        redact(&mut d, &secrets);
        d
    });
    Ok(ConfigResult {
        metadata,
        results,
        messages,
        had_errors,
        exported,
    })
}
