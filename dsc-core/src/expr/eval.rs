//! Evaluating a parsed expression against a [`Context`].
//!
//! Most functions get their arguments evaluated first and are dispatched to [`functions`]. A few
//! need the unevaluated argument expressions and live here: `if` (only the branch taken is
//! evaluated), `map` and `filter` (their `lambda(...)` body runs once per element, with the
//! lambda's parameters readable through `lambdaVariables()`), and user-defined functions
//! (`namespace.name(...)`, whose output expression sees only the function's own parameters).

use super::functions::{self, FunctionInfo};
use super::{Context, Expr, ExprError, UserFunction, parse};
use crate::text::type_name;
use serde_json::{Map, Value};
use std::sync::Arc;

/// How many user-defined function calls may nest (a function calling itself is refused there).
const MAX_CALL_DEPTH: usize = 32;

/// Evaluates a parsed expression. `text` is the expression's source, for error messages.
pub fn evaluate(e: &Expr, ctx: &dyn Context, text: &str) -> Result<Value, ExprError> {
    Evaluator {
        ctx,
        text,
        lambda_vars: Vec::new(),
        depth: 0,
    }
    .eval(e)
}

struct Evaluator<'a> {
    ctx: &'a dyn Context,
    text: &'a str,
    /// Lambda parameters in scope, innermost last.
    lambda_vars: Vec<(String, Value)>,
    /// User-defined function calls above this evaluation.
    depth: usize,
}

impl Evaluator<'_> {
    fn err(&self, message: String, column: usize) -> ExprError {
        ExprError {
            message,
            column,
            text: self.text.to_string(),
        }
    }

    fn eval(&mut self, e: &Expr) -> Result<Value, ExprError> {
        match e {
            Expr::String(s) => Ok(Value::String(s.clone())),
            Expr::Number(n) => Ok(Value::from(*n)),
            Expr::Bool(b) => Ok(Value::Bool(*b)),
            Expr::Null => Ok(Value::Null),
            Expr::Member {
                target,
                name,
                column,
            } => {
                let v = self.eval(target)?;
                member(&v, name).map_err(|m| self.err(m, *column))
            }
            Expr::Index {
                target,
                index,
                column,
            } => {
                let v = self.eval(target)?;
                let i = self.eval(index)?;
                index_value(&v, &i).map_err(|m| self.err(m, *column))
            }
            Expr::Call { name, args, column } => self.call(name, args, *column),
        }
    }

    fn call(&mut self, name: &str, args: &[Expr], column: usize) -> Result<Value, ExprError> {
        if name.contains('.') {
            return self.user_call(name, args, column);
        }
        let Some(info) = functions::lookup(name) else {
            return Err(self.err(
                format!("unknown function '{name}' (run 'traek function list' to see them all)"),
                column,
            ));
        };
        check_arity(info.name, info.min_args, info.max_args, args.len())
            .map_err(|m| self.err(m, column))?;
        let canonical = info.name;
        let fail = |this: &Self, m: String| this.err(format!("{canonical}(): {m}"), column);
        match canonical {
            "if" => {
                let cond = self.eval(&args[0])?;
                let Value::Bool(c) = cond else {
                    return Err(self.err(
                        format!("if() needs a boolean condition, got {}", type_name(&cond)),
                        column,
                    ));
                };
                self.eval(&args[if c { 1 } else { 2 }])
            }
            "map" | "filter" => {
                let source = self.eval(&args[0])?;
                let Value::Array(items) = source else {
                    return Err(fail(
                        self,
                        format!(
                            "the first argument must be an array, got {}",
                            type_name(&source)
                        ),
                    ));
                };
                self.apply_lambda(info, &items, &args[1], column)
            }
            "lambda" => Err(fail(
                self,
                "a lambda can only be given as an argument of map() or filter()".into(),
            )),
            "lambdaVariables" => {
                let v = self.eval(&args[0])?;
                let Some(wanted) = v.as_str() else {
                    return Err(fail(self, "the name must be a string".into()));
                };
                self.lambda_vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == wanted)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| {
                        fail(
                            self,
                            format!("no lambda parameter named '{wanted}' is in scope"),
                        )
                    })
            }
            _ => {
                let values = args
                    .iter()
                    .map(|a| self.eval(a))
                    .collect::<Result<Vec<_>, _>>()?;
                functions::call(canonical, &values, self.ctx).map_err(|m| fail(self, m))
            }
        }
    }

    /// Runs the lambda in `lambda_expr` over `items` for `map` or `filter`.
    fn apply_lambda(
        &mut self,
        info: &FunctionInfo,
        items: &[Value],
        lambda_expr: &Expr,
        column: usize,
    ) -> Result<Value, ExprError> {
        let fail = |this: &Self, m: String| this.err(format!("{}(): {m}", info.name), column);
        let Expr::Call {
            name,
            args: lambda_args,
            ..
        } = lambda_expr
        else {
            return Err(fail(self, "the second argument must be lambda(...)".into()));
        };
        if !name.eq_ignore_ascii_case("lambda") || lambda_args.len() < 2 {
            return Err(fail(
                self,
                "the second argument must be lambda('name', [ 'index', ] expression)".into(),
            ));
        }
        let (body, params) = lambda_args.split_last().unwrap_or((lambda_expr, &[]));
        if params.len() > 2 {
            return Err(fail(self, "a lambda takes one or two parameters".into()));
        }
        let mut names = Vec::with_capacity(params.len());
        for p in params {
            match self.eval(p)? {
                Value::String(s) => names.push(s),
                other => {
                    return Err(fail(
                        self,
                        format!(
                            "lambda parameter names must be strings, got {}",
                            type_name(&other)
                        ),
                    ));
                }
            }
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let pushed = names.len();
            self.lambda_vars.push((names[0].clone(), item.clone()));
            if let Some(index_name) = names.get(1) {
                self.lambda_vars.push((index_name.clone(), Value::from(i)));
            }
            let result = self.eval(body);
            self.lambda_vars.truncate(self.lambda_vars.len() - pushed);
            let result = result?;
            if info.name == "map" {
                out.push(result);
            } else {
                match result {
                    Value::Bool(true) => out.push(item.clone()),
                    Value::Bool(false) => {}
                    other => {
                        return Err(fail(
                            self,
                            format!(
                                "the lambda must return a boolean, got {}",
                                type_name(&other)
                            ),
                        ));
                    }
                }
            }
        }
        Ok(Value::Array(out))
    }

    /// Calls a user-defined function: its arguments are checked against its parameter types,
    /// its output expression evaluated with only those parameters in scope, and the result
    /// checked against its output type.
    fn user_call(&mut self, name: &str, args: &[Expr], column: usize) -> Result<Value, ExprError> {
        let Some(f) = self.ctx.user_function(name) else {
            return Err(self.err(
                format!(
                    "unknown user function '{name}' (define it under 'functions' in the document)"
                ),
                column,
            ));
        };
        if self.depth >= MAX_CALL_DEPTH {
            return Err(self.err(
                format!("user functions nest more than {MAX_CALL_DEPTH} calls deep at '{name}'"),
                column,
            ));
        }
        let n = f.parameters.len();
        check_arity(name, n, n, args.len()).map_err(|m| self.err(m, column))?;
        let mut params = Map::new();
        for ((pname, ptype), a) in f.parameters.iter().zip(args) {
            let v = self.eval(a)?;
            if !value_has_type(&v, ptype) {
                return Err(self.err(
                    format!(
                        "{name}(): parameter '{pname}' must be of type {ptype}, got {}",
                        type_name(&v)
                    ),
                    column,
                ));
            }
            params.insert(pname.clone(), v);
        }
        let scope = FunctionScope {
            outer: self.ctx,
            params,
        };
        let result = run_user_function(&f, &scope, self.depth + 1)
            .map_err(|e| self.err(format!("{name}(): {}", e.message), column))?;
        if !value_has_type(&result, &f.output_type) {
            return Err(self.err(
                format!(
                    "{name}(): the output must be of type {}, got {}",
                    f.output_type,
                    type_name(&result)
                ),
                column,
            ));
        }
        Ok(result)
    }
}

fn run_user_function(
    f: &UserFunction,
    scope: &FunctionScope<'_>,
    depth: usize,
) -> Result<Value, ExprError> {
    match super::classify(&f.output) {
        super::StringValue::Literal(l) => Ok(Value::String(l.into_owned())),
        super::StringValue::Expression(text) => {
            let e = parse(text)?;
            Evaluator {
                ctx: scope,
                text,
                lambda_vars: Vec::new(),
                depth,
            }
            .eval(&e)
        }
    }
}

/// What a user-defined function's output expression sees: its own parameters, no variables
/// and no resource references (as in dsc), and everything else of the document.
struct FunctionScope<'a> {
    outer: &'a dyn Context,
    params: Map<String, Value>,
}

impl Context for FunctionScope<'_> {
    fn parameter(&self, name: &str) -> Option<Value> {
        self.params.get(name).cloned()
    }
    fn variable(&self, _: &str) -> Option<Value> {
        None
    }
    fn reference(&self, _: &str) -> Option<Value> {
        None
    }
    fn env(&self, name: &str) -> Option<String> {
        self.outer.env(name)
    }
    fn now(&self) -> time::OffsetDateTime {
        self.outer.now()
    }
    fn user_function(&self, name: &str) -> Option<Arc<UserFunction>> {
        self.outer.user_function(name)
    }
    fn security_context(&self) -> &'static str {
        self.outer.security_context()
    }
}

/// Whether a value is of a document type name (`string`, `int`, `bool`, `object`, `array`,
/// `secureString`, `secureObject`; case-insensitive).
pub fn value_has_type(v: &Value, type_name: &str) -> bool {
    match type_name.to_ascii_lowercase().as_str() {
        "string" | "securestring" => v.is_string(),
        "int" => v.as_i64().is_some(),
        "bool" => v.is_boolean(),
        "object" | "secureobject" => v.is_object(),
        "array" => v.is_array(),
        _ => false,
    }
}

pub(super) fn check_arity(name: &str, min: usize, max: usize, got: usize) -> Result<(), String> {
    if got >= min && got <= max {
        return Ok(());
    }
    let want = match (min, max) {
        (a, b) if a == b => format!("{a}"),
        (a, usize::MAX) => format!("at least {a}"),
        (a, b) => format!("{a} to {b}"),
    };
    Err(format!(
        "function '{name}' takes {want} argument(s), got {got}"
    ))
}

fn member(v: &Value, name: &str) -> Result<Value, String> {
    match v {
        Value::Object(m) => m
            .get(name)
            .cloned()
            .ok_or_else(|| format!("the object has no property '{name}'")),
        other => Err(format!(
            "cannot read property '{name}' of {}",
            type_name(other)
        )),
    }
}

fn index_value(v: &Value, i: &Value) -> Result<Value, String> {
    match (v, i) {
        (Value::Array(a), Value::Number(n)) => {
            let idx = n
                .as_i64()
                .filter(|x| *x >= 0)
                .ok_or_else(|| format!("index {n} is not a non-negative integer"))?;
            a.get(idx as usize)
                .cloned()
                .ok_or_else(|| format!("index {idx} is out of range (length {})", a.len()))
        }
        (Value::Object(m), Value::String(k)) => m
            .get(k)
            .cloned()
            .ok_or_else(|| format!("the object has no property '{k}'")),
        (t, i) => Err(format!(
            "cannot index {} with {}",
            type_name(t),
            type_name(i)
        )),
    }
}
