//! HTTPS with LCM client certificates pinned to the registered thumbprint.

mod common;

use common::*;
use dsc_core::pull::auth::{authorization_header, format_date};
use dsc_core::pull::messages::RegistrationMessageType as Rmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use uuid::Uuid;

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A self-signed certificate and key (`NAME.pem`, `NAME.key`); returns the SHA-1 thumbprint.
fn self_signed(dir: &Path, name: &str, cn: &str) -> String {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "2",
        "-subj",
        &format!("/CN={cn}"),
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    let fp = openssl(&[
        "x509",
        "-in",
        cert.to_str().unwrap(),
        "-noout",
        "-fingerprint",
        "-sha1",
    ]);
    fp.trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
        .to_uppercase()
}

struct Curl {
    dir: PathBuf,
    base: String,
}

impl Curl {
    /// (status, body) of a request with an optional client certificate.
    fn send(
        &self,
        client: Option<&str>,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> (u16, String) {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "--cacert"])
            .arg(self.dir.join("server.pem"))
            .args(["-X", method]);
        if let Some(c) = client {
            cmd.arg("--cert")
                .arg(self.dir.join(format!("{c}.pem")))
                .arg("--key")
                .arg(self.dir.join(format!("{c}.key")));
        }
        for (k, v) in headers {
            cmd.arg("-H").arg(format!("{k}: {v}"));
        }
        if let Some(b) = body {
            let f = self.dir.join("body.json");
            std::fs::write(&f, b).unwrap();
            cmd.arg("--data-binary").arg(format!("@{}", f.display()));
        }
        cmd.arg(format!("{}{path}", self.base));
        let out = cmd.output().expect("curl must be installed");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    fn register(&self, client: Option<&str>, agent: Uuid, thumbprint: &str) -> u16 {
        let mut req = registration(Rmt::ConfigurationRepository, Some(&["Web"]));
        if let Some(c) = req
            .registration_information
            .certificate_information
            .as_mut()
        {
            c.thumbprint = thumbprint.to_string();
        }
        let body = serde_json::to_vec(&req).unwrap();
        let date = format_date(time::OffsetDateTime::now_utc());
        let auth = authorization_header(KEY, &body, &date);
        let headers = [
            ("x-ms-date", date.as_str()),
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json; charset=utf-8"),
            ("ProtocolVersion", "2.0"),
        ];
        self.send(
            client,
            "PUT",
            &format!("/Nodes(AgentId='{agent}')"),
            &headers,
            Some(&body),
        )
        .0
    }

    fn action(&self, client: Option<&str>, agent: Uuid) -> u16 {
        let body = br#"{"ClientStatus":[{"Checksum":"","ChecksumAlgorithm":"SHA-256"}]}"#;
        self.send(
            client,
            "POST",
            &format!("/Nodes(AgentId='{agent}')/GetDscAction"),
            &[
                ("Content-Type", "application/json"),
                ("ProtocolVersion", "2.0"),
            ],
            Some(body),
        )
        .0
    }
}

#[test]
fn https_pins_each_agent_to_the_client_certificate_it_registered() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    self_signed(&dir, "server", "localhost");
    let thumb_a = self_signed(&dir, "lcm-a", "DSC-OaaS");
    let thumb_b = self_signed(&dir, "lcm-b", "DSC-OaaS");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("RegistrationKeys.txt"), format!("{KEY}\n")).unwrap();
    let cert = dir.join("server.pem");
    let key = dir.join("server.key");
    let s = Server::start_in(
        &data,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let port = s.addr.rsplit(':').next().unwrap();
    let curl = Curl {
        dir: dir.clone(),
        base: format!("https://localhost:{port}/PSDSCPullServer.svc"),
    };

    let agent = Uuid::new_v4();
    // The described certificate must be the presented one.
    assert_eq!(curl.register(Some("lcm-b"), agent, &thumb_a), 401);
    assert_eq!(curl.register(Some("lcm-a"), agent, &thumb_a), 204);
    // Later requests must come with the registered certificate.
    assert_eq!(curl.action(Some("lcm-a"), agent), 200);
    assert_eq!(curl.action(Some("lcm-b"), agent), 401);
    assert_eq!(curl.action(None, agent), 401);
    // GetModule is pinned through its AgentId header.
    let module = "/Modules(ModuleName='x',ModuleVersion='1.0')/ModuleContent";
    let agent_header = agent.to_string().to_uppercase();
    assert_eq!(
        curl.send(
            Some("lcm-b"),
            "GET",
            module,
            &[("AgentId", &agent_header)],
            None
        )
        .0,
        401
    );
    assert_eq!(
        curl.send(
            Some("lcm-a"),
            "GET",
            module,
            &[("AgentId", &agent_header)],
            None
        )
        .0,
        404
    );
    // Another agent with another certificate is independent.
    let other = Uuid::new_v4();
    assert_eq!(curl.register(Some("lcm-b"), other, &thumb_b), 204);
    assert_eq!(curl.action(Some("lcm-b"), other), 200);
    // Plain HTTP is not spoken on the HTTPS port, and the server is still up.
    let plain =
        dsc_core::pull::client::PullClient::new(&format!("http://127.0.0.1:{port}"), Uuid::nil());
    assert!(plain.request("GET", "/healthz", &[], None).is_err());
    assert_eq!(curl.send(None, "GET", "/../healthz", &[], None).0, 200);
}

#[test]
fn over_https_the_dashboards_cookies_are_secure() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    self_signed(&dir, "server", "localhost");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let (cert, key) = (dir.join("server.pem"), dir.join("server.key"));
    let s = Server::start_in(
        &data,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let port = s.addr.rsplit(':').next().unwrap();
    let out = Command::new("curl")
        .args(["-s", "-i", "--cacert"])
        .arg(&cert)
        .arg(format!("https://localhost:{port}/ui/login"))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout);
    let cookie = head
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: traek_login=")
        })
        .unwrap_or_else(|| panic!("no cookie: {head}"));
    assert!(
        cookie.contains("; Secure")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
}
