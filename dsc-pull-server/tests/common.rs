//! Shared helpers of the server tests: start the built binary, build LCM requests.
#![allow(dead_code)]

use dsc_core::pull::client::PullClient;
use dsc_core::pull::messages::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

pub const KEY: &str = "91E51A37-B59F-11E5-9C04-14109FD663AE";
pub const TOKEN: &str = "test-admin-token-0123456789";

/// Which storage a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: SQLite and blobs in the data directory.
    Sqlite,
    /// PostgreSQL (a fresh database per server) and S3 content (a fresh prefix).
    Postgres,
}

/// How to point `traek-server` at a provisioned store: arguments and environment.
#[derive(Debug, Clone, Default)]
pub struct StoreArgs {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through scripts/test.sh, which starts PostgreSQL and S3")
    })
}

/// A fresh, empty PostgreSQL database on the test cluster; its URL.
pub fn fresh_database() -> String {
    let base = required_env("TRAEK_TEST_DATABASE_URL");
    let name = format!("t_{}", Uuid::new_v4().simple());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) =
            tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls)
                .await
                .unwrap();
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
    });
    format!("{base}/{name}")
}

/// The S3 settings of the test object store, as `AWS_*` variables.
pub fn s3_env() -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", required_env("TRAEK_TEST_S3_ENDPOINT")),
        ("AWS_ACCESS_KEY_ID", "traek".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "traek-secret".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ALLOW_HTTP", "true".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A fresh content location in the test bucket.
pub fn fresh_s3_url() -> String {
    format!("s3://traek-test/{}", Uuid::new_v4().simple())
}

impl Backend {
    /// Provisions an empty store of this kind.
    pub fn provision(self) -> StoreArgs {
        match self {
            Backend::Sqlite => StoreArgs::default(),
            Backend::Postgres => StoreArgs {
                args: vec![
                    "--database".into(),
                    fresh_database(),
                    "--content".into(),
                    fresh_s3_url(),
                ],
                env: s3_env(),
            },
        }
    }
}

/// A running `traek-server` on a random port, killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub data: PathBuf,
    pub store: StoreArgs,
    /// Everything the server wrote to stderr after it started.
    pub log: Arc<Mutex<String>>,
    _tmp: Option<tempfile::TempDir>,
}

/// A data directory in `tmp` holding the test registration key.
pub fn data_dir_with_key(tmp: &Path) -> PathBuf {
    let data = tmp.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("RegistrationKeys.txt"),
        format!("# test keys\n{KEY}\n"),
    )
    .unwrap();
    data
}

impl Server {
    pub fn start() -> Self {
        Self::start_on(Backend::Sqlite)
    }

    /// Starts on a freshly provisioned store of the given kind.
    pub fn start_on(backend: Backend) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data = data_dir_with_key(tmp.path());
        let mut s = Self::start_with(&data, backend.provision(), &[]);
        s._tmp = Some(tmp);
        s
    }

    /// Starts on an existing data directory (restarts keep the directory).
    pub fn start_in(data: &Path, extra: &[&str]) -> Self {
        Self::start_with(data, StoreArgs::default(), extra)
    }

    /// Starts again on the same store, with the same data directory.
    pub fn restart(&self, extra: &[&str]) -> Self {
        Self::start_with(&self.data, self.store.clone(), extra)
    }

    /// Starts on a data directory and a store. A keys file in the data directory is named
    /// explicitly, so it is mirrored whatever the database; without one, a PostgreSQL server
    /// keeps its keys in the database alone.
    pub fn start_with(data: &Path, store: StoreArgs, extra: &[&str]) -> Self {
        std::fs::create_dir_all(data).unwrap();
        let keys = data.join("RegistrationKeys.txt");
        let keys_args: Vec<String> = if keys.exists() {
            vec!["--registration-keys".into(), keys.to_str().unwrap().into()]
        } else {
            Vec::new()
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_traek-server"))
            .args([
                "--data-dir",
                data.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
                "--admin-token",
                TOKEN,
            ])
            .args(&keys_args)
            .args(&store.args)
            .args(extra)
            .env("RUST_LOG", "warn")
            .envs(store.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut reader = BufReader::new(stderr);
        let mut addr = String::new();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 {
            let l = line.trim();
            if let Some(rest) = l
                .strip_prefix("traek-server listening on http://")
                .or_else(|| l.strip_prefix("traek-server listening on https://"))
            {
                addr = rest.to_string();
                break;
            }
            line.clear();
        }
        assert!(!addr.is_empty(), "server did not start: {line}");
        let log: Arc<Mutex<String>> = Arc::default();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Server {
            child,
            addr,
            data: data.to_path_buf(),
            store,
            log,
            _tmp: None,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/PSDSCPullServer.svc", self.addr)
    }

    pub fn client(&self, agent: Uuid) -> PullClient {
        PullClient::new(&self.url(), agent)
    }

    /// Admin API call: (status, JSON body or Null).
    pub fn admin(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, serde_json::Value) {
        let c = PullClient::new(&format!("http://{}", self.addr), Uuid::nil());
        let auth = format!("Bearer {TOKEN}");
        let r = c
            .request(method, path, &[("Authorization", &auth)], body)
            .unwrap();
        (
            r.status,
            serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null),
        )
    }

    pub fn healthy(&self) -> bool {
        let c = PullClient::new(&format!("http://{}", self.addr), Uuid::nil());
        c.request("GET", "/healthz", &[], None)
            .map(|r| r.status == 200)
            .unwrap_or(false)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn registration(kind: RegistrationMessageType, names: Option<&[&str]>) -> RegisterRequest {
    RegisterRequest {
        agent_information: AgentInformation {
            lcm_version: "2.0".into(),
            node_name: "CLIENT".into(),
            ip_address: "192.168.1.120;127.0.0.1".into(),
        },
        configuration_names: names.map(|n| n.iter().map(|s| s.to_string()).collect()),
        registration_information: RegistrationInformation {
            certificate_information: Some(CertificateInformation {
                friendly_name: "DSC-OaaS Client Authentication".into(),
                issuer: "CN=DSC-OaaS".into(),
                not_after: "2017-08-14T09:49:31.0000000-07:00".into(),
                not_before: "2016-08-14T16:39:31.0000000-07:00".into(),
                subject: "CN=DSC-OaaS".into(),
                public_key: "U3lzdGVt".into(),
                thumbprint: "8351F16C2B06634279F2C0287B5430452DA1CD94".into(),
                version: 3,
            }),
            registration_message_type: kind,
        },
    }
}

pub fn action(items: &[(Option<&str>, &str)]) -> GetDscActionRequest {
    GetDscActionRequest {
        client_status: items
            .iter()
            .map(|(n, c)| ClientStatus {
                checksum: Some(c.to_string()),
                configuration_name: n.map(str::to_string),
                checksum_algorithm: Some("SHA-256".into()),
            })
            .collect(),
    }
}

/// A UTF-16LE MOF with BOM, as the PowerShell compiler writes them.
pub fn utf16_mof(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out
}

/// A tiny valid zip (stored entry).
pub fn tiny_zip(name: &str, content: &[u8]) -> Vec<u8> {
    // Local header + central directory + end record, no compression, CRC computed.
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let crc = crc32(content);
    let n = name.as_bytes();
    let mut z = Vec::new();
    z.extend_from_slice(&[0x50, 0x4b, 3, 4, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    z.extend_from_slice(&crc.to_le_bytes());
    z.extend_from_slice(&(content.len() as u32).to_le_bytes());
    z.extend_from_slice(&(content.len() as u32).to_le_bytes());
    z.extend_from_slice(&(n.len() as u16).to_le_bytes());
    z.extend_from_slice(&[0, 0]);
    z.extend_from_slice(n);
    z.extend_from_slice(content);
    let cd_start = z.len() as u32;
    z.extend_from_slice(&[0x50, 0x4b, 1, 2, 20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    z.extend_from_slice(&crc.to_le_bytes());
    z.extend_from_slice(&(content.len() as u32).to_le_bytes());
    z.extend_from_slice(&(content.len() as u32).to_le_bytes());
    z.extend_from_slice(&(n.len() as u16).to_le_bytes());
    z.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    z.extend_from_slice(n);
    let cd_len = z.len() as u32 - cd_start;
    z.extend_from_slice(&[0x50, 0x4b, 5, 6, 0, 0, 0, 0, 1, 0, 1, 0]);
    z.extend_from_slice(&cd_len.to_le_bytes());
    z.extend_from_slice(&cd_start.to_le_bytes());
    z.extend_from_slice(&[0, 0]);
    z
}

pub fn report(job: Uuid, extra: serde_json::Value) -> Vec<u8> {
    let mut v = serde_json::json!({
        "JobId": job.to_string(), "OperationType": "Initial", "ReportFormatVersion": "2.0",
        "StartTime": "2016-08-15T14:25:51.2030000-07:00", "Errors": [], "StatusData": []
    });
    if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, val) in e {
            m.insert(k.clone(), val.clone());
        }
    }
    serde_json::to_vec(&v).unwrap()
}

/// A private PostgreSQL cluster that a test may stop and start (an outage), removed on drop.
pub struct PgCluster {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
    /// Extra server options (e.g. TLS settings).
    options: String,
}

fn as_postgres(program: &Path) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--"]).arg(program);
    c
}

impl PgCluster {
    pub fn start() -> Self {
        Self::start_with_options(|_| String::new())
    }

    /// Starts a cluster whose server options `options` gives from the cluster's directory.
    pub fn start_with_options(options: impl FnOnce(&Path) -> String) -> Self {
        let bin = PathBuf::from(required_env("TRAEK_TEST_PG_BIN"));
        let dir = tempfile::Builder::new()
            .prefix("traek-pg")
            .tempdir()
            .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Command::new("chown")
            .arg("postgres")
            .arg(dir.path())
            .status()
            .unwrap();
        let ok = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(dir.path().join("data"))
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success(), "initdb failed");
        let options = options(dir.path());
        Command::new("chown")
            .args(["-R", "postgres"])
            .arg(dir.path())
            .status()
            .unwrap();
        let cluster = PgCluster {
            dir,
            port,
            bin,
            options,
        };
        cluster.resume();
        cluster
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl(&self, args: &[&str]) -> bool {
        as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    /// Stops the server (fast shutdown: connections are cut).
    pub fn stop(&self) {
        assert!(
            self.pg_ctl(&["-m", "fast", "-w", "stop"]),
            "pg_ctl stop failed"
        );
    }

    /// Starts the server again on the same port.
    pub fn resume(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c synchronous_commit=on {}",
            self.port,
            self.dir.path().display(),
            self.options
        );
        let log = self.dir.path().join("log");
        let ok = self.pg_ctl(&[
            "-l",
            log.to_str().unwrap(),
            "-o",
            &opts,
            "-w",
            "-t",
            "60",
            "start",
        ]);
        assert!(ok, "pg_ctl start failed");
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
    }
}

/// `n` replicas sharing one freshly provisioned PostgreSQL + S3 store, with the test key added
/// through the first.
pub fn replicas(n: usize) -> (Vec<Server>, tempfile::TempDir) {
    let store = Backend::Postgres.provision();
    replicas_on(store, n)
}

pub fn replicas_on(store: StoreArgs, n: usize) -> (Vec<Server>, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let servers: Vec<Server> = (0..n)
        .map(|i| Server::start_with(&tmp.path().join(format!("r{i}")), store.clone(), &[]))
        .collect();
    let (st, _) = servers[0].admin(
        "POST",
        "/api/v1/keys",
        Some(serde_json::json!({"key": KEY}).to_string().as_bytes()),
    );
    assert_eq!(st, 201);
    (servers, tmp)
}
