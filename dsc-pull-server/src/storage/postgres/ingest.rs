//! Report ingest with group commit: reports queue here, a few committer tasks each take
//! whatever has queued (up to [`MAX_BATCH`]) and store it in one transaction, pipelining the
//! inserts on one connection. Every request waits for the commit that holds its report, so an
//! acknowledged report is in PostgreSQL (`synchronous_commit` as the server has it); a burst
//! costs one commit per batch, not one per report.

use super::{Shared, pg_error};
use crate::storage::{StorageError, StorageResult};
use bytes::Bytes;
use dsc_core::pull::compliance::{ComplianceStatus, RunCompliance};
use dsc_core::pull::messages::ReportSummary;
use futures_util::future::try_join_all;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};
use uuid::Uuid;

const MAX_BATCH: usize = 256;
/// Batches committed at once (each on its own connection).
pub const COMMITTERS: usize = 3;

pub struct ReportJob {
    pub agent_id: Uuid,
    pub summary: ReportSummary,
    pub body: Bytes,
    pub received_at: i64,
    pub ack: oneshot::Sender<StorageResult<i64>>,
}

/// Starts the committers; reports sent to the returned queue are stored.
pub fn start(shared: Arc<Shared>) -> (mpsc::Sender<ReportJob>, Vec<tokio::task::JoinHandle<()>>) {
    let (tx, rx) = mpsc::channel::<ReportJob>(16 * 1024);
    let rx = Arc::new(Mutex::new(rx));
    let tasks = (0..COMMITTERS)
        .map(|_| tokio::spawn(committer(Arc::clone(&shared), Arc::clone(&rx))))
        .collect();
    (tx, tasks)
}

async fn committer(shared: Arc<Shared>, rx: Arc<Mutex<mpsc::Receiver<ReportJob>>>) {
    loop {
        let mut batch = Vec::new();
        {
            let mut rx = rx.lock().await;
            if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return;
            }
        }
        match store_with_retry(&shared, &batch).await {
            Ok(ids) => {
                for (job, id) in batch.into_iter().zip(ids) {
                    let _ = job.ack.send(Ok(id));
                }
            }
            Err(e) => {
                for job in batch {
                    let _ = job.ack.send(Err(StorageError {
                        message: e.message.clone(),
                        unavailable: e.unavailable,
                    }));
                }
            }
        }
    }
}

const INSERT: &str = "INSERT INTO reports (agent_id, job_id, received_at, operation_type, refresh_mode, status, node_name, ip_address, start_time, end_time, start_unix, end_unix, error_count, first_error, body)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id";
const STATUS: &str =
    "UPDATE agents SET last_report_status = $2, last_report_time = $3 WHERE agent_id = $1";

/// Attempts at a batch that lost a deadlock or serialization race.
const ATTEMPTS: usize = 3;

async fn store_with_retry(shared: &Shared, jobs: &[ReportJob]) -> StorageResult<Vec<i64>> {
    let mut attempt = 1;
    loop {
        match store(shared, jobs).await {
            Err(e) if e.retryable && attempt < ATTEMPTS => {
                tracing::debug!(error = %e.error, attempt, "retrying a report batch");
                attempt += 1;
            }
            other => return other.map_err(|e| e.error),
        }
    }
}

/// A failed batch, and whether trying it again may succeed.
struct BatchError {
    error: StorageError,
    retryable: bool,
}

impl From<tokio_postgres::Error> for BatchError {
    fn from(e: tokio_postgres::Error) -> Self {
        let retryable = matches!(e.code().map(|c| c.code()), Some("40P01" | "40001"));
        BatchError {
            error: pg_error(e),
            retryable,
        }
    }
}

impl From<StorageError> for BatchError {
    fn from(error: StorageError) -> Self {
        BatchError {
            error,
            retryable: false,
        }
    }
}

/// Stores the batch in one transaction; the ids in the batch's order. Agents' latest statuses
/// are updated once per agent, in agent-id order, so concurrent batches never deadlock.
async fn store(shared: &Shared, jobs: &[ReportJob]) -> Result<Vec<i64>, BatchError> {
    let mut client = shared.client().await?;
    let tx = client.transaction().await?;
    let insert = tx.prepare_cached(INSERT).await?;
    let status = tx.prepare_cached(STATUS).await?;
    let inserts = jobs.iter().map(|j| {
        let s = &j.summary;
        let error_count = i32::try_from(s.error_count).unwrap_or(i32::MAX);
        let insert = &insert;
        let tx = &tx;
        async move {
            tx.query_one(
                insert,
                &[
                    &j.agent_id,
                    &s.job_id,
                    &j.received_at,
                    &s.operation_type,
                    &s.refresh_mode,
                    &s.status,
                    &s.node_name,
                    &s.ip_address,
                    &s.start_time,
                    &s.end_time,
                    &s.start_unix,
                    &s.end_unix,
                    &error_count,
                    &s.first_error,
                    &j.body.as_ref(),
                ],
            )
            .await
            .map(|row| row.get::<_, i64>(0))
        }
    });
    let ids = try_join_all(inserts).await?;
    let mut latest: std::collections::BTreeMap<Uuid, (&String, i64)> = Default::default();
    let mut runs: std::collections::BTreeMap<Uuid, (&RunCompliance, i64)> = Default::default();
    for j in jobs {
        if let Some(st) = &j.summary.status {
            latest.insert(j.agent_id, (st, j.received_at));
        }
        if let Some(run) = &j.summary.run {
            runs.insert(j.agent_id, (run, j.received_at));
        }
    }
    let updates = latest.iter().map(|(agent, (st, at))| {
        let (tx, status) = (&tx, &status);
        async move { tx.execute(status, &[agent, *st, at]).await }
    });
    try_join_all(updates).await?;
    // Daily counts change last, in (day, status) order, so concurrent batches never deadlock.
    let mut deltas: std::collections::BTreeMap<(i64, &'static str), i64> = Default::default();
    for (agent, (run, at)) in &runs {
        if let Some((day, old)) = record_run(&tx, agent, run, *at).await? {
            if let Some(old) = old.and_then(|o| ComplianceStatus::parse(&o)) {
                *deltas.entry((day, old.as_str())).or_default() -= 1;
            }
            *deltas.entry((day, run.status.as_str())).or_default() += 1;
        }
    }
    for ((day, status), delta) in deltas.into_iter().filter(|d| d.1 != 0) {
        tx.execute(
            "INSERT INTO daily_counts (day, status, count) VALUES ($1, $2, $3)
             ON CONFLICT (day, status) DO UPDATE SET count = daily_counts.count + $3",
            &[&day, &status, &delta],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(ids)
}

/// Keeps a node's latest run: its status, its per-resource results and its status of the day.
/// When the day's status changed: the day and the status it had before (if any).
async fn record_run(
    tx: &deadpool_postgres::Transaction<'_>,
    agent: &Uuid,
    run: &RunCompliance,
    received_at: i64,
) -> Result<Option<(i64, Option<String>)>, BatchError> {
    let status = run.status.as_str();
    tx.execute(
        "UPDATE agents SET run_status = $2, run_time = $3 WHERE agent_id = $1",
        &[agent, &status, &received_at],
    )
    .await?;
    tx.execute("DELETE FROM node_resources WHERE agent_id = $1", &[agent])
        .await?;
    if !run.resources.is_empty() {
        let ids: Vec<&str> = run
            .resources
            .iter()
            .map(|r| r.resource_id.as_str())
            .collect();
        let modules: Vec<&str> = run.resources.iter().map(|r| r.module.as_str()).collect();
        let ok: Vec<bool> = run.resources.iter().map(|r| r.in_desired_state).collect();
        let errors: Vec<Option<&str>> = run.resources.iter().map(|r| r.error.as_deref()).collect();
        tx.execute(
            "INSERT INTO node_resources (agent_id, resource_id, module, in_desired_state, error)
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::boolean[], $5::text[])
             ON CONFLICT (agent_id, resource_id) DO UPDATE SET module = EXCLUDED.module,
             in_desired_state = EXCLUDED.in_desired_state, error = EXCLUDED.error",
            &[agent, &ids, &modules, &ok, &errors],
        )
        .await?;
    }
    let day = crate::storage::day_of(received_at);
    let old: Option<String> = tx
        .query_opt(
            "SELECT status FROM status_days WHERE agent_id = $1 AND day = $2 FOR UPDATE",
            &[agent, &day],
        )
        .await?
        .map(|r| r.get(0));
    if old.as_deref() == Some(status) {
        return Ok(None);
    }
    tx.execute(
        "INSERT INTO status_days (agent_id, day, status) VALUES ($1, $2, $3)
         ON CONFLICT (agent_id, day) DO UPDATE SET status = $3",
        &[agent, &day, &status],
    )
    .await?;
    Ok(Some((day, old)))
}
