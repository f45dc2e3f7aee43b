//! Notification rules as the admin API receives them: parsing and checking never panic, and a
//! rule that passes has a URL with a scheme and host and a secret long enough to key the HMAC.
#![no_main]
use dsc_core::pull::notify::{MIN_SECRET, NewRule, check_url};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(new) = serde_json::from_slice::<NewRule>(data) {
        if let Ok(rule) = new.validate(0) {
            assert!(check_url(&rule.url).is_ok());
            assert!(new.secret.chars().count() >= MIN_SECRET);
            assert!(rule.url.starts_with("http://") || rule.url.starts_with("https://"));
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = check_url(text);
    }
});
