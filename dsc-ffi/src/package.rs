//! Package verification and inspection.

use crate::*;
use dsc_core::package::archive::{self, Limits, PackageError};
use serde_json::json;
use std::ffi::c_int;

/// Opens and verifies the package at `package_path` with the trusted keys given.
unsafe fn open(
    package_path: *const c_char,
    trusted_keys_json: *const c_char,
) -> FfiResult<archive::OpenedPackage> {
    let path = unsafe { arg(package_path, "package_path") }?;
    let keys = trust_keys(unsafe { opt_arg(trusted_keys_json, "trusted_keys_json") }?)?;
    archive::open(
        std::path::Path::new(path),
        &keys,
        Limits::default(),
        None,
        &mut |_, _| {},
    )
    .map_err(package_error)
}

pub(crate) fn package_error(e: PackageError) -> Failure {
    classified(e.class(), e)
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
            let opened = open(package_path, trusted_keys_json)?;
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
            let opened = open(package_path, trusted_keys_json)?;
            serde_json::to_string(&opened)
                .map_err(|err| Failure(TRAEK_ERR_RESOURCE, err.to_string()))
        })
    }
}

/// The trusted keys: a JSON array of public key file paths (NULL: none).
pub(crate) fn trust_keys(
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
