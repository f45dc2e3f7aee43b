//! Registration-key authentication of `RegisterDscAgent`, exactly as the WMF 5 LCM signs it:
//!
//! ```text
//! body_hash      = Base64(SHA-256(raw body bytes))
//! string_to_sign = body_hash + "\n" + x-ms-date (verbatim)
//! signature      = Base64(HMAC-SHA-256(key = UTF-8 registration key, string_to_sign))
//! Authorization: Shared <signature>
//! ```
//!
//! The raw bytes are hashed (never a re-serialisation), the date string is used verbatim and
//! parsed separately for freshness, every configured key is tried, and signatures are compared
//! in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

type HmacSha256 = Hmac<Sha256>;

/// Why a registration was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the request has no Authorization header")]
    MissingAuthorization,
    #[error("the Authorization header is not 'Shared <base64 signature>'")]
    MalformedAuthorization,
    #[error("the request has no x-ms-date header")]
    MissingDate,
    #[error("the x-ms-date header '{0}' is not a UTC date like 2016-08-15T21:25:51.8654321Z")]
    MalformedDate(String),
    #[error(
        "the x-ms-date header is {skew_seconds} s away from the server's clock (allowed: {max_seconds} s)"
    )]
    StaleDate { skew_seconds: i64, max_seconds: u64 },
    #[error("the signature matches no registration key")]
    NoMatchingKey,
}

/// The string the LCM signs.
fn string_to_sign(body: &[u8], x_ms_date: &str) -> String {
    format!("{}\n{}", B64.encode(Sha256::digest(body)), x_ms_date)
}

fn mac_of(key: &str, string_to_sign: &str) -> HmacSha256 {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(string_to_sign.as_bytes());
    mac
}

fn mac(key: &str, body: &[u8], x_ms_date: &str) -> HmacSha256 {
    mac_of(key, &string_to_sign(body, x_ms_date))
}

/// The base64 signature of a registration body.
pub fn sign(key: &str, body: &[u8], x_ms_date: &str) -> String {
    B64.encode(mac(key, body, x_ms_date).finalize().into_bytes())
}

/// The full `Authorization` header value: `Shared <signature>`.
pub fn authorization_header(key: &str, body: &[u8], x_ms_date: &str) -> String {
    format!("Shared {}", sign(key, body, x_ms_date))
}

/// Extracts the signature bytes from an `Authorization` header (`Shared` matched
/// case-insensitively).
pub fn parse_authorization(header: &str) -> Result<Vec<u8>, AuthError> {
    let header = header.trim();
    let (scheme, rest) = header
        .split_once(' ')
        .ok_or(AuthError::MalformedAuthorization)?;
    if !scheme.eq_ignore_ascii_case("Shared") {
        return Err(AuthError::MalformedAuthorization);
    }
    let sig = B64
        .decode(rest.trim())
        .map_err(|_| AuthError::MalformedAuthorization)?;
    if sig.len() != 32 {
        return Err(AuthError::MalformedAuthorization);
    }
    Ok(sig)
}

/// Parses an x-ms-date value (RFC 3339, as .NET's round-trip format is).
pub fn parse_date(x_ms_date: &str) -> Result<OffsetDateTime, AuthError> {
    OffsetDateTime::parse(x_ms_date.trim(), &Rfc3339)
        .map_err(|_| AuthError::MalformedDate(x_ms_date.to_string()))
}

/// The current time in the LCM's x-ms-date format (`yyyy-MM-ddTHH:mm:ss.fffffffZ`).
pub fn format_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() / 100
    )
}

/// The credentials of a registration, checked before its body is read: a well-formed
/// `Authorization: Shared <signature>` and an `x-ms-date` within the allowed skew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// The 32 signature bytes.
    pub signature: Vec<u8>,
    /// The x-ms-date header exactly as sent (it is part of the signed string).
    pub date: String,
}

impl SignedHeaders {
    /// Checks the headers of a registration: both present, well-formed, and the date within
    /// `max_skew` of `now`. Costs no hashing, so a server can refuse before reading a body.
    pub fn check(
        authorization: Option<&str>,
        x_ms_date: Option<&str>,
        now: OffsetDateTime,
        max_skew: std::time::Duration,
    ) -> Result<Self, AuthError> {
        let signature = parse_authorization(authorization.ok_or(AuthError::MissingAuthorization)?)?;
        let date_text = x_ms_date.ok_or(AuthError::MissingDate)?;
        if date_text.len() > 64 {
            return Err(AuthError::MalformedDate(
                date_text.chars().take(64).collect(),
            ));
        }
        let date = parse_date(date_text)?;
        let skew = (now - date).whole_seconds().unsigned_abs();
        if skew > max_skew.as_secs() {
            return Err(AuthError::StaleDate {
                skew_seconds: i64::try_from(skew).unwrap_or(i64::MAX),
                max_seconds: max_skew.as_secs(),
            });
        }
        Ok(SignedHeaders {
            signature,
            date: date_text.to_string(),
        })
    }

    /// The index of the key among `keys` that signed `body`: the body is hashed once, then one
    /// HMAC per key, each compared in constant time (every key is tried, so timing does not
    /// say which matched).
    pub fn matching_key(&self, keys: &[String], body: &[u8]) -> Result<usize, AuthError> {
        let signed = string_to_sign(body, &self.date);
        let mut matched = None;
        for (i, key) in keys.iter().enumerate() {
            if mac_of(key, &signed).verify_slice(&self.signature).is_ok() && matched.is_none() {
                matched = Some(i);
            }
        }
        matched.ok_or(AuthError::NoMatchingKey)
    }
}

/// Checks a registration request: the date is present, well-formed and within `max_skew` of
/// `now`, and the signature was made with one of `keys`. Returns the index of the matching key.
pub fn verify_registration(
    keys: &[String],
    body: &[u8],
    authorization: Option<&str>,
    x_ms_date: Option<&str>,
    now: OffsetDateTime,
    max_skew: std::time::Duration,
) -> Result<usize, AuthError> {
    SignedHeaders::check(authorization, x_ms_date, now, max_skew)?.matching_key(keys, body)
}

/// Parses a `RegistrationKeys.txt`: one key per line; `#` starts a comment; surrounding
/// whitespace and blank lines are ignored.
pub fn parse_keys_file(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// A short, non-secret identifier of a registration key: the first 6 bytes of its SHA-256 in
/// uppercase hex (recorded with each registration, shown and used to revoke the key).
pub fn key_id(key: &str) -> String {
    super::checksum::upper_hex(&Sha256::digest(key.as_bytes())[..6])
}

/// What may be shown or audited about a key named by id or by value: the id itself, or the id
/// of the value (never the value).
pub fn public_key_id(id_or_key: &str) -> String {
    let looks_like_id = id_or_key.len() == 12 && id_or_key.bytes().all(|b| b.is_ascii_hexdigit());
    if looks_like_id {
        id_or_key.to_ascii_uppercase()
    } else {
        key_id(id_or_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_key_is_named_by_a_short_id_and_never_shown_itself() {
        let id = key_id("secret-registration-key");
        assert_eq!(id.len(), 12);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
        );
        assert_eq!(public_key_id("secret-registration-key"), id);
        assert_eq!(public_key_id(&id.to_ascii_lowercase()), id);
    }

    /// Test vector 2 of the protocol notes (the dsc-traek capture).
    #[test]
    fn traek_capture_signature_verifies() {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/traek-registration-body.json"
        ))
        .unwrap();
        assert_eq!(body.len(), 669);
        assert_eq!(
            B64.encode(Sha256::digest(&body)),
            "igYaoUs4qymRYwyFLAkrCEjFImumYh/3P/kA/UlsGEY="
        );
        let date = "2016-08-22T16:29:17.1106741Z";
        assert_eq!(
            authorization_header("845279827-796-493", &body, date),
            "Shared WqfHbxnctwKMWt410LhK2cZgjirJdnzi81pqJg1ljww="
        );
        let now = parse_date(date).unwrap();
        let keys = vec!["other".to_string(), "845279827-796-493".to_string()];
        let auth = "shared WqfHbxnctwKMWt410LhK2cZgjirJdnzi81pqJg1ljww=";
        assert_eq!(
            verify_registration(
                &keys,
                &body,
                Some(auth),
                Some(date),
                now,
                Duration::from_secs(60)
            ),
            Ok(1)
        );
        // one byte changed
        let mut tampered = body.clone();
        tampered[10] ^= 1;
        assert_eq!(
            verify_registration(
                &keys,
                &tampered,
                Some(auth),
                Some(date),
                now,
                Duration::from_secs(60)
            ),
            Err(AuthError::NoMatchingKey)
        );
    }

    #[test]
    fn stale_missing_and_malformed_inputs_are_refused() {
        let now = parse_date("2020-01-01T00:00:00.0000000Z").unwrap();
        let keys = vec!["k".to_string()];
        let body = b"{}";
        let date = "2020-01-01T00:10:00.0000000Z";
        let auth = authorization_header("k", body, date);
        let skew = Duration::from_secs(300);
        assert!(matches!(
            verify_registration(&keys, body, Some(&auth), Some(date), now, skew),
            Err(AuthError::StaleDate { .. })
        ));
        assert_eq!(
            verify_registration(&keys, body, None, Some(date), now, skew),
            Err(AuthError::MissingAuthorization)
        );
        assert_eq!(
            verify_registration(&keys, body, Some(&auth), None, now, skew),
            Err(AuthError::MissingDate)
        );
        assert_eq!(
            verify_registration(&keys, body, Some("Basic abc"), Some(date), now, skew),
            Err(AuthError::MalformedAuthorization)
        );
        assert_eq!(
            verify_registration(&keys, body, Some("Shared !!!"), Some(date), now, skew),
            Err(AuthError::MalformedAuthorization)
        );
        assert!(matches!(
            verify_registration(&keys, body, Some(&auth), Some("yesterday"), now, skew),
            Err(AuthError::MalformedDate(_))
        ));
        let fresh = "2020-01-01T00:01:00.0000000Z";
        let auth = authorization_header("k", body, fresh);
        assert_eq!(
            verify_registration(&keys, body, Some(&auth), Some(fresh), now, skew),
            Ok(0)
        );
    }

    #[test]
    fn keys_file_ignores_comments_and_blank_lines() {
        let keys = parse_keys_file("# keys\n\n  abc  \ndef # trailing comment\r\n#x\n");
        assert_eq!(keys, vec!["abc", "def"]);
    }

    #[test]
    fn dates_format_like_the_lcm() {
        let t = parse_date("2016-08-15T21:25:51.8654321Z").unwrap();
        assert_eq!(format_date(t), "2016-08-15T21:25:51.8654321Z");
    }
}
