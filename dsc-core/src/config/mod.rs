//! Configuration documents: the document model, parameters and run order (`document`) and
//! running them (`run`). Their expressions are [`crate::expr`].

pub mod document;
pub mod run;
