//! Git sources and commits as traek reads them: a source body from the admin API, and file
//! paths and checksum files from a repository. Nothing panics; a source that passes has a URL
//! git cannot read as an option and a folder without `..`; a commit's items lie under the folder.
#![no_main]
use dsc_core::pull::source::{SourceBody, classify, commit_items};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = serde_json::from_slice::<SourceBody>(data) {
        if let Ok(s) = body.check() {
            assert!(!s.url.starts_with('-'));
            assert!(!s.path.split('/').any(|p| p == ".."));
            assert!((10..=86_400).contains(&s.interval_secs));
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Lines are "path<TAB>content" files of one commit under the folder of the first line.
    let mut lines = text.lines();
    let folder = lines.next().unwrap_or("");
    let files: Vec<(String, Vec<u8>)> = lines
        .filter_map(|l| l.split_once('\t'))
        .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
        .collect();
    for (path, _) in &files {
        let _ = classify(folder, path);
    }
    if let Ok(items) = commit_items(folder, &files) {
        for item in items.values() {
            assert!(folder.is_empty() || item.path.starts_with(folder));
        }
    }
});
