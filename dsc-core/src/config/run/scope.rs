//! What expressions in a running document see ([`Ctx`]), and the redaction of secure values.

use super::super::document::{ConfigurationDocument, SecurityContext};
use crate::expr::{self, Context, ExprError, UserFunction};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// The values a document's expressions read, fixed before its resources run.
pub(super) struct Scope {
    pub parameters: Map<String, Value>,
    pub variables: Map<String, Value>,
    /// Lowercased `namespace.name` → function.
    pub functions: HashMap<String, Arc<UserFunction>>,
    /// Strings to redact (secure parameters, secrets read during the run), longest first.
    pub secrets: RefCell<Vec<String>>,
    pub security_context: &'static str,
}

impl Scope {
    pub fn new(doc: &ConfigurationDocument, security_context: &'static str) -> Self {
        let mut functions = HashMap::new();
        for ns in doc.functions.iter().flatten() {
            for (name, def) in &ns.members {
                let f = UserFunction {
                    parameters: def
                        .parameters
                        .iter()
                        .map(|p| (p.name.clone(), p.parameter_type.as_str().to_string()))
                        .collect(),
                    output_type: def.output.output_type.as_str().to_string(),
                    output: def.output.value.clone(),
                };
                functions.insert(
                    format!("{}.{name}", ns.namespace).to_lowercase(),
                    Arc::new(f),
                );
            }
        }
        Scope {
            parameters: Map::new(),
            variables: Map::new(),
            functions,
            secrets: RefCell::new(Vec::new()),
            security_context,
        }
    }

    /// Adds the strings inside `v` to the values to redact.
    pub fn add_secret(&self, v: &Value) {
        let mut secrets = self.secrets.borrow_mut();
        collect_strings(v, &mut secrets);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
    }

    pub fn redact_str(&self, s: &str) -> String {
        let mut out = s.to_string();
        for secret in self.secrets.borrow().iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }

    pub fn redact(&self, v: &mut Value) {
        match v {
            Value::String(s) => *s = self.redact_str(s),
            Value::Array(a) => a.iter_mut().for_each(|x| self.redact(x)),
            Value::Object(m) => m.values_mut().for_each(|x| self.redact(x)),
            _ => {}
        }
    }
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if !s.is_empty() => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

/// The text every secure value is replaced with.
pub const REDACTED: &str = "*****";

/// What the run has produced so far that expressions can read.
#[derive(Default)]
pub(super) struct RunState {
    /// Resource id → its state (`reference()`).
    pub results: HashMap<String, Value>,
    /// Resource id → whether set changed it (`stateChanged()`).
    pub changed: HashMap<String, bool>,
    /// `_restartRequired` entries reported so far.
    pub restart_required: Vec<Value>,
}

/// The expression context of one evaluation: the document's scope, the run so far, and the
/// copy loop being expanded (if any).
pub(super) struct Ctx<'a> {
    pub scope: &'a Scope,
    pub state: &'a RunState,
    pub copy: Option<(&'a str, i64)>,
    pub extensions: &'a crate::extension::Extensions,
}

fn find_ci<'a, V>(map: &'a HashMap<String, V>, key: &str) -> Option<&'a V> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

impl Context for Ctx<'_> {
    fn parameter(&self, name: &str) -> Option<Value> {
        self.scope.parameters.get(name).cloned()
    }
    fn variable(&self, name: &str) -> Option<Value> {
        self.scope.variables.get(name).cloned()
    }
    fn reference(&self, id: &str) -> Option<Value> {
        find_ci(&self.state.results, id).cloned()
    }
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }
    fn copy_index(&self, loop_name: Option<&str>) -> Option<i64> {
        let (name, index) = self.copy?;
        match loop_name {
            None => Some(index),
            Some(n) if n.eq_ignore_ascii_case(name) => Some(index),
            Some(_) => None,
        }
    }
    fn user_function(&self, name: &str) -> Option<Arc<UserFunction>> {
        self.scope.functions.get(&name.to_lowercase()).cloned()
    }
    fn security_context(&self) -> &'static str {
        self.scope.security_context
    }
    fn secret(&self, name: &str, vault: Option<&str>) -> Result<String, String> {
        let value = self.extensions.secret(name, vault)?;
        self.scope.add_secret(&Value::String(value.clone()));
        Ok(value)
    }
    fn state_changed(&self, id: &str) -> Option<bool> {
        find_ci(&self.state.changed, id).copied()
    }
    fn restart_required(&self) -> Vec<Value> {
        self.state.restart_required.clone()
    }
}

/// Evaluates every expression string inside a value.
pub(super) fn evaluate_tree(v: &Value, ctx: &dyn Context) -> Result<Value, ExprError> {
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

/// Why this process cannot satisfy a required security context, if it cannot.
pub(super) fn security_mismatch(required: SecurityContext, process: &str) -> Option<String> {
    (!required.is_met_by(process)).then(|| {
        format!(
            "requires the '{}' security context, but traek runs '{process}'{}",
            required.as_str(),
            if required == SecurityContext::Elevated {
                " (run it as root)"
            } else {
                " (run it as an unprivileged user)"
            }
        )
    })
}
