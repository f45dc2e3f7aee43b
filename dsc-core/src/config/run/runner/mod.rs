//! Running a list of resources: expanding copy loops, ordering by `dependsOn`, skipping what
//! depends on a failure, and running each instance (through the engine, or a built-in group).

mod builtin;

use crate::config::document::{ResourceEntry, run_order_of};
use crate::config::run::scope::{Ctx, RunState, Scope, evaluate_tree, security_mismatch};
use crate::config::run::{ConfigMessage, Operation, RunError};
use crate::engine::Engine;
use crate::expr;
use crate::manifest::VersionReq;
use crate::trace::{Level, Message};
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::time::Instant;

/// Whether a type is one of the groups the runner runs itself (Group, Assertion, Include).
pub(super) fn is_builtin(type_name: &str) -> bool {
    builtin::kind(type_name).is_some()
}

/// The most repetitions one copy loop may make.
const MAX_COPY: i64 = 100_000;

/// Runs resources and collects what a document run reports.
pub(super) struct Runner<'e> {
    pub engine: &'e Engine,
    pub operation: Operation,
    pub scope: Scope,
    pub state: RunState,
    pub messages: Vec<ConfigMessage>,
    pub had_errors: bool,
    pub assertion_failed: bool,
    /// Exported resources (export only), in run order.
    pub exported: Vec<Value>,
    /// The directory `Microsoft.DSC/Include` resolves relative paths against.
    pub base_dir: PathBuf,
    /// How many includes this run is inside.
    pub include_depth: usize,
}

/// One resource to run: an entry of the document, or one repetition of a copy loop.
struct Instance<'d> {
    entry: &'d ResourceEntry,
    name: String,
    copy: Option<(String, i64)>,
}

impl Instance<'_> {
    fn id(&self) -> String {
        expr::resource_id(&self.entry.type_name, &self.name)
    }
    fn copy(&self) -> Option<(&str, i64)> {
        self.copy.as_ref().map(|(n, i)| (n.as_str(), *i))
    }
}

/// What running one instance produced.
pub(super) struct Outcome {
    pub result: Value,
    /// Extra metadata from the resource (`_metadata` in its output).
    pub metadata: Option<Map<String, Value>>,
    /// A group whose nested resources failed, or an assertion that does not hold: the result
    /// is reported, and what depends on it is skipped.
    pub failed: bool,
}

impl<'e> Runner<'e> {
    pub fn ctx<'a>(&'a self, copy: Option<(&'a str, i64)>) -> Ctx<'a> {
        Ctx {
            scope: &self.scope,
            state: &self.state,
            copy,
            extensions: self.engine.extensions(),
        }
    }

    fn note(&mut self, name: &str, type_name: &str, level: Level, message: String) {
        self.messages.push(ConfigMessage {
            name: name.to_string(),
            type_name: type_name.to_string(),
            level,
            message,
        });
    }

    /// Runs `entries` (a document's resources, or a group's) and returns their result entries
    /// in run order.
    pub fn run_resources(&mut self, entries: &[ResourceEntry]) -> Result<Vec<Value>, RunError> {
        let instances = self.expand(entries)?;
        let mut deps = Vec::with_capacity(instances.len());
        for inst in &instances {
            deps.push(self.depends_on(inst)?);
        }
        let nodes: Vec<(String, String)> =
            instances.iter().map(|i| (i.id(), i.name.clone())).collect();
        let order = run_order_of(&nodes, &deps)?;
        let index_of = |id: &str| nodes.iter().position(|(n, _)| n.eq_ignore_ascii_case(id));
        let mut failed = vec![false; instances.len()];
        let mut out = Vec::with_capacity(instances.len());
        for i in order {
            let inst = &instances[i];
            if let Some(dep) = deps[i]
                .iter()
                .filter_map(|d| index_of(d))
                .find(|&d| failed[d])
            {
                failed[i] = true;
                let reason = format!(
                    "skipped because '{}' ({}) failed",
                    instances[dep].name, instances[dep].entry.type_name
                );
                self.note(
                    &inst.name,
                    &inst.entry.type_name,
                    Level::Warn,
                    reason.clone(),
                );
                out.push(skipped(inst, &reason));
                continue;
            }
            let (entry, ok) = self.run_instance(inst);
            failed[i] = !ok;
            out.push(entry);
        }
        Ok(out)
    }

    /// Repeats copy-loop resources: the name (and later the properties) are evaluated with
    /// `copyIndex()` set to the repetition.
    fn expand<'d>(&self, entries: &'d [ResourceEntry]) -> Result<Vec<Instance<'d>>, RunError> {
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let Some(copy) = &entry.copy else {
                out.push(Instance {
                    entry,
                    name: entry.name.clone(),
                    copy: None,
                });
                continue;
            };
            let count = match &copy.count {
                Value::String(s) => expr::evaluate_string(s, &self.ctx(None)).map_err(|e| {
                    RunError::Expression(format!("copy count of '{}': {e}", entry.name))
                })?,
                other => other.clone(),
            };
            let count = count
                .as_i64()
                .filter(|n| (0..=MAX_COPY).contains(n))
                .ok_or_else(|| {
                    RunError::Expression(format!(
                        "copy count of '{}' must be an integer from 0 to {MAX_COPY}, got {count}",
                        entry.name
                    ))
                })?;
            for index in 0..count {
                let ctx = self.ctx(Some((copy.name.as_str(), index)));
                let name = match expr::evaluate_string(&entry.name, &ctx) {
                    Ok(Value::String(s)) => s,
                    Ok(other) => other.to_string(),
                    Err(e) => {
                        return Err(RunError::Expression(format!(
                            "name of copy loop '{}': {e}",
                            copy.name
                        )));
                    }
                };
                out.push(Instance {
                    entry,
                    name,
                    copy: Some((copy.name.clone(), index)),
                });
            }
        }
        let mut seen = std::collections::HashSet::new();
        for inst in &out {
            if !seen.insert(inst.id().to_lowercase()) {
                return Err(RunError::Expression(format!(
                    "two resources are named '{}' of type '{}' (in a copy loop, use copyIndex() in the name)",
                    inst.name, inst.entry.type_name
                )));
            }
        }
        Ok(out)
    }

    fn depends_on(&self, inst: &Instance<'_>) -> Result<Vec<String>, RunError> {
        let ctx = self.ctx(inst.copy());
        let mut ids = Vec::new();
        for d in inst.entry.depends_on.iter().flatten() {
            match expr::evaluate_string(d, &ctx) {
                Ok(Value::String(s)) => ids.push(s),
                Ok(other) => {
                    return Err(RunError::Expression(format!(
                        "dependsOn of '{}' must be resource ids, got {other}",
                        inst.name
                    )));
                }
                Err(e) => {
                    return Err(RunError::Expression(format!(
                        "dependsOn of '{}': {e}",
                        inst.name
                    )));
                }
            }
        }
        Ok(ids)
    }

    /// Runs one instance; returns its result entry and whether it succeeded.
    fn run_instance(&mut self, inst: &Instance<'_>) -> (Value, bool) {
        let started = Instant::now();
        let (type_name, name) = (inst.entry.type_name.as_str(), inst.name.as_str());
        match self.condition(inst) {
            Ok(true) => {}
            Ok(false) => {
                self.note(
                    name,
                    type_name,
                    Level::Info,
                    "skipped because its condition is false".into(),
                );
                return (skipped(inst, "condition is false"), true);
            }
            Err(e) => return (self.failure(inst, started, e), false),
        }
        let mut collected: Vec<Message> = Vec::new();
        let outcome = self.invoke(inst, &mut collected);
        for m in collected {
            self.note(name, type_name, m.level, m.message);
        }
        match outcome {
            Ok(outcome) => {
                let ok = !outcome.failed;
                let result = outcome.result;
                self.record(inst, &result);
                let mut metadata =
                    json!({"Microsoft.DSC": {"duration": iso_duration(started.elapsed())}});
                if let (Some(extra), Some(m)) = (outcome.metadata, metadata.as_object_mut()) {
                    m.extend(extra);
                }
                let info = self.execution_information(started, &result);
                (
                    json!({"name": name, "type": type_name, "result": result, "metadata": metadata, "executionInformation": info}),
                    ok,
                )
            }
            Err(e) => (self.failure(inst, started, e), false),
        }
    }

    /// Records a failed instance: an error message and a result entry holding the error.
    fn failure(&mut self, inst: &Instance<'_>, started: Instant, e: String) -> Value {
        self.had_errors = true;
        self.note(&inst.name, &inst.entry.type_name, Level::Error, e.clone());
        json!({"name": inst.name, "type": inst.entry.type_name, "result": {}, "metadata": {"Microsoft.DSC": {"duration": iso_duration(started.elapsed()), "error": e}}})
    }

    fn condition(&self, inst: &Instance<'_>) -> Result<bool, String> {
        let Some(cond) = &inst.entry.condition else {
            return Ok(true);
        };
        let ctx = self.ctx(inst.copy());
        match expr::evaluate_string(cond, &ctx) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("condition must evaluate to a boolean, got {other}")),
            Err(e) => Err(format!("condition: {e}")),
        }
    }

    fn invoke(&mut self, inst: &Instance<'_>, sink: &mut Vec<Message>) -> Result<Outcome, String> {
        let entry = inst.entry;
        if let Some(required) = entry.directives.as_ref().and_then(|d| d.security_context)
            && let Some(why) = security_mismatch(required, self.scope.security_context)
        {
            return Err(why);
        }
        if let Some(b) = builtin::kind(&entry.type_name) {
            return builtin::run(self, b, inst.entry, inst.copy(), sink);
        }
        let properties = {
            let ctx = self.ctx(inst.copy());
            match &entry.properties {
                Some(p) => evaluate_tree(&Value::Object(p.clone()), &ctx)
                    .map_err(|e| format!("properties: {e}"))?,
                None => Value::Object(Map::new()),
            }
        };
        if let Some(required) = properties.get("_securityContext") {
            let required = serde_json::from_value(required.clone()).map_err(|_| {
                format!("_securityContext must be current, elevated or restricted, got {required}")
            })?;
            if let Some(why) = security_mismatch(required, self.scope.security_context) {
                return Err(why);
            }
        }
        let req = entry
            .require_version
            .as_deref()
            .map(VersionReq::parse)
            .transpose()?;
        let adapter = entry
            .directives
            .as_ref()
            .and_then(|d| d.require_adapter.as_deref());
        let resource = self
            .engine
            .find_for(&entry.type_name, req.as_ref(), adapter, sink)
            .map_err(|e| e.to_string())?;
        if resource.kind == crate::manifest::Kind::Importer {
            return builtin::import(self, &resource, &properties, sink);
        }
        let e = self.engine;
        let value = match self.operation {
            Operation::Get => serde_json::to_value(
                e.get(&resource, Some(&properties), sink)
                    .map_err(|e| e.to_string())?,
            ),
            Operation::Test => serde_json::to_value(
                e.test(&resource, &properties, sink)
                    .map_err(|e| e.to_string())?,
            ),
            Operation::Set { what_if } => serde_json::to_value(
                e.set(&resource, &properties, what_if, sink)
                    .map_err(|e| e.to_string())?,
            ),
            Operation::Export => {
                let input = entry.properties.as_ref().map(|_| &properties);
                let exported = e
                    .export(&resource, input, sink)
                    .map_err(|e| e.to_string())?;
                let resources = e
                    .exported_resources(&resource, &exported, sink)
                    .map_err(|e| e.to_string())?;
                self.exported.extend(resources);
                serde_json::to_value(exported)
            }
        }
        .map_err(|e| e.to_string())?;
        Ok(take_metadata(value))
    }

    /// Makes a result readable by `reference()`, `stateChanged()` and `restartRequired()`.
    fn record(&mut self, inst: &Instance<'_>, result: &Value) {
        let state = state_of(result).clone();
        if let Some(Value::Array(entries)) = state.get("_restartRequired") {
            self.state.restart_required.extend(entries.iter().cloned());
        }
        if let Operation::Set { .. } = self.operation
            && let Some(Value::Array(changed)) = result.get("changedProperties")
        {
            self.state.changed.insert(inst.id(), !changed.is_empty());
        }
        self.state.results.insert(inst.id(), state);
    }

    fn execution_information(&self, started: Instant, result: &Value) -> Value {
        let mut info = json!({
            "operation": self.operation.name(),
            "executionType": self.operation.execution_type(),
            "version": env!("CARGO_PKG_VERSION"),
            "duration": iso_duration(started.elapsed()),
        });
        let restart = state_of(result).get("_restartRequired");
        if let (Some(r), Some(m)) = (restart, info.as_object_mut()) {
            m.insert("restartRequired".into(), r.clone());
        }
        info
    }

    /// Emits a message about the whole run (no resource).
    pub fn note_run(&mut self, level: Level, message: String) {
        self.note("", "", level, message);
    }
}

/// The instance state in a result: `actualState` (get, test), `afterState` (set), else the
/// result itself (groups, export).
fn state_of(result: &Value) -> &Value {
    result
        .get("actualState")
        .or_else(|| result.get("afterState"))
        .unwrap_or(result)
}

/// Moves `_metadata` out of a result's states into the result's metadata, as dsc does.
fn take_metadata(mut result: Value) -> Outcome {
    let mut metadata = None;
    for key in ["actualState", "afterState"] {
        if let Some(Value::Object(state)) = result.get_mut(key)
            && let Some(Value::Object(m)) = state.remove("_metadata")
        {
            metadata = Some(m);
        }
    }
    Outcome {
        result,
        metadata,
        failed: false,
    }
}

fn skipped(inst: &Instance<'_>, reason: &str) -> Value {
    json!({"name": inst.name, "type": inst.entry.type_name, "result": {}, "metadata": {"Microsoft.DSC": {"skipped": true, "reason": reason}}})
}

pub(super) fn iso_duration(d: std::time::Duration) -> String {
    format!("PT{:.6}S", d.as_secs_f64())
}
