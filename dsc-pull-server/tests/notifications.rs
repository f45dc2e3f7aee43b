//! Notifications as a receiver sees them: each kind of event once, signed; nothing lost while
//! the receiver is down; with three replicas on PostgreSQL and one killed, every event arrives.

mod common;
use common::*;
use dsc_core::pull::messages::RegistrationMessageType as Rmt;
use dsc_core::pull::notify::verify_signature;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

const SECRET: &str = "a-webhook-secret-of-some-length";

/// A webhook receiver on a random port: answers 503 while `down`, else records the delivery
/// and answers 204.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<(Value, String, String)>>>,
    refused: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
    /// How long the receiver takes to answer, after it recorded a delivery.
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
}

/// A request's lowercased headers and its body.
type Request = (Vec<(String, String)>, Vec<u8>);

fn read_request(stream: &mut std::net::TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut headers = Vec::new();
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some((headers, body))
}

type Received = Mutex<Vec<(Value, String, String)>>;

/// Answers one delivery: records it (unless down), waits the delay, answers.
fn answer(
    mut stream: std::net::TcpStream,
    received: &Received,
    refused: &AtomicUsize,
    down: &AtomicBool,
    delay_ms: &std::sync::atomic::AtomicU64,
) {
    let Some((headers, body)) = read_request(&mut stream) else {
        return;
    };
    let header = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let answer = if down.load(Ordering::SeqCst) {
        refused.fetch_add(1, Ordering::SeqCst);
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    } else {
        let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let signed = verify_signature(SECRET, &body, &header("x-traek-signature"));
        received.lock().unwrap().push((
            payload,
            header("x-traek-event"),
            if signed {
                "valid".into()
            } else {
                "INVALID".into()
            },
        ));
        "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
    };
    std::thread::sleep(Duration::from_millis(delay_ms.load(Ordering::SeqCst)));
    let _ = stream.write_all(answer.as_bytes());
}

impl Receiver {
    fn start() -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received: Arc<Mutex<Vec<(Value, String, String)>>> = Arc::default();
        let refused = Arc::new(AtomicUsize::new(0));
        let down = Arc::new(AtomicBool::new(false));
        let (r, f, d) = (received.clone(), refused.clone(), down.clone());
        let delay_ms = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let wait = delay_ms.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (r, f, d, wait) = (r.clone(), f.clone(), d.clone(), wait.clone());
                std::thread::spawn(move || answer(stream, &r, &f, &d, &wait));
            }
        });
        Receiver {
            url,
            received,
            refused,
            down,
            delay_ms,
        }
    }

    fn payloads(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _, _)| p.clone())
            .collect()
    }

    /// Waits until `n` deliveries arrived (or `limit` passed); the payloads.
    fn wait_for(&self, n: usize, limit: Duration) -> Vec<Value> {
        let start = Instant::now();
        while self.received.lock().unwrap().len() < n && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.payloads()
    }
}

fn add_rule(s: &Server, name: &str, url: &str, extra: Value) -> Value {
    let mut rule = json!({"name": name, "url": url, "secret": SECRET});
    if let (Some(m), Some(e)) = (rule.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    let (st, v) = s.admin(
        "POST",
        "/api/v1/notifications",
        Some(rule.to_string().as_bytes()),
    );
    assert_eq!(st, 201, "{v}");
    v
}

fn run_report(ok: bool, failed: bool) -> Vec<u8> {
    let key = if ok {
        "ResourcesInDesiredState"
    } else {
        "ResourcesNotInDesiredState"
    };
    let data = json!({key: [{"ResourceId": "[File]motd", "ModuleName": "PSDesiredStateConfiguration", "InDesiredState": ok}]}).to_string();
    let status = if failed { "Failure" } else { "Success" };
    report(
        Uuid::new_v4(),
        json!({"Status": status, "NodeName": "web01", "StatusData": [data]}),
    )
}

fn node(s: &Server, tags: &[&str]) -> dsc_core::pull::client::PullClient {
    let c = s.client(Uuid::new_v4());
    c.register(
        KEY,
        &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
    )
    .unwrap();
    let body = json!(tags).to_string();
    let (st, v) = s.admin(
        "PUT",
        &format!("/api/v1/nodes/{}/tags", c.agent_id),
        Some(body.as_bytes()),
    );
    assert_eq!(st, 200, "{v}");
    c
}

fn events_of(payloads: &[Value]) -> Vec<String> {
    payloads
        .iter()
        .map(|p| p["event"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_receiver_gets_each_kind_of_event_once_signed_and_within_seconds() {
    let rx = Receiver::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir_with_key(tmp.path());
    let s = Server::start_in(&data, &["--stale-after", "4s"]);
    add_rule(&s, "ops", &rx.url, json!({}));
    let c = node(&s, &["web"]);

    let timed = |body: Vec<u8>, n: usize| {
        let sent = Instant::now();
        assert_eq!(c.send_report(&body).unwrap().status, 200);
        let got = rx.wait_for(n, Duration::from_secs(10));
        assert!(got.len() >= n, "delivery {n} never came: {got:?}");
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "delivery {n} took {:?}",
            sent.elapsed()
        );
    };
    timed(run_report(true, true), 1);
    timed(run_report(true, false), 2);
    timed(run_report(false, false), 3);
    // The node stops reporting: it goes stale after 4 s, found by the sweep.
    let stale = rx.wait_for(4, Duration::from_secs(15));
    assert_eq!(
        events_of(&stale).get(3).map(String::as_str),
        Some("node.stale")
    );
    timed(run_report(true, false), 5);
    // A report that changes nothing is no event.
    assert_eq!(c.send_report(&run_report(true, false)).unwrap().status, 200);
    let (st, _) = s.admin(
        "PUT",
        "/api/v1/configurations/Web",
        Some(b"instance of X {};"),
    );
    assert_eq!(st, 200);
    let got = rx.wait_for(6, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    let got = if rx.payloads().len() > got.len() {
        rx.payloads()
    } else {
        got
    };

    assert_eq!(
        events_of(&got),
        [
            "node.failed",
            "node.recovered",
            "node.noncompliant",
            "node.stale",
            "node.recovered",
            "configuration.published"
        ]
    );
    let received = rx.received.lock().unwrap().clone();
    for (payload, header_event, signature) in &received {
        assert_eq!(signature, "valid", "{payload}");
        assert_eq!(payload["event"].as_str(), Some(header_event.as_str()));
    }
    let ids: std::collections::HashSet<&str> =
        got.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), got.len(), "every event has its own id");
    let first = &got[0];
    assert_eq!(first["agentId"], c.agent_id.to_string());
    assert_eq!(
        first["nodeName"], "CLIENT",
        "the name the node registered with"
    );
    assert_eq!(
        (first["before"].clone(), first["after"].clone()),
        (Value::Null, json!("failed"))
    );
    assert_eq!(got[1]["before"], "failed");
    assert_eq!(
        first["url"],
        format!("http://{}/ui/nodes/{}", s.addr, c.agent_id)
    );
    assert_eq!(got[5]["configuration"], "Web");
    // The delivery log says the same.
    let (st, v) = s.admin("GET", "/api/v1/notifications/ops", None);
    assert_eq!(st, 200, "{v}");
    let deliveries = v["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 6);
    assert!(deliveries.iter().all(|d| d["state"] == "delivered"), "{v}");
    assert!(
        v["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["status"] == 204)
    );
    assert!(
        v["rule"].get("secret").is_none(),
        "the secret is never shown"
    );
}

#[test]
fn rules_filter_by_event_and_tag_and_bad_rules_are_refused() {
    let rx = Receiver::start();
    let s = Server::start();
    add_rule(
        &s,
        "db-failures",
        &rx.url,
        json!({"events": ["node.failed"], "tags": ["db"]}),
    );
    let (web, db) = (node(&s, &["web"]), node(&s, &["db"]));
    for c in [&web, &db] {
        assert_eq!(
            c.send_report(&run_report(false, false)).unwrap().status,
            200
        );
        assert_eq!(c.send_report(&run_report(true, true)).unwrap().status, 200);
    }
    let got = rx.wait_for(1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    let got = if rx.payloads().len() > got.len() {
        rx.payloads()
    } else {
        got
    };
    assert_eq!(events_of(&got), ["node.failed"]);
    assert_eq!(got[0]["agentId"], db.agent_id.to_string());

    for (body, why) in [
        (
            json!({"name": "x", "url": "ftp://h/", "secret": SECRET}),
            "http://",
        ),
        (
            json!({"name": "x", "url": "http://h/", "secret": "short"}),
            "secret",
        ),
        (
            json!({"name": "x", "url": "http://h/", "secret": SECRET, "events": ["node.gone"]}),
            "node.failed",
        ),
        (
            json!({"name": "x", "url": "http://h/", "secret": SECRET, "colour": 1}),
            "unknown field",
        ),
    ] {
        let (st, v) = s.admin(
            "POST",
            "/api/v1/notifications",
            Some(body.to_string().as_bytes()),
        );
        assert_eq!(st, 400, "{body}");
        assert!(v["error"].as_str().unwrap().contains(why), "{v}");
    }
    let dup = json!({"name": "DB-failures", "url": rx.url, "secret": SECRET});
    let (st, _) = s.admin(
        "POST",
        "/api/v1/notifications",
        Some(dup.to_string().as_bytes()),
    );
    assert_eq!(st, 409);
    let (st, _) = s.admin("DELETE", "/api/v1/notifications/db-failures", None);
    assert_eq!(st, 204);
    let (st, v) = s.admin("GET", "/api/v1/notifications", None);
    assert_eq!(
        (st, v["notifications"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let (_, audit) = s.admin("GET", "/api/v1/audit?limit=100", None);
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"notification.add"), "{actions:?}");
    assert!(actions.contains(&"notification.remove"), "{actions:?}");
}

#[test]
fn events_wait_while_the_receiver_is_down_and_all_arrive_when_it_is_back() {
    let rx = Receiver::start();
    rx.down.store(true, Ordering::SeqCst);
    let s = Server::start();
    add_rule(&s, "ops", &rx.url, json!({}));
    let nodes: Vec<_> = (0..5).map(|_| node(&s, &[])).collect();
    for c in &nodes {
        assert_eq!(c.send_report(&run_report(true, true)).unwrap().status, 200);
    }
    let start = Instant::now();
    while rx.refused.load(Ordering::SeqCst) < 10 && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        rx.refused.load(Ordering::SeqCst) >= 10,
        "deliveries were retried"
    );
    let (_, v) = s.admin("GET", "/api/v1/notifications/ops", None);
    let pending = v["deliveries"].as_array().unwrap();
    assert!(
        pending
            .iter()
            .all(|d| d["state"] == "pending" && d["nextMs"].is_i64()),
        "{v}"
    );
    assert!(
        v["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["status"] == 503)
    );
    rx.down.store(false, Ordering::SeqCst);
    let got = rx.wait_for(5, Duration::from_secs(30));
    let agents: std::collections::BTreeSet<String> = got
        .iter()
        .map(|p| p["agentId"].as_str().unwrap().to_string())
        .collect();
    let expected: std::collections::BTreeSet<String> =
        nodes.iter().map(|c| c.agent_id.to_string()).collect();
    assert_eq!(agents, expected);
    assert_eq!(got.len(), 5, "each event once");
    let metrics = PullClientExt::get_text(&s, "/metrics");
    assert!(
        metrics.contains("traek_webhook_deliveries_total{outcome=\"delivered\"} 5"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("traek_webhook_deliveries_total{outcome=\"failed\"} 0"),
        "{metrics}"
    );
}

/// Plain GETs for text answers.
struct PullClientExt;
impl PullClientExt {
    fn get_text(s: &Server, path: &str) -> String {
        let c = dsc_core::pull::client::PullClient::new(&format!("http://{}", s.addr), Uuid::nil());
        let r = c.request("GET", path, &[], None).unwrap();
        String::from_utf8_lossy(&r.body).into_owned()
    }
}

#[test]
fn three_replicas_with_one_killed_mid_delivery_deliver_every_event() {
    let rx = Receiver::start();
    // Deliveries are in flight for 3 s each: the replica killed below dies holding some.
    rx.delay_ms.store(3000, Ordering::SeqCst);
    let store = Backend::Postgres.provision();
    let tmp = tempfile::tempdir().unwrap();
    let mut replicas: Vec<Server> = (0..3)
        .map(|i| {
            let data = data_dir_with_key(&tmp.path().join(i.to_string()));
            Server::start_with(&data, store.clone(), &[])
        })
        .collect();
    add_rule(&replicas[0], "ops", &rx.url, json!({}));
    let mut nodes = std::collections::BTreeSet::new();
    for i in 0..30 {
        let s = &replicas[i % 3];
        let c = node(s, &[]);
        assert_eq!(c.send_report(&run_report(true, true)).unwrap().status, 200);
        nodes.insert(c.agent_id.to_string());
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut killed = replicas.remove(1);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    rx.delay_ms.store(0, Ordering::SeqCst);
    // What the killed replica held is sent again once its claims run out (30 s).
    let start = Instant::now();
    let distinct = |p: &[Value]| {
        p.iter()
            .map(|p| p["agentId"].as_str().unwrap_or("").to_string())
            .collect::<std::collections::BTreeSet<String>>()
    };
    while distinct(&rx.payloads()) != nodes && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let got = rx.payloads();
    assert_eq!(distinct(&got), nodes, "every event arrived");
    let ids: std::collections::BTreeSet<&str> =
        got.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 30, "one id per event, whichever replica sent it");
    // Only deliveries the killed replica had in flight can arrive twice, with the same id.
    assert!(
        got.len() - ids.len() <= 20,
        "{} repeats",
        got.len() - ids.len()
    );
    // The log catches up once the last answers are recorded, and the killed replica's claims
    // have run out and been sent again (30 s).
    let delivered = |v: &Value| {
        v["deliveries"]
            .as_array()
            .is_some_and(|d| d.len() == 30 && d.iter().all(|d| d["state"] == "delivered"))
    };
    let start = Instant::now();
    let mut v = Value::Null;
    while !delivered(&v) && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
        v = replicas[0]
            .admin("GET", "/api/v1/notifications/ops", None)
            .1;
    }
    let states: Vec<(String, String)> = v["deliveries"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|d| (d["state"].to_string(), d["lastError"].to_string()))
                .collect()
        })
        .unwrap_or_default();
    assert!(delivered(&v), "{states:?}");
}
