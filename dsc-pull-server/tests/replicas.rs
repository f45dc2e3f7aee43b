//! Several `traek-server` replicas on one PostgreSQL database and one S3 bucket: any request
//! may reach any replica, changes through one are obeyed by all within 2 s, nothing
//! acknowledged is lost when a replica is killed or the database goes away for a while.

mod common;

use common::*;
use dsc_core::pull::client::{ClientError, PullClient};
use dsc_core::pull::messages::{NodeStatus, RegistrationMessageType as Rmt};
use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Polls `check` until it holds; the time it took, or a failure after `limit`.
fn within(limit: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

fn serves(server: &Server, agent: Uuid, name: &str) -> bool {
    server.client(agent).get_configuration(name).is_ok()
}

#[test]
fn any_replica_serves_what_another_was_told() {
    let (r, _tmp) = replicas(3);
    let mof = utf16_mof("instance of MSFT_Web {};");
    let zip = tiny_zip("xWeb.psd1", b"@{}");
    let put =
        |s: &Server, path: &str, body: &[u8]| assert_eq!(s.admin("PUT", path, Some(body)).0, 200);
    put(&r[0], "/api/v1/configurations/Web", &mof);
    put(&r[0], "/api/v1/modules/xWeb/1.0.0.0", &zip);
    put(&r[2], "/api/v1/configurations/Db", b"instance of Db {};");

    // Published through A, registered through B, served by C byte for byte.
    let agent = Uuid::new_v4();
    let reg = r[1].client(agent).register(
        KEY,
        &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
    );
    assert_eq!(reg.unwrap().status, 204);
    let c = r[2].client(agent);
    let answer = c.get_dsc_action(&action(&[(None, "")])).unwrap();
    assert_eq!(answer.node_status, NodeStatus::GetConfiguration);
    let got = c.get_configuration("Web").unwrap();
    assert_eq!(got.bytes, mof);
    assert_eq!(got.checksum, dsc_core::pull::checksum::sha256_hex(&mof));
    assert_eq!(c.get_module("xWeb", "1.0.0.0").unwrap().bytes, zip);

    // An assignment changed on B is honoured by A and C within 2 s.
    let body = json!(["Db"]).to_string();
    assert_eq!(
        r[1].admin(
            "PUT",
            &format!("/api/v1/nodes/{agent}/configurations"),
            Some(body.as_bytes())
        )
        .0,
        200
    );
    for s in [&r[0], &r[2]] {
        let took = within(
            Duration::from_secs(2),
            "the assignment reaching a replica",
            || serves(s, agent, "Db") && !serves(s, agent, "Web"),
        );
        eprintln!("assignment obeyed after {took:?}");
    }

    // Content republished on C: A answers GetDscAction with the new checksum within 2 s.
    let new_mof = utf16_mof("instance of Db2 {};");
    put(&r[2], "/api/v1/configurations/Db", &new_mof);
    let new_sum = dsc_core::pull::checksum::sha256_hex(&new_mof);
    within(
        Duration::from_secs(2),
        "new content reaching replica A",
        || {
            let a = r[0]
                .client(agent)
                .get_dsc_action(&action(&[(None, &new_sum)]))
                .unwrap();
            a.node_status == NodeStatus::Ok
        },
    );

    // A tag given configuration names on C, and tagged on A, is obeyed by B within 2 s.
    let tagged = Uuid::new_v4();
    r[1].client(tagged)
        .register(
            KEY,
            &registration(Rmt::ConfigurationRepository, Some(&["Web"])),
        )
        .unwrap();
    assert_eq!(
        r[2].admin(
            "PUT",
            "/api/v1/tags/eu/configurations",
            Some(json!(["Db"]).to_string().as_bytes())
        )
        .0,
        200
    );
    assert_eq!(
        r[0].admin(
            "PUT",
            &format!("/api/v1/nodes/{tagged}/tags"),
            Some(json!(["EU"]).to_string().as_bytes())
        )
        .0,
        200
    );
    within(Duration::from_secs(2), "the tag reaching replica B", || {
        serves(&r[1], tagged, "Db") && !serves(&r[1], tagged, "Web")
    });

    // A key revoked on A refuses registrations on C.
    let (_, keys) = r[0].admin("GET", "/api/v1/keys", None);
    let id = keys["keys"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        r[0].admin("DELETE", &format!("/api/v1/keys/{id}"), None).0,
        204
    );
    within(
        Duration::from_secs(2),
        "the revocation reaching replica C",
        || {
            let reply = r[2]
                .client(Uuid::new_v4())
                .register(KEY, &registration(Rmt::ReportServer, None));
            matches!(reply, Ok(r) if r.status == 401)
        },
    );

    // A node unregistered on A is refused by B within 2 s.
    assert_eq!(
        r[0].admin("DELETE", &format!("/api/v1/nodes/{agent}"), None)
            .0,
        204
    );
    within(
        Duration::from_secs(2),
        "the unregistration reaching replica B",
        || {
            let answer = r[1].client(agent).get_dsc_action(&action(&[(None, "")]));
            matches!(answer, Err(ClientError::Status { status: 401, .. }))
        },
    );
}

/// Sends reports as fast as answers come, to `url`, until `stop`; acknowledged JobIds go to `acked`.
fn report_stream(
    url: String,
    agent: Uuid,
    acked: Arc<Mutex<Vec<Uuid>>>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let c = PullClient::new(&url, agent);
        while !stop.load(Ordering::Relaxed) {
            let job = Uuid::new_v4();
            match c.send_report(&report(job, json!({"Status": "Success"}))) {
                Ok(r) if r.status == 200 => acked.lock().unwrap().push(job),
                _ => break,
            }
        }
    })
}

/// Every JobId stored for the agent, read through `server`.
fn stored_jobs(server: &Server, agent: Uuid) -> HashSet<String> {
    let mut stored = HashSet::new();
    let mut after = 0i64;
    loop {
        let (st, page) = server.admin(
            "GET",
            &format!("/api/v1/reports?agent={agent}&limit=1000&after={after}"),
            None,
        );
        assert_eq!(st, 200, "{page}");
        let items = page["reports"].as_array().unwrap().clone();
        for r in &items {
            stored.insert(r["jobId"].as_str().unwrap().to_string());
            after = r["id"].as_i64().unwrap();
        }
        if items.len() < 1000 {
            return stored;
        }
    }
}

fn assert_all_stored(acked: &[Uuid], stored: &HashSet<String>) {
    let missing = acked
        .iter()
        .filter(|j| !stored.contains(&j.to_string()))
        .count();
    assert_eq!(
        missing,
        0,
        "{missing} of {} acknowledged reports were lost",
        acked.len()
    );
}

#[test]
fn reports_acknowledged_by_a_replica_killed_with_sigkill_are_kept() {
    let (mut r, _tmp) = replicas(3);
    let agent = Uuid::new_v4();
    r[1].client(agent)
        .register(KEY, &registration(Rmt::ReportServer, None))
        .unwrap();
    let acked: Arc<Mutex<Vec<Uuid>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let streams: Vec<_> = (0..4)
        .map(|i| report_stream(r[i % 3].url(), agent, Arc::clone(&acked), Arc::clone(&stop)))
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    r[0].child.kill().unwrap(); // SIGKILL
    r[0].child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for t in streams {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 50,
        "too few reports to mean anything: {}",
        acked.len()
    );
    assert_all_stored(&acked, &stored_jobs(&r[2], agent));
}

#[test]
fn a_database_outage_answers_503_then_recovers_with_nothing_lost() {
    let cluster = PgCluster::start();
    let store = StoreArgs {
        args: vec![
            "--database".into(),
            cluster.url(),
            "--content".into(),
            fresh_s3_url(),
        ],
        env: s3_env(),
    };
    let (r, _tmp) = replicas_on(store, 1);
    let s = &r[0];
    let agent = Uuid::new_v4();
    s.client(agent)
        .register(KEY, &registration(Rmt::ReportServer, None))
        .unwrap();

    // Two streams keep sending through the outage; every answer is timed.
    let acked: Arc<Mutex<Vec<Uuid>>> = Arc::default();
    let unavailable = Arc::new(AtomicUsize::new(0));
    let slowest = Arc::new(Mutex::new(Duration::ZERO));
    let stop = Arc::new(AtomicBool::new(false));
    let streams: Vec<_> = (0..2)
        .map(|_| {
            let (url, acked, unavailable, slowest, stop) = (
                s.url(),
                Arc::clone(&acked),
                Arc::clone(&unavailable),
                Arc::clone(&slowest),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || {
                let c = PullClient::new(&url, agent);
                while !stop.load(Ordering::Relaxed) {
                    let job = Uuid::new_v4();
                    let start = Instant::now();
                    let result = c.send_report(&report(job, json!({"Status": "Success"})));
                    let took = start.elapsed();
                    let mut worst = slowest.lock().unwrap();
                    *worst = (*worst).max(took);
                    drop(worst);
                    match result {
                        Ok(r) if r.status == 200 => acked.lock().unwrap().push(job),
                        Ok(r) if r.status == 503 => {
                            unavailable.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        other => panic!("unexpected answer during the outage test: {other:?}"),
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    cluster.stop();
    let ready = |s: &Server| {
        PullClient::new(&format!("http://{}", s.addr), Uuid::nil())
            .request("GET", "/readyz", &[], None)
            .map(|r| r.status)
            .unwrap_or(0)
    };
    let took = within(Duration::from_secs(5), "/readyz answering 503", || {
        ready(s) == 503
    });
    eprintln!("/readyz answered 503 {took:?} after the database stopped");
    std::thread::sleep(Duration::from_secs(1));
    cluster.resume();
    let took = within(
        Duration::from_secs(20),
        "recovery after the database returned",
        || ready(s) == 200,
    );
    eprintln!("ready again {took:?} after the database returned");
    let before = acked.lock().unwrap().len();
    within(
        Duration::from_secs(10),
        "reports acknowledged again",
        || acked.lock().unwrap().len() > before + 20,
    );
    stop.store(true, Ordering::Relaxed);
    for t in streams {
        t.join().unwrap();
    }
    assert!(
        unavailable.load(Ordering::Relaxed) > 0,
        "no request saw the outage"
    );
    let worst = *slowest.lock().unwrap();
    assert!(
        worst < Duration::from_secs(6),
        "a request took {worst:?} during the outage"
    );
    let acked = acked.lock().unwrap().clone();
    assert_all_stored(&acked, &stored_jobs(s, agent));
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn with_sslmode_require_the_database_is_reached_over_tls_trusting_the_given_ca() {
    let certs = tempfile::tempdir().unwrap();
    let d = certs.path();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        d,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-days",
                "2",
                "-subj",
                "/CN=db CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        ]
        .concat(),
    );
    openssl(
        d,
        &[
            &["req"][..],
            &ec,
            &[
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
    );
    let cluster = PgCluster::start_with_options(|dir| {
        for f in ["server.pem", "server.key"] {
            std::fs::copy(d.join(f), dir.join(f)).unwrap();
        }
        std::fs::set_permissions(
            dir.join("server.key"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        format!(
            "-c ssl=on -c ssl_cert_file={0}/server.pem -c ssl_key_file={0}/server.key",
            dir.display()
        )
    });
    let url = format!("{}?sslmode=require", cluster.url());
    let ca = d.join("ca.pem");
    // Without the CA, the server's certificate is not trusted: the server says so and stops.
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_traek-server"))
        .args(["migrate", "--database", &url])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(
        text.contains("certificate") || text.contains("UnknownIssuer"),
        "{text}"
    );
    // With it, a replica serves and its connections are encrypted.
    let store = StoreArgs {
        args: vec![
            "--database".into(),
            url.clone(),
            "--database-ca".into(),
            ca.display().to_string(),
            "--content".into(),
            fresh_s3_url(),
        ],
        env: s3_env(),
    };
    let (r, _tmp) = replicas_on(store, 1);
    let agent = Uuid::new_v4();
    assert_eq!(
        r[0].client(agent)
            .register(KEY, &registration(Rmt::ReportServer, None))
            .unwrap()
            .status,
        204
    );
    let psql = std::process::Command::new("psql")
        .arg(format!("{}?sslmode=disable", cluster.url()))
        .args(["-tAc", "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'traek-server'"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&psql.stdout).trim(),
        "t",
        "{}",
        String::from_utf8_lossy(&psql.stderr)
    );
}
