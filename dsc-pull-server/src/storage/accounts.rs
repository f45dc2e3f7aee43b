//! Accounts and the audit trail in storage: users (Argon2id hashes, never passwords), login
//! failures, sessions and API tokens (stored as SHA-256 hashes, never the secret itself), and
//! audit entries. Written once over the small [`Sql`] interface that both backends implement,
//! so any replica accepts any session or token.

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

impl Accounts<'_> {
    /// Adds a user; false when the name is taken.
    pub async fn add_user(&self, u: &User) -> StorageResult<bool> {
        let n = self
            .0
            .exec(
                "INSERT INTO users (name_key, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name_key) DO NOTHING",
                vec![key(&u.name).into(), u.name.clone().into(), u.role.clone().into(), u.password_hash.clone().into(), u.created_at.into()],
            )
            .await?;
        Ok(n > 0)
    }

    pub async fn user(&self, name: &str) -> StorageResult<Option<User>> {
        let rows = self
            .0
            .rows(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE name_key = $1"),
                vec![key(name).into()],
            )
            .await?;
        Ok(rows.first().map(|r| user_of(r)))
    }

    /// Whether any account exists (one row read, for the sign-in page and the first start).
    pub async fn has_users(&self) -> StorageResult<bool> {
        let rows = self
            .0
            .rows("SELECT name_key FROM users LIMIT 1", vec![])
            .await?;
        Ok(!rows.is_empty())
    }

    pub async fn users(&self) -> StorageResult<Vec<User>> {
        let rows = self
            .0
            .rows(
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY name_key"),
                vec![],
            )
            .await?;
        Ok(rows.iter().map(|r| user_of(r)).collect())
    }

    /// Removes a user with their sessions and tokens; false when unknown.
    pub async fn remove_user(&self, name: &str) -> StorageResult<bool> {
        let k = key(name);
        self.0
            .exec(
                "DELETE FROM sessions WHERE user_key = $1",
                vec![k.clone().into()],
            )
            .await?;
        self.0
            .exec(
                "DELETE FROM api_tokens WHERE user_key = $1",
                vec![k.clone().into()],
            )
            .await?;
        Ok(self
            .0
            .exec("DELETE FROM users WHERE name_key = $1", vec![k.into()])
            .await?
            > 0)
    }

    /// Changes a password and ends everything the old one vouched for: the user's sessions and
    /// API tokens. False when the user is unknown.
    pub async fn set_password(&self, name: &str, hash: &str) -> StorageResult<bool> {
        let k = key(name);
        let n = self
            .0
            .exec(
                "UPDATE users SET password_hash = $2 WHERE name_key = $1",
                vec![k.clone().into(), hash.into()],
            )
            .await?;
        self.0
            .exec("DELETE FROM sessions WHERE user_key = $1", vec![k.into()])
            .await?;
        if n > 0 {
            self.revoke_user_tokens(name, super::now_unix()).await?;
        }
        Ok(n > 0)
    }

    /// Claims one sign-in attempt under a throttle key (`name:...` or `addr:...`) in one
    /// conditional update, so parallel attempts cannot all pass: the attempt counts as a failure
    /// until [`Accounts::attempt_succeeded`] takes it back. `None` when the attempt may go
    /// ahead, else the seconds still to wait.
    pub async fn claim_attempt(
        &self,
        key: &str,
        throttle: Throttle,
        now: i64,
    ) -> StorageResult<Option<i64>> {
        self.0
            .exec(
                "INSERT INTO login_failures (name_key, failures, last_at) VALUES ($1, 0, 0) ON CONFLICT (name_key) DO NOTHING",
                vec![key.into()],
            )
            .await?;
        let delay = throttle.delay_sql();
        let claimed = self
            .0
            .exec(
                &format!(
                    "UPDATE login_failures SET failures = failures + 1, last_at = $2 \
                     WHERE name_key = $1 AND (failures < {} OR last_at + {delay} < $2)",
                    throttle.free
                ),
                vec![key.into(), now.into()],
            )
            .await?;
        if claimed > 0 {
            return Ok(None);
        }
        let rows = self
            .0
            .rows(
                "SELECT failures, last_at FROM login_failures WHERE name_key = $1",
                vec![key.into()],
            )
            .await?;
        let (failures, last) = rows
            .first()
            .map(|r| {
                (
                    u32::try_from(int(r, 0).unwrap_or(0)).unwrap_or(u32::MAX),
                    int(r, 1).unwrap_or(0),
                )
            })
            .unwrap_or((0, 0));
        // Refused by the update, so there is a wait; at least 1 s even if the row just changed.
        Ok(Some(throttle.wait(failures, last, now).unwrap_or(1)))
    }

    /// A claimed attempt failed: the delays of its keys count from `now`, the attempt's end.
    pub async fn attempt_failed(&self, keys: &[&str], now: i64) -> StorageResult<()> {
        for key in keys {
            self.0
                .exec(
                    "UPDATE login_failures SET last_at = $2 WHERE name_key = $1",
                    vec![(*key).into(), now.into()],
                )
                .await?;
        }
        Ok(())
    }

    /// A claimed attempt succeeded: the name's failures are forgotten, and the address's claim
    /// is taken back.
    pub async fn attempt_succeeded(&self, name_key: &str, addr_key: &str) -> StorageResult<()> {
        self.0
            .exec(
                "DELETE FROM login_failures WHERE name_key = $1",
                vec![name_key.into()],
            )
            .await?;
        self.0
            .exec(
                "UPDATE login_failures SET failures = failures - 1 WHERE name_key = $1 AND failures > 0",
                vec![addr_key.into()],
            )
            .await?;
        Ok(())
    }

    pub async fn add_session(&self, s: &Session, now: i64) -> StorageResult<()> {
        self.0
            .exec(
                "INSERT INTO sessions (id_hash, user_key, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                vec![s.id_hash.clone().into(), key(&s.user).into(), s.csrf.clone().into(), now.into(), s.expires_at.into()],
            )
            .await?;
        self.0
            .exec(
                "DELETE FROM sessions WHERE expires_at < $1",
                vec![now.into()],
            )
            .await?;
        Ok(())
    }

    /// A live session and its user.
    pub async fn session(&self, id_hash: &str, now: i64) -> StorageResult<Option<(Session, User)>> {
        let rows = self
            .0
            .rows(
                "SELECT s.id_hash, u.name, s.csrf, s.expires_at, u.role, u.created_at, u.password_hash FROM sessions s JOIN users u ON u.name_key = s.user_key WHERE s.id_hash = $1 AND s.expires_at > $2",
                vec![id_hash.into(), now.into()],
            )
            .await?;
        Ok(rows.first().map(|r| {
            let session = Session {
                id_hash: col(r, 0),
                user: col(r, 1),
                csrf: col(r, 2),
                expires_at: int(r, 3).unwrap_or(0),
            };
            let user = User {
                name: col(r, 1),
                role: col(r, 4),
                created_at: int(r, 5).unwrap_or(0),
                password_hash: col(r, 6),
            };
            (session, user)
        }))
    }

    /// Records a sign-in started with the provider (and forgets expired ones).
    pub async fn add_oidc_login(
        &self,
        state_hash: &str,
        nonce: &str,
        pkce_verifier: &str,
        now: i64,
    ) -> StorageResult<()> {
        self.0
            .exec(
                "DELETE FROM oidc_logins WHERE created_at < $1",
                vec![(now - OIDC_LOGIN_TTL).into()],
            )
            .await?;
        self.0
            .exec(
                "INSERT INTO oidc_logins (state_hash, nonce, pkce_verifier, created_at) VALUES ($1, $2, $3, $4)",
                vec![state_hash.into(), nonce.into(), pkce_verifier.into(), now.into()],
            )
            .await?;
        Ok(())
    }

    /// Takes a started sign-in (once: a second callback with the same state finds
    /// nothing): its nonce and PKCE verifier.
    pub async fn take_oidc_login(
        &self,
        state_hash: &str,
        now: i64,
    ) -> StorageResult<Option<(String, String)>> {
        let rows = self
            .0
            .rows(
                "SELECT nonce, pkce_verifier FROM oidc_logins WHERE state_hash = $1 AND created_at >= $2",
                vec![state_hash.into(), (now - OIDC_LOGIN_TTL).into()],
            )
            .await?;
        let taken = self
            .0
            .exec(
                "DELETE FROM oidc_logins WHERE state_hash = $1",
                vec![state_hash.into()],
            )
            .await?;
        Ok(rows
            .first()
            .filter(|_| taken == 1)
            .map(|r| (col(r, 0), col(r, 1))))
    }

    /// Creates or updates a single sign-on account with the role its claims give now; its
    /// role before, or `None` when it is new. It has no password: it cannot sign in locally.
    pub async fn upsert_sso_user(
        &self,
        name: &str,
        role: &str,
        now: i64,
    ) -> StorageResult<Option<String>> {
        let before = self.user(name).await?.map(|u| u.role);
        self.0
            .exec(
                "INSERT INTO users (name_key, name, role, password_hash, created_at) VALUES ($1, $2, $3, '', $4) \
                 ON CONFLICT (name_key) DO UPDATE SET role = excluded.role",
                vec![key(name).into(), name.into(), role.into(), now.into()],
            )
            .await?;
        Ok(before)
    }

    pub async fn remove_session(&self, id_hash: &str) -> StorageResult<()> {
        self.0
            .exec(
                "DELETE FROM sessions WHERE id_hash = $1",
                vec![id_hash.into()],
            )
            .await?;
        Ok(())
    }

    pub async fn add_token(&self, t: &ApiToken) -> StorageResult<()> {
        self.0
            .exec(
                "INSERT INTO api_tokens (id, hash, user_key, name, created_at, expires_at, parent_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                vec![t.id.clone().into(), t.hash.clone().into(), key(&t.user).into(), t.name.clone().into(), t.created_at.into(), t.expires_at.into(), t.parent.clone().into()],
            )
            .await?;
        Ok(())
    }

    /// A usable token (not revoked, not expired) and its user.
    pub async fn token(&self, hash: &str, now: i64) -> StorageResult<Option<(ApiToken, User)>> {
        let rows = self
            .0
            .rows(
                &format!("SELECT {TOKEN_COLUMNS}, u.role, u.created_at FROM api_tokens t JOIN users u ON u.name_key = t.user_key WHERE t.hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)"),
                vec![hash.into(), now.into()],
            )
            .await?;
        Ok(rows.first().map(|r| {
            let token = token_of(r);
            let user = User {
                name: token.user.clone(),
                role: col(r, 8),
                created_at: int(r, 9).unwrap_or(0),
                password_hash: String::new(),
            };
            (token, user)
        }))
    }

    /// Tokens of one user, or of everyone.
    pub async fn tokens(&self, user: Option<&str>) -> StorageResult<Vec<ApiToken>> {
        let rows = self
            .0
            .rows(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.name_key = t.user_key WHERE ($1 = '' OR t.user_key = $1) ORDER BY t.created_at, t.id"),
                vec![user.map(key).unwrap_or_default().into()],
            )
            .await?;
        Ok(rows.iter().map(|r| token_of(r)).collect())
    }

    /// Revokes a token (of `user` only, when given); false when no such live token.
    pub async fn revoke_token(
        &self,
        id: &str,
        user: Option<&str>,
        now: i64,
    ) -> StorageResult<bool> {
        let n = self
            .0
            .exec(
                "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND ($2 = '' OR user_key = $2) AND revoked_at IS NULL",
                vec![id.into(), user.map(key).unwrap_or_default().into(), now.into()],
            )
            .await?;
        if n > 0 {
            self.revoke_descendants(id, now).await?;
        }
        Ok(n > 0)
    }

    /// Revokes every token created, directly or not, by token `id`.
    async fn revoke_descendants(&self, id: &str, now: i64) -> StorageResult<()> {
        self.0
            .exec(
                "UPDATE api_tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND id IN (
                    WITH RECURSIVE d(id) AS (
                        SELECT id FROM api_tokens WHERE parent_id = $1
                        UNION SELECT t.id FROM api_tokens t JOIN d ON t.parent_id = d.id
                    ) SELECT id FROM d)",
                vec![id.into(), now.into()],
            )
            .await?;
        Ok(())
    }

    /// Revokes every token of a user (their password changed: what it vouched for ends).
    pub async fn revoke_user_tokens(&self, user: &str, now: i64) -> StorageResult<u64> {
        self.0
            .exec(
                "UPDATE api_tokens SET revoked_at = $2 WHERE user_key = $1 AND revoked_at IS NULL",
                vec![key(user).into(), now.into()],
            )
            .await
    }

    /// Remembers a registration signature; false when it was already used (a replay).
    pub async fn remember_signature(&self, signature: &[u8], now: i64) -> StorageResult<bool> {
        use base64::Engine as _;
        let text = base64::engine::general_purpose::STANDARD.encode(signature);
        let n = self
            .0
            .exec(
                "INSERT INTO registration_signatures (signature, seen_at) VALUES ($1, $2) ON CONFLICT (signature) DO NOTHING",
                vec![text.into(), now.into()],
            )
            .await?;
        Ok(n > 0)
    }

    /// Forgets what retention no longer needs: registration signatures seen before
    /// `signatures_before`, sign-in failures older than `failures_before`, and audit entries
    /// older than `audit_before`. Returns the number of audit entries removed.
    pub async fn prune_security(
        &self,
        signatures_before: i64,
        failures_before: i64,
        audit_before: i64,
    ) -> StorageResult<u64> {
        self.0
            .exec(
                "DELETE FROM registration_signatures WHERE seen_at < $1",
                vec![signatures_before.into()],
            )
            .await?;
        self.0
            .exec(
                "DELETE FROM login_failures WHERE last_at < $1",
                vec![failures_before.into()],
            )
            .await?;
        self.0
            .exec("DELETE FROM audit WHERE at < $1", vec![audit_before.into()])
            .await
    }

    pub async fn append_audit(&self, e: &AuditEntry) -> StorageResult<()> {
        self.0
            .exec(
                "INSERT INTO audit (id, at, actor, address, action, target, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                vec![e.id.clone().into(), e.at.into(), e.actor.clone().into(), e.address.clone().into(), e.action.clone().into(), e.target.clone().into(), e.outcome.clone().into()],
            )
            .await?;
        Ok(())
    }

    /// Audit entries, newest first.
    pub async fn audit(&self, f: &AuditFilter) -> StorageResult<Vec<AuditEntry>> {
        let limit = i64::try_from(if f.limit == 0 { 100 } else { f.limit }).unwrap_or(100);
        let rows = self
            .0
            .rows(
                "SELECT id, at, actor, address, action, target, outcome FROM audit WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR action = $2) AND at >= $3 AND at < $4 AND ($5 = '' OR id < $5) ORDER BY id DESC LIMIT $6",
                vec![
                    f.actor.clone().unwrap_or_default().into(),
                    f.action.clone().unwrap_or_default().into(),
                    f.since.unwrap_or(i64::MIN).into(),
                    f.until.unwrap_or(i64::MAX).into(),
                    f.before.clone().unwrap_or_default().into(),
                    limit.into(),
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                id: col(r, 0),
                at: int(r, 1).unwrap_or(0),
                actor: col(r, 2),
                address: col(r, 3),
                action: col(r, 4),
                target: col(r, 5),
                outcome: col(r, 6),
            })
            .collect())
    }
}

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
