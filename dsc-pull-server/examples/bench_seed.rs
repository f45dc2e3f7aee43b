//! Seeds a store for the pull-server benchmark through the `Storage` trait:
//! `bench_seed STORE AGENTS REPORTS AGENT_LIST_FILE`, where STORE is a data directory (SQLite)
//! or `postgres://...` (content then goes to `$TRAEK_CONTENT_URL`, default the current directory's
//! `traek-data/blobs`). Every agent registers the configuration
//! `BenchConfig` (which is published); reports are spread over the agents.
use bytes::Bytes;
use dsc_core::pull::messages::*;
use dsc_pull_server::storage::{ContentKey, Registration};
use std::io::Write;
use uuid::Uuid;

/// A final report of three resources (one out of the desired state when `drifted`).
fn report_body(job: Uuid, drifted: bool) -> String {
    let resource = |id: &str, ok: bool| {
        format!(
            r#"{{\"ResourceId\":\"{id}\",\"ModuleName\":\"PSDesiredStateConfiguration\",\"InDesiredState\":{ok}}}"#
        )
    };
    let (good, bad) = if drifted {
        (
            vec![
                resource("[File]motd", true),
                resource("[Registry]policy", true),
            ],
            vec![resource("[Service]w3svc", false)],
        )
    } else {
        (
            vec![
                resource("[File]motd", true),
                resource("[Registry]policy", true),
                resource("[Service]w3svc", true),
            ],
            vec![],
        )
    };
    format!(
        r#"{{"JobId":"{job}","OperationType":"Consistency","RefreshMode":"Pull","Status":"Success","ReportFormatVersion":"2.0","StartTime":"2024-01-01T00:00:00.0000000+00:00","EndTime":"2024-01-01T00:00:05.0000000+00:00","Errors":[],"StatusData":["{{\"Status\":\"Success\",\"NumberOfResources\":3,\"ResourcesInDesiredState\":[{}],\"ResourcesNotInDesiredState\":[{}]}}"]}}"#,
        good.join(","),
        bad.join(",")
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: bench_seed STORE AGENTS REPORTS AGENT_LIST_FILE");
        std::process::exit(1);
    }
    let postgres = args[1].starts_with("postgres");
    let location = dsc_pull_server::storage::StorageLocation {
        database: postgres.then(|| args[1].clone()),
        database_ca: None,
        content: std::env::var("TRAEK_CONTENT_URL").ok(),
        data_dir: if postgres {
            std::path::PathBuf::from("traek-data")
        } else {
            std::path::PathBuf::from(&args[1])
        },
    };
    let agents: usize = args[2].parse().expect("AGENTS must be a number");
    let reports: usize = args[3].parse().expect("REPORTS must be a number");
    let storage = dsc_pull_server::storage::open(&location)
        .await
        .expect("open storage");
    storage
        .put_content(
            ContentKey::Configuration {
                name: "BenchConfig".into(),
            },
            Bytes::from_static(b"\xff\xfeinstance of OMI_ConfigurationDocument {};"),
        )
        .await
        .expect("publish");
    let mut list = std::fs::File::create(&args[4]).expect("agent list");
    let mut ids = Vec::with_capacity(agents);
    let start = std::time::Instant::now();
    // Many concurrent writes let the writer thread batch them.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..agents {
        let id = Uuid::new_v4();
        ids.push(id);
        writeln!(list, "{}", id.to_string().to_uppercase()).expect("write agent list");
        let s = storage.clone();
        tasks.spawn(async move {
            let request = RegisterRequest {
                agent_information: AgentInformation {
                    lcm_version: "2.0".into(),
                    node_name: format!("NODE{i:06}"),
                    ip_address: format!(
                        "10.{}.{}.{};127.0.0.1",
                        i >> 16 & 255,
                        i >> 8 & 255,
                        i & 255
                    ),
                },
                configuration_names: Some(vec!["BenchConfig".into()]),
                registration_information: RegistrationInformation {
                    certificate_information: None,
                    registration_message_type: RegistrationMessageType::ConfigurationRepository,
                },
            };
            s.register(Registration {
                agent_id: id,
                message_type: RegistrationMessageType::ConfigurationRepository,
                key_id: "BENCH".into(),
                registered_at: 0,
                request,
                pin: None,
            })
            .await
            .expect("register");
        });
        if tasks.len() >= 2048 {
            while tasks.join_next().await.is_some() {}
        }
    }
    while tasks.join_next().await.is_some() {}
    eprintln!("registered {agents} agents in {:.1?}", start.elapsed());
    let start = std::time::Instant::now();
    for i in 0..reports {
        let agent = ids[i % ids.len().max(1)];
        let job = Uuid::new_v4();
        // Three resources; every tenth run has one out of the desired state.
        let drifted = i % 10 == 0;
        let body = report_body(job, drifted);
        let summary = parse_report(body.as_bytes()).expect("report");
        let s = storage.clone();
        tasks.spawn(async move {
            s.store_report(agent, summary, Bytes::from(body))
                .await
                .expect("store");
        });
        if tasks.len() >= 4096 {
            while tasks.join_next().await.is_some() {}
        }
    }
    while tasks.join_next().await.is_some() {}
    eprintln!("stored {reports} reports in {:.1?}", start.elapsed());
    storage.flush().await.expect("flush");
}
