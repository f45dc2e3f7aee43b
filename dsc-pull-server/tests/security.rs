//! What an attacker on the network can no longer do: replay a registration, take over a
//! registered node with the shared key, or make the server read and store large inputs before
//! any check.

mod common;

use common::*;
use dsc_core::pull::auth::{authorization_header, format_date};
use dsc_core::pull::messages::RegistrationMessageType as Rmt;
use uuid::Uuid;

const A: &str = "8351F16C2B06634279F2C0287B5430452DA1CD94";
const B: &str = "0123456789ABCDEF0123456789ABCDEF01234567";

/// A registration describing certificate `thumbprint`, valid for years to come.
fn registration_with(kind: Rmt, names: Option<&[&str]>, thumbprint: &str) -> Vec<u8> {
    let mut r = registration(kind, names);
    if let Some(c) = r.registration_information.certificate_information.as_mut() {
        c.thumbprint = thumbprint.into();
        c.not_after = "2099-01-01T00:00:00.0000000+00:00".into();
    }
    serde_json::to_vec(&r).unwrap()
}

/// The server closed the connection while the client was still sending (it refused early).
fn cut(error: &str) -> bool {
    error.contains("Broken pipe") || error.contains("reset") || error.contains("Peer disconnected")
}

/// Whether an answer tells the client not to reuse its connection: a refused body may be left
/// unread, and the server closes the connection after answering.
fn says_close(r: &dsc_core::pull::client::Reply) -> bool {
    r.header("connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
}

#[test]
fn a_captured_registration_cannot_be_replayed_to_the_same_or_another_agent() {
    let s = Server::start();
    let body = registration_with(Rmt::ConfigurationRepository, Some(&["Web"]), A);
    let date = format_date(time::OffsetDateTime::now_utc());
    let auth = authorization_header(KEY, &body, &date);
    let victim = s.client(Uuid::new_v4());
    let first = victim
        .register_raw(&body, Some(&date), Some(&auth))
        .unwrap();
    assert_eq!(first.status, 204);
    let again = victim
        .register_raw(&body, Some(&date), Some(&auth))
        .unwrap();
    assert_eq!(
        again.status,
        401,
        "{}",
        String::from_utf8_lossy(&again.body)
    );
    assert!(String::from_utf8_lossy(&again.body).contains("already used"));
    let other = s.client(Uuid::new_v4());
    let replayed = other.register_raw(&body, Some(&date), Some(&auth)).unwrap();
    assert_eq!(replayed.status, 401);
    // The refusals are in the audit trail.
    let (_, audit) = s.admin("GET", "/api/v1/audit?action=agent.register", None);
    assert_eq!(audit["entries"].as_array().unwrap().len(), 2, "{audit}");
}

#[test]
fn the_registration_key_does_not_let_anyone_take_over_a_registered_node() {
    let s = Server::start();
    let agent = Uuid::new_v4();
    let c = s.client(agent);
    let sign = |body: &[u8]| {
        let date = format_date(time::OffsetDateTime::now_utc());
        let auth = authorization_header(KEY, body, &date);
        c.register_raw(body, Some(&date), Some(&auth))
            .unwrap()
            .status
    };
    assert_eq!(
        sign(&registration_with(
            Rmt::ConfigurationRepository,
            Some(&["Web"]),
            A
        )),
        204
    );
    // Another certificate, under any message type, is refused and does not become a pin.
    assert_eq!(sign(&registration_with(Rmt::ReportServer, None, B)), 401);
    assert_eq!(
        sign(&registration_with(
            Rmt::ConfigurationRepository,
            Some(&["Other"]),
            B
        )),
        401
    );
    // A made-up thumbprint is not even well-formed.
    assert_eq!(
        sign(&registration_with(Rmt::ReportServer, None, "000")),
        400
    );
    // The node's own certificate still registers, and its names were not overwritten.
    assert_eq!(sign(&registration_with(Rmt::ReportServer, None, A)), 204);
    let (_, node) = s.admin("GET", &format!("/api/v1/nodes/{agent}"), None);
    assert_eq!(
        node["registeredNames"],
        serde_json::json!(["Web"]),
        "{node}"
    );
    let restarted = s.restart(&[]);
    let c2 = restarted.client(agent);
    let date = format_date(time::OffsetDateTime::now_utc());
    let body = registration_with(Rmt::ReportServer, None, B);
    let auth = authorization_header(KEY, &body, &date);
    assert_eq!(
        c2.register_raw(&body, Some(&date), Some(&auth))
            .unwrap()
            .status,
        401,
        "after a restart the pin is the same as before"
    );
}

#[test]
fn registrations_are_bounded_before_their_body_is_read() {
    let s = Server::start();
    let c = s.client(Uuid::new_v4());
    // Without credentials the body is never read: the answer is 401, or the connection is
    // closed while the client is still sending.
    let big = vec![b' '; 8 * 1024 * 1024];
    match c.register_raw(&big, None, None) {
        Ok(r) => {
            assert_eq!(r.status, 401);
            assert!(says_close(&r), "the unread body ends the connection");
        }
        Err(e) => assert!(cut(&e.to_string()), "{e}"),
    }
    // With well-formed credentials, the body may be at most 64 KiB.
    let date = format_date(time::OffsetDateTime::now_utc());
    let auth = authorization_header(KEY, &big[..100 * 1024], &date);
    let r = c
        .register_raw(&big[..100 * 1024], Some(&date), Some(&auth))
        .unwrap();
    assert_eq!(r.status, 413);
    assert!(says_close(&r), "the unread body ends the connection");
}

#[test]
fn sign_in_with_a_huge_or_impossible_user_name_stores_nothing() {
    let s = Server::start();
    let http = dsc_core::pull::client::PullClient::new(&format!("http://{}", s.addr), Uuid::nil());
    let name = "x".repeat(200 * 1024);
    let body = format!("csrf=none&name={name}&password=secret123");
    match http.request(
        "POST",
        "/ui/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(body.as_bytes()),
    ) {
        Ok(r) => {
            assert_eq!(r.status, 400, "the form is refused at its size limit");
            assert!(says_close(&r), "the unread form ends the connection");
        }
        Err(e) => assert!(cut(&e.to_string()), "{e}"),
    }
    // A name no account can have is not recorded either.
    let body = format!("csrf=t1&name={}&password=secret123", "y".repeat(5000));
    let r = http
        .request(
            "POST",
            "/ui/login",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", "traek_login=t1"),
            ],
            Some(body.as_bytes()),
        )
        .unwrap();
    assert!(String::from_utf8_lossy(&r.body).contains("wrong user name or password"));
    let (_, audit) = s.admin("GET", "/api/v1/audit", None);
    assert!(
        audit.to_string().len() < 10_000,
        "nothing of the name was recorded: {} bytes",
        audit.to_string().len()
    );
    let log = s.log.lock().unwrap().clone();
    assert!(log.len() < 10_000, "nothing of the name was logged");
}

#[test]
fn readiness_and_answers_give_nothing_away() {
    let s = Server::start();
    let http = dsc_core::pull::client::PullClient::new(&format!("http://{}", s.addr), Uuid::nil());
    let r = http.request("GET", "/readyz", &[], None).unwrap();
    assert_eq!(r.status, 200);
    let cache = r
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("cache-control"))
        .map(|(_, v)| v.clone());
    assert_eq!(cache.as_deref(), Some("no-store"));
}

#[cfg(unix)]
#[test]
fn the_server_keeps_its_files_to_itself() {
    use std::os::unix::fs::PermissionsExt;
    let s = Server::start();
    let (st, _) = s.admin(
        "PUT",
        "/api/v1/configurations/Web",
        Some(&utf16_mof("instance of X {};")),
    );
    assert_eq!(st, 200, "upload");
    let (st, added) = s.admin("POST", "/api/v1/keys", Some(b""));
    assert_eq!(st, 201);
    let id = added["id"].as_str().unwrap();
    let (st, _) = s.admin("DELETE", &format!("/api/v1/keys/{id}"), None);
    assert_eq!(st, 204);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&s.data), 0o700, "data directory");
    assert_eq!(mode(&s.data.join("blobs")), 0o700, "blobs");
    assert_eq!(mode(&s.data.join("traek.db")), 0o600, "database");
    assert_eq!(
        mode(&s.data.join("RegistrationKeys.txt")),
        0o600,
        "keys file after a revocation"
    );
    for blob in walk(&s.data.join("blobs")) {
        assert_eq!(mode(&blob) & 0o077, 0, "{}", blob.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn protocol_get_reports_answers_in_pages() {
    let s = Server::start();
    let agent = Uuid::new_v4();
    let c = s.client(agent);
    c.register(
        KEY,
        &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
    )
    .unwrap();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let c = s.client(agent);
                for _ in 0..251 {
                    let body = report(Uuid::new_v4(), serde_json::json!({}));
                    assert_eq!(c.send_report(&body).unwrap().status, 200);
                }
            });
        }
    });
    let first = c.get_reports(None).unwrap();
    assert_eq!(first["value"].as_array().unwrap().len(), 1000);
    let next = first["odata.nextLink"]
        .as_str()
        .expect("a next link")
        .to_string();
    let path = &next[next.find("/Nodes").unwrap()..];
    let http = dsc_core::pull::client::PullClient::new(&s.url(), agent);
    let r = http.request("GET", path, &[], None).unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let rest: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(rest["value"].as_array().unwrap().len(), 4);
    assert!(rest.get("odata.nextLink").is_none());
}
