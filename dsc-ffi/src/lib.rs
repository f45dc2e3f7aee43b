//! # libtraek: the C ABI over `dsc-core`
//!
//! In the manner of rustls-ffi:
//! - **Opaque handles.** A `traek_engine` holds discovery settings (resource path, trace level,
//!   timeout), its caches, a log callback and the last error message.
//! - **Result codes.** Every function returns a `traek_result`; outputs go through out-pointers.
//!   The codes match the `traek` CLI's exit codes where they overlap.
//! - **Strings.** Inputs are NUL-terminated UTF-8 (JSON where structured); a NULL pointer where a
//!   value is required gives `TRAEK_ERR_NULL`, invalid UTF-8 gives `TRAEK_ERR_UTF8`. Every string
//!   the library returns is owned by the caller and must be freed with `traek_string_free`.
//! - **No panics cross the boundary.** Every entry point runs under `catch_unwind`; a panic
//!   becomes `TRAEK_ERR_PANIC`.
//! - **Threads.** An engine may be shared between threads (operations are internally
//!   synchronised), but `traek_engine_last_error` reports the last failure of *any* thread on
//!   that handle: use one engine per thread when you need the message of your own failure. The
//!   log callback is called on the thread that runs the operation.
//!
//! The rules (settings and policy, built-in group types, what a run prints, error classes) are
//! `dsc_core::frontend`'s; this crate translates C strings and result codes. One file per job:
//! `engine` (handles, options, logging), `resource`, `config`, `package`, `pull`.

#![allow(
    clippy::missing_safety_doc,
    non_camel_case_types,
    clippy::too_many_arguments
)]

mod config;
mod engine;
mod package;
mod pull;
mod resource;

pub use config::*;
pub use engine::*;
pub use package::*;
pub use pull::*;
pub use resource::*;

use dsc_core::ErrorClass;
use serde_json::Value;
use std::ffi::{CStr, CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

/// Result codes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum traek_result {
    /// Success.
    TRAEK_OK = 0,
    /// An argument is not acceptable (bad option, unknown operation, bad version requirement).
    TRAEK_ERR_INVALID_ARGUMENT = 1,
    /// A resource or the engine failed (the resource's exit code, unusable output, timeout).
    TRAEK_ERR_RESOURCE = 2,
    /// Text that should be JSON or YAML does not parse.
    TRAEK_ERR_PARSE = 3,
    /// Input parses but is not acceptable (schema, parameters, tampered or untrusted package).
    TRAEK_ERR_INVALID_INPUT = 4,
    /// No resource of that type (or version).
    TRAEK_ERR_NOT_FOUND = 7,
    /// A required pointer is NULL.
    TRAEK_ERR_NULL = 10,
    /// A string is not valid UTF-8.
    TRAEK_ERR_UTF8 = 11,
    /// A panic inside the library (a bug in traek); the handle is still usable.
    TRAEK_ERR_PANIC = 12,
}

use traek_result::*;

/// Message levels passed to the log callback.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum traek_level {
    TRAEK_LEVEL_ERROR = 1,
    TRAEK_LEVEL_WARN = 2,
    TRAEK_LEVEL_INFO = 3,
    TRAEK_LEVEL_DEBUG = 4,
    TRAEK_LEVEL_TRACE = 5,
}

/// Receives each message of a resource (or of the engine, with `resource_type` NULL) as it
/// happens. The strings are valid only during the call.
pub type traek_log_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: traek_level,
        resource_type: *const c_char,
        message: *const c_char,
    ),
>;

struct Callback {
    func: unsafe extern "C" fn(*mut c_void, traek_level, *const c_char, *const c_char),
    userdata: *mut c_void,
}

// SAFETY: the caller of traek_engine_set_log_callback promises (as documented) that the callback
// and its userdata may be called from the threads that use the engine.
unsafe impl Send for Callback {}

/// An engine: discovery settings, caches, log callback, last error.
pub struct traek_engine {
    engine: dsc_core::Engine,
    /// Core resources for packages that allow them (see `dsc_core::frontend::core_dirs`).
    core_dirs: Vec<std::path::PathBuf>,
    /// Settings problems not yet logged (logged when a callback is set).
    pending: Mutex<Vec<String>>,
    log: Mutex<Option<Callback>>,
    last_error: Mutex<Option<CString>>,
}

struct Failure(traek_result, String);

type FfiResult<T> = Result<T, Failure>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A core error as the result code of its class (the same numbers as dsc's exit codes).
fn classified(class: ErrorClass, e: impl std::fmt::Display) -> Failure {
    let code = match class {
        ErrorClass::Usage => TRAEK_ERR_INVALID_ARGUMENT,
        ErrorClass::Resource => TRAEK_ERR_RESOURCE,
        ErrorClass::Parse => TRAEK_ERR_PARSE,
        ErrorClass::InvalidInput => TRAEK_ERR_INVALID_INPUT,
        ErrorClass::NotFound => TRAEK_ERR_NOT_FOUND,
    };
    debug_assert_eq!(code as u8, class.code());
    Failure(code, e.to_string())
}

fn frontend_error(e: dsc_core::frontend::FrontendError) -> Failure {
    classified(e.class(), e)
}

/// A required string argument.
unsafe fn arg<'a>(p: *const c_char, name: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(Failure(TRAEK_ERR_NULL, format!("{name} is NULL")));
    }
    // SAFETY: the caller passes a NUL-terminated string that outlives the call.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| Failure(TRAEK_ERR_UTF8, format!("{name} is not valid UTF-8")))
}

/// An optional string argument (NULL means absent).
unsafe fn opt_arg<'a>(p: *const c_char, name: &str) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        unsafe { arg(p, name) }.map(Some)
    }
}

fn parse_json(text: &str, what: &str) -> FfiResult<Value> {
    dsc_core::text::parse_json_or_yaml(text)
        .map(|(v, _)| v)
        .map_err(|e| Failure(TRAEK_ERR_PARSE, format!("{what}: {}", e.message)))
}

/// Writes an owned C string to `out`.
unsafe fn put(out: *mut *mut c_char, s: String) -> FfiResult<()> {
    let c = CString::new(s)
        .map_err(|_| Failure(TRAEK_ERR_RESOURCE, "the result contains a NUL byte".into()))?;
    // SAFETY: `out` was checked to be non-NULL by the caller of put.
    unsafe { *out = c.into_raw() };
    Ok(())
}

/// Runs `f` on the engine with panics caught; records the error message on the handle.
unsafe fn with_engine(
    engine: *mut traek_engine,
    out: *mut *mut c_char,
    f: impl FnOnce(&traek_engine) -> FfiResult<String>,
) -> traek_result {
    if engine.is_null() {
        return TRAEK_ERR_NULL;
    }
    // SAFETY: a non-NULL engine was created by traek_engine_new and not yet freed (documented).
    let e = unsafe { &*engine };
    if out.is_null() {
        *lock(&e.last_error) = CString::new("the output pointer is NULL").ok();
        return TRAEK_ERR_NULL;
    }
    // SAFETY: out is non-NULL; clear it so callers never free garbage.
    unsafe { *out = std::ptr::null_mut() };
    let result = catch_unwind(AssertUnwindSafe(|| {
        f(e).and_then(|s| unsafe { put(out, s) })
    }));
    match result {
        Ok(Ok(())) => TRAEK_OK,
        Ok(Err(Failure(code, message))) => {
            *lock(&e.last_error) = CString::new(message.replace('\0', " ")).ok();
            code
        }
        Err(_) => {
            *lock(&e.last_error) =
                CString::new("internal error (panic) in libtraek; please report it").ok();
            TRAEK_ERR_PANIC
        }
    }
}

/// The library version, a static NUL-terminated string. Never free it.
#[unsafe(no_mangle)]
pub extern "C" fn traek_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Frees a string returned by the library (NULL is ignored).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: created by CString::into_raw in this library, freed once (documented).
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { CString::from_raw(s) })));
    }
}

unsafe fn bytes<'a>(p: *const u8, len: usize) -> FfiResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Failure(TRAEK_ERR_NULL, "the data pointer is NULL".into()));
    }
    // SAFETY: the caller passes `len` readable bytes at `p` (documented).
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}
