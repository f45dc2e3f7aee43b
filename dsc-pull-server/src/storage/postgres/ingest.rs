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

/// Inserts a report; no row when the report is one per job and that job's is already stored.
const INSERT: &str = "INSERT INTO reports (agent_id, job_id, received_at, operation_type, refresh_mode, status, node_name, ip_address, start_time, end_time, start_unix, end_unix, error_count, first_error, body, unique_job, applied)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
     ON CONFLICT (agent_id, unique_job) WHERE unique_job IS NOT NULL DO NOTHING RETURNING id";
/// The stored copy of a report kept once per job.
const EXISTING: &str = "SELECT id FROM reports WHERE agent_id = $1 AND unique_job = $2";
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
    let existing = tx.prepare_cached(EXISTING).await?;
    let status = tx.prepare_cached(STATUS).await?;
    let inserts = jobs.iter().map(|j| {
        let s = &j.summary;
        let error_count = i32::try_from(s.error_count).unwrap_or(i32::MAX);
        let unique_job = s.unique_job();
        let (insert, existing) = (&insert, &existing);
        let tx = &tx;
        async move {
            let row = tx
                .query_opt(
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
                        &unique_job,
                        &s.applied,
                    ],
                )
                .await?;
            match row {
                Some(row) => Ok((row.get::<_, i64>(0), true)),
                // Already stored: the first copy stands and is not counted again.
                None => tx
                    .query_one(existing, &[&j.agent_id, &unique_job])
                    .await
                    .map(|row| (row.get::<_, i64>(0), false)),
            }
        }
    });
    let stored: Vec<(i64, bool)> = try_join_all(inserts).await?;
    let ids = stored.iter().map(|(id, _)| *id).collect();
    let mut latest: std::collections::BTreeMap<Uuid, (&String, i64)> = Default::default();
    let mut runs: std::collections::BTreeMap<Uuid, (&RunCompliance, i64, Option<&str>)> =
        Default::default();
    for (j, _) in jobs.iter().zip(&stored).filter(|(_, (_, fresh))| *fresh) {
        if let Some(st) = &j.summary.status {
            latest.insert(j.agent_id, (st, j.received_at));
        }
        if let Some(run) = &j.summary.run {
            runs.insert(
                j.agent_id,
                (run, j.received_at, j.summary.applied.as_deref()),
            );
        }
    }
    let updates = latest.iter().map(|(agent, (st, at))| {
        let (tx, status) = (&tx, &status);
        async move { tx.execute(status, &[agent, *st, at]).await }
    });
    try_join_all(updates).await?;
    record_runs(&tx, &runs).await?;
    tx.commit().await?;
    Ok(ids)
}

/// Per-resource results as columns for `unnest`: agent, resource id, module, in desired state,
/// error.
type ResourceColumns<'a> = (
    Vec<Uuid>,
    Vec<&'a str>,
    Vec<&'a str>,
    Vec<bool>,
    Vec<Option<&'a str>>,
);

/// Keeps each node's latest run of the batch (`runs` is in agent-id order): its status, its
/// per-resource results, its status of the day and the day's counts. Set-based statements and
/// pipelined updates keep this to a few round trips per batch; rows are locked in agent-id
/// order and daily counts last in (day, status) order, so concurrent batches never deadlock.
async fn record_runs(
    tx: &deadpool_postgres::Transaction<'_>,
    runs: &std::collections::BTreeMap<Uuid, (&RunCompliance, i64, Option<&str>)>,
) -> Result<(), BatchError> {
    if runs.is_empty() {
        return Ok(());
    }
    let update = tx
        .prepare_cached(
            "UPDATE agents SET run_status = $2, run_time = $3, run_applied = $4 WHERE agent_id = $1",
        )
        .await?;
    let updates = runs.iter().map(|(agent, (run, at, applied))| {
        let (tx, update, status) = (tx, &update, run.status.as_str());
        async move { tx.execute(update, &[agent, &status, at, applied]).await }
    });
    try_join_all(updates).await?;
    let agents: Vec<Uuid> = runs.keys().copied().collect();
    tx.execute(
        "DELETE FROM node_resources WHERE agent_id = ANY($1)",
        &[&agents],
    )
    .await?;
    let mut columns: ResourceColumns<'_> = Default::default();
    for (agent, (run, _, _)) in runs {
        for r in &run.resources {
            columns.0.push(*agent);
            columns.1.push(&r.resource_id);
            columns.2.push(&r.module);
            columns.3.push(r.in_desired_state);
            columns.4.push(r.error.as_deref());
        }
    }
    if !columns.0.is_empty() {
        tx.execute(
            "INSERT INTO node_resources (agent_id, resource_id, module, in_desired_state, error)
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::boolean[], $5::text[])
             ON CONFLICT (agent_id, resource_id) DO UPDATE SET module = EXCLUDED.module,
             in_desired_state = EXCLUDED.in_desired_state, error = EXCLUDED.error",
            &[&columns.0, &columns.1, &columns.2, &columns.3, &columns.4],
        )
        .await?;
    }
    let mut deltas: std::collections::BTreeMap<(i64, &'static str), i64> = Default::default();
    let mut days: std::collections::BTreeMap<i64, Vec<(Uuid, &'static str)>> = Default::default();
    for (agent, (run, at, _)) in runs {
        days.entry(crate::storage::day_of(*at))
            .or_default()
            .push((*agent, run.status.as_str()));
    }
    for (day, nodes) in &days {
        let ids: Vec<Uuid> = nodes.iter().map(|n| n.0).collect();
        let old: std::collections::HashMap<Uuid, String> = tx
            .query(
                "SELECT agent_id, status FROM status_days WHERE day = $1 AND agent_id = ANY($2) ORDER BY agent_id FOR UPDATE",
                &[day, &ids],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let changed: Vec<&(Uuid, &'static str)> = nodes
            .iter()
            .filter(|(a, s)| old.get(a).map(String::as_str) != Some(*s))
            .collect();
        for (agent, status) in &changed {
            if let Some(o) = old.get(agent).and_then(|o| ComplianceStatus::parse(o)) {
                *deltas.entry((*day, o.as_str())).or_default() -= 1;
            }
            *deltas.entry((*day, status)).or_default() += 1;
        }
        if !changed.is_empty() {
            let ids: Vec<Uuid> = changed.iter().map(|c| c.0).collect();
            let statuses: Vec<&str> = changed.iter().map(|c| c.1).collect();
            tx.execute(
                "INSERT INTO status_days (agent_id, day, status) SELECT a, $1, s FROM unnest($2::uuid[], $3::text[]) AS t(a, s)
                 ON CONFLICT (agent_id, day) DO UPDATE SET status = EXCLUDED.status",
                &[day, &ids, &statuses],
            )
            .await?;
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
    Ok(())
}
