//! Who is asking, and may they: sessions (the dashboard's cookie), API tokens and the built-in
//! admin token resolve to a [`Principal`] with a [`Role`]; handlers ask [`require`] for the role
//! an operation needs, identically in the API and the dashboard. Passwords are hashed with
//! Argon2id; session and token secrets are stored as SHA-256 hashes.

use crate::http::{Resp, constant_time_eq, error};
use crate::state::{App, Peer};
use crate::storage::accounts::AuditEntry;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use hyper::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};
use std::time::Duration;

pub use dsc_core::pull::policy::{Action, Role};

/// How a principal proved itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// The dashboard's session cookie; forms must carry this CSRF token.
    Session { id_hash: String, csrf: String },
    /// A user's API token (by its id).
    Token(String),
    /// The server's built-in admin token.
    AdminToken,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user name (`admin-token` for the built-in token).
    pub name: String,
    pub role: Role,
    pub via: Via,
}

impl Principal {
    /// How the audit trail names this caller.
    pub fn actor(&self) -> String {
        match &self.via {
            Via::Token(id) => format!("{} (token {id})", self.name),
            _ => self.name.clone(),
        }
    }
}

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "traek_session";
/// How long a dashboard session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// A new random secret: 256 bits, hex.
pub fn secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Lowercase hex SHA-256, how secrets are stored.
pub fn digest(secret: &str) -> String {
    dsc_core::pull::checksum::upper_hex(&Sha256::digest(secret.as_bytes())).to_lowercase()
}

/// An Argon2id hash of a password (PHC string).
pub fn hash_password(password: &str) -> Result<String, String> {
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing the password: {e}"))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// A hash of a password nobody has, verified for unknown names so that a sign-in takes as long
/// whether or not the name exists.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&secret()).unwrap_or_default())
}

/// At most this many password hashes are computed at once (each takes tens of milliseconds
/// and ~19 MiB), so a burst of sign-ins queues instead of exhausting memory.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// Verifies a password against `hash` (or against a decoy when there is no account) on a
/// blocking thread, never on the async workers that serve every other request.
pub async fn verify_password_off_thread(password: String, hash: Option<String>) -> bool {
    let Ok(_permit) = HASHING.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| decoy_hash().to_string());
        verify_password(&password, &hash) && known
    })
    .await
    .unwrap_or(false)
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("Bearer")
        .then(|| token.trim().to_string())
}

/// The caller, from a Bearer token (the admin token or a user's API token) or the session
/// cookie; `Ok(None)` when there is no valid credential.
pub async fn authenticate(
    app: &App,
    headers: &HeaderMap,
) -> Result<Option<Principal>, crate::storage::StorageError> {
    let now = crate::storage::now_unix();
    if let Some(token) = bearer(headers) {
        if constant_time_eq(token.as_bytes(), app.admin_token.as_bytes()) {
            return Ok(Some(Principal {
                name: "admin-token".into(),
                role: Role::Admin,
                via: Via::AdminToken,
            }));
        }
        return Ok(app
            .storage
            .accounts()
            .token(&digest(&token), now)
            .await?
            .and_then(|(t, u)| {
                Some(Principal {
                    role: Role::parse(&u.role)?,
                    name: u.name,
                    via: Via::Token(t.id),
                })
            }));
    }
    let Some(secret) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let id_hash = digest(&secret);
    Ok(app
        .storage
        .accounts()
        .session(&id_hash, now)
        .await?
        .and_then(|(s, u)| {
            Some(Principal {
                role: Role::parse(&u.role)?,
                name: u.name,
                via: Via::Session {
                    id_hash: s.id_hash,
                    csrf: s.csrf,
                },
            })
        }))
}

/// `None` when the principal has the role `need`, else the 403 answer naming the missing role.
pub fn require(p: &Principal, need: Role) -> Option<Resp> {
    refusal(p, need).map(|m| error(StatusCode::FORBIDDEN, m))
}

/// Why `p` may not do what needs `need` (`None` when it may).
pub fn refusal(p: &Principal, need: Role) -> Option<String> {
    (p.role < need).then(|| {
        format!(
            "this needs the {} role ({} is {})",
            need.as_str(),
            p.name,
            p.role.as_str()
        )
    })
}

/// Records a change in the audit trail (failures to record are logged, never fatal to the
/// change itself, which has already happened).
pub async fn audit(app: &App, who: &str, peer: &Peer, action: &str, target: &str, outcome: &str) {
    let now = time::OffsetDateTime::now_utc();
    let entry = AuditEntry {
        id: crate::storage::accounts::audit_id(now),
        at: now.unix_timestamp(),
        actor: who.to_string(),
        address: peer.addr.map(|a| a.ip().to_string()).unwrap_or_default(),
        action: action.to_string(),
        target: target.to_string(),
        outcome: outcome.to_string(),
    };
    // Debug formatting escapes line breaks, so a caller's text cannot forge a log line.
    tracing::info!(actor = ?entry.actor, action, target = ?target, outcome = ?outcome, "audit");
    if let Err(e) = app.storage.accounts().append_audit(&entry).await {
        tracing::error!(error = %e, "recording an audit entry failed");
    }
}

/// The outcome text of an answer: `ok`, or the status and the error message.
pub fn outcome(resp: &Resp) -> String {
    let status = resp.status();
    if status.is_success() {
        "ok".to_string()
    } else {
        format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn roles_are_ordered_by_what_they_may_do() {
        assert!(Role::Admin > Role::Operator && Role::Operator > Role::Viewer);
    }
}
