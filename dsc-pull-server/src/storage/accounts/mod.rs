//! Accounts and the audit trail in storage: users (Argon2id hashes, never passwords), login
//! failures, sessions and API tokens (stored as SHA-256 hashes, never the secret itself), and
//! audit entries. Written once over the small [`Sql`] interface that both backends implement,
//! so any replica accepts any session or token.

mod audit;
mod tokens;
mod users;

use super::{StorageError, StorageResult};
use async_trait::async_trait;
use dsc_core::pull::signin::Throttle;
use serde::Serialize;

/// A value passed to or read from SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Text(String),
}

impl SqlValue {
    pub fn text(&self) -> Option<String> {
        match self {
            SqlValue::Text(s) => Some(s.clone()),
            SqlValue::Int(i) => Some(i.to_string()),
            SqlValue::Null => None,
        }
    }
    pub fn int(&self) -> Option<i64> {
        match self {
            SqlValue::Int(i) => Some(*i),
            SqlValue::Text(s) => s.parse().ok(),
            SqlValue::Null => None,
        }
    }
}

impl From<&str> for SqlValue {
    fn from(s: &str) -> Self {
        SqlValue::Text(s.to_string())
    }
}
impl From<String> for SqlValue {
    fn from(s: String) -> Self {
        SqlValue::Text(s)
    }
}
impl From<i64> for SqlValue {
    fn from(i: i64) -> Self {
        SqlValue::Int(i)
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// Plain statements with `$1`-style placeholders, run durably (`exec`) or read (`rows`).
#[async_trait]
pub trait Sql: Send + Sync {
    /// Runs a statement in its own transaction; the number of rows changed.
    async fn exec(&self, sql: &str, params: Vec<SqlValue>) -> StorageResult<u64>;
    /// Runs a query; each row's columns in order.
    async fn rows(&self, sql: &str, params: Vec<SqlValue>) -> StorageResult<Vec<Vec<SqlValue>>>;
}

/// The tables, in SQL both SQLite and PostgreSQL accept.
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS users (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (
    name_key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    user_key TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    user_key TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE TABLE IF NOT EXISTS audit (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    address TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at, id);
CREATE TABLE IF NOT EXISTS tag_configurations (
    tag_key TEXT PRIMARY KEY,
    tag TEXT NOT NULL,
    names TEXT NOT NULL
);
"#;

/// Sign-ins started with an OpenID provider and not yet finished (any replica may receive the
/// callback): the state's digest, the nonce and the PKCE verifier, kept ten minutes at most.
pub const OIDC_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS oidc_logins (
    state_hash TEXT PRIMARY KEY,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
"#;

/// How long a sign-in with the provider may take.
pub const OIDC_LOGIN_TTL: i64 = 600;

/// Tables of the network hardening, in SQL both SQLite and PostgreSQL accept: registration
/// signatures already used (replay protection, shared by every replica), and the indexes
/// retention deletes by.
pub const SECURITY_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS registration_signatures (
    signature TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS registration_signatures_by_time ON registration_signatures (seen_at);
CREATE INDEX IF NOT EXISTS login_failures_by_time ON login_failures (last_at);
"#;

/// A dashboard/API account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub name: String,
    pub role: String,
    pub created_at: i64,
    #[serde(skip)]
    pub password_hash: String,
}

/// A login session (the cookie holds the secret; storage its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id_hash: String,
    pub user: String,
    pub csrf: String,
    pub expires_at: i64,
}

/// An API token (the secret is shown once; storage keeps its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub id: String,
    pub user: String,
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked: bool,
    /// The token that created this one (`None` when created from a dashboard session): this
    /// token never outlives it and ends when it is revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(skip)]
    pub hash: String,
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Sortable: the time in microseconds, then a random suffix.
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub address: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
}

/// Which audit entries to list (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Entries older than this id (pagination).
    pub before: Option<String>,
    pub limit: usize,
}

fn key(name: &str) -> String {
    name.to_lowercase()
}

fn col(row: &[SqlValue], i: usize) -> String {
    row.get(i).and_then(SqlValue::text).unwrap_or_default()
}

fn int(row: &[SqlValue], i: usize) -> Option<i64> {
    row.get(i).and_then(SqlValue::int)
}

fn user_of(row: &[SqlValue]) -> User {
    User {
        name: col(row, 0),
        role: col(row, 1),
        created_at: int(row, 2).unwrap_or(0),
        password_hash: col(row, 3),
    }
}

fn token_of(row: &[SqlValue]) -> ApiToken {
    ApiToken {
        id: col(row, 0),
        user: col(row, 1),
        name: col(row, 2),
        created_at: int(row, 3).unwrap_or(0),
        expires_at: int(row, 4),
        revoked: int(row, 5).is_some(),
        hash: col(row, 6),
        parent: row.get(7).and_then(SqlValue::text),
    }
}

const USER_COLUMNS: &str = "name, role, created_at, password_hash";
const TOKEN_COLUMNS: &str =
    "t.id, u.name, t.name, t.created_at, t.expires_at, t.revoked_at, t.hash, t.parent_id";

/// The account and audit operations, over any [`Sql`].
pub struct Accounts<'a>(pub &'a dyn Sql);

/// A sortable, unique audit id: microseconds since the epoch, zero-padded, and a random suffix.
pub fn audit_id(now: time::OffsetDateTime) -> String {
    let micros = now.unix_timestamp_nanos() / 1000;
    format!(
        "{micros:020}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// A storage error for a value that does not fit.
pub fn bad_value(what: &str) -> StorageError {
    StorageError::failed(format!("unexpected value for {what}"))
}
