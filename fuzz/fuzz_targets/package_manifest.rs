//! The package manifest parser: never panics, and an accepted manifest never names a path
//! outside the package.
#![no_main]
use dsc_core::package::manifest::{PackageManifest, check_inside};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(m) = PackageManifest::parse(&text) {
        assert!(check_inside(&m.configuration_file).is_ok());
        for p in &m.resource_path {
            let n = check_inside(p).unwrap();
            assert!(!n.split('/').any(|s| s == ".."));
        }
    }
});
