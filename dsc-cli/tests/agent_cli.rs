//! End-to-end tests of `traek agent` against the built `traek-server`: signed packages pulled,
//! verified, tested and applied with file-based script resources; drift; refusals; outages;
//! crashes; HTTPS pinning; a WMF LCM served beside an agent.

use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const KEY: &str = "agent-test-registration-key";
const TOKEN: &str = "agent-test-admin-token-0123456789";

/// The `traek-server` binary, built once. Cargo builds only this package's binaries for its
/// tests, so this builds what `cargo test --workspace` builds, with the same features: under
/// `cargo test --workspace` it is already fresh and nothing is compiled twice.
fn server_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let traek = PathBuf::from(env!("CARGO_BIN_EXE_traek"));
            let server = traek.with_file_name("traek-server");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let ok = Command::new(cargo)
                .args(WORKSPACE_TEST_BUILD)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .unwrap();
            assert!(
                ok.success() && server.exists(),
                "building traek-server failed"
            );
            server
        })
        .clone()
}

/// The units `cargo test --workspace` builds, as a `cargo build`.
const WORKSPACE_TEST_BUILD: [&str; 7] = [
    "build",
    "-q",
    "--workspace",
    "--lib",
    "--bins",
    "--tests",
    "--examples",
];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A pull server, a signing key, a package source and an agent state directory.
struct Fleet {
    root: tempfile::TempDir,
    port: u16,
    server: Option<Child>,
    tls: Option<(PathBuf, PathBuf)>,
    /// Packages built so far (each gets the next version).
    built: std::cell::Cell<u32>,
}

const FILE_PY: &str = r#"#!/usr/bin/env python3
import json, os, sys, time
op = sys.argv[1]
d = json.load(sys.stdin)
p = d["path"]
if d.get("sleep"):
    time.sleep(float(d["sleep"]))
state = {"path": p}
if "sleep" in d:
    state["sleep"] = d["sleep"]
if op == "set":
    with open(p, "w") as f:
        f.write(d.get("content", ""))
if os.path.exists(p):
    state["content"] = open(p).read()
    state["_exist"] = True
else:
    state["_exist"] = False
print(json.dumps(state))
"#;

impl Fleet {
    fn new() -> Self {
        Self::with_tls(false)
    }

    fn with_tls(tls: bool) -> Self {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("RegistrationKeys.txt"), format!("{KEY}\n")).unwrap();
        let mut f = Fleet {
            root,
            port: free_port(),
            server: None,
            tls: None,
            built: std::cell::Cell::new(0),
        };
        if tls {
            f.tls = Some(f.server_certificate());
        }
        f.start_server(&[]);
        f.keygen("trusted");
        f
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.path().join(p)
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    fn url(&self) -> String {
        format!(
            "{}://localhost:{}/PSDSCPullServer.svc",
            self.scheme(),
            self.port
        )
    }

    /// A CA (`ca.pem`, what agents trust) and a server certificate for localhost signed by it.
    fn server_certificate(&self) -> (PathBuf, PathBuf) {
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(self.root.path())
                .output()
                .expect("openssl must be installed");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        openssl(
            &[
                &["req", "-x509"][..],
                &ec,
                &[
                    "-days",
                    "2",
                    "-subj",
                    "/CN=test CA",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                ],
            ]
            .concat(),
        );
        openssl(
            &[
                &["req"][..],
                &ec,
                &[
                    "-subj",
                    "/CN=localhost",
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                ],
            ]
            .concat(),
        );
        std::fs::write(
            self.path("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ]);
        (self.path("server.pem"), self.path("server.key"))
    }

    /// The CA agents and the admin client trust.
    fn ca(&self) -> PathBuf {
        self.path("ca.pem")
    }

    fn start_server(&mut self, extra: &[&str]) {
        let mut c = Command::new(server_binary());
        c.arg("--data-dir")
            .arg(self.path("data"))
            .args([
                "--listen",
                &format!("127.0.0.1:{}", self.port),
                "--admin-token",
                TOKEN,
            ])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((cert, key)) = &self.tls {
            c.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
        }
        self.server = Some(c.spawn().unwrap());
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill_server(&mut self) {
        if let Some(mut c) = self.server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn traek(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_traek"));
        if self.tls.is_some() {
            c.env("TRAEK_SERVER_CA", self.ca());
        }
        c.args(args)
            .env(
                "TRAEK_SERVER",
                format!("{}://localhost:{}", self.scheme(), self.port),
            )
            .env("TRAEK_ADMIN_TOKEN", TOKEN)
            .env("HOME", self.root.path())
            .env_remove("DSC_RESOURCE_PATH")
            .env_remove("XDG_STATE_HOME")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.traek(args).output().unwrap()
    }

    fn keygen(&self, name: &str) {
        let o = self.run(&[
            "package",
            "keygen",
            "--out",
            self.path(name).to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    /// Builds a package for configuration `Web` managing `files` (name → content) in the
    /// `managed` directory; signed with `key` (a keygen prefix) or unsigned. Each package built
    /// has a newer version than the one before.
    fn package(&self, out: &str, files: &[(&str, &str)], key: Option<&str>, sleep: f64) -> PathBuf {
        self.built.set(self.built.get() + 1);
        let version = format!("1.0.{}", self.built.get());
        self.package_as(out, ("Web", &version), files, key, sleep)
    }

    /// Builds a package as `package` does, named and versioned `(name, version)`.
    fn package_as(
        &self,
        out: &str,
        (name, version): (&str, &str),
        files: &[(&str, &str)],
        key: Option<&str>,
        sleep: f64,
    ) -> PathBuf {
        let src = self.path(&format!("src-{out}"));
        std::fs::create_dir_all(src.join("resources")).unwrap();
        std::fs::create_dir_all(src.join("config")).unwrap();
        std::fs::create_dir_all(self.path("managed")).unwrap();
        std::fs::write(
            src.join("app.dscpkg.yaml"),
            "$schema: x\nmetadata: {name: app, version: 1.0.0}\nresourcePath: [resources]\nconfigurationFile: config/app.dsc.yaml\n",
        )
        .unwrap();
        let script = src.join("resources/file.py");
        std::fs::write(&script, FILE_PY).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            src.join("resources/file.dsc.resource.json"),
            r#"{"$schema": "x", "type": "Agent/File", "version": "1.0.0",
                "get": {"executable": "file.py", "args": ["get"], "input": "stdin"},
                "set": {"executable": "file.py", "args": ["set"], "input": "stdin", "return": "state"}}"#,
        )
        .unwrap();
        let mut doc = String::from("$schema: x\nresources:\n");
        for (name, content) in files {
            let p = self.path("managed").join(name);
            let mut props = json!({"path": p, "content": content});
            if sleep > 0.0 {
                props["sleep"] = json!(sleep);
            }
            doc.push_str(&format!(
                "  - name: {name}\n    type: Agent/File\n    properties: {props}\n"
            ));
        }
        std::fs::write(src.join("config/app.dsc.yaml"), doc).unwrap();
        let out = self.path(out);
        let mut args = vec![
            "package".to_string(),
            "build".into(),
            src.display().to_string(),
            "-o".into(),
            out.display().to_string(),
            "--name".into(),
            name.into(),
            "--version".into(),
            version.into(),
        ];
        if let Some(k) = key {
            args.extend([
                "--sign-key".into(),
                self.path(&format!("{k}.key")).display().to_string(),
            ]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = self.run(&refs);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        out
    }

    fn publish(&self, name: &str, package: &Path) {
        let o = self.run(&["server", "publish-package", name, package.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    fn register(&self, state: &str, name: &str, mode: &str) -> Output {
        let dir = self.path(state);
        let trusted = self.path("trusted.pub");
        let mut args = vec![
            "agent",
            "register",
            "--server",
            &self.url_owned(),
            "--registration-key",
            KEY,
            "--configuration-name",
            name,
            "--trusted-key",
            trusted.to_str().unwrap(),
            "--mode",
            mode,
            "--state-dir",
            dir.to_str().unwrap(),
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        if self.tls.is_some() {
            args.extend(["--server-ca".into(), self.ca().display().to_string()]);
        } else {
            args.push("--allow-http".into());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = self.run(&refs);
        assert!(
            o.status.success(),
            "register: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }

    fn url_owned(&self) -> String {
        self.url()
    }

    fn cycle(&self, state: &str) -> (i32, Value) {
        let dir = self.path(state);
        let o = self.run(&[
            "agent",
            "run",
            "--once",
            "-o",
            "json",
            "--state-dir",
            dir.to_str().unwrap(),
        ]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| {
            panic!(
                "no JSON: {}\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        });
        (o.status.code().unwrap_or(-1), v)
    }

    fn managed(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.path("managed").join(name)).ok()
    }

    /// Reports the server stored for the agent registered in `state`: (Status, StatusData).
    fn stored_reports(&self, state: &str) -> Vec<(String, Value, Value)> {
        let settings: Value =
            serde_json::from_slice(&std::fs::read(self.path(state).join("agent.json")).unwrap())
                .unwrap();
        let agent = settings["agentId"].as_str().unwrap();
        let o = self.run(&["server", "reports", "--agent", agent, "-o", "json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["reports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let report = &r["report"];
                let data = report["StatusData"][0]
                    .as_str()
                    .map(|s| serde_json::from_str(s).unwrap())
                    .unwrap_or(Value::Null);
                (
                    report["Status"].as_str().unwrap_or_default().to_string(),
                    data,
                    report.clone(),
                )
            })
            .collect()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.kill_server();
    }
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .map(|r| r["ResourceId"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_signed_package_converges_and_the_stored_report_lists_each_resource() {
    let f = Fleet::new();
    let pkg = f.package(
        "v1.dscpkg",
        &[("a.txt", "A"), ("b.txt", "B")],
        Some("trusted"),
        0.0,
    );
    f.publish("Web", &pkg);
    f.register("agent", "Web", "apply");
    let (code, v) = f.cycle("agent");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["outcome"], "compliant");
    assert_eq!(v["applied"], true);
    assert_eq!(
        (f.managed("a.txt").as_deref(), f.managed("b.txt").as_deref()),
        (Some("A"), Some("B"))
    );
    let reports = f.stored_reports("agent");
    assert_eq!(reports.len(), 1);
    let (status, data, _) = &reports[0];
    assert_eq!(status, "Success");
    assert_eq!(
        ids(&data["ResourcesInDesiredState"]),
        ["[Agent/File]a.txt", "[Agent/File]b.txt"]
    );
    // A second cycle has nothing to do and stays compliant.
    let (code, v) = f.cycle("agent");
    assert_eq!(
        (code, v["applied"].clone(), v["newPackage"].clone()),
        (0, json!(false), json!(false))
    );
    let status = f.run(&[
        "agent",
        "status",
        "--state-dir",
        f.path("agent").to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("package:   Web") && text.contains("ok  a.txt [Agent/File]"),
        "{text}"
    );
}

#[test]
fn drift_is_reported_under_monitor_and_corrected_under_autocorrect() {
    let f = Fleet::new();
    let pkg = f.package("v1.dscpkg", &[("a.txt", "A")], Some("trusted"), 0.0);
    f.publish("Web", &pkg);
    f.register("agent", "Web", "monitor");
    let (code, v) = f.cycle("agent");
    assert_eq!(code, 5, "{v}");
    assert_eq!(v["outcome"], "non-compliant");
    assert_eq!(f.managed("a.txt"), None, "monitor changes nothing");
    let (status, data, _) = f.stored_reports("agent").pop().unwrap();
    assert_eq!(status, "Success");
    assert_eq!(
        ids(&data["ResourcesNotInDesiredState"]),
        ["[Agent/File]a.txt"]
    );
    // The same agent, switched to autocorrect: applied, then drift is corrected.
    f.register("agent", "Web", "autocorrect");
    assert_eq!(f.cycle("agent").0, 0);
    assert_eq!(f.managed("a.txt").as_deref(), Some("A"));
    std::fs::write(f.path("managed/a.txt"), "drifted").unwrap();
    let (code, v) = f.cycle("agent");
    assert_eq!((code, v["applied"].clone()), (0, json!(true)));
    assert_eq!(f.managed("a.txt").as_deref(), Some("A"));
}

#[test]
fn a_new_package_version_is_picked_up() {
    let f = Fleet::new();
    f.publish(
        "Web",
        &f.package("v1.dscpkg", &[("a.txt", "one")], Some("trusted"), 0.0),
    );
    f.register("agent", "Web", "apply");
    let (_, first) = f.cycle("agent");
    f.publish(
        "Web",
        &f.package("v2.dscpkg", &[("a.txt", "two")], Some("trusted"), 0.0),
    );
    let (code, second) = f.cycle("agent");
    assert_eq!(code, 0, "{second}");
    assert_eq!(second["newPackage"], true);
    assert_ne!(
        first["packages"]["Web"]["checksum"],
        second["packages"]["Web"]["checksum"]
    );
    assert_eq!(f.managed("a.txt").as_deref(), Some("two"));
    let kept: Vec<_> = std::fs::read_dir(f.path("agent/packages"))
        .unwrap()
        .collect();
    assert_eq!(kept.len(), 1, "the replaced package is removed");
}

#[test]
fn unsigned_and_wrongly_signed_packages_are_refused_and_the_failure_reaches_the_server() {
    let f = Fleet::new();
    f.keygen("stranger");
    f.register("agent", "Web", "apply");
    for (i, key) in [None, Some("stranger")].into_iter().enumerate() {
        f.publish(
            "Web",
            &f.package(&format!("bad{i}.dscpkg"), &[("a.txt", "A")], key, 0.0),
        );
        let (code, v) = f.cycle("agent");
        assert_eq!(code, 2, "{v}");
        let error = v["errors"][0].as_str().unwrap();
        assert!(error.contains("refused, nothing was run"), "{error}");
        assert_eq!(f.managed("a.txt"), None, "nothing ran");
        let (status, _, report) = f.stored_reports("agent").pop().unwrap();
        assert_eq!(status, "Failure");
        assert!(
            report["Errors"][0].as_str().unwrap().contains("refused"),
            "{report}"
        );
    }
    assert_eq!(
        std::fs::read_dir(f.path("agent/packages")).unwrap().count(),
        0
    );
}

#[test]
fn while_the_server_is_down_cycles_enforce_and_queue_reports_delivered_once_later() {
    let mut f = Fleet::new();
    f.publish(
        "Web",
        &f.package("v1.dscpkg", &[("a.txt", "A")], Some("trusted"), 0.0),
    );
    f.register("agent", "Web", "autocorrect");
    assert_eq!(f.cycle("agent").0, 0);
    f.kill_server();
    let mut queued_jobs = Vec::new();
    for _ in 0..2 {
        std::fs::write(f.path("managed/a.txt"), "drifted").unwrap();
        let (code, v) = f.cycle("agent");
        assert_eq!(code, 0, "the kept package is enforced: {v}");
        assert_eq!(
            (v["serverReached"].clone(), v["report"].clone()),
            (json!(false), json!("queued"))
        );
        assert_eq!(f.managed("a.txt").as_deref(), Some("A"));
        queued_jobs.push(v["jobId"].as_str().unwrap().to_string());
    }
    // A report sent again after a crash (same JobId) must not be stored twice.
    let queue = f.path("agent/queue");
    let first = std::fs::read_dir(&queue)
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    std::fs::copy(&first, queue.join("99999999999999999999-again.json")).unwrap();
    f.start_server(&[]);
    let (code, v) = f.cycle("agent");
    assert_eq!((code, v["queuedReports"].clone()), (0, json!(0)), "{v}");
    let stored: Vec<String> = f
        .stored_reports("agent")
        .iter()
        .map(|(_, _, r)| r["JobId"].as_str().unwrap().to_string())
        .collect();
    for job in &queued_jobs {
        assert_eq!(
            stored.iter().filter(|s| *s == job).count(),
            1,
            "{job} in {stored:?}"
        );
    }
    assert_eq!(stored.len(), 4, "{stored:?}");
}

#[test]
fn kill_9_during_a_cycle_leaves_a_state_the_next_cycle_runs_from() {
    let f = Fleet::new();
    f.publish(
        "Web",
        &f.package("slow.dscpkg", &[("a.txt", "A")], Some("trusted"), 1.0),
    );
    f.register("agent", "Web", "apply");
    let dir = f.path("agent");
    let mut child = f
        .traek(&[
            "agent",
            "run",
            "--once",
            "--state-dir",
            dir.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    child.kill().unwrap();
    child.wait().unwrap();
    let (code, v) = f.cycle("agent");
    assert_eq!(code, 0, "{v}");
    assert_eq!(f.managed("a.txt").as_deref(), Some("A"));
    let state: Value =
        serde_json::from_slice(&std::fs::read(dir.join("state.json")).unwrap()).unwrap();
    assert_eq!(state["lastCycle"]["outcome"], "compliant");
}

#[test]
fn an_https_server_pins_the_agents_certificate() {
    let f = Fleet::with_tls(true);
    f.publish(
        "Web",
        &f.package("v1.dscpkg", &[("a.txt", "A")], Some("trusted"), 0.0),
    );
    f.register("agent", "Web", "apply");
    let (code, v) = f.cycle("agent");
    assert_eq!(code, 0, "{v}");
    assert_eq!(f.stored_reports("agent").len(), 1);
    // Another certificate under the same agent id is refused.
    let other = f.path("other");
    std::fs::create_dir_all(&other).unwrap();
    f.register("other", "Web", "apply");
    for file in ["client.pem", "client.key"] {
        std::fs::copy(other.join(file), f.path("agent").join(file)).unwrap();
    }
    let (code, v) = f.cycle("agent");
    assert_eq!(code, 2, "{v}");
    assert_eq!(v["serverReached"], true);
    assert!(v["errors"][0].as_str().unwrap().contains("401"), "{v}");
}

#[test]
fn a_wmf_lcm_and_an_agent_are_served_side_by_side() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance");
    let trace =
        shared.join("traces/v2-initial-registration-config-pull-module-pull-reporting.http.json");
    let lcm_key = "91E51A37-B59F-11E5-9C04-14109FD663AE";
    let mut f = Fleet::new();
    f.kill_server();
    let src = f.path("windows");
    let ok = Command::new("python3")
        .arg(shared.join("replay.py"))
        .arg("prepare")
        .arg(&trace)
        .arg(&src)
        .args(["--key", lcm_key])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let ok = Command::new(server_binary())
        .arg("import")
        .arg("--data-dir")
        .arg(f.path("data"))
        .arg("--from")
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    f.start_server(&["--max-clock-skew", "999999999"]);
    // The capture's configuration name holds its MOF; publish a package under the same name.
    let name = "91E51A37-B59F-11E5-9C04-14109FD663AE";
    f.publish(
        name,
        &f.package_as(
            "v1.dscpkg",
            (name, "1.0.0"),
            &[("a.txt", "A")],
            Some("trusted"),
            0.0,
        ),
    );
    let out = Command::new("python3")
        .arg(shared.join("replay.py"))
        .arg("run")
        .arg(&trace)
        .args([
            "--base",
            &format!("http://127.0.0.1:{}/PSDSCPullServer.svc", f.port),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(", 0 failed"),
        "the LCM still gets its MOF: {text}"
    );
    f.register("agent", name, "apply");
    let (code, v) = f.cycle("agent");
    assert_eq!(code, 0, "the agent gets the package: {v}");
    let nodes = f.run(&["server", "nodes", "-o", "json"]);
    let nodes: Value = serde_json::from_slice(&nodes.stdout).unwrap();
    let versions: Vec<String> = nodes["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["lcmVersion"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        versions.iter().any(|v| v.starts_with("traek-agent/"))
            && versions.iter().any(|v| v == "2.0"),
        "{versions:?}"
    );
}

fn last_job(f: &Fleet) -> Option<String> {
    let state: Value =
        serde_json::from_slice(&std::fs::read(f.path("agent/state.json")).ok()?).ok()?;
    state["lastCycle"]["jobId"].as_str().map(str::to_string)
}

fn wait_until(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_loop_reloads_on_sighup_and_sigterm_lets_the_running_cycle_finish() {
    let f = Fleet::new();
    f.publish(
        "Web",
        &f.package("slow.dscpkg", &[("a.txt", "A")], Some("trusted"), 1.0),
    );
    f.register("agent", "Web", "monitor");
    let dir = f.path("agent");
    let mut child = f
        .traek(&["agent", "run", "--state-dir", dir.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(20), "the first cycle", || {
        last_job(&f).is_some()
    });
    let first = last_job(&f);
    assert_eq!(f.managed("a.txt"), None, "monitor");
    // SIGHUP: the settings are read again (now autocorrect) and a cycle runs with them.
    f.register("agent", "Web", "autocorrect");
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    wait_until(Duration::from_secs(20), "a cycle after SIGHUP", || {
        last_job(&f) != first
    });
    assert_eq!(
        f.managed("a.txt").as_deref(),
        Some("A"),
        "the reloaded mode applied"
    );
    // SIGTERM during a cycle: the cycle finishes, then the agent exits 0.
    f.register("agent", "Web", "autocorrect");
    let before = last_job(&f);
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(400));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_ne!(
        last_job(&f),
        before,
        "the interrupted cycle finished and was saved"
    );
}

#[test]
fn registering_over_plain_http_needs_allow_http() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_traek"))
        .args([
            "agent",
            "register",
            "--server",
            "http://127.0.0.1:9/PSDSCPullServer.svc",
            "--registration-key",
            KEY,
            "--configuration-name",
            "Web",
            "--state-dir",
        ])
        .arg(tmp.path().join("agent"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--allow-http"), "{err}");
    assert!(!tmp.path().join("agent").join("agent.json").exists());
}

#[test]
fn an_older_signed_package_is_refused_and_the_refusal_reaches_the_server() {
    let f = Fleet::new();
    let old = f.package_as(
        "old.dscpkg",
        ("Web", "1.0.0"),
        &[("a.txt", "old")],
        Some("trusted"),
        0.0,
    );
    let new = f.package_as(
        "new.dscpkg",
        ("Web", "1.1.0"),
        &[("a.txt", "new")],
        Some("trusted"),
        0.0,
    );
    f.publish("Web", &new);
    f.register("agent", "Web", "apply");
    let (code, v) = f.cycle("agent");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["packages"]["Web"]["version"], "1.1.0");
    // The older package, still validly signed, is replayed: the agent refuses it.
    f.publish("Web", &old);
    let (code, v) = f.cycle("agent");
    assert_eq!(code, 2, "{v}");
    let error = v["errors"][0].as_str().unwrap();
    assert!(error.contains("older than 1.1.0"), "{error}");
    assert_eq!(f.managed("a.txt").as_deref(), Some("new"), "nothing ran");
    let (status, _, report) = f.stored_reports("agent").pop().unwrap();
    assert_eq!(status, "Failure");
    assert!(
        report["Errors"][0].as_str().unwrap().contains("older than"),
        "{report}"
    );
    // Rolling back means publishing the old content as a newer version.
    let again = f.package_as(
        "again.dscpkg",
        ("Web", "1.2.0"),
        &[("a.txt", "old")],
        Some("trusted"),
        0.0,
    );
    f.publish("Web", &again);
    let (code, v) = f.cycle("agent");
    assert_eq!(code, 0, "{v}");
    assert_eq!(f.managed("a.txt").as_deref(), Some("old"));
}

#[test]
fn the_server_refuses_a_package_named_for_another_configuration() {
    let f = Fleet::new();
    let db = f.package_as(
        "db.dscpkg",
        ("Db", "1.0.0"),
        &[("a.txt", "A")],
        Some("trusted"),
        0.0,
    );
    let o = f.run(&["server", "publish-package", "Web", db.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("named 'Db'") && err.contains("--name Web"),
        "{err}"
    );
    let o = f.run(&["server", "publish-package", "Db", db.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

impl Fleet {
    /// An admin API call with the admin token: (status, JSON answer).
    fn api(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, Value) {
        let base = format!("{}://localhost:{}", self.scheme(), self.port);
        let client = dsc_core::pull::client::PullClient::new(&base, uuid::Uuid::nil());
        let auth = format!("Bearer {TOKEN}");
        let r = client
            .request(method, path, &[("Authorization", &auth)], body)
            .unwrap();
        (
            r.status,
            serde_json::from_slice(&r.body).unwrap_or(Value::Null),
        )
    }

    fn agent_id(&self, state: &str) -> String {
        let settings: Value =
            serde_json::from_slice(&std::fs::read(self.path(state).join("agent.json")).unwrap())
                .unwrap();
        settings["agentId"].as_str().unwrap().to_string()
    }

    /// Polls the package's rollout until `check` holds (at most 20 s).
    fn rollout_until(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let (st, v) = self.api("GET", "/api/v1/packages/Web/rollout", None);
            assert_eq!(st, 200, "{v}");
            if check(&v) {
                return v;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "{what}: {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn a_package_candidate_reaches_the_tagged_agent_first_then_every_agent() {
    let f = Fleet::new();
    f.publish(
        "Web",
        &f.package("v1.dscpkg", &[("a.txt", "one")], Some("trusted"), 0.0),
    );
    for a in ["a1", "a2", "a3"] {
        f.register(a, "Web", "apply");
        let (code, v) = f.cycle(a);
        assert_eq!(code, 0, "{v}");
    }
    let canary = f.agent_id("a1");
    let (st, v) = f.api(
        "PUT",
        &format!("/api/v1/nodes/{canary}/tags"),
        Some(br#"["canary"]"#),
    );
    assert_eq!(st, 200, "{v}");
    let plan = br#"{"rings": [{"tag": "canary"}, {"percent": 100}], "soak": "0s", "maxFailedPercent": 0, "minReportedPercent": 100}"#;
    assert_eq!(
        f.api("PUT", "/api/v1/packages/Web/rollout", Some(plan)).0,
        200
    );
    let v2 =
        std::fs::read(f.package("v2.dscpkg", &[("a.txt", "two")], Some("trusted"), 0.0)).unwrap();
    let (st, v) = f.api("PUT", "/api/v1/packages/Web?candidate=true", Some(&v2));
    assert_eq!(st, 200, "{v}");
    let candidate = v["candidate"]["checksum"].as_str().unwrap().to_string();

    let (_, other) = f.cycle("a2");
    assert_eq!(other["newPackage"], false, "ring 2 waits: {other}");
    let (code, first) = f.cycle("a1");
    assert_eq!((code, &first["newPackage"]), (0, &json!(true)), "{first}");
    assert_eq!(f.managed("a.txt").as_deref(), Some("two"));
    f.rollout_until("ring 2", |v| v["ring"] == 2);
    for a in ["a2", "a3"] {
        let (code, v) = f.cycle(a);
        assert_eq!((code, &v["newPackage"]), (0, &json!(true)), "{v}");
    }
    let done = f.rollout_until("done", |v| v["state"] == "done");
    assert_eq!(done["current"], candidate.as_str());
    // The agent's latest report names the version it applied.
    let (_, reports) = f.api(
        "GET",
        &format!("/api/v1/reports?agent={}", f.agent_id("a3")),
        None,
    );
    let last = reports["reports"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["applied"], candidate.as_str(), "{last}");
}
