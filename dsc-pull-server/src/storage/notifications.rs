//! Notification rules, the durable outbox of deliveries, the delivery log, each node's notified
//! status, and leases (one replica does a periodic job), written once over [`Sql`] for both
//! backends.
//!
//! An outbox row's id is the event id and the rule, so the same event enqueued twice (by two
//! replicas, or by one after a crash) is one row. A delivery is claimed for a short lease
//! before it is sent, so two replicas never send the same row at the same time; a replica that
//! dies after sending and before recording leaves the row to be sent again when the lease
//! ends (receivers drop the repeat by the payload's `id`).

use super::accounts::{Sql, SqlValue};
use super::{StorageError, StorageResult};
use dsc_core::pull::notify::{Event, Rule};
use serde::Serialize;

/// The tables, in SQL both SQLite and PostgreSQL accept.
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS notification_rules (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,
    tags TEXT NOT NULL,
    configurations TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS notification_outbox (
    id TEXT PRIMARY KEY,
    rule_key TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    next_ms BIGINT NOT NULL,
    claimed_by TEXT,
    claimed_until_ms BIGINT NOT NULL,
    last_status BIGINT,
    last_error TEXT,
    done_ms BIGINT
);
CREATE INDEX IF NOT EXISTS notification_outbox_due ON notification_outbox (state, next_ms);
CREATE INDEX IF NOT EXISTS notification_outbox_by_rule ON notification_outbox (rule_key, created_ms);
CREATE TABLE IF NOT EXISTS notification_attempts (
    id TEXT PRIMARY KEY,
    outbox_id TEXT NOT NULL,
    rule_key TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    status BIGINT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS notification_attempts_by_rule ON notification_attempts (rule_key, at_ms);
CREATE TABLE IF NOT EXISTS notified_nodes (
    agent_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    run_time BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS notified_nodes_by_time ON notified_nodes (status, run_time);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until_ms BIGINT NOT NULL
);
"#;

/// Rows a delivery log or a list of pending deliveries shows at most.
pub const LOG_ROWS: usize = 50;

/// One delivery of one event to one rule's receiver.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The event id (the payload's `id`).
    pub id: String,
    pub event: String,
    /// `pending`, `delivered` or `abandoned` (retried for a day without success, or its rule
    /// was removed).
    pub state: String,
    pub attempts: i64,
    /// Unix milliseconds.
    pub created_ms: i64,
    pub next_ms: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

/// One attempt to deliver.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub event_id: String,
    pub at_ms: i64,
    /// The receiver's status code; `None` when it could not be reached.
    pub status: Option<i64>,
    pub error: Option<String>,
}

/// A claimed delivery, with what sending it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub outbox_id: String,
    pub rule_key: String,
    pub payload: String,
    pub attempts: i64,
    pub created_ms: i64,
    /// The rule's receiver and secret; `None` when the rule is gone.
    pub target: Option<(String, String)>,
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    Delivered {
        status: i64,
    },
    /// Failed; tried again at `next_ms`, or given up when `None`.
    Failed {
        status: Option<i64>,
        error: String,
        next_ms: Option<i64>,
    },
}

fn key(name: &str) -> String {
    name.to_lowercase()
}

fn text(row: &[SqlValue], i: usize) -> String {
    row.get(i).and_then(SqlValue::text).unwrap_or_default()
}

fn int(row: &[SqlValue], i: usize) -> Option<i64> {
    row.get(i).and_then(SqlValue::int)
}

fn list<T: serde::de::DeserializeOwned>(row: &[SqlValue], i: usize) -> Vec<T> {
    serde_json::from_str(&text(row, i)).unwrap_or_default()
}

fn json(v: &impl Serialize) -> StorageResult<String> {
    serde_json::to_string(v).map_err(StorageError::failed)
}

const RULE_COLUMNS: &str = "name, url, events, tags, configurations, created_at, secret";

fn rule_of(row: &[SqlValue]) -> (Rule, String) {
    let events: Vec<String> = list(row, 2);
    let rule = Rule {
        name: text(row, 0),
        url: text(row, 1),
        events: events.iter().filter_map(|e| Event::parse(e)).collect(),
        tags: list(row, 3),
        configurations: list(row, 4),
        created_at: int(row, 5).unwrap_or(0),
    };
    (rule, text(row, 6))
}

/// Notification rules and deliveries over a backend's [`Sql`].
pub struct Notifications<'a>(pub &'a dyn Sql);

impl Notifications<'_> {
    /// Adds a rule; false when one of that name (any case) exists.
    pub async fn add_rule(&self, rule: &Rule, secret: &str) -> StorageResult<bool> {
        let events: Vec<&str> = rule.events.iter().map(|e| e.as_str()).collect();
        let n = self
            .0
            .exec(
                "INSERT INTO notification_rules (name_key, name, url, secret, events, tags, configurations, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name_key) DO NOTHING",
                vec![
                    key(&rule.name).into(),
                    rule.name.clone().into(),
                    rule.url.clone().into(),
                    secret.into(),
                    json(&events)?.into(),
                    json(&rule.tags)?.into(),
                    json(&rule.configurations)?.into(),
                    rule.created_at.into(),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Every rule, by name.
    pub async fn rules(&self) -> StorageResult<Vec<Rule>> {
        let rows = self
            .0
            .rows(
                &format!("SELECT {RULE_COLUMNS} FROM notification_rules ORDER BY name_key"),
                vec![],
            )
            .await?;
        Ok(rows.iter().map(|r| rule_of(r).0).collect())
    }

    /// One rule by name (any case).
    pub async fn rule(&self, name: &str) -> StorageResult<Option<Rule>> {
        let rows = self
            .0
            .rows(
                &format!("SELECT {RULE_COLUMNS} FROM notification_rules WHERE name_key = $1"),
                vec![key(name).into()],
            )
            .await?;
        Ok(rows.first().map(|r| rule_of(r).0))
    }

    /// Removes a rule; its pending deliveries are abandoned. False when unknown.
    pub async fn remove_rule(&self, name: &str, now_ms: i64) -> StorageResult<bool> {
        let n = self
            .0
            .exec(
                "DELETE FROM notification_rules WHERE name_key = $1",
                vec![key(name).into()],
            )
            .await?;
        self.0
            .exec(
                "UPDATE notification_outbox SET state = 'abandoned', done_ms = $2, last_error = 'the rule was removed' \
                 WHERE rule_key = $1 AND state = 'pending'",
                vec![key(name).into(), now_ms.into()],
            )
            .await?;
        Ok(n == 1)
    }

    /// Enqueues one delivery; false when that event was already enqueued for that rule.
    pub async fn enqueue(
        &self,
        event_id: &str,
        rule_name: &str,
        event: Event,
        payload: &str,
        now_ms: i64,
    ) -> StorageResult<bool> {
        let rule_key = key(rule_name);
        let n = self
            .0
            .exec(
                "INSERT INTO notification_outbox (id, rule_key, event, payload, state, attempts, created_ms, next_ms, claimed_until_ms) \
                 VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, 0) ON CONFLICT (id) DO NOTHING",
                vec![
                    format!("{event_id}:{rule_key}").into(),
                    rule_key.into(),
                    event.as_str().into(),
                    payload.into(),
                    now_ms.into(),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Claims up to `limit` due deliveries for `claim` (a token unique to this claim) until
    /// `now_ms + lease_ms`, and returns them.
    pub async fn claim(
        &self,
        claim: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> StorageResult<Vec<Claimed>> {
        let due = "state = 'pending' AND next_ms <= $2 AND claimed_until_ms < $2";
        self.0
            .exec(
                &format!(
                    "UPDATE notification_outbox SET claimed_by = $1, claimed_until_ms = $3 \
                     WHERE {due} AND id IN (SELECT id FROM notification_outbox WHERE {due} ORDER BY next_ms LIMIT $4)"
                ),
                vec![
                    claim.into(),
                    now_ms.into(),
                    (now_ms + lease_ms).into(),
                    i64::try_from(limit).unwrap_or(100).into(),
                ],
            )
            .await?;
        let rows = self
            .0
            .rows(
                "SELECT o.id, o.rule_key, o.payload, o.attempts, o.created_ms, r.url, r.secret \
                 FROM notification_outbox o LEFT JOIN notification_rules r ON r.name_key = o.rule_key \
                 WHERE o.claimed_by = $1 AND o.state = 'pending'",
                vec![claim.into()],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Claimed {
                outbox_id: text(r, 0),
                rule_key: text(r, 1),
                payload: text(r, 2),
                attempts: int(r, 3).unwrap_or(0),
                created_ms: int(r, 4).unwrap_or(0),
                target: r
                    .get(5)
                    .and_then(SqlValue::text)
                    .map(|url| (url, text(r, 6))),
            })
            .collect())
    }

    /// Records an attempt on a claimed delivery and what follows from it; false when the
    /// claim had expired and another replica took the row.
    pub async fn finish(
        &self,
        claim: &str,
        c: &Claimed,
        outcome: &Finish,
        now_ms: i64,
    ) -> StorageResult<bool> {
        let (status, error) = match outcome {
            Finish::Delivered { status } => (Some(*status), None),
            Finish::Failed { status, error, .. } => (*status, Some(error.clone())),
        };
        self.0
            .exec(
                "INSERT INTO notification_attempts (id, outbox_id, rule_key, at_ms, status, error) VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    uuid::Uuid::new_v4().to_string().into(),
                    c.outbox_id.clone().into(),
                    c.rule_key.clone().into(),
                    now_ms.into(),
                    status.into(),
                    error.clone().into(),
                ],
            )
            .await?;
        let (state, next, done) = match outcome {
            Finish::Delivered { .. } => ("delivered", now_ms, Some(now_ms)),
            Finish::Failed {
                next_ms: Some(n), ..
            } => ("pending", *n, None),
            Finish::Failed { next_ms: None, .. } => ("abandoned", now_ms, Some(now_ms)),
        };
        let n = self
            .0
            .exec(
                "UPDATE notification_outbox SET state = $3, attempts = attempts + 1, next_ms = $4, done_ms = $5, \
                 last_status = $6, last_error = $7, claimed_until_ms = 0, claimed_by = NULL \
                 WHERE id = $1 AND claimed_by = $2 AND state = 'pending'",
                vec![
                    c.outbox_id.clone().into(),
                    claim.into(),
                    state.into(),
                    next.into(),
                    done.into(),
                    status.into(),
                    error.into(),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// The rule's deliveries, newest first.
    pub async fn deliveries(&self, rule: &str, limit: usize) -> StorageResult<Vec<Delivery>> {
        let rows = self
            .0
            .rows(
                "SELECT id, event, state, attempts, created_ms, next_ms, last_status, last_error \
                 FROM notification_outbox WHERE rule_key = $1 ORDER BY created_ms DESC, id LIMIT $2",
                vec![
                    key(rule).into(),
                    i64::try_from(limit).unwrap_or(50).into(),
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let state = text(r, 2);
                Delivery {
                    id: text(r, 0).split(':').next().unwrap_or("").to_string(),
                    event: text(r, 1),
                    next_ms: int(r, 5).filter(|_| state == "pending"),
                    state,
                    attempts: int(r, 3).unwrap_or(0),
                    created_ms: int(r, 4).unwrap_or(0),
                    last_status: int(r, 6),
                    last_error: r.get(7).and_then(SqlValue::text),
                }
            })
            .collect())
    }

    /// The rule's latest attempts, newest first.
    pub async fn attempts(&self, rule: &str, limit: usize) -> StorageResult<Vec<Attempt>> {
        let rows = self
            .0
            .rows(
                "SELECT outbox_id, at_ms, status, error FROM notification_attempts \
                 WHERE rule_key = $1 ORDER BY at_ms DESC, id LIMIT $2",
                vec![key(rule).into(), i64::try_from(limit).unwrap_or(50).into()],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Attempt {
                event_id: text(r, 0).split(':').next().unwrap_or("").to_string(),
                at_ms: int(r, 1).unwrap_or(0),
                status: int(r, 2),
                error: r.get(3).and_then(SqlValue::text),
            })
            .collect())
    }

    /// Deliveries pending and due now (or overdue), for metrics and readiness.
    pub async fn pending_count(&self) -> StorageResult<u64> {
        let rows = self
            .0
            .rows(
                "SELECT COUNT(*) FROM notification_outbox WHERE state = 'pending'",
                vec![],
            )
            .await?;
        Ok(rows
            .first()
            .and_then(|r| int(r, 0))
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0))
    }

    /// The status notifications were last computed from for a node, and the run time of it.
    pub async fn notified(&self, agent_id: &str) -> StorageResult<Option<(String, i64)>> {
        let rows = self
            .0
            .rows(
                "SELECT status, run_time FROM notified_nodes WHERE agent_id = $1",
                vec![agent_id.into()],
            )
            .await?;
        Ok(rows.first().map(|r| (text(r, 0), int(r, 1).unwrap_or(0))))
    }

    /// Records the status notifications were computed from.
    pub async fn set_notified(
        &self,
        agent_id: &str,
        status: &str,
        run_time: i64,
    ) -> StorageResult<()> {
        self.0
            .exec(
                "INSERT INTO notified_nodes (agent_id, status, run_time) VALUES ($1, $2, $3) \
                 ON CONFLICT (agent_id) DO UPDATE SET status = excluded.status, run_time = excluded.run_time",
                vec![agent_id.into(), status.into(), run_time.into()],
            )
            .await?;
        Ok(())
    }

    /// Nodes notified as neither stale nor pending whose run is older than `cutoff`: the
    /// candidates for `node.stale`.
    pub async fn stale_candidates(&self, cutoff: i64, limit: usize) -> StorageResult<Vec<String>> {
        let rows = self
            .0
            .rows(
                "SELECT agent_id FROM notified_nodes WHERE status <> 'stale' AND run_time < $1 ORDER BY run_time LIMIT $2",
                vec![cutoff.into(), i64::try_from(limit).unwrap_or(500).into()],
            )
            .await?;
        Ok(rows.iter().map(|r| text(r, 0)).collect())
    }

    /// Nodes with a run newer than the one notifications were computed from (their report
    /// was stored but the replica that took it stopped before looking at it).
    pub async fn unnotified_nodes(&self, limit: usize) -> StorageResult<Vec<String>> {
        let rows = self
            .0
            .rows(
                "SELECT CAST(a.agent_id AS TEXT) FROM agents a \
                 LEFT JOIN notified_nodes n ON n.agent_id = CAST(a.agent_id AS TEXT) \
                 WHERE a.run_status IS NOT NULL AND (n.agent_id IS NULL OR n.run_time < a.run_time) LIMIT $1",
                vec![i64::try_from(limit).unwrap_or(500).into()],
            )
            .await?;
        Ok(rows.iter().map(|r| text(r, 0)).collect())
    }

    /// Takes or renews the lease `name` for `holder` until `now_ms + ttl_ms`; false while
    /// another holder's lease runs.
    pub async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> StorageResult<bool> {
        self.0
            .exec(
                "INSERT INTO leases (name, holder, until_ms) VALUES ($1, '', 0) ON CONFLICT (name) DO NOTHING",
                vec![name.into()],
            )
            .await?;
        let n = self
            .0
            .exec(
                "UPDATE leases SET holder = $2, until_ms = $4 WHERE name = $1 AND (holder = $2 OR until_ms < $3)",
                vec![
                    name.into(),
                    holder.into(),
                    now_ms.into(),
                    (now_ms + ttl_ms).into(),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Gives up the lease `name` if `holder` holds it (its row goes, and the next taker makes
    /// it again).
    pub async fn release_lease(&self, name: &str, holder: &str) -> StorageResult<()> {
        self.0
            .exec(
                "DELETE FROM leases WHERE name = $1 AND holder = $2",
                vec![name.into(), holder.into()],
            )
            .await?;
        Ok(())
    }

    /// Forgets finished deliveries and attempts older than `before_ms`.
    pub async fn prune(&self, before_ms: i64) -> StorageResult<u64> {
        let a = self
            .0
            .exec(
                "DELETE FROM notification_attempts WHERE at_ms < $1",
                vec![before_ms.into()],
            )
            .await?;
        let o = self
            .0
            .exec(
                "DELETE FROM notification_outbox WHERE state <> 'pending' AND done_ms < $1",
                vec![before_ms.into()],
            )
            .await?;
        Ok(a + o)
    }
}
