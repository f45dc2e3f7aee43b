//! The SQLite writer: one thread that owns the read-write connection and commits queued
//! writes in batches (group commit).

use super::err;
use crate::storage::cache::Cache;
use crate::storage::*;
use bytes::Bytes;
use dsc_core::pull::messages::ReportSummary;
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::{Arc, mpsc};
use tokio::sync::oneshot;
use uuid::Uuid;

pub(super) const MAX_BATCH: usize = 1024;

pub(super) enum WriteOp {
    Register(Registration),
    Unregister(Uuid),
    ReleasePin(Uuid),
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
    /// Deletes up to [`PRUNE_BATCH`] reports received before this time, never a node's newest.
    PruneOlderThan(i64),
    /// Deletes daily status records of days before this one.
    PruneDays(i64),
    /// Runs one statement (`?N` placeholders).
    Exec(String, Vec<crate::storage::accounts::SqlValue>),
    /// Deletes one node's reports beyond its newest `keep`.
    PruneNode {
        agent_id: String,
        keep: u64,
    },
}

pub(super) enum WriteOutcome {
    Done,
    Found(bool),
    /// A content write: whether the name existed, and the checksum it no longer points at.
    Content {
        found: bool,
        released: Option<String>,
    },
    Id(i64),
    Count(usize),
    Revoked(Option<String>),
}

/// A cache change applied after the commit that made it true.
type CacheUpdate = Box<dyn FnOnce(&Cache)>;

pub(super) struct WriteJob {
    pub(super) op: WriteOp,
    pub(super) ack: oneshot::Sender<StorageResult<WriteOutcome>>,
}

pub(super) fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<WriteJob>, cache: Arc<Cache>) {
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
        let commit = (|| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            for job in &batch {
                results.push(apply(&tx, &job.op, &mut cache_updates).map_err(err));
            }
            tx.commit()
        })();
        match commit {
            Ok(()) => {
                for update in cache_updates {
                    update(&cache);
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
) -> rusqlite::Result<WriteOutcome> {
    match op {
        WriteOp::Register(r) => register(tx, r, updates),
        WriteOp::Unregister(_) | WriteOp::ReleasePin(_) | WriteOp::Assign(..) => {
            change_agent(tx, op, updates)
        }
        WriteOp::Report {
            agent_id,
            summary,
            body,
            received_at,
        } => insert_report(tx, agent_id, summary, body, *received_at),
        WriteOp::PutContent(key, meta) => put_content(tx, key, meta, updates),
        WriteOp::DeleteContent(key) => delete_content(tx, key, updates),
        WriteOp::AddKeys(..) | WriteOp::RevokeKey(_) => change_keys(tx, op),
        _ => maintain(tx, op),
    }
}

fn register(
    tx: &rusqlite::Transaction<'_>,
    r: &Registration,
    updates: &mut Vec<CacheUpdate>,
) -> rusqlite::Result<WriteOutcome> {
    let id = r.agent_id.to_string();
    tx.prepare_cached("INSERT INTO agents (agent_id, created_at, last_seen) VALUES (?1, ?2, ?2) ON CONFLICT(agent_id) DO UPDATE SET last_seen = ?2")?
            .execute(params![id, r.registered_at])?;
    let req = &r.request;
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
            r.thumbprint(),
            r.names_json(),
            r.request_json(),
        ])?;
    if let Some(pin) = &r.pin {
        tx.prepare_cached(
            "UPDATE agents SET pin_thumbprint = ?2, pin_not_after = ?3 WHERE agent_id = ?1",
        )?
        .execute(params![id, pin.thumbprint, pin.not_after])?;
    }
    let r = r.clone();
    updates.push(Box::new(move |c: &Cache| c.apply_registration(&r)));
    Ok(WriteOutcome::Done)
}

/// Unregistering, releasing a pin, assigning.
fn change_agent(
    tx: &rusqlite::Transaction<'_>,
    op: &WriteOp,
    updates: &mut Vec<CacheUpdate>,
) -> rusqlite::Result<WriteOutcome> {
    match op {
        WriteOp::Unregister(agent_id) => {
            let n = tx
                .prepare_cached("DELETE FROM agents WHERE agent_id = ?1")?
                .execute(params![agent_id.to_string()])?;
            tx.prepare_cached("DELETE FROM node_resources WHERE agent_id = ?1")?
                .execute(params![agent_id.to_string()])?;
            let id = *agent_id;
            updates.push(Box::new(move |c: &Cache| {
                c.set_agent(id, None);
            }));
            Ok(WriteOutcome::Found(n > 0))
        }
        WriteOp::ReleasePin(agent_id) => {
            let n = tx
                .prepare_cached(
                    "UPDATE agents SET pin_thumbprint = NULL, pin_not_after = NULL WHERE agent_id = ?1",
                )?
                .execute(params![agent_id.to_string()])?;
            let id = *agent_id;
            updates.push(Box::new(move |c: &Cache| {
                c.update_agent(id, false, |v| v.pin = None)
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
        _ => Ok(WriteOutcome::Done),
    }
}

fn insert_report(
    tx: &rusqlite::Transaction<'_>,
    agent_id: &Uuid,
    s: &ReportSummary,
    body: &Bytes,
    received_at: i64,
) -> rusqlite::Result<WriteOutcome> {
    let agent = agent_id.to_string();
    let unique_job = s.unique_job().map(|j| j.to_string());
    let inserted = tx.prepare_cached(
            "INSERT INTO reports (agent_id, job_id, received_at, operation_type, refresh_mode, status, node_name, ip_address, start_time, end_time, start_unix, end_unix, error_count, first_error, body, unique_job, applied)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            agent,
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
            unique_job,
            s.applied,
        ])?;
    if inserted == 0 {
        // Already stored: the first copy stands, and the node's state is not counted twice.
        let id = tx
            .prepare_cached("SELECT id FROM reports WHERE agent_id = ?1 AND unique_job = ?2")?
            .query_row(params![agent, unique_job], |r| r.get(0))?;
        return Ok(WriteOutcome::Id(id));
    }
    let id = tx.last_insert_rowid();
    if let Some(status) = &s.status {
        tx.prepare_cached(
            "UPDATE agents SET last_report_status = ?2, last_report_time = ?3 WHERE agent_id = ?1",
        )?
        .execute(params![agent_id.to_string(), status, received_at])?;
    }
    if let Some(run) = &s.run {
        record_run(
            tx,
            &agent_id.to_string(),
            run,
            received_at,
            s.applied.as_deref(),
        )?;
    }
    Ok(WriteOutcome::Id(id))
}

/// The checksum stored for a content key's columns, if any.
fn stored_checksum(
    tx: &rusqlite::Transaction<'_>,
    kind: &str,
    name_key: &str,
    version: &str,
) -> rusqlite::Result<Option<String>> {
    tx.prepare_cached(
        "SELECT checksum FROM content WHERE kind = ?1 AND name_key = ?2 AND version = ?3",
    )?
    .query_row(params![kind, name_key, version], |r| r.get(0))
    .optional()
}

fn put_content(
    tx: &rusqlite::Transaction<'_>,
    key: &ContentKey,
    meta: &ContentMeta,
    updates: &mut Vec<CacheUpdate>,
) -> rusqlite::Result<WriteOutcome> {
    let (kind, name_key, version, _) = content_columns(key);
    let old = stored_checksum(tx, kind, &name_key, &version)?;
    let signers = (!meta.signers.is_empty())
        .then(|| serde_json::to_string(&meta.signers).unwrap_or_default());
    tx.prepare_cached("INSERT OR REPLACE INTO content (kind, name_key, version, name, checksum, size, updated_at, signers) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?
            .execute(params![kind, name_key, version, meta.name, meta.checksum, meta.size as i64, meta.updated_at, signers])?;
    let found = old.is_some();
    let released = old.filter(|o| *o != meta.checksum);
    let checksum = meta.checksum.clone();
    updates.push(Box::new(move |c: &Cache| {
        c.set_checksum(kind, name_key, Some(checksum))
    }));
    Ok(WriteOutcome::Content { found, released })
}

fn delete_content(
    tx: &rusqlite::Transaction<'_>,
    key: &ContentKey,
    updates: &mut Vec<CacheUpdate>,
) -> rusqlite::Result<WriteOutcome> {
    let (kind, name_key, version, _) = content_columns(key);
    let old = stored_checksum(tx, kind, &name_key, &version)?;
    let Some(old) = old else {
        return Ok(WriteOutcome::Content {
            found: false,
            released: None,
        });
    };
    tx.prepare_cached("DELETE FROM content WHERE kind = ?1 AND name_key = ?2 AND version = ?3")?
        .execute(params![kind, name_key, version])?;
    updates.push(Box::new(move |c: &Cache| {
        c.set_checksum(kind, name_key, None)
    }));
    Ok(WriteOutcome::Content {
        found: true,
        released: Some(old),
    })
}

/// Adding and revoking registration keys.
fn change_keys(tx: &rusqlite::Transaction<'_>, op: &WriteOp) -> rusqlite::Result<WriteOutcome> {
    match op {
        WriteOp::AddKeys(keys, source) => {
            let now = now_unix();
            let mut n = 0;
            for k in keys {
                n += tx
                    .prepare_cached(
                        "INSERT INTO registration_keys (key, id, source, added_at) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT(key) DO UPDATE SET revoked_at = NULL, added_at = ?4, source = ?3 WHERE revoked_at IS NOT NULL",
                    )?
                    .execute(params![k, dsc_core::pull::auth::key_id(k), source, now])?;
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
        _ => Ok(WriteOutcome::Done),
    }
}

/// Last-seen times, pruning, and single statements.
fn maintain(tx: &rusqlite::Transaction<'_>, op: &WriteOp) -> rusqlite::Result<WriteOutcome> {
    match op {
        WriteOp::Touch(seen) => {
            let mut stmt = tx.prepare_cached("UPDATE agents SET last_seen = ?2 WHERE agent_id = ?1 AND (last_seen IS NULL OR last_seen < ?2)")?;
            for (id, t) in seen {
                stmt.execute(params![id.to_string(), t])?;
            }
            Ok(WriteOutcome::Done)
        }
        WriteOp::PruneOlderThan(cutoff) => Ok(WriteOutcome::Count(
            tx.prepare_cached(
                "DELETE FROM reports WHERE id IN (SELECT r.id FROM reports r WHERE r.received_at < ?1
                 AND r.id < (SELECT max(r2.id) FROM reports r2 WHERE r2.agent_id = r.agent_id) LIMIT ?2)",
            )?
            .execute(params![cutoff, PRUNE_BATCH])?,
        )),
        WriteOp::Exec(sql, values) => {
            let params = values.iter().map(to_sqlite).collect::<Vec<_>>();
            let n = tx
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(params))?;
            Ok(WriteOutcome::Count(n))
        }
        WriteOp::PruneDays(before) => {
            tx.prepare_cached("DELETE FROM status_days WHERE day < ?1")?
                .execute(params![before])?;
            tx.prepare_cached("DELETE FROM daily_counts WHERE day < ?1")?
                .execute(params![before])?;
            Ok(WriteOutcome::Done)
        }
        WriteOp::PruneNode { agent_id, keep } => Ok(WriteOutcome::Count(
            tx.prepare_cached(
                "DELETE FROM reports WHERE agent_id = ?1 AND id < (SELECT id FROM reports
                 WHERE agent_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            )?
            .execute(params![agent_id, keep.saturating_sub(1) as i64])?,
        )),
        _ => Ok(WriteOutcome::Done),
    }
}

/// Keeps a node's latest run: its status, its per-resource results, and the day's count.
fn record_run(
    tx: &rusqlite::Transaction<'_>,
    agent: &str,
    run: &dsc_core::pull::compliance::RunCompliance,
    received_at: i64,
    applied: Option<&str>,
) -> rusqlite::Result<()> {
    let status = run.status.as_str();
    tx.prepare_cached(
        "UPDATE agents SET run_status = ?2, run_time = ?3, run_applied = ?4 WHERE agent_id = ?1",
    )?
    .execute(params![agent, status, received_at, applied])?;
    tx.prepare_cached("DELETE FROM node_resources WHERE agent_id = ?1")?
        .execute(params![agent])?;
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO node_resources (agent_id, resource_id, module, in_desired_state, error) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for r in &run.resources {
        insert.execute(params![
            agent,
            r.resource_id,
            r.module,
            r.in_desired_state,
            r.error
        ])?;
    }
    let day = day_of(received_at);
    let old: Option<String> = tx
        .prepare_cached("SELECT status FROM status_days WHERE agent_id = ?1 AND day = ?2")?
        .query_row(params![agent, day], |r| r.get(0))
        .optional()?;
    if old.as_deref() == Some(status) {
        return Ok(());
    }
    if let Some(old) = old {
        tx.prepare_cached(
            "UPDATE daily_counts SET count = count - 1 WHERE day = ?1 AND status = ?2",
        )?
        .execute(params![day, old])?;
    }
    tx.prepare_cached("INSERT INTO status_days (agent_id, day, status) VALUES (?1, ?2, ?3) ON CONFLICT (agent_id, day) DO UPDATE SET status = ?3")?
        .execute(params![agent, day, status])?;
    tx.prepare_cached("INSERT INTO daily_counts (day, status, count) VALUES (?1, ?2, 1) ON CONFLICT (day, status) DO UPDATE SET count = count + 1")?
        .execute(params![day, status])?;
    Ok(())
}

/// A value for SQLite.
pub(super) fn to_sqlite(v: &crate::storage::accounts::SqlValue) -> rusqlite::types::Value {
    use crate::storage::accounts::SqlValue;
    match v {
        SqlValue::Null => rusqlite::types::Value::Null,
        SqlValue::Int(i) => rusqlite::types::Value::Integer(*i),
        SqlValue::Text(s) => rusqlite::types::Value::Text(s.clone()),
    }
}
