//! `/api/v1/users`, `/api/v1/tokens` and `/api/v1/audit`.
//!
//! - Users (admin): list, add (`{"name", "role", "password"}`), remove, change a password.
//! - Tokens: anyone signed in creates their own (`{"name", "expiresAt"}` → the token, shown
//!   once), lists and revokes their own; an admin lists and revokes everyone's.
//! - Audit (viewer): newest first, filtered by user, action and time range.

use crate::auth::{self, Principal};
use crate::http::{Resp, empty, error, json, read_body, storage_error};
use crate::state::App;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

async fn body_json(app: &App, req: Request<Incoming>) -> Result<Value, Resp> {
    let body = read_body(req.into_body(), 64 * 1024, app.config.read_timeout).await?;
    serde_json::from_slice(&body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("expected a JSON object: {e}"),
        )
    })
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub async fn handle(
    app: &Arc<App>,
    who: &Principal,
    req: Request<Incoming>,
    seg: &[&str],
) -> (Resp, Option<String>) {
    let method = req.method().clone();
    match (method, seg) {
        (Method::GET, ["users"]) => (list_users(app).await, None),
        (Method::POST, ["users"]) => add_user(app, req).await,
        (Method::DELETE, ["users", name]) => (
            crate::service::respond_empty(crate::service::remove_user(app, name).await),
            None,
        ),
        (Method::PUT, ["users", name, "password"]) => (set_password(app, name, req).await, None),
        (Method::GET, ["tokens"]) => (list_tokens(app, who).await, None),
        (Method::POST, ["tokens"]) => create_token(app, who, req).await,
        (Method::DELETE, ["tokens", id]) => (revoke_token(app, who, id).await, None),
        (Method::GET, ["audit"]) => (list_audit(app, &req).await, None),
        (m, _) => (
            error(
                StatusCode::NOT_FOUND,
                format!("no admin endpoint {m} /api/v1/{}", seg.join("/")),
            ),
            None,
        ),
    }
}

async fn list_users(app: &App) -> Resp {
    match app.storage.accounts().users().await {
        Ok(users) => json(StatusCode::OK, &json!({ "users": users })),
        Err(e) => storage_error(e),
    }
}

/// Adds a user; the audit target is the name (never the password).
pub async fn add_user(app: &App, req: Request<Incoming>) -> (Resp, Option<String>) {
    let v = match body_json(app, req).await {
        Ok(v) => v,
        Err(r) => return (r, None),
    };
    let (Some(name), Some(role), Some(password)) =
        (text(&v, "name"), text(&v, "role"), text(&v, "password"))
    else {
        return (
            error(
                StatusCode::BAD_REQUEST,
                "expected {\"name\", \"role\", \"password\"}",
            ),
            None,
        );
    };
    let target = Some(name.to_string());
    (create_user(app, name, role, password).await, target)
}

async fn create_user(app: &App, name: &str, role: &str, password: &str) -> Resp {
    crate::service::respond(
        crate::service::create_user(app, name, role, password).await,
        StatusCode::CREATED,
    )
}

async fn set_password(app: &App, name: &str, req: Request<Incoming>) -> Resp {
    let v = match body_json(app, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(password) = text(&v, "password") else {
        return error(StatusCode::BAD_REQUEST, "expected {\"password\"}");
    };
    if let Err(e) = dsc_core::pull::policy::check_password(password) {
        return error(StatusCode::BAD_REQUEST, e);
    }
    let hash = match auth::hash_password(password) {
        Ok(h) => h,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    match app.storage.accounts().set_password(name, &hash).await {
        Ok(true) => empty(StatusCode::NO_CONTENT),
        Ok(false) => error(StatusCode::NOT_FOUND, format!("no user '{name}'")),
        Err(e) => storage_error(e),
    }
}

pub async fn list_tokens(app: &App, who: &Principal) -> Resp {
    match app
        .storage
        .accounts()
        .tokens(dsc_core::pull::policy::token_owner(who.role, &who.name))
        .await
    {
        Ok(tokens) => json(StatusCode::OK, &json!({ "tokens": tokens })),
        Err(e) => storage_error(e),
    }
}

/// Parses `expiresAt`: Unix seconds or RFC 3339.
fn expiry(v: &Value) -> Result<Option<i64>, String> {
    match v.get("expiresAt") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| "expiresAt must be whole seconds".into()),
        Some(Value::String(s)) => {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map(|t| Some(t.unix_timestamp()))
                .map_err(|_| format!("expiresAt '{s}' is not an RFC 3339 time"))
        }
        Some(_) => Err("expiresAt must be a time".into()),
    }
}

/// Creates a token for the caller; the secret is in the answer only.
async fn create_token(
    app: &App,
    who: &Principal,
    req: Request<Incoming>,
) -> (Resp, Option<String>) {
    let v = match body_json(app, req).await {
        Ok(v) => v,
        Err(r) => return (r, None),
    };
    let name = text(&v, "name").unwrap_or("").trim().to_string();
    let expires_at = match expiry(&v) {
        Ok(e) => e,
        Err(e) => return (error(StatusCode::BAD_REQUEST, e), None),
    };
    issue_token(app, who, &name, expires_at).await
}

/// Issues a token: the answer holds the secret once; the audit target is its id and name.
async fn issue_token(
    app: &App,
    who: &Principal,
    name: &str,
    expires_at: Option<i64>,
) -> (Resp, Option<String>) {
    match crate::service::issue_token(app, who, name, expires_at).await {
        Ok(created) => {
            let target = created.audit_target();
            (json(StatusCode::CREATED, &created), Some(target))
        }
        Err(e) => (e.response(), None),
    }
}

async fn revoke_token(app: &App, who: &Principal, id: &str) -> Resp {
    crate::service::respond_empty(crate::service::revoke_token(app, who, id).await)
}

async fn list_audit(app: &App, req: &Request<Incoming>) -> Resp {
    let filter = match crate::listing::audit_filter(req.uri().query()) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let limit = filter.limit;
    match app.storage.accounts().audit(&filter).await {
        Ok(entries) => {
            let next = (entries.len() == limit)
                .then(|| entries.last().map(|e| e.id.clone()))
                .flatten();
            json(StatusCode::OK, &json!({"entries": entries, "next": next}))
        }
        Err(e) => storage_error(e),
    }
}
