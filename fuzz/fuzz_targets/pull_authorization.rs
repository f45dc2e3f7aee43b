//! Registration authentication on arbitrary Authorization and x-ms-date headers and bodies:
//! never panics, and never accepts a signature made with another key.
#![no_main]
use dsc_core::pull::auth::{parse_date, verify_registration};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (auth, date, body) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let now = parse_date("2020-01-01T00:00:00.0000000Z").unwrap();
    let keys = vec!["k1".to_string()];
    let r = verify_registration(&keys, body.as_bytes(), Some(auth), Some(date), now, std::time::Duration::from_secs(u32::MAX as u64));
    if r.is_ok() {
        let expected = dsc_core::pull::auth::authorization_header("k1", body.as_bytes(), date);
        let got = dsc_core::pull::auth::parse_authorization(auth).unwrap();
        let want = dsc_core::pull::auth::parse_authorization(&expected).unwrap();
        assert_eq!(got, want);
    }
});
