use super::*;

#[test]
fn many_manifests_load_in_search_order_and_the_first_declaration_wins() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = |ty: &str, exe: &str| {
        format!(
            r#"{{"$schema": "x", "type": "{ty}", "version": "1.0.0", "get": {{"executable": "{exe}"}}}}"#
        )
    };
    // More files than are read on one thread, one type declared twice, one file broken.
    for i in 0..(PARALLEL_FROM * 3) {
        let name = format!("r{i:04}.dsc.resource.json");
        std::fs::write(dir.path().join(name), manifest(&format!("T/R{i:04}"), "a")).unwrap();
    }
    std::fs::write(
        dir.path().join("r0000z.dsc.resource.json"),
        manifest("T/R0000", "b"),
    )
    .unwrap();
    std::fs::write(dir.path().join("r0100z.dsc.resource.json"), "{").unwrap();
    let search = SearchPath {
        dirs: vec![dir.path().to_path_buf()],
    };
    let mut messages: Vec<Message> = Vec::new();
    let registry = Registry::discover(&search, &ManifestLoader::new(), &mut messages);
    let found: Vec<&str> = registry
        .resources()
        .iter()
        .filter(|r| !r.builtin)
        .map(|r| r.type_name.as_str())
        .collect();
    let want: Vec<String> = (0..PARALLEL_FROM * 3)
        .map(|i| format!("T/R{i:04}"))
        .collect();
    assert_eq!(found, want);
    let first = registry.find("t/r0000", None).unwrap();
    assert_eq!(
        first.manifest.get.as_ref().map(|g| g.executable.as_str()),
        Some("a")
    );
    let text: Vec<&str> = messages.iter().map(|m| m.message.as_str()).collect();
    assert!(
        text.iter().any(|m| m.contains("r0000z.dsc.resource.json")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|m| m.contains("skipping manifest") && m.contains("r0100z")),
        "{text:?}"
    );
}

#[test]
fn a_fifo_or_an_oversized_file_named_like_a_manifest_is_skipped_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.dsc.resource.json");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a valid NUL-terminated path; no memory is shared.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let big = std::fs::File::create(dir.path().join("big.dsc.resource.json")).unwrap();
    big.set_len(crate::manifest::MAX_MANIFEST_BYTES + 1)
        .unwrap();
    std::fs::write(
        dir.path().join("ok.dsc.resource.json"),
        r#"{"$schema": "x", "type": "T/Ok", "version": "1.0.0", "get": {"executable": "a"}}"#,
    )
    .unwrap();
    let search = SearchPath {
        dirs: vec![dir.path().to_path_buf()],
    };
    let mut messages: Vec<Message> = Vec::new();
    let registry = Registry::discover(&search, &ManifestLoader::new(), &mut messages);
    assert!(registry.find("T/Ok", None).is_ok());
    let text: Vec<&str> = messages.iter().map(|m| m.message.as_str()).collect();
    assert!(
        text.iter()
            .any(|m| m.contains("pipe.dsc.resource.json") && m.contains("not a regular file")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|m| m.contains("big.dsc.resource.json") && m.contains("bytes allowed")),
        "{text:?}"
    );
}

#[test]
fn dsc_resource_path_replaces_path_entirely() {
    let s = SearchPath::from_env_values(Some("/a:/b".into()), Some("/c".into()));
    assert_eq!(s.dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
    let s = SearchPath::from_env_values(None, Some("/c:/c::/d".into()));
    assert_eq!(s.dirs, vec![PathBuf::from("/c"), PathBuf::from("/d")]);
}

#[test]
fn wildcards_match_like_a_shell() {
    assert!(wildcard_match("test/*", "test/echo"));
    assert!(wildcard_match("*echo", "test/echo"));
    assert!(wildcard_match("t?st/e*o", "test/echo"));
    assert!(!wildcard_match("test/x*", "test/echo"));
    assert!(wildcard_match("*", ""));
}
