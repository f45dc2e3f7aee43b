//! The SQLite schema, the columns and indexes later versions added, the kept status totals,
//! and the cache load at open.

use super::err;
use crate::storage::cache::Cache;
use crate::storage::*;
use rusqlite::{Connection, params};
use std::collections::HashMap;
use uuid::Uuid;

pub(super) const SCHEMA: &str = r#"
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
CREATE TABLE IF NOT EXISTS node_resources (
    agent_id TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    module TEXT NOT NULL,
    in_desired_state INTEGER NOT NULL,
    error TEXT,
    PRIMARY KEY (agent_id, resource_id)
);
CREATE INDEX IF NOT EXISTS node_resources_failing ON node_resources(in_desired_state, resource_id);
CREATE TABLE IF NOT EXISTS status_days (
    agent_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (agent_id, day)
);
CREATE TABLE IF NOT EXISTS daily_counts (
    day INTEGER NOT NULL,
    status TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, status)
);
"#;

/// The overview's node counts, kept as runs are recorded: nodes per run status (triggers on
/// `agents`, so every path that changes a status keeps them). Made after the columns they
/// watch; [`rebuild_totals`] recounts them at open, so a database from before them (or a
/// count gone wrong) is right again. (The most-failing resources read the covering index
/// `node_resources_failing`.)
pub(super) const TOTALS: &str = r#"
CREATE TABLE IF NOT EXISTS status_totals (
    status TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS status_totals_insert AFTER INSERT ON agents
WHEN NEW.run_status IS NOT NULL
BEGIN
    INSERT INTO status_totals (status, count) VALUES (NEW.run_status, 1)
        ON CONFLICT (status) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER IF NOT EXISTS status_totals_update AFTER UPDATE OF run_status ON agents
WHEN OLD.run_status IS NOT NEW.run_status
BEGIN
    UPDATE status_totals SET count = count - 1 WHERE status = OLD.run_status;
    INSERT INTO status_totals (status, count) SELECT NEW.run_status, 1 WHERE NEW.run_status IS NOT NULL
        ON CONFLICT (status) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER IF NOT EXISTS status_totals_delete AFTER DELETE ON agents
WHEN OLD.run_status IS NOT NULL
BEGIN
    UPDATE status_totals SET count = count - 1 WHERE status = OLD.run_status;
END;
"#;

/// Recounts [`TOTALS`] from the agents (one pass, at open).
pub(super) fn rebuild_totals(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(
        "DELETE FROM status_totals;
         INSERT INTO status_totals (status, count)
             SELECT run_status, COUNT(*) FROM agents WHERE run_status IS NOT NULL GROUP BY run_status;",
    )?;
    tx.commit()
}

/// Columns added after the first release, for databases created before them.
pub(super) const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("content", "signers", "TEXT"),
    ("agents", "run_status", "TEXT"),
    ("agents", "run_time", "INTEGER"),
    ("agents", "tags", "TEXT"),
    ("agents", "pin_thumbprint", "TEXT"),
    ("agents", "pin_not_after", "TEXT"),
    ("api_tokens", "parent_id", "TEXT"),
    ("reports", "unique_job", "TEXT"),
    ("reports", "applied", "TEXT"),
    ("agents", "run_applied", "TEXT"),
];

/// Indexes over [`ADDED_COLUMNS`], created once the columns exist. A report with a
/// `unique_job` is stored once per agent and job (see `ReportSummary::once_per_job`).
pub(super) const ADDED_INDEXES: &str = "CREATE UNIQUE INDEX IF NOT EXISTS reports_once ON reports(agent_id, unique_job) WHERE unique_job IS NOT NULL;";

/// Pins every agent that has none yet to the certificate of its latest registration that
/// described one (databases written before agents had a single pin).
pub(super) const PIN_FROM_REGISTRATIONS: &str = "UPDATE agents SET
    pin_thumbprint = (SELECT upper(r.thumbprint) FROM registrations r WHERE r.agent_id = agents.agent_id AND r.thumbprint IS NOT NULL AND r.thumbprint <> '' ORDER BY r.registered_at DESC LIMIT 1)
    WHERE pin_thumbprint IS NULL";

/// Adds the [`ADDED_COLUMNS`] a database lacks.
pub(super) fn add_missing_columns(conn: &Connection) -> rusqlite::Result<()> {
    for (table, column, ty) in ADDED_COLUMNS {
        let present: bool = conn
            .prepare(&format!(
                "SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"
            ))?
            .exists(params![column])?;
        if !present {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {ty}"))?;
            if *column == "pin_thumbprint" {
                conn.execute_batch(PIN_FROM_REGISTRATIONS)?;
            }
        }
    }
    conn.execute_batch(ADDED_INDEXES)
}

pub(super) fn load_cache(conn: &Connection, cache: &Cache) -> StorageResult<()> {
    let mut agents: HashMap<Uuid, (AgentView, i64)> = HashMap::new();
    let mut stmt = conn
        .prepare("SELECT agent_id, assigned_names, last_seen, tags, pin_thumbprint, pin_not_after FROM agents")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })
        .map_err(err)?;
    for row in rows {
        let (id, assigned, seen, tags, pin, not_after) = row.map_err(err)?;
        let Ok(id) = Uuid::parse_str(&id) else {
            continue;
        };
        let mut view = AgentView {
            assigned_names: assigned.and_then(|a| serde_json::from_str(&a).ok()),
            tags: names_of(tags.as_deref()),
            ..Default::default()
        };
        view.set_pin(pin, not_after);
        agents.insert(id, (view, seen.unwrap_or(0)));
    }
    let mut stmt = conn
        .prepare(
            "SELECT agent_id, message_type, configuration_names, lcm_version FROM registrations",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .map_err(err)?;
    for row in rows {
        let (id, mt, names, lcm) = row.map_err(err)?;
        let Ok(id) = Uuid::parse_str(&id) else {
            continue;
        };
        if let Some((view, _)) = agents.get_mut(&id) {
            view.add_registration(&mt, names, &lcm);
        }
    }
    cache.replace_agents(agents);
    let mut stmt = conn
        .prepare("SELECT kind, name_key, checksum FROM content WHERE kind IN ('configuration', 'package')")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(err)?;
    cache.replace_checksums(rows.collect::<Result<_, _>>().map_err(err)?);
    let mut stmt = conn
        .prepare("SELECT tag_key, names FROM tag_configurations")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(err)?;
    let mut tags = TagNames::new();
    for row in rows {
        let (tag, names) = row.map_err(err)?;
        tags.insert(tag, names_of(Some(&names)));
    }
    cache.replace_tag_names(tags);
    Ok(())
}
