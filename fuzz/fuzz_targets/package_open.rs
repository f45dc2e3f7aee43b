//! Opening and verifying (and extracting) arbitrary bytes as a package never panics, never
//! writes outside the extraction directory, and fails unless the catalog matches; opening the
//! same bytes from memory (as the server does with uploads) agrees with opening the file.
#![no_main]
use dsc_core::package::archive::{Extract, Limits, open, open_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let pkg = dir.path().join("f.dscpkg");
    if std::fs::write(&pkg, data).is_err() {
        return;
    }
    let out = dir.path().join("out");
    let _ = std::fs::create_dir(&out);
    let limits = Limits { max_total_bytes: 64 << 20, ..Limits::default() };
    let from_file = open(&pkg, &[], limits, Some(Extract { root: &out }), &mut |_, _| {});
    let in_memory = open_bytes(data, limits);
    assert_eq!(from_file.is_ok(), in_memory.is_ok(), "file and memory disagree");
    for e in std::fs::read_dir(dir.path()).into_iter().flatten().flatten() {
        let n = e.file_name();
        assert!(n == "f.dscpkg" || n == "out", "wrote outside the extraction directory: {n:?}");
    }
});
