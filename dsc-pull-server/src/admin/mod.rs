//! The admin API (`/api/v1/...`, JSON). Callers authenticate with `Authorization: Bearer` (the
//! built-in admin token or a user's API token) or the dashboard's session cookie (then mutating
//! calls need the session's `X-CSRF-Token`). Each route needs a role ([`policy`]); every change
//! (and every refused attempt) goes to the audit trail. The OpenAPI document is `openapi.json`
//! beside this file, served at `/api/v1/openapi.json`.

mod accounts;
mod content;
mod nodes;
mod notifications;
mod sources;

use crate::auth::{self, Action, Principal, Via};
use crate::http::{
    Resp, constant_time_eq, empty, error, filter_text, json, query_params, read_body, respond,
    storage_error,
};
use crate::state::{App, Peer};
use crate::storage::{ContentKey, ContentKind, NodeQuery, ReportFilter};
use dsc_core::pull::api::{KeyList, NewKey, ReportInfo, ReportList};
use dsc_core::pull::compliance::ComplianceStatus;
use dsc_core::pull::path::{check_module_version, check_name, parse_guid};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

pub const OPENAPI: &str = include_str!("openapi.json");

/// The methods the API documents for a path (its segments after `/api/v1`), or `None` when no
/// documented path matches. Read from [`OPENAPI`], so a route and its document cannot disagree
/// about which methods exist.
pub fn documented_methods(seg: &[&str]) -> Option<Vec<String>> {
    static PATHS: std::sync::OnceLock<Vec<(Vec<String>, Vec<String>)>> = std::sync::OnceLock::new();
    let paths = PATHS.get_or_init(|| {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap_or_default();
        let Some(paths) = doc.get("paths").and_then(serde_json::Value::as_object) else {
            return Vec::new();
        };
        paths
            .iter()
            .map(|(path, ops)| {
                let template = path.split('/').filter(|s| !s.is_empty());
                let methods = ops.as_object().into_iter().flat_map(|o| o.keys());
                (
                    template.map(str::to_string).collect(),
                    methods
                        .filter(|m| *m != "parameters")
                        .map(|m| m.to_ascii_uppercase())
                        .collect(),
                )
            })
            .collect()
    });
    let matches = |template: &[String]| {
        template.len() == seg.len()
            && template
                .iter()
                .zip(seg)
                .all(|(t, s)| t.starts_with('{') || t == s)
    };
    // A literal segment wins over a parameter (`/keys/reload` is not the key `reload`).
    let placeholders = |t: &[String]| t.iter().filter(|s| s.starts_with('{')).count();
    let best = paths
        .iter()
        .filter(|(t, _)| matches(t))
        .min_by_key(|(t, _)| placeholders(t))?;
    let mut found = best.1.clone();
    found.sort();
    Some(found)
}

/// `405 Method Not Allowed` with `Allow` when the path is documented but not for this method.
fn method_not_allowed(method: &Method, seg: &[&str]) -> Option<Resp> {
    let allowed = documented_methods(seg)?;
    if allowed.iter().any(|m| m == method.as_str()) {
        return None;
    }
    let list = allowed.join(", ");
    let mut r = error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed here; use {list}"),
    );
    if let Ok(v) = hyper::header::HeaderValue::from_str(&list) {
        r.headers_mut().insert(hyper::header::ALLOW, v);
    }
    Some(r)
}

/// `404` for a path under `/api/v1` that names no endpoint for this method.
fn no_endpoint(method: &Method, seg: &[&str]) -> Resp {
    error(
        StatusCode::NOT_FOUND,
        format!("no admin endpoint {method} /api/v1/{}", seg.join("/")),
    )
}

fn key_error(e: crate::keys::KeyError) -> Resp {
    tracing::error!(error = %e, "registration key operation failed");
    error(StatusCode::INTERNAL_SERVER_ERROR, e)
}

/// The action a route is (its role and audit name are the action's) and its audit target.
fn policy(method: &Method, seg: &[&str]) -> (Action, String) {
    let content = |kind: &str, n: &str| format!("{kind} {n}");
    match (method, seg) {
        (&Method::GET, ["keys", ..] | ["users", ..] | ["notifications", ..]) => {
            (Action::ReadSecrets, String::new())
        }
        (&Method::GET, ["configurations", _]) => (Action::ReadConfiguration, String::new()),
        (
            &Method::POST,
            [
                kind @ ("configurations" | "packages"),
                n,
                "versions",
                v,
                "restore",
            ],
        ) => {
            let kind = kind.trim_end_matches('s');
            (Action::ContentRestore, format!("{kind} {n} version {v}"))
        }
        (&Method::PUT, [kind @ ("configurations" | "packages"), n, "rollout"]) => {
            (Action::RolloutPlan, content(kind.trim_end_matches('s'), n))
        }
        (&Method::POST, [kind @ ("configurations" | "packages"), n, "rollout", mv]) => {
            let action = match *mv {
                "promote" => Action::RolloutPromote,
                "resume" => Action::RolloutResume,
                "abort" => Action::RolloutAbort,
                _ => Action::Unknown,
            };
            (action, content(kind.trim_end_matches('s'), n))
        }
        (&Method::GET, _) => (Action::Read, String::new()),
        (&Method::PUT, ["configurations", n]) => (Action::ContentPut, content("configuration", n)),
        (&Method::DELETE, ["configurations", n]) => {
            (Action::ContentDelete, content("configuration", n))
        }
        (&Method::PUT, ["modules", n, v]) => (Action::ContentPut, format!("module {n} {v}")),
        (&Method::DELETE, ["modules", n, v]) => (Action::ContentDelete, format!("module {n} {v}")),
        (&Method::PUT, ["packages", n]) => (Action::ContentPut, content("package", n)),
        (&Method::DELETE, ["packages", n]) => (Action::ContentDelete, content("package", n)),
        (&Method::PUT, ["nodes", id, "configurations"]) => (Action::NodeAssign, id.to_string()),
        (&Method::DELETE, ["nodes", id, "configurations"]) => {
            (Action::NodeUnassign, id.to_string())
        }
        (&Method::PUT, ["nodes", id, "tags"]) => (Action::NodeTags, id.to_string()),
        (&Method::DELETE, ["nodes", id, "certificate"]) => (Action::NodeUnpin, id.to_string()),
        (&Method::DELETE, ["nodes", id]) => (Action::NodeUnregister, id.to_string()),
        (&Method::PUT, ["tags", t, "configurations"]) => (Action::TagConfigurations, t.to_string()),
        (&Method::POST, ["maintenance", "prune"]) => (Action::ReportsPrune, String::new()),
        (&Method::POST, ["keys"]) => (Action::KeyAdd, String::new()),
        (&Method::POST, ["keys", "reload"]) => (Action::KeysReload, String::new()),
        (&Method::DELETE, ["keys", id]) => {
            (Action::KeyRevoke, dsc_core::pull::auth::public_key_id(id))
        }
        (&Method::POST, ["users"]) => (Action::UserAdd, String::new()),
        (&Method::DELETE, ["users", n]) => (Action::UserRemove, n.to_string()),
        (&Method::PUT, ["users", n, "password"]) => (Action::UserPassword, n.to_string()),
        (&Method::POST, ["tokens"]) => (Action::TokenCreate, String::new()),
        (&Method::POST, ["notifications"]) => (Action::NotificationAdd, String::new()),
        (&Method::PUT, ["sources", n]) => (Action::SourcePut, n.to_string()),
        (&Method::DELETE, ["sources", n]) => (Action::SourceRemove, n.to_string()),
        (&Method::POST, ["sources", n, "sync"]) => (Action::SourceSync, n.to_string()),
        (&Method::DELETE, ["notifications", n]) => (Action::NotificationRemove, n.to_string()),
        (&Method::DELETE, ["tokens", id]) => (Action::TokenRevoke, id.to_string()),
        (m, _) => (Action::Unknown, format!("{m} {}", seg.join("/"))),
    }
}

/// A session-authenticated change must carry the session's CSRF token in `X-CSRF-Token`.
fn csrf_ok(p: &Principal, req: &Request<Incoming>) -> bool {
    match &p.via {
        Via::Session { csrf, .. } => req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| constant_time_eq(t.as_bytes(), csrf.as_bytes())),
        _ => true,
    }
}

fn decode(seg: &str) -> String {
    percent_encoding::percent_decode_str(seg)
        .decode_utf8_lossy()
        .into_owned()
}

pub async fn handle(app: &Arc<App>, peer: &Peer, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_string();
    let segs: Vec<String> = path
        .trim_start_matches("/api/v1")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    if !path.starts_with("/api/v1/") && path != "/api/v1" {
        return error(StatusCode::NOT_FOUND, "the admin API lives under /api/v1");
    }
    let seg: Vec<&str> = segs.iter().map(String::as_str).collect();
    if req.method() == Method::GET && seg == ["openapi.json"] {
        return respond(StatusCode::OK, "application/json", OPENAPI);
    }
    if let Some(r) = method_not_allowed(req.method(), &seg) {
        return r;
    }
    let principal = match auth::authenticate(app, req.headers()).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "the admin API needs 'Authorization: Bearer <token>' (the admin token or an API token) or a dashboard session",
            );
        }
        Err(e) => return storage_error(e),
    };
    let method = req.method().clone();
    let (action, planned) = policy(&method, &seg);
    let change = action.audit_name().map(|name| (name, planned));
    let refused = if let Some(r) = auth::require(&principal, action.role()) {
        Some(r)
    } else if change.is_some() && !csrf_ok(&principal, &req) {
        Some(error(
            StatusCode::FORBIDDEN,
            "a change made with a session needs its CSRF token in X-CSRF-Token",
        ))
    } else {
        None
    };
    if let Some(resp) = refused {
        if let Some((action, target)) = &change {
            auth::audit(
                app,
                &principal.actor(),
                peer,
                action,
                target,
                &auth::outcome(&resp),
            )
            .await;
        }
        return resp;
    }
    let (resp, target) = route(app, &principal, req, &seg).await;
    if let Some((action, planned)) = change {
        let target = target.unwrap_or(planned);
        auth::audit(
            app,
            &principal.actor(),
            peer,
            action,
            &target,
            &auth::outcome(&resp),
        )
        .await;
    }
    resp
}

/// Answers one authorized request; a target for the audit trail when only the answer knows it
/// (a generated key's id, a new user's or token's name).
async fn route(
    app: &Arc<App>,
    principal: &Principal,
    req: Request<Incoming>,
    seg: &[&str],
) -> (Resp, Option<String>) {
    let path = req.uri().path().to_string();
    match seg {
        ["users", ..] | ["tokens", ..] | ["audit"] => {
            return accounts::handle(app, principal, req, seg).await;
        }
        ["keys"] if req.method() == Method::POST => return add_key(app, req).await,
        ["notifications", ..] => return notifications::route(app, req, seg).await,
        ["sources", ..] => return (sources::route(app, req, seg).await, None),
        _ => {}
    }
    (other_routes(app, principal, req, seg, &path).await, None)
}

async fn other_routes(
    app: &Arc<App>,
    principal: &Principal,
    req: Request<Incoming>,
    seg: &[&str],
    path: &str,
) -> Resp {
    match seg.first().copied() {
        Some("configurations" | "modules" | "packages") => {
            return content::route(app, principal, req, seg).await;
        }
        Some("summary" | "nodes" | "tags") => return nodes::route(app, req, seg).await,
        _ => {}
    }
    let method = req.method().clone();
    let query = query_params(req.uri().query());
    match (method, seg) {
        (Method::GET, ["reports"]) => list_reports(app, &query).await,
        (Method::GET, ["jobs", job]) => job_report(app, job).await,
        (Method::GET, ["keys"]) => match app.storage.registration_keys().await {
            Ok(keys) => json(
                StatusCode::OK,
                &KeyList {
                    keys,
                    file: app.keys.path().map(std::path::PathBuf::from),
                },
            ),
            Err(e) => storage_error(e),
        },
        (Method::POST, ["keys", "reload"]) => match app.keys.sync(app.storage.as_ref()).await {
            Ok(n) => json(StatusCode::OK, &json!({"keys": n})),
            Err(e) => key_error(e),
        },
        (Method::DELETE, ["keys", id]) => {
            crate::service::respond_empty(crate::service::revoke_key(app, id).await)
        }
        (Method::POST, ["maintenance", "prune"]) => match crate::retention::prune_now(app).await {
            Ok(n) => json(StatusCode::OK, &json!({"deleted": n})),
            Err(e) => storage_error(e),
        },
        _ => error(
            StatusCode::NOT_FOUND,
            format!("no admin endpoint {} {path}", req.method()),
        ),
    }
}

/// `GET /reports`: a page of reports matching the query's filters.
async fn list_reports(app: &App, query: &[(String, String)]) -> Resp {
    let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut f = ReportFilter {
        limit: 100,
        ..Default::default()
    };
    macro_rules! parse_or_400 {
        ($name:expr, $parse:expr) => {
            match q($name).map($parse).transpose() {
                Ok(v) => v,
                Err(_) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!("invalid '{}' parameter", $name),
                    )
                }
            }
        };
    }
    f.agent_id = parse_or_400!("agent", |a: String| parse_guid("agent", &a));
    f.job_id = parse_or_400!("job", |a: String| parse_guid("job", &a));
    f.status = match filter_text("status", q("status")) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    f.since = parse_or_400!("since", |s: String| s.parse::<i64>());
    f.until = parse_or_400!("until", |s: String| s.parse::<i64>());
    f.after_id = parse_or_400!("after", |s: String| s.parse::<i64>());
    if let Some(l) = parse_or_400!("limit", |s: String| s.parse::<usize>()) {
        if !(1..=1000).contains(&l) {
            return error(StatusCode::BAD_REQUEST, "limit must be 1 to 1000");
        }
        f.limit = l;
    }
    let limit = f.limit;
    match app.storage.reports(f).await {
        Ok(reports) => {
            let next = if reports.len() == limit {
                reports.last().map(|r| r.id)
            } else {
                None
            };
            let reports = reports
                .into_iter()
                .map(|r| ReportInfo {
                    id: r.id,
                    agent_id: r.agent_id,
                    job_id: r.summary.job_id,
                    received_at: r.received_at,
                    operation_type: r.summary.operation_type,
                    status: r.summary.status,
                    node_name: r.summary.node_name,
                    start_time: r.summary.start_time,
                    end_time: r.summary.end_time,
                    error_count: r.summary.error_count,
                    first_error: r.summary.first_error,
                    applied: r.summary.applied,
                    report: serde_json::from_slice(&r.body).unwrap_or(Value::Null),
                })
                .collect();
            json(StatusCode::OK, &ReportList { reports, next })
        }
        Err(e) => storage_error(e),
    }
}

/// `GET /jobs/{job}`: the reports of one job merged into one.
async fn job_report(app: &App, job: &str) -> Resp {
    let job = match parse_guid("job id", job) {
        Ok(j) => j,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match app
        .storage
        .reports(ReportFilter {
            job_id: Some(job),
            limit: 1000,
            ..Default::default()
        })
        .await
    {
        Ok(r) if r.is_empty() => {
            error(StatusCode::NOT_FOUND, format!("no report with JobId {job}"))
        }
        Ok(r) => {
            let values: Vec<Value> = r
                .iter()
                .filter_map(|x| serde_json::from_slice(&x.body).ok())
                .collect();
            json(
                StatusCode::OK,
                &dsc_core::pull::messages::merge_reports(&values),
            )
        }
        Err(e) => storage_error(e),
    }
}

/// `POST /keys`: adds a key (or generates one); the audit target is its id, never the key.
async fn add_key(app: &Arc<App>, req: Request<Incoming>) -> (Resp, Option<String>) {
    let body = match read_body(req.into_body(), 64 * 1024, app.config.read_timeout).await {
        Ok(b) => b,
        Err(r) => return (r, None),
    };
    let new = if body.iter().all(u8::is_ascii_whitespace) {
        NewKey::default()
    } else {
        let object = serde_json::from_slice::<Value>(&body)
            .ok()
            .filter(Value::is_object)
            .and_then(|v| serde_json::from_value::<NewKey>(v).ok());
        match object {
            Some(n) => n,
            None => {
                let e = error(
                    StatusCode::BAD_REQUEST,
                    "expected {\"key\": \"...\"} (1 to 256 characters, no '#', no control characters) or an empty body to generate one",
                );
                return (e, None);
            }
        }
    };
    match crate::service::add_key(app, &new, "api").await {
        Ok(added) => {
            let id = added.id.clone();
            (json(StatusCode::CREATED, &added), Some(id))
        }
        Err(e) => (e.response(), None),
    }
}
