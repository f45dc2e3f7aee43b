//! # What every frontend does the same way
//!
//! The `traek` CLI, its MCP server and the C ABI are translations of this module: they turn
//! arguments (argv, MCP tool calls, C strings) into a [`SetupRequest`] and a call to
//! [`invoke_resource`], [`run_document`] or [`run_package`], and turn the [`Outcome`] or
//! [`FrontendError`] back into their own form (printed text and an exit code, a tool result, a
//! JSON string and a result code). Everything in between is decided here, once:
//!
//! - engine options from the settings and policy files, the environment and the caller's
//!   explicit choices ([`setup`]), and the directories of core resources packages may use;
//! - which resource types are built in (`Microsoft.DSC/Group`, `Assertion`, `Include`) and how
//!   they run (as a one-resource configuration; their result is that resource's result);
//! - what an operation needs (an instance for test, set and delete) and what it returns;
//! - what is printed for a configuration run (the exported document, else the whole result),
//!   with the run's messages attributed to their resources;
//! - the status of a run (assertion failed, resources failed, package not removed) and the code
//!   of every error ([`FrontendError::class`], [`Status::code`]).

mod invoke;
mod setup;

pub use invoke::{
    Outcome, Output, ResourceOp, Status, config_operation, invoke_resource, run_document,
};
#[cfg(feature = "package")]
pub use invoke::{PackageHooks, run_package};
pub use setup::{Setup, SetupRequest, TraceFormat, core_dirs, setup, timeout};

use crate::config::document::DocumentError;
use crate::config::run::RunError;
use crate::error::{Error, ErrorClass};
use serde_json::Value;

/// The JSON Schemas of traek's own formats, by the name `traek schema` and MCP's
/// `show_dsc_schema` know them by.
pub const SCHEMAS: &[&str] = &["configuration", "resource-manifest", "package-manifest"];

/// The JSON Schema named `name` (one of [`SCHEMAS`]).
pub fn schema(name: &str) -> Option<Value> {
    match name {
        "configuration" => Some(crate::config::document::document_json_schema()),
        "resource-manifest" => Some(crate::manifest::manifest_json_schema()),
        #[cfg(feature = "package")]
        "package-manifest" => Some(crate::package::manifest::package_manifest_schema()),
        _ => None,
    }
}

/// Why a frontend request failed. [`FrontendError::class`] gives its exit or result code.
#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    /// Discovery, a manifest, or a resource process failed.
    #[error(transparent)]
    Core(#[from] Error),
    /// A configuration document or its parameters are not acceptable.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// A configuration run could not start or continue.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A package could not be verified, trusted or unpacked.
    #[cfg(feature = "package")]
    #[error(transparent)]
    Package(#[from] crate::package::archive::PackageError),
    /// The request itself is not acceptable (unknown operation, bad version requirement or
    /// timeout, an operation a built-in type does not have).
    #[error("{0}")]
    Usage(String),
    /// Test, set and delete need the instance (its desired state).
    #[error("'{operation}' needs the instance as input")]
    MissingInput { operation: &'static str },
}

impl FrontendError {
    /// The class of the failure (its exit code / result code with [`ErrorClass::code`]).
    pub fn class(&self) -> ErrorClass {
        match self {
            FrontendError::Core(e) => e.class(),
            FrontendError::Document(e) => e.class(),
            FrontendError::Run(e) => e.class(),
            #[cfg(feature = "package")]
            FrontendError::Package(e) => e.class(),
            FrontendError::Usage(_) | FrontendError::MissingInput { .. } => ErrorClass::Usage,
        }
    }
}

#[cfg(feature = "package")]
impl From<crate::package::run::PackageRunError> for FrontendError {
    fn from(e: crate::package::run::PackageRunError) -> Self {
        match e {
            crate::package::run::PackageRunError::Package(p) => FrontendError::Package(p),
            crate::package::run::PackageRunError::Run(r) => FrontendError::Run(r),
        }
    }
}
