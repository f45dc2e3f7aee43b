//! Configuration documents (issue 3). So far: the expression language.

pub mod expr;
