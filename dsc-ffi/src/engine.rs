//! Engine handles: creation from options (settings, policy, environment), logging, errors.

use crate::*;
use dsc_core::frontend::{SetupRequest, setup};
use dsc_core::settings::{EnvValues, SettingsLocations};
use dsc_core::{Level, Message};
use std::path::PathBuf;

impl traek_engine {
    /// Passes messages to the log callback.
    pub(crate) fn log_all(&self, messages: Vec<Message>) {
        let mut sink = self.sink();
        for m in messages {
            sink(m);
        }
    }

    /// A message sink forwarding to the log callback (and collecting nothing else).
    pub(crate) fn sink(&self) -> impl FnMut(Message) + '_ {
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

/// The engine options a caller may give in `options_json`.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Options {
    resource_path: Option<Vec<PathBuf>>,
    trace_level: Option<String>,
    timeout_seconds: Option<f64>,
    ignore_settings_file: Option<bool>,
    install_dir: Option<PathBuf>,
}

/// The setup request for `options_json` (NULL: none).
fn request(options_json: Option<&str>) -> FfiResult<SetupRequest> {
    let options: Options = match options_json {
        Some(text) => {
            let v = parse_json(text, "options")?;
            serde_json::from_value(v).map_err(|e| {
                Failure(
                    TRAEK_ERR_INVALID_ARGUMENT,
                    format!(
                        "options: {e} (expected resourcePath, traceLevel, timeoutSeconds, ignoreSettingsFile, installDir)"
                    ),
                )
            })?
        }
        None => Options::default(),
    };
    let trace_level = options
        .trace_level
        .map(|l| l.parse::<Level>())
        .transpose()
        .map_err(|e| Failure(TRAEK_ERR_INVALID_ARGUMENT, e.to_string()))?;
    Ok(SetupRequest {
        ignore_settings_file: options.ignore_settings_file.unwrap_or(false),
        trace_level,
        trace_format: None,
        locations: SettingsLocations::system(options.install_dir),
        resource_path: options.resource_path,
        timeout_seconds: options.timeout_seconds,
    })
}

/// Creates an engine, with options from the settings and machine policy files (as the `traek`
/// CLI reads them; policy wins where it forbids overriding), the environment (`DSC_RESOURCE_PATH`,
/// `DSC_TRACE_LEVEL`, `DSC_IGNORE_SETTINGS_FILE`, ...) and `options_json`: NULL, or a JSON object
/// with `resourcePath` (array of directories, searched instead of what settings and environment
/// say), `traceLevel` (`error`, `warn`, `info`, `debug`, `trace`), `timeoutSeconds` (positive
/// number), `ignoreSettingsFile` (boolean) and `installDir` (traek's directory: its
/// `traek_default.settings.json` and `traek.settings.json` are read, and its resources are the core
/// resources packages may use; default none). Problems with the settings files are logged as
/// warnings once a log callback is set. Free the engine with `traek_engine_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_engine_new(
    options_json: *const c_char,
    out: *mut *mut traek_engine,
) -> traek_result {
    if out.is_null() {
        return TRAEK_ERR_NULL;
    }
    // SAFETY: out is non-NULL; clear it so callers never free garbage.
    unsafe { *out = std::ptr::null_mut() };
    let result = catch_unwind(AssertUnwindSafe(|| -> FfiResult<Box<traek_engine>> {
        let request = request(unsafe { opt_arg(options_json, "options_json") }?)?;
        let set_up = setup(&request, &EnvValues::from_process()).map_err(frontend_error)?;
        Ok(Box::new(traek_engine {
            engine: dsc_core::Engine::new(set_up.options),
            core_dirs: set_up.core_dirs,
            pending: Mutex::new(set_up.warnings),
            log: Mutex::new(None),
            last_error: Mutex::new(None),
        }))
    }));
    match result {
        Ok(Ok(engine)) => {
            // SAFETY: out is non-NULL.
            unsafe { *out = Box::into_raw(engine) };
            TRAEK_OK
        }
        Ok(Err(Failure(code, _))) => code,
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

/// Sets (or, with NULL, removes) the log callback. Warnings about the settings files that
/// were not yet logged are passed to a new callback first.
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
        *lock(&e.log) = callback.map(|func| Callback { func, userdata });
        if callback.is_some() {
            let pending = std::mem::take(&mut *lock(&e.pending));
            let mut sink = e.sink();
            for w in pending {
                if Level::Warn.enabled_at(e.engine.options().trace_level) {
                    sink(Message::engine(Level::Warn, w));
                }
            }
        }
    })) {
        Ok(()) => TRAEK_OK,
        Err(_) => TRAEK_ERR_PANIC,
    }
}
