//! `traek server ...` against a pull server running in this test process.

use dsc_core::pull::client::PullClient;
use dsc_core::pull::messages::*;
use dsc_pull_server::app::{App, serve};
use dsc_pull_server::config::{FileConfig, Overrides, ServerConfig};
use dsc_pull_server::keys::KeyFile;
use dsc_pull_server::metrics::Metrics;
use dsc_pull_server::storage::sqlite::SqliteStorage;
use serde_json::Value;
use std::process::Command;
use std::sync::Arc;

const TOKEN: &str = "cli-test-token-0123456789abcdef";

struct Running {
    url: String,
    _tmp: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

fn start() -> Running {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().to_path_buf();
    std::fs::write(data.join("RegistrationKeys.txt"), "k1\n").unwrap();
    let config = ServerConfig::resolve(
        FileConfig::default(),
        Overrides {
            data_dir: Some(data.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let storage = Arc::new(SqliteStorage::open(&data).unwrap());
    let keys = KeyFile::new(&config.registration_keys);
    rt.block_on(keys.sync(storage.as_ref())).unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Arc::new(App {
        storage,
        keys,
        config,
        admin_token: TOKEN.into(),
        metrics: Metrics::default(),
        tls: None,
        notifier: Default::default(),
        public_url: format!("http://{addr}"),
        oidc: None,
        git_sync: Default::default(),
    });
    rt.spawn(serve(app, listener, std::future::pending()));
    Running {
        url: format!("http://{addr}"),
        _tmp: tmp,
        _rt: rt,
    }
}

fn traek(srv: &Running, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_traek"))
        .arg("server")
        .args(args)
        .env("TRAEK_SERVER", &srv.url)
        .env("TRAEK_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn server_commands_publish_assign_and_list() {
    let srv = start();
    let dir = tempfile::tempdir().unwrap();
    let mof = dir.path().join("Web.mof");
    std::fs::write(&mof, b"\xff\xfei\x00").unwrap();
    let (code, out, err) = traek(&srv, &["publish-config", "Web", mof.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("Configuration") && out.contains("Web"),
        "{out}"
    );

    let zip = dir.path().join("m.zip");
    std::fs::write(&zip, b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0").unwrap();
    let (code, out, err) = traek(
        &srv,
        &[
            "publish-module",
            "xMod",
            "1.0.0.0",
            zip.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], "1.0.0.0");

    // A node registers, then is listed and assigned.
    let agent = uuid::Uuid::new_v4();
    let c = PullClient::new(&format!("{}/PSDSCPullServer.svc", srv.url), agent);
    let req = RegisterRequest {
        agent_information: AgentInformation {
            lcm_version: "2.0".into(),
            node_name: "WEB01".into(),
            ip_address: "10.0.0.5".into(),
        },
        configuration_names: Some(vec!["Web".into()]),
        registration_information: RegistrationInformation {
            certificate_information: None,
            registration_message_type: RegistrationMessageType::ConfigurationRepository,
        },
    };
    assert_eq!(c.register("k1", &req).unwrap().status, 204);
    let (code, out, _) = traek(&srv, &["nodes"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("WEB01") && out.contains("10.0.0.5") && out.contains(&agent.to_string()),
        "{out}"
    );
    let (code, out, _) = traek(&srv, &["assign", &agent.to_string(), "Web", "Db"]);
    assert_eq!(code, 0);
    assert!(out.contains("Web,Db"), "{out}");
    let (_, out, _) = traek(&srv, &["nodes", "-o", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["nodes"][0]["assignedNames"],
        serde_json::json!(["Web", "Db"])
    );

    let job = uuid::Uuid::new_v4();
    let body = serde_json::json!({"JobId": job.to_string(), "Status": "Failure", "OperationType": "Consistency", "Errors": ["{\"ErrorMessage\":\"disk full\"}"]});
    assert_eq!(
        c.send_report(body.to_string().as_bytes()).unwrap().status,
        200
    );
    let (code, out, _) = traek(&srv, &["reports", "--status", "Failure"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&job.to_string()) && out.contains("disk full"),
        "{out}"
    );

    let (code, out, _) = traek(&srv, &["keys", "add", "k2"]);
    assert_eq!(code, 0);
    assert!(out.contains("k2"));
    let (_, out, _) = traek(&srv, &["keys", "list", "-o", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["keys"].as_array().unwrap().len(), 2);
    let (code, _, _) = traek(&srv, &["keys", "revoke", "k2"]);
    assert_eq!(code, 0);
}

#[test]
fn server_commands_report_errors_with_exit_codes() {
    let srv = start();
    let (code, _, err) = traek(&srv, &["assign", &uuid::Uuid::new_v4().to_string(), "Web"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("not registered"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_traek"))
        .args(["server", "nodes", "--server", &srv.url, "--token", "wrong"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let out = Command::new(env!("CARGO_BIN_EXE_traek"))
        .args(["server", "nodes"])
        .env_remove("TRAEK_SERVER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = Command::new(env!("CARGO_BIN_EXE_traek"))
        .args([
            "server",
            "nodes",
            "--server",
            "http://127.0.0.1:1",
            "--token",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let (code, _, _) = traek(&srv, &["publish-config", "Web", "/nonexistent/file.mof"]);
    assert_eq!(code, 1);
}
