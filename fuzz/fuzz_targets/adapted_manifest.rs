//! Adapted resource manifests and adapters' `list` lines: any bytes either parse into an
//! `AdaptedDescription` or are refused; and loading any JSON or YAML value as a resource
//! manifest (typed gate, unknown-member warnings) never panics.
#![no_main]
use dsc_core::adapter::AdaptedDescription;
use dsc_core::manifest::unknown::unknown_members;
use dsc_core::manifest::{ManifestLoader, ResourceManifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = dsc_core::text::decode_utf8(data) else {
        return;
    };
    let Ok((value, _)) = dsc_core::text::parse_json_or_yaml(text) else {
        return;
    };
    let _ = serde_json::from_value::<AdaptedDescription>(value.clone());
    if let Ok(m) = serde_json::from_value::<ResourceManifest>(value.clone()) {
        for pointer in unknown_members(&value, &m) {
            assert!(pointer.starts_with('/'), "{pointer}");
        }
    }
    static LOADER: std::sync::OnceLock<ManifestLoader> = std::sync::OnceLock::new();
    let _ = LOADER.get_or_init(ManifestLoader::new).check(&value);
});
