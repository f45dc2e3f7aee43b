//! The errors of `dsc-core`, and the class each belongs to.

use std::path::PathBuf;

/// What kind of failure an [`Error`] is; frontends map this to exit codes or result codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The caller asked for something that cannot be done as asked: an unknown operation, a
    /// missing instance, a timeout that is not a positive number (exit code 1).
    Usage,
    /// A resource or the engine failed (exit code 2).
    Resource,
    /// Text that should have been JSON or YAML did not parse (exit code 3).
    Parse,
    /// Input parsed but is not acceptable: wrong shape, fails the instance schema (exit code 4).
    InvalidInput,
    /// No resource of the requested type (and version) was found (exit code 7).
    NotFound,
}

impl ErrorClass {
    /// The exit code Microsoft's `dsc` gives this class (1, 2, 3, 4 or 7); the C ABI's result
    /// codes are the same numbers.
    pub fn code(self) -> u8 {
        match self {
            ErrorClass::Usage => 1,
            ErrorClass::Resource => 2,
            ErrorClass::Parse => 3,
            ErrorClass::InvalidInput => 4,
            ErrorClass::NotFound => 7,
        }
    }
}

/// An error from `dsc-core`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A manifest file could not be loaded.
    #[error("manifest '{path}': {reason}")]
    Manifest { path: PathBuf, reason: String },

    /// No manifest declares the resource type (or no version matches the requirement).
    #[error("{0}")]
    ResourceNotFound(String),

    /// Text could not be parsed as JSON or YAML.
    #[error("{what}: {reason}")]
    Parse { what: String, reason: String },

    /// Input is well-formed but not acceptable.
    #[error("{0}")]
    InvalidInput(String),

    /// The resource does not implement an operation.
    #[error("resource '{resource}' does not implement '{operation}'")]
    NotImplemented {
        resource: String,
        operation: &'static str,
    },

    /// The executable of a resource could not be started.
    #[error("resource '{resource}': cannot run '{executable}': {reason}")]
    Spawn {
        resource: String,
        executable: String,
        reason: String,
    },

    /// The resource exited with a non-zero code.
    #[error("resource '{resource}' {operation} failed with exit code {code}: {message}")]
    ResourceFailed {
        resource: String,
        operation: &'static str,
        code: i32,
        /// The manifest's `exitCodes` description for the code, else the resource's stderr text.
        message: String,
    },

    /// The resource did not finish within the timeout and was killed.
    #[error(
        "resource '{resource}' {operation} did not finish within {seconds:.3}s; it was killed with its child processes"
    )]
    Timeout {
        resource: String,
        operation: &'static str,
        seconds: f64,
    },

    /// The resource's output was not what the protocol requires.
    /// The method needs a security context this process does not have.
    #[error(
        "resource '{resource}' {operation} requires the '{required}' security context, but traek runs '{current}'"
    )]
    SecurityContext {
        resource: String,
        operation: &'static str,
        required: &'static str,
        current: &'static str,
    },

    #[error("resource '{resource}' {operation} returned unusable output: {reason}")]
    BadOutput {
        resource: String,
        operation: &'static str,
        reason: String,
    },

    /// An I/O error outside of a resource (reading a file the user named, say).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::ResourceNotFound(_) => ErrorClass::NotFound,
            Error::Parse { .. } => ErrorClass::Parse,
            Error::InvalidInput(_) => ErrorClass::InvalidInput,
            _ => ErrorClass::Resource,
        }
    }

    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result alias for `dsc-core`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
