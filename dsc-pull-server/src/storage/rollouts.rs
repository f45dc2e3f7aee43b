//! Rollout plans and rollouts of candidate versions, and which version each node was given,
//! over [`Sql`] for both backends. The rules are `dsc_core::pull::rollout`'s; this keeps rows.
//!
//! A configuration (or package) has at most one row: its plan, and the state of its latest
//! rollout. Every change bumps `revision`, and a change is written only over the revision it
//! was computed from, so the replica that drives rollouts and an operator acting through
//! another replica never overwrite each other's move.

use super::accounts::{Sql, SqlValue};
use super::{ContentKey, StorageResult, content_columns};
use dsc_core::pull::rollout::{Plan, Rollout, State};
use uuid::Uuid;

/// The tables, in SQL both SQLite and PostgreSQL accept.
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS rollouts (
    kind TEXT NOT NULL,
    name_key TEXT NOT NULL,
    name TEXT NOT NULL,
    plan TEXT NOT NULL,
    state TEXT,
    candidate_version BIGINT,
    candidate_checksum TEXT,
    candidate_size BIGINT,
    ring BIGINT NOT NULL,
    ring_started_at BIGINT,
    started_at BIGINT,
    reason TEXT,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, name_key)
);
CREATE TABLE IF NOT EXISTS agent_content (
    agent_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name_key TEXT NOT NULL,
    checksum TEXT NOT NULL,
    given_at BIGINT NOT NULL,
    PRIMARY KEY (agent_id, kind, name_key)
);
CREATE INDEX IF NOT EXISTS agent_content_by_checksum ON agent_content (checksum);
"#;

/// A configuration's plan and its latest rollout, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub name: String,
    pub plan: Plan,
    /// `None` until a candidate is published under the plan.
    pub rollout: Option<Rollout>,
    pub revision: i64,
    pub updated_at: i64,
}

fn text(row: &[SqlValue], i: usize) -> Option<String> {
    row.get(i).and_then(SqlValue::text)
}

fn int(row: &[SqlValue], i: usize) -> Option<i64> {
    row.get(i).and_then(SqlValue::int)
}

const COLUMNS: &str = "kind, name_key, name, plan, state, candidate_version, candidate_checksum, candidate_size, ring, ring_started_at, started_at, reason, revision, updated_at";

/// `(kind, name_key, record)` of a row; `None` for a row this build cannot read.
fn record_of(row: &[SqlValue]) -> Option<(String, String, Record)> {
    let plan = Plan::parse(text(row, 3)?.as_bytes()).ok()?;
    let rollout = match text(row, 4).as_deref().and_then(State::parse) {
        None => None,
        Some(state) => Some(Rollout {
            plan: plan.clone(),
            candidate_version: int(row, 5)?,
            candidate: text(row, 6)?,
            candidate_size: int(row, 7).unwrap_or(0),
            state,
            ring: usize::try_from(int(row, 8)?).ok()?,
            ring_started_at: int(row, 9).unwrap_or(0),
            started_at: int(row, 10).unwrap_or(0),
            reason: text(row, 11),
        }),
    };
    Some((
        text(row, 0)?,
        text(row, 1)?,
        Record {
            name: text(row, 2)?,
            plan,
            rollout,
            revision: int(row, 12)?,
            updated_at: int(row, 13).unwrap_or(0),
        },
    ))
}

/// The query [`live_from_rows`] reads: every rollout serving a candidate now.
pub const LIVE_QUERY: &str = "SELECT kind, name_key, name, plan, state, candidate_version, candidate_checksum, candidate_size, ring, ring_started_at, started_at, reason, revision, updated_at FROM rollouts WHERE state IN ('active', 'halted')";

/// `(kind, name_key, rollout)` of every row of [`LIVE_QUERY`].
pub fn live_from_rows(rows: &[Vec<SqlValue>]) -> Vec<(String, String, Rollout)> {
    rows.iter()
        .filter_map(|r| record_of(r))
        .filter_map(|(k, n, rec)| rec.rollout.map(|r| (k, n, r)))
        .collect()
}

/// One node of a configuration: its agent id and tags.
pub type Member = (Uuid, Vec<String>);

/// Rollouts over a backend's [`Sql`].
pub struct Rollouts<'a>(pub &'a dyn Sql);

impl Rollouts<'_> {
    /// The plan and latest rollout of a configuration or package.
    pub async fn get(&self, key: &ContentKey) -> StorageResult<Option<Record>> {
        let (kind, name_key, _, _) = content_columns(key);
        let rows = self
            .0
            .rows(
                &format!("SELECT {COLUMNS} FROM rollouts WHERE kind = $1 AND name_key = $2"),
                vec![kind.into(), name_key.into()],
            )
            .await?;
        Ok(rows.first().and_then(|r| record_of(r)).map(|(_, _, r)| r))
    }

    /// Every rollout serving a candidate now.
    pub async fn live(&self) -> StorageResult<Vec<(String, String, Rollout)>> {
        Ok(live_from_rows(&self.0.rows(LIVE_QUERY, vec![]).await?))
    }

    /// Sets the plan (keeping the latest rollout's record); false when the row changed since
    /// `revision` was read (`None`: the row must not exist yet).
    pub async fn put_plan(
        &self,
        key: &ContentKey,
        plan: &Plan,
        revision: Option<i64>,
        now: i64,
    ) -> StorageResult<bool> {
        let (kind, name_key, _, name) = content_columns(key);
        let plan = plan.to_json().to_string();
        let changed = match revision {
            None => self
                .0
                .exec(
                    "INSERT INTO rollouts (kind, name_key, name, plan, ring, revision, updated_at) \
                         VALUES ($1, $2, $3, $4, 0, 1, $5) ON CONFLICT (kind, name_key) DO NOTHING",
                    vec![
                        kind.into(),
                        name_key.into(),
                        name.into(),
                        plan.into(),
                        now.into(),
                    ],
                )
                .await?,
            Some(rev) => {
                self.0
                    .exec(
                        "UPDATE rollouts SET plan = $3, updated_at = $4, revision = revision + 1 \
                         WHERE kind = $1 AND name_key = $2 AND revision = $5",
                        vec![
                            kind.into(),
                            name_key.into(),
                            plan.into(),
                            now.into(),
                            rev.into(),
                        ],
                    )
                    .await?
            }
        };
        Ok(changed == 1)
    }

    /// Writes a rollout's state over the row read at `revision`; false when someone else
    /// changed it meanwhile.
    pub async fn save(
        &self,
        key: &ContentKey,
        rollout: &Rollout,
        revision: i64,
        now: i64,
    ) -> StorageResult<bool> {
        let (kind, name_key, _, _) = content_columns(key);
        let changed = self
            .0
            .exec(
                "UPDATE rollouts SET state = $3, candidate_version = $4, candidate_checksum = $5, \
                 candidate_size = $6, ring = $7, ring_started_at = $8, started_at = $9, reason = $10, \
                 revision = revision + 1, updated_at = $11 \
                 WHERE kind = $1 AND name_key = $2 AND revision = $12",
                vec![
                    kind.into(),
                    name_key.into(),
                    rollout.state.as_str().into(),
                    rollout.candidate_version.into(),
                    rollout.candidate.clone().into(),
                    rollout.candidate_size.into(),
                    i64::try_from(rollout.ring).unwrap_or(0).into(),
                    rollout.ring_started_at.into(),
                    rollout.started_at.into(),
                    rollout.reason.clone().into(),
                    now.into(),
                    revision.into(),
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Forgets the plan and rollout of deleted content.
    pub async fn forget(&self, key: &ContentKey) -> StorageResult<u64> {
        let (kind, name_key, _, _) = content_columns(key);
        self.0
            .exec(
                "DELETE FROM rollouts WHERE kind = $1 AND name_key = $2",
                vec![kind.into(), name_key.into()],
            )
            .await
    }

    /// Records that a node was given content with this checksum.
    pub async fn give(
        &self,
        agent: Uuid,
        key: &ContentKey,
        checksum: &str,
        now: i64,
    ) -> StorageResult<()> {
        let (kind, name_key, _, _) = content_columns(key);
        self.0
            .exec(
                "INSERT INTO agent_content (agent_id, kind, name_key, checksum, given_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (agent_id, kind, name_key) DO UPDATE SET checksum = EXCLUDED.checksum, given_at = EXCLUDED.given_at",
                vec![agent.to_string().into(), kind.into(), name_key.into(), checksum.into(), now.into()],
            )
            .await?;
        Ok(())
    }

    /// What a node was given, `(kind, name_key, checksum, given_at)` by name.
    pub async fn given(&self, agent: Uuid) -> StorageResult<Vec<(String, String, String, i64)>> {
        let rows = self
            .0
            .rows(
                "SELECT kind, name_key, checksum, given_at FROM agent_content WHERE agent_id = $1 ORDER BY kind, name_key",
                vec![agent.to_string().into()],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| Some((text(r, 0)?, text(r, 1)?, text(r, 2)?, int(r, 3)?)))
            .collect())
    }

    /// Nodes that were given this content with this checksum.
    pub async fn given_checksum(
        &self,
        key: &ContentKey,
        checksum: &str,
    ) -> StorageResult<std::collections::HashSet<Uuid>> {
        let (kind, name_key, _, _) = content_columns(key);
        let rows = self
            .0
            .rows(
                "SELECT agent_id FROM agent_content WHERE checksum = $1 AND kind = $2 AND name_key = $3",
                vec![checksum.into(), kind.into(), name_key.into()],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| text(r, 0).and_then(|t| Uuid::parse_str(&t).ok()))
            .collect())
    }

    /// The latest run of every node whose latest run applied this checksum: status, time and
    /// the checksums applied.
    pub async fn runs_of(
        &self,
        checksum: &str,
    ) -> StorageResult<std::collections::HashMap<Uuid, (String, i64, String)>> {
        let rows = self
            .0
            .rows(
                "SELECT CAST(agent_id AS TEXT), run_status, run_time, run_applied FROM agents \
                 WHERE run_applied LIKE $1 AND run_status IS NOT NULL",
                vec![format!("%{}%", checksum.replace(['%', '_'], "")).into()],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let id = Uuid::parse_str(&text(r, 0)?).ok()?;
                Some((id, (text(r, 1)?, int(r, 2)?, text(r, 3)?)))
            })
            .collect())
    }
}
