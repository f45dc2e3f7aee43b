//! The dashboard in a real browser: Debian's headless Chromium driven over WebDriver by
//! chromedriver. A seeded fleet; each role logs in; the overview's counts, the node filter, a
//! node's per-resource results, an assignment and its audit entry, what a viewer cannot do,
//! logout, and a phone-width screen. With `TRAEK_SAVE_SCREENSHOTS=1` the screenshots are
//! written to `docs/screenshots/` (used by docs/dashboard.md).

mod common;
mod webdriver;

use common::*;
use dsc_core::pull::messages::RegistrationMessageType as Rmt;
use serde_json::json;
use std::time::{Duration, Instant};
use uuid::Uuid;
use webdriver::Browser;

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
