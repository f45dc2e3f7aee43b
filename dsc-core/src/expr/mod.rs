//! Configuration expressions: `[concat('a', parameters('b'))]`.
//!
//! A string value that starts with `[` and ends with `]` is an expression; `[[` at the start
//! escapes a literal `[`. Expressions are tokenized and parsed by recursive descent into an AST,
//! with the character position of every node, so errors say where they are.
//!
//! ```text
//! expression := primary accessor*
//! primary    := STRING | NUMBER | 'true' | 'false' | 'null' | call
//! call       := IDENT ['.' IDENT] '(' [expression (',' expression)*] ')'
//! accessor   := '.' IDENT | '[' expression ']'
//! STRING     := "'" ( any character but "'" | "''" )* "'"
//! ```
//!
//! - `parse`: text → [`Expr`];
//! - `eval`: [`Expr`] → value, with lambdas (`map`, `filter`) and user-defined functions
//!   (`namespace.name(...)`);
//! - `functions`: the built-in functions of dsc 3.4, one module per category, and the table
//!   `traek function list` prints.

mod eval;
pub mod functions;
mod parse;
#[cfg(test)]
mod tests;

pub use eval::evaluate;
pub use parse::parse;
use serde_json::Value;
use std::sync::Arc;

/// An expression error, with the 1-based column in the expression text (the text between the
/// brackets, which the message quotes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at column {column} of '{text}')")]
pub struct ExprError {
    pub message: String,
    pub column: usize,
    pub text: String,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    String(String),
    Number(i64),
    Bool(bool),
    Null,
    Call {
        name: String,
        args: Vec<Expr>,
        column: usize,
    },
    Member {
        target: Box<Expr>,
        name: String,
        column: usize,
    },
    Index {
        target: Box<Expr>,
        index: Box<Expr>,
        column: usize,
    },
}

/// What a string in a document is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StringValue<'a> {
    /// A plain string (with a leading `[[` unescaped).
    Literal(std::borrow::Cow<'a, str>),
    /// The text of an expression (without the brackets).
    Expression(&'a str),
}

/// Classifies a string: expression, escaped literal, or plain literal.
pub fn classify(s: &str) -> StringValue<'_> {
    if let Some(rest) = s.strip_prefix("[[") {
        return StringValue::Literal(std::borrow::Cow::Owned(format!("[{rest}")));
    }
    if s.len() >= 2 && s.starts_with('[') && s.ends_with(']') {
        return StringValue::Expression(&s[1..s.len() - 1]);
    }
    StringValue::Literal(std::borrow::Cow::Borrowed(s))
}

/// A user-defined function of a document (`functions:`), called as `namespace.name(...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserFunction {
    /// Parameter names and types, in order.
    pub parameters: Vec<(String, String)>,
    /// The declared type of the output.
    pub output_type: String,
    /// The output expression (with its brackets).
    pub output: String,
}

/// What expressions can look up. Only `env` and `now` are required; the rest default to "not
/// available here" (as outside a configuration run).
pub trait Context {
    fn parameter(&self, _name: &str) -> Option<Value> {
        None
    }
    fn variable(&self, _name: &str) -> Option<Value> {
        None
    }
    /// The result of a resource earlier in the run, by resource id (`type:name`).
    fn reference(&self, _resource_id: &str) -> Option<Value> {
        None
    }
    fn env(&self, name: &str) -> Option<String>;
    fn now(&self) -> time::OffsetDateTime;

    /// The index of the named copy loop (`None`: the current one), when inside one.
    fn copy_index(&self, _loop_name: Option<&str>) -> Option<i64> {
        None
    }
    /// A user-defined function, by `namespace.name` (case-insensitive).
    fn user_function(&self, _name: &str) -> Option<Arc<UserFunction>> {
        None
    }
    /// `current`, `elevated` or `restricted`.
    fn security_context(&self) -> &'static str {
        functions::system::process_security_context()
    }
    /// A secret from an extension with the `secret` capability.
    fn secret(&self, name: &str, _vault: Option<&str>) -> Result<String, String> {
        Err(format!(
            "no extension that provides secrets was found, so secret '{name}' cannot be read"
        ))
    }
    /// Whether the resource with this id changed state in this run.
    fn state_changed(&self, _resource_id: &str) -> Option<bool> {
        None
    }
    /// The `_restartRequired` entries resources reported so far in this run.
    fn restart_required(&self) -> Vec<Value> {
        Vec::new()
    }
    /// Whether a parameter's `defaultValue` is being evaluated: the one place where `utcNow`
    /// may be used, as in dsc.
    fn parameter_default(&self) -> bool {
        false
    }
}

/// Another context while a parameter's `defaultValue` is evaluated.
pub struct ParameterDefault<'a>(pub &'a dyn Context);

impl Context for ParameterDefault<'_> {
    fn parameter(&self, name: &str) -> Option<Value> {
        self.0.parameter(name)
    }
    fn variable(&self, name: &str) -> Option<Value> {
        self.0.variable(name)
    }
    fn reference(&self, resource_id: &str) -> Option<Value> {
        self.0.reference(resource_id)
    }
    fn env(&self, name: &str) -> Option<String> {
        self.0.env(name)
    }
    fn now(&self) -> time::OffsetDateTime {
        self.0.now()
    }
    fn copy_index(&self, loop_name: Option<&str>) -> Option<i64> {
        self.0.copy_index(loop_name)
    }
    fn user_function(&self, name: &str) -> Option<Arc<UserFunction>> {
        self.0.user_function(name)
    }
    fn security_context(&self) -> &'static str {
        self.0.security_context()
    }
    fn secret(&self, name: &str, vault: Option<&str>) -> Result<String, String> {
        self.0.secret(name, vault)
    }
    fn state_changed(&self, resource_id: &str) -> Option<bool> {
        self.0.state_changed(resource_id)
    }
    fn restart_required(&self) -> Vec<Value> {
        self.0.restart_required()
    }
    fn parameter_default(&self) -> bool {
        true
    }
}

/// The context of an expression outside any document (a manifest's `condition`): no
/// parameters, variables or resources; the process's environment and clock.
pub struct Standalone;

impl Context for Standalone {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }
}

/// The context of an expression that sees nothing outside itself: no parameters, variables,
/// resources or environment variables, and a clock stopped at the Unix epoch. Evaluation with
/// it is repeatable (tests, fuzzing).
pub struct Isolated;

impl Context for Isolated {
    fn env(&self, _: &str) -> Option<String> {
        None
    }
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::UNIX_EPOCH
    }
}

/// The id `resourceId(type, name)` returns and `dependsOn` compares: `type:name`, the name
/// percent-encoded (all but letters, digits and `-_.~`), as dsc's.
pub fn resource_id(type_name: &str, name: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    format!(
        "{type_name}:{}",
        percent_encoding::utf8_percent_encode(name, KEEP)
    )
}

/// Calls the function `name` (case-insensitive) with arguments already evaluated, as MCP's
/// `invoke_dsc_function` does. Functions whose arguments are expressions (`if`, `map`,
/// `filter`, `lambda`, `lambdaVariables`) cannot be called this way.
pub fn invoke_function(name: &str, args: &[Value], ctx: &dyn Context) -> Result<Value, String> {
    let info = functions::lookup(name).ok_or_else(|| {
        format!("unknown function '{name}' (run 'traek function list' to see them all)")
    })?;
    if matches!(
        info.name,
        "if" | "map" | "filter" | "lambda" | "lambdaVariables"
    ) {
        return Err(format!(
            "{}() takes expressions, not values: evaluate it in an expression instead",
            info.name
        ));
    }
    eval::check_arity(info.name, info.min_args, info.max_args, args.len())?;
    functions::call(info.name, args, ctx).map_err(|m| format!("{}(): {m}", info.name))
}

/// Classifies and evaluates a document string: literals come back as strings, expressions as
/// their value.
pub fn evaluate_string(s: &str, ctx: &dyn Context) -> Result<Value, ExprError> {
    match classify(s) {
        StringValue::Literal(_)
            if s.starts_with('[') && !s.starts_with("[[") && s.contains(']') =>
        {
            Err(ExprError {
                message: "text follows the expression's closing ']': an expression must be the \
                          whole string (start it with '[[' to mean a plain string that begins \
                          with '[')"
                    .to_string(),
                column: s.rfind(']').map_or(0, |i| i + 1),
                text: s.to_string(),
            })
        }
        StringValue::Literal(l) => Ok(Value::String(l.into_owned())),
        StringValue::Expression(text) => evaluate(&parse(text)?, ctx, text),
    }
}
