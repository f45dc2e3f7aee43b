//! The embedded default storage: SQLite in WAL mode for metadata, agents and reports, with
//! content bytes in a [`BlobStore`] (by default the directory `DATA_DIR/blobs`).
//!
//! - All writes go through one writer thread ([`writer`]) that commits them in batches (group
//!   commit): every request waits for the commit that contains its write, so an acknowledged
//!   registration or report is on disk (`synchronous=FULL`) and survives `kill -9`, and a burst
//!   of reports costs one fsync per batch, not per report.
//! - Reads use a small pool of connections on blocking threads; WAL lets them run beside
//!   writes. A read waits for a free connection (up to [`READ_WAIT`], then the request gets
//!   503), so any number of concurrent requests is served.
//! - The GetDscAction hot path reads only memory ([`Cache`]), loaded at open and updated by the
//!   writer after each commit. "Last seen" times are kept in memory and flushed every few
//!   seconds and on shutdown.
//! - Blobs are stored before the metadata that names them is committed. Uploads and blob
//!   removal exclude each other (`blob_gate`), so a blob is never removed under an upload of
//!   the same bytes.

mod open;
mod schema;
mod sql;
mod writer;

use crate::storage::accounts::{Sql, SqlValue};
use crate::storage::blobs::BlobStore;
use crate::storage::cache::Cache;
use crate::storage::*;
use async_trait::async_trait;
use bytes::Bytes;
use dsc_core::pull::compliance::ResourceResult;
use dsc_core::pull::messages::ReportSummary;
use rusqlite::{Connection, params};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use tokio::sync::Semaphore;
use uuid::Uuid;
use writer::{WriteJob, WriteOp, WriteOutcome};

const READERS: usize = 4;
/// How long a read waits for a free connection before the request is answered 503.
pub const READ_WAIT: Duration = Duration::from_secs(10);

fn err(e: impl std::fmt::Display) -> StorageError {
    StorageError::failed(e)
}

fn lock<T>(l: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|p| p.into_inner())
}

/// SQLite + blob store.
pub struct SqliteStorage {
    writer: Mutex<Option<mpsc::Sender<WriteJob>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    /// One permit per idle reader connection.
    reader_permits: Arc<Semaphore>,
    blobs: Arc<dyn BlobStore>,
    /// Held shared by uploads and exclusively by blob removal.
    blob_gate: tokio::sync::RwLock<()>,
    cache: Arc<Cache>,
}

fn report_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredReport> {
    let agent: String = r.get(1)?;
    let job: String = r.get(2)?;
    let body: Vec<u8> = r.get(15)?;
    Ok(StoredReport {
        id: r.get(0)?,
        agent_id: Uuid::parse_str(&agent).unwrap_or_default(),
        received_at: r.get(3)?,
        summary: ReportSummary {
            job_id: Uuid::parse_str(&job).unwrap_or_default(),
            operation_type: r.get(4)?,
            refresh_mode: r.get(5)?,
            status: r.get(6)?,
            node_name: r.get(7)?,
            ip_address: r.get(8)?,
            start_time: r.get(9)?,
            end_time: r.get(10)?,
            start_unix: r.get(11)?,
            end_unix: r.get(12)?,
            error_count: r.get::<_, i64>(13)? as usize,
            first_error: r.get(14)?,
            run: None,
            once_per_job: false,
            applied: r.get(16)?,
        },
        body: Bytes::from(body),
    })
}

/// Content metadata from `name, version, checksum, size, updated_at, signers`.
fn content_from_row(r: &rusqlite::Row<'_>, modules: bool) -> rusqlite::Result<ContentMeta> {
    Ok(ContentMeta {
        name: r.get(0)?,
        version: Some(r.get::<_, String>(1)?).filter(|_| modules),
        checksum: r.get(2)?,
        size: r.get::<_, i64>(3)? as u64,
        updated_at: r.get(4)?,
        signers: r
            .get::<_, Option<String>>(5)?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
    })
}

const REPORT_COLUMNS: &str = "id, agent_id, job_id, received_at, operation_type, refresh_mode, status, node_name, ip_address, start_time, end_time, start_unix, end_unix, error_count, first_error, body, applied";

#[async_trait]
impl Storage for SqliteStorage {
    async fn register(&self, registration: Registration) -> StorageResult<()> {
        self.write(WriteOp::Register(registration))
            .await
            .map(|_| ())
    }

    async fn agent(&self, agent_id: Uuid) -> StorageResult<Option<Arc<AgentView>>> {
        Ok(self.cache.agent(&agent_id))
    }

    fn touch(&self, agent_id: Uuid, now: i64) {
        self.cache.touch(&agent_id, now);
    }

    async fn release_pin(&self, agent_id: Uuid) -> StorageResult<bool> {
        match self.write(WriteOp::ReleasePin(agent_id)).await? {
            WriteOutcome::Found(f) => Ok(f),
            _ => Ok(false),
        }
    }

    async fn unregister(&self, agent_id: Uuid) -> StorageResult<bool> {
        match self.write(WriteOp::Unregister(agent_id)).await? {
            WriteOutcome::Found(f) => Ok(f),
            _ => Ok(false),
        }
    }

    async fn assign(&self, agent_id: Uuid, names: Option<Vec<String>>) -> StorageResult<bool> {
        match self.write(WriteOp::Assign(agent_id, names)).await? {
            WriteOutcome::Found(f) => Ok(f),
            _ => Ok(false),
        }
    }

    async fn find_nodes(&self, query: &NodeQuery) -> StorageResult<Vec<NodeSummary>> {
        let after = query.after.map(|a| a.to_string()).unwrap_or_default();
        self.query_nodes(after, false, query.clone()).await
    }

    async fn node(&self, agent_id: Uuid) -> StorageResult<Option<NodeSummary>> {
        let query = NodeQuery {
            limit: 1,
            ..Default::default()
        };
        Ok(self
            .query_nodes(agent_id.to_string(), true, query)
            .await?
            .pop())
    }

    async fn node_resources(&self, agent_id: Uuid) -> StorageResult<Vec<ResourceResult>> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT resource_id, module, in_desired_state, error FROM node_resources WHERE agent_id = ?1 ORDER BY resource_id")
                .map_err(err)?;
            let rows = stmt
                .query_map(params![agent_id.to_string()], |r| {
                    Ok(ResourceResult {
                        resource_id: r.get(0)?,
                        module: r.get(1)?,
                        in_desired_state: r.get(2)?,
                        error: r.get(3)?,
                    })
                })
                .map_err(err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(err)
        })
        .await
    }

    async fn summary(&self, now: i64, stale_after: i64) -> StorageResult<Summary> {
        let configurations = self.cache.configuration_counts();
        let agents = i64::try_from(self.cache.agent_count()).unwrap_or(i64::MAX);
        let today = day_of(now);
        let mut summary = self
            .read(move |c| {
                let statuses = status_rows(c, now - stale_after, agents)?;
                let daily: Vec<(i64, String, i64)> = c
                    .prepare_cached("SELECT day, status, count FROM daily_counts WHERE day > ?1")
                    .map_err(err)?
                    .query_map(params![today - DAILY_DAYS], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(err)?
                    .collect::<Result<_, _>>()
                    .map_err(err)?;
                let failing: Vec<NameCount> = c
                    .prepare_cached("SELECT resource_id, COUNT(*) FROM node_resources WHERE in_desired_state = 0 GROUP BY resource_id ORDER BY 2 DESC, 1 LIMIT 10")
                    .map_err(err)?
                    .query_map([], |r| Ok(NameCount { name: r.get(0)?, nodes: r.get::<_, i64>(1)? as u64 }))
                    .map_err(err)?
                    .collect::<Result<_, _>>()
                    .map_err(err)?;
                Ok(Summary {
                    statuses: status_counts(&statuses),
                    configurations: Vec::new(),
                    daily: daily_counts(&daily, today),
                    failing_resources: failing,
                })
            })
            .await?;
        summary.configurations = configurations;
        Ok(summary)
    }

    async fn agent_count(&self) -> StorageResult<u64> {
        Ok(self.cache.agent_count() as u64)
    }

    async fn store_report(
        &self,
        agent_id: Uuid,
        summary: ReportSummary,
        body: Bytes,
    ) -> StorageResult<i64> {
        match self
            .write(WriteOp::Report {
                agent_id,
                summary,
                body,
                received_at: now_unix(),
            })
            .await?
        {
            WriteOutcome::Id(id) => Ok(id),
            _ => Err(err("unexpected writer outcome")),
        }
    }

    async fn reports(&self, f: ReportFilter) -> StorageResult<Vec<StoredReport>> {
        self.read(move |c| {
            let mut sql = format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id > ?1");
            let after = if f.newest_first {
                0
            } else {
                f.after_id.unwrap_or(0)
            };
            let mut args: Vec<rusqlite::types::Value> = vec![after.into()];
            let mut add = |clause: &str, v: rusqlite::types::Value| {
                args.push(v);
                sql.push_str(&format!(" AND {clause} ?{}", args.len()));
            };
            if let Some(a) = f.agent_id {
                add("agent_id =", a.to_string().into());
            }
            if let Some(j) = f.job_id {
                add("job_id =", j.to_string().into());
            }
            if let Some(s) = &f.status {
                add("status =", s.clone().into());
            }
            if let Some(s) = f.since {
                add("received_at >=", s.into());
            }
            if let Some(u) = f.until {
                add("received_at <", u.into());
            }
            let limit = if f.limit == 0 { 1000 } else { f.limit };
            let order = if f.newest_first { "DESC" } else { "ASC" };
            sql.push_str(&format!(" ORDER BY id {order} LIMIT {limit}"));
            let mut stmt = c.prepare_cached(&sql).map_err(err)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args), report_from_row)
                .map_err(err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(err)
        })
        .await
    }

    async fn report_count(&self) -> StorageResult<u64> {
        self.read(|c| {
            c.query_row("SELECT COUNT(*) FROM reports", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(err)
        })
        .await
    }

    async fn put_signed_content(
        &self,
        key: ContentKey,
        bytes: Bytes,
        signers: Vec<String>,
    ) -> StorageResult<ContentMeta> {
        let meta = ContentMeta {
            signers,
            ..ContentMeta::of(&key, &bytes)
        };
        let outcome = {
            let _shared = self.blob_gate.read().await;
            self.blobs.put(&meta.checksum, bytes).await?;
            self.write(WriteOp::PutContent(key, meta.clone())).await?
        };
        if let WriteOutcome::Content {
            released: Some(old),
            ..
        } = outcome
        {
            self.collect_blobs(vec![old]).await?;
        }
        Ok(meta)
    }

    async fn content_meta(&self, key: &ContentKey) -> StorageResult<Option<ContentMeta>> {
        let (kind, name_key, version, _) = content_columns(key);
        self.read(move |c| {
            let q = if kind == "module" && version.is_empty() {
                "SELECT name, version, checksum, size, updated_at, signers FROM content WHERE kind = ?1 AND name_key = ?2"
            } else {
                "SELECT name, version, checksum, size, updated_at, signers FROM content WHERE kind = ?1 AND name_key = ?2 AND version = ?3"
            };
            let mut stmt = c.prepare_cached(q).map_err(err)?;
            let map = |r: &rusqlite::Row<'_>| content_from_row(r, kind == "module");
            let rows: Vec<ContentMeta> = if kind == "module" && version.is_empty() {
                stmt.query_map(params![kind, name_key], map).map_err(err)?.collect::<Result<_, _>>().map_err(err)?
            } else {
                stmt.query_map(params![kind, name_key, version], map).map_err(err)?.collect::<Result<_, _>>().map_err(err)?
            };
            Ok(rows.into_iter().max_by(|a, b| version_cmp(a.version.as_deref().unwrap_or(""), b.version.as_deref().unwrap_or(""))))
        })
        .await
    }

    fn blob_store(&self) -> &dyn blobs::BlobStore {
        self.blobs.as_ref()
    }

    fn configuration_checksum(&self, name: &str) -> Option<String> {
        self.cache.configuration_checksum(name)
    }

    fn package_checksum(&self, name: &str) -> Option<String> {
        self.cache.package_checksum(name)
    }

    fn rollout(&self, kind: &str, name: &str) -> Option<Arc<dsc_core::pull::rollout::Rollout>> {
        self.cache.rollout(kind, name)
    }

    async fn rollouts_changed(&self) -> StorageResult<()> {
        let live = self.rollouts().live().await?;
        self.cache.replace_rollouts(live);
        Ok(())
    }

    fn members(&self, name: &str, traek_agents: bool) -> Vec<crate::storage::rollouts::Member> {
        self.cache.members(name, traek_agents)
    }

    async fn delete_content(&self, key: &ContentKey) -> StorageResult<bool> {
        match self.write(WriteOp::DeleteContent(key.clone())).await? {
            WriteOutcome::Content { found, released } => {
                self.collect_blobs(released.into_iter().collect()).await?;
                Ok(found)
            }
            _ => Ok(false),
        }
    }

    async fn list_content(&self, kind: ContentKind) -> StorageResult<Vec<ContentMeta>> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT name, version, checksum, size, updated_at, signers FROM content WHERE kind = ?1 ORDER BY name_key, version")
                .map_err(err)?;
            let modules = kind == ContentKind::Module;
            let rows = stmt
                .query_map(params![kind.as_str()], |r| content_from_row(r, modules))
                .map_err(err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(err)
        })
        .await
    }

    async fn registration_keys(&self) -> StorageResult<Vec<KeyRecord>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached("SELECT id, key, source, added_at FROM registration_keys WHERE revoked_at IS NULL ORDER BY added_at, key")
                .map_err(err)?;
            let rows = stmt
                .query_map([], |r| Ok(KeyRecord { id: r.get(0)?, key: r.get(1)?, source: r.get(2)?, added_at: r.get(3)? }))
                .map_err(err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(err)
        })
        .await
    }

    async fn add_registration_keys(&self, keys: Vec<String>, source: &str) -> StorageResult<usize> {
        match self
            .write(WriteOp::AddKeys(keys, source.to_string()))
            .await?
        {
            WriteOutcome::Count(n) => Ok(n),
            _ => Ok(0),
        }
    }

    async fn revoke_registration_key(&self, id_or_key: &str) -> StorageResult<Option<String>> {
        match self
            .write(WriteOp::RevokeKey(id_or_key.to_string()))
            .await?
        {
            WriteOutcome::Revoked(k) => Ok(k),
            _ => Ok(None),
        }
    }

    async fn prune(&self, policy: &PrunePolicy) -> StorageResult<u64> {
        let mut deleted = 0u64;
        if let Some(cutoff) = policy.older_than {
            loop {
                let n = match self.write(WriteOp::PruneOlderThan(cutoff)).await? {
                    WriteOutcome::Count(n) => n as u64,
                    _ => 0,
                };
                deleted += n;
                if n < PRUNE_BATCH as u64 {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        if let Some(keep) = policy.max_per_node {
            for agent_id in self.agents_over(keep).await? {
                let op = WriteOp::PruneNode { agent_id, keep };
                if let WriteOutcome::Count(n) = self.write(op).await? {
                    deleted += n as u64;
                }
            }
        }
        self.write(WriteOp::PruneDays(day_of(now_unix()) - DAILY_DAYS))
            .await?;
        let stored = self.blobs.list().await?;
        self.collect_blobs(stored).await?;
        Ok(deleted)
    }

    fn sql(&self) -> &dyn Sql {
        self
    }

    async fn set_tags(&self, agent_id: Uuid, tags: Vec<String>) -> StorageResult<bool> {
        let json = serde_json::to_string(&tags).unwrap_or_default();
        let n = self
            .exec(
                "UPDATE agents SET tags = $2 WHERE agent_id = $1",
                vec![agent_id.to_string().into(), json.into()],
            )
            .await?;
        self.cache.update_agent(agent_id, false, |v| v.tags = tags);
        Ok(n > 0)
    }

    async fn set_tag_configurations(
        &self,
        tag: &str,
        names: Option<Vec<String>>,
    ) -> StorageResult<()> {
        let names = names.unwrap_or_default();
        if names.is_empty() {
            self.exec(
                "DELETE FROM tag_configurations WHERE tag_key = $1",
                vec![tag.to_lowercase().into()],
            )
            .await?;
        } else {
            let json = serde_json::to_string(&names).unwrap_or_default();
            self.exec(
                "INSERT INTO tag_configurations (tag_key, tag, names) VALUES ($1, $2, $3) ON CONFLICT (tag_key) DO UPDATE SET tag = $2, names = $3",
                vec![tag.to_lowercase().into(), tag.into(), json.into()],
            )
            .await?;
        }
        self.cache.set_tag_names(tag, names);
        Ok(())
    }

    async fn tag_configurations(&self) -> StorageResult<Vec<(String, Vec<String>)>> {
        let rows = self
            .rows(
                "SELECT tag, names FROM tag_configurations ORDER BY tag_key",
                vec![],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let tag = r.first().and_then(SqlValue::text).unwrap_or_default();
                let names = r.get(1).and_then(SqlValue::text);
                (tag, names_of(names.as_deref()))
            })
            .collect())
    }

    fn effective_names(&self, view: &AgentView) -> Vec<String> {
        self.cache.effective_names(view)
    }

    async fn ping(&self) -> StorageResult<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(err))
            .await
    }

    async fn flush(&self) -> StorageResult<()> {
        let dirty = self.cache.unflushed();
        if dirty.is_empty() {
            return Ok(());
        }
        self.write(WriteOp::Touch(dirty.clone())).await?;
        self.cache.mark_flushed(&dirty);
        Ok(())
    }
}

/// `(run status, stale, nodes)` rows for [`status_counts`], from the kept totals and a range
/// count of the stale nodes of each status (index `agents_by_run`): no pass over all agents.
fn status_rows(
    c: &Connection,
    stale_cutoff: i64,
    agents: i64,
) -> StorageResult<Vec<(Option<String>, bool, i64)>> {
    let totals: Vec<(String, i64)> = c
        .prepare_cached("SELECT status, count FROM status_totals WHERE count > 0")
        .map_err(err)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let mut stale_count = c
        .prepare_cached("SELECT COUNT(*) FROM agents WHERE run_status = ?1 AND run_time < ?2")
        .map_err(err)?;
    let mut rows = Vec::with_capacity(totals.len() * 2 + 1);
    let mut with_run = 0;
    for (status, total) in totals {
        let stale: i64 = stale_count
            .query_row(params![status, stale_cutoff], |r| r.get(0))
            .map_err(err)?;
        with_run += total;
        rows.push((Some(status.clone()), false, total - stale));
        rows.push((Some(status), true, stale));
    }
    rows.push((None, false, (agents - with_run).max(0)));
    Ok(rows)
}
