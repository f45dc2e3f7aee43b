//! The admin API (`/api/v1/...`, JSON). Callers authenticate with `Authorization: Bearer` (the
//! built-in admin token or a user's API token) or the dashboard's session cookie (then mutating
//! calls need the session's `X-CSRF-Token`). Each route needs a role ([`policy`]); every change
//! (and every refused attempt) goes to the audit trail. The OpenAPI document is `openapi.json`
//! beside this file, served at `/api/v1/openapi.json`.

mod accounts;

pub use accounts::{
    audit_filter, check_password, check_user_name, create_user, issue_token, remove_user,
    revoke_token,
};

use crate::auth::{self, Principal, Role, Via};
use crate::http::{
    Resp, constant_time_eq, empty, error, json, query_params, read_body, respond, storage_error,
};
use crate::state::{App, Peer};
use crate::storage::{ContentKey, ContentKind, NodeQuery, NodeSummary, ReportFilter};
use dsc_core::pull::compliance::ComplianceStatus;
use dsc_core::pull::path::{check_module_version, check_name, parse_guid};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

pub const OPENAPI: &str = include_str!("openapi.json");

fn key_error(e: crate::keys::KeyError) -> Resp {
    tracing::error!(error = %e, "registration key operation failed");
    error(StatusCode::INTERNAL_SERVER_ERROR, e)
}

/// The role a route needs, and how a change is named in the audit trail (`None` for reads).
fn policy(method: &Method, seg: &[&str]) -> (Role, Option<(&'static str, String)>) {
    let change = |role, action, target: String| (role, Some((action, target)));
    match (method, seg) {
        (&Method::GET, ["keys", ..] | ["users", ..]) => (Role::Admin, None),
        (&Method::GET, _) => (Role::Viewer, None),
        (&Method::PUT, ["configurations", n]) => {
            change(Role::Operator, "content.put", format!("configuration {n}"))
        }
        (&Method::DELETE, ["configurations", n]) => change(
            Role::Operator,
            "content.delete",
            format!("configuration {n}"),
        ),
        (&Method::PUT, ["modules", n, v]) => {
            change(Role::Operator, "content.put", format!("module {n} {v}"))
        }
        (&Method::DELETE, ["modules", n, v]) => {
            change(Role::Operator, "content.delete", format!("module {n} {v}"))
        }
        (&Method::PUT, ["packages", n]) => {
            change(Role::Operator, "content.put", format!("package {n}"))
        }
        (&Method::DELETE, ["packages", n]) => {
            change(Role::Operator, "content.delete", format!("package {n}"))
        }
        (&Method::PUT, ["nodes", id, "configurations"]) => {
            change(Role::Operator, "node.assign", id.to_string())
        }
        (&Method::DELETE, ["nodes", id, "configurations"]) => {
            change(Role::Operator, "node.unassign", id.to_string())
        }
        (&Method::PUT, ["nodes", id, "tags"]) => {
            change(Role::Operator, "node.tags", id.to_string())
        }
        (&Method::DELETE, ["nodes", id]) => {
            change(Role::Operator, "node.unregister", id.to_string())
        }
        (&Method::PUT, ["tags", t, "configurations"]) => {
            change(Role::Operator, "tag.configurations", t.to_string())
        }
        (&Method::POST, ["maintenance", "prune"]) => {
            change(Role::Operator, "reports.prune", String::new())
        }
        (&Method::POST, ["keys"]) => change(Role::Admin, "key.add", String::new()),
        (&Method::POST, ["keys", "reload"]) => change(Role::Admin, "keys.reload", String::new()),
        (&Method::DELETE, ["keys", id]) => {
            change(Role::Admin, "key.revoke", crate::keys::public_id(id))
        }
        (&Method::POST, ["users"]) => change(Role::Admin, "user.add", String::new()),
        (&Method::DELETE, ["users", n]) => change(Role::Admin, "user.remove", n.to_string()),
        (&Method::PUT, ["users", n, "password"]) => {
            change(Role::Admin, "user.password", n.to_string())
        }
        (&Method::POST, ["tokens"]) => change(Role::Viewer, "token.create", String::new()),
        (&Method::DELETE, ["tokens", id]) => change(Role::Viewer, "token.revoke", id.to_string()),
        (m, _) => change(Role::Admin, "unknown", format!("{m} {}", seg.join("/"))),
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
    let (need, change) = policy(&method, &seg);
    let refused = if let Some(r) = auth::require(&principal, need) {
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
        _ => {}
    }
    (other_routes(app, req, seg, &path).await, None)
}

async fn other_routes(app: &Arc<App>, req: Request<Incoming>, seg: &[&str], path: &str) -> Resp {
    let method = req.method().clone();
    let query = query_params(req.uri().query());
    let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match (method, seg) {
        (Method::GET, ["configurations"]) => list_content(app, ContentKind::Configuration).await,
        (Method::GET, ["modules"]) => list_content(app, ContentKind::Module).await,
        (Method::GET, ["packages"]) => list_content(app, ContentKind::Package).await,
        (Method::PUT, ["packages", name]) => {
            if let Err(e) = check_name("configuration name", name) {
                return error(StatusCode::BAD_REQUEST, e);
            }
            put_package(app, name, req).await
        }
        (Method::GET, ["packages", name]) => {
            get_content(
                app,
                ContentKey::Package {
                    name: name.to_string(),
                },
            )
            .await
        }
        (Method::DELETE, ["packages", name]) => {
            delete_content(
                app,
                ContentKey::Package {
                    name: name.to_string(),
                },
            )
            .await
        }
        (Method::PUT, ["configurations", name]) => {
            if let Err(e) = check_name("configuration name", name) {
                return error(StatusCode::BAD_REQUEST, e);
            }
            let key = ContentKey::Configuration {
                name: name.to_string(),
            };
            put_content(app, key, req).await
        }
        (Method::PUT, ["modules", name, version]) => {
            if let Err(e) =
                check_name("module name", name).and_then(|_| check_module_version(version))
            {
                return error(StatusCode::BAD_REQUEST, e);
            }
            if version.is_empty() {
                return error(StatusCode::BAD_REQUEST, "a module version is required");
            }
            let key = ContentKey::Module {
                name: name.to_string(),
                version: version.to_string(),
            };
            put_content(app, key, req).await
        }
        (Method::GET, ["configurations", name]) => {
            get_content(
                app,
                ContentKey::Configuration {
                    name: name.to_string(),
                },
            )
            .await
        }
        (Method::GET, ["modules", name, version]) => {
            get_content(
                app,
                ContentKey::Module {
                    name: name.to_string(),
                    version: version.to_string(),
                },
            )
            .await
        }
        (Method::DELETE, ["configurations", name]) => {
            delete_content(
                app,
                ContentKey::Configuration {
                    name: name.to_string(),
                },
            )
            .await
        }
        (Method::DELETE, ["modules", name, version]) => {
            delete_content(
                app,
                ContentKey::Module {
                    name: name.to_string(),
                    version: version.to_string(),
                },
            )
            .await
        }
        (Method::GET, ["summary"]) => {
            let stale = app.stale_after_secs();
            match app.storage.summary(crate::storage::now_unix(), stale).await {
                Ok(summary) => json(StatusCode::OK, &json!(summary)),
                Err(e) => storage_error(e),
            }
        }
        (Method::GET, ["nodes"]) => {
            let limit = match q("limit").map(|l| l.parse::<usize>()) {
                None => 100,
                Some(Ok(l)) if (1..=1000).contains(&l) => l,
                Some(_) => return error(StatusCode::BAD_REQUEST, "limit must be 1 to 1000"),
            };
            let after = match q("after").map(|a| parse_guid("after", &a)) {
                None => None,
                Some(Ok(a)) => Some(a),
                Some(Err(e)) => return error(StatusCode::BAD_REQUEST, e),
            };
            let status = match q("status").map(|s| ComplianceStatus::parse(&s).ok_or(s)) {
                None => None,
                Some(Ok(s)) => Some(s),
                Some(Err(s)) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "status '{s}' is not one of compliant, non-compliant, failed, pending, stale"
                        ),
                    );
                }
            };
            let query = NodeQuery {
                after,
                limit,
                status,
                now: crate::storage::now_unix(),
                stale_after: app.stale_after_secs(),
                tag: q("tag").filter(|t| !t.is_empty()),
                configuration: q("configuration").filter(|c| !c.is_empty()),
                text: q("q").filter(|t| !t.is_empty()),
            };
            match app.storage.search_nodes(&query).await {
                Ok(nodes) if wants_csv(&req) => nodes_csv(&nodes),
                Ok(nodes) => {
                    let next = if nodes.len() == limit {
                        nodes.last().map(|n| n.agent_id.to_string())
                    } else {
                        None
                    };
                    json(StatusCode::OK, &json!({"nodes": nodes, "next": next}))
                }
                Err(e) => storage_error(e),
            }
        }
        (Method::PUT, ["nodes", id, "tags"]) => {
            let agent = match parse_guid("agent id", id) {
                Ok(a) => a,
                Err(e) => return error(StatusCode::BAD_REQUEST, e),
            };
            let tags = match names_body(app, req, "tag").await {
                Ok(t) => t,
                Err(r) => return r,
            };
            match app.storage.set_tags(agent, tags.clone()).await {
                Ok(true) => json(StatusCode::OK, &json!({"agentId": agent, "tags": tags})),
                Ok(false) => error(
                    StatusCode::NOT_FOUND,
                    format!("agent {agent} is not registered"),
                ),
                Err(e) => storage_error(e),
            }
        }
        (Method::GET, ["tags"]) => match app.storage.tag_configurations().await {
            Ok(list) => {
                let tags: Vec<Value> = list
                    .into_iter()
                    .map(|(tag, names)| json!({"tag": tag, "configurations": names}))
                    .collect();
                json(StatusCode::OK, &json!({ "tags": tags }))
            }
            Err(e) => storage_error(e),
        },
        (Method::PUT, ["tags", tag, "configurations"]) => {
            if let Err(e) = check_tag(tag) {
                return error(StatusCode::BAD_REQUEST, e);
            }
            let names = match names_body(app, req, "configuration name").await {
                Ok(n) => n,
                Err(r) => return r,
            };
            match app
                .storage
                .set_tag_configurations(tag, Some(names.clone()))
                .await
            {
                Ok(()) => json(
                    StatusCode::OK,
                    &json!({"tag": tag, "configurations": names}),
                ),
                Err(e) => storage_error(e),
            }
        }
        (Method::GET, ["nodes", id]) => {
            let agent = match parse_guid("agent id", id) {
                Ok(a) => a,
                Err(e) => return error(StatusCode::BAD_REQUEST, e),
            };
            match app.storage.node(agent).await {
                Ok(Some(mut n)) => {
                    n.judge(crate::storage::now_unix(), app.stale_after_secs());
                    let resources = match app.storage.node_resources(agent).await {
                        Ok(r) => r,
                        Err(e) => return storage_error(e),
                    };
                    let mut v = json!(n);
                    v["resources"] = json!(resources);
                    json(StatusCode::OK, &v)
                }
                Ok(None) => error(
                    StatusCode::NOT_FOUND,
                    format!("agent {agent} is not registered"),
                ),
                Err(e) => storage_error(e),
            }
        }
        (Method::PUT, ["nodes", id, "configurations"]) => {
            let agent = match parse_guid("agent id", id) {
                Ok(a) => a,
                Err(e) => return error(StatusCode::BAD_REQUEST, e),
            };
            let body = match read_body(req.into_body(), 1024 * 1024, app.config.read_timeout).await
            {
                Ok(b) => b,
                Err(r) => return r,
            };
            let names: Vec<String> = match serde_json::from_slice(&body) {
                Ok(n) => n,
                Err(e) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!("expected a JSON array of configuration names: {e}"),
                    );
                }
            };
            for n in &names {
                if let Err(e) = check_name("configuration name", n) {
                    return error(StatusCode::BAD_REQUEST, e);
                }
            }
            match app.storage.assign(agent, Some(names.clone())).await {
                Ok(true) => json(
                    StatusCode::OK,
                    &json!({"agentId": agent, "assignedNames": names}),
                ),
                Ok(false) => error(
                    StatusCode::NOT_FOUND,
                    format!("agent {agent} is not registered"),
                ),
                Err(e) => storage_error(e),
            }
        }
        (Method::DELETE, ["nodes", id, "configurations"]) => {
            let agent = match parse_guid("agent id", id) {
                Ok(a) => a,
                Err(e) => return error(StatusCode::BAD_REQUEST, e),
            };
            match app.storage.assign(agent, None).await {
                Ok(true) => empty(StatusCode::NO_CONTENT),
                Ok(false) => error(
                    StatusCode::NOT_FOUND,
                    format!("agent {agent} is not registered"),
                ),
                Err(e) => storage_error(e),
            }
        }
        (Method::DELETE, ["nodes", id]) => {
            let agent = match parse_guid("agent id", id) {
                Ok(a) => a,
                Err(e) => return error(StatusCode::BAD_REQUEST, e),
            };
            match app.storage.unregister(agent).await {
                Ok(true) => empty(StatusCode::NO_CONTENT),
                Ok(false) => error(
                    StatusCode::NOT_FOUND,
                    format!("agent {agent} is not registered"),
                ),
                Err(e) => storage_error(e),
            }
        }
        (Method::GET, ["reports"]) => {
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
            f.status = q("status");
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
                    let items: Vec<Value> = reports
                        .iter()
                        .map(|r| {
                            json!({
                                "id": r.id, "agentId": r.agent_id, "jobId": r.summary.job_id, "receivedAt": r.received_at,
                                "operationType": r.summary.operation_type, "status": r.summary.status, "nodeName": r.summary.node_name,
                                "startTime": r.summary.start_time, "endTime": r.summary.end_time, "errorCount": r.summary.error_count,
                                "firstError": r.summary.first_error,
                                "report": serde_json::from_slice::<Value>(&r.body).unwrap_or(Value::Null),
                            })
                        })
                        .collect();
                    json(StatusCode::OK, &json!({"reports": items, "next": next}))
                }
                Err(e) => storage_error(e),
            }
        }
        (Method::GET, ["jobs", job]) => {
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
        (Method::GET, ["keys"]) => match app.storage.registration_keys().await {
            Ok(keys) => json(
                StatusCode::OK,
                &json!({"keys": keys, "file": app.keys.path()}),
            ),
            Err(e) => storage_error(e),
        },
        (Method::POST, ["keys", "reload"]) => match app.keys.sync(app.storage.as_ref()).await {
            Ok(n) => json(StatusCode::OK, &json!({"keys": n})),
            Err(e) => key_error(e),
        },
        (Method::DELETE, ["keys", id]) => match app.keys.revoke(app.storage.as_ref(), id).await {
            Ok(true) => empty(StatusCode::NO_CONTENT),
            Ok(false) => error(
                StatusCode::NOT_FOUND,
                format!("no active key with id '{id}'"),
            ),
            Err(e) => key_error(e),
        },
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

async fn list_content(app: &Arc<App>, kind: ContentKind) -> Resp {
    let member = match kind {
        ContentKind::Configuration => "configurations",
        ContentKind::Module => "modules",
        ContentKind::Package => "packages",
    };
    match app.storage.list_content(kind).await {
        Ok(items) => json(StatusCode::OK, &json!({ member: items })),
        Err(e) => storage_error(e),
    }
}

/// Stores a `.dscpkg` under a configuration name after checking that it opens (catalog and
/// signatures consistent); its signers' key ids are recorded. Trust is the agents' business.
async fn put_package(app: &Arc<App>, name: &str, req: Request<Incoming>) -> Resp {
    let key = ContentKey::Package {
        name: name.to_string(),
    };
    put_content(app, key, req).await
}

async fn put_content(app: &Arc<App>, key: ContentKey, req: Request<Incoming>) -> Resp {
    let body = match read_body(
        req.into_body(),
        app.config.max_upload_bytes,
        app.config.read_timeout,
    )
    .await
    {
        Ok(b) => b,
        Err(r) => return r,
    };
    store_content(app, key, body).await
}

/// Checks and stores uploaded content (shared by the API and the dashboard): not empty, a
/// module is a zip, a package opens (catalog and signatures consistent; its signers' key ids
/// are recorded).
pub async fn store_content(app: &App, key: ContentKey, body: bytes::Bytes) -> Resp {
    if body.is_empty() {
        return error(StatusCode::BAD_REQUEST, "the content is empty");
    }
    let mut signers = Vec::new();
    match key {
        ContentKey::Module { .. } if !body.starts_with(b"PK") => {
            return error(StatusCode::BAD_REQUEST, "a module must be a zip archive");
        }
        ContentKey::Package { .. } => {
            let bytes = body.clone();
            let opened = tokio::task::spawn_blocking(move || {
                dsc_core::package::archive::open_bytes(&bytes, Default::default())
            })
            .await;
            signers = match opened {
                Ok(Ok(p)) => p.signers.into_iter().map(|s| s.key_id).collect(),
                Ok(Err(e)) => {
                    return error(StatusCode::BAD_REQUEST, format!("not a valid package: {e}"));
                }
                Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
            };
        }
        _ => {}
    }
    match app.storage.put_signed_content(key, body, signers).await {
        Ok(meta) => json(StatusCode::OK, &json!(meta)),
        Err(e) => storage_error(e),
    }
}

async fn get_content(app: &Arc<App>, key: ContentKey) -> Resp {
    match app.storage.content(&key).await {
        Ok(Some((meta, bytes))) => {
            let mut r = respond(StatusCode::OK, "application/octet-stream", bytes);
            if let Ok(v) = hyper::header::HeaderValue::from_str(&meta.checksum) {
                r.headers_mut().insert("Checksum", v);
            }
            r
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "no such content"),
        Err(e) => storage_error(e),
    }
}

pub async fn delete_content(app: &App, key: ContentKey) -> Resp {
    match app.storage.delete_content(&key).await {
        Ok(true) => empty(StatusCode::NO_CONTENT),
        Ok(false) => error(StatusCode::NOT_FOUND, "no such content"),
        Err(e) => storage_error(e),
    }
}

/// The client asked for CSV (`Accept: text/csv`).
fn wants_csv(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/csv"))
}

/// One CSV field, quoted when it needs to be (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The node list as CSV, one node per line after a header.
pub fn nodes_csv(nodes: &[NodeSummary]) -> Resp {
    let mut out = String::from(
        "agentId,nodeName,status,lcmVersion,ipAddresses,configurations,lastSeen,lastRunTime\n",
    );
    for n in nodes {
        let names = n
            .assigned_names
            .as_ref()
            .unwrap_or(&n.registered_names)
            .join(";");
        let fields = [
            n.agent_id.to_string(),
            n.node_name.clone().unwrap_or_default(),
            n.status.as_str().to_string(),
            n.lcm_version.clone().unwrap_or_default(),
            n.ip_addresses.join(";"),
            names,
            n.last_seen.map(|t| t.to_string()).unwrap_or_default(),
            n.run_time.map(|t| t.to_string()).unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    respond(StatusCode::OK, "text/csv; charset=utf-8", out)
}

/// `POST /keys`: adds a key (or generates one); the audit target is its id, never the key.
async fn add_key(app: &Arc<App>, req: Request<Incoming>) -> (Resp, Option<String>) {
    let body = match read_body(req.into_body(), 64 * 1024, app.config.read_timeout).await {
        Ok(b) => b,
        Err(r) => return (r, None),
    };
    let key = if body.iter().all(u8::is_ascii_whitespace) {
        uuid::Uuid::new_v4().to_string()
    } else {
        match serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("key").and_then(Value::as_str).map(str::to_string))
        {
            Some(k) if !k.trim().is_empty() && !k.contains('#') && !k.contains('\n') => {
                k.trim().to_string()
            }
            _ => {
                let e = error(
                    StatusCode::BAD_REQUEST,
                    "expected {\"key\": \"...\"} (no '#', no newline) or an empty body to generate one",
                );
                return (e, None);
            }
        }
    };
    let id = crate::keys::key_id(&key);
    let resp = match app.keys.add(app.storage.as_ref(), &key, "api").await {
        Ok(true) => json(StatusCode::CREATED, &json!({"id": id, "key": key})),
        Ok(false) => error(StatusCode::CONFLICT, "that key is already configured"),
        Err(e) => key_error(e),
    };
    (resp, Some(id))
}

/// A tag: 1–64 characters, no control characters, no quotes, no commas.
pub fn check_tag(tag: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&tag.chars().count())
        && !tag
            .chars()
            .any(|c| c.is_control() || matches!(c, '"' | ',' | '/' | '\\'));
    ok.then_some(()).ok_or_else(|| {
        format!("tag '{tag}' must be 1 to 64 characters without quotes, commas or slashes")
    })
}

/// A request body holding a JSON array of tags or configuration names, each checked.
async fn names_body(app: &App, req: Request<Incoming>, what: &str) -> Result<Vec<String>, Resp> {
    let body = read_body(req.into_body(), 1024 * 1024, app.config.read_timeout).await?;
    let names: Vec<String> = serde_json::from_slice(&body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("expected a JSON array of {what}s: {e}"),
        )
    })?;
    for n in &names {
        let checked = if what == "tag" {
            check_tag(n)
        } else {
            check_name("configuration name", n).map_err(|e| e.to_string())
        };
        if let Err(e) = checked {
            return Err(error(StatusCode::BAD_REQUEST, e));
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    /// Every endpoint the admin API answers is in the OpenAPI document.
    #[test]
    fn the_openapi_document_lists_every_endpoint() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let endpoints = [
            ("get", "/summary"),
            ("get", "/nodes"),
            ("get", "/nodes/{agentId}"),
            ("delete", "/nodes/{agentId}"),
            ("put", "/nodes/{agentId}/configurations"),
            ("delete", "/nodes/{agentId}/configurations"),
            ("put", "/nodes/{agentId}/tags"),
            ("get", "/tags"),
            ("put", "/tags/{tag}/configurations"),
            ("get", "/configurations"),
            ("put", "/configurations/{name}"),
            ("get", "/modules"),
            ("put", "/modules/{name}/{version}"),
            ("get", "/packages"),
            ("put", "/packages/{name}"),
            ("delete", "/packages/{name}"),
            ("get", "/reports"),
            ("get", "/jobs/{jobId}"),
            ("get", "/keys"),
            ("post", "/keys"),
            ("delete", "/keys/{id}"),
            ("post", "/keys/reload"),
            ("get", "/users"),
            ("post", "/users"),
            ("delete", "/users/{name}"),
            ("put", "/users/{name}/password"),
            ("get", "/tokens"),
            ("post", "/tokens"),
            ("delete", "/tokens/{id}"),
            ("get", "/audit"),
            ("post", "/maintenance/prune"),
        ];
        for (method, path) in endpoints {
            assert!(
                paths.get(path).and_then(|p| p.get(method)).is_some(),
                "{method} {path} is not documented"
            );
        }
    }
}
