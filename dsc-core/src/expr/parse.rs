//! Tokenizing and parsing expressions into [`Expr`] by recursive descent.

use super::{Expr, ExprError};
use std::fmt;

/// How deeply calls and accessors may nest; deeper text is refused rather than risking the stack.
const MAX_DEPTH: usize = 64;

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
    depth: usize,
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
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!(
                "the expression nests more than {MAX_DEPTH} levels deep"
            )));
        }
        let e = self.accessors();
        self.depth -= 1;
        e
    }

    fn accessors(&mut self) -> Result<Expr, ExprError> {
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
            Tok::Ident(namespace) if self.is_namespaced_call() => {
                self.next();
                let (Tok::Ident(member), _) = self.next() else {
                    return Err(self.error("expected a function name after '.'".into()));
                };
                self.call(format!("{namespace}.{member}"), column)
            }
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
            Tok::Ident(name) => self.call(name, column),
            other => Err(ExprError {
                message: format!("expected a function call, string or number, found {other}"),
                column,
                text: self.text.to_string(),
            }),
        }
    }
}

impl Parser<'_> {
    /// `namespace.member(`: a user-defined function.
    fn is_namespaced_call(&self) -> bool {
        let at = |i: usize| self.toks.get(self.pos + i).map(|t| &t.0);
        at(0) == Some(&Tok::Dot)
            && matches!(at(1), Some(Tok::Ident(_)))
            && at(2) == Some(&Tok::LParen)
    }

    fn call(&mut self, name: String, column: usize) -> Result<Expr, ExprError> {
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
}

/// Parses the text of an expression (without the surrounding brackets).
pub fn parse(text: &str) -> Result<Expr, ExprError> {
    let toks = tokenize(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        text,
        depth: 0,
    };
    let e = p.expression()?;
    if *p.peek() != Tok::End {
        return Err(p.error(format!("unexpected {} after the expression", p.peek())));
    }
    Ok(e)
}
