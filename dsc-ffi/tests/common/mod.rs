//! Helpers shared by the C ABI tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds libtraek and returns the directory holding `libtraek.so`. This builds what
/// `cargo test --workspace` builds, with the same features, so under that command the
/// library is already fresh and nothing is compiled twice.
pub fn target_dir() -> PathBuf {
    // .../target/debug/deps/c_abi-<hash> → .../target/debug
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let target_root = profile_dir.parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "-q",
            "--workspace",
            "--lib",
            "--bins",
            "--tests",
            "--examples",
        ])
        .env("CARGO_TARGET_DIR", target_root)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("running cargo build for libtraek");
    assert!(status.success(), "building libtraek failed");
    profile_dir
}
