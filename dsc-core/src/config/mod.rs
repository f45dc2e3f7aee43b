//! Configuration documents: the document model, parameters and run
//! order (`document`) and the expression language (`expr`).

pub mod document;
pub mod expr;
pub mod run;
