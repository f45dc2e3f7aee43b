//! Link settings for `traek` on x86_64 Linux with glibc, where Rust links with LLD. Both make
//! the short commands start faster; without them `traek` works the same.
//!
//! - The release build gets the order of `traek`'s hot functions (`hot-functions.txt`, written
//!   by `benches/hot_functions.py`). Placed side by side, the code a short command runs spans a
//!   few pages instead of pages all over the binary. Set `TRAEK_NO_SYMBOL_ORDER=1` when linking
//!   with a linker that lacks `--symbol-ordering-file` (GNU ld).
//! - GCC's unwinder is linked in statically (`libgcc_eh.a`, found through `cc`) instead of
//!   loading `libgcc_s.so.1`, whose start-up runs CPUID several times: slow in a virtual
//!   machine, and a library fewer to map. This is the unwinder a `crt-static` build uses.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=hot-functions.txt");
    println!("cargo:rerun-if-env-changed=TRAEK_NO_SYMBOL_ORDER");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let x86_64_linux_gnu = var("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu";
    if !x86_64_linux_gnu {
        return;
    }
    if let Some(eh) = static_unwinder() {
        // `-lgcc_s` (asked for by Rust's `unwind` crate and by the C compiler driver) finds this
        // directory first, and in it the static unwinder under that name.
        let dir = PathBuf::from(var("OUT_DIR")).join("static-unwinder");
        if std::fs::create_dir_all(&dir).is_ok()
            && std::fs::copy(&eh, dir.join("libgcc_s.a")).is_ok()
        {
            println!("cargo:rustc-link-search=native={}", dir.display());
        }
    }
    if var("PROFILE") != "release" || !var("TRAEK_NO_SYMBOL_ORDER").is_empty() {
        return;
    }
    let file = Path::new(&var("CARGO_MANIFEST_DIR")).join("hot-functions.txt");
    if file.is_file() {
        println!(
            "cargo:rustc-link-arg-bin=traek=-Wl,--symbol-ordering-file={}",
            file.display()
        );
        // Names that a later change renamed are skipped without a word.
        println!("cargo:rustc-link-arg-bin=traek=-Wl,--no-warn-symbol-ordering");
    }
}

/// `libgcc_eh.a` of the C compiler that links, when it has one.
fn static_unwinder() -> Option<PathBuf> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let out = std::process::Command::new(cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    // Without the library, the compiler prints the bare name back.
    (path.is_absolute() && path.is_file()).then_some(path)
}
