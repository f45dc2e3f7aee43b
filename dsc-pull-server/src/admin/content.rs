//! Content routes: configurations (MOFs), modules and packages: list, publish, download,
//! delete, and the checks an upload must pass.

use super::*;
use crate::storage::versions::Publisher;

/// The content a path names: `configurations/{name}`, `modules/{name}/{version}`,
/// `packages/{name}`.
fn content_key(seg: &[&str]) -> Option<ContentKey> {
    let name = |n: &str| n.to_string();
    Some(match seg {
        ["configurations", n] => ContentKey::Configuration { name: name(n) },
        ["packages", n] => ContentKey::Package { name: name(n) },
        ["modules", n, v] => ContentKey::Module {
            name: name(n),
            version: name(v),
        },
        _ => return None,
    })
}

/// The names a publish must have: a configuration (or package) name, or a module name with
/// a version.
fn check_publish(key: &ContentKey) -> Result<(), String> {
    match key {
        ContentKey::Configuration { name } | ContentKey::Package { name } => {
            check_name("configuration name", name).map_err(|e| e.to_string())
        }
        ContentKey::Module { name, version } => {
            check_name("module name", name)
                .and_then(|_| check_module_version(version))
                .map_err(|e| e.to_string())?;
            if version.is_empty() {
                return Err("a module version is required".into());
            }
            Ok(())
        }
    }
}

/// Answers a content route (`/configurations`, `/modules`, `/packages`).
pub(super) async fn route(
    app: &Arc<App>,
    principal: &Principal,
    req: Request<Incoming>,
    seg: &[&str],
) -> Resp {
    let method = req.method().clone();
    // The routes under a configuration or package name (versions, rollout) check the name.
    let bad_name = match seg {
        ["configurations" | "packages", name, _, ..] => {
            check_name("configuration name", name).err()
        }
        _ => None,
    };
    if let Some(e) = bad_name {
        return error(StatusCode::BAD_REQUEST, e.to_string());
    }
    let req = match versions_and_rollout(app, principal, req, seg).await {
        Ok(resp) => return resp,
        Err(req) => req,
    };
    match (method, seg) {
        (Method::GET, ["configurations"]) => {
            return list_content(app, ContentKind::Configuration).await;
        }
        (Method::GET, ["modules"]) => return list_content(app, ContentKind::Module).await,
        (Method::GET, ["packages"]) => return list_content(app, ContentKind::Package).await,
        _ => {}
    }
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            format!(
                "no admin endpoint {} /api/v1/{}",
                req.method(),
                seg.join("/")
            ),
        )
    };
    let Some(key) = content_key(seg) else {
        return not_found();
    };
    match *req.method() {
        Method::GET => get_content(app, key).await,
        Method::DELETE => delete_content(app, key).await,
        Method::PUT => match check_publish(&key) {
            Ok(()) => put_content(app, principal, key, req).await,
            Err(e) => error(StatusCode::BAD_REQUEST, e),
        },
        _ => not_found(),
    }
}

/// The routes under a configuration's or package's name: its versions and its rollout. The
/// request back when it is none of them.
async fn versions_and_rollout(
    app: &Arc<App>,
    principal: &Principal,
    req: Request<Incoming>,
    seg: &[&str],
) -> Result<Resp, Request<Incoming>> {
    let method = req.method().clone();
    Ok(match (&method, seg) {
        (&Method::GET, [kind @ ("configurations" | "packages"), name, "versions"]) => {
            let key = content_key(&[kind, name]).unwrap_or_else(|| unreachable!("a kind"));
            crate::service::respond(
                crate::service::versions(app, &key)
                    .await
                    .map(|v| json!({ "versions": v })),
                StatusCode::OK,
            )
        }
        (
            &Method::POST,
            [
                kind @ ("configurations" | "packages"),
                name,
                "versions",
                v,
                "restore",
            ],
        ) => {
            let key = content_key(&[kind, name]).unwrap_or_else(|| unreachable!("a kind"));
            let Ok(version) = v.parse::<i64>() else {
                return Ok(error(
                    StatusCode::BAD_REQUEST,
                    format!("'{v}' is not a version number"),
                ));
            };
            crate::service::respond(
                crate::service::restore(app, key, version, &principal.actor()).await,
                StatusCode::OK,
            )
        }
        (&Method::GET, [kind @ ("configurations" | "packages"), name, "rollout"]) => {
            let key = content_key(&[kind, name]).unwrap_or_else(|| unreachable!("a kind"));
            crate::service::respond(crate::rollout::status(app, &key).await, StatusCode::OK)
        }
        (&Method::PUT, [kind @ ("configurations" | "packages"), name, "rollout"]) => {
            let key = content_key(&[kind, name]).unwrap_or_else(|| unreachable!("a kind"));
            let body = match read_body(req.into_body(), PLAN_BYTES, app.config.read_timeout).await {
                Ok(b) => b,
                Err(r) => return Ok(r),
            };
            crate::service::respond(
                crate::rollout::put_plan(app, &key, &body).await,
                StatusCode::OK,
            )
        }
        (&Method::POST, [kind @ ("configurations" | "packages"), name, "rollout", mv]) => {
            let key = content_key(&[kind, name]).unwrap_or_else(|| unreachable!("a kind"));
            let Some(mv) = crate::rollout::Move::parse(mv) else {
                return Ok(error(
                    StatusCode::NOT_FOUND,
                    format!("no rollout move '{mv}': use promote, resume or abort"),
                ));
            };
            crate::service::respond(
                crate::rollout::act(app, &key, mv, &principal.actor()).await,
                StatusCode::OK,
            )
        }
        _ => return Err(req),
    })
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

/// The largest rollout plan accepted.
const PLAN_BYTES: usize = 64 * 1024;

/// Reads an upload (at most `--max-upload-bytes`) and publishes it, as current or (with
/// `?candidate=true`) as the candidate of a rollout; a package is checked before it is stored
/// (see `service::put_content`).
async fn put_content(
    app: &Arc<App>,
    principal: &Principal,
    key: ContentKey,
    req: Request<Incoming>,
) -> Resp {
    let query = query_params(req.uri().query());
    let message = query
        .iter()
        .find(|(k, _)| k == "message")
        .map(|(_, m)| m.chars().take(500).collect::<String>())
        .filter(|m| !m.trim().is_empty());
    let candidate = match query.iter().find(|(k, _)| k == "candidate") {
        None => false,
        Some((_, v)) if v == "true" => true,
        Some((_, v)) if v == "false" => false,
        Some((_, v)) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("candidate must be true or false, not '{v}'"),
            );
        }
    };
    if candidate && matches!(key, ContentKey::Module { .. }) {
        return error(
            StatusCode::BAD_REQUEST,
            "modules have no candidates: publish a new module version instead",
        );
    }
    let by = Publisher {
        actor: principal.actor(),
        origin: "api".into(),
        message,
    };
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
    if candidate {
        let by = Publisher {
            origin: "api (candidate)".into(),
            ..by
        };
        return crate::service::respond(
            crate::rollout::put_candidate(app, key, body, &by).await,
            StatusCode::OK,
        );
    }
    crate::service::respond(
        crate::service::put_content(app, key, body, &by).await,
        StatusCode::OK,
    )
}

async fn get_content(app: &Arc<App>, key: ContentKey) -> Resp {
    match app.storage.content_stream(&key).await {
        Ok(Some((meta, bytes))) => {
            let mut r = crate::http::stream(meta.size, bytes);
            if let Ok(v) = hyper::header::HeaderValue::from_str(&meta.checksum) {
                r.headers_mut().insert("Checksum", v);
            }
            r
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "no such content"),
        Err(e) => storage_error(e),
    }
}

async fn delete_content(app: &App, key: ContentKey) -> Resp {
    crate::service::respond_empty(crate::service::delete_content(app, key).await)
}
