//! Configuration expressions: `[concat('a', parameters('b'))]`.
//!
//! A string value that starts with `[` and ends with `]` is an expression; `[[` at the start
//! escapes a literal `[`. Expressions are tokenized and parsed by recursive descent into an AST,
//! with the character position of every node, so errors say where they are.
//!
//! ```text
//! expression := primary accessor*
//! primary    := STRING | NUMBER | 'true' | 'false' | 'null' | IDENT '(' [expression (',' expression)*] ')'
//! accessor   := '.' IDENT | '[' expression ']'
//! STRING     := "'" ( any character but "'" | "''" )* "'"
//! ```

use base64::Engine as _;
use serde_json::{Map, Value};
use std::fmt;

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

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(i64),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    End,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "'{s}'"),
            Tok::Str(s) => write!(f, "string '{s}'"),
            Tok::Num(n) => write!(f, "number {n}"),
            Tok::LParen => f.write_str("'('"),
            Tok::RParen => f.write_str("')'"),
            Tok::LBracket => f.write_str("'['"),
            Tok::RBracket => f.write_str("']'"),
            Tok::Comma => f.write_str("','"),
            Tok::Dot => f.write_str("'.'"),
            Tok::End => f.write_str("the end of the expression"),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let err = |message: String, i: usize| ExprError {
        message,
        column: i + 1,
        text: text.to_string(),
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                i += 1;
                continue;
            }
            '(' => out.push((Tok::LParen, start)),
            ')' => out.push((Tok::RParen, start)),
            '[' => out.push((Tok::LBracket, start)),
            ']' => out.push((Tok::RBracket, start)),
            ',' => out.push((Tok::Comma, start)),
            '.' => out.push((Tok::Dot, start)),
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(err("unterminated string".into(), start)),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => break,
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push((Tok::Str(s), start));
            }
            '-' | '0'..='9' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
                let lit: String = chars[i..j].iter().collect();
                let n = lit
                    .parse::<i64>()
                    .map_err(|_| err(format!("invalid number '{lit}'"), start))?;
                out.push((Tok::Num(n), start));
                i = j;
                continue;
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                out.push((Tok::Ident(chars[i..j].iter().collect()), start));
                i = j;
                continue;
            }
            other => return Err(err(format!("unexpected character '{other}'"), start)),
        }
        i += 1;
    }
    out.push((Tok::End, chars.len()));
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn column(&self) -> usize {
        self.toks[self.pos].1 + 1
    }

    fn next(&mut self) -> (Tok, usize) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        (t.0, t.1 + 1)
    }

    fn error(&self, message: String) -> ExprError {
        ExprError {
            message,
            column: self.column(),
            text: self.text.to_string(),
        }
    }

    fn expect(&mut self, want: Tok) -> Result<(), ExprError> {
        if *self.peek() == want {
            self.next();
            Ok(())
        } else {
            Err(self.error(format!("expected {want}, found {}", self.peek())))
        }
    }

    fn expression(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.primary()?;
        loop {
            match self.peek() {
                Tok::Dot => {
                    let (_, column) = self.next();
                    match self.next() {
                        (Tok::Ident(name), _) => {
                            e = Expr::Member {
                                target: Box::new(e),
                                name,
                                column,
                            }
                        }
                        (other, c) => {
                            return Err(ExprError {
                                message: format!(
                                    "expected a property name after '.', found {other}"
                                ),
                                column: c,
                                text: self.text.to_string(),
                            });
                        }
                    }
                }
                Tok::LBracket => {
                    let (_, column) = self.next();
                    let index = self.expression()?;
                    self.expect(Tok::RBracket)?;
                    e = Expr::Index {
                        target: Box::new(e),
                        index: Box::new(index),
                        column,
                    };
                }
                _ => return Ok(e),
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, ExprError> {
        let (tok, column) = self.next();
        match tok {
            Tok::Str(s) => Ok(Expr::String(s)),
            Tok::Num(n) => Ok(Expr::Number(n)),
            Tok::Ident(name) if *self.peek() != Tok::LParen => match name.as_str() {
                "true" => Ok(Expr::Bool(true)),
                "false" => Ok(Expr::Bool(false)),
                "null" => Ok(Expr::Null),
                _ => Err(ExprError {
                    message: format!(
                        "'{name}' must be followed by '(' (functions are called like {name}(...))"
                    ),
                    column,
                    text: self.text.to_string(),
                }),
            },
            Tok::Ident(name) => {
                self.expect(Tok::LParen)?;
                let mut args = Vec::new();
                if *self.peek() != Tok::RParen {
                    loop {
                        args.push(self.expression()?);
                        if *self.peek() == Tok::Comma {
                            self.next();
                        } else {
                            break;
                        }
                    }
                }
                self.expect(Tok::RParen)?;
                Ok(Expr::Call { name, args, column })
            }
            other => Err(ExprError {
                message: format!("expected a function call, string or number, found {other}"),
                column,
                text: self.text.to_string(),
            }),
        }
    }
}

/// Parses the text of an expression (without the surrounding brackets).
pub fn parse(text: &str) -> Result<Expr, ExprError> {
    let toks = tokenize(text)?;
    let mut p = Parser { toks, pos: 0, text };
    let e = p.expression()?;
    if *p.peek() != Tok::End {
        return Err(p.error(format!("unexpected {} after the expression", p.peek())));
    }
    Ok(e)
}

/// What expressions can look up.
pub trait Context {
    fn parameter(&self, name: &str) -> Option<Value>;
    fn variable(&self, name: &str) -> Option<Value>;
    /// The result of a resource earlier in the run, by resource id (`type:name`).
    fn reference(&self, resource_id: &str) -> Option<Value>;
    fn env(&self, name: &str) -> Option<String>;
    fn now(&self) -> time::OffsetDateTime;
}

/// The id `resourceId(type, name)` returns and `dependsOn` compares: `type:name`.
pub fn resource_id(type_name: &str, name: &str) -> String {
    format!("{type_name}:{name}")
}

/// Function names, with their minimum and maximum argument counts (`usize::MAX`: no maximum).
const FUNCTIONS: &[(&str, usize, usize)] = &[
    ("parameters", 1, 1),
    ("variables", 1, 1),
    ("concat", 1, usize::MAX),
    ("format", 1, usize::MAX),
    ("resourceId", 2, 2),
    ("reference", 1, 1),
    ("envvar", 1, 1),
    ("if", 3, 3),
    ("equals", 2, 2),
    ("not", 1, 1),
    ("and", 2, usize::MAX),
    ("or", 2, usize::MAX),
    ("greater", 2, 2),
    ("greaterOrEquals", 2, 2),
    ("less", 2, 2),
    ("lessOrEquals", 2, 2),
    ("createArray", 0, usize::MAX),
    ("createObject", 0, usize::MAX),
    ("string", 1, 1),
    ("int", 1, 1),
    ("bool", 1, 1),
    ("json", 1, 1),
    ("length", 1, 1),
    ("contains", 2, 2),
    ("empty", 1, 1),
    ("union", 2, usize::MAX),
    ("coalesce", 1, usize::MAX),
    ("base64", 1, 1),
    ("base64ToString", 1, 1),
    ("toLower", 1, 1),
    ("toUpper", 1, 1),
    ("trim", 1, 1),
    ("utcNow", 0, 1),
    ("true", 0, 0),
    ("false", 0, 0),
    ("null", 0, 0),
];

/// Evaluates a parsed expression. `text` is the expression's source, for error messages.
pub fn evaluate(e: &Expr, ctx: &dyn Context, text: &str) -> Result<Value, ExprError> {
    let err = |message: String, column: usize| ExprError {
        message,
        column,
        text: text.to_string(),
    };
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
            let v = evaluate(target, ctx, text)?;
            match &v {
                Value::Object(m) => m
                    .get(name)
                    .cloned()
                    .ok_or_else(|| err(format!("the object has no property '{name}'"), *column)),
                other => Err(err(
                    format!(
                        "cannot read property '{name}' of {}",
                        crate::text::type_name(other)
                    ),
                    *column,
                )),
            }
        }
        Expr::Index {
            target,
            index,
            column,
        } => {
            let v = evaluate(target, ctx, text)?;
            let i = evaluate(index, ctx, text)?;
            match (&v, &i) {
                (Value::Array(a), Value::Number(n)) => {
                    let idx = n.as_i64().filter(|x| *x >= 0).ok_or_else(|| {
                        err(format!("index {n} is not a non-negative integer"), *column)
                    })?;
                    a.get(idx as usize).cloned().ok_or_else(|| {
                        err(
                            format!("index {idx} is out of range (length {})", a.len()),
                            *column,
                        )
                    })
                }
                (Value::Object(m), Value::String(k)) => m
                    .get(k)
                    .cloned()
                    .ok_or_else(|| err(format!("the object has no property '{k}'"), *column)),
                (t, i) => Err(err(
                    format!(
                        "cannot index {} with {}",
                        crate::text::type_name(t),
                        crate::text::type_name(i)
                    ),
                    *column,
                )),
            }
        }
        Expr::Call { name, args, column } => {
            let Some(&(canonical, min, max)) = FUNCTIONS
                .iter()
                .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
            else {
                return Err(err(format!("unknown function '{name}'"), *column));
            };
            if args.len() < min || args.len() > max {
                let want = match (min, max) {
                    (a, b) if a == b => format!("{a}"),
                    (a, usize::MAX) => format!("at least {a}"),
                    (a, b) => format!("{a} to {b}"),
                };
                return Err(err(
                    format!(
                        "function '{canonical}' takes {want} argument(s), got {}",
                        args.len()
                    ),
                    *column,
                ));
            }
            // `if` evaluates only the branch it takes.
            if canonical == "if" {
                let cond = evaluate(&args[0], ctx, text)?;
                let Value::Bool(c) = cond else {
                    return Err(err(
                        format!(
                            "if() needs a boolean condition, got {}",
                            crate::text::type_name(&cond)
                        ),
                        *column,
                    ));
                };
                return evaluate(&args[if c { 1 } else { 2 }], ctx, text);
            }
            let values = args
                .iter()
                .map(|a| evaluate(a, ctx, text))
                .collect::<Result<Vec<_>, _>>()?;
            call(canonical, &values, ctx).map_err(|m| err(format!("{canonical}(): {m}"), *column))
        }
    }
}

/// Classifies and evaluates a document string: literals come back as strings, expressions as
/// their value.
pub fn evaluate_string(s: &str, ctx: &dyn Context) -> Result<Value, ExprError> {
    match classify(s) {
        StringValue::Literal(l) => Ok(Value::String(l.into_owned())),
        StringValue::Expression(text) => evaluate(&parse(text)?, ctx, text),
    }
}

fn as_str<'a>(v: &'a Value, what: &str) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("{what} must be a string, got {}", crate::text::type_name(v)))
}

fn as_bool(v: &Value) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| format!("expected a boolean, got {}", crate::text::type_name(v)))
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .zip(y.as_f64())
            .and_then(|(x, y)| x.partial_cmp(&y))
            .ok_or_else(|| "numbers cannot be compared".to_string()),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => Err(format!(
            "cannot compare {} with {}",
            crate::text::type_name(a),
            crate::text::type_name(b)
        )),
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn call(name: &str, a: &[Value], ctx: &dyn Context) -> Result<Value, String> {
    Ok(match name {
        "parameters" => {
            let n = as_str(&a[0], "the parameter name")?;
            ctx.parameter(n)
                .ok_or_else(|| format!("no parameter named '{n}'"))?
        }
        "variables" => {
            let n = as_str(&a[0], "the variable name")?;
            ctx.variable(n)
                .ok_or_else(|| format!("no variable named '{n}'"))?
        }
        "concat" => {
            if a.iter().all(Value::is_array) {
                Value::Array(
                    a.iter()
                        .flat_map(|x| x.as_array().cloned().unwrap_or_default())
                        .collect(),
                )
            } else if a.iter().all(|x| x.is_string() || x.is_number()) {
                Value::String(a.iter().map(text_of).collect())
            } else {
                return Err("arguments must be all strings (and numbers) or all arrays".into());
            }
        }
        "format" => {
            let f = as_str(&a[0], "the format string")?;
            let mut out = String::new();
            let chars: Vec<char> = f.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                match chars[i] {
                    '{' if chars.get(i + 1) == Some(&'{') => {
                        out.push('{');
                        i += 2;
                    }
                    '}' if chars.get(i + 1) == Some(&'}') => {
                        out.push('}');
                        i += 2;
                    }
                    '{' => {
                        let end = chars[i..]
                            .iter()
                            .position(|c| *c == '}')
                            .ok_or("unclosed '{' in the format string")?
                            + i;
                        let idx: String = chars[i + 1..end].iter().collect();
                        let n: usize = idx
                            .trim()
                            .parse()
                            .map_err(|_| format!("'{{{idx}}}' is not a placeholder like {{0}}"))?;
                        let v = a
                            .get(n + 1)
                            .ok_or_else(|| format!("placeholder {{{n}}} has no argument"))?;
                        out.push_str(&text_of(v));
                        i = end + 1;
                    }
                    c => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            Value::String(out)
        }
        "resourceId" => Value::String(resource_id(
            as_str(&a[0], "the type")?,
            as_str(&a[1], "the name")?,
        )),
        "reference" => {
            let id = as_str(&a[0], "the resource id")?;
            ctx.reference(id).ok_or_else(|| format!("no result for '{id}' yet (a reference needs the resource to run earlier: add it to dependsOn)"))?
        }
        "envvar" => {
            let n = as_str(&a[0], "the variable name")?;
            Value::String(
                ctx.env(n)
                    .ok_or_else(|| format!("environment variable '{n}' is not set"))?,
            )
        }
        "equals" => Value::Bool(
            crate::compare::values_match(&a[0], &a[1], None)
                && crate::compare::values_match(&a[1], &a[0], None),
        ),
        "not" => Value::Bool(!as_bool(&a[0])?),
        "and" => Value::Bool(
            a.iter()
                .map(as_bool)
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .all(|b| b),
        ),
        "or" => Value::Bool(
            a.iter()
                .map(as_bool)
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .any(|b| b),
        ),
        "greater" => Value::Bool(compare(&a[0], &a[1])?.is_gt()),
        "greaterOrEquals" => Value::Bool(compare(&a[0], &a[1])?.is_ge()),
        "less" => Value::Bool(compare(&a[0], &a[1])?.is_lt()),
        "lessOrEquals" => Value::Bool(compare(&a[0], &a[1])?.is_le()),
        "createArray" => Value::Array(a.to_vec()),
        "createObject" => {
            if !a.len().is_multiple_of(2) {
                return Err("needs key/value pairs (an even number of arguments)".into());
            }
            let mut m = Map::new();
            for pair in a.chunks(2) {
                m.insert(as_str(&pair[0], "a key")?.to_string(), pair[1].clone());
            }
            Value::Object(m)
        }
        "string" => Value::String(text_of(&a[0])),
        "int" => match &a[0] {
            Value::Number(n) => Value::from(
                n.as_i64()
                    .or_else(|| n.as_f64().map(|f| f.trunc() as i64))
                    .ok_or("number out of range")?,
            ),
            Value::String(s) => Value::from(
                s.trim()
                    .parse::<i64>()
                    .map_err(|_| format!("'{s}' is not an integer"))?,
            ),
            other => {
                return Err(format!(
                    "cannot convert {} to an integer",
                    crate::text::type_name(other)
                ));
            }
        },
        "bool" => match &a[0] {
            Value::Bool(b) => Value::Bool(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            Value::Number(n) => Value::Bool(n.as_f64() != Some(0.0)),
            other => return Err(format!("cannot convert {other} to a boolean")),
        },
        "json" => serde_json::from_str(as_str(&a[0], "the argument")?)
            .map_err(|e| format!("not JSON: {e}"))?,
        "length" => Value::from(match &a[0] {
            Value::Array(x) => x.len(),
            Value::Object(x) => x.len(),
            Value::String(s) => s.chars().count(),
            other => return Err(format!("{} has no length", crate::text::type_name(other))),
        }),
        "contains" => Value::Bool(match (&a[0], &a[1]) {
            (Value::Array(x), item) => x.contains(item),
            (Value::Object(x), Value::String(k)) => x.contains_key(k),
            (Value::String(s), item) => s.contains(&text_of(item)),
            (c, _) => return Err(format!("cannot search in {}", crate::text::type_name(c))),
        }),
        "empty" => Value::Bool(match &a[0] {
            Value::Null => true,
            Value::Array(x) => x.is_empty(),
            Value::Object(x) => x.is_empty(),
            Value::String(s) => s.is_empty(),
            _ => false,
        }),
        "union" => {
            if a.iter().all(Value::is_array) {
                let mut out: Vec<Value> = Vec::new();
                for x in a
                    .iter()
                    .flat_map(|x| x.as_array().cloned().unwrap_or_default())
                {
                    if !out.contains(&x) {
                        out.push(x);
                    }
                }
                Value::Array(out)
            } else if a.iter().all(Value::is_object) {
                let mut m = Map::new();
                for x in a {
                    if let Value::Object(o) = x {
                        m.extend(o.clone());
                    }
                }
                Value::Object(m)
            } else {
                return Err("arguments must be all arrays or all objects".into());
            }
        }
        "coalesce" => a
            .iter()
            .find(|v| !v.is_null())
            .cloned()
            .unwrap_or(Value::Null),
        "base64" => Value::String(
            base64::engine::general_purpose::STANDARD.encode(as_str(&a[0], "the argument")?),
        ),
        "base64ToString" => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(as_str(&a[0], "the argument")?)
                .map_err(|e| format!("not base64: {e}"))?;
            Value::String(String::from_utf8(bytes).map_err(|_| "the decoded bytes are not UTF-8")?)
        }
        "toLower" => Value::String(as_str(&a[0], "the argument")?.to_lowercase()),
        "toUpper" => Value::String(as_str(&a[0], "the argument")?.to_uppercase()),
        "trim" => Value::String(as_str(&a[0], "the argument")?.trim().to_string()),
        "utcNow" => {
            let t = ctx.now().to_offset(time::UtcOffset::UTC);
            let f = match a.first() {
                Some(v) => as_str(v, "the format")?.to_string(),
                None => "yyyyMMddTHHmmssZ".to_string(),
            };
            Value::String(
                f.replace("yyyy", &format!("{:04}", t.year()))
                    .replace("MM", &format!("{:02}", u8::from(t.month())))
                    .replace("dd", &format!("{:02}", t.day()))
                    .replace("HH", &format!("{:02}", t.hour()))
                    .replace("mm", &format!("{:02}", t.minute()))
                    .replace("ss", &format!("{:02}", t.second())),
            )
        }
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        other => return Err(format!("'{other}' is not implemented")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Ctx;
    impl Context for Ctx {
        fn parameter(&self, name: &str) -> Option<Value> {
            match name {
                "name" => Some(json!("web")),
                "count" => Some(json!(3)),
                "list" => Some(json!(["a", "b"])),
                "obj" => Some(json!({"k": {"deep": [10, 20]}})),
                "flag" => Some(json!(true)),
                _ => None,
            }
        }
        fn variable(&self, name: &str) -> Option<Value> {
            (name == "v").then(|| json!("var"))
        }
        fn reference(&self, id: &str) -> Option<Value> {
            (id == "Test/File:f1").then(|| json!({"path": "/tmp/f1"}))
        }
        fn env(&self, name: &str) -> Option<String> {
            (name == "HOME").then(|| "/root".to_string())
        }
        fn now(&self) -> time::OffsetDateTime {
            time::macros::datetime!(2024-03-05 06:07:08 UTC)
        }
    }

    fn eval(s: &str) -> Result<Value, ExprError> {
        evaluate_string(s, &Ctx)
    }

    #[test]
    fn expressions_evaluate_as_documented() {
        let cases: Vec<(&str, Value)> = vec![
            ("plain", json!("plain")),
            ("[[not an expression]", json!("[not an expression]")),
            ("[]x", json!("[]x")),
            ("['lit']", json!("lit")),
            ("['it''s']", json!("it's")),
            ("[42]", json!(42)),
            ("[-7]", json!(-7)),
            ("[true]", json!(true)),
            ("[null]", json!(null)),
            ("[parameters('name')]", json!("web")),
            ("[PARAMETERS('name')]", json!("web")),
            ("[variables('v')]", json!("var")),
            ("[concat('a', 'b', parameters('name'))]", json!("abweb")),
            ("[concat('n', 1)]", json!("n1")),
            (
                "[concat(createArray(1), createArray(2, 3))]",
                json!([1, 2, 3]),
            ),
            ("[format('{0}-{1}', 'a', 2)]", json!("a-2")),
            ("[format('{{0}} {0}', 'x')]", json!("{0} x")),
            ("[resourceId('Test/File', 'f1')]", json!("Test/File:f1")),
            (
                "[reference(resourceId('Test/File', 'f1')).path]",
                json!("/tmp/f1"),
            ),
            ("[envvar('HOME')]", json!("/root")),
            ("[if(parameters('flag'), 'yes', 'no')]", json!("yes")),
            ("[if(false, parameters('missing'), 'lazy')]", json!("lazy")),
            ("[equals(1, 1)]", json!(true)),
            ("[equals('a', 'A')]", json!(false)),
            ("[equals(createArray(1,2), createArray(2,1))]", json!(true)),
            ("[not(equals(1, 2))]", json!(true)),
            ("[and(true, true, false)]", json!(false)),
            ("[or(false, true)]", json!(true)),
            ("[greater(3, 2)]", json!(true)),
            ("[greater('b', 'a')]", json!(true)),
            ("[less(parameters('count'), 2)]", json!(false)),
            ("[greaterOrEquals(2, 2)]", json!(true)),
            ("[lessOrEquals(1, 2)]", json!(true)),
            ("[createArray('a', 1, true)]", json!(["a", 1, true])),
            ("[createArray()]", json!([])),
            (
                "[createObject('a', 1, 'b', createArray())]",
                json!({"a": 1, "b": []}),
            ),
            ("[string(5)]", json!("5")),
            ("[string(createObject('a', 1))]", json!("{\"a\":1}")),
            ("[int('12')]", json!(12)),
            ("[int(3)]", json!(3)),
            ("[bool('TRUE')]", json!(true)),
            ("[bool(0)]", json!(false)),
            ("[json('{\"a\": [1]}').a[0]]", json!(1)),
            ("[length(parameters('list'))]", json!(2)),
            ("[length('héllo')]", json!(5)),
            ("[length(createObject('a', 1))]", json!(1)),
            ("[contains(parameters('list'), 'b')]", json!(true)),
            ("[contains('haystack', 'st')]", json!(true)),
            ("[contains(createObject('k', 1), 'k')]", json!(true)),
            ("[empty('')]", json!(true)),
            ("[empty(createArray(1))]", json!(false)),
            ("[empty(null())]", json!(true)),
            (
                "[union(createArray(1, 2), createArray(2, 3))]",
                json!([1, 2, 3]),
            ),
            (
                "[union(createObject('a', 1), createObject('b', 2, 'a', 3))]",
                json!({"a": 3, "b": 2}),
            ),
            ("[coalesce(null(), null(), 'x')]", json!("x")),
            ("[base64('hi')]", json!("aGk=")),
            ("[base64ToString('aGk=')]", json!("hi")),
            ("[toLower('AbC')]", json!("abc")),
            ("[toUpper('AbC')]", json!("ABC")),
            ("[trim('  x ')]", json!("x")),
            ("[utcNow()]", json!("20240305T060708Z")),
            ("[utcNow('yyyy-MM-dd')]", json!("2024-03-05")),
            ("[parameters('obj').k.deep[1]]", json!(20)),
            ("[parameters('obj')['k']['deep'][0]]", json!(10)),
            (
                "[parameters('list')[length(parameters('list'))]]",
                Value::Null,
            ),
            ("[ concat( 'a' , 'b' ) ]", json!("ab")),
        ];
        let mut failures = Vec::new();
        for (text, want) in &cases {
            let got = eval(text);
            let ok = match (&got, want) {
                (Err(_), Value::Null) if text.contains("[length(") => true, // out of range: an error
                (Ok(v), w) => v == w,
                _ => false,
            };
            if !ok {
                failures.push(format!("{text}: got {got:?}, want {want}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(cases.len() >= 60);
    }

    #[test]
    fn errors_name_the_problem_and_its_column() {
        let cases: Vec<(&str, &str, usize)> = vec![
            ("[nosuch(1)]", "unknown function 'nosuch'", 1),
            ("[concat('a', nosuch())]", "unknown function 'nosuch'", 13),
            (
                "[parameters()]",
                "'parameters' takes 1 argument(s), got 0",
                1,
            ),
            ("[equals(1)]", "'equals' takes 2 argument(s), got 1", 1),
            ("[if(1, 2)]", "'if' takes 3 argument(s), got 2", 1),
            ("[and(true)]", "takes at least 2 argument(s)", 1),
            ("[parameters('missing')]", "no parameter named 'missing'", 1),
            ("['unterminated]", "unterminated string", 1),
            ("[concat('a' 'b')]", "expected ')'", 12),
            ("[concat('a',)]", "expected a function call", 12),
            ("[concat]", "must be followed by '('", 1),
            ("[1 2]", "unexpected number 2", 3),
            (
                "[parameters('name').x]",
                "cannot read property 'x' of string",
                19,
            ),
            ("[parameters('list')[5]]", "index 5 is out of range", 19),
            (
                "[parameters('list')['a']]",
                "cannot index array with string",
                19,
            ),
            ("[if(1, 'a', 'b')]", "if() needs a boolean", 1),
            ("[int('x')]", "'x' is not an integer", 1),
            ("[json('{')]", "not JSON", 1),
            ("[format('{5}', 1)]", "placeholder {5} has no argument", 1),
            ("[concat('a', createArray())]", "all strings", 1),
            ("[createObject('a')]", "even number", 1),
            ("[reference('Test/File:none')]", "no result for", 1),
            ("[envvar('TRAEK_SURELY_UNSET')]", "is not set", 1),
            ("[greater('a', 1)]", "cannot compare", 1),
            ("[a$b()]", "unexpected character '$'", 2),
            ("[-]", "invalid number", 1),
        ];
        for (text, fragment, column) in cases {
            match eval(text) {
                Ok(v) => panic!("{text} evaluated to {v}, expected an error"),
                Err(e) => {
                    assert!(
                        e.message.contains(fragment),
                        "{text}: '{}' lacks '{fragment}'",
                        e.message
                    );
                    assert_eq!(e.column, column, "{text}: {e}");
                }
            }
        }
    }
}
