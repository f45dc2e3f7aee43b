//! Content routes: configurations (MOFs), modules and packages: list, publish, download,
//! delete, and the checks an upload must pass.

use super::*;

/// Answers a content route (`/configurations`, `/modules`, `/packages`).
pub(super) async fn route(app: &Arc<App>, req: Request<Incoming>, seg: &[&str]) -> Resp {
    let method = req.method().clone();
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
        _ => error(
            StatusCode::NOT_FOUND,
            format!(
                "no admin endpoint {} /api/v1/{}",
                req.method(),
                seg.join("/")
            ),
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
    crate::service::respond(
        crate::service::put_content(app, key, body).await,
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
