//! PostgreSQL storage, shared by any number of `traek-server` replicas.
//!
//! - Everything that matters is in the database: a replica keeps only caches. Schema
//!   migrations ([`schema`]) run at connect under an advisory lock.
//! - Registrations, assignments and content writes are single transactions; reports are group
//!   committed ([`ingest`]). An answer is sent only after the commit.
//! - The hot path reads the [`Cache`]; a cache miss reads the database. Writes announce what
//!   they changed with `pg_notify` inside their transaction and every replica's listener
//!   ([`notify`]) applies it, so a change made through one replica is obeyed by all of them
//!   within moments.
//! - A blob upload and the removal of an unreferenced blob with the same checksum hold the
//!   same transaction-scoped advisory lock, so removal never races an upload.
//! - Pruning holds a session advisory lock: one replica prunes at a time.
//! - Connections come from a pool with bounded waits: when the database is unreachable,
//!   operations fail fast with an "unavailable" error (503) and the pool reconnects by itself
//!   when it returns.

mod ingest;
mod notify;
pub mod schema;
mod target;

pub use target::Target;

use crate::storage::blobs::BlobStore;
use crate::storage::cache::Cache;
use crate::storage::*;
use async_trait::async_trait;
use bytes::Bytes;
use deadpool_postgres::{Pool, Runtime};
use dsc_core::pull::compliance::ResourceResult;
use dsc_core::pull::messages::ReportSummary;
use notify::Change;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Row;
use uuid::Uuid;

/// Connections per replica.
const POOL_SIZE: usize = 16;
/// How long a request waits for a pooled connection, and for a new one to connect.
const POOL_WAIT: Duration = Duration::from_secs(3);
/// Advisory lock namespaces (two-key form): blobs by checksum hash, and pruning.
const BLOB_LOCK: i32 = 0x7472_6b01;
const PRUNE_LOCK: i32 = 0x7472_6b02;

/// Refuses a URL that is not PostgreSQL's, with what to write instead.
pub fn check_url(url: &str) -> StorageResult<()> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(())
    } else {
        Err(StorageError::failed(format!(
            "database URL '{}' is not supported: use postgres://USER:PASSWORD@HOST:PORT/DATABASE (or leave --database unset for SQLite)",
            redact(url)
        )))
    }
}

/// The URL with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:*****{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Classifies a database error: lost or refused connections mean "unavailable" (503, retry);
/// anything PostgreSQL answered with an SQL state of its own is a failure (500), except the
/// states that mean the server is shutting down or starting up.
pub(crate) fn pg_error(e: tokio_postgres::Error) -> StorageError {
    let transient = match e.code() {
        None => true,
        Some(code) => {
            let c = code.code();
            c.starts_with("08") || c.starts_with("57P") || c == "53300"
        }
    };
    // The causes say what went wrong (e.g. which certificate check failed).
    let mut text = format!("database: {e}");
    let mut source = std::error::Error::source(&e).filter(|_| e.code().is_none());
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    if transient {
        StorageError::unavailable(text)
    } else {
        StorageError::failed(text)
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> StorageError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_error(e),
        other => StorageError::unavailable(format!("database: {other}")),
    }
}

/// What the storage and its background tasks share.
pub struct Shared {
    pool: Pool,
    cache: Cache,
}

impl Shared {
    async fn client(&self) -> StorageResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Reads every agent and configuration checksum into the cache.
    async fn reload_cache(&self) -> StorageResult<()> {
        let since = self.cache.views();
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT agent_id, assigned_names, last_seen, tags, pin_thumbprint, pin_not_after FROM agents",
                &[],
            )
            .await
            .map_err(pg_error)?;
        let mut agents: HashMap<Uuid, (AgentView, i64)> = rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    (
                        view_of(r.get(1), r.get(3), r.get(4), r.get(5)),
                        r.get::<_, Option<i64>>(2).unwrap_or(0),
                    ),
                )
            })
            .collect();
        let regs = client
            .query(
                "SELECT agent_id, message_type, configuration_names, lcm_version FROM registrations",
                &[],
            )
            .await
            .map_err(pg_error)?;
        for r in &regs {
            if let Some((view, _)) = agents.get_mut(&r.get::<_, Uuid>(0)) {
                view.add_registration(r.get(1), r.get(2), r.get(3));
            }
        }
        let checksums = client
            .query(
                "SELECT kind, name_key, checksum FROM content WHERE kind IN ('configuration', 'package')",
                &[],
            )
            .await
            .map_err(pg_error)?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let tags = client
            .query("SELECT tag_key, names FROM tag_configurations", &[])
            .await
            .map_err(pg_error)?
            .iter()
            .map(|r| (r.get::<_, String>(0), names_of(r.get::<_, Option<&str>>(1))))
            .collect();
        for id in self.cache.replace_agents_since(agents, since) {
            self.reload_agent(id).await?;
        }
        self.cache.replace_checksums(checksums);
        self.cache.replace_tag_names(tags);
        self.reload_rollouts().await
    }

    /// Reads the rollouts serving candidates into the cache.
    async fn reload_rollouts(&self) -> StorageResult<()> {
        let client = self.client().await?;
        let rows: Vec<Vec<crate::storage::accounts::SqlValue>> = client
            .query(crate::storage::rollouts::LIVE_QUERY, &[])
            .await
            .map_err(pg_error)?
            .iter()
            .map(|r| (0..r.len()).map(|i| sql::pg_value(r, i)).collect())
            .collect();
        self.cache
            .replace_rollouts(crate::storage::rollouts::live_from_rows(&rows));
        Ok(())
    }

    /// The agent's view and last-seen time, read from the database.
    async fn load_agent(&self, id: Uuid) -> StorageResult<Option<(AgentView, i64)>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT assigned_names, last_seen, tags, pin_thumbprint, pin_not_after FROM agents WHERE agent_id = $1",
            )
            .await
            .map_err(pg_error)?;
        let Some(row) = client.query_opt(&stmt, &[&id]).await.map_err(pg_error)? else {
            return Ok(None);
        };
        let mut view = view_of(row.get(0), row.get(2), row.get(3), row.get(4));
        let seen = row.get::<_, Option<i64>>(1).unwrap_or(0);
        let stmt = client
            .prepare_cached("SELECT message_type, configuration_names, lcm_version FROM registrations WHERE agent_id = $1")
            .await
            .map_err(pg_error)?;
        for r in client.query(&stmt, &[&id]).await.map_err(pg_error)? {
            view.add_registration(r.get(0), r.get(1), r.get(2));
        }
        Ok(Some((view, seen)))
    }

    /// Applies a change announced by some replica.
    async fn apply(&self, change: Change) {
        self.cache.bump_epoch();
        let result = match &change {
            Change::Agent(id) => self.reload_agent(*id).await,
            Change::Tag(tag) => self
                .tag_names(tag)
                .await
                .map(|n| self.cache.set_tag_names(tag, n)),
            Change::Rollouts => self.reload_rollouts().await,
            Change::Configuration(name_key) => self.content_checksums(name_key).await.map(|sums| {
                for (kind, checksum) in sums {
                    self.cache.set_checksum(kind, name_key.clone(), checksum);
                }
            }),
        };
        if let Err(e) = result {
            // The next read of this agent goes to the database; a configuration is reloaded
            // with the whole cache when the listener reconnects.
            tracing::warn!(error = %e, ?change, "applying a change notification failed");
            if let Change::Agent(id) = change {
                self.cache.set_agent(id, None);
            }
        }
    }

    /// Reads an agent's view again. A write of this replica's own that lands in the cache while
    /// the row is read may be newer than the row read: then it is read again, and after three
    /// tries the view is dropped (the agent's next read goes to the database).
    async fn reload_agent(&self, id: Uuid) -> StorageResult<()> {
        for _ in 0..3 {
            let since = self.cache.views();
            let view = self.load_agent(id).await?;
            if self.cache.set_agent_since(id, view, since) {
                return Ok(());
            }
        }
        self.cache.set_agent(id, None);
        Ok(())
    }

    /// A tag's configuration names (empty when it has none).
    async fn tag_names(&self, tag: &str) -> StorageResult<Vec<String>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT names FROM tag_configurations WHERE tag_key = $1",
                &[&tag.to_lowercase()],
            )
            .await
            .map_err(pg_error)?;
        Ok(names_of(row.as_ref().map(|r| r.get::<_, &str>(0))))
    }

    /// The checksums of a configuration name's MOF and package (`None` where absent).
    async fn content_checksums(
        &self,
        name_key: &str,
    ) -> StorageResult<[(&'static str, Option<String>); 2]> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT kind, checksum FROM content WHERE kind IN ('configuration', 'package') AND name_key = $1",
                &[&name_key],
            )
            .await
            .map_err(pg_error)?;
        let of = |kind: &str| {
            rows.iter()
                .find(|r| r.get::<_, &str>(0) == kind)
                .map(|r| r.get::<_, String>(1))
        };
        Ok([
            ("configuration", of("configuration")),
            ("package", of("package")),
        ])
    }
}

fn view_of(
    assigned: Option<String>,
    tags: Option<String>,
    pin: Option<String>,
    not_after: Option<String>,
) -> AgentView {
    let mut view = AgentView {
        assigned_names: assigned.and_then(|a| serde_json::from_str(&a).ok()),
        tags: names_of(tags.as_deref()),
        ..Default::default()
    };
    view.set_pin(pin, not_after);
    view
}

/// PostgreSQL + blob store.
pub struct PgStorage {
    shared: Arc<Shared>,
    blobs: Arc<dyn BlobStore>,
    reports: Mutex<Option<mpsc::Sender<ingest::ReportJob>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Runs the schema migrations alone (`traek-server migrate`); returns the versions applied.
pub async fn migrate(target: &Target) -> StorageResult<Vec<i32>> {
    let (mut client, driver) = target.connect(None).await?;
    let applied = schema::migrate(&mut client).await;
    drop(client);
    let _ = driver.await;
    applied
}

impl PgStorage {
    /// Connects to a URL without a CA file ([`PgStorage::connect_to`]).
    pub async fn connect(url: &str, blobs: Arc<dyn BlobStore>) -> StorageResult<Self> {
        check_url(url)?;
        Self::connect_to(&Target::new(url, None)?, blobs).await
    }

    /// Connects, migrates, loads the cache and starts the listener and report committers.
    pub async fn connect_to(target: &Target, blobs: Arc<dyn BlobStore>) -> StorageResult<Self> {
        migrate(target).await?;
        let pool = Pool::builder(target.manager())
            .max_size(POOL_SIZE)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .recycle_timeout(Some(POOL_WAIT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(StorageError::failed)?;
        let shared = Arc::new(Shared {
            pool,
            cache: Cache::default(),
        });
        shared.reload_cache().await?;
        let mut tasks = vec![tokio::spawn(notify::listen(
            Arc::clone(&shared),
            target.clone(),
        ))];
        let (reports, committers) = ingest::start(Arc::clone(&shared));
        tasks.extend(committers);
        Ok(PgStorage {
            shared,
            blobs,
            reports: Mutex::new(Some(reports)),
            tasks,
        })
    }

    async fn client(&self) -> StorageResult<deadpool_postgres::Object> {
        self.shared.client().await
    }

    /// Removes the blob if no content references it, under the blob's advisory lock.
    async fn collect_blob(&self, checksum: &str) -> StorageResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&BLOB_LOCK, &checksum],
        )
        .await
        .map_err(pg_error)?;
        let referenced = tx
            .query_opt(
                "SELECT 1 FROM content WHERE checksum = $1 UNION ALL SELECT 1 FROM content_versions WHERE checksum = $1 LIMIT 1",
                &[&checksum],
            )
            .await
            .map_err(pg_error)?
            .is_some();
        if !referenced {
            self.blobs.delete(checksum).await?;
        }
        tx.commit().await.map_err(pg_error)
    }

    /// Deletes reports as the policy says, on one connection that holds the prune lock.
    async fn prune_reports(
        client: &deadpool_postgres::Object,
        policy: &PrunePolicy,
    ) -> StorageResult<u64> {
        let mut deleted = 0u64;
        if let Some(cutoff) = policy.older_than {
            let stmt = client
                .prepare_cached(
                    "DELETE FROM reports WHERE id IN (SELECT r.id FROM reports r WHERE r.received_at < $1
                     AND r.id < (SELECT max(r2.id) FROM reports r2 WHERE r2.agent_id = r.agent_id) LIMIT $2)",
                )
                .await
                .map_err(pg_error)?;
            loop {
                let n = client
                    .execute(&stmt, &[&cutoff, &PRUNE_BATCH])
                    .await
                    .map_err(pg_error)?;
                deleted += n;
                if n < PRUNE_BATCH as u64 {
                    break;
                }
            }
        }
        if let Some(keep) = policy.max_per_node {
            let keep = i64::try_from(keep).unwrap_or(i64::MAX);
            let over: Vec<Uuid> = client
                .query(
                    "SELECT agent_id FROM reports GROUP BY agent_id HAVING count(*) > $1",
                    &[&keep],
                )
                .await
                .map_err(pg_error)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let stmt = client
                .prepare_cached(
                    "DELETE FROM reports WHERE agent_id = $1 AND id < (SELECT id FROM reports
                     WHERE agent_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
                )
                .await
                .map_err(pg_error)?;
            for agent in over {
                deleted += client
                    .execute(&stmt, &[&agent, &(keep - 1)])
                    .await
                    .map_err(pg_error)?;
            }
        }
        let before = day_of(now_unix()) - DAILY_DAYS;
        for table in ["status_days", "daily_counts"] {
            client
                .execute(&format!("DELETE FROM {table} WHERE day < $1"), &[&before])
                .await
                .map_err(pg_error)?;
        }
        Ok(deleted)
    }

    async fn notify_in(
        tx: &deadpool_postgres::Transaction<'_>,
        change: Change,
    ) -> StorageResult<()> {
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&notify::CHANNEL, &change.payload()],
        )
        .await
        .map(|_| ())
        .map_err(pg_error)
    }
}

impl Drop for PgStorage {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn lock<T>(l: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|p| p.into_inner())
}

const REPORT_COLUMNS: &str = "id, agent_id, job_id, received_at, operation_type, refresh_mode, status, node_name, ip_address, start_time, end_time, start_unix, end_unix, error_count, first_error, body, applied";

fn report_from_row(r: &Row) -> StoredReport {
    StoredReport {
        id: r.get(0),
        agent_id: r.get(1),
        received_at: r.get(3),
        summary: ReportSummary {
            job_id: r.get(2),
            operation_type: r.get(4),
            refresh_mode: r.get(5),
            status: r.get(6),
            node_name: r.get(7),
            ip_address: r.get(8),
            start_time: r.get(9),
            end_time: r.get(10),
            start_unix: r.get(11),
            end_unix: r.get(12),
            error_count: usize::try_from(r.get::<_, i32>(13)).unwrap_or(0),
            first_error: r.get(14),
            run: None,
            once_per_job: false,
            applied: r.get(16),
        },
        body: Bytes::from(r.get::<_, Vec<u8>>(15)),
    }
}

fn content_from_row(r: &Row, modules: bool) -> ContentMeta {
    ContentMeta {
        name: r.get(0),
        version: Some(r.get::<_, String>(1)).filter(|_| modules),
        checksum: r.get(2),
        size: u64::try_from(r.get::<_, i64>(3)).unwrap_or(0),
        updated_at: r.get(4),
        signers: r
            .get::<_, Option<String>>(5)
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
    }
}

impl PgStorage {
    /// Sets one JSON column of an agent and tells every replica; the rows changed.
    async fn set_agent_column(
        &self,
        agent_id: Uuid,
        column: &'static str,
        json: Option<String>,
    ) -> StorageResult<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let n = tx
            .execute(
                &format!("UPDATE agents SET {column} = $2 WHERE agent_id = $1"),
                &[&agent_id, &json],
            )
            .await
            .map_err(pg_error)?;
        Self::notify_in(&tx, Change::Agent(agent_id)).await?;
        tx.commit().await.map_err(pg_error)?;
        Ok(n)
    }

    /// The number of rows of a table.
    async fn count(&self, table: &str) -> StorageResult<u64> {
        let client = self.client().await?;
        let row = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .map_err(pg_error)?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    /// Folds agent rows joined with their registrations (ordered by agent) into summaries.
    fn fold_nodes(&self, rows: &[Row], now: i64, stale_after: i64) -> Vec<NodeSummary> {
        let tag_names = self.shared.cache.tag_names();
        let mut out: Vec<NodeSummary> = Vec::new();
        for r in rows {
            let id: Uuid = r.get(0);
            if out.last().map(|n| n.agent_id) != Some(id) {
                let mut node = NodeSummary::new(id, r.get(1), r.get(2), r.get(3), r.get(4));
                node.set_run(r.get(10), r.get(11));
                node.tags = names_of(r.get::<_, Option<&str>>(12));
                node.judge(now, stale_after);
                node.seen_in_memory(self.shared.cache.last_seen(&id));
                out.push(node);
            }
            let Some(node) = out.last_mut() else { continue };
            if let Some(mt) = r.get::<_, Option<String>>(5) {
                let ips: String = r.get(7);
                node.add_registration(mt, r.get(6), &ips, r.get(8), r.get(9));
            }
        }
        for node in &mut out {
            node.resolve_configurations(&tag_names);
        }
        out
    }
}

mod queries;
mod sql;
