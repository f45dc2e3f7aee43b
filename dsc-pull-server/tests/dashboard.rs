//! Accounts, roles, sessions, CSRF and the audit trail, over HTTP against the built server:
//! the dashboard's login and forms and the admin API enforce the same rules.

mod common;

use common::*;
use dsc_core::pull::client::{PullClient, Reply};
use dsc_core::pull::messages::RegistrationMessageType as Rmt;
use serde_json::{Value, json};
use uuid::Uuid;

fn call(
    s: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    PullClient::new(&format!("http://{}", s.addr), Uuid::nil())
        .request(method, path, headers, body)
        .unwrap()
}

fn json_of(r: &Reply) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

/// The value of a cookie set by an answer.
fn set_cookie(r: &Reply, name: &str) -> Option<(String, String)> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v)
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v.split(';').next().unwrap()[name.len() + 1..].to_string();
            (value, v.clone())
        })
}

fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// A signed-in dashboard session: its cookie and its CSRF token.
struct Session {
    cookie: String,
    csrf: String,
    set_cookie_header: String,
}

fn try_login(s: &Server, name: &str, password: &str) -> Result<Session, Reply> {
    let page = call(s, "GET", "/ui/login", &[], None);
    let (login_cookie, _) = set_cookie(&page, "traek_login").unwrap();
    let csrf = hidden_csrf(&String::from_utf8_lossy(&page.body));
    let body = format!("csrf={csrf}&name={name}&password={password}");
    let cookie = format!("traek_login={login_cookie}");
    let r = call(
        s,
        "POST",
        "/ui/login",
        &[FORM, ("Cookie", &cookie)],
        Some(body.as_bytes()),
    );
    let Some((session, header)) = set_cookie(&r, "traek_session") else {
        return Err(r);
    };
    let cookie = format!("traek_session={session}");
    let tokens = call(s, "GET", "/ui/tokens", &[("Cookie", &cookie)], None);
    assert_eq!(tokens.status, 200);
    Ok(Session {
        csrf: hidden_csrf(&String::from_utf8_lossy(&tokens.body)),
        cookie,
        set_cookie_header: header,
    })
}

fn login(s: &Server, name: &str, password: &str) -> Session {
    try_login(s, name, password).unwrap_or_else(|r| {
        panic!(
            "login refused: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        )
    })
}

fn add_user(s: &Server, name: &str, role: &str, password: &str) {
    let body = json!({"name": name, "role": role, "password": password}).to_string();
    let (st, v) = s.admin("POST", "/api/v1/users", Some(body.as_bytes()));
    assert_eq!(st, 201, "{v}");
}

/// A Bearer token for a user (created through their session).
fn token(s: &Server, session: &Session) -> String {
    let r = call(
        s,
        "POST",
        "/api/v1/tokens",
        &[("Cookie", &session.cookie), ("X-CSRF-Token", &session.csrf)],
        Some(br#"{"name": "test"}"#),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    json_of(&r)["token"].as_str().unwrap().to_string()
}

#[test]
fn the_session_cookie_is_http_only_and_same_site_strict() {
    let s = Server::start();
    add_user(&s, "alice", "viewer", "alice-password");
    let session = login(&s, "alice", "alice-password");
    let h = &session.set_cookie_header;
    assert!(
        h.contains("HttpOnly") && h.contains("SameSite=Strict") && h.contains("Path=/"),
        "{h}"
    );
    assert!(!h.contains("Secure"), "plain HTTP: no Secure flag ({h})");
    // Without a session, pages redirect to the login and the API answers 401.
    let page = call(&s, "GET", "/ui/nodes", &[], None);
    assert_eq!(
        (page.status, page.header("location")),
        (303, Some("/ui/login"))
    );
    assert_eq!(call(&s, "GET", "/api/v1/nodes", &[], None).status, 401);
    assert_eq!(
        call(&s, "GET", "/", &[], None).header("location"),
        Some("/ui/")
    );
    // Logging out ends the session.
    let body = format!("csrf={}", session.csrf);
    let out = call(
        &s,
        "POST",
        "/ui/logout",
        &[FORM, ("Cookie", &session.cookie)],
        Some(body.as_bytes()),
    );
    assert_eq!(out.status, 303);
    assert_eq!(
        call(&s, "GET", "/ui/", &[("Cookie", &session.cookie)], None).status,
        303
    );
}

#[test]
fn forms_and_session_api_calls_without_the_csrf_token_are_refused() {
    let s = Server::start();
    add_user(&s, "olga", "operator", "olga-password");
    let session = login(&s, "olga", "olga-password");
    let c = s.client(Uuid::new_v4());
    c.register(
        KEY,
        &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
    )
    .unwrap();
    let path = format!("/ui/nodes/{}/tags", c.agent_id);
    for csrf in ["", "wrong"] {
        let body = format!("csrf={csrf}&tags=eu");
        let r = call(
            &s,
            "POST",
            &path,
            &[FORM, ("Cookie", &session.cookie)],
            Some(body.as_bytes()),
        );
        assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    }
    let body = format!("csrf={}&tags=eu,web", session.csrf);
    let r = call(
        &s,
        "POST",
        &path,
        &[FORM, ("Cookie", &session.cookie)],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 303);
    let (_, node) = s.admin("GET", &format!("/api/v1/nodes/{}", c.agent_id), None);
    assert_eq!(node["tags"], json!(["eu", "web"]));
    // The API with a session cookie needs X-CSRF-Token for changes, not for reads.
    let assign = format!("/api/v1/nodes/{}/configurations", c.agent_id);
    let no_csrf = call(
        &s,
        "PUT",
        &assign,
        &[("Cookie", &session.cookie)],
        Some(br#"["Db"]"#),
    );
    assert_eq!(no_csrf.status, 403);
    let with = call(
        &s,
        "PUT",
        &assign,
        &[("Cookie", &session.cookie), ("X-CSRF-Token", &session.csrf)],
        Some(br#"["Db"]"#),
    );
    assert_eq!(with.status, 200);
    assert_eq!(
        call(
            &s,
            "GET",
            "/api/v1/nodes",
            &[("Cookie", &session.cookie)],
            None
        )
        .status,
        200
    );
    // The login form needs its own cookie.
    let r = call(
        &s,
        "POST",
        "/ui/login",
        &[FORM],
        Some(b"csrf=x&name=olga&password=olga-password"),
    );
    assert!(set_cookie(&r, "traek_session").is_none());
    assert_eq!(r.status, 401);
}

#[test]
fn after_five_failed_logins_a_name_must_wait() {
    let s = Server::start();
    add_user(&s, "bob", "viewer", "bob-password");
    for _ in 0..5 {
        let r = try_login(&s, "bob", "wrong-password").err().unwrap();
        assert!(String::from_utf8_lossy(&r.body).contains("wrong user name or password"));
    }
    let r = try_login(&s, "bob", "bob-password")
        .err()
        .expect("the right password must wait too");
    assert!(
        String::from_utf8_lossy(&r.body).contains("too many failed sign-ins"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert!(
        try_login(&s, "bob", "bob-password").is_ok(),
        "after the delay it works"
    );
}

/// `(method, path, body, least role)` for every admin endpoint.
fn endpoints(agent: Uuid) -> Vec<(&'static str, String, Option<Vec<u8>>, &'static str)> {
    let zip = tiny_zip("m.psd1", b"@{}");
    vec![
        ("GET", "/api/v1/summary".into(), None, "viewer"),
        ("GET", "/api/v1/nodes".into(), None, "viewer"),
        ("GET", format!("/api/v1/nodes/{agent}"), None, "viewer"),
        ("GET", "/api/v1/reports".into(), None, "viewer"),
        ("GET", "/api/v1/configurations".into(), None, "viewer"),
        ("GET", "/api/v1/modules".into(), None, "viewer"),
        ("GET", "/api/v1/packages".into(), None, "viewer"),
        ("GET", "/api/v1/tags".into(), None, "viewer"),
        ("GET", "/api/v1/audit".into(), None, "viewer"),
        ("GET", "/api/v1/tokens".into(), None, "viewer"),
        (
            "PUT",
            "/api/v1/configurations/Web".into(),
            Some(b"mof".to_vec()),
            "operator",
        ),
        ("GET", "/api/v1/configurations/Web".into(), None, "operator"),
        ("PUT", "/api/v1/modules/M/1.0".into(), Some(zip), "operator"),
        (
            "PUT",
            format!("/api/v1/nodes/{agent}/configurations"),
            Some(br#"["Web"]"#.to_vec()),
            "operator",
        ),
        (
            "PUT",
            format!("/api/v1/nodes/{agent}/tags"),
            Some(br#"["eu"]"#.to_vec()),
            "operator",
        ),
        (
            "PUT",
            "/api/v1/tags/eu/configurations".into(),
            Some(br#"["Web"]"#.to_vec()),
            "operator",
        ),
        (
            "DELETE",
            format!("/api/v1/nodes/{agent}/configurations"),
            None,
            "operator",
        ),
        ("POST", "/api/v1/maintenance/prune".into(), None, "operator"),
        ("DELETE", "/api/v1/modules/M/1.0".into(), None, "operator"),
        ("GET", "/api/v1/keys".into(), None, "admin"),
        (
            "POST",
            "/api/v1/keys".into(),
            Some(br#"{"key": "matrix-key"}"#.to_vec()),
            "admin",
        ),
        ("DELETE", "/api/v1/keys/matrix-key".into(), None, "admin"),
        ("GET", "/api/v1/users".into(), None, "admin"),
        (
            "POST",
            "/api/v1/users".into(),
            Some(
                br#"{"name": "newbie", "role": "viewer", "password": "newbie-password"}"#.to_vec(),
            ),
            "admin",
        ),
        (
            "PUT",
            "/api/v1/users/newbie/password".into(),
            Some(br#"{"password": "another-password"}"#.to_vec()),
            "admin",
        ),
        ("DELETE", "/api/v1/users/newbie".into(), None, "admin"),
        (
            "POST",
            "/api/v1/notifications".into(),
            Some(
                br#"{"name": "matrix", "url": "http://127.0.0.1:9/hook", "secret": "0123456789abcdef"}"#
                    .to_vec(),
            ),
            "admin",
        ),
        ("GET", "/api/v1/notifications".into(), None, "admin"),
        ("GET", "/api/v1/notifications/matrix".into(), None, "admin"),
        ("DELETE", "/api/v1/notifications/matrix".into(), None, "admin"),
        (
            "DELETE",
            format!("/api/v1/nodes/{agent}/certificate"),
            None,
            "admin",
        ),
        ("DELETE", format!("/api/v1/nodes/{agent}"), None, "operator"),
    ]
}

#[test]
fn every_admin_endpoint_needs_its_role_and_refusals_name_it() {
    let s = Server::start();
    let rank = |r: &str| {
        ["viewer", "operator", "admin"]
            .iter()
            .position(|x| *x == r)
            .unwrap()
    };
    let mut bearer = Vec::new();
    for role in ["viewer", "operator", "admin"] {
        let name = format!("{role}-user");
        add_user(&s, &name, role, "a-long-password");
        bearer.push((
            role,
            format!("Bearer {}", token(&s, &login(&s, &name, "a-long-password"))),
        ));
    }
    // Each role in turn, lowest first, so an allowed deletion never hides a later check.
    for (role, auth) in &bearer {
        let agent = Uuid::new_v4();
        s.client(agent)
            .register(
                KEY,
                &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
            )
            .unwrap();
        for (method, path, body, need) in endpoints(agent) {
            let r = call(
                &s,
                method,
                &path,
                &[("Authorization", auth)],
                body.as_deref(),
            );
            let text = String::from_utf8_lossy(&r.body).into_owned();
            if rank(role) >= rank(need) {
                assert!(
                    r.status < 400,
                    "{role} {method} {path}: {} {text}",
                    r.status
                );
            } else {
                assert_eq!(r.status, 403, "{role} {method} {path}: {text}");
                assert!(text.contains(&format!("needs the {need} role")), "{text}");
            }
        }
    }
    // The dashboard hides what a role may not do and refuses it when posted anyway.
    let viewer = login(&s, "viewer-user", "a-long-password");
    let content = call(
        &s,
        "GET",
        "/ui/content",
        &[("Cookie", &viewer.cookie)],
        None,
    );
    assert!(
        !String::from_utf8_lossy(&content.body).contains("multipart/form-data"),
        "no upload form for a viewer"
    );
    let body = format!("csrf={}&kind=configuration&name=Web", viewer.csrf);
    let r = call(
        &s,
        "POST",
        "/ui/content/delete",
        &[FORM, ("Cookie", &viewer.cookie)],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        call(&s, "GET", "/ui/keys", &[("Cookie", &viewer.cookie)], None).status,
        403
    );
}

#[test]
fn every_kind_of_change_is_audited_without_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir_with_key(tmp.path());
    let store = StoreArgs {
        env: vec![("RUST_LOG".into(), "info".into())],
        ..Default::default()
    };
    let s = Server::start_with(&data, store, &[]);
    add_user(&s, "ann", "admin", "ann-secret-password");
    let session = login(&s, "ann", "ann-secret-password");
    let secret_token = token(&s, &session);
    let auth = format!("Bearer {secret_token}");
    let c = s.client(Uuid::new_v4());
    c.register(
        KEY,
        &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
    )
    .unwrap();
    let agent = c.agent_id;
    let changes: Vec<(&str, String, Option<&[u8]>)> = vec![
        ("PUT", "/api/v1/configurations/Web".into(), Some(b"mof")),
        (
            "PUT",
            format!("/api/v1/nodes/{agent}/configurations"),
            Some(br#"["Web"]"#),
        ),
        (
            "PUT",
            format!("/api/v1/nodes/{agent}/tags"),
            Some(br#"["eu"]"#),
        ),
        (
            "PUT",
            "/api/v1/tags/eu/configurations".into(),
            Some(br#"["Web"]"#),
        ),
        (
            "POST",
            "/api/v1/keys".into(),
            Some(br#"{"key": "very-secret-registration-key"}"#),
        ),
        (
            "DELETE",
            "/api/v1/keys/very-secret-registration-key".into(),
            None,
        ),
        (
            "POST",
            "/api/v1/users".into(),
            Some(br#"{"name": "zed", "role": "viewer", "password": "zeds-secret-password"}"#),
        ),
        ("POST", "/api/v1/maintenance/prune".into(), None),
        ("DELETE", "/api/v1/configurations/Web".into(), None),
        ("DELETE", format!("/api/v1/nodes/{agent}"), None),
    ];
    for (method, path, body) in &changes {
        let r = call(&s, method, path, &[("Authorization", &auth)], *body);
        assert!(
            r.status < 300,
            "{method} {path}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let (st, page) = s.admin("GET", "/api/v1/audit?limit=100", None);
    assert_eq!(st, 200);
    let entries = page["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "login",
        "token.create",
        "content.put",
        "node.assign",
        "node.tags",
        "tag.configurations",
        "key.add",
        "key.revoke",
        "user.add",
        "reports.prune",
        "content.delete",
        "node.unregister",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
    let assign = entries
        .iter()
        .find(|e| e["action"] == "node.assign")
        .unwrap();
    assert_eq!(assign["target"], agent.to_string());
    assert_eq!(assign["outcome"], "ok");
    assert!(
        assign["actor"].as_str().unwrap().starts_with("ann (token "),
        "{assign}"
    );
    assert_eq!(assign["address"], "127.0.0.1");
    let key_entry = entries.iter().find(|e| e["action"] == "key.add").unwrap();
    assert_eq!(
        key_entry["target"].as_str().unwrap().len(),
        12,
        "the key id, not the key"
    );
    // Filters.
    let (_, only) = s.admin("GET", "/api/v1/audit?action=key.revoke", None);
    assert_eq!(only["entries"].as_array().unwrap().len(), 1);
    // No secret anywhere: not in the audit trail, not in the server's log.
    let audit_text = page.to_string();
    let log = s.log.lock().unwrap().clone();
    assert!(
        log.contains("audit") && log.contains("key.add"),
        "the log records changes: {log}"
    );
    for secret in [
        "very-secret-registration-key",
        "zeds-secret-password",
        "ann-secret-password",
        secret_token.as_str(),
        &session.cookie["traek_session=".len()..],
    ] {
        assert!(!audit_text.contains(secret), "a secret in the audit trail");
        assert!(!log.contains(secret), "a secret in the log");
    }
    // The dashboard shows the audit log.
    let ui = call(&s, "GET", "/ui/audit", &[("Cookie", &session.cookie)], None);
    assert!(String::from_utf8_lossy(&ui.body).contains("node.assign"));
}

fn user_cli(data: &std::path::Path, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_traek-server"))
        .args(["user"])
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

#[test]
fn users_made_on_the_command_line_sign_in() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir_with_key(tmp.path());
    let out = user_cli(
        &data,
        &["add", "carol", "--role", "operator", "--password-stdin"],
        Some("carols-password\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = user_cli(&data, &["add", "dave", "--role", "viewer"], None);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let generated = text
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("a generated password is printed")
        .to_string();
    let dup = user_cli(
        &data,
        &["add", "Carol", "--role", "admin", "--password-stdin"],
        Some("whatever-long\n"),
    );
    assert!(
        !dup.status.success(),
        "names are unique whatever their case"
    );
    let short = user_cli(
        &data,
        &["add", "erin", "--role", "viewer", "--password-stdin"],
        Some("short\n"),
    );
    assert!(String::from_utf8_lossy(&short.stderr).contains("8 to 1,024 characters"));
    let list = user_cli(&data, &["list"], None);
    assert_eq!(
        String::from_utf8_lossy(&list.stdout),
        "carol\toperator\ndave\tviewer\n"
    );
    let s = Server::start_with(&data, StoreArgs::default(), &[]);
    login(&s, "carol", "carols-password");
    login(&s, "dave", &generated);
    drop(s);
    assert!(
        user_cli(
            &data,
            &["passwd", "dave", "--password-stdin"],
            Some("daves-new-password\n")
        )
        .status
        .success()
    );
    assert!(user_cli(&data, &["remove", "carol"], None).status.success());
    let s = Server::start_with(&data, StoreArgs::default(), &[]);
    assert!(try_login(&s, "carol", "carols-password").is_err());
    assert!(try_login(&s, "dave", &generated).is_err());
    login(&s, "dave", "daves-new-password");
}

#[test]
fn tokens_made_with_a_token_never_outlive_it_nor_the_password() {
    let s = Server::start();
    add_user(&s, "ops", "operator", "correct-horse");
    let session = login(&s, "ops", "correct-horse");
    let parent = token(&s, &session);
    let bearer = |t: &str| format!("Bearer {t}");
    let mint = |t: &str, body: &[u8]| {
        let r = call(
            &s,
            "POST",
            "/api/v1/tokens",
            &[("Authorization", &bearer(t))],
            Some(body),
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        json_of(&r)
    };
    let works = |t: &str| {
        call(
            &s,
            "GET",
            "/api/v1/nodes",
            &[("Authorization", &bearer(t))],
            None,
        )
        .status
            == 200
    };
    let child = mint(&parent, br#"{"name": "child"}"#);
    let grandchild = mint(
        child["token"].as_str().unwrap(),
        br#"{"name": "grandchild"}"#,
    );
    assert!(works(grandchild["token"].as_str().unwrap()));
    // Revoking the parent ends everything made with it.
    let parent_id = {
        let r = call(
            &s,
            "GET",
            "/api/v1/tokens",
            &[("Authorization", &bearer(&parent))],
            None,
        );
        let all = json_of(&r);
        all["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "test")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (st, _) = s.admin("DELETE", &format!("/api/v1/tokens/{parent_id}"), None);
    assert_eq!(st, 204);
    assert!(!works(&parent));
    assert!(!works(child["token"].as_str().unwrap()));
    assert!(!works(grandchild["token"].as_str().unwrap()));

    // A token cannot mint one that lives longer than itself.
    let session = login(&s, "ops", "correct-horse");
    let body = format!(r#"{{"name": "short", "expiresAt": {}}}"#, now() + 3600);
    let r = call(
        &s,
        "POST",
        "/api/v1/tokens",
        &[("Cookie", &session.cookie), ("X-CSRF-Token", &session.csrf)],
        Some(body.as_bytes()),
    );
    let short = json_of(&r)["token"].as_str().unwrap().to_string();
    let forever = mint(&short, br#"{"name": "forever"}"#);
    assert_eq!(forever["expiresAt"], json!(now_plus(3600, &forever)));
    let longer = mint(
        &short,
        format!(r#"{{"name": "longer", "expiresAt": {}}}"#, now() + 99_999).as_bytes(),
    );
    assert!(longer["expiresAt"].as_i64().unwrap() <= now() + 3600);

    // Changing the password ends every token the user had.
    let fresh = token(&s, &session);
    assert!(works(&fresh));
    let (st, _) = s.admin(
        "PUT",
        "/api/v1/users/ops/password",
        Some(br#"{"password": "battery-staple"}"#),
    );
    assert_eq!(st, 204);
    assert!(!works(&fresh));
    assert!(!works(forever["token"].as_str().unwrap()));
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The parent's expiry as the answer gives it (within a few seconds of `now + secs`).
fn now_plus(secs: i64, answer: &Value) -> i64 {
    let got = answer["expiresAt"].as_i64().expect("an expiry");
    assert!((got - (now() + secs)).abs() < 10, "{answer}");
    got
}

#[test]
fn one_address_cannot_spray_passwords_over_many_names() {
    let s = Server::start();
    add_user(&s, "carol", "viewer", "carol-password");
    for i in 0..20 {
        let r = try_login(&s, &format!("user{i}"), "guess-password")
            .err()
            .expect("no such user");
        assert!(String::from_utf8_lossy(&r.body).contains("wrong user name or password"));
    }
    // The address has used its free attempts: another name must wait now, even with the
    // right password.
    let r = try_login(&s, "carol", "carol-password")
        .err()
        .expect("the address must wait");
    assert!(
        String::from_utf8_lossy(&r.body).contains("too many failed sign-ins"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert!(
        try_login(&s, "carol", "carol-password").is_ok(),
        "after the delay the right password works"
    );
}

#[test]
fn parallel_guesses_at_one_name_cannot_all_pass_the_throttle() {
    let s = Server::start();
    add_user(&s, "dave", "viewer", "dave-password");
    let outcomes: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..12)
            .map(|_| {
                scope.spawn(|| match try_login(&s, "dave", "wrong-password") {
                    Ok(_) => "signed in".to_string(),
                    Err(r) => String::from_utf8_lossy(&r.body).into_owned(),
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let wrong = outcomes
        .iter()
        .filter(|o| o.contains("wrong user name or password"))
        .count();
    let refused = outcomes
        .iter()
        .filter(|o| o.contains("too many failed sign-ins"))
        .count();
    // Five free attempts per name; the rest are refused before the password is checked (one
    // straggler on a slow machine may come after the first 1 s delay).
    assert!((5..=6).contains(&wrong), "{outcomes:?}");
    assert_eq!(wrong + refused, 12, "{outcomes:?}");
}

/// Waits until the server's log holds `text` (lines printed after "listening on").
#[test]
fn notification_rules_are_added_on_the_dashboard_and_shown_to_admins_only() {
    let s = Server::start();
    add_user(&s, "ann", "admin", "ann-secret-password");
    add_user(&s, "otto", "operator", "otto-secret-password");
    let ann = login(&s, "ann", "ann-secret-password");
    let body = format!(
        "csrf={}&name=pager&url=http%3A%2F%2F127.0.0.1%3A9%2Fhook&secret=0123456789abcdef&event.node.failed=on&tags=web%2C+db",
        ann.csrf
    );
    let r = call(
        &s,
        "POST",
        "/ui/notifications/add",
        &[FORM, ("Cookie", &ann.cookie)],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 303, "{}", String::from_utf8_lossy(&r.body));
    let page = call(
        &s,
        "GET",
        "/ui/notifications",
        &[("Cookie", &ann.cookie)],
        None,
    );
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("/ui/notifications/pager"), "{html}");
    assert!(
        html.contains("web, db") && html.contains("node.failed"),
        "{html}"
    );
    assert!(
        !html.contains("0123456789abcdef"),
        "the secret is never shown"
    );
    let detail = call(
        &s,
        "GET",
        "/ui/notifications/pager",
        &[("Cookie", &ann.cookie)],
        None,
    );
    assert_eq!(detail.status, 200);
    assert!(String::from_utf8_lossy(&detail.body).contains("No event has matched this rule yet"));
    let (_, v) = s.admin("GET", "/api/v1/notifications/pager", None);
    assert_eq!(v["rule"]["events"], json!(["node.failed"]));
    assert_eq!(v["rule"]["tags"], json!(["web", "db"]));
    let otto = login(&s, "otto", "otto-secret-password");
    let page = call(
        &s,
        "GET",
        "/ui/notifications",
        &[("Cookie", &otto.cookie)],
        None,
    );
    assert_eq!(page.status, 403);
    let body = format!("csrf={}&name=pager", otto.csrf);
    let r = call(
        &s,
        "POST",
        "/ui/notifications/remove",
        &[FORM, ("Cookie", &otto.cookie)],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 403);
    let body = format!("csrf={}&name=pager", ann.csrf);
    let r = call(
        &s,
        "POST",
        "/ui/notifications/remove",
        &[FORM, ("Cookie", &ann.cookie)],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 303);
    let (_, v) = s.admin("GET", "/api/v1/notifications", None);
    assert_eq!(v["notifications"], json!([]));
}

#[test]
fn a_configurations_page_lists_its_versions_shows_a_diff_and_restores_one() {
    let s = Server::start();
    add_user(&s, "otto", "operator", "otto-secret-password");
    add_user(&s, "vic", "viewer", "vic-secret-password");
    for text in ["line one\nline two\n", "line one\nline 2\nline three\n"] {
        let (st, _) = s.admin("PUT", "/api/v1/configurations/Web", Some(text.as_bytes()));
        assert_eq!(st, 200);
    }
    let otto = login(&s, "otto", "otto-secret-password");
    let page = call(&s, "GET", "/ui/content", &[("Cookie", &otto.cookie)], None);
    assert!(String::from_utf8_lossy(&page.body).contains("href=\"/ui/content/configuration/Web\""));
    let page = call(
        &s,
        "GET",
        "/ui/content/configuration/Web?from=1&to=2",
        &[("Cookie", &otto.cookie)],
        None,
    );
    let html = String::from_utf8_lossy(&page.body).to_string();
    assert_eq!(page.status, 200, "{html}");
    assert!(html.contains("Version 1 → version 2"), "{html}");
    assert!(html.contains("<span class=\"del\">-line two"), "{html}");
    assert!(html.contains("<span class=\"ins\">+line 2"), "{html}");
    assert!(html.contains("<span class=\"ins\">+line three"), "{html}");
    // A viewer sees the versions but not the bytes (a MOF can hold credentials).
    let vic = login(&s, "vic", "vic-secret-password");
    let page = call(
        &s,
        "GET",
        "/ui/content/configuration/Web?from=1&to=2",
        &[("Cookie", &vic.cookie)],
        None,
    );
    let html = String::from_utf8_lossy(&page.body).to_string();
    assert!(
        html.contains("(current)") && !html.contains("line two"),
        "{html}"
    );
    assert!(!html.contains("Restore"), "{html}");
    // The operator restores version 1: it is current again, as version 3.
    let body = format!("csrf={}&kind=configuration&name=Web&version=1", otto.csrf);
    let r = call(
        &s,
        "POST",
        "/ui/content/restore",
        &[FORM, ("Cookie", &otto.cookie)],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 303, "{}", String::from_utf8_lossy(&r.body));
    let (_, v) = s.admin("GET", "/api/v1/configurations/Web/versions", None);
    assert_eq!(v["versions"][0]["version"], 3);
    assert_eq!(v["versions"][0]["actor"], "otto");
    assert_eq!(v["versions"][0]["origin"], "restore of version 1");
    let (_, audit) = s.admin("GET", "/api/v1/audit?action=content.restore", None);
    assert_eq!(audit["entries"][0]["target"], "configuration Web version 1");
    assert_eq!(audit["entries"][0]["outcome"], "ok");
}

fn wait_for_log(s: &Server, text: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let log = s.log.lock().unwrap().clone();
        if log.contains(text) || std::time::Instant::now() > deadline {
            return log;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The start-up lines, once the server answers (it serves after printing them all).
fn settled_log(s: &Server) -> String {
    assert_eq!(call(s, "GET", "/healthz", &[], None).status, 200);
    wait_for_log(s, "dashboard:");
    std::thread::sleep(std::time::Duration::from_millis(200));
    s.log.lock().unwrap().clone()
}

#[test]
fn a_first_start_makes_an_admin_account_whose_password_is_in_a_private_file() {
    let s = Server::start();
    let log = wait_for_log(&s, "first sign-in:");
    let file = s.data.join("admin-password");
    assert!(
        log.contains(&format!("dashboard:          http://{}/ui/", s.addr)),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "first sign-in:      user admin, password in {}",
            file.display()
        )),
        "{log}"
    );
    let password = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert!(!log.contains(&password), "the password is never printed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // It signs in, with the admin role; the audit trail says who made it.
    let session = login(&s, "admin", &password);
    let users = call(&s, "GET", "/ui/users", &[("Cookie", &session.cookie)], None);
    assert_eq!(users.status, 200);
    let (_, audit) = s.admin("GET", "/api/v1/audit?action=user.add", None);
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["actor"], "traek-server");
    assert_eq!(entries[0]["target"], "admin");
    // While accounts exist, the sign-in page has no hint and a restart makes none.
    let page = call(&s, "GET", "/ui/login", &[], None);
    assert!(!String::from_utf8_lossy(&page.body).contains("No account exists yet"));
    let again = s.restart(&[]);
    let log = settled_log(&again);
    assert!(!log.contains("first sign-in:"), "{log}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        password,
        "the file is left alone"
    );
    drop(s);
    // With no account left, the sign-in page says how to make one.
    let (st, _) = again.admin("DELETE", "/api/v1/users/admin", None);
    assert_eq!(st, 204);
    let page = call(&again, "GET", "/ui/login", &[], None);
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("No account exists yet"), "{html}");
    assert!(
        html.contains("traek-server user add NAME --role admin"),
        "{html}"
    );
}

#[test]
fn accounts_made_before_the_first_start_mean_no_generated_one() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir_with_key(tmp.path());
    let out = user_cli(
        &data,
        &["add", "root-user", "--role", "admin", "--password-stdin"],
        Some("a-long-password\n"),
    );
    assert!(out.status.success());
    let s = Server::start_with(&data, StoreArgs::default(), &[]);
    login(&s, "root-user", "a-long-password");
    assert!(!data.join("admin-password").exists());
    assert!(try_login(&s, "admin", "anything-at-all").is_err());
    assert!(!settled_log(&s).contains("first sign-in:"));
}
