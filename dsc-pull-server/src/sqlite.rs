//! The embedded default storage: SQLite in WAL mode for metadata, agents and reports, and a
//! directory of content blobs named by their SHA-256.
//!
//! - All writes go through one writer thread that commits them in batches (group commit): every
//!   request waits for the commit that contains its write, so an acknowledged registration or
//!   report is on disk (`synchronous=FULL`) and survives `kill -9`, and a burst of reports costs
//!   one fsync per batch, not per report.
//! - Reads use a small pool of connections on blocking threads; WAL lets them run beside writes.
//! - The GetDscAction hot path reads only memory: agents' configuration names and configuration
//!   checksums are cached (loaded at open, updated by the writer after each commit). "Last seen"
//!   times are kept in memory and flushed every few seconds and on shutdown.
//! - Blobs are written to a temporary file, fsynced, then renamed, before their metadata is
//!   committed: a crash leaves at worst an unreferenced blob, never metadata without its bytes.

use crate::storage::*;
use async_trait::async_trait;
use bytes::Bytes;
use dsc_core::pull::checksum;
use dsc_core::pull::messages::{RegistrationMessageType, ReportSummary};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock, mpsc};
use tokio::sync::oneshot;
use uuid::Uuid;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS agents (
    agent_id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    last_seen INTEGER,
    assigned_names TEXT,
    last_report_status TEXT,
    last_report_time INTEGER
);
CREATE TABLE IF NOT EXISTS registrations (
    agent_id TEXT NOT NULL REFERENCES agents(agent_id) ON DELETE CASCADE,
    message_type TEXT NOT NULL,
    key_id TEXT NOT NULL,
    registered_at INTEGER NOT NULL,
    node_name TEXT NOT NULL,
    ip_address TEXT NOT NULL,
    lcm_version TEXT NOT NULL,
    thumbprint TEXT,
    configuration_names TEXT,
    request TEXT NOT NULL,
    PRIMARY KEY (agent_id, message_type)
);
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY,
    agent_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    operation_type TEXT,
    refresh_mode TEXT,
    status TEXT,
    node_name TEXT,
    ip_address TEXT,
    start_time TEXT,
    end_time TEXT,
    start_unix INTEGER,
    end_unix INTEGER,
    error_count INTEGER NOT NULL,
    first_error TEXT,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_by_agent ON reports(agent_id, id);
CREATE INDEX IF NOT EXISTS reports_by_job ON reports(job_id, id);
CREATE INDEX IF NOT EXISTS reports_by_received ON reports(received_at, id);
CREATE TABLE IF NOT EXISTS content (
    kind TEXT NOT NULL,
    name_key TEXT NOT NULL,
    version TEXT NOT NULL,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    size INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, name_key, version)
);
CREATE TABLE IF NOT EXISTS registration_keys (
    key TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    source TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    revoked_at INTEGER
);
"#;

const READERS: usize = 4;
const MAX_BATCH: usize = 1024;

fn err(e: impl std::fmt::Display) -> StorageError {
    StorageError(e.to_string())
}

enum WriteOp {
    Register(Registration),
    Unregister(Uuid),
    Assign(Uuid, Option<Vec<String>>),
    Report {
        agent_id: Uuid,
        summary: ReportSummary,
        body: Bytes,
        received_at: i64,
    },
    PutContent(ContentKey, ContentMeta),
    DeleteContent(ContentKey),
    Touch(Vec<(Uuid, i64)>),
    AddKeys(Vec<String>, String),
    RevokeKey(String),
}

enum WriteOutcome {
    Done,
    Found(bool),
    Id(i64),
    Count(usize),
    Revoked(Option<String>),
}

/// A cache change applied after the commit that made it true.
type CacheUpdate = Box<dyn FnOnce(&Cache)>;

struct WriteJob {
    op: WriteOp,
    ack: oneshot::Sender<StorageResult<WriteOutcome>>,
}

/// One cached agent: its view (shared with readers without copying) and when it was last seen.
struct CachedAgent {
    view: Arc<AgentView>,
    /// Last seen (Unix seconds), updated lock-free on every request.
    last_seen: AtomicI64,
    /// The last-seen value already written to the database.
    flushed: AtomicI64,
}

impl CachedAgent {
    fn new(view: AgentView, last_seen: i64) -> Arc<Self> {
        Arc::new(CachedAgent {
            view: Arc::new(view),
            last_seen: AtomicI64::new(last_seen),
            flushed: AtomicI64::new(last_seen),
        })
    }

    /// A copy with another view and the same times.
    fn with_view(&self, view: AgentView) -> Arc<Self> {
        Arc::new(CachedAgent {
            view: Arc::new(view),
            last_seen: AtomicI64::new(self.last_seen.load(Relaxed)),
            flushed: AtomicI64::new(self.flushed.load(Relaxed)),
        })
    }
}

#[derive(Default)]
struct Cache {
    agents: RwLock<HashMap<Uuid, Arc<CachedAgent>>>,
    /// Lowercased configuration name → checksum.
    configs: RwLock<HashMap<String, String>>,
}

impl Cache {
    /// Applies `f` to a copy of the agent's view (creating the agent if asked) and stores it.
    fn update_agent(&self, id: Uuid, create: bool, f: impl FnOnce(&mut AgentView)) {
        let mut agents = write_lock(&self.agents);
        match agents.get(&id) {
            Some(entry) => {
                let mut view = (*entry.view).clone();
                f(&mut view);
                let replacement = entry.with_view(view);
                agents.insert(id, replacement);
            }
            None if create => {
                let mut view = AgentView::default();
                f(&mut view);
                agents.insert(id, CachedAgent::new(view, 0));
            }
            None => {}
        }
    }
}

/// SQLite + blob directory storage.
pub struct SqliteStorage {
    writer: Mutex<Option<mpsc::Sender<WriteJob>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    blobs: PathBuf,
    cache: Arc<Cache>,
}

fn read_lock<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}
fn write_lock<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}
fn lock<T>(l: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn kind_of(key: &ContentKey) -> (&'static str, String, String, String) {
    match key {
        ContentKey::Configuration { name } => (
            "configuration",
            name.to_lowercase(),
            String::new(),
            name.clone(),
        ),
        ContentKey::Module { name, version } => (
            "module",
            name.to_lowercase(),
            version.to_lowercase(),
            name.clone(),
        ),
    }
}

/// Compares dotted numeric versions ("1.10.0.0" > "1.9").
fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |v: &str| {
        v.split('.')
            .map(|p| p.parse::<u64>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    parse(a).cmp(&parse(b))
}

impl SqliteStorage {
    /// Opens (creating if needed) the storage in `data_dir`: `traek.db` and `blobs/`.
    pub fn open(data_dir: &Path) -> StorageResult<Self> {
        std::fs::create_dir_all(data_dir.join("blobs"))
            .map_err(|e| err(format!("creating {}: {e}", data_dir.display())))?;
        let db = data_dir.join("traek.db");
        let conn =
            Connection::open(&db).map_err(|e| err(format!("opening {}: {e}", db.display())))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        let cache = Arc::new(Cache::default());
        load_cache(&conn, &cache)?;
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
        let blobs = data_dir.join("blobs");
        let writer_blobs = blobs.clone();
        conn.set_prepared_statement_cache_capacity(64);
        let handle = std::thread::Builder::new()
            .name("traek-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, writer_cache, writer_blobs))
            .map_err(err)?;
        Ok(SqliteStorage {
            writer: Mutex::new(Some(tx)),
            writer_thread: Mutex::new(Some(handle)),
            readers: Arc::new(Mutex::new(readers)),
            blobs,
            cache,
        })
    }

    async fn write(&self, op: WriteOp) -> StorageResult<WriteOutcome> {
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

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StorageResult<T> + Send + 'static,
    ) -> StorageResult<T> {
        let pool = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || {
            let conn = lock(&pool).pop();
            let conn = match conn {
                Some(c) => c,
                None => return Err(err("no reader connection available")),
            };
            let out = f(&conn);
            lock(&pool).push(conn);
            out
        })
        .await
        .map_err(err)?
    }

    async fn query_nodes(
        &self,
        key: String,
        exact: bool,
        limit: usize,
    ) -> StorageResult<Vec<NodeSummary>> {
        let cache = Arc::clone(&self.cache);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |c| {
            let sql = if exact {
                "SELECT agent_id, last_seen, assigned_names, last_report_status, last_report_time FROM agents WHERE agent_id = ?1 LIMIT ?2"
            } else {
                "SELECT agent_id, last_seen, assigned_names, last_report_status, last_report_time FROM agents WHERE agent_id > ?1 ORDER BY agent_id LIMIT ?2"
            };
            let mut stmt = c.prepare_cached(sql).map_err(err)?;
            let rows = stmt
                .query_map(params![key, limit], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, Option<String>>(3)?, r.get::<_, Option<i64>>(4)?))
                })
                .map_err(err)?;
            let mut out = Vec::new();
            let mut reg = c
                .prepare_cached("SELECT message_type, node_name, ip_address, lcm_version, configuration_names FROM registrations WHERE agent_id = ?1 ORDER BY message_type")
                .map_err(err)?;
            for row in rows {
                let (id, last_seen, assigned, status, status_time) = row.map_err(err)?;
                let Ok(agent_id) = Uuid::parse_str(&id) else { continue };
                let mut node = NodeSummary {
                    agent_id,
                    node_name: None,
                    ip_addresses: Vec::new(),
                    lcm_version: None,
                    registration_types: Vec::new(),
                    registered_names: Vec::new(),
                    assigned_names: assigned.and_then(|a| serde_json::from_str(&a).ok()),
                    last_seen: match (last_seen, read_lock(&cache.agents).get(&agent_id).map(|a| a.last_seen.load(Relaxed)).filter(|t| *t > 0)) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    },
                    last_report_status: status,
                    last_report_time: status_time,
                };
                let regs = reg
                    .query_map(params![id], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, Option<String>>(4)?))
                    })
                    .map_err(err)?;
                for r in regs {
                    let (mt, name, ips, lcm, names) = r.map_err(err)?;
                    node.node_name.get_or_insert(name);
                    if node.ip_addresses.is_empty() {
                        node.ip_addresses = ips.split(';').filter(|s| !s.is_empty()).map(str::to_string).collect();
                    }
                    node.lcm_version.get_or_insert(lcm);
                    if let Some(n) = names.and_then(|n| serde_json::from_str::<Vec<String>>(&n).ok()) {
                        node.registered_names = n;
                    }
                    node.registration_types.push(mt);
                }
                out.push(node);
            }
            Ok(out)
        })
        .await
    }

    fn blob_path(&self, checksum: &str) -> PathBuf {
        self.blobs.join(checksum)
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

fn load_cache(conn: &Connection, cache: &Cache) -> StorageResult<()> {
    let mut agents: HashMap<Uuid, (AgentView, i64)> = HashMap::new();
    let mut stmt = conn
        .prepare("SELECT agent_id, assigned_names, last_seen FROM agents")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })
        .map_err(err)?;
    for row in rows {
        let (id, assigned, seen) = row.map_err(err)?;
        let Ok(id) = Uuid::parse_str(&id) else {
            continue;
        };
        let view = AgentView {
            assigned_names: assigned.and_then(|a| serde_json::from_str(&a).ok()),
            ..Default::default()
        };
        agents.insert(id, (view, seen.unwrap_or(0)));
    }
    let mut stmt = conn
        .prepare(
            "SELECT agent_id, message_type, configuration_names, thumbprint FROM registrations",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })
        .map_err(err)?;
    for row in rows {
        let (id, mt, names, thumb) = row.map_err(err)?;
        let Ok(id) = Uuid::parse_str(&id) else {
            continue;
        };
        let Some((view, _)) = agents.get_mut(&id) else {
            continue;
        };
        if mt == RegistrationMessageType::ConfigurationRepository.as_str() {
            view.registered_names = names
                .and_then(|n| serde_json::from_str(&n).ok())
                .unwrap_or_default();
        }
        if let Some(t) = thumb
            && !view.thumbprints.contains(&t)
        {
            view.thumbprints.push(t);
        }
    }
    *write_lock(&cache.agents) = agents
        .into_iter()
        .map(|(id, (view, seen))| (id, CachedAgent::new(view, seen)))
        .collect();
    let mut configs = HashMap::new();
    let mut stmt = conn
        .prepare("SELECT name_key, checksum FROM content WHERE kind = 'configuration'")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(err)?;
    for row in rows {
        let (k, c) = row.map_err(err)?;
        configs.insert(k, c);
    }
    *write_lock(&cache.configs) = configs;
    Ok(())
}

fn writer_loop(
    mut conn: Connection,
    rx: mpsc::Receiver<WriteJob>,
    cache: Arc<Cache>,
    blobs: PathBuf,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut results: Vec<StorageResult<WriteOutcome>> = Vec::with_capacity(batch.len());
        let mut cache_updates: Vec<CacheUpdate> = Vec::new();
        let mut orphan_blobs: Vec<String> = Vec::new();
        let commit = (|| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            for job in &batch {
                results
                    .push(apply(&tx, &job.op, &mut cache_updates, &mut orphan_blobs).map_err(err));
            }
            tx.commit()
        })();
        match commit {
            Ok(()) => {
                for update in cache_updates {
                    update(&cache);
                }
                for checksum in orphan_blobs {
                    let _ = std::fs::remove_file(blobs.join(checksum));
                }
                for (job, result) in batch.into_iter().zip(results) {
                    let _ = job.ack.send(result);
                }
            }
            Err(e) => {
                let message = format!("commit failed: {e}");
                for job in batch {
                    let _ = job.ack.send(Err(err(&message)));
                }
            }
        }
    }
}

fn apply(
    tx: &rusqlite::Transaction<'_>,
    op: &WriteOp,
    updates: &mut Vec<CacheUpdate>,
    orphans: &mut Vec<String>,
) -> rusqlite::Result<WriteOutcome> {
    match op {
        WriteOp::Register(r) => {
            let id = r.agent_id.to_string();
            tx.prepare_cached("INSERT INTO agents (agent_id, created_at, last_seen) VALUES (?1, ?2, ?2) ON CONFLICT(agent_id) DO UPDATE SET last_seen = ?2")?
                .execute(params![id, r.registered_at])?;
            let req = &r.request;
            let cert = req
                .registration_information
                .certificate_information
                .as_ref();
            let names = req
                .configuration_names
                .as_ref()
                .map(|n| serde_json::to_string(n).unwrap_or_default());
            tx.prepare_cached(
                "INSERT OR REPLACE INTO registrations (agent_id, message_type, key_id, registered_at, node_name, ip_address, lcm_version, thumbprint, configuration_names, request)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                id,
                r.message_type.as_str(),
                r.key_id,
                r.registered_at,
                req.agent_information.node_name,
                req.agent_information.ip_address,
                req.agent_information.lcm_version,
                cert.map(|c| c.thumbprint.clone()),
                names,
                serde_json::to_string(req).unwrap_or_default(),
            ])?;
            let (agent_id, mt) = (r.agent_id, r.message_type);
            let new_names = req.configuration_names.clone().unwrap_or_default();
            let thumb = cert.map(|c| c.thumbprint.clone());
            let seen = r.registered_at;
            updates.push(Box::new(move |c: &Cache| {
                c.update_agent(agent_id, true, |view| {
                    if mt == RegistrationMessageType::ConfigurationRepository {
                        view.registered_names = new_names;
                    }
                    if let Some(t) = thumb
                        && !view.thumbprints.contains(&t)
                    {
                        view.thumbprints.push(t);
                    }
                });
                if let Some(a) = read_lock(&c.agents).get(&agent_id) {
                    a.last_seen.fetch_max(seen, Relaxed);
                    a.flushed.fetch_max(seen, Relaxed);
                }
            }));
            Ok(WriteOutcome::Done)
        }
        WriteOp::Unregister(agent_id) => {
            let n = tx
                .prepare_cached("DELETE FROM agents WHERE agent_id = ?1")?
                .execute(params![agent_id.to_string()])?;
            let id = *agent_id;
            updates.push(Box::new(move |c: &Cache| {
                write_lock(&c.agents).remove(&id);
            }));
            Ok(WriteOutcome::Found(n > 0))
        }
        WriteOp::Assign(agent_id, names) => {
            let json = names
                .as_ref()
                .map(|n| serde_json::to_string(n).unwrap_or_default());
            let n = tx
                .prepare_cached("UPDATE agents SET assigned_names = ?2 WHERE agent_id = ?1")?
                .execute(params![agent_id.to_string(), json])?;
            let (id, names) = (*agent_id, names.clone());
            if n > 0 {
                updates.push(Box::new(move |c: &Cache| {
                    c.update_agent(id, false, |v| v.assigned_names = names)
                }));
            }
            Ok(WriteOutcome::Found(n > 0))
        }
        WriteOp::Report {
            agent_id,
            summary: s,
            body,
            received_at,
        } => {
            tx.prepare_cached(
                "INSERT INTO reports (agent_id, job_id, received_at, operation_type, refresh_mode, status, node_name, ip_address, start_time, end_time, start_unix, end_unix, error_count, first_error, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?
            .execute(params![
                agent_id.to_string(),
                s.job_id.to_string(),
                received_at,
                s.operation_type,
                s.refresh_mode,
                s.status,
                s.node_name,
                s.ip_address,
                s.start_time,
                s.end_time,
                s.start_unix,
                s.end_unix,
                s.error_count as i64,
                s.first_error,
                body.as_ref(),
            ])?;
            let id = tx.last_insert_rowid();
            if let Some(status) = &s.status {
                tx.prepare_cached("UPDATE agents SET last_report_status = ?2, last_report_time = ?3 WHERE agent_id = ?1")?
                    .execute(params![agent_id.to_string(), status, received_at])?;
            }
            Ok(WriteOutcome::Id(id))
        }
        WriteOp::PutContent(key, meta) => {
            let (kind, name_key, version, _) = kind_of(key);
            let old: Option<String> = tx
                .prepare_cached("SELECT checksum FROM content WHERE kind = ?1 AND name_key = ?2 AND version = ?3")?
                .query_row(params![kind, name_key, version], |r| r.get(0))
                .optional()?;
            tx.prepare_cached("INSERT OR REPLACE INTO content (kind, name_key, version, name, checksum, size, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
                .execute(params![kind, name_key, version, meta.name, meta.checksum, meta.size as i64, meta.updated_at])?;
            if let Some(old) = old
                && old != meta.checksum
                && !blob_referenced(tx, &old)?
            {
                orphans.push(old);
            }
            if kind == "configuration" {
                let checksum = meta.checksum.clone();
                updates.push(Box::new(move |c: &Cache| {
                    write_lock(&c.configs).insert(name_key, checksum);
                }));
            }
            Ok(WriteOutcome::Done)
        }
        WriteOp::DeleteContent(key) => {
            let (kind, name_key, version, _) = kind_of(key);
            let old: Option<String> = tx
                .prepare_cached("SELECT checksum FROM content WHERE kind = ?1 AND name_key = ?2 AND version = ?3")?
                .query_row(params![kind, name_key, version], |r| r.get(0))
                .optional()?;
            let Some(old) = old else {
                return Ok(WriteOutcome::Found(false));
            };
            tx.prepare_cached(
                "DELETE FROM content WHERE kind = ?1 AND name_key = ?2 AND version = ?3",
            )?
            .execute(params![kind, name_key, version])?;
            if !blob_referenced(tx, &old)? {
                orphans.push(old);
            }
            if kind == "configuration" {
                updates.push(Box::new(move |c: &Cache| {
                    write_lock(&c.configs).remove(&name_key);
                }));
            }
            Ok(WriteOutcome::Found(true))
        }
        WriteOp::AddKeys(keys, source) => {
            let now = now_unix();
            let mut n = 0;
            for k in keys {
                n += tx
                    .prepare_cached(
                        "INSERT INTO registration_keys (key, id, source, added_at) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT(key) DO UPDATE SET revoked_at = NULL, added_at = ?4, source = ?3 WHERE revoked_at IS NOT NULL",
                    )?
                    .execute(params![k, crate::keys::key_id(k), source, now])?;
            }
            Ok(WriteOutcome::Count(n))
        }
        WriteOp::RevokeKey(id_or_key) => {
            let key: Option<String> = tx
                .prepare_cached("SELECT key FROM registration_keys WHERE revoked_at IS NULL AND (key = ?1 OR id = upper(?1)) LIMIT 1")?
                .query_row(params![id_or_key], |r| r.get(0))
                .optional()?;
            if let Some(k) = &key {
                tx.prepare_cached("UPDATE registration_keys SET revoked_at = ?2 WHERE key = ?1")?
                    .execute(params![k, now_unix()])?;
            }
            Ok(WriteOutcome::Revoked(key))
        }
        WriteOp::Touch(seen) => {
            let mut stmt = tx.prepare_cached("UPDATE agents SET last_seen = ?2 WHERE agent_id = ?1 AND (last_seen IS NULL OR last_seen < ?2)")?;
            for (id, t) in seen {
                stmt.execute(params![id.to_string(), t])?;
            }
            Ok(WriteOutcome::Done)
        }
    }
}

fn blob_referenced(tx: &rusqlite::Transaction<'_>, checksum: &str) -> rusqlite::Result<bool> {
    tx.prepare_cached("SELECT 1 FROM content WHERE checksum = ?1 LIMIT 1")?
        .query_row(params![checksum], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
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
        },
        body: Bytes::from(body),
    })
}

const REPORT_COLUMNS: &str = "id, agent_id, job_id, received_at, operation_type, refresh_mode, status, node_name, ip_address, start_time, end_time, start_unix, end_unix, error_count, first_error, body";

#[async_trait]
impl Storage for SqliteStorage {
    async fn register(&self, registration: Registration) -> StorageResult<()> {
        self.write(WriteOp::Register(registration))
            .await
            .map(|_| ())
    }

    async fn agent(&self, agent_id: Uuid) -> StorageResult<Option<Arc<AgentView>>> {
        Ok(read_lock(&self.cache.agents)
            .get(&agent_id)
            .map(|a| Arc::clone(&a.view)))
    }

    fn touch(&self, agent_id: Uuid, now: i64) {
        if let Some(a) = read_lock(&self.cache.agents).get(&agent_id) {
            a.last_seen.fetch_max(now, Relaxed);
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

    async fn nodes(&self, after: Option<Uuid>, limit: usize) -> StorageResult<Vec<NodeSummary>> {
        self.query_nodes(
            after.map(|a| a.to_string()).unwrap_or_default(),
            false,
            limit,
        )
        .await
    }

    async fn node(&self, agent_id: Uuid) -> StorageResult<Option<NodeSummary>> {
        Ok(self.query_nodes(agent_id.to_string(), true, 1).await?.pop())
    }

    async fn agent_count(&self) -> StorageResult<u64> {
        Ok(read_lock(&self.cache.agents).len() as u64)
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
            let mut args: Vec<rusqlite::types::Value> = vec![f.after_id.unwrap_or(0).into()];
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
            sql.push_str(&format!(" ORDER BY id LIMIT {limit}"));
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

    async fn put_content(&self, key: ContentKey, bytes: Bytes) -> StorageResult<ContentMeta> {
        let checksum = checksum::sha256_hex(&bytes);
        let path = self.blob_path(&checksum);
        let size = bytes.len() as u64;
        let blobs = self.blobs.clone();
        let c2 = checksum.clone();
        tokio::task::spawn_blocking(move || write_blob(&blobs, &path, &c2, &bytes))
            .await
            .map_err(err)??;
        let (name, version) = match &key {
            ContentKey::Configuration { name } => (name.clone(), None),
            ContentKey::Module { name, version } => (name.clone(), Some(version.clone())),
        };
        let meta = ContentMeta {
            name,
            version,
            checksum,
            size,
            updated_at: now_unix(),
        };
        self.write(WriteOp::PutContent(key, meta.clone())).await?;
        Ok(meta)
    }

    async fn content_meta(&self, key: &ContentKey) -> StorageResult<Option<ContentMeta>> {
        let (kind, name_key, version, _) = kind_of(key);
        self.read(move |c| {
            let q = if kind == "module" && version.is_empty() {
                "SELECT name, version, checksum, size, updated_at FROM content WHERE kind = ?1 AND name_key = ?2"
            } else {
                "SELECT name, version, checksum, size, updated_at FROM content WHERE kind = ?1 AND name_key = ?2 AND version = ?3"
            };
            let mut stmt = c.prepare_cached(q).map_err(err)?;
            let map = |r: &rusqlite::Row<'_>| {
                Ok(ContentMeta {
                    name: r.get(0)?,
                    version: Some(r.get::<_, String>(1)?).filter(|_| kind == "module"),
                    checksum: r.get(2)?,
                    size: r.get::<_, i64>(3)? as u64,
                    updated_at: r.get(4)?,
                })
            };
            let rows: Vec<ContentMeta> = if kind == "module" && version.is_empty() {
                stmt.query_map(params![kind, name_key], map).map_err(err)?.collect::<Result<_, _>>().map_err(err)?
            } else {
                stmt.query_map(params![kind, name_key, version], map).map_err(err)?.collect::<Result<_, _>>().map_err(err)?
            };
            Ok(rows.into_iter().max_by(|a, b| version_cmp(a.version.as_deref().unwrap_or(""), b.version.as_deref().unwrap_or(""))))
        })
        .await
    }

    async fn content(&self, key: &ContentKey) -> StorageResult<Option<(ContentMeta, Bytes)>> {
        let Some(meta) = self.content_meta(key).await? else {
            return Ok(None);
        };
        let path = self.blob_path(&meta.checksum);
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(&path))
            .await
            .map_err(err)?;
        match bytes {
            Ok(b) => Ok(Some((meta, Bytes::from(b)))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(err(format!("blob {} is missing", meta.checksum)))
            }
            Err(e) => Err(err(e)),
        }
    }

    fn configuration_checksum(&self, name: &str) -> Option<String> {
        read_lock(&self.cache.configs)
            .get(&name.to_lowercase())
            .cloned()
    }

    async fn delete_content(&self, key: &ContentKey) -> StorageResult<bool> {
        match self.write(WriteOp::DeleteContent(key.clone())).await? {
            WriteOutcome::Found(f) => Ok(f),
            _ => Ok(false),
        }
    }

    async fn list_content(&self, modules: bool) -> StorageResult<Vec<ContentMeta>> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT name, version, checksum, size, updated_at FROM content WHERE kind = ?1 ORDER BY name_key, version")
                .map_err(err)?;
            let kind = if modules { "module" } else { "configuration" };
            let rows = stmt
                .query_map(params![kind], |r| {
                    Ok(ContentMeta {
                        name: r.get(0)?,
                        version: Some(r.get::<_, String>(1)?).filter(|_| modules),
                        checksum: r.get(2)?,
                        size: r.get::<_, i64>(3)? as u64,
                        updated_at: r.get(4)?,
                    })
                })
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

    async fn flush(&self) -> StorageResult<()> {
        let dirty: Vec<(Uuid, i64, Arc<CachedAgent>)> = read_lock(&self.cache.agents)
            .iter()
            .filter_map(|(id, a)| {
                let seen = a.last_seen.load(Relaxed);
                (seen > a.flushed.load(Relaxed)).then(|| (*id, seen, Arc::clone(a)))
            })
            .collect();
        if dirty.is_empty() {
            return Ok(());
        }
        self.write(WriteOp::Touch(
            dirty.iter().map(|(id, t, _)| (*id, *t)).collect(),
        ))
        .await?;
        for (_, t, a) in dirty {
            a.flushed.fetch_max(t, Relaxed);
        }
        Ok(())
    }
}

fn write_blob(dir: &Path, path: &Path, checksum: &str, bytes: &[u8]) -> StorageResult<()> {
    if path.exists() {
        return Ok(());
    }
    let tmp = dir.join(format!(".{checksum}.{}.tmp", std::process::id()));
    let mut f =
        std::fs::File::create(&tmp).map_err(|e| err(format!("creating {}: {e}", tmp.display())))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| err(format!("writing {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| err(format!("renaming {}: {e}", tmp.display())))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
