//! Compiles the C test program against the built libtraek and runs it (under valgrind, so
//! leaks and invalid reads fail the suite); also runs the Python ctypes test.

mod common;

use common::target_dir;
use std::path::{Path, PathBuf};
use std::process::Command;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds a signed package for the tests; returns (package, public key).
fn package(dir: &Path) -> (PathBuf, PathBuf) {
    let src = dir.join("pkg");
    std::fs::create_dir_all(src.join("resources")).unwrap();
    std::fs::write(
        src.join("p.dscpkg.yaml"),
        "$schema: x\nresourcePath: [resources]\nconfigurationFile: c.dsc.yaml\n",
    )
    .unwrap();
    std::fs::write(
        src.join("c.dsc.yaml"),
        "$schema: x\nresources:\n  - {name: a, type: Pkg/Echo, properties: {v: from-package}}\n",
    )
    .unwrap();
    std::fs::write(src.join("resources/echo.dsc.resource.json"), r#"{"$schema": "x", "type": "Pkg/Echo", "version": "1.0.0", "get": {"executable": "sh", "args": ["-c", "cat"], "input": "stdin"}}"#).unwrap();
    let prefix = dir.join("key");
    dsc_core::package::signing::keygen(&prefix).unwrap();
    let key = dsc_core::package::signing::read_private(&prefix.with_extension("key")).unwrap();
    let out = dir.join("p.dscpkg");
    dsc_core::package::archive::build(
        &src,
        &out,
        dsc_core::package::archive::BuildOptions {
            key: Some(&key),
            ..Default::default()
        },
        &mut |_, _| {},
    )
    .unwrap();
    (out, prefix.with_extension("pub"))
}

fn body_path() -> PathBuf {
    manifest_dir().join("../dsc-core/tests/data/traek-registration-body.json")
}

#[test]
fn the_c_test_program_passes_every_check_under_valgrind() {
    let tmp = tempfile::tempdir().unwrap();
    let lib_dir = target_dir();
    assert!(
        lib_dir.join("libtraek.so").exists(),
        "libtraek.so was not built in {}",
        lib_dir.display()
    );
    let exe = tmp.path().join("test_traek");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-I"])
        .arg(manifest_dir().join("include"))
        .arg(manifest_dir().join("tests/c/test_traek.c"))
        .arg("-L")
        .arg(&lib_dir)
        .arg("-ltraek")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("a C compiler (cc) is needed");
    assert!(status.success(), "compiling the C test failed");
    let (pkg, public) = package(tmp.path());
    let fixtures = manifest_dir().join("tests/fixtures");
    let body = body_path();
    let args = [
        fixtures.as_os_str(),
        pkg.as_os_str(),
        public.as_os_str(),
        body.as_os_str(),
    ];
    // Plain run first (clear failures), then under valgrind (memory errors and leaks).
    let out = Command::new(&exe)
        .args(args)
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains(" passed, 0 failed"), "{text}");
    let valgrind = Command::new("valgrind")
        .args([
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
            "-q",
        ])
        .arg(&exe)
        .args(args)
        .env("TMPDIR", tmp.path())
        .output()
        .expect("valgrind is needed (Debian package valgrind)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&valgrind.stdout),
        String::from_utf8_lossy(&valgrind.stderr)
    );
    assert!(
        valgrind.status.success(),
        "valgrind reported problems:\n{text}"
    );
}

#[test]
fn the_python_ctypes_test_passes() {
    let lib = target_dir().join("libtraek.so");
    let out = Command::new("python3")
        .arg(manifest_dir().join("tests/python/test_traek.py"))
        .arg(&lib)
        .arg(manifest_dir().join("tests/fixtures"))
        .output()
        .expect("python3 is needed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains(" passed, 0 failed"),
        "{text}"
    );
}

/// The C# program in docs/ffi.md, compiled with Mono's mcs and run with mono.
#[test]
fn the_csharp_example_in_the_docs_compiles_and_runs_under_mono() {
    let doc = std::fs::read_to_string(manifest_dir().join("../docs/ffi.md")).unwrap();
    let code = doc
        .split("```csharp\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a ```csharp block in docs/ffi.md");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("Program.cs");
    std::fs::write(&src, code).unwrap();
    let exe = tmp.path().join("program.exe");
    let mcs = Command::new("mcs")
        .arg(format!("-out:{}", exe.display()))
        .arg(&src)
        .output()
        .expect("mcs is needed (Debian package mono-mcs)");
    assert!(
        mcs.status.success(),
        "{}{}",
        String::from_utf8_lossy(&mcs.stdout),
        String::from_utf8_lossy(&mcs.stderr)
    );
    let lib_dir = target_dir();
    let run = Command::new("mono")
        .arg(&exe)
        .arg(manifest_dir().join("tests/fixtures"))
        .env("LD_LIBRARY_PATH", &lib_dir)
        .output()
        .expect("mono is needed (Debian package mono-runtime)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "{text}");
    assert!(text.contains(r#"{"actualState":{"from":"C#"}}"#), "{text}");
    assert!(
        text.contains("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"),
        "{text}"
    );
    assert!(
        text.contains("error as expected") && text.contains("Ffi/Nothing"),
        "{text}"
    );
}
