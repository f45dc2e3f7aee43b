//! Running a configuration document: get, test, set (or what-if) and export over its resources.
//!
//! - `Runner::prepare` checks the document's directives (engine version, security context),
//!   resolves and checks parameters, and evaluates variables; user-defined functions become
//!   callable.
//! - `runner` expands `copy` loops, orders resources by `dependsOn` and runs them. A resource
//!   that fails does not stop the others, but resources that depend on it (directly or not) are
//!   skipped with a message saying why. A `condition` that evaluates to false skips a resource.
//! - `runner::builtin` runs `Microsoft.DSC/Group`, `Microsoft.DSC/Assertion` and `Microsoft.DSC/Include`.
//! - `outputs` are evaluated after the resources, and printed beside the results.
//! - Values of `secureString` / `secureObject` parameters and secrets read with `secret()` are
//!   replaced by `*****` everywhere in results, outputs and messages (`scope`).

mod runner;
mod scope;

pub use scope::REDACTED;

use super::document::{
    ConfigurationDocument, DocumentError, ResourceDiscovery, resolve_parameters,
};
use crate::engine::Engine;
use crate::expr;
use crate::manifest::{ResourceVersion, VersionReq};
use crate::results::CONFIG_DOCUMENT_SCHEMA;
use crate::trace::Level;
use runner::{Runner, iso_duration};
use scope::{RunState, Scope, evaluate_tree, security_mismatch};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::path::PathBuf;
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

    fn execution_type(self) -> &'static str {
        if matches!(self, Operation::Set { what_if: true }) {
            "whatIf"
        } else {
            "actual"
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
    pub execution_information: Value,
    pub results: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Map<String, Value>>,
    pub messages: Vec<ConfigMessage>,
    pub had_errors: bool,
    /// A `Microsoft.DSC/Assertion` did not hold (the CLI exits 8).
    #[serde(skip)]
    pub assertion_failed: bool,
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
    /// The document needs a security context this process does not have.
    #[error("{0}")]
    SecurityContext(String),
}

impl RunError {
    /// A document or expression that cannot run is invalid input (or a parse error); a missing
    /// security context is an engine failure.
    pub fn class(&self) -> crate::ErrorClass {
        match self {
            RunError::Document(d) => d.class(),
            RunError::Expression(_) => crate::ErrorClass::InvalidInput,
            RunError::SecurityContext(_) => crate::ErrorClass::Resource,
        }
    }
}

/// Runs `doc` with `operation`. `supplied` are the `--parameters` values. Resource failures are
/// reported in the result (`hadErrors`); only a document that cannot run at all is an error.
/// `Microsoft.DSC/Include` paths are relative to `DSC_CONFIG_ROOT` (from the engine's
/// environment), else the working directory.
pub fn run(
    engine: &Engine,
    doc: &ConfigurationDocument,
    supplied: &Map<String, Value>,
    operation: Operation,
) -> Result<ConfigResult, RunError> {
    let started = Instant::now();
    let start_text = now_text();
    let base_dir = engine
        .options()
        .config_root()
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default();
    let mut runner = Runner::prepare(engine, operation, doc, supplied, base_dir, 0)?;
    let mut results = runner.run_resources(&doc.resources)?;
    let mut outputs = runner.outputs(doc)?;
    let restart = std::mem::take(&mut runner.state.restart_required);
    let mut info = json!({
        "operation": operation.name(),
        "executionType": operation.execution_type(),
        "version": env!("CARGO_PKG_VERSION"),
        "startDatetime": start_text,
        "endDatetime": now_text(),
        "duration": iso_duration(started.elapsed()),
        "securityContext": runner.scope.security_context,
    });
    if !restart.is_empty()
        && let Some(m) = info.as_object_mut()
    {
        m.insert("restartRequired".into(), Value::Array(restart));
    }
    let metadata = json!({"Microsoft.DSC": info});
    for v in &mut results {
        runner.scope.redact(v);
    }
    if let Some(o) = &mut outputs {
        for v in o.values_mut() {
            runner.scope.redact(v);
        }
    }
    let mut messages = std::mem::take(&mut runner.messages);
    for m in &mut messages {
        m.message = runner.scope.redact_str(&m.message);
    }
    let exported = (operation == Operation::Export).then(|| {
        let mut d = json!({"$schema": CONFIG_DOCUMENT_SCHEMA, "resources": runner.exported});
        runner.scope.redact(&mut d);
        d
    });
    Ok(ConfigResult {
        metadata,
        execution_information: info,
        results,
        outputs,
        messages,
        had_errors: runner.had_errors,
        assertion_failed: runner.assertion_failed,
        exported,
    })
}

/// Runs a built-in group resource on its own (`traek resource get -r Microsoft.DSC/Group`):
/// `input` is its properties (`{"resources": [...]}`, or Include's). The run's result holds one
/// entry; [`ConfigResult::single_result`] is what dsc prints for a group resource (the list of
/// nested results; for export, the exported document). `None` when `type_name` is not a
/// built-in group type.
pub fn run_builtin_resource(
    engine: &Engine,
    type_name: &str,
    input: &Value,
    operation: Operation,
) -> Option<Result<ConfigResult, RunError>> {
    if !runner::is_builtin(type_name) {
        return None;
    }
    let Value::Object(properties) = input else {
        return Some(Err(RunError::Document(DocumentError::Invalid(format!(
            "input for '{type_name}' must be an object like {{\"resources\": [...]}}"
        )))));
    };
    let doc = ConfigurationDocument {
        schema_uri: CONFIG_DOCUMENT_SCHEMA.to_string(),
        content_version: None,
        parameters: None,
        variables: None,
        resources: vec![super::document::ResourceEntry {
            type_name: type_name.to_string(),
            name: type_name.to_string(),
            properties: Some(properties.clone()),
            depends_on: None,
            condition: None,
            require_version: None,
            metadata: None,
            copy: None,
            directives: None,
        }],
        outputs: None,
        functions: None,
        metadata: None,
        directives: None,
    };
    Some(run(engine, &doc, &Map::new(), operation))
}

impl ConfigResult {
    /// The `result` of the run's only resource (the exported document for export).
    pub fn single_result(&self) -> Value {
        if let Some(doc) = &self.exported {
            return doc.clone();
        }
        self.results
            .first()
            .and_then(|entry| entry.get("result"))
            .cloned()
            .unwrap_or_default()
    }
}

impl<'e> Runner<'e> {
    /// Checks directives, resolves parameters and evaluates variables.
    fn prepare(
        engine: &'e Engine,
        operation: Operation,
        doc: &ConfigurationDocument,
        supplied: &Map<String, Value>,
        base_dir: PathBuf,
        include_depth: usize,
    ) -> Result<Self, RunError> {
        let process_context = expr::functions::system::process_security_context();
        let mut runner = Runner {
            engine,
            operation,
            scope: Scope::new(doc, process_context),
            state: RunState::default(),
            messages: Vec::new(),
            had_errors: false,
            assertion_failed: false,
            exported: Vec::new(),
            base_dir,
            include_depth,
        };
        runner.check_directives(doc)?;
        let parameters = resolve_parameters(doc, supplied, &runner.ctx(None))?;
        for (name, def) in doc.parameters.iter().flatten() {
            if def.parameter_type.is_secure()
                && let Some(v) = parameters.get(name)
            {
                runner.scope.add_secret(v);
            }
        }
        runner.scope.parameters = parameters;
        for (k, v) in doc.variables.iter().flatten() {
            let value = evaluate_tree(v, &runner.ctx(None)).map_err(|e| {
                RunError::Expression(format!(
                    "variable '{k}': {}",
                    runner.scope.redact_str(&e.to_string())
                ))
            })?;
            runner.scope.variables.insert(k.clone(), value);
        }
        if let Some(skipped) = engine.extensions().skipped.first() {
            runner.note_run(Level::Warn, skipped.clone());
        }
        Ok(runner)
    }

    fn check_directives(&mut self, doc: &ConfigurationDocument) -> Result<(), RunError> {
        let Some(d) = &doc.directives else {
            return Ok(());
        };
        if let Some(req) = &d.version {
            let req = VersionReq::parse(req).map_err(|e| {
                RunError::Document(DocumentError::Invalid(format!("directives.version: {e}")))
            })?;
            let ours = ResourceVersion::parse(env!("CARGO_PKG_VERSION"))
                .map_err(|e| RunError::Expression(e.to_string()))?;
            if !ours.matches(&req) {
                return Err(RunError::Document(DocumentError::Invalid(format!(
                    "the document needs engine version '{req}', but this is traek {ours}"
                ))));
            }
        }
        if let Some(required) = d.security_context
            && let Some(why) = security_mismatch(required, self.scope.security_context)
        {
            return Err(RunError::SecurityContext(format!("the document {why}")));
        }
        if d.resource_discovery == Some(ResourceDiscovery::PreDeployment) {
            let mut sink = Vec::new();
            let registry = self.engine.registry(&mut sink);
            for r in &doc.resources {
                if !runner::is_builtin(&r.type_name) && registry.find(&r.type_name, None).is_err() {
                    return Err(RunError::Document(DocumentError::Invalid(format!(
                        "resource type '{}' was not found (resourceDiscovery: preDeployment checks every type before the run)",
                        r.type_name
                    ))));
                }
            }
        }
        Ok(())
    }

    /// Evaluates the document's outputs (after the resources ran) and checks their types.
    fn outputs(&self, doc: &ConfigurationDocument) -> Result<Option<Map<String, Value>>, RunError> {
        let Some(defs) = &doc.outputs else {
            return Ok(None);
        };
        let ctx = self.ctx(None);
        let mut out = Map::new();
        for (name, def) in defs {
            if let Some(cond) = &def.condition {
                match expr::evaluate_string(cond, &ctx) {
                    Ok(Value::Bool(true)) => {}
                    Ok(Value::Bool(false)) => continue,
                    Ok(other) => {
                        return Err(RunError::Expression(format!(
                            "condition of output '{name}' must be a boolean, got {other}"
                        )));
                    }
                    Err(e) => {
                        return Err(RunError::Expression(format!(
                            "condition of output '{name}': {e}"
                        )));
                    }
                }
            }
            let value = evaluate_tree(&def.value, &ctx)
                .map_err(|e| RunError::Expression(format!("output '{name}': {e}")))?;
            if !def.output_type.accepts(&value) {
                return Err(RunError::Expression(format!(
                    "output '{name}' must be of type {}, got {}",
                    def.output_type.as_str(),
                    crate::text::type_name(&value)
                )));
            }
            if def.output_type.is_secure() {
                self.scope.add_secret(&value);
            }
            out.insert(name.clone(), value);
        }
        Ok(Some(out))
    }
}

fn now_text() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
