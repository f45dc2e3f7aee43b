//! The storage behaviour suite: every check is written against the `Storage` trait only, so a
//! new backend (PostgreSQL + object storage, say) runs the same checks by adding its factory to
//! `backends()`. It runs on SQLite (blobs on disk) and on PostgreSQL (blobs in S3).

use bytes::Bytes;
use dsc_core::pull::messages::*;
use dsc_core::pull::signin::Throttle;
mod common;

use dsc_pull_server::storage::blobs::{BlobStore, FileBlobs, ObjectBlobs};
use dsc_pull_server::storage::postgres::PgStorage;
use dsc_pull_server::storage::sqlite::SqliteStorage;
use dsc_pull_server::storage::*;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use uuid::Uuid;

/// A backend under test, and whatever keeps its resources alive.
struct Backend {
    name: &'static str,
    storage: Arc<dyn Storage>,
    blobs: Arc<dyn BlobStore>,
    reopen: Reopen,
    _keep: Box<dyn std::any::Any>,
}

type Reopen = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Arc<dyn Storage>>>>>;

fn s3_blobs(url: &str) -> Arc<dyn BlobStore> {
    let env = common::s3_env();
    let get = |k: &str| {
        env.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap()
    };
    let settings = [
        ("aws_endpoint", get("AWS_ENDPOINT_URL")),
        ("aws_access_key_id", get("AWS_ACCESS_KEY_ID")),
        ("aws_secret_access_key", get("AWS_SECRET_ACCESS_KEY")),
        ("aws_region", get("AWS_REGION")),
        ("aws_allow_http", "true"),
    ];
    Arc::new(ObjectBlobs::s3_with(url, &settings).unwrap())
}

/// SQLite with blobs on disk, and PostgreSQL with blobs in S3 (`database`, `content`: fresh ones).
async fn backends(database: String, content: String) -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let file_blobs: Arc<dyn BlobStore> = Arc::new(FileBlobs::new(path.join("blobs")).unwrap());
    let sqlite: Arc<dyn Storage> =
        Arc::new(SqliteStorage::open_with(&path, Arc::clone(&file_blobs)).unwrap());
    let s3 = s3_blobs(&content);
    let pg: Arc<dyn Storage> = Arc::new(
        PgStorage::connect(&database, Arc::clone(&s3))
            .await
            .unwrap(),
    );
    let pg_blobs = Arc::clone(&s3);
    vec![
        Backend {
            name: "sqlite",
            storage: sqlite,
            blobs: file_blobs,
            reopen: Box::new(move || {
                let path = path.clone();
                Box::pin(async move {
                    Arc::new(SqliteStorage::open(&path).unwrap()) as Arc<dyn Storage>
                })
            }),
            _keep: Box::new(dir),
        },
        Backend {
            name: "postgres+s3",
            storage: pg,
            blobs: s3,
            reopen: Box::new(move || {
                let (database, blobs) = (database.clone(), Arc::clone(&pg_blobs));
                Box::pin(async move {
                    Arc::new(PgStorage::connect(&database, blobs).await.unwrap())
                        as Arc<dyn Storage>
                })
            }),
            _keep: Box::new(()),
        },
    ]
}

fn registration(
    agent: Uuid,
    kind: RegistrationMessageType,
    names: Option<&[&str]>,
) -> Registration {
    Registration {
        agent_id: agent,
        message_type: kind,
        key_id: "KEY1".into(),
        registered_at: 1_700_000_000,
        request: RegisterRequest {
            agent_information: AgentInformation {
                lcm_version: "2.0".into(),
                node_name: "N1".into(),
                ip_address: "10.0.0.1;::1".into(),
            },
            configuration_names: names.map(|n| n.iter().map(|s| s.to_string()).collect()),
            registration_information: RegistrationInformation {
                certificate_information: None,
                registration_message_type: kind,
            },
        },
        pin: None,
    }
}

fn report(job: Uuid, status: Option<&str>) -> (ReportSummary, Bytes) {
    let mut v = serde_json::json!({"JobId": job.to_string(), "StartTime": "2024-01-01T00:00:00+00:00", "Errors": []});
    if let Some(s) = status {
        v["Status"] = s.into();
    }
    let body = Bytes::from(serde_json::to_vec(&v).unwrap());
    (parse_report(&body).unwrap(), body)
}

fn run(check: impl Fn(&Backend) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let database = common::fresh_database();
    let content = common::fresh_s3_url();
    for b in rt.block_on(backends(database, content)) {
        eprintln!("backend: {}", b.name);
        rt.block_on(check(&b));
    }
}

#[test]
fn registrations_are_kept_per_message_type() {
    run(|b| {
        Box::pin(async move {
            let s = &b.storage;
            let a = Uuid::new_v4();
            assert!(s.agent(a).await.unwrap().is_none());
            s.register(registration(
                a,
                RegistrationMessageType::ConfigurationRepository,
                Some(&["Web"]),
            ))
            .await
            .unwrap();
            s.register(registration(a, RegistrationMessageType::ReportServer, None))
                .await
                .unwrap();
            s.register(registration(
                a,
                RegistrationMessageType::ResourceRepository,
                None,
            ))
            .await
            .unwrap();
            assert_eq!(
                s.agent(a).await.unwrap().unwrap().registered_names,
                vec!["Web"]
            );
            // re-registration updates
            s.register(registration(
                a,
                RegistrationMessageType::ConfigurationRepository,
                Some(&["Web", "Db"]),
            ))
            .await
            .unwrap();
            assert_eq!(
                s.agent(a).await.unwrap().unwrap().registered_names,
                vec!["Web", "Db"]
            );
            let node = s.node(a).await.unwrap().unwrap();
            assert_eq!(node.registration_types.len(), 3);
            assert_eq!(node.ip_addresses, vec!["10.0.0.1", "::1"]);
            assert_eq!(node.node_name.as_deref(), Some("N1"));
            assert_eq!(s.agent_count().await.unwrap(), 1);
        })
    });
}

#[test]
fn assignments_take_precedence_and_can_be_cleared() {
    run(|b| {
        Box::pin(async move {
            let s = &b.storage;
            let a = Uuid::new_v4();
            assert!(
                !s.assign(a, Some(vec!["X".into()])).await.unwrap(),
                "unknown agent"
            );
            s.register(registration(
                a,
                RegistrationMessageType::ConfigurationRepository,
                Some(&["Web"]),
            ))
            .await
            .unwrap();
            assert!(s.assign(a, Some(vec!["Db".into()])).await.unwrap());
            assert_eq!(
                s.effective_names(&s.agent(a).await.unwrap().unwrap()),
                ["Db".to_string()]
            );
            // a later registration does not undo the administrator's choice
            s.register(registration(
                a,
                RegistrationMessageType::ConfigurationRepository,
                Some(&["Web"]),
            ))
            .await
            .unwrap();
            assert_eq!(
                s.effective_names(&s.agent(a).await.unwrap().unwrap()),
                ["Db".to_string()]
            );
            assert!(s.assign(a, None).await.unwrap());
            assert_eq!(
                s.effective_names(&s.agent(a).await.unwrap().unwrap()),
                ["Web".to_string()]
            );
        })
    });
}

#[test]
fn unregistering_removes_the_agent_but_keeps_its_reports() {
    run(|b| {
        Box::pin(async move {
            let s = &b.storage;
            let a = Uuid::new_v4();
            s.register(registration(a, RegistrationMessageType::ReportServer, None))
                .await
                .unwrap();
            let (sum, body) = report(Uuid::new_v4(), Some("Success"));
            s.store_report(a, sum, body).await.unwrap();
            assert!(s.unregister(a).await.unwrap());
            assert!(!s.unregister(a).await.unwrap());
            assert!(s.agent(a).await.unwrap().is_none());
            assert!(s.node(a).await.unwrap().is_none());
            assert_eq!(
                s.reports(ReportFilter {
                    agent_id: Some(a),
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap()
                .len(),
                1
            );
        })
    });
}

#[test]
fn a_report_kept_once_per_job_is_stored_once_however_often_and_concurrently_it_is_sent() {
    run(|b| {
        Box::pin(async move {
            let s = &b.storage;
            let a = Uuid::new_v4();
            s.register(registration(a, RegistrationMessageType::ReportServer, None))
                .await
                .unwrap();
            let job = Uuid::new_v4();
            let (mut once, body) = report(job, Some("Success"));
            once.once_per_job = true;
            let first = s.store_report(a, once.clone(), body.clone()).await.unwrap();
            // Resent, also several at a time (a retrying agent, two replicas).
            let again = futures_util::future::join_all(
                (0..4).map(|_| s.store_report(a, once.clone(), body.clone())),
            )
            .await;
            for id in again {
                assert_eq!(id.unwrap(), first, "{}", b.name);
            }
            // An LCM's reports of one job are all kept.
            let (lcm, lcm_body) = report(job, Some("Failure"));
            s.store_report(a, lcm.clone(), lcm_body.clone())
                .await
                .unwrap();
            s.store_report(a, lcm, lcm_body).await.unwrap();
            s.flush().await.unwrap();
            let stored = s
                .reports(ReportFilter {
                    agent_id: Some(a),
                    job_id: Some(job),
                    limit: 100,
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(stored.len(), 3, "{}", b.name);
        })
    });
}

#[test]
fn reports_are_stored_byte_for_byte_and_queried_by_filters() {
    run(|b| {
        Box::pin(async move {
            let s = &b.storage;
            let (a1, a2) = (Uuid::new_v4(), Uuid::new_v4());
            for a in [a1, a2] {
                s.register(registration(a, RegistrationMessageType::ReportServer, None))
                    .await
                    .unwrap();
            }
            let job = Uuid::new_v4();
            let (s1, b1) = report(job, None);
            let (s2, b2) = report(job, Some("Failure"));
            let id1 = s.store_report(a1, s1, b1.clone()).await.unwrap();
            let id2 = s.store_report(a1, s2, b2.clone()).await.unwrap();
            assert!(id2 > id1);
            for i in 0..5 {
                let (sum, body) = report(
                    Uuid::new_v4(),
                    Some(if i % 2 == 0 { "Success" } else { "Failure" }),
                );
                s.store_report(a2, sum, body).await.unwrap();
            }
            let mine = s
                .reports(ReportFilter {
                    agent_id: Some(a1),
                    limit: 100,
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(
                mine.iter().map(|r| r.body.clone()).collect::<Vec<_>>(),
                vec![b1, b2]
            );
            assert_eq!(
                s.reports(ReportFilter {
                    job_id: Some(job),
                    limit: 100,
                    ..Default::default()
                })
                .await
                .unwrap()
                .len(),
                2
            );
            assert_eq!(
                s.reports(ReportFilter {
                    status: Some("Failure".into()),
                    limit: 100,
                    ..Default::default()
                })
                .await
                .unwrap()
                .len(),
                3
            );
            let page1 = s
                .reports(ReportFilter {
                    agent_id: Some(a2),
                    limit: 2,
                    ..Default::default()
                })
                .await
                .unwrap();
            let page2 = s
                .reports(ReportFilter {
                    agent_id: Some(a2),
                    limit: 2,
                    after_id: page1.last().map(|r| r.id),
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(page1.len() + page2.len(), 4);
            assert!(page2[0].id > page1[1].id);
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            assert_eq!(
                s.reports(ReportFilter {
                    since: Some(now + 100),
                    limit: 100,
                    ..Default::default()
                })
                .await
                .unwrap()
                .len(),
                0
            );
            assert_eq!(
                s.reports(ReportFilter {
                    until: Some(now + 100),
                    limit: 100,
                    ..Default::default()
                })
                .await
                .unwrap()
                .len(),
                7
            );
            assert_eq!(s.report_count().await.unwrap(), 7);
            assert_eq!(
                s.node(a1)
                    .await
                    .unwrap()
                    .unwrap()
                    .last_report_status
                    .as_deref(),
                Some("Failure")
            );
        })
    });
}

#[test]
fn content_round_trips_and_names_match_case_insensitively() {
    run(|b| {
        Box::pin(async move {
            let s = &b.storage;
            let mof = Bytes::from_static(b"\xff\xfeM\x00O\x00F\x00");
            let meta = s
                .put_content(
                    ContentKey::Configuration { name: "Web".into() },
                    mof.clone(),
                )
                .await
                .unwrap();
            assert_eq!(meta.checksum, dsc_core::pull::checksum::sha256_hex(&mof));
            assert_eq!(s.configuration_checksum("WEB"), Some(meta.checksum.clone()));
            let (m, bytes) = s
                .content(&ContentKey::Configuration { name: "web".into() })
                .await
                .unwrap()
                .unwrap();
            assert_eq!((m.name.as_str(), bytes), ("Web", mof));
            // replacing content updates the checksum
            let meta2 = s
                .put_content(
                    ContentKey::Configuration { name: "Web".into() },
                    Bytes::from_static(b"v2"),
                )
                .await
                .unwrap();
            assert_ne!(meta2.checksum, meta.checksum);
            assert_eq!(s.configuration_checksum("web"), Some(meta2.checksum));
            for v in ["1.0.0.0", "1.10.0.0", "1.9.0.0"] {
                s.put_content(
                    ContentKey::Module {
                        name: "xMod".into(),
                        version: v.into(),
                    },
                    Bytes::from(format!("PK{v}")),
                )
                .await
                .unwrap();
            }
            let newest = s
                .content_meta(&ContentKey::Module {
                    name: "XMOD".into(),
                    version: String::new(),
                })
                .await
                .unwrap()
                .unwrap();
            assert_eq!(newest.version.as_deref(), Some("1.10.0.0"));
            assert!(
                s.content_meta(&ContentKey::Module {
                    name: "xMod".into(),
                    version: "2.0".into()
                })
                .await
                .unwrap()
                .is_none()
            );
            assert_eq!(s.list_content(ContentKind::Module).await.unwrap().len(), 3);
            assert_eq!(
                s.list_content(ContentKind::Configuration)
                    .await
                    .unwrap()
                    .len(),
                1
            );
            assert!(
                s.delete_content(&ContentKey::Configuration { name: "WEB".into() })
                    .await
                    .unwrap()
            );
            assert!(
                !s.delete_content(&ContentKey::Configuration { name: "Web".into() })
                    .await
                    .unwrap()
            );
            assert_eq!(s.configuration_checksum("Web"), None);
        })
    });
}

#[test]
fn node_list_pages_in_agent_id_order_and_last_seen_is_flushed() {
    run(|b| {
        Box::pin(async move {
            let s = &b.storage;
            let mut ids: Vec<Uuid> = (0..7).map(|_| Uuid::new_v4()).collect();
            for a in &ids {
                s.register(registration(
                    *a,
                    RegistrationMessageType::ConfigurationRepository,
                    Some(&["Web"]),
                ))
                .await
                .unwrap();
            }
            ids.sort();
            let p1 = s.nodes(None, 4).await.unwrap();
            let p2 = s.nodes(p1.last().map(|n| n.agent_id), 4).await.unwrap();
            let listed: Vec<Uuid> = p1.iter().chain(&p2).map(|n| n.agent_id).collect();
            assert_eq!(listed, ids);
            s.touch(ids[0], 1_900_000_000);
            s.flush().await.unwrap();
            let reopened = (b.reopen)().await;
            assert_eq!(
                reopened.node(ids[0]).await.unwrap().unwrap().last_seen,
                Some(1_900_000_000)
            );
        })
    });
}

#[test]
fn an_agent_has_one_pinned_certificate_in_memory_and_after_reopening() {
    run(|b| {
        Box::pin(async move {
            let s = &b.storage;
            let a = Uuid::new_v4();
            let pin = |t: &str| dsc_pull_server::storage::Pin {
                thumbprint: t.into(),
                not_after: Some("2030-01-01T00:00:00Z".into()),
            };
            let mut r = registration(
                a,
                RegistrationMessageType::ConfigurationRepository,
                Some(&["Web"]),
            );
            r.pin = Some(pin("AAAA"));
            s.register(r).await.unwrap();
            // A registration of another type that leaves the pin alone does not add a second one.
            s.register(registration(a, RegistrationMessageType::ReportServer, None))
                .await
                .unwrap();
            let mut renewed = registration(a, RegistrationMessageType::ReportServer, None);
            renewed.pin = Some(pin("BBBB"));
            s.register(renewed).await.unwrap();
            let now = s.agent(a).await.unwrap().unwrap();
            assert_eq!(now.pin.as_ref().unwrap().thumbprint, "BBBB");
            let reopened = (b.reopen)().await;
            let view = reopened.agent(a).await.unwrap().unwrap();
            assert_eq!(view.pin, now.pin);
            assert!(reopened.release_pin(a).await.unwrap());
            assert_eq!(reopened.agent(a).await.unwrap().unwrap().pin, None);
            let again = (b.reopen)().await;
            assert_eq!(again.agent(a).await.unwrap().unwrap().pin, None);
            assert!(!again.release_pin(Uuid::new_v4()).await.unwrap());
        })
    });
}

#[test]
fn everything_acknowledged_is_there_after_reopening() {
    run(|b| {
        Box::pin(async move {
            let s = &b.storage;
            let a = Uuid::new_v4();
            s.register(registration(
                a,
                RegistrationMessageType::ConfigurationRepository,
                Some(&["Web"]),
            ))
            .await
            .unwrap();
            s.assign(a, Some(vec!["Db".into()])).await.unwrap();
            s.put_content(
                ContentKey::Configuration { name: "Db".into() },
                Bytes::from_static(b"db"),
            )
            .await
            .unwrap();
            let (sum, body) = report(Uuid::new_v4(), Some("Success"));
            s.store_report(a, sum, body).await.unwrap();
            let r = (b.reopen)().await;
            let view = r.agent(a).await.unwrap().unwrap();
            assert_eq!(view.registered_names, vec!["Web"]);
            assert_eq!(r.effective_names(&view), ["Db".to_string()]);
            assert_eq!(
                r.configuration_checksum("db"),
                Some(dsc_core::pull::checksum::sha256_hex(b"db"))
            );
            assert_eq!(r.report_count().await.unwrap(), 1);
        })
    });
}

#[test]
fn registration_keys_are_added_revoked_and_re_activated() {
    run(|b| {
        Box::pin(async move {
            let s = &b.storage;
            assert!(s.registration_keys().await.unwrap().is_empty());
            assert_eq!(
                s.add_registration_keys(vec!["k1".into(), "k2".into()], "file")
                    .await
                    .unwrap(),
                2
            );
            assert_eq!(
                s.add_registration_keys(vec!["k1".into()], "api")
                    .await
                    .unwrap(),
                0,
                "already active"
            );
            let keys = s.registration_keys().await.unwrap();
            assert_eq!(
                keys.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(),
                vec!["k1", "k2"]
            );
            assert_eq!(keys[0].source, "file");
            assert_eq!(keys[0].id, dsc_core::pull::auth::key_id("k1"));
            // revoke by id, then by value
            assert_eq!(
                s.revoke_registration_key(&keys[0].id.to_lowercase())
                    .await
                    .unwrap()
                    .as_deref(),
                Some("k1")
            );
            assert_eq!(
                s.revoke_registration_key("k1").await.unwrap(),
                None,
                "already revoked"
            );
            assert_eq!(
                s.revoke_registration_key("k2").await.unwrap().as_deref(),
                Some("k2")
            );
            assert!(s.registration_keys().await.unwrap().is_empty());
            assert_eq!(
                s.add_registration_keys(vec!["k1".into()], "api")
                    .await
                    .unwrap(),
                1,
                "re-activated"
            );
            let r = (b.reopen)().await;
            assert_eq!(
                r.registration_keys()
                    .await
                    .unwrap()
                    .iter()
                    .map(|k| k.key.as_str())
                    .collect::<Vec<_>>(),
                vec!["k1"]
            );
        })
    });
}

#[test]
fn retention_keeps_each_nodes_newest_reports_and_its_status() {
    run(|b| {
        Box::pin(async move {
            let s = &b.storage;
            let (busy, quiet) = (Uuid::new_v4(), Uuid::new_v4());
            for a in [busy, quiet] {
                s.register(registration(a, RegistrationMessageType::ReportServer, None))
                    .await
                    .unwrap();
            }
            let mut busy_ids = Vec::new();
            for i in 0..20 {
                let status = if i == 19 { "Failure" } else { "Success" };
                let (sum, body) = report(Uuid::new_v4(), Some(status));
                busy_ids.push(s.store_report(busy, sum, body).await.unwrap());
            }
            for _ in 0..3 {
                let (sum, body) = report(Uuid::new_v4(), Some("Success"));
                s.store_report(quiet, sum, body).await.unwrap();
            }
            let policy = PrunePolicy {
                max_per_node: Some(5),
                ..Default::default()
            };
            assert_eq!(s.prune(&policy).await.unwrap(), 15);
            let kept = |agent| {
                let filter = ReportFilter {
                    agent_id: Some(agent),
                    limit: 100,
                    ..Default::default()
                };
                async move {
                    s.reports(filter)
                        .await
                        .unwrap()
                        .iter()
                        .map(|r| r.id)
                        .collect::<Vec<_>>()
                }
            };
            assert_eq!(kept(busy).await, busy_ids[15..].to_vec());
            assert_eq!(kept(quiet).await.len(), 3);
            let node = s.node(busy).await.unwrap().unwrap();
            assert_eq!(node.last_report_status.as_deref(), Some("Failure"));
            // An age limit that covers every report still keeps each node's newest.
            let policy = PrunePolicy {
                older_than: Some(now_unix() + 10),
                ..Default::default()
            };
            assert_eq!(s.prune(&policy).await.unwrap(), 4 + 2);
            assert_eq!(kept(busy).await, vec![busy_ids[19]]);
            assert_eq!(kept(quiet).await.len(), 1);
            assert_eq!(
                s.node(busy)
                    .await
                    .unwrap()
                    .unwrap()
                    .last_report_status
                    .as_deref(),
                Some("Failure")
            );
        })
    });
}

#[test]
fn content_blobs_are_removed_once_nothing_references_them() {
    run(|b| {
        Box::pin(async move {
            let s = &b.storage;
            let shared = Bytes::from_static(b"the same bytes");
            let checksum = dsc_core::pull::checksum::sha256_hex(&shared);
            let a = ContentKey::Configuration { name: "A".into() };
            let bk = ContentKey::Configuration { name: "B".into() };
            s.put_content(a.clone(), shared.clone()).await.unwrap();
            s.put_content(bk.clone(), shared.clone()).await.unwrap();
            assert!(s.delete_content(&a).await.unwrap());
            assert_eq!(
                s.content(&bk).await.unwrap().unwrap().1,
                shared,
                "still referenced by B"
            );
            assert!(b.blobs.list().await.unwrap().contains(&checksum));
            // Replacing B's bytes releases the old blob.
            s.put_content(bk.clone(), Bytes::from_static(b"new"))
                .await
                .unwrap();
            assert!(!b.blobs.list().await.unwrap().contains(&checksum));
            // A blob left behind by a crash between upload and commit goes at the next prune.
            b.blobs
                .put(&"A".repeat(64), Bytes::from_static(b"orphan"))
                .await
                .unwrap();
            s.prune(&PrunePolicy::default()).await.unwrap();
            let left = b.blobs.list().await.unwrap();
            assert!(!left.contains(&"A".repeat(64)));
            assert_eq!(left, vec![dsc_core::pull::checksum::sha256_hex(b"new")]);
        })
    });
}

#[test]
fn sixty_four_concurrent_reads_all_succeed() {
    run(|b| {
        Box::pin(async move {
            let s = &b.storage;
            let a = Uuid::new_v4();
            s.register(registration(
                a,
                RegistrationMessageType::ConfigurationRepository,
                Some(&["Web"]),
            ))
            .await
            .unwrap();
            let reads = (0..64).map(|i| async move {
                if i % 2 == 0 {
                    s.node(a).await.map(|n| n.is_some())
                } else {
                    s.nodes(None, 100).await.map(|n| n.len() == 1)
                }
            });
            let results = futures_util::future::join_all(reads).await;
            assert!(results.iter().all(|r| matches!(r, Ok(true))), "{results:?}");
        })
    });
}

#[test]
fn a_configuration_name_holds_a_mof_and_a_package_side_by_side() {
    run(|b| {
        Box::pin(async move {
            let s = &b.storage;
            let mof = ContentKey::Configuration { name: "Web".into() };
            let pkg = ContentKey::Package { name: "Web".into() };
            s.put_content(mof.clone(), Bytes::from_static(b"mof"))
                .await
                .unwrap();
            let meta = s
                .put_signed_content(
                    pkg.clone(),
                    Bytes::from_static(b"package"),
                    vec!["AB12".into()],
                )
                .await
                .unwrap();
            assert_eq!(meta.signers, ["AB12"]);
            let sum = |b: &[u8]| Some(dsc_core::pull::checksum::sha256_hex(b));
            assert_eq!(s.configuration_checksum("web"), sum(b"mof"));
            assert_eq!(s.package_checksum("WEB"), sum(b"package"));
            assert_eq!(
                s.content(&pkg).await.unwrap().unwrap().1,
                Bytes::from_static(b"package")
            );
            let listed = s.list_content(ContentKind::Package).await.unwrap();
            assert_eq!(
                (listed.len(), listed[0].signers.clone()),
                (1, vec!["AB12".to_string()])
            );
            assert_eq!(
                s.list_content(ContentKind::Configuration)
                    .await
                    .unwrap()
                    .len(),
                1
            );
            assert!(s.delete_content(&pkg).await.unwrap());
            assert_eq!(s.package_checksum("Web"), None);
            assert_eq!(
                s.configuration_checksum("Web"),
                sum(b"mof"),
                "the MOF stays"
            );
            let reopened = (b.reopen)().await;
            assert_eq!(reopened.configuration_checksum("Web"), sum(b"mof"));
        })
    });
}

/// A final report whose run had these resources in and out of the desired state.
fn run_report(status: &str, ok: &[&str], not_ok: &[&str]) -> (ReportSummary, Bytes) {
    let list = |ids: &[&str], in_state: bool| -> Vec<serde_json::Value> {
        ids.iter()
            .map(|id| serde_json::json!({"ResourceId": id, "ModuleName": "M", "InDesiredState": in_state}))
            .collect()
    };
    let data = serde_json::json!({"ResourcesInDesiredState": list(ok, true), "ResourcesNotInDesiredState": list(not_ok, false)});
    let v = serde_json::json!({"JobId": Uuid::new_v4().to_string(), "Status": status, "Errors": [], "StatusData": [data.to_string()]});
    let body = Bytes::from(serde_json::to_vec(&v).unwrap());
    (parse_report(&body).unwrap(), body)
}

#[test]
fn the_latest_run_decides_a_nodes_status_and_the_summary_counts_them() {
    use dsc_core::pull::compliance::ComplianceStatus as S;
    run(|b| {
        Box::pin(async move {
            let s = &b.storage;
            let ids: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
            for a in &ids {
                s.register(registration(
                    *a,
                    RegistrationMessageType::ConfigurationRepository,
                    Some(&["Web"]),
                ))
                .await
                .unwrap();
            }
            let (compliant, drifted, failed, pending) = (ids[0], ids[1], ids[2], ids[3]);
            // A drifted run first, then a compliant one: the latest decides.
            let (sum, body) = run_report("Success", &[], &["[File]a"]);
            s.store_report(compliant, sum, body).await.unwrap();
            let (sum, body) = run_report("Success", &["[File]a", "[File]b"], &[]);
            s.store_report(compliant, sum, body).await.unwrap();
            let (sum, body) = run_report("Success", &["[File]a"], &["[File]b"]);
            s.store_report(drifted, sum, body).await.unwrap();
            let (sum, body) = run_report("Failure", &[], &["[File]b"]);
            s.store_report(failed, sum, body).await.unwrap();
            // A start report (no Status) decides nothing.
            let (sum, body) = report(Uuid::new_v4(), None);
            s.store_report(failed, sum, body).await.unwrap();
            let now = now_unix();
            let summary = s.summary(now, 7200).await.unwrap();
            let count = |st: S| summary.statuses[st.as_str()];
            assert_eq!(
                (
                    count(S::Compliant),
                    count(S::NonCompliant),
                    count(S::Failed),
                    count(S::Pending),
                    count(S::Stale)
                ),
                (1, 1, 1, 1, 0)
            );
            assert_eq!(summary.failing_resources[0].name, "[File]b");
            assert_eq!(summary.failing_resources[0].nodes, 2);
            assert_eq!(summary.configurations[0].name, "Web");
            assert_eq!(summary.configurations[0].nodes, 4);
            let today = summary.daily.last().unwrap();
            assert_eq!(summary.daily.len(), 30);
            assert_eq!(
                (
                    today.counts["compliant"],
                    today.counts["non-compliant"],
                    today.counts["failed"]
                ),
                (1, 1, 1),
                "the compliant node's earlier drifted run that day is replaced"
            );
            let resources = s.node_resources(drifted).await.unwrap();
            let states: Vec<(String, bool)> = resources
                .iter()
                .map(|r| (r.resource_id.clone(), r.in_desired_state))
                .collect();
            assert_eq!(
                states,
                [
                    ("[File]a".to_string(), true),
                    ("[File]b".to_string(), false)
                ]
            );
            let find = |status, now| {
                let q = NodeQuery {
                    limit: 100,
                    status: Some(status),
                    now,
                    stale_after: 7200,
                    ..Default::default()
                };
                async move {
                    s.find_nodes(&q)
                        .await
                        .unwrap()
                        .iter()
                        .map(|n| (n.agent_id, n.status))
                        .collect::<Vec<_>>()
                }
            };
            assert_eq!(find(S::Failed, now).await, [(failed, S::Failed)]);
            assert_eq!(find(S::Pending, now).await, [(pending, S::Pending)]);
            // Three hours later every node that ran is stale; the pending one stays pending.
            let later = now + 3 * 3600;
            assert_eq!(find(S::Stale, later).await.len(), 3);
            assert_eq!(s.summary(later, 7200).await.unwrap().statuses["stale"], 3);
            assert!(find(S::Compliant, later).await.is_empty());
            // The counts follow a node that goes away, and one whose status changes.
            assert!(s.unregister(failed).await.unwrap());
            let (sum, body) = run_report("Failure", &[], &["[File]a"]);
            s.store_report(compliant, sum, body).await.unwrap();
            let summary = s.summary(now_unix(), 7200).await.unwrap();
            let count = |st: S| summary.statuses[st.as_str()];
            assert_eq!(
                (
                    count(S::Compliant),
                    count(S::NonCompliant),
                    count(S::Failed),
                    count(S::Pending),
                    count(S::Stale)
                ),
                (0, 1, 1, 1, 0)
            );
        })
    });
}

#[test]
fn users_sessions_tokens_and_the_audit_trail_are_kept() {
    use dsc_pull_server::storage::accounts::*;
    run(|b| {
        Box::pin(async move {
            let a = b.storage.accounts();
            let user = |name: &str, role: &str| User {
                name: name.into(),
                role: role.into(),
                created_at: 1,
                password_hash: format!("hash-of-{name}"),
            };
            assert!(a.add_user(&user("Alice", "admin")).await.unwrap());
            assert!(
                !a.add_user(&user("alice", "viewer")).await.unwrap(),
                "names are case-insensitive"
            );
            assert!(a.add_user(&user("bob", "viewer")).await.unwrap());
            assert_eq!(a.user("ALICE").await.unwrap().unwrap().role, "admin");
            assert_eq!(a.users().await.unwrap().len(), 2);
            // sign-in attempts: free ones pass, then each waits longer; a success forgets them
            let t = Throttle {
                free: 3,
                max_delay_secs: 8,
            };
            for _ in 0..3 {
                assert_eq!(a.claim_attempt("name:bob", t, 100).await.unwrap(), None);
            }
            assert_eq!(a.claim_attempt("name:bob", t, 100).await.unwrap(), Some(2));
            assert_eq!(a.claim_attempt("name:bob", t, 101).await.unwrap(), Some(1));
            assert_eq!(a.claim_attempt("name:bob", t, 102).await.unwrap(), None);
            a.attempt_failed(&["name:bob"], 103).await.unwrap();
            assert_eq!(a.claim_attempt("name:bob", t, 105).await.unwrap(), Some(1));
            assert_eq!(a.claim_attempt("name:bob", t, 106).await.unwrap(), None);
            a.attempt_succeeded("name:bob", "addr:x").await.unwrap();
            assert_eq!(a.claim_attempt("name:bob", t, 106).await.unwrap(), None);
            // parallel claims: exactly the free ones pass
            let claims = futures_util::future::join_all(
                (0..10).map(|_| a.claim_attempt("addr:10.0.0.1", t, 200)),
            )
            .await;
            let passed = claims.iter().filter(|c| matches!(c, Ok(None))).count();
            assert_eq!(passed, 3, "{claims:?}");
            // sessions: found while live, gone after expiry or removal
            let s = Session {
                id_hash: "s1".into(),
                user: "alice".into(),
                csrf: "c1".into(),
                expires_at: 1000,
            };
            a.add_session(&s, 10).await.unwrap();
            let (found, owner) = a.session("s1", 500).await.unwrap().unwrap();
            assert_eq!(
                (
                    found.csrf.as_str(),
                    owner.name.as_str(),
                    owner.role.as_str()
                ),
                ("c1", "Alice", "admin")
            );
            assert!(a.session("s1", 1001).await.unwrap().is_none(), "expired");
            a.remove_session("s1").await.unwrap();
            assert!(a.session("s1", 500).await.unwrap().is_none());
            // tokens: found by hash, listed, revoked, expired
            let token = |id: &str, user: &str, expires: Option<i64>| ApiToken {
                id: id.into(),
                user: user.into(),
                name: format!("{id}-name"),
                created_at: 5,
                expires_at: expires,
                revoked: false,
                parent: None,
                hash: format!("h-{id}"),
            };
            a.add_token(&token("t1", "bob", None)).await.unwrap();
            a.add_token(&token("t2", "bob", Some(50))).await.unwrap();
            a.add_token(&token("t3", "alice", None)).await.unwrap();
            assert_eq!(a.token("h-t1", 10).await.unwrap().unwrap().1.role, "viewer");
            assert!(a.token("h-t2", 60).await.unwrap().is_none(), "expired");
            assert_eq!(a.tokens(Some("bob")).await.unwrap().len(), 2);
            assert_eq!(a.tokens(None).await.unwrap().len(), 3);
            assert!(
                !a.revoke_token("t3", Some("bob"), 20).await.unwrap(),
                "not bob's"
            );
            assert!(a.revoke_token("t1", Some("bob"), 20).await.unwrap());
            assert!(a.token("h-t1", 30).await.unwrap().is_none(), "revoked");
            // removing a user removes their tokens
            assert!(a.remove_user("bob").await.unwrap());
            assert!(!a.remove_user("bob").await.unwrap());
            assert_eq!(a.tokens(None).await.unwrap().len(), 1);
            // audit: newest first, filtered
            for (i, (actor, action)) in
                [("alice", "assign"), ("bob", "login"), ("alice", "key.add")]
                    .iter()
                    .enumerate()
            {
                let at = 1000 + i as i64;
                let e = AuditEntry {
                    id: audit_id(time::OffsetDateTime::from_unix_timestamp(at).unwrap()),
                    at,
                    actor: actor.to_string(),
                    address: "127.0.0.1".into(),
                    action: action.to_string(),
                    target: "x".into(),
                    outcome: "ok".into(),
                };
                a.append_audit(&e).await.unwrap();
            }
            let all = a.audit(&AuditFilter::default()).await.unwrap();
            assert_eq!(
                all.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
                ["key.add", "login", "assign"]
            );
            let alice = a
                .audit(&AuditFilter {
                    actor: Some("alice".into()),
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(alice.len(), 2);
            let page = a
                .audit(&AuditFilter {
                    limit: 1,
                    before: Some(all[0].id.clone()),
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(page[0].action, "login");
            let ranged = a
                .audit(&AuditFilter {
                    since: Some(1001),
                    until: Some(1002),
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(ranged.len(), 1);
        })
    });
}

#[test]
fn a_node_gets_its_assignment_else_its_tags_names_else_what_it_registered() {
    run(|b| {
        Box::pin(async move {
            let s = &b.storage;
            let (tagged, plain) = (Uuid::new_v4(), Uuid::new_v4());
            for a in [tagged, plain] {
                s.register(registration(
                    a,
                    RegistrationMessageType::ConfigurationRepository,
                    Some(&["Base"]),
                ))
                .await
                .unwrap();
            }
            let names = |a: Uuid| async move {
                let view = s.agent(a).await.unwrap().unwrap();
                s.effective_names(&view)
            };
            assert!(
                s.set_tags(tagged, vec!["EU".into(), "web".into()])
                    .await
                    .unwrap()
            );
            assert!(
                !s.set_tags(Uuid::new_v4(), vec!["x".into()]).await.unwrap(),
                "unknown node"
            );
            assert_eq!(
                names(tagged).await,
                ["Base"],
                "tags without names change nothing"
            );
            s.set_tag_configurations("Web", Some(vec!["WebServer".into(), "Base".into()]))
                .await
                .unwrap();
            s.set_tag_configurations("eu", Some(vec!["EuPolicy".into()]))
                .await
                .unwrap();
            assert_eq!(names(tagged).await, ["EuPolicy", "WebServer", "Base"]);
            assert_eq!(names(plain).await, ["Base"]);
            s.assign(tagged, Some(vec!["Special".into()]))
                .await
                .unwrap();
            assert_eq!(
                names(tagged).await,
                ["Special"],
                "the node's own assignment wins"
            );
            s.assign(tagged, None).await.unwrap();
            s.set_tag_configurations("eu", None).await.unwrap();
            assert_eq!(names(tagged).await, ["WebServer", "Base"]);
            assert_eq!(
                s.tag_configurations().await.unwrap(),
                [(
                    "Web".to_string(),
                    vec!["WebServer".to_string(), "Base".to_string()]
                )]
            );
            // filters on tags, configurations and text
            let search = |q: NodeQuery| async move {
                s.search_nodes(&q)
                    .await
                    .unwrap()
                    .iter()
                    .map(|n| n.agent_id)
                    .collect::<Vec<_>>()
            };
            let q = |f: fn(&mut NodeQuery)| {
                let mut q = NodeQuery {
                    limit: 10,
                    ..Default::default()
                };
                f(&mut q);
                q
            };
            assert_eq!(search(q(|q| q.tag = Some("WEB".into()))).await, [tagged]);
            assert_eq!(
                search(q(|q| q.configuration = Some("webserver".into()))).await,
                [tagged]
            );
            assert_eq!(
                search(q(|q| q.configuration = Some("Base".into())))
                    .await
                    .len(),
                2
            );
            assert_eq!(search(q(|q| q.text = Some("10.0.0".into()))).await.len(), 2);
            assert!(
                search(q(|q| q.text = Some("nomatch".into())))
                    .await
                    .is_empty()
            );
            let node = s.node(tagged).await.unwrap().unwrap();
            assert_eq!(node.tags, ["EU", "web"]);
            let reopened = (b.reopen)().await;
            let view = reopened.agent(tagged).await.unwrap().unwrap();
            assert_eq!(
                reopened.effective_names(&view),
                ["WebServer", "Base"],
                "kept across a restart"
            );
        })
    });
}
