//! Adapted resource manifests and adapters' `list` lines: any bytes either parse into an
//! `AdaptedDescription` or are refused, and the unknown-member walk of resource manifests never
//! panics on any JSON or YAML value.
#![no_main]
use dsc_core::adapter::AdaptedDescription;
use dsc_core::manifest::ManifestLoader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = dsc_core::text::decode_utf8(data) else {
        return;
    };
    let Ok((value, _)) = dsc_core::text::parse_json_or_yaml(text) else {
        return;
    };
    let _ = serde_json::from_value::<AdaptedDescription>(value.clone());
    let loader = ManifestLoader::new();
    for pointer in loader.unknown_members(&value) {
        assert!(pointer.starts_with('/'), "{pointer}");
    }
});
