//! Opening the storage (schema, migrations, the writer thread, the readers), the two ways in
//! (a write through the writer, a read on a pooled connection) and shutting down.

use super::*;
use crate::storage::blobs::BlobStore;
use crate::storage::cache::Cache;
use crate::storage::*;
use rusqlite::{Connection, OpenFlags, params};
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use tokio::sync::{Semaphore, oneshot};
use uuid::Uuid;
use writer::{WriteJob, WriteOp, WriteOutcome};

impl SqliteStorage {
    /// Opens (creating if needed) the storage in `data_dir`: `traek.db` and `blobs/`.
    pub fn open(data_dir: &Path) -> StorageResult<Self> {
        let blobs = crate::storage::blobs::open(None, data_dir)?;
        Self::open_with(data_dir, blobs)
    }

    /// Opens `DATA_DIR/traek.db` with content bytes in `blobs`.
    pub fn open_with(data_dir: &Path, blobs: Arc<dyn BlobStore>) -> StorageResult<Self> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| err(format!("creating {}: {e}", data_dir.display())))?;
        let db = data_dir.join("traek.db");
        let mut conn =
            Connection::open(&db).map_err(|e| err(format!("opening {}: {e}", db.display())))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;")
            .map_err(err)?;
        conn.execute_batch(schema::SCHEMA).map_err(err)?;
        conn.execute_batch(crate::storage::accounts::SCHEMA)
            .map_err(err)?;
        conn.execute_batch(crate::storage::accounts::SECURITY_SCHEMA)
            .map_err(err)?;
        conn.execute_batch(crate::storage::notifications::SCHEMA)
            .map_err(err)?;
        conn.execute_batch(crate::storage::accounts::OIDC_SCHEMA)
            .map_err(err)?;
        conn.execute_batch(crate::storage::versions::SCHEMA)
            .map_err(err)?;
        conn.execute_batch(crate::storage::rollouts::SCHEMA)
            .map_err(err)?;
        conn.execute_batch(crate::storage::sources::SCHEMA)
            .map_err(err)?;
        schema::add_missing_columns(&conn).map_err(err)?;
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS agents_by_run ON agents(run_status, run_time);",
        )
        .map_err(err)?;
        conn.execute_batch(schema::TOTALS).map_err(err)?;
        schema::rebuild_totals(&mut conn).map_err(err)?;
        let cache = Arc::new(Cache::default());
        schema::load_cache(&conn, &cache)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = Connection::open_with_flags(
                &db,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(err)?;
            r.execute_batch("PRAGMA busy_timeout=5000;").map_err(err)?;
            readers.push(r);
        }
        let (tx, rx) = mpsc::channel::<WriteJob>();
        let writer_cache = Arc::clone(&cache);
        conn.set_prepared_statement_cache_capacity(64);
        let handle = std::thread::Builder::new()
            .name("traek-sqlite-writer".into())
            .spawn(move || writer::writer_loop(conn, rx, writer_cache))
            .map_err(err)?;
        Ok(SqliteStorage {
            writer: Mutex::new(Some(tx)),
            writer_thread: Mutex::new(Some(handle)),
            readers: Arc::new(Mutex::new(readers)),
            reader_permits: Arc::new(Semaphore::new(READERS)),
            blobs,
            blob_gate: tokio::sync::RwLock::new(()),
            cache,
        })
    }

    /// Hands `op` to the writer thread and waits for the commit that holds it.
    pub(super) async fn write(&self, op: WriteOp) -> StorageResult<WriteOutcome> {
        let (ack, rx) = oneshot::channel();
        {
            let guard = lock(&self.writer);
            let sender = guard.as_ref().ok_or_else(|| err("storage is shut down"))?;
            sender
                .send(WriteJob { op, ack })
                .map_err(|_| err("the writer thread has stopped"))?;
        }
        rx.await
            .map_err(|_| err("the writer thread dropped the request"))?
    }

    /// Runs `f` on a reader connection, waiting (bounded) for one to be free.
    pub(super) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StorageResult<T> + Send + 'static,
    ) -> StorageResult<T> {
        let permit =
            tokio::time::timeout(READ_WAIT, Arc::clone(&self.reader_permits).acquire_owned())
                .await
                .map_err(|_| StorageError::unavailable("every database reader stayed busy"))?
                .map_err(err)?;
        let pool = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || {
            let conn = lock(&pool)
                .pop()
                .ok_or_else(|| err("a reader permit without a connection"))?;
            let out = f(&conn);
            lock(&pool).push(conn);
            drop(permit);
            out
        })
        .await
        .map_err(err)?
    }

    /// Removes the blobs among `candidates` that no content references any longer.
    pub(super) async fn collect_blobs(&self, candidates: Vec<String>) -> StorageResult<()> {
        if candidates.is_empty() {
            return Ok(());
        }
        let _exclusive = self.blob_gate.write().await;
        let unreferenced = self
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached("SELECT 1 FROM content WHERE checksum = ?1 UNION ALL SELECT 1 FROM content_versions WHERE checksum = ?1 LIMIT 1")
                    .map_err(err)?;
                let mut out = Vec::new();
                for checksum in candidates {
                    if !stmt.exists(params![checksum]).map_err(err)? {
                        out.push(checksum);
                    }
                }
                Ok(out)
            })
            .await?;
        for checksum in unreferenced {
            self.blobs.delete(&checksum).await?;
        }
        Ok(())
    }

    /// Agents with more than `keep` reports.
    pub(super) async fn agents_over(&self, keep: u64) -> StorageResult<Vec<String>> {
        self.read(move |c| {
            let mut stmt = c
                .prepare("SELECT agent_id FROM reports GROUP BY agent_id HAVING COUNT(*) > ?1")
                .map_err(err)?;
            let rows = stmt
                .query_map(params![keep as i64], |r| r.get::<_, String>(0))
                .map_err(err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(err)
        })
        .await
    }

    /// A page of nodes matching `query` in agent-id order after `key` (or the one node `key` when
    /// `exact`).
    pub(super) async fn query_nodes(
        &self,
        key: String,
        exact: bool,
        query: NodeQuery,
    ) -> StorageResult<Vec<NodeSummary>> {
        let cache = Arc::clone(&self.cache);
        let tag_names = self.cache.tag_names();
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        self.read(move |c| {
            let columns = "SELECT agent_id, last_seen, assigned_names, last_report_status, last_report_time, run_status, run_time, tags FROM agents";
            let filter = query
                .status_condition()
                .map(|cond| format!(" AND {}", cond.replace("{p}", "?3")))
                .unwrap_or_default();
            let sql = if exact {
                format!("{columns} WHERE agent_id = ?1 LIMIT ?2")
            } else {
                format!("{columns} WHERE agent_id > ?1{filter} ORDER BY agent_id LIMIT ?2")
            };
            let mut stmt = c.prepare_cached(&sql).map_err(err)?;
            let map = |r: &rusqlite::Row<'_>| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, Option<String>>(3)?, r.get::<_, Option<i64>>(4)?, r.get::<_, Option<String>>(5)?, r.get::<_, Option<i64>>(6)?, r.get::<_, Option<String>>(7)?))
            };
            let rows = if filter.is_empty() || exact {
                stmt.query_map(params![key, limit], map)
            } else {
                stmt.query_map(params![key, limit, query.stale_cutoff()], map)
            }
            .map_err(err)?;
            let mut out = Vec::new();
            let mut reg = c
                .prepare_cached("SELECT message_type, node_name, ip_address, lcm_version, configuration_names FROM registrations WHERE agent_id = ?1 ORDER BY message_type")
                .map_err(err)?;
            for row in rows {
                let (id, last_seen, assigned, status, status_time, run_status, run_time, tags) = row.map_err(err)?;
                let Ok(agent_id) = Uuid::parse_str(&id) else { continue };
                let mut node = NodeSummary::new(agent_id, last_seen, assigned, status, status_time);
                node.set_run(run_status, run_time);
                node.tags = names_of(tags.as_deref());
                node.judge(query.now, query.stale_after);
                node.seen_in_memory(cache.last_seen(&agent_id));
                let regs = reg
                    .query_map(params![id], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, Option<String>>(4)?))
                    })
                    .map_err(err)?;
                for r in regs {
                    let (mt, name, ips, lcm, names) = r.map_err(err)?;
                    node.add_registration(mt, name, &ips, lcm, names);
                }
                node.resolve_configurations(&tag_names);
                out.push(node);
            }
            Ok(out)
        })
        .await
    }

    /// Stops the writer after it has committed everything queued.
    pub fn shutdown(&self) {
        lock(&self.writer).take();
        if let Some(h) = lock(&self.writer_thread).take() {
            let _ = h.join();
        }
    }
}

impl Drop for SqliteStorage {
    fn drop(&mut self) {
        self.shutdown();
    }
}
