//! Git sources of content and what each last published, over [`Sql`] for both backends.

use super::StorageResult;
use super::accounts::{Sql, SqlValue};
use dsc_core::pull::source::Source;
use serde::Serialize;
use std::collections::BTreeMap;

/// The table, in SQL both SQLite and PostgreSQL accept.
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS git_sources (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    branch TEXT NOT NULL,
    path TEXT NOT NULL,
    interval_secs BIGINT NOT NULL,
    token TEXT,
    username TEXT NOT NULL,
    candidates BIGINT NOT NULL,
    delete_removed BIGINT NOT NULL,
    plan TEXT,
    files TEXT NOT NULL,
    last_commit TEXT,
    last_author TEXT,
    last_synced_at BIGINT,
    last_checked_at BIGINT,
    last_error TEXT,
    error_commit TEXT,
    created_at BIGINT NOT NULL
);
"#;

/// A source with what it last did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stored {
    pub name: String,
    #[serde(flatten)]
    pub source: Source,
    /// A token is set (it is never shown).
    pub has_token: bool,
    /// The key text of each content item the last published commit held, with its checksum.
    #[serde(skip)]
    pub files: BTreeMap<String, String>,
    pub last_commit: Option<String>,
    pub last_author: Option<String>,
    pub last_synced_at: Option<i64>,
    pub last_checked_at: Option<i64>,
    pub last_error: Option<String>,
    /// The commit the error is about, when it is about a commit (it is not tried again).
    #[serde(skip)]
    pub error_commit: Option<String>,
}

const COLUMNS: &str = "name, url, branch, path, interval_secs, token, username, candidates, delete_removed, files, last_commit, last_author, last_synced_at, last_checked_at, last_error, error_commit, plan";

fn text(row: &[SqlValue], i: usize) -> Option<String> {
    row.get(i).and_then(SqlValue::text)
}

fn int(row: &[SqlValue], i: usize) -> Option<i64> {
    row.get(i).and_then(SqlValue::int)
}

fn stored_of(row: &[SqlValue]) -> Option<Stored> {
    let token = text(row, 5);
    Some(Stored {
        name: text(row, 0)?,
        has_token: token.is_some(),
        source: Source {
            url: text(row, 1)?,
            branch: text(row, 2)?,
            path: text(row, 3).unwrap_or_default(),
            interval_secs: u64::try_from(int(row, 4)?).ok()?,
            token,
            username: text(row, 6).unwrap_or_else(|| "git".into()),
            candidates: int(row, 7) == Some(1),
            delete_removed: int(row, 8) == Some(1),
            plan: text(row, 16).and_then(|p| serde_json::from_str(&p).ok()),
        },
        files: serde_json::from_str(&text(row, 9).unwrap_or_default()).unwrap_or_default(),
        last_commit: text(row, 10),
        last_author: text(row, 11),
        last_synced_at: int(row, 12),
        last_checked_at: int(row, 13),
        last_error: text(row, 14),
        error_commit: text(row, 15),
    })
}

/// The most sources a server keeps.
pub const MAX_SOURCES: usize = 100;

/// Sources over a backend's [`Sql`].
pub struct Sources<'a>(pub &'a dyn Sql);

impl Sources<'_> {
    pub async fn list(&self) -> StorageResult<Vec<Stored>> {
        let rows = self
            .0
            .rows(
                &format!("SELECT {COLUMNS} FROM git_sources ORDER BY name_key LIMIT {MAX_SOURCES}"),
                vec![],
            )
            .await?;
        Ok(rows.iter().filter_map(|r| stored_of(r)).collect())
    }

    pub async fn get(&self, name: &str) -> StorageResult<Option<Stored>> {
        let rows = self
            .0
            .rows(
                &format!("SELECT {COLUMNS} FROM git_sources WHERE name_key = $1"),
                vec![name.to_lowercase().into()],
            )
            .await?;
        Ok(rows.first().and_then(|r| stored_of(r)))
    }

    /// Adds or replaces a source's settings (what it last did is kept when its repository,
    /// branch and folder stay the same). A token left out keeps the one set before.
    pub async fn put(&self, name: &str, s: &Source, now: i64) -> StorageResult<()> {
        let old = self.get(name).await?;
        let same_place = old.as_ref().is_some_and(|o| {
            o.source.url == s.url && o.source.branch == s.branch && o.source.path == s.path
        });
        let token = s
            .token
            .clone()
            .or_else(|| old.as_ref().and_then(|o| o.source.token.clone()));
        let keep =
            |f: fn(&Stored) -> Option<String>| old.as_ref().filter(|_| same_place).and_then(f);
        let files = old
            .as_ref()
            .filter(|_| same_place)
            .map(|o| serde_json::to_string(&o.files).unwrap_or_default())
            .unwrap_or_else(|| "{}".into());
        self.0
            .exec(
                "INSERT INTO git_sources (name_key, name, url, branch, path, interval_secs, token, username, candidates, delete_removed, files, last_commit, last_author, created_at, plan) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                 ON CONFLICT (name_key) DO UPDATE SET name = EXCLUDED.name, url = EXCLUDED.url, branch = EXCLUDED.branch, \
                 path = EXCLUDED.path, interval_secs = EXCLUDED.interval_secs, token = EXCLUDED.token, username = EXCLUDED.username, \
                 candidates = EXCLUDED.candidates, delete_removed = EXCLUDED.delete_removed, files = EXCLUDED.files, plan = EXCLUDED.plan, \
                 last_commit = EXCLUDED.last_commit, last_author = EXCLUDED.last_author, last_error = NULL, error_commit = NULL",
                vec![
                    name.to_lowercase().into(),
                    name.into(),
                    s.url.clone().into(),
                    s.branch.clone().into(),
                    s.path.clone().into(),
                    i64::try_from(s.interval_secs).unwrap_or(60).into(),
                    token.into(),
                    s.username.clone().into(),
                    i64::from(s.candidates).into(),
                    i64::from(s.delete_removed).into(),
                    files.into(),
                    keep(|o| o.last_commit.clone()).into(),
                    keep(|o| o.last_author.clone()).into(),
                    now.into(),
                    s.plan.as_ref().map(|p| p.to_string()).into(),
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn remove(&self, name: &str) -> StorageResult<bool> {
        Ok(self
            .0
            .exec(
                "DELETE FROM git_sources WHERE name_key = $1",
                vec![name.to_lowercase().into()],
            )
            .await?
            == 1)
    }

    /// Records a published commit.
    pub async fn synced(
        &self,
        name: &str,
        commit: &str,
        author: &str,
        files: &BTreeMap<String, String>,
        now: i64,
    ) -> StorageResult<()> {
        self.0
            .exec(
                "UPDATE git_sources SET last_commit = $2, last_author = $3, files = $4, last_synced_at = $5, \
                 last_checked_at = $5, last_error = NULL, error_commit = NULL WHERE name_key = $1",
                vec![
                    name.to_lowercase().into(),
                    commit.into(),
                    author.into(),
                    serde_json::to_string(files).unwrap_or_default().into(),
                    now.into(),
                ],
            )
            .await?;
        Ok(())
    }

    /// Records a look that found nothing new.
    pub async fn checked(&self, name: &str, now: i64) -> StorageResult<()> {
        self.0
            .exec(
                "UPDATE git_sources SET last_checked_at = $2 WHERE name_key = $1",
                vec![name.to_lowercase().into(), now.into()],
            )
            .await?;
        Ok(())
    }

    /// Records an error (about `commit`, when a commit was refused).
    pub async fn failed(
        &self,
        name: &str,
        error: &str,
        commit: Option<&str>,
        now: i64,
    ) -> StorageResult<()> {
        self.0
            .exec(
                "UPDATE git_sources SET last_error = $2, error_commit = $3, last_checked_at = $4 WHERE name_key = $1",
                vec![
                    name.to_lowercase().into(),
                    error.chars().take(2000).collect::<String>().into(),
                    commit.map(str::to_string).into(),
                    now.into(),
                ],
            )
            .await?;
        Ok(())
    }
}
