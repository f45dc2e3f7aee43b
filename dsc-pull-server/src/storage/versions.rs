//! Published versions of configurations and packages: every publish that changes the content
//! is an immutable, numbered version (checksum, size, who, when, where from, a message), kept
//! over [`Sql`] for both backends. Blobs a version names are never collected while the version
//! is kept; retention keeps the newest [`KEEP_VERSIONS`] of each and always the current one,
//! a rollout's candidate and every version some node runs.

use super::accounts::{Sql, SqlValue};
use super::{ContentKey, StorageError, StorageResult, content_columns};
use serde::Serialize;

/// The table, in SQL both SQLite and PostgreSQL accept.
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS content_versions (
    kind TEXT NOT NULL,
    name_key TEXT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    origin TEXT NOT NULL,
    message TEXT,
    PRIMARY KEY (kind, name_key, version)
);
CREATE INDEX IF NOT EXISTS content_versions_by_checksum ON content_versions (checksum);
"#;

/// Versions kept of each configuration or package (the current one always).
pub const KEEP_VERSIONS: u64 = 20;

/// Who published, from where, and why.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Publisher {
    /// The audit trail's actor.
    pub actor: String,
    /// `upload` (API), `dashboard`, `import`, `restore of version N`.
    pub origin: String,
    pub message: Option<String>,
}

/// One version, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub version: i64,
    pub checksum: String,
    pub size: i64,
    /// It is the content served now.
    pub current: bool,
    /// It is the candidate of a rollout under way.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub candidate: bool,
    pub created_at: i64,
    pub actor: String,
    pub origin: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn text(row: &[SqlValue], i: usize) -> String {
    row.get(i).and_then(SqlValue::text).unwrap_or_default()
}

fn int(row: &[SqlValue], i: usize) -> i64 {
    row.get(i).and_then(SqlValue::int).unwrap_or(0)
}

const COLUMNS: &str = "version, checksum, size, created_at, actor, origin, message";

fn version_of(row: &[SqlValue], current: Option<&str>) -> Version {
    let checksum = text(row, 1);
    Version {
        version: int(row, 0),
        current: current == Some(checksum.as_str()),
        candidate: false,
        checksum,
        size: int(row, 2),
        created_at: int(row, 3),
        actor: text(row, 4),
        origin: text(row, 5),
        message: row.get(6).and_then(SqlValue::text),
    }
}

/// Versions over a backend's [`Sql`].
pub struct Versions<'a>(pub &'a dyn Sql);

impl Versions<'_> {
    /// Records a publish as the next version; `None` when the content is the same as the
    /// newest version's (nothing changed).
    pub async fn record(
        &self,
        key: &ContentKey,
        checksum: &str,
        size: u64,
        now: i64,
        by: &Publisher,
    ) -> StorageResult<Option<i64>> {
        let (kind, name_key, _, name) = content_columns(key);
        let latest = self.list(key, None, 1).await?;
        if latest.first().is_some_and(|l| l.checksum == checksum) {
            return Ok(None);
        }
        // Two replicas may pick the same number at once: the key refuses one, which tries again.
        for _ in 0..5 {
            let next = self
                .0
                .rows(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM content_versions WHERE kind = $1 AND name_key = $2",
                    vec![kind.into(), name_key.clone().into()],
                )
                .await?
                .first()
                .map_or(1, |r| int(r, 0));
            let added = self
                .0
                .exec(
                    "INSERT INTO content_versions (kind, name_key, version, name, checksum, size, created_at, actor, origin, message) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (kind, name_key, version) DO NOTHING",
                    vec![
                        kind.into(),
                        name_key.clone().into(),
                        next.into(),
                        name.clone().into(),
                        checksum.into(),
                        i64::try_from(size).unwrap_or(i64::MAX).into(),
                        now.into(),
                        by.actor.clone().into(),
                        by.origin.clone().into(),
                        by.message.clone().into(),
                    ],
                )
                .await?;
            if added == 1 {
                return Ok(Some(next));
            }
        }
        Err(StorageError::failed(
            "could not number a new version: too many publishes at once",
        ))
    }

    /// The versions of a configuration or package, newest first; `current` marks the one
    /// whose checksum is `current`.
    pub async fn list(
        &self,
        key: &ContentKey,
        current: Option<&str>,
        limit: usize,
    ) -> StorageResult<Vec<Version>> {
        let (kind, name_key, _, _) = content_columns(key);
        let rows = self
            .0
            .rows(
                &format!(
                    "SELECT {COLUMNS} FROM content_versions WHERE kind = $1 AND name_key = $2 ORDER BY version DESC LIMIT $3"
                ),
                vec![
                    kind.into(),
                    name_key.into(),
                    i64::try_from(limit).unwrap_or(100).into(),
                ],
            )
            .await?;
        Ok(rows.iter().map(|r| version_of(r, current)).collect())
    }

    /// One version.
    pub async fn get(&self, key: &ContentKey, version: i64) -> StorageResult<Option<Version>> {
        let (kind, name_key, _, _) = content_columns(key);
        let rows = self
            .0
            .rows(
                &format!(
                    "SELECT {COLUMNS} FROM content_versions WHERE kind = $1 AND name_key = $2 AND version = $3"
                ),
                vec![kind.into(), name_key.into(), version.into()],
            )
            .await?;
        Ok(rows.first().map(|r| version_of(r, None)))
    }

    /// Forgets every version of a configuration or package (it was deleted); their blobs are
    /// collected by the next prune.
    pub async fn forget(&self, key: &ContentKey) -> StorageResult<u64> {
        let (kind, name_key, _, _) = content_columns(key);
        self.0
            .exec(
                "DELETE FROM content_versions WHERE kind = $1 AND name_key = $2",
                vec![kind.into(), name_key.into()],
            )
            .await
    }

    /// Forgets all but the newest `keep` (`--keep-versions`, default [`KEEP_VERSIONS`]) versions of every configuration and
    /// package, never one whose content is current, the candidate of a rollout under way,
    /// or what some node was last given (and so runs); their blobs are then collected with
    /// the other unreferenced ones. Returns how many were forgotten.
    pub async fn prune(&self, keep: u64) -> StorageResult<u64> {
        self.0
            .exec(
                "DELETE FROM content_versions WHERE version <= ( \
                     SELECT MAX(v.version) FROM content_versions v \
                     WHERE v.kind = content_versions.kind AND v.name_key = content_versions.name_key) - $1 \
                 AND NOT EXISTS (SELECT 1 FROM content c WHERE c.kind = content_versions.kind \
                     AND c.name_key = content_versions.name_key AND c.checksum = content_versions.checksum) \
                 AND NOT EXISTS (SELECT 1 FROM agent_content a WHERE a.checksum = content_versions.checksum \
                     AND a.kind = content_versions.kind AND a.name_key = content_versions.name_key) \
                 AND NOT EXISTS (SELECT 1 FROM rollouts r WHERE r.candidate_checksum = content_versions.checksum \
                     AND r.kind = content_versions.kind AND r.name_key = content_versions.name_key \
                     AND r.state IN ('active', 'halted'))",
                vec![i64::try_from(keep).unwrap_or(i64::MAX).into()],
            )
            .await
    }
}
