//! Single sign-on against a real OpenID provider (panva's oidc-provider on Node.js, started by
//! the test): users sign in through the provider's own pages in Chromium and land with the
//! role their groups map to; a user in no mapped group is refused; a tampered state, a
//! replayed callback, a replayed code and a code issued to another application are refused;
//! sign-out ends the provider's session too; every step is in the audit trail.

mod common;
mod webdriver;

use common::*;
use dsc_core::pull::client::{PullClient, Reply};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use uuid::Uuid;
use webdriver::Browser;

const CLIENT_SECRET: &str = "traek-client-secret-0123456789";

/// The OpenID provider, killed on drop. It listens on a port of the system's choosing first;
/// [`Provider::serve`] then makes it a provider for a traek server's URL.
struct Provider {
    child: Child,
    port: u16,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Provider {
    fn start() -> Provider {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "oidc-provider is not installed: run `npm ci --prefix {}` (scripts/test.sh does)",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node must be installed");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        // The provider logs notices to stdout: keep reading, or it dies of a broken pipe.
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            while out.read_line(&mut line).unwrap_or(0) > 0 {
                let _ = tx.send(line.trim().to_string());
                line.clear();
            }
        });
        let mut p = Provider {
            child,
            port: 0,
            lines,
        };
        let first = p.next_line("port ");
        p.port = first["port ".len()..].parse().unwrap();
        p
    }

    fn next_line(&self, prefix: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .expect("the provider did not answer");
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// (Re)creates the provider for the traek server at `traek` (its redirect URIs).
    fn serve(&mut self, traek: &str) {
        use std::io::Write as _;
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{traek}").unwrap();
        stdin.flush().unwrap();
        self.next_line("ready");
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// traek with single sign-on against a provider on `port` (started afterwards: traek asks
/// the provider nothing before the first sign-in).
fn traek(data: &std::path::Path, port: u16, extra: &[&str]) -> Server {
    let secret = data.join("oidc-secret");
    std::fs::write(&secret, format!("{CLIENT_SECRET}\n")).unwrap();
    let issuer = format!("http://127.0.0.1:{port}");
    let mut args = vec![
        "--oidc-issuer",
        &issuer,
        "--oidc-client-id",
        "traek",
        "--oidc-client-secret-file",
        secret.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Server::start_in(data, &args)
}

/// A provider, traek signing in with it (admins and viewers mapped), and traek's URL.
fn traek_and_provider(data: &std::path::Path) -> (Provider, Server, String) {
    let mut provider = Provider::start();
    let s = traek(data, provider.port, &ROLES);
    let base = format!("http://{}", s.addr);
    provider.serve(&base);
    (provider, s, base)
}

const ROLES: [&str; 4] = [
    "--oidc-role",
    "traek-admins=admin",
    "--oidc-role",
    "traek-viewers=viewer",
];

/// Signs in through the provider's login and consent pages; waits until the browser is back on
/// traek (the dashboard, or a refusal).
fn browser_sign_in(b: &Browser, base: &str, user: &str) {
    b.go(&format!("{base}/ui/login"));
    b.click("#sso");
    wait(b, || {
        b.url().contains("/interaction/") && b.count("input[name=login]") == 1
    });
    b.type_into("input[name=login]", user);
    b.type_into("input[name=password]", "any password");
    b.click("button[type=submit]");
    // The consent page, then back to traek.
    wait(b, || {
        b.url().starts_with(base) || b.page().contains("Authorize")
    });
    if !b.url().starts_with(base) {
        b.click("button[type=submit]");
    }
    wait(b, || {
        b.url().starts_with(base) && !b.url().contains("/ui/oidc/callback")
            || b.count("#sso-error") == 1
    });
}

/// Signs out: traek's session ends, the browser goes on to the provider's end-session page
/// (RP-initiated logout), confirms there, and comes back to traek's sign-in page.
fn browser_sign_out(b: &Browser) {
    b.click("header form button");
    wait(b, || b.url().contains("/session/end"));
    b.click("button[autofocus], button[type=submit]");
    wait(b, || b.url().ends_with("/ui/login"));
}

fn wait(b: &Browser, done: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out at {}: {}",
            b.url(),
            b.page().chars().take(3000).collect::<String>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn audit(s: &Server) -> Vec<Value> {
    let (_, v) = s.admin("GET", "/api/v1/audit?limit=200", None);
    v["entries"].as_array().cloned().unwrap_or_default()
}

#[test]
fn users_sign_in_through_the_provider_with_the_role_of_their_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir_with_key(tmp.path());
    let (mut provider, s, base) = traek_and_provider(&data);
    assert!(
        !data.join("admin-password").exists(),
        "with single sign-on no local admin is made"
    );
    let b = Browser::start();

    browser_sign_in(&b, &base, "alice");
    b.wait_for("/ui/");
    assert!(
        b.text("header .who").contains("admin"),
        "{}",
        b.text("header .who")
    );
    assert!(b.text("header .who").contains("sso:alice:"));
    browser_sign_out(&b);

    browser_sign_in(&b, &base, "bob");
    b.wait_for("/ui/");
    assert!(b.text("header .who").contains("viewer"));
    // A viewer cannot see the admin pages.
    b.go(&format!("{base}/ui/users"));
    assert!(b.page().contains("needs the admin role"));
    browser_sign_out(&b);

    browser_sign_in(&b, &base, "carol");
    assert_eq!(b.count("#sso-error"), 1, "{}", b.page());
    let why = b.text("#sso-error");
    assert!(
        why.contains("no role in traek") && why.contains("groups"),
        "{why}"
    );
    b.go(&format!("{base}/ui/"));
    wait(&b, || b.url().ends_with("/ui/login"));

    let entries = audit(&s);
    let has = |action: &str, outcome: &str, target: &str| {
        entries.iter().any(|e| {
            e["action"] == action
                && e["outcome"].as_str().unwrap_or("").starts_with(outcome)
                && e["target"].as_str().unwrap_or("").contains(target)
        })
    };
    assert!(has("user.add", "ok: admin", "sso:alice:"), "{entries:?}");
    assert!(has("user.add", "ok: viewer", "sso:bob:"), "{entries:?}");
    assert!(
        has("login", "ok: single sign-on", "sso:alice:"),
        "{entries:?}"
    );
    assert!(
        has("login", "refused: your account (carol)", "sso:carol:"),
        "{entries:?}"
    );
    assert!(
        !entries
            .iter()
            .any(|e| e.to_string().contains(CLIENT_SECRET))
    );

    // The mapping changes: alice's next sign-in takes the new role, and says so.
    drop(b);
    drop(s);
    let s = traek(
        &data,
        provider.port,
        &["--oidc-role", "traek-admins=operator"],
    );
    let base = format!("http://{}", s.addr);
    provider.serve(&base);
    let mut w = Walker::new();
    let start = w.call("GET", &format!("{base}/ui/oidc/login"), None);
    let auth = Walker::location(&start, &base);
    let back = w.authorize(&auth, "alice", &format!("{base}/ui/oidc/callback"));
    let ok = w.call("GET", &back, None);
    assert_eq!(ok.status, 200, "{}", body(&ok));
    let changed = audit(&s).iter().any(|e| {
        e["action"] == "user.role"
            && e["outcome"] == "ok: admin -> operator from the provider's claims"
            && e["target"].as_str().unwrap_or("").starts_with("sso:alice:")
    });
    assert!(changed, "{:?}", audit(&s));
}

/// A browser-less client that follows a sign-in through the provider by hand (cookies per
/// host, the development login and consent forms), so that the test holds the callback URL.
struct Walker {
    cookies: BTreeMap<String, BTreeMap<String, String>>,
}

fn host_of(url: &str) -> String {
    url.split('/').take(3).collect::<Vec<_>>().join("/")
}

impl Walker {
    fn new() -> Walker {
        Walker {
            cookies: BTreeMap::new(),
        }
    }

    fn call(&mut self, method: &str, url: &str, form: Option<&str>) -> Reply {
        let host = host_of(url);
        let jar = self.cookies.entry(host.clone()).or_default();
        let cookie: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let cookie = cookie.join("; ");
        let mut headers = vec![("Cookie", cookie.as_str())];
        if form.is_some() {
            headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        }
        // A fresh connection each time: the provider closes idle ones without notice.
        let r = PullClient::new("", Uuid::nil())
            .request(method, url, &headers, form.map(str::as_bytes))
            .unwrap();
        for (k, v) in &r.headers {
            let pair = v.split(';').next().and_then(|c| c.split_once('='));
            if let (true, Some((name, value))) = (k.eq_ignore_ascii_case("set-cookie"), pair) {
                jar.insert(name.trim().to_string(), value.to_string());
            }
        }
        r
    }

    fn location(r: &Reply, base: &str) -> String {
        let l = r.header("location").unwrap_or_else(|| {
            panic!(
                "no redirect from {base}: {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            )
        });
        if l.starts_with("http") {
            l.to_string()
        } else {
            format!("{}{l}", host_of(base))
        }
    }

    /// Follows redirects from `url` until an answer that is not one; (last URL, answer).
    fn follow(&mut self, mut url: String, stop_at: &str) -> (String, Reply) {
        loop {
            if url.starts_with(stop_at) {
                let r = Reply {
                    status: 0,
                    headers: vec![],
                    body: vec![],
                };
                return (url, r);
            }
            let r = self.call("GET", &url, None);
            if !(300..400).contains(&r.status) {
                return (url, r);
            }
            url = Walker::location(&r, &url);
        }
    }

    /// Posts the page's one form (login or consent) with `fields`; the redirect it answers.
    fn submit(&mut self, page_url: &str, page: &Reply, fields: &str) -> String {
        let html = String::from_utf8_lossy(&page.body).to_string();
        let at = html.find("action=\"").expect("a form") + 8;
        let action = html[at..].split('"').next().unwrap().to_string();
        let action = if action.starts_with("http") {
            action
        } else {
            format!("{}{action}", host_of(page_url))
        };
        let r = self.call("POST", &action, Some(fields));
        Walker::location(&r, &action)
    }

    /// From a provider authorization URL to traek's callback URL: the login page (as `user`)
    /// and the consent page, whichever the provider shows.
    fn authorize(&mut self, auth_url: &str, user: &str, callback: &str) -> String {
        let mut url = auth_url.to_string();
        for _ in 0..6 {
            let (at, page) = self.follow(url, callback);
            if at.starts_with(callback) {
                return at;
            }
            let fields = if body(&page).contains("value=\"login\"") {
                format!("prompt=login&login={user}&password=x")
            } else {
                "prompt=consent".to_string()
            };
            url = self.submit(&at, &page, &fields);
        }
        panic!("the provider never sent the browser back to traek");
    }
}

fn body(r: &Reply) -> String {
    String::from_utf8_lossy(&r.body).to_string()
}

#[test]
fn tampered_states_replays_and_codes_for_another_application_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir_with_key(tmp.path());
    let (_provider, s, base) = traek_and_provider(&data);
    let callback = format!("{base}/ui/oidc/callback");
    let mut w = Walker::new();

    // A sign-in whose state is changed on the way back is refused.
    let start = w.call("GET", &format!("{base}/ui/oidc/login"), None);
    assert_eq!(start.status, 303);
    let auth = Walker::location(&start, &base);
    let back = w.authorize(&auth, "alice", &callback);
    let tampered = back.replace("state=", "state=x");
    let r = w.call("GET", &tampered, None);
    assert_eq!(r.status, 400, "{}", body(&r));
    assert!(body(&r).contains("did not start in this browser"));

    // A genuine one works once; the same callback again is refused.
    let start = w.call("GET", &format!("{base}/ui/oidc/login"), None);
    let auth = Walker::location(&start, &base);
    let back = w.authorize(&auth, "alice", &callback);
    let ok = w.call("GET", &back, None);
    assert_eq!(ok.status, 200, "{}", body(&ok));
    assert!(
        ok.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("traek_session="))
    );
    let code = back
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    // Even with the state cookie put back, the state was taken.
    let state = back
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    w.cookies
        .entry(base.clone())
        .or_default()
        .insert("traek_sso".into(), state);
    let again = w.call("GET", &back, None);
    assert_eq!(again.status, 400, "{}", body(&again));
    assert!(body(&again).contains("expired or was already used"));

    // The used code with a fresh, genuine state: the provider refuses the code.
    let start = w.call("GET", &format!("{base}/ui/oidc/login"), None);
    let auth = Walker::location(&start, &base);
    let state = auth
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let replay = format!("{callback}?code={code}&state={state}");
    let r = w.call("GET", &replay, None);
    assert_eq!(r.status, 403, "{}", body(&r));
    assert!(
        body(&r).contains("the code was not accepted"),
        "{}",
        body(&r)
    );

    // A code the provider issued to another application (traek's state, the other client):
    // traek's exchange of it is refused.
    let start = w.call("GET", &format!("{base}/ui/oidc/login"), None);
    let auth = Walker::location(&start, &base).replace("client_id=traek", "client_id=other-app");
    let back = w.authorize(&auth, "alice", &callback);
    let r = w.call("GET", &back, None);
    assert_eq!(r.status, 403, "{}", body(&r));
    assert!(
        body(&r).contains("the code was not accepted"),
        "{}",
        body(&r)
    );

    let refused = audit(&s)
        .iter()
        .filter(|e| {
            e["action"] == "login" && e["outcome"].as_str().unwrap_or("").starts_with("refused")
        })
        .count();
    assert!(refused >= 4, "every refusal is audited");
}

#[test]
fn local_accounts_can_be_switched_off_and_need_single_sign_on() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir_with_key(tmp.path());
    let mut args = ROLES.to_vec();
    args.extend(["--local-accounts", "false"]);
    // Nothing asks the provider here: any loopback issuer will do.
    let s = traek(&data, 9, &args);
    let page = PullClient::new(&format!("http://{}", s.addr), Uuid::nil())
        .request("GET", "/ui/login", &[], None)
        .unwrap();
    let html = body(&page);
    assert!(html.contains("Sign in with single sign-on"));
    assert!(!html.contains("name=\"password\""), "no password form");
    let r = PullClient::new(&format!("http://{}", s.addr), Uuid::nil())
        .request(
            "POST",
            "/ui/login",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(b"name=admin&password=whatever-password"),
        )
        .unwrap();
    assert!(body(&r).contains("switched off"));
    let refused_at_start = |args: &[&str], why: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_traek-server"))
            .args(["--data-dir", data.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(why),
            "{args:?}"
        );
    };
    // Without an issuer, switching local accounts off would lock everyone out.
    refused_at_start(&["--local-accounts", "false"], "needs single sign-on");
    // A plain-http issuer off loopback is refused at start.
    refused_at_start(
        &["--oidc-issuer", "http://idp.example.com"],
        "must be an https:// URL",
    );
}
