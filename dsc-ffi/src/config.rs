//! Configuration documents and packages.

use crate::package::trust_keys;
use crate::*;
use dsc_core::config::document::parse_parameters_input;
use dsc_core::frontend::{Outcome, PackageHooks, Status, config_operation};
use dsc_core::package::run::Trust;
use std::ffi::c_int;
use std::path::PathBuf;

/// The optional `{"parameters": {...}}` argument of the config functions.
unsafe fn parameters_arg(
    parameters_json: *const c_char,
) -> FfiResult<serde_json::Map<String, serde_json::Value>> {
    match unsafe { opt_arg(parameters_json, "parameters_json") }? {
        Some(p) => parse_parameters_input(p).map_err(|e| classified(e.class(), e)),
        None => Ok(Default::default()),
    }
}

/// A run's output: its messages go to the log callback; a package that could not be removed
/// as it asked is an error.
fn output(engine: &traek_engine, outcome: Outcome) -> FfiResult<String> {
    engine.log_all(outcome.messages);
    if let Status::RemovalFailed(message) = outcome.status {
        return Err(Failure(TRAEK_ERR_RESOURCE, message));
    }
    Ok(outcome.output.to_json().to_string())
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
            let op = config_operation(arg(operation, "operation")?, what_if != 0)
                .map_err(frontend_error)?;
            let doc = arg(document, "document")?;
            let params = parameters_arg(parameters_json)?;
            let outcome = dsc_core::frontend::run_document(&e.engine, doc, &params, op)
                .map_err(frontend_error)?;
            output(e, outcome)
        })
    }
}

/// Runs a `.dscpkg` package like a document: verified first (refused unless signed by one of
/// `trusted_keys_json` (a JSON array of public key file paths, may be NULL) or `allow_unsigned`
/// is non-zero), unpacked into a private temporary directory that is removed afterwards, resources
/// discovered only in the package (then, when the package allows core resources, in the
/// engine's `installDir` and `DSC_RESOURCE_PATH`, as for `traek config`); then `removePackage`
/// is applied.
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
            let op = config_operation(arg(operation, "operation")?, what_if != 0)
                .map_err(frontend_error)?;
            let path = PathBuf::from(arg(package_path, "package_path")?);
            let trust = Trust {
                keys: trust_keys(opt_arg(trusted_keys_json, "trusted_keys_json")?)?,
                allow_unsigned: allow_unsigned != 0,
            };
            let params = parameters_arg(parameters_json)?;
            let hooks = PackageHooks {
                progress: &mut |_, _| {},
                unpacked: &mut |_| {},
            };
            let outcome = dsc_core::frontend::run_package(
                e.engine.options(),
                &path,
                &trust,
                &e.core_dirs,
                &params,
                op,
                hooks,
            )
            .map_err(frontend_error)?;
            output(e, outcome)
        })
    }
}
