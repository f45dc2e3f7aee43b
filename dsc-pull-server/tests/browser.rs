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

#[test]
fn an_operator_plans_uploads_a_candidate_compares_aborts_and_restores_in_a_browser() {
    let s = Server::start();
    let body =
        json!({"name": "otto", "role": "operator", "password": "dashboard-password"}).to_string();
    assert_eq!(
        s.admin("POST", "/api/v1/users", Some(body.as_bytes())).0,
        201
    );
    let v1 = "instance of MSFT_Motd\n{\n  Text = \"hello\";\n};\n";
    assert_eq!(
        s.admin("PUT", "/api/v1/configurations/Web", Some(v1.as_bytes()))
            .0,
        200
    );
    let canary = Uuid::new_v4();
    let node = s.client(canary);
    node.register(
        KEY,
        &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
    )
    .unwrap();
    let tags = json!(["canary"]).to_string();
    let path = format!("/api/v1/nodes/{canary}/tags");
    assert_eq!(s.admin("PUT", &path, Some(tags.as_bytes())).0, 200);
    let base = format!("http://{}", s.addr);
    let b = Browser::start();
    b.login(&base, "otto");

    // The plan form offers an example plan; saving it shows the plan with no rollout yet.
    b.go(&format!("{base}/ui/content/configuration/Web"));
    assert!(b.text("main").contains("No rollout plan"));
    b.click("form[action='/ui/content/rollout/plan'] button");
    b.wait_for("rollout%20plan%20saved");
    assert_eq!(b.text("dd.rollout-state"), "planned");

    // A candidate uploaded through the content page, with the candidate box ticked.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("Web.mof");
    std::fs::write(
        &file,
        "instance of MSFT_Motd\n{\n  Text = \"hello, world\";\n};\n",
    )
    .unwrap();
    b.go(&format!("{base}/ui/content"));
    b.type_into("form[enctype] input[name=name]", "Web");
    b.send_keys("form[enctype] input[name=file]", file.to_str().unwrap());
    b.type_into("form[enctype] input[name=message]", "friendlier motd");
    b.click("form[enctype] input[name=candidate]");
    b.click("form[enctype] button");
    b.wait_for("ring%201%20gets%20it");
    b.go(&format!("{base}/ui/content/configuration/Web"));
    assert_eq!(b.text("dd.rollout-state"), "active");
    let rings = b.text("main table");
    assert!(rings.contains("tag canary"), "{rings}");
    assert!(b.text("main").contains("2 (candidate)"));

    // The canary downloads it; its page says which version it was given.
    let answer = node.get_dsc_action(&action(&[(None, "")])).unwrap();
    assert_eq!(
        answer.node_status,
        dsc_core::pull::messages::NodeStatus::GetConfiguration
    );
    assert!(
        node.get_configuration("Web")
            .unwrap()
            .bytes
            .ends_with(b"world\";\n};\n")
    );
    b.go(&format!("{base}/ui/nodes/{canary}"));
    assert!(
        b.text("dd.given").contains("Web: version 2"),
        "{}",
        b.text("dd.given")
    );

    // The line diff between the versions, then an abort: the canary is back on version 1.
    b.go(&format!("{base}/ui/content/configuration/Web?from=1&to=2"));
    assert!(b.text("pre.diff").contains("+  Text = \"hello, world\";"));
    b.click("form[action='/ui/content/rollout/abort'] button");
    b.wait_for("ring%201");
    assert_eq!(b.text("dd.rollout-state"), "aborted");
    let sum2 = dsc_core::pull::checksum::sha256_hex(
        "instance of MSFT_Motd\n{\n  Text = \"hello, world\";\n};\n".as_bytes(),
    );
    let answer = node.get_dsc_action(&action(&[(None, &sum2)])).unwrap();
    assert_eq!(
        answer.node_status,
        dsc_core::pull::messages::NodeStatus::GetConfiguration,
        "back to the current version"
    );

    // A newer version is published, and version 2 restored from the versions table.
    let v3 = "instance of MSFT_Motd\n{\n  Text = \"bye\";\n};\n";
    assert_eq!(
        s.admin("PUT", "/api/v1/configurations/Web", Some(v3.as_bytes()))
            .0,
        200
    );
    b.go(&format!("{base}/ui/content/configuration/Web"));
    b.click("form[action='/ui/content/restore']:has(input[name=version][value='2']) button");
    b.wait_for("%29");
    let (_, v) = s.admin("GET", "/api/v1/configurations/Web/versions", None);
    assert_eq!(v["versions"][0]["origin"], "restore of version 2", "{v}");
    assert_eq!(v["versions"][0]["current"], true);
}
