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
        let (body, date, auth) = signed_registration(thumbprint);
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

/// A registration body describing `thumbprint`, with its signed headers.
fn signed_registration(thumbprint: &str) -> (Vec<u8>, String, String) {
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
    (body, date, auth)
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_certificate_is_pinned_and_untrusted_headers_are_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    self_signed(&dir, "server", "localhost");
    let thumb_a = self_signed(&dir, "lcm-a", "DSC-OaaS");
    self_signed(&dir, "lcm-b", "DSC-OaaS");
    let escaped = |name: &str| {
        let pem = std::fs::read_to_string(dir.join(format!("{name}.pem"))).unwrap();
        percent_encoding::utf8_percent_encode(&pem, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let (a, b) = (escaped("lcm-a"), escaped("lcm-b"));
    let data = data_dir_with_key(&dir);
    let s = Server::start_in(&data, &["--trusted-proxy", "127.0.0.0/8"]);
    let curl = Curl {
        dir: dir.clone(),
        base: format!("http://{}/PSDSCPullServer.svc", s.addr),
    };
    let agent = Uuid::new_v4();
    let node = format!("/Nodes(AgentId='{agent}')");
    let action = format!("{node}/GetDscAction");
    let body = br#"{"ClientStatus":[{"Checksum":"","ChecksumAlgorithm":"SHA-256"}]}"#;
    let https = ("X-Forwarded-Proto", "https");
    let register = |cert: Option<&str>| {
        let (reg, date, auth) = signed_registration(&thumb_a);
        let mut h = vec![
            ("x-ms-date", date.as_str()),
            ("Authorization", auth.as_str()),
            https,
        ];
        if let Some(c) = cert {
            h.push(("X-SSL-Client-Cert", c));
        }
        curl.send(None, "PUT", &node, &h, Some(&reg)).0
    };
    // Over the proxy's HTTPS, a registration needs the certificate it describes.
    assert_eq!(register(None), 401);
    assert_eq!(register(Some(&b)), 401);
    assert_eq!(register(Some(&a)), 204);
    let act = |cert: Option<&str>| {
        let mut h = vec![https, ("Content-Type", "application/json")];
        if let Some(c) = cert {
            h.push(("X-SSL-Client-Cert", c));
        }
        curl.send(None, "POST", &action, &h, Some(body)).0
    };
    assert_eq!(act(Some(&a)), 200);
    assert_eq!(act(Some(&b)), 401);
    assert_eq!(act(None), 401);
    // The dashboard's cookies are Secure for a client that came over HTTPS.
    let out = Command::new("curl")
        .args(["-s", "-i", "-H", "X-Forwarded-Proto: https"])
        .arg(format!("http://{}/ui/login", s.addr))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("; Secure"));

    // A server that trusts no proxy ignores the same headers: no certificate is believed.
    let plain = Server::start_in(&data_dir_with_key(&dir.join("plain")), &[]);
    let curl = Curl {
        dir: dir.clone(),
        base: format!("http://{}/PSDSCPullServer.svc", plain.addr),
    };
    let (reg, date, auth) = signed_registration(&thumb_a);
    let h = [
        ("x-ms-date", date.as_str()),
        ("Authorization", auth.as_str()),
        https,
        ("X-SSL-Client-Cert", b.as_str()),
    ];
    assert_eq!(curl.send(None, "PUT", &node, &h, Some(&reg)).0, 204);
    let out = Command::new("curl")
        .args(["-s", "-i", "-H", "X-Forwarded-Proto: https"])
        .arg(format!("http://{}/ui/login", plain.addr))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("; Secure"));
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx from Debian, terminating TLS with client certificates and forwarding them.
struct Nginx {
    child: std::process::Child,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn pinning_works_through_a_real_nginx_that_terminates_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    self_signed(&dir, "server", "localhost");
    let thumb_a = self_signed(&dir, "lcm-a", "DSC-OaaS");
    self_signed(&dir, "lcm-b", "DSC-OaaS");
    let data = data_dir_with_key(&dir);
    let s = Server::start_in(&data, &["--trusted-proxy", "127.0.0.1"]);
    let port = free_port();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            r#"daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {d}/server.pem;
    ssl_certificate_key {d}/server.key;
    ssl_verify_client optional_no_ca;
    location / {{
      proxy_pass http://{upstream};
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
    }}
  }}
}}
"#,
            d = dir.display(),
            upstream = s.addr,
        ),
    )
    .unwrap();
    let nginx = Nginx {
        child: Command::new("/usr/sbin/nginx")
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(&dir)
            .spawn()
            .expect("nginx must be installed (scripts/test.sh installs it)"),
    };
    let ready = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(ready, "nginx did not start");
    let curl = Curl {
        dir: dir.clone(),
        base: format!("https://localhost:{port}/PSDSCPullServer.svc"),
    };
    let agent = Uuid::new_v4();
    assert_eq!(curl.register(None, agent, &thumb_a), 401);
    assert_eq!(curl.register(Some("lcm-b"), agent, &thumb_a), 401);
    assert_eq!(curl.register(Some("lcm-a"), agent, &thumb_a), 204);
    assert_eq!(curl.action(Some("lcm-a"), agent), 200);
    assert_eq!(curl.action(Some("lcm-b"), agent), 401);
    assert_eq!(curl.action(None, agent), 401);
    // The audit trail names the client, not a spoofed address.
    let (_, audit) = s.admin("GET", "/api/v1/audit?action=agent.register", None);
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["address"] == "127.0.0.1"),
        "{audit}"
    );
    drop(nginx);
}
