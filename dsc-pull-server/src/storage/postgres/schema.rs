//! Versioned schema migrations for PostgreSQL.
//!
//! Each migration runs once, in its own transaction, recorded in `traek_schema_migrations`.
//! [`migrate`] holds a session advisory lock while it works, so replicas that start together
//! wait for the first one and then find nothing left to do.

use super::pg_error;
use crate::storage::StorageResult;
use tokio_postgres::Client;

/// The advisory lock key of migrations.
const MIGRATION_LOCK: i64 = 0x7472_6165_6b00_0001;

/// `(version, SQL)`, in order. Never edit a released migration: add the next one.
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        r#"
CREATE TABLE agents (
    agent_id uuid PRIMARY KEY,
    created_at bigint NOT NULL,
    last_seen bigint,
    assigned_names text,
    last_report_status text,
    last_report_time bigint
);
CREATE TABLE registrations (
    agent_id uuid NOT NULL REFERENCES agents(agent_id) ON DELETE CASCADE,
    message_type text NOT NULL,
    key_id text NOT NULL,
    registered_at bigint NOT NULL,
    node_name text NOT NULL,
    ip_address text NOT NULL,
    lcm_version text NOT NULL,
    thumbprint text,
    configuration_names text,
    request text NOT NULL,
    PRIMARY KEY (agent_id, message_type)
);
CREATE TABLE reports (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id uuid NOT NULL,
    job_id uuid NOT NULL,
    received_at bigint NOT NULL,
    operation_type text,
    refresh_mode text,
    status text,
    node_name text,
    ip_address text,
    start_time text,
    end_time text,
    start_unix bigint,
    end_unix bigint,
    error_count integer NOT NULL,
    first_error text,
    body bytea NOT NULL
);
CREATE INDEX reports_by_agent ON reports (agent_id, id);
CREATE INDEX reports_by_job ON reports (job_id, id);
CREATE INDEX reports_by_received ON reports (received_at, id);
CREATE TABLE content (
    kind text NOT NULL,
    name_key text NOT NULL,
    version text NOT NULL,
    name text NOT NULL,
    checksum text NOT NULL,
    size bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (kind, name_key, version)
);
CREATE INDEX content_by_checksum ON content (checksum);
CREATE TABLE registration_keys (
    key text PRIMARY KEY,
    id text NOT NULL,
    source text NOT NULL,
    added_at bigint NOT NULL,
    revoked_at bigint
);
"#,
    ),
    (2, "ALTER TABLE content ADD COLUMN signers text;"),
    (
        3,
        r#"
ALTER TABLE agents ADD COLUMN run_status text, ADD COLUMN run_time bigint, ADD COLUMN tags text;
CREATE INDEX agents_by_run ON agents (run_status, run_time);
CREATE TABLE node_resources (
    agent_id uuid NOT NULL,
    resource_id text NOT NULL,
    module text NOT NULL,
    in_desired_state boolean NOT NULL,
    error text,
    PRIMARY KEY (agent_id, resource_id)
);
CREATE INDEX node_resources_failing ON node_resources (in_desired_state, resource_id);
CREATE TABLE status_days (
    agent_id uuid NOT NULL,
    day bigint NOT NULL,
    status text NOT NULL,
    PRIMARY KEY (agent_id, day)
);
CREATE TABLE daily_counts (
    day bigint NOT NULL,
    status text NOT NULL,
    count bigint NOT NULL,
    PRIMARY KEY (day, status)
);
"#,
    ),
    (4, crate::storage::accounts::SCHEMA),
    (
        5,
        r#"
ALTER TABLE agents ADD COLUMN pin_thumbprint text, ADD COLUMN pin_not_after text;
UPDATE agents SET
    pin_thumbprint = (SELECT upper(r.thumbprint) FROM registrations r WHERE r.agent_id = agents.agent_id AND r.thumbprint IS NOT NULL AND r.thumbprint <> '' ORDER BY r.registered_at DESC LIMIT 1)
    WHERE pin_thumbprint IS NULL;
ALTER TABLE api_tokens ADD COLUMN parent_id text;
"#,
    ),
    (6, crate::storage::accounts::SECURITY_SCHEMA),
    (
        7,
        r#"
ALTER TABLE reports ADD COLUMN unique_job uuid;
CREATE UNIQUE INDEX reports_once ON reports (agent_id, unique_job) WHERE unique_job IS NOT NULL;
"#,
    ),
    (8, crate::storage::notifications::SCHEMA),
    (9, crate::storage::accounts::OIDC_SCHEMA),
    (10, crate::storage::versions::SCHEMA),
    (11, crate::storage::rollouts::SCHEMA),
    (
        12,
        "ALTER TABLE reports ADD COLUMN applied TEXT; ALTER TABLE agents ADD COLUMN run_applied TEXT;",
    ),
    (13, crate::storage::sources::SCHEMA),
];

/// The newest schema version this build knows.
pub fn latest() -> i32 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

/// Applies every migration not yet applied; returns the versions applied now.
pub async fn migrate(client: &mut Client) -> StorageResult<Vec<i32>> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_error)?;
    let result = apply_pending(client).await;
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_error);
    let applied = result?;
    unlock?;
    Ok(applied)
}

async fn apply_pending(client: &mut Client) -> StorageResult<Vec<i32>> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS traek_schema_migrations (
                version integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(pg_error)?;
    let done: Vec<i32> = client
        .query("SELECT version FROM traek_schema_migrations", &[])
        .await
        .map_err(pg_error)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if let Some(newer) = done.iter().find(|v| **v > latest()) {
        return Err(crate::storage::StorageError::failed(format!(
            "the database has schema version {newer}, newer than this traek-server knows ({}); upgrade traek-server",
            latest()
        )));
    }
    let mut applied = Vec::new();
    for (version, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        let tx = client.transaction().await.map_err(pg_error)?;
        tx.batch_execute(sql).await.map_err(pg_error)?;
        tx.execute(
            "INSERT INTO traek_schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .await
        .map_err(pg_error)?;
        tx.commit().await.map_err(pg_error)?;
        applied.push(*version);
    }
    Ok(applied)
}
