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

#![allow(
    clippy::missing_safety_doc,
    non_camel_case_types,
    clippy::too_many_arguments
)]

use dsc_core::config::document::{DocumentError, parse_document, parse_parameters_input};
use dsc_core::config::run::{Operation, RunError};
use dsc_core::manifest::VersionReq;
use dsc_core::package::archive::{self, Limits, PackageError};
use dsc_core::package::run::{PackageRunError, Trust, run_package};
use dsc_core::{Engine, EngineOptions, ErrorClass, Level, Message, SearchPath};
use serde_json::{Value, json};
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
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
    engine: Engine,
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
        ErrorClass::Resource => TRAEK_ERR_RESOURCE,
        ErrorClass::Parse => TRAEK_ERR_PARSE,
        ErrorClass::InvalidInput => TRAEK_ERR_INVALID_INPUT,
        ErrorClass::NotFound => TRAEK_ERR_NOT_FOUND,
    };
    debug_assert_eq!(code as u8, class.code());
    Failure(code, e.to_string())
}

fn core_error(e: dsc_core::Error) -> Failure {
    classified(e.class(), e)
}

fn document_error(e: DocumentError) -> Failure {
    classified(e.class(), e)
}

fn package_error(e: PackageError) -> Failure {
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

impl traek_engine {
    /// A message sink forwarding to the log callback (and collecting nothing else).
    fn sink(&self) -> impl FnMut(Message) + '_ {
        move |m: Message| {
            let guard = lock(&self.log);
            if let Some(cb) = guard.as_ref() {
                let level = match m.level {
                    Level::Error => traek_level::TRAEK_LEVEL_ERROR,
                    Level::Warn => traek_level::TRAEK_LEVEL_WARN,
                    Level::Info => traek_level::TRAEK_LEVEL_INFO,
                    Level::Debug => traek_level::TRAEK_LEVEL_DEBUG,
                    Level::Trace => traek_level::TRAEK_LEVEL_TRACE,
                };
                let ty = m
                    .resource_type
                    .as_deref()
                    .and_then(|t| CString::new(t).ok());
                let msg = CString::new(m.message.replace('\0', " ")).unwrap_or_default();
                // SAFETY: calling the caller's callback with strings valid for the call.
                unsafe {
                    (cb.func)(
                        cb.userdata,
                        level,
                        ty.as_ref().map_or(std::ptr::null(), |t| t.as_ptr()),
                        msg.as_ptr(),
                    )
                };
            }
        }
    }
}

/// The library version, a static NUL-terminated string. Never free it.
#[unsafe(no_mangle)]
pub extern "C" fn traek_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Creates an engine. `options_json` may be NULL, or a JSON object with
/// `resourcePath` (array of directories; default: DSC_RESOURCE_PATH, else PATH),
/// `traceLevel` (`error`, `warn` (default), `info`, `debug`, `trace`) and `timeoutSeconds`
/// (number; default none). Free it with `traek_engine_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_engine_new(
    options_json: *const c_char,
    out: *mut *mut traek_engine,
) -> traek_result {
    if out.is_null() {
        return TRAEK_ERR_NULL;
    }
    let result = catch_unwind(AssertUnwindSafe(|| -> FfiResult<EngineOptions> {
        let mut options = EngineOptions::from_process_env();
        if let Some(text) = unsafe { opt_arg(options_json, "options_json") }? {
            let v = parse_json(text, "options")?;
            let Value::Object(map) = v else {
                return Err(Failure(
                    TRAEK_ERR_INVALID_ARGUMENT,
                    "options must be a JSON object".into(),
                ));
            };
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("resourcePath", Value::Array(dirs)) => {
                        let dirs = dirs
                            .iter()
                            .map(|d| {
                                d.as_str().map(PathBuf::from).ok_or_else(|| {
                                    Failure(
                                        TRAEK_ERR_INVALID_ARGUMENT,
                                        "resourcePath must be an array of strings".into(),
                                    )
                                })
                            })
                            .collect::<FfiResult<Vec<_>>>()?;
                        options.search_path = SearchPath {
                            dirs: dirs
                                .into_iter()
                                .map(|d| std::path::absolute(&d).unwrap_or(d))
                                .collect(),
                        };
                    }
                    ("traceLevel", Value::String(l)) => {
                        options.trace_level =
                            l.parse().map_err(|e: dsc_core::trace::UnknownLevel| {
                                Failure(TRAEK_ERR_INVALID_ARGUMENT, e.to_string())
                            })?
                    }
                    ("timeoutSeconds", Value::Number(n)) => {
                        let secs = n
                            .as_f64()
                            .filter(|s| s.is_finite() && *s > 0.0)
                            .ok_or_else(|| {
                                Failure(
                                    TRAEK_ERR_INVALID_ARGUMENT,
                                    "timeoutSeconds must be a positive number".into(),
                                )
                            })?;
                        options.timeout = Some(std::time::Duration::from_secs_f64(secs));
                    }
                    (other, _) => {
                        return Err(Failure(
                            TRAEK_ERR_INVALID_ARGUMENT,
                            format!(
                                "unknown or mistyped option '{other}' (expected resourcePath, traceLevel, timeoutSeconds)"
                            ),
                        ));
                    }
                }
            }
        }
        Ok(options)
    }));
    match result {
        Ok(Ok(options)) => {
            let engine = Box::new(traek_engine {
                engine: Engine::new(options),
                log: Mutex::new(None),
                last_error: Mutex::new(None),
            });
            // SAFETY: out is non-NULL.
            unsafe { *out = Box::into_raw(engine) };
            TRAEK_OK
        }
        Ok(Err(Failure(code, _))) => {
            unsafe { *out = std::ptr::null_mut() };
            code
        }
        Err(_) => TRAEK_ERR_PANIC,
    }
}

/// Frees an engine (NULL is ignored). The handle must not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_engine_free(engine: *mut traek_engine) {
    if !engine.is_null() {
        // SAFETY: created by traek_engine_new, freed once (documented).
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(engine) })));
    }
}

/// The message of the last failed call on this engine, or NULL. Owned by the engine: valid
/// until the next call on it; do not free it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_engine_last_error(engine: *const traek_engine) -> *const c_char {
    if engine.is_null() {
        return std::ptr::null();
    }
    // SAFETY: a live engine (documented).
    let e = unsafe { &*engine };
    lock(&e.last_error)
        .as_ref()
        .map_or(std::ptr::null(), |s| s.as_ptr())
}

/// Sets (or, with NULL, removes) the log callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_engine_set_log_callback(
    engine: *mut traek_engine,
    callback: traek_log_callback,
    userdata: *mut c_void,
) -> traek_result {
    if engine.is_null() {
        return TRAEK_ERR_NULL;
    }
    // SAFETY: a live engine (documented).
    let e = unsafe { &*engine };
    match catch_unwind(AssertUnwindSafe(|| {
        *lock(&e.log) = callback.map(|func| Callback { func, userdata })
    })) {
        Ok(()) => TRAEK_OK,
        Err(_) => TRAEK_ERR_PANIC,
    }
}

/// Frees a string returned by the library (NULL is ignored).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: created by CString::into_raw in this library, freed once (documented).
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { CString::from_raw(s) })));
    }
}

/// Lists resources whose type matches `filter` (NULL for all; `*` and `?` wildcards) as a JSON
/// array of `{type, kind, version, capabilities, description, path}`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_resource_list(
    engine: *mut traek_engine,
    filter: *const c_char,
    out_json: *mut *mut c_char,
) -> traek_result {
    unsafe {
        with_engine(engine, out_json, |e| {
            let filter = opt_arg(filter, "filter")?;
            let mut sink = e.sink();
            let list: Vec<Value> = e
                .engine
                .registry(&mut sink)
                .list(filter)
                .iter()
                .map(|r| json!({"type": r.type_name, "kind": r.kind.as_str(), "version": r.version.to_string(), "capabilities": r.manifest.capabilities(), "description": r.manifest.description, "path": r.path}))
                .collect();
            Ok(Value::Array(list).to_string())
        })
    }
}

/// Invokes a resource. `operation` is `get`, `set`, `test`, `delete`, `export` or `schema`;
/// `version_req` (`=1.0.0`, `^2`, ...) and `input_json` (JSON or YAML) may be NULL; `what_if`
/// (non-zero) applies to set and delete. The result JSON has Microsoft dsc's shape
/// (`{"actualState": ...}` for get, and so on; `null` for a delete; the instance schema for schema).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_resource_invoke(
    engine: *mut traek_engine,
    operation: *const c_char,
    resource_type: *const c_char,
    version_req: *const c_char,
    input_json: *const c_char,
    what_if: c_int,
    out_json: *mut *mut c_char,
) -> traek_result {
    unsafe {
        with_engine(engine, out_json, |e| {
            let op = arg(operation, "operation")?;
            let ty = arg(resource_type, "resource_type")?;
            let req = opt_arg(version_req, "version_req")?
                .map(VersionReq::parse)
                .transpose()
                .map_err(|m| Failure(TRAEK_ERR_INVALID_ARGUMENT, m))?;
            let input = opt_arg(input_json, "input_json")?
                .map(|t| parse_json(t, "input"))
                .transpose()?;
            let mut sink = e.sink();
            let r = e
                .engine
                .find(ty, req.as_ref(), &mut sink)
                .map_err(core_error)?;
            let need = |input: Option<Value>| {
                input.ok_or_else(|| {
                    Failure(
                        TRAEK_ERR_INVALID_ARGUMENT,
                        format!("'{op}' needs input_json"),
                    )
                })
            };
            let v = match op {
                "get" => serde_json::to_value(
                    e.engine
                        .get(&r, input.as_ref(), &mut sink)
                        .map_err(core_error)?,
                ),
                "test" => serde_json::to_value(
                    e.engine
                        .test(&r, &need(input)?, &mut sink)
                        .map_err(core_error)?,
                ),
                "set" => serde_json::to_value(
                    e.engine
                        .set(&r, &need(input)?, what_if != 0, &mut sink)
                        .map_err(core_error)?,
                ),
                "delete" => serde_json::to_value(
                    e.engine
                        .delete(&r, &need(input)?, what_if != 0, &mut sink)
                        .map_err(core_error)?,
                ),
                "export" => Ok(e
                    .engine
                    .export_configuration(&r, input.as_ref(), &mut sink)
                    .map_err(core_error)?),
                "schema" => Ok(e.engine.schema(&r, &mut sink).map_err(core_error)?),
                other => {
                    return Err(Failure(
                        TRAEK_ERR_INVALID_ARGUMENT,
                        format!(
                            "unknown operation '{other}' (get, set, test, delete, export, schema)"
                        ),
                    ));
                }
            }
            .map_err(|err| Failure(TRAEK_ERR_RESOURCE, err.to_string()))?;
            Ok(v.to_string())
        })
    }
}

/// The optional `{"parameters": {...}}` argument of the config functions.
unsafe fn parameters_arg(
    parameters_json: *const c_char,
) -> FfiResult<serde_json::Map<String, Value>> {
    match unsafe { opt_arg(parameters_json, "parameters_json") }? {
        Some(p) => parse_parameters_input(p).map_err(document_error),
        None => Ok(Default::default()),
    }
}

fn config_operation(op: &str, what_if: c_int) -> FfiResult<Operation> {
    Ok(match op {
        "get" => Operation::Get,
        "test" => Operation::Test,
        "set" => Operation::Set {
            what_if: what_if != 0,
        },
        "export" => Operation::Export,
        other => {
            return Err(Failure(
                TRAEK_ERR_INVALID_ARGUMENT,
                format!("unknown operation '{other}' (get, test, set, export)"),
            ));
        }
    })
}

fn run_error(e: RunError) -> Failure {
    classified(e.class(), e)
}

fn config_output(
    engine: &traek_engine,
    result: dsc_core::config::run::ConfigResult,
) -> FfiResult<String> {
    let mut sink = engine.sink();
    for m in &result.messages {
        sink(Message {
            level: m.level,
            resource_type: Some(format!("{} '{}'", m.type_name, m.name)),
            message: m.message.clone(),
        });
    }
    let v = match &result.exported {
        Some(doc) => doc.clone(),
        None => {
            serde_json::to_value(&result).map_err(|e| Failure(TRAEK_ERR_RESOURCE, e.to_string()))?
        }
    };
    Ok(v.to_string())
}

/// Runs a configuration document (JSON or YAML text). `operation` is `get`, `test`, `set` or
/// `export`; `parameters_json` (`{"parameters": {...}}`) may be NULL. The result is dsc's
/// configuration result (with `hadErrors`), or for export a configuration document. A run in
/// which resources failed still returns TRAEK_OK: check `hadErrors`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_config_run(
    engine: *mut traek_engine,
    operation: *const c_char,
    document: *const c_char,
    parameters_json: *const c_char,
    what_if: c_int,
    out_json: *mut *mut c_char,
) -> traek_result {
    unsafe {
        with_engine(engine, out_json, |e| {
            let op = config_operation(arg(operation, "operation")?, what_if)?;
            let doc = parse_document(arg(document, "document")?).map_err(document_error)?;
            let params = parameters_arg(parameters_json)?;
            let result =
                dsc_core::config::run::run(&e.engine, &doc, &params, op).map_err(run_error)?;
            config_output(e, result)
        })
    }
}

fn trust_keys(
    trusted_keys_json: Option<&str>,
) -> FfiResult<Vec<dsc_core::package::signing::VerifyingKey>> {
    let Some(text) = trusted_keys_json else {
        return Ok(Vec::new());
    };
    let v = parse_json(text, "trusted_keys_json")?;
    let paths = v.as_array().ok_or_else(|| {
        Failure(
            TRAEK_ERR_INVALID_ARGUMENT,
            "trusted_keys_json must be a JSON array of public key file paths".into(),
        )
    })?;
    paths
        .iter()
        .map(|p| {
            let path = p.as_str().ok_or_else(|| {
                Failure(
                    TRAEK_ERR_INVALID_ARGUMENT,
                    "trusted_keys_json must hold strings".into(),
                )
            })?;
            dsc_core::package::signing::read_public(std::path::Path::new(path))
                .map_err(|err| Failure(TRAEK_ERR_INVALID_ARGUMENT, err.to_string()))
        })
        .collect()
}

/// Runs a `.dscpkg` package like a document: verified first (refused unless signed by one of
/// `trusted_keys_json` — a JSON array of public key file paths, may be NULL — or `allow_unsigned`
/// is non-zero), unpacked into a private temporary directory that is removed afterwards, resources
/// discovered only in the package (then in the engine's resource path when the package allows
/// core resources); then `removePackage` is applied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_config_run_package(
    engine: *mut traek_engine,
    operation: *const c_char,
    package_path: *const c_char,
    trusted_keys_json: *const c_char,
    allow_unsigned: c_int,
    parameters_json: *const c_char,
    what_if: c_int,
    out_json: *mut *mut c_char,
) -> traek_result {
    unsafe {
        with_engine(engine, out_json, |e| {
            let op = config_operation(arg(operation, "operation")?, what_if)?;
            let path = PathBuf::from(arg(package_path, "package_path")?);
            let trust = Trust {
                keys: trust_keys(opt_arg(trusted_keys_json, "trusted_keys_json")?)?,
                allow_unsigned: allow_unsigned != 0,
            };
            let params = parameters_arg(parameters_json)?;
            // With allowCoreResources, the engine's own resource path is searched after the package.
            let core = e.engine.options().search_path.dirs.clone();
            let run = run_package(
                e.engine.options(),
                &path,
                &trust,
                &core,
                &params,
                op,
                &mut |_, _| {},
                &mut |_| {},
            )
            .map_err(|err| match err {
                PackageRunError::Package(p) => package_error(p),
                PackageRunError::Run(r) => run_error(r),
            })?;
            if let Err(message) = run.removed {
                return Err(Failure(TRAEK_ERR_RESOURCE, message));
            }
            let result = run.result;
            config_output(e, result)
        })
    }
}

/// Verifies a package against its catalog and signatures (`trusted_keys_json` as for
/// `traek_config_run_package`); with `require_signature` non-zero, a trusted signature is
/// required. The result is `{"valid": true, "entries", "bytes", "signers", "trusted"}`; any
/// verification failure returns TRAEK_ERR_INVALID_INPUT with the reason in the last error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_package_verify(
    engine: *mut traek_engine,
    package_path: *const c_char,
    trusted_keys_json: *const c_char,
    require_signature: c_int,
    out_json: *mut *mut c_char,
) -> traek_result {
    unsafe {
        with_engine(engine, out_json, |_| {
            let path = arg(package_path, "package_path")?;
            let keys = trust_keys(opt_arg(trusted_keys_json, "trusted_keys_json")?)?;
            let opened = archive::open(
                std::path::Path::new(path),
                &keys,
                Limits::default(),
                None,
                &mut |_, _| {},
            )
            .map_err(package_error)?;
            if require_signature != 0 {
                archive::require_trusted(&opened).map_err(package_error)?;
            }
            Ok(json!({"valid": true, "entries": opened.catalog.len(), "bytes": opened.total_bytes, "signers": opened.signers, "trusted": opened.trusted()}).to_string())
        })
    }
}

/// Describes a package (verifying it): `{"manifestPath", "manifest", "catalog", "signers", "totalBytes"}`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_package_inspect(
    engine: *mut traek_engine,
    package_path: *const c_char,
    trusted_keys_json: *const c_char,
    out_json: *mut *mut c_char,
) -> traek_result {
    unsafe {
        with_engine(engine, out_json, |_| {
            let path = arg(package_path, "package_path")?;
            let keys = trust_keys(opt_arg(trusted_keys_json, "trusted_keys_json")?)?;
            let opened = archive::open(
                std::path::Path::new(path),
                &keys,
                Limits::default(),
                None,
                &mut |_, _| {},
            )
            .map_err(package_error)?;
            serde_json::to_string(&opened)
                .map_err(|err| Failure(TRAEK_ERR_RESOURCE, err.to_string()))
        })
    }
}

/// Computes the pull-protocol registration signature (`Shared <base64>`, the Authorization header
/// value) of `body` (`body_len` bytes) signed with `registration_key` and the `x_ms_date` string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_pull_sign_registration(
    engine: *mut traek_engine,
    registration_key: *const c_char,
    body: *const u8,
    body_len: usize,
    x_ms_date: *const c_char,
    out_authorization: *mut *mut c_char,
) -> traek_result {
    unsafe {
        with_engine(engine, out_authorization, |_| {
            let key = arg(registration_key, "registration_key")?;
            let date = arg(x_ms_date, "x_ms_date")?;
            let body = bytes(body, body_len)?;
            Ok(dsc_core::pull::auth::authorization_header(key, body, date))
        })
    }
}

/// Verifies a registration signature against the keys in `keys_json` (a JSON array of strings),
/// with the freshness window `max_skew_seconds` around the current time. The result is
/// `{"matchedKey": <index>}`; a refusal returns TRAEK_ERR_INVALID_INPUT with the reason.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_pull_verify_registration(
    engine: *mut traek_engine,
    keys_json: *const c_char,
    body: *const u8,
    body_len: usize,
    authorization: *const c_char,
    x_ms_date: *const c_char,
    max_skew_seconds: u64,
    out_json: *mut *mut c_char,
) -> traek_result {
    unsafe {
        with_engine(engine, out_json, |_| {
            let keys: Vec<String> = serde_json::from_str(arg(keys_json, "keys_json")?)
                .map_err(|err| Failure(TRAEK_ERR_PARSE, format!("keys_json: {err}")))?;
            let auth = opt_arg(authorization, "authorization")?;
            let date = opt_arg(x_ms_date, "x_ms_date")?;
            let body = bytes(body, body_len)?;
            let i = dsc_core::pull::auth::verify_registration(
                &keys,
                body,
                auth,
                date,
                time::OffsetDateTime::now_utc(),
                std::time::Duration::from_secs(max_skew_seconds),
            )
            .map_err(|err| Failure(TRAEK_ERR_INVALID_INPUT, err.to_string()))?;
            Ok(json!({"matchedKey": i}).to_string())
        })
    }
}

/// The pull protocol's checksum of `data`: SHA-256 as 64 uppercase hex digits.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_pull_checksum(
    engine: *mut traek_engine,
    data: *const u8,
    len: usize,
    out_hex: *mut *mut c_char,
) -> traek_result {
    unsafe {
        with_engine(engine, out_hex, |_| {
            Ok(dsc_core::pull::checksum::sha256_hex(bytes(data, len)?))
        })
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
