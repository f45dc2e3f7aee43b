//! Manifest parsing, JSON and YAML, single manifests and manifest lists. The first byte picks
//! the file kind. Besides "never panics", checks that the typed gate and the JSON Schema gate
//! of the loader accept the same manifests.
#![no_main]
use dsc_core::manifest::{ManifestFileKind, ManifestLoader, ResourceManifest, is_valid_type_name};
use dsc_core::text::Format;
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use std::sync::OnceLock;

static LOADER: OnceLock<ManifestLoader> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let kind = match selector % 4 {
        0 => ManifestFileKind::Single(Format::Json),
        1 => ManifestFileKind::Single(Format::Yaml),
        2 => ManifestFileKind::List(Format::Json),
        _ => ManifestFileKind::List(Format::Yaml),
    };
    let loader = LOADER.get_or_init(ManifestLoader::new);
    let _ = loader.parse(rest, kind);
    // Differential: for any JSON value, both gates agree.
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(rest) {
        let typed = ResourceManifest::deserialize(&value).is_ok_and(|m| is_valid_type_name(&m.type_name));
        assert_eq!(typed, loader.validator().is_valid(&value), "gates disagree on {value}");
    }
});
