//! A browser for tests: Debian's headless Chromium driven over WebDriver by chromedriver.
#![allow(dead_code)]

use base64::Engine as _;
use dsc_core::pull::client::PullClient;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver and one browser session, ended on drop.
pub struct Browser {
    driver: Child,
    http: PullClient,
    session: String,
    _profile: tempfile::TempDir,
    shots: PathBuf,
}

impl Browser {
    pub fn start() -> Browser {
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

    pub fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
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

    pub fn go(&self, url: &str) {
        self.cmd("POST", "/url", json!({"url": url}));
    }

    pub fn find(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        v[ELEMENT].as_str().unwrap().to_string()
    }

    pub fn count(&self, css: &str) -> usize {
        let v = self.cmd(
            "POST",
            "/elements",
            json!({"using": "css selector", "value": css}),
        );
        v.as_array().map_or(0, Vec::len)
    }

    pub fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.cmd("GET", &format!("/element/{id}/text"), Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("/element/{id}/clear"), json!({}));
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            json!({"text": text}),
        );
    }

    /// Types without clearing first (a file input takes the path of the file to upload).
    pub fn send_keys(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            json!({"text": text}),
        );
    }

    pub fn click(&self, css: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("/element/{id}/click"), json!({}));
    }

    pub fn page(&self) -> String {
        self.cmd("GET", "/source", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn url(&self) -> String {
        self.cmd("GET", "/url", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn screenshot(&self, name: &str) {
        let b64 = self.cmd("GET", "/screenshot", Value::Null);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    pub fn resize(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "/window/rect",
            json!({"width": width, "height": height}),
        );
    }

    /// Waits (up to 10 s) for the browser to reach a page whose URL ends with `suffix`: a
    /// click that submits a form returns before the next page has loaded.
    pub fn wait_for(&self, suffix: &str) {
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

    pub fn login(&self, base: &str, name: &str) {
        self.go(&format!("{base}/ui/login"));
        self.type_into("input[name=name]", name);
        self.type_into("input[name=password]", "dashboard-password");
        self.click("button[type=submit]");
        self.wait_for("/ui/");
    }

    pub fn logout(&self) {
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
