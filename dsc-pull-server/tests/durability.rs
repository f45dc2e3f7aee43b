//! Crash safety, migration from a Windows pull server, and the captured-traffic replays.

mod common;

use common::*;
use dsc_core::pull::messages::RegistrationMessageType as Rmt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

#[test]
fn every_acknowledged_report_survives_kill_9() {
    let mut s = Server::start();
    let agent = Uuid::new_v4();
    s.client(agent)
        .register(KEY, &registration(Rmt::ReportServer, None))
        .unwrap();
    let acked: Arc<Mutex<Vec<Uuid>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for _ in 0..4 {
        let (acked, stop, url) = (Arc::clone(&acked), Arc::clone(&stop), s.url());
        senders.push(std::thread::spawn(move || {
            let c = dsc_core::pull::client::PullClient::new(&url, agent);
            while !stop.load(Ordering::Relaxed) {
                let job = Uuid::new_v4();
                match c.send_report(&report(job, serde_json::json!({"Status": "Success"}))) {
                    Ok(r) if r.status == 200 => acked.lock().unwrap().push(job),
                    _ => break, // the server is gone
                }
            }
        }));
    }
    std::thread::sleep(std::time::Duration::from_millis(700));
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for t in senders {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 50,
        "too few reports were sent to make the test meaningful: {}",
        acked.len()
    );
    let s2 = Server::start_in(&s.data, &[]);
    let mut stored = std::collections::HashSet::new();
    let mut after = 0i64;
    loop {
        let (_, page) = s2.admin(
            "GET",
            &format!("/api/v1/reports?agent={agent}&limit=1000&after={after}"),
            None,
        );
        let items = page["reports"].as_array().unwrap().clone();
        for r in &items {
            stored.insert(r["jobId"].as_str().unwrap().to_string());
            after = r["id"].as_i64().unwrap();
        }
        if items.len() < 1000 {
            break;
        }
    }
    let missing: Vec<&Uuid> = acked
        .iter()
        .filter(|j| !stored.contains(&j.to_string()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged reports were lost",
        missing.len(),
        acked.len()
    );
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn import_from_a_windows_layout_skips_items_whose_checksum_disagrees() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("PullServer");
    let mof = utf16_mof("instance of X {};");
    write(&src.join("Configuration/Web.mof"), &mof);
    write(
        &src.join("Configuration/Web.mof.checksum"),
        dsc_core::pull::checksum::sha256_hex(&mof).as_bytes(),
    );
    write(&src.join("Configuration/Bad.mof"), b"tampered");
    write(
        &src.join("Configuration/Bad.mof.checksum"),
        "0".repeat(64).as_bytes(),
    );
    write(&src.join("Configuration/NoSum.mof"), b"no checksum file");
    let zip = tiny_zip("xSmbShare.psd1", b"@{}");
    write(&src.join("Modules/xSmbShare_1.1.0.0.zip"), &zip);
    write(
        &src.join("Modules/xSmbShare_1.1.0.0.zip.checksum"),
        dsc_core::pull::checksum::sha256_hex(&zip)
            .to_lowercase()
            .as_bytes(),
    );
    write(
        &src.join("RegistrationKeys.txt"),
        b"# from Windows\nwindows-key\n",
    );
    let data = tmp.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_traek-server"))
        .args([
            "import",
            "--data-dir",
            data.to_str().unwrap(),
            "--from",
            src.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a skipped item makes the import exit non-zero"
    );
    assert!(
        stdout.contains("imported configuration Web")
            && stdout.contains("imported configuration NoSum"),
        "{stdout}"
    );
    assert!(
        stdout.contains("imported module xSmbShare 1.1.0.0"),
        "{stdout}"
    );
    assert!(
        stderr.contains("Bad.mof") && stderr.contains("checksum"),
        "{stderr}"
    );
    let s = Server::start_in(&data, &[]);
    let c = s.client(Uuid::new_v4());
    assert_eq!(
        c.register(
            "windows-key",
            &registration(Rmt::ConfigurationRepository, Some(&["Web", "Bad"]))
        )
        .unwrap()
        .status,
        204
    );
    assert_eq!(c.get_configuration("Web").unwrap().bytes, mof);
    assert!(c.get_configuration("Bad").is_err());
    assert_eq!(c.get_module("xSmbShare", "1.1.0.0").unwrap().bytes, zip);
}

fn replay(trace: &str, key: &str, backend: Backend) {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance");
    let trace = shared.join("traces").join(trace);
    assert!(
        trace.exists(),
        "{} is missing (shared/ must sit beside the repository)",
        trace.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let data = tmp.path().join("data");
    let store = backend.provision();
    let ok = Command::new("python3")
        .arg(shared.join("replay.py"))
        .args(["prepare"])
        .arg(&trace)
        .arg(&src)
        .args(["--key", key])
        .status()
        .unwrap();
    assert!(ok.success());
    let ok = Command::new(env!("CARGO_BIN_EXE_traek-server"))
        .args(["import", "--data-dir"])
        .arg(&data)
        .arg("--from")
        .arg(&src)
        .args(&store.args)
        .envs(store.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .status()
        .unwrap();
    assert!(ok.success());
    // The captures are years old: accept their x-ms-date.
    let s = Server::start_with(&data, store, &["--max-clock-skew", "999999999"]);
    let prefix = if trace.to_string_lossy().contains("traek-") {
        ""
    } else {
        "/PSDSCPullServer.svc"
    };
    let out = Command::new("python3")
        .arg(shared.join("replay.py"))
        .arg("run")
        .arg(&trace)
        .args(["--base", &format!("http://{}{prefix}", s.addr)])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(", 0 failed"), "{text}");
}

const WINDOWS_TRACE: &str = "v2-initial-registration-config-pull-module-pull-reporting.http.json";
const WINDOWS_KEY: &str = "91E51A37-B59F-11E5-9C04-14109FD663AE";
const TRAEK_TRACE: &str = "traek-dscregistration.http.json";
const TRAEK_KEY: &str = "845279827-796-493";

#[test]
fn the_windows_capture_replays_cleanly() {
    replay(WINDOWS_TRACE, WINDOWS_KEY, Backend::Sqlite);
}

#[test]
fn the_dsc_traek_capture_replays_cleanly() {
    replay(TRAEK_TRACE, TRAEK_KEY, Backend::Sqlite);
}

#[test]
fn the_windows_capture_replays_cleanly_on_postgres_and_s3() {
    replay(WINDOWS_TRACE, WINDOWS_KEY, Backend::Postgres);
}

#[test]
fn the_dsc_traek_capture_replays_cleanly_on_postgres_and_s3() {
    replay(TRAEK_TRACE, TRAEK_KEY, Backend::Postgres);
}
