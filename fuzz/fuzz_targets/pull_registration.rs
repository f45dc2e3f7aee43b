//! The whole registration path a server runs, on arbitrary headers and bodies: header checks,
//! the one-pass signature match, the body's parsing and the certificate-pin decision. Never
//! panics; a registration is only accepted when signed with the key; a pinned agent never
//! changes certificate outside the renewal window.
#![no_main]
use dsc_core::pull::auth::{SignedHeaders, authorization_header, parse_date};
use dsc_core::pull::identity::{Accepted, Described, Pin, Proof, check_registration};
use dsc_core::pull::messages::RegisterRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let (auth, date, selector, body) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let now = parse_date("2026-06-01T00:00:00.0000000Z").unwrap();
    let skew = std::time::Duration::from_secs(u32::MAX as u64);
    // Half the inputs carry a correct signature, so the later stages are reached.
    let auth = if selector.starts_with('s') {
        authorization_header("k1", body.as_bytes(), date)
    } else {
        auth.to_string()
    };
    let Ok(signed) = SignedHeaders::check(Some(&auth), Some(date), now, skew) else {
        return;
    };
    if signed.matching_key(&["k1".to_string()], body.as_bytes()).is_err() {
        assert_ne!(auth, authorization_header("k1", body.as_bytes(), date));
        return;
    }
    let Ok(request) = serde_json::from_str::<RegisterRequest>(body) else {
        return;
    };
    let described = request
        .registration_information
        .certificate_information
        .as_ref()
        .map(|c| Described { thumbprint: &c.thumbprint, not_after: &c.not_after });
    let pin = Pin {
        thumbprint: "8351F16C2B06634279F2C0287B5430452DA1CD94".into(),
        not_after: Some(selector.chars().skip(1).collect()),
    };
    let proof = match selector.as_bytes().get(1) {
        Some(b'm') => Proof::Missing,
        Some(b'p') => Proof::Presented(described.map(|d| d.thumbprint.to_string()).unwrap_or_default()),
        _ => Proof::Unavailable,
    };
    if let Ok(Accepted::Renewal { .. }) = check_registration(Some(&pin), described, &proof, now) {
        let end = time::OffsetDateTime::parse(
            pin.not_after.as_deref().unwrap_or("").trim(),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("a renewal needs a readable expiry");
        assert!(end - dsc_core::pull::identity::RENEWAL_WINDOW <= now);
    }
});
