//! The server's changes, one function each, shared by the admin API and the dashboard: each
//! checks its input with `dsc_core::pull`'s rules, acts on storage and answers a typed value
//! (`dsc_core::pull::api`) or a [`ServiceError`]. The API encodes the answer as JSON with a
//! status code; the dashboard shows it as a message. Who may call which is decided before,
//! by `dsc_core::pull::policy`.

use crate::auth::{self, Principal, Role, Via};
use crate::http::{Resp, empty, error, json, storage_error};
use crate::state::App;
use crate::storage::accounts::{ApiToken, User};
use crate::storage::{StorageError, now_unix};
use dsc_core::pull::api::{AddedKey, Assignment, ContentKey, ContentMeta, NewKey};
use dsc_core::pull::path::{MAX_NAMES, check_name, check_tag};
use dsc_core::pull::policy::{check_password, check_user_name, token_owner};
use hyper::StatusCode;
use serde::Serialize;
use uuid::Uuid;

/// Why a change was not made.
#[derive(Debug)]
pub enum ServiceError {
    /// The request is not acceptable (400).
    Invalid(String),
    /// The caller may not do this (403).
    Forbidden(String),
    /// What it names does not exist (404).
    NotFound(String),
    /// It exists already (409).
    Conflict(String),
    /// Storage failed or is unavailable (500 / 503).
    Storage(StorageError),
    /// Something else inside the server failed (500); the details are logged.
    Internal(String),
}

impl From<StorageError> for ServiceError {
    fn from(e: StorageError) -> Self {
        ServiceError::Storage(e)
    }
}

impl ServiceError {
    /// The HTTP status of the error.
    pub fn status(&self) -> StatusCode {
        match self {
            ServiceError::Invalid(_) => StatusCode::BAD_REQUEST,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Conflict(_) => StatusCode::CONFLICT,
            ServiceError::Storage(e) if e.unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Storage(_) | ServiceError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// As an HTTP answer.
    pub fn response(self) -> Resp {
        match self {
            ServiceError::Storage(e) => storage_error(e),
            ServiceError::Internal(m) => {
                tracing::error!(error = %m, "internal failure");
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the server log",
                )
            }
            other => {
                let status = other.status();
                error(status, other.message())
            }
        }
    }

    /// What the user is told.
    pub fn message(&self) -> String {
        match self {
            ServiceError::Invalid(m)
            | ServiceError::Forbidden(m)
            | ServiceError::NotFound(m)
            | ServiceError::Conflict(m) => m.clone(),
            ServiceError::Storage(e) if e.unavailable => {
                "storage is unavailable; retry later".into()
            }
            ServiceError::Storage(_) | ServiceError::Internal(_) => {
                "internal error; see the server log".into()
            }
        }
    }

    /// The audit trail's outcome of a refused or failed change (`400 Bad Request`, ...).
    pub fn outcome(&self) -> String {
        let status = self.status();
        format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// A service answer as JSON with `status`, or its error.
pub fn respond<T: Serialize>(result: ServiceResult<T>, status: StatusCode) -> Resp {
    match result {
        Ok(v) => json(status, &v),
        Err(e) => e.response(),
    }
}

/// A service answer with nothing to say (204), or its error.
pub fn respond_empty(result: ServiceResult<()>) -> Resp {
    match result {
        Ok(()) => empty(StatusCode::NO_CONTENT),
        Err(e) => e.response(),
    }
}

fn invalid(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Invalid(e.to_string())
}

fn not_registered(agent: Uuid) -> ServiceError {
    ServiceError::NotFound(format!("agent {agent} is not registered"))
}

/// Checks a list of names or tags given at once (count and each one).
pub fn check_names(names: &[String], what: &str) -> ServiceResult<()> {
    if names.len() > MAX_NAMES {
        return Err(invalid(format!("at most {MAX_NAMES} {what}s at once")));
    }
    for n in names {
        match what {
            "tag" => check_tag(n).map_err(invalid)?,
            _ => check_name("configuration name", n).map_err(invalid)?,
        }
    }
    Ok(())
}

/// Assigns configuration names to a node (`None` clears the assignment).
pub async fn assign(
    app: &App,
    agent: Uuid,
    names: Option<Vec<String>>,
) -> ServiceResult<Assignment> {
    if let Some(n) = &names {
        check_names(n, "configuration name")?;
    }
    if !app.storage.assign(agent, names.clone()).await? {
        return Err(not_registered(agent));
    }
    Ok(Assignment {
        agent_id: agent,
        assigned_names: names,
    })
}

/// Replaces a node's tags.
pub async fn set_tags(app: &App, agent: Uuid, tags: Vec<String>) -> ServiceResult<Vec<String>> {
    check_names(&tags, "tag")?;
    if !app.storage.set_tags(agent, tags.clone()).await? {
        return Err(not_registered(agent));
    }
    Ok(tags)
}

/// Checks and stores uploaded content: not empty, a module is a zip, a package opens (catalog
/// and signatures consistent; its signers' key ids are recorded) and is named for its
/// configuration with a semantic version.
pub async fn put_content(
    app: &App,
    key: ContentKey,
    body: bytes::Bytes,
    by: &crate::storage::versions::Publisher,
) -> ServiceResult<ContentMeta> {
    if let Some(r) = live_rollout(app, &key).await? {
        return Err(ServiceError::Conflict(format!(
            "a rollout of version {} is under way: promote or abort it first, or publish with ?candidate=true to replace its candidate",
            r.candidate_version
        )));
    }
    let signers = check_content(&key, &body).await?;
    publish(app, key, body, signers, by).await
}

/// The rollout serving a candidate of this content now, read from storage (not the cache).
pub async fn live_rollout(
    app: &App,
    key: &ContentKey,
) -> ServiceResult<Option<dsc_core::pull::rollout::Rollout>> {
    if matches!(key, ContentKey::Module { .. }) {
        return Ok(None);
    }
    Ok(app
        .storage
        .rollouts()
        .get(key)
        .await?
        .and_then(|r| r.rollout)
        .filter(|r| r.state.is_live()))
}

/// Checks content before it is published: not empty; a module is a zip; a package opens,
/// verifies and carries the name it is published under. The key ids of its signatures.
pub async fn check_content(key: &ContentKey, body: &bytes::Bytes) -> ServiceResult<Vec<String>> {
    if body.is_empty() {
        return Err(invalid("the content is empty"));
    }
    let mut signers = Vec::new();
    match key {
        ContentKey::Module { .. } if !body.starts_with(b"PK") => {
            return Err(invalid("a module must be a zip archive"));
        }
        ContentKey::Package { name } => {
            let bytes = body.clone();
            let opened = tokio::task::spawn_blocking(move || {
                dsc_core::package::archive::open_bytes(&bytes, Default::default())
            })
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?
            .map_err(|e| invalid(format!("not a valid package: {e}")))?;
            // Agents take a package only under its own name: refuse a mismatch now.
            dsc_core::package::identity::PackageIdentity::of(&opened.manifest)
                .and_then(|id| id.check_name(name))
                .map_err(|e| invalid(format!("not publishable: {e}")))?;
            signers = opened.signers.into_iter().map(|s| s.key_id).collect();
        }
        _ => {}
    }
    Ok(signers)
}

/// Makes checked content current: stores it, records the version, tells receivers.
pub async fn publish(
    app: &App,
    key: ContentKey,
    body: bytes::Bytes,
    signers: Vec<String>,
    by: &crate::storage::versions::Publisher,
) -> ServiceResult<ContentMeta> {
    let before = app.storage.content_meta(&key).await?.map(|m| m.checksum);
    let meta = app
        .storage
        .put_signed_content(key.clone(), body, signers)
        .await?;
    if !matches!(key, ContentKey::Module { .. }) {
        app.storage
            .versions()
            .record(&key, &meta.checksum, meta.size, now_unix(), by)
            .await?;
    }
    let notified = crate::notify::published(
        app.storage.as_ref(),
        &app.public_url,
        &key,
        before.as_deref(),
        &meta.checksum,
    )
    .await;
    match notified {
        Ok(true) => crate::notify::wake(app),
        Ok(false) => {}
        // The content is stored; a lost notification must not turn that into an error.
        Err(e) => tracing::error!(error = %e, "enqueueing configuration.published failed"),
    }
    Ok(meta)
}

/// Deletes content, and a configuration's or package's versions with it (their bytes go at
/// the next prune).
pub async fn delete_content(app: &App, key: ContentKey) -> ServiceResult<()> {
    if !app.storage.delete_content(&key).await? {
        return Err(ServiceError::NotFound("no such content".into()));
    }
    if !matches!(key, ContentKey::Module { .. }) {
        app.storage.versions().forget(&key).await?;
        if app.storage.rollouts().forget(&key).await? > 0 {
            app.storage.rollouts_changed().await?;
        }
    }
    Ok(())
}

/// Adds a registration key (or generates one); `source` says where from (`api`, `ui`).
pub async fn add_key(app: &App, new: &NewKey, source: &str) -> ServiceResult<AddedKey> {
    let key = new.key().map_err(invalid)?;
    let id = dsc_core::pull::auth::key_id(&key);
    match app.keys.add(app.storage.as_ref(), &key, source).await {
        Ok(true) => Ok(AddedKey { id, key }),
        Ok(false) => Err(ServiceError::Conflict(
            "that key is already configured".into(),
        )),
        Err(e) => Err(ServiceError::Internal(format!("registration key: {e}"))),
    }
}

/// Revokes a registration key by its id (or the key itself).
pub async fn revoke_key(app: &App, id: &str) -> ServiceResult<()> {
    match app.keys.revoke(app.storage.as_ref(), id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ServiceError::NotFound(format!(
            "no active key with id '{id}'"
        ))),
        Err(e) => Err(ServiceError::Internal(format!("registration key: {e}"))),
    }
}

/// Creates a user account.
pub async fn create_user(app: &App, name: &str, role: &str, password: &str) -> ServiceResult<User> {
    check_user_name(name)
        .and_then(|_| check_password(password))
        .map_err(invalid)?;
    let role =
        Role::parse(role).ok_or_else(|| invalid("role must be admin, operator or viewer"))?;
    let password_hash = auth::hash_password(password).map_err(ServiceError::Internal)?;
    let user = User {
        name: name.to_string(),
        role: role.as_str().to_string(),
        created_at: now_unix(),
        password_hash,
    };
    match app.storage.accounts().add_user(&user).await? {
        true => Ok(user),
        false => Err(ServiceError::Conflict(format!("user '{name}' exists"))),
    }
}

pub async fn remove_user(app: &App, name: &str) -> ServiceResult<()> {
    match app.storage.accounts().remove_user(name).await? {
        true => Ok(()),
        false => Err(ServiceError::NotFound(format!("no user '{name}'"))),
    }
}

/// A new API token: its secret is shown once.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenCreated {
    pub id: String,
    pub name: String,
    pub expires_at: Option<i64>,
    pub token: String,
}

impl TokenCreated {
    /// How the token is named in the audit trail (never its secret).
    pub fn audit_target(&self) -> String {
        format!("{} ({})", self.id, self.name)
    }
}

/// Issues a token to the caller. A token made with a token expires no later than it and is
/// revoked with it.
pub async fn issue_token(
    app: &App,
    who: &Principal,
    name: &str,
    expires_at: Option<i64>,
) -> ServiceResult<TokenCreated> {
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid("a token needs a name (1 to 100 characters)"));
    }
    let (parent, expires_at) = match &who.via {
        Via::AdminToken => {
            return Err(ServiceError::Forbidden(
                "the built-in admin token has no user to own a token; sign in as a user".into(),
            ));
        }
        Via::Token(parent_id) => {
            let parent_expiry = app
                .storage
                .accounts()
                .tokens(Some(&who.name))
                .await?
                .into_iter()
                .find(|t| &t.id == parent_id)
                .and_then(|t| t.expires_at);
            let bounded = match (expires_at, parent_expiry) {
                (Some(e), Some(p)) => Some(e.min(p)),
                (e, p) => e.or(p),
            };
            (Some(parent_id.clone()), bounded)
        }
        Via::Session { .. } => (None, expires_at),
    };
    let secret = format!("traek_{}", auth::secret());
    let id = Uuid::new_v4().simple().to_string()[..12].to_string();
    let token = ApiToken {
        id: id.clone(),
        user: who.name.clone(),
        name: name.to_string(),
        created_at: now_unix(),
        expires_at,
        revoked: false,
        parent,
        hash: auth::digest(&secret),
    };
    app.storage.accounts().add_token(&token).await?;
    Ok(TokenCreated {
        id,
        name: name.to_string(),
        expires_at,
        token: secret,
    })
}

/// Revokes one of the caller's tokens (an admin: anyone's).
pub async fn revoke_token(app: &App, who: &Principal, id: &str) -> ServiceResult<()> {
    let owner = token_owner(who.role, &who.name);
    match app
        .storage
        .accounts()
        .revoke_token(id, owner, now_unix())
        .await?
    {
        true => Ok(()),
        false => Err(ServiceError::NotFound(format!(
            "no live token '{id}' of yours"
        ))),
    }
}

/// Notification rules a server holds at most.
pub const MAX_NOTIFICATION_RULES: usize = 100;

/// Adds a notification rule.
pub async fn add_notification(
    app: &App,
    new: &dsc_core::pull::notify::NewRule,
) -> ServiceResult<dsc_core::pull::notify::Rule> {
    let rule = new.validate(now_unix()).map_err(|e| invalid(e.0))?;
    let n = app.storage.notifications();
    if n.rules().await?.len() >= MAX_NOTIFICATION_RULES {
        return Err(ServiceError::Conflict(format!(
            "a server holds at most {MAX_NOTIFICATION_RULES} notification rules; remove one first"
        )));
    }
    if !n.add_rule(&rule, &new.secret).await? {
        return Err(ServiceError::Conflict(format!(
            "a notification rule named '{}' exists; remove it first to replace it",
            rule.name
        )));
    }
    Ok(rule)
}

/// Removes a notification rule; its pending deliveries are abandoned.
pub async fn remove_notification(app: &App, name: &str) -> ServiceResult<()> {
    let now_ms = now_unix().saturating_mul(1000);
    match app
        .storage
        .notifications()
        .remove_rule(name, now_ms)
        .await?
    {
        true => Ok(()),
        false => Err(ServiceError::NotFound(format!(
            "no notification rule named '{name}'"
        ))),
    }
}

/// The versions of a configuration or package, newest first (at most 100).
pub async fn versions(
    app: &App,
    key: &ContentKey,
) -> ServiceResult<Vec<crate::storage::versions::Version>> {
    let current = app.storage.content_meta(key).await?.map(|m| m.checksum);
    let list = app
        .storage
        .versions()
        .list(key, current.as_deref(), 100)
        .await?;
    let candidate = live_rollout(app, key).await?.map(|r| r.candidate_version);
    let list = list
        .into_iter()
        .map(|v| crate::storage::versions::Version {
            candidate: candidate == Some(v.version),
            ..v
        })
        .collect::<Vec<_>>();
    if list.is_empty() && current.is_none() {
        return Err(ServiceError::NotFound(
            "no such configuration or package, and no version of one".into(),
        ));
    }
    Ok(list)
}

/// Makes a version's content current again by publishing it anew (a new version whose
/// origin names the one restored); audited by the caller. The new version's metadata.
pub async fn restore(
    app: &App,
    key: ContentKey,
    version: i64,
    actor: &str,
) -> ServiceResult<ContentMeta> {
    let Some(old) = app.storage.versions().get(&key, version).await? else {
        return Err(ServiceError::NotFound(format!("no version {version}")));
    };
    let meta = crate::storage::blobs::meta_of(&old.checksum, old.size, old.created_at);
    let (_, bytes) = crate::storage::blobs::fetch(app.storage.blob_store(), meta).await?;
    let by = crate::storage::versions::Publisher {
        actor: actor.to_string(),
        origin: format!("restore of version {version}"),
        message: None,
    };
    put_content(app, key, bytes, &by).await
}
