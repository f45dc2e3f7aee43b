//! Hands the linker the order of `traek`'s hot functions (`hot-functions.txt`, written by
//! `benches/hot_functions.py`) for release builds on x86_64 Linux, where Rust links with LLD.
//! Placed side by side, the code a short command runs spans a few pages instead of pages all
//! over the binary, which a `traek resource get` notices (a tenth of its time).
//!
//! Set `TRAEK_NO_SYMBOL_ORDER=1` when linking with a linker that lacks
//! `--symbol-ordering-file` (GNU ld).

fn main() {
    println!("cargo:rerun-if-changed=hot-functions.txt");
    println!("cargo:rerun-if-env-changed=TRAEK_NO_SYMBOL_ORDER");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let lld_by_default = var("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu";
    if !lld_by_default || var("PROFILE") != "release" || !var("TRAEK_NO_SYMBOL_ORDER").is_empty() {
        return;
    }
    let file = std::path::Path::new(&var("CARGO_MANIFEST_DIR")).join("hot-functions.txt");
    if file.is_file() {
        println!(
            "cargo:rustc-link-arg-bin=traek=-Wl,--symbol-ordering-file={}",
            file.display()
        );
        // Names that a later change renamed are skipped without a word.
        println!("cargo:rustc-link-arg-bin=traek=-Wl,--no-warn-symbol-ordering");
    }
}
