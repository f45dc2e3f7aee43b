//! Classification of a resource's stderr lines: never panics, and a line that is not a
//! recognised message comes back unchanged.
#![no_main]
use dsc_core::trace::{StderrLine, parse_stderr_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    if let StderrLine::Plain(text) = parse_stderr_line(&line) {
        assert_eq!(text, line.trim_end_matches(['\r', '\n']));
    }
});
