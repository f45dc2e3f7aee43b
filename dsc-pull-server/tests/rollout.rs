//! Staged rollout, as simulated LCMs see it: a candidate reaches ring after ring while the
//! rings' nodes report success and becomes current; failures in a ring halt it with the other
//! rings left on the old version; operators promote, resume and abort; on PostgreSQL every
//! replica answers each node the same and the rollout is driven once.

mod common;

use common::*;
use dsc_core::pull::client::PullClient;
use dsc_core::pull::messages::{NodeStatus, RegistrationMessageType as Rmt};
use dsc_core::pull::rollout::bucket;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A simulated LCM: what it has applied, and a pull cycle.
struct Lcm {
    agent: Uuid,
    checksum: String,
}

impl Lcm {
    fn register(s: &Server, agent: Uuid, tags: &[&str]) -> Lcm {
        let c = s.client(agent);
        let reg = c.register(
            KEY,
            &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
        );
        assert_eq!(reg.unwrap().status, 204);
        if !tags.is_empty() {
            let body = json!(tags).to_string();
            let (st, v) = s.admin(
                "PUT",
                &format!("/api/v1/nodes/{agent}/tags"),
                Some(body.as_bytes()),
            );
            assert_eq!(st, 200, "{v}");
        }
        Lcm {
            agent,
            checksum: String::new(),
        }
    }

    /// GetDscAction; GetConfiguration when told to; a final report (success or failure).
    fn cycle(&mut self, c: &PullClient, ok: bool) {
        let answer = c
            .get_dsc_action(&action(&[(None, &self.checksum)]))
            .unwrap();
        if answer.node_status == NodeStatus::GetConfiguration {
            self.checksum = c.get_configuration("Web").unwrap().checksum;
        }
        let key = if ok {
            "ResourcesInDesiredState"
        } else {
            "ResourcesNotInDesiredState"
        };
        let data = json!({key: [{"ResourceId": "[File]motd", "ModuleName": "PSDesiredStateConfiguration", "InDesiredState": ok}]}).to_string();
        let status = if ok { "Success" } else { "Failure" };
        let body = report(
            Uuid::new_v4(),
            json!({"Status": status, "NodeName": "web", "StatusData": [data]}),
        );
        assert_eq!(c.send_report(&body).unwrap().status, 200);
    }
}

fn mof(n: u32) -> Vec<u8> {
    utf16_mof(&format!("instance of MSFT_Web{n} {{}};"))
}

fn sum(bytes: &[u8]) -> String {
    dsc_core::pull::checksum::sha256_hex(bytes)
}

const PLAN: &str = r#"{"rings": [{"tag": "canary"}, {"percent": 10}, {"percent": 100}], "soak": "0s", "maxFailedPercent": 0, "minReportedPercent": 100}"#;

/// 2 canaries, 3 nodes under 10 %, 5 more: agent ids picked by their bucket so that every
/// ring has nodes.
fn fleet(s: &Server) -> Vec<Lcm> {
    let mut under = Vec::new();
    let mut over = Vec::new();
    for i in 0u128.. {
        let id = Uuid::from_u128(0x5eed_0000_0000_0000_0000_0000_0000_0000 + i);
        if bucket(&id) < 1000 && under.len() < 3 {
            under.push(id);
        } else if bucket(&id) >= 1000 && over.len() < 7 {
            over.push(id);
        }
        if under.len() == 3 && over.len() == 7 {
            break;
        }
    }
    let mut nodes: Vec<Lcm> = over[..2]
        .iter()
        .map(|id| Lcm::register(s, *id, &["canary"]))
        .collect();
    nodes.extend(under.iter().map(|id| Lcm::register(s, *id, &[])));
    nodes.extend(over[2..].iter().map(|id| Lcm::register(s, *id, &[])));
    nodes
}

fn rollout(s: &Server) -> Value {
    let (st, v) = s.admin("GET", "/api/v1/configurations/Web/rollout", None);
    assert_eq!(st, 200, "{v}");
    v
}

fn wait_for(s: &Server, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let v = rollout(s);
        if check(&v) {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what} did not happen: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Publishes version 1, lets every node apply it, sets the plan and publishes version 2 as
/// the candidate.
fn start(s: &Server, nodes: &mut [Lcm]) {
    assert_eq!(
        s.admin("PUT", "/api/v1/configurations/Web", Some(&mof(1)))
            .0,
        200
    );
    for n in nodes.iter_mut() {
        n.cycle(&s.client(n.agent), true);
        assert_eq!(n.checksum, sum(&mof(1)));
    }
    let (st, v) = s.admin(
        "PUT",
        "/api/v1/configurations/Web/rollout",
        Some(PLAN.as_bytes()),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["state"], "planned");
    let (st, v) = s.admin(
        "PUT",
        "/api/v1/configurations/Web?candidate=true&message=new%20motd",
        Some(&mof(2)),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["state"], "active");
    assert_eq!(v["ring"], 1);
    assert_eq!(v["candidate"]["version"], 2);
}

fn on(nodes: &[Lcm], n: u32) -> Vec<bool> {
    nodes.iter().map(|l| l.checksum == sum(&mof(n))).collect()
}

/// A notification rule for rollout events; its receiver is down, so the deliveries wait and
/// [`rollout_events`] lists them.
fn watch_rollout_events(s: &Server) {
    let rule = json!({"name": "ops", "url": "http://127.0.0.1:9/hook", "secret": "a-long-enough-secret",
        "events": ["rollout.halted", "rollout.done"]});
    let (st, v) = s.admin(
        "POST",
        "/api/v1/notifications",
        Some(rule.to_string().as_bytes()),
    );
    assert_eq!(st, 201, "{v}");
}

fn rollout_events(s: &Server) -> Vec<String> {
    let (_, log) = s.admin("GET", "/api/v1/notifications/ops", None);
    log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event"].as_str().unwrap().to_string())
        .collect()
}

fn audit_actions(s: &Server) -> Vec<(String, String)> {
    let (_, audit) = s.admin("GET", "/api/v1/audit?limit=200", None);
    audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap_or("").starts_with("rollout."))
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_candidate_reaches_ring_after_ring_and_becomes_current_when_every_ring_succeeds() {
    let s = Server::start();
    watch_rollout_events(&s);
    let mut nodes = fleet(&s);
    start(&s, &mut nodes);
    // Publishing as current is refused while the rollout runs.
    let (st, v) = s.admin("PUT", "/api/v1/configurations/Web", Some(&mof(3)));
    assert_eq!(st, 409, "{v}");

    let cycle = |nodes: &mut [Lcm]| {
        for n in nodes.iter_mut() {
            n.cycle(&s.client(n.agent), true);
        }
    };
    cycle(&mut nodes);
    assert_eq!(
        on(&nodes, 2),
        [
            true, true, false, false, false, false, false, false, false, false
        ],
        "only the canaries get the candidate"
    );
    let v = wait_for(&s, "ring 2", |v| v["ring"] == 2);
    assert_eq!(v["rings"][0]["reported"], 2, "{v}");
    cycle(&mut nodes);
    assert_eq!(
        on(&nodes, 2),
        [
            true, true, true, true, true, false, false, false, false, false
        ],
        "then the nodes under 10 %"
    );
    wait_for(&s, "ring 3", |v| v["ring"] == 3);
    cycle(&mut nodes);
    assert!(on(&nodes, 2).iter().all(|b| *b), "then everyone");
    let v = wait_for(&s, "the end", |v| v["state"] == "done");
    assert_eq!(v["current"], sum(&mof(2)));
    assert_eq!(rollout_events(&s), ["rollout.done"]);

    // Version 2 is current, with no version added for it becoming so.
    let (_, list) = s.admin("GET", "/api/v1/configurations/Web/versions", None);
    assert_eq!(list["versions"][0]["version"], 2, "{list}");
    assert_eq!(list["versions"][0]["current"], true);
    assert_eq!(list["versions"][0]["origin"], "api (candidate)");
    // A node that never took part gets version 2 now.
    let mut late = Lcm::register(&s, Uuid::new_v4(), &[]);
    late.cycle(&s.client(late.agent), true);
    assert_eq!(late.checksum, sum(&mof(2)));

    // Reports say which version each node applied.
    let (_, reports) = s.admin(
        "GET",
        &format!("/api/v1/reports?agent={}", nodes[9].agent),
        None,
    );
    let applied: Vec<&str> = reports["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["applied"].as_str().unwrap_or(""))
        .collect();
    let (one, two) = (sum(&mof(1)), sum(&mof(2)));
    assert_eq!(
        applied,
        [one.as_str(), one.as_str(), one.as_str(), two.as_str()]
    );

    let steps = audit_actions(&s);
    let server = |a: &str| (a.to_string(), "traek-server".to_string());
    for expected in [
        server("rollout.advance"),
        server("rollout.done"),
        ("rollout.start".to_string(), "admin-token".to_string()),
        ("rollout.plan".to_string(), "admin-token".to_string()),
    ] {
        assert!(steps.contains(&expected), "{expected:?} in {steps:?}");
    }
    assert_eq!(steps.iter().filter(|s| s.0 == "rollout.advance").count(), 2);
}

#[test]
fn failures_in_the_first_ring_halt_the_rollout_and_leave_the_other_rings_on_the_old_version() {
    let s = Server::start();
    watch_rollout_events(&s);
    let mut nodes = fleet(&s);
    start(&s, &mut nodes);
    // The canaries (the first two nodes) fail.
    for (i, n) in nodes.iter_mut().enumerate() {
        n.cycle(&s.client(n.agent), i >= 2);
    }
    let v = wait_for(&s, "the halt", |v| v["state"] == "halted");
    assert_eq!(v["ring"], 1);
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("2 of 2 nodes of ring 1 failed"),
        "{v}"
    );
    // The other rings stay on version 1 whatever they do; the canaries keep the candidate.
    std::thread::sleep(Duration::from_millis(2500));
    for n in nodes.iter_mut() {
        n.cycle(&s.client(n.agent), true);
    }
    assert_eq!(
        on(&nodes, 2),
        [
            true, true, false, false, false, false, false, false, false, false
        ]
    );
    assert_eq!(
        rollout(&s)["state"],
        "halted",
        "a halt waits for an operator"
    );
    assert_eq!(rollout_events(&s), ["rollout.halted"]);

    // Resume: the canaries now succeed, so the ring passes.
    let (st, v) = s.admin("POST", "/api/v1/configurations/Web/rollout/resume", None);
    assert_eq!(st, 200, "{v}");
    for n in nodes.iter_mut() {
        n.cycle(&s.client(n.agent), true);
    }
    wait_for(&s, "ring 2 after resume", |v| v["ring"] == 2);
    // Promote by hand past ring 2 before it reports, then abort: everyone back on version 1.
    let (st, v) = s.admin("POST", "/api/v1/configurations/Web/rollout/promote", None);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["ring"], 3);
    let (st, v) = s.admin("POST", "/api/v1/configurations/Web/rollout/abort", None);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["state"], "aborted");
    for n in nodes.iter_mut() {
        n.cycle(&s.client(n.agent), true);
    }
    assert!(
        on(&nodes, 1).iter().all(|b| *b),
        "an abort rolls everyone back"
    );
    let (st, v) = s.admin("POST", "/api/v1/configurations/Web/rollout/resume", None);
    assert_eq!(st, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("aborted"), "{v}");
    // Publishing as current works again.
    assert_eq!(
        s.admin("PUT", "/api/v1/configurations/Web", Some(&mof(3)))
            .0,
        200
    );
    let steps = audit_actions(&s);
    for expected in [
        ("rollout.halt", "traek-server"),
        ("rollout.resume", "admin-token"),
        ("rollout.advance", "traek-server"),
        ("rollout.promote", "admin-token"),
        ("rollout.abort", "admin-token"),
    ] {
        let e = (expected.0.to_string(), expected.1.to_string());
        assert!(steps.contains(&e), "{e:?} in {steps:?}");
    }
}

#[test]
fn bad_plans_and_moves_are_refused_with_the_reason() {
    let s = Server::start();
    let put = |path: &str, body: &[u8]| s.admin("PUT", path, Some(body));
    assert_eq!(put("/api/v1/configurations/Web", &mof(1)).0, 200);
    let (st, v) = put("/api/v1/configurations/Web?candidate=true", &mof(2));
    assert_eq!(st, 409, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("PUT /api/v1/configurations/Web/rollout first"),
        "{v}"
    );
    let (st, v) = put(
        "/api/v1/configurations/Web/rollout",
        br#"{"rings": [{"percent": 50}, {"percent": 10}]}"#,
    );
    assert_eq!(st, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("cumulative"), "{v}");
    let (st, _) = put("/api/v1/configurations/Web?candidate=maybe", &mof(2));
    assert_eq!(st, 400);
    let (st, v) = s.admin("GET", "/api/v1/configurations/Nope/rollout", None);
    assert_eq!(st, 404, "{v}");
    assert_eq!(
        put("/api/v1/configurations/Web/rollout", PLAN.as_bytes()).0,
        200
    );
    let (st, v) = s.admin("POST", "/api/v1/configurations/Web/rollout/promote", None);
    assert_eq!(st, 409, "{v}");
    let (st, v) = put("/api/v1/configurations/Web?candidate=true", &mof(1));
    assert_eq!(st, 409, "the current version is no candidate: {v}");
    assert_eq!(
        put("/api/v1/configurations/Web?candidate=true", &mof(2)).0,
        200
    );
    let (st, v) = put("/api/v1/configurations/Web/rollout", PLAN.as_bytes());
    assert_eq!(st, 409, "the plan is fixed while it runs: {v}");
    let (st, v) = s.admin(
        "POST",
        "/api/v1/configurations/Web/versions/1/restore",
        None,
    );
    assert_eq!(st, 409, "a restore would bypass the rollout: {v}");
    // Deleting the configuration ends its rollout.
    assert_eq!(s.admin("DELETE", "/api/v1/configurations/Web", None).0, 204);
    assert_eq!(
        s.admin("GET", "/api/v1/configurations/Web/rollout", None).0,
        404
    );
}

/// The answer every replica gives a node now, the same from each within 2 s.
fn same_answer_everywhere(r: &[Server], n: &Lcm) -> NodeStatus {
    let start = Instant::now();
    loop {
        let answers: Vec<NodeStatus> = r
            .iter()
            .map(|s| {
                s.client(n.agent)
                    .get_dsc_action(&action(&[(None, &n.checksum)]))
                    .unwrap()
                    .node_status
            })
            .collect();
        if answers.iter().all(|a| *a == answers[0]) {
            return answers[0];
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "replicas disagree about {}: {answers:?}",
            n.agent
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn on_postgresql_one_replica_drives_the_rollout_and_every_replica_serves_each_node_alike() {
    let (r, _tmp) = replicas(3);
    let mut nodes = fleet(&r[1]);
    start(&r[2], &mut nodes);
    for ring in 1..=3 {
        for (i, n) in nodes.iter_mut().enumerate() {
            let s = &r[i % 3];
            let answer = same_answer_everywhere(&r, n);
            let before = n.checksum.clone();
            n.cycle(&s.client(n.agent), true);
            assert_eq!(
                answer == NodeStatus::GetConfiguration,
                before != n.checksum,
                "ring {ring}: a node is told to download exactly when its version changes"
            );
            assert_eq!(same_answer_everywhere(&r, n), NodeStatus::Ok);
        }
        let reached = on(&nodes, 2).iter().filter(|b| **b).count();
        assert_eq!(reached, [2, 5, 10][ring - 1], "ring {ring}");
        if ring < 3 {
            wait_for(&r[ring % 3], "the next ring", |v| v["ring"] == ring + 1);
        }
    }
    let v = wait_for(&r[1], "the end", |v| v["state"] == "done");
    assert_eq!(v["current"], sum(&mof(2)));
    let steps = audit_actions(&r[0]);
    let count = |a: &str| steps.iter().filter(|s| s.0 == a).count();
    assert_eq!(
        (
            count("rollout.advance"),
            count("rollout.done"),
            count("rollout.start")
        ),
        (2, 1, 1),
        "driven once: {steps:?}"
    );
}
