//! The dashboard in a real browser: Debian's headless Chromium driven over WebDriver by
//! chromedriver. A seeded fleet; each role logs in; the overview's counts, the node filter, a
//! node's per-resource results, an assignment and its audit entry, what a viewer cannot do,
//! logout, and a phone-width screen. With `TRAEK_SAVE_SCREENSHOTS=1` the screenshots are
//! written to `docs/screenshots/` (used by docs/dashboard.md).

mod common;

use base64::Engine as _;
use common::*;
use dsc_core::pull::client::PullClient;
use dsc_core::pull::messages::RegistrationMessageType as Rmt;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver and one browser session, ended on drop.
struct Browser {
    driver: Child,
    http: PullClient,
    session: String,
    _profile: tempfile::TempDir,
    shots: PathBuf,
}

impl Browser {
    fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver must be installed (Debian: chromium-driver)");
        let http = PullClient::new(&format!("http://127.0.0.1:{port}"), Uuid::nil());
        let start = Instant::now();
        while http.request("GET", "/status", &[], None).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--window-size=1280,900",
        ];
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}}}});
        let r = http
            .request("POST", "/session", &[], Some(caps.to_string().as_bytes()))
            .unwrap();
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {v}"))
            .to_string();
        let shots = if std::env::var("TRAEK_SAVE_SCREENSHOTS").is_ok() {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots")
        } else {
            profile.path().join("shots")
        };
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            driver,
            http,
            session,
            _profile: profile,
            shots,
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("/session/{}{path}", self.session);
        let body = (method == "POST").then(|| body.to_string());
        let r = self
            .http
            .request(method, &url, &[], body.as_deref().map(str::as_bytes))
            .unwrap();
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert!(r.status < 300, "{method} {path}: {v}");
        v["value"].clone()
    }

    fn go(&self, url: &str) {
        self.cmd("POST", "/url", json!({"url": url}));
    }

    fn find(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        v[ELEMENT].as_str().unwrap().to_string()
    }

    fn count(&self, css: &str) -> usize {
        let v = self.cmd(
            "POST",
            "/elements",
            json!({"using": "css selector", "value": css}),
        );
        v.as_array().map_or(0, Vec::len)
    }

    fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.cmd("GET", &format!("/element/{id}/text"), Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("/element/{id}/clear"), json!({}));
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            json!({"text": text}),
        );
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("/element/{id}/click"), json!({}));
    }

    fn page(&self) -> String {
        self.cmd("GET", "/source", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn url(&self) -> String {
        self.cmd("GET", "/url", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn screenshot(&self, name: &str) {
        let b64 = self.cmd("GET", "/screenshot", Value::Null);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    fn resize(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "/window/rect",
            json!({"width": width, "height": height}),
        );
    }

    /// Waits (up to 10 s) for the browser to reach a page whose URL ends with `suffix`: a
    /// click that submits a form returns before the next page has loaded.
    fn wait_for(&self, suffix: &str) {
        let start = Instant::now();
        while !self.url().ends_with(suffix) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "never reached {suffix}: {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        while self.count("body") == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn login(&self, base: &str, name: &str) {
        self.go(&format!("{base}/ui/login"));
        self.type_into("input[name=name]", name);
        self.type_into("input[name=password]", "dashboard-password");
        self.click("button[type=submit]");
        self.wait_for("/ui/");
    }

    fn logout(&self) {
        self.click("header form button");
        self.wait_for("/ui/login");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .http
            .request("DELETE", &format!("/session/{}", self.session), &[], None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Registers a node and sends a final report whose resources are in or out of the desired
/// state (or a failure).
fn seed_node(s: &Server, name: &str, outcome: &str) -> Uuid {
    let agent = Uuid::new_v4();
    let mut reg = registration(Rmt::ConfigurationRepository, Some(&["WebServer"]));
    reg.agent_information.node_name = name.into();
    s.client(agent).register(KEY, &reg).unwrap();
    if outcome == "pending" {
        return agent;
    }
    let resource = |id: &str, ok: bool| json!({"ResourceId": id, "ModuleName": "PSDesiredStateConfiguration", "InDesiredState": ok});
    let (status, data) = match outcome {
        "compliant" => (
            "Success",
            json!({"ResourcesInDesiredState": [resource("[File]motd", true), resource("[Service]w3svc", true)]}),
        ),
        "drifted" => (
            "Success",
            json!({"ResourcesInDesiredState": [resource("[File]motd", true)], "ResourcesNotInDesiredState": [resource("[Service]w3svc", false)]}),
        ),
        _ => (
            "Failure",
            json!({"ResourcesNotInDesiredState": [resource("[Service]w3svc", false)]}),
        ),
    };
    let body = report(
        Uuid::new_v4(),
        json!({"Status": status, "StatusData": [data.to_string()]}),
    );
    assert_eq!(s.client(agent).send_report(&body).unwrap().status, 200);
    agent
}

#[test]
fn the_dashboard_works_in_a_browser_for_each_role() {
    let s = Server::start();
    for (name, role) in [("vera", "viewer"), ("otto", "operator"), ("ada", "admin")] {
        let body =
            json!({"name": name, "role": role, "password": "dashboard-password"}).to_string();
        assert_eq!(
            s.admin("POST", "/api/v1/users", Some(body.as_bytes())).0,
            201
        );
    }
    for i in 0..3 {
        seed_node(&s, &format!("WEB{i:02}"), "compliant");
    }
    let drifted = seed_node(&s, "WEB10", "drifted");
    seed_node(&s, "DB01", "failed");
    seed_node(&s, "NEW01", "pending");
    s.admin(
        "PUT",
        "/api/v1/configurations/WebServer",
        Some(&utf16_mof("instance of Web {};")),
    );
    let base = format!("http://{}", s.addr);
    let b = Browser::start();

    // A viewer: the overview's counts, the filter, a node's resources; no upload form.
    b.login(&base, "vera");
    let cards = b.text(".cards");
    for expected in [
        "3\ncompliant",
        "1\nnon-compliant",
        "1\nfailed",
        "1\npending",
        "0\nstale",
    ] {
        assert!(cards.contains(expected), "{expected:?} in {cards:?}");
    }
    assert!(
        b.text("main").contains("[Service]w3svc"),
        "the failing resource is listed"
    );
    assert_eq!(b.count(".chart rect"), 3, "today's bar has three segments");
    b.screenshot("overview");
    b.go(&format!("{base}/ui/nodes?status=non-compliant"));
    assert_eq!(b.count("tbody tr"), 1);
    assert!(b.text("tbody").contains("WEB10"));
    b.go(&format!("{base}/ui/nodes"));
    assert_eq!(b.count("tbody tr"), 6);
    b.screenshot("nodes");
    b.click("tbody tr a[href*='/ui/nodes/']");
    let start = Instant::now();
    while !b.url().contains("/ui/nodes/") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the node link did not open"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(b.page().contains("Resources in the latest run"));
    b.go(&format!("{base}/ui/nodes/{drifted}"));
    let page = b.text("main");
    assert!(
        page.contains("[Service]w3svc") && page.contains("non-compliant"),
        "{page}"
    );
    assert_eq!(
        b.count("form[action$='/assign']"),
        0,
        "a viewer cannot assign"
    );
    b.screenshot("node");
    b.go(&format!("{base}/ui/content"));
    assert_eq!(
        b.count("form[enctype='multipart/form-data']"),
        0,
        "a viewer cannot upload"
    );
    b.logout();

    // An operator assigns a configuration; the audit log shows it.
    b.login(&base, "otto");
    b.go(&format!("{base}/ui/nodes/{drifted}"));
    b.type_into(
        "form[action$='/assign'] input[name=names]",
        "WebServer, Hardening",
    );
    b.click("form[action$='/assign'] button");
    b.wait_for("assignment%20saved");
    assert!(b.text(".notice").contains("assignment saved"));
    assert!(b.text("dl.kv").contains("WebServer, Hardening"));
    b.go(&format!("{base}/ui/content"));
    assert_eq!(b.count("form[enctype='multipart/form-data']"), 1);
    b.screenshot("content");
    b.go(&format!("{base}/ui/audit"));
    let audit = b.text("tbody");
    assert!(
        audit.contains("otto")
            && audit.contains("node.assign")
            && audit.contains(&drifted.to_string()),
        "{audit}"
    );
    b.screenshot("audit");
    b.logout();

    // An admin sees keys and users.
    b.login(&base, "ada");
    b.go(&format!("{base}/ui/users"));
    assert!(b.text("tbody").contains("vera"));
    b.screenshot("users");
    // A phone-width screen: the same overview, readable.
    b.resize(390, 844);
    b.go(&format!("{base}/ui/"));
    assert!(b.page().contains("non-compliant"));
    b.screenshot("overview-phone");
    b.logout();
}
