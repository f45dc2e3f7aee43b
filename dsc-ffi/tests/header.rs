//! The checked-in C header must be exactly what cbindgen generates from the sources.

#[test]
fn the_checked_in_header_matches_a_fresh_generation() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let path = dir.join("include/traek.h");
    let checked_in = std::fs::read(&path).unwrap_or_default();
    if fresh != checked_in {
        if std::env::var_os("TRAEK_REGENERATE_HEADER").is_some() {
            std::fs::write(&path, &fresh).expect("writing include/traek.h");
            return;
        }
        panic!(
            "dsc-ffi/include/traek.h is out of date; regenerate it with: TRAEK_REGENERATE_HEADER=1 cargo test -p dsc-ffi --test header"
        );
    }
}
