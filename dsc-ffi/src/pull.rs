//! Pull-protocol helpers: registration signatures and checksums.

use crate::*;
use serde_json::json;

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
