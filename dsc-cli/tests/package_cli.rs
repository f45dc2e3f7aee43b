//! End-to-end tests of `traek package ...` and of running packages with `traek config`.

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Env {
    root: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let e = Env {
            root: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(e.tmp()).unwrap();
        e
    }

    fn tmp(&self) -> PathBuf {
        self.root.path().join("tmp")
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.path().join(p)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_traek"));
        c.args(args)
            .env("TMPDIR", self.tmp())
            .env("HOME", self.root.path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("DSC_RESOURCE_PATH")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Unpacked package directories left in TMPDIR.
    fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.tmp())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("traek-pkg-"))
            .collect()
    }

    /// A package source tree: a `Pkg/Echo` resource (cat), a `Pkg/Fail` resource and a `Pkg/Sleep`
    /// resource, and a document using the given resources.
    fn source(&self, name: &str, remove: &str, doc_resources: &str) -> PathBuf {
        let d = self.path(name);
        std::fs::create_dir_all(d.join("resources")).unwrap();
        std::fs::create_dir_all(d.join("config")).unwrap();
        std::fs::write(d.join("app.dscpkg.yaml"), format!("$schema: x\nmetadata: {{name: app, version: 1.0.0}}\nresourcePath: [resources]\nconfigurationFile: config/app.dsc.yaml\nremovePackage: {remove}\n")).unwrap();
        let script = |file: &str, body: &str| {
            let p = d.join("resources").join(file);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        script("echo.sh", "cat");
        script("fail.sh", "echo broken >&2; exit 3");
        script("sleep.sh", "sleep 30; echo '{}'");
        let manifest = |t: &str, exe: &str| {
            format!(
                r#"{{"$schema": "x", "type": "{t}", "version": "1.0.0", "get": {{"executable": "{exe}", "input": "stdin"}}}}"#
            )
        };
        std::fs::write(
            d.join("resources/echo.dsc.resource.json"),
            manifest("Pkg/Echo", "echo.sh"),
        )
        .unwrap();
        std::fs::write(
            d.join("resources/fail.dsc.resource.json"),
            manifest("Pkg/Fail", "fail.sh"),
        )
        .unwrap();
        std::fs::write(
            d.join("resources/sleep.dsc.resource.json"),
            manifest("Pkg/Sleep", "sleep.sh"),
        )
        .unwrap();
        std::fs::write(
            d.join("config/app.dsc.yaml"),
            format!("$schema: x\nresources:\n{doc_resources}"),
        )
        .unwrap();
        d
    }

    fn keygen(&self, name: &str) -> (PathBuf, PathBuf) {
        let prefix = self.path(name);
        let o = self.run(&["package", "keygen", "--out", prefix.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (prefix.with_extension("key"), prefix.with_extension("pub"))
    }

    fn build(&self, src: &Path, out: &str, key: Option<&Path>) -> PathBuf {
        let out = self.path(out);
        let mut args = vec![
            "package".to_string(),
            "build".into(),
            src.display().to_string(),
            "-o".into(),
            out.display().to_string(),
        ];
        if let Some(k) = key {
            args.extend(["--sign-key".into(), k.display().to_string()]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = self.run(&refs);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        out
    }
}

const ECHO: &str = "  - {name: hello, type: Pkg/Echo, properties: {greeting: hi}}\n";

fn stdout_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {} / {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[test]
fn a_signed_package_is_built_verified_inspected_and_run_by_separate_processes() {
    let e = Env::new();
    let (key, public) = e.keygen("release");
    let src = e.source("src", "never", ECHO);
    let pkg = e.build(&src, "app.dscpkg", Some(&key));
    let o = e.run(&[
        "package",
        "verify",
        pkg.to_str().unwrap(),
        "--trusted-key",
        public.to_str().unwrap(),
        "--require-signature",
        "-o",
        "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = stdout_json(&o);
    assert_eq!(v["trusted"], true);
    assert_eq!(v["entries"], 8);
    let o = e.run(&["package", "inspect", pkg.to_str().unwrap(), "-o", "json"]);
    let v = stdout_json(&o);
    assert_eq!(v["manifest"]["configurationFile"], "config/app.dsc.yaml");
    assert_eq!(
        v["signers"][0]["status"], "untrusted",
        "no trusted key given"
    );
    let o = e.run(&[
        "config",
        "--trusted-key",
        public.to_str().unwrap(),
        "get",
        pkg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        stdout_json(&o)["results"][0]["result"]["actualState"]["greeting"],
        "hi"
    );
    // Options are accepted after the subcommand too, where users type them.
    let o = e.run(&[
        "config",
        "get",
        "-f",
        pkg.to_str().unwrap(),
        "--trusted-key",
        public.to_str().unwrap(),
        "-p",
        r#"{"parameters": {}}"#,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        stdout_json(&o)["results"][0]["result"]["actualState"]["greeting"],
        "hi"
    );
    assert!(e.leftovers().is_empty());
    assert!(pkg.exists(), "removePackage: never");
}

#[test]
fn trust_comes_from_the_trusted_keys_directory_and_unsigned_packages_need_allow_unsigned() {
    let e = Env::new();
    let (key, public) = e.keygen("k");
    let src = e.source("src", "never", ECHO);
    let signed = e.build(&src, "signed.dscpkg", Some(&key));
    let unsigned = e.build(&src, "unsigned.dscpkg", None);
    // Untrusted: refused.
    let o = e.run(&["config", "get", signed.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("not signed by a trusted key"));
    // The default trusted-keys directory (~/.config/traek/trusted-keys).
    let dir = e.root.path().join(".config/traek/trusted-keys");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&public, dir.join("release.pub")).unwrap();
    assert!(
        e.run(&["config", "get", signed.to_str().unwrap()])
            .status
            .success()
    );
    // Unsigned: refused unless --allow-unsigned.
    let o = e.run(&["config", "get", unsigned.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not signed"));
    assert!(
        e.run(&[
            "config",
            "--allow-unsigned",
            "get",
            "-f",
            unsigned.to_str().unwrap()
        ])
        .status
        .success()
    );
    // `package sign` makes it trusted.
    assert!(
        e.run(&[
            "package",
            "sign",
            unsigned.to_str().unwrap(),
            "--key",
            key.to_str().unwrap()
        ])
        .status
        .success()
    );
    assert!(
        e.run(&["config", "get", unsigned.to_str().unwrap()])
            .status
            .success()
    );
    assert!(e.leftovers().is_empty());
}

#[test]
fn packages_see_only_their_own_resources() {
    let e = Env::new();
    let src = e.source(
        "src",
        "never",
        "  - {name: host, type: Test/File, properties: {name: x}}\n",
    );
    let pkg = e.build(&src, "p.dscpkg", None);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/resources");
    let o = e
        .cmd(&["config", "--allow-unsigned", "get", pkg.to_str().unwrap()])
        .env("DSC_RESOURCE_PATH", &fixtures)
        .env("PATH", format!("{}:/usr/bin:/bin", fixtures.display()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("'Test/File' was not found"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // With allowCoreResources, DSC_RESOURCE_PATH is searched after the package.
    std::fs::write(src.join("app.dscpkg.yaml"), "$schema: x\nresourcePath: [resources]\nallowCoreResources: true\nconfigurationFile: config/app.dsc.yaml\n").unwrap();
    let pkg = e.build(&src, "core.dscpkg", None);
    let o = e
        .cmd(&["config", "--allow-unsigned", "get", pkg.to_str().unwrap()])
        .env("DSC_RESOURCE_PATH", &fixtures)
        .env("TRAEK_TEST_STATE", e.tmp())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn unpacked_files_are_removed_after_success_failure_and_interrupt() {
    let e = Env::new();
    let ok = e.build(&e.source("a", "never", ECHO), "ok.dscpkg", None);
    assert!(
        e.run(&["config", "--allow-unsigned", "get", ok.to_str().unwrap()])
            .status
            .success()
    );
    assert!(e.leftovers().is_empty());
    let bad = e.build(
        &e.source("b", "never", "  - {name: boom, type: Pkg/Fail}\n"),
        "bad.dscpkg",
        None,
    );
    assert_eq!(
        e.run(&["config", "--allow-unsigned", "get", bad.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
    assert!(e.leftovers().is_empty());
    let slow = e.build(
        &e.source("c", "never", "  - {name: nap, type: Pkg/Sleep}\n"),
        "slow.dscpkg",
        None,
    );
    let mut child = e
        .cmd(&["config", "--allow-unsigned", "get", slow.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while e.leftovers().is_empty() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        e.leftovers().len(),
        1,
        "the package is unpacked while it runs"
    );
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(e.leftovers().is_empty(), "{:?}", e.leftovers());
}

#[test]
fn remove_package_modes_are_applied() {
    let e = Env::new();
    for (mode, resources, deleted) in [
        ("onSuccess", ECHO, true),
        ("onSuccess", "  - {name: boom, type: Pkg/Fail}\n", false),
        ("always", "  - {name: boom, type: Pkg/Fail}\n", true),
        ("never", ECHO, false),
    ] {
        let pkg = e.build(
            &e.source(&format!("s-{mode}-{deleted}"), mode, resources),
            &format!("{mode}-{deleted}.dscpkg"),
            None,
        );
        e.run(&["config", "--allow-unsigned", "get", pkg.to_str().unwrap()]);
        assert_eq!(!pkg.exists(), deleted, "{mode} with {resources}");
    }
}

#[test]
fn a_tampered_package_fails_verification_and_never_runs() {
    let e = Env::new();
    let (key, public) = e.keygen("k");
    let src = e.source("src", "never", ECHO);
    let pkg = e.build(&src, "p.dscpkg", Some(&key));
    // Flip a byte inside the stored data of the first entry.
    let mut bytes = std::fs::read(&pkg).unwrap();
    let name_len = u16::from_le_bytes([bytes[26], bytes[27]]) as usize;
    let extra_len = u16::from_le_bytes([bytes[28], bytes[29]]) as usize;
    let pos = 30 + name_len + extra_len + 3;
    bytes[pos] ^= 0x20;
    std::fs::write(&pkg, bytes).unwrap();
    let o = e.run(&[
        "package",
        "verify",
        pkg.to_str().unwrap(),
        "--trusted-key",
        public.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = e.run(&[
        "config",
        "--trusted-key",
        public.to_str().unwrap(),
        "get",
        pkg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4));
    assert!(e.leftovers().is_empty());
}

#[test]
fn build_sets_the_packages_name_and_version_without_touching_the_source() {
    let e = Env::new();
    let (key, public) = e.keygen("release");
    let src = e.source("src", "never", ECHO);
    let before = std::fs::read(src.join("app.dscpkg.yaml")).unwrap();
    let out = e.path("web.dscpkg");
    let args = [
        "package",
        "build",
        src.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--name",
        "Web",
        "--version",
        "2.3.4",
        "--sign-key",
        key.to_str().unwrap(),
    ];
    let o = e.run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = stdout_json(&e.run(&["package", "inspect", out.to_str().unwrap(), "-o", "json"]));
    assert_eq!(v["manifest"]["metadata"]["name"], "Web");
    assert_eq!(v["manifest"]["metadata"]["version"], "2.3.4");
    assert_eq!(std::fs::read(src.join("app.dscpkg.yaml")).unwrap(), before);
    // The rewritten manifest is in the signed catalog: the package verifies and runs.
    let o = e.run(&[
        "config",
        "--trusted-key",
        public.to_str().unwrap(),
        "get",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A version that is not semver is refused before anything is written.
    let mut bad = args;
    bad[8] = "1.0";
    let o = e.run(&bad[..9]); // invalid arguments: exit 1, as dsc
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a semantic version"));
}
