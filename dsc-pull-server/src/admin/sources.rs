//! Git source routes: list, show, add or replace, remove, and look now.

use super::*;

/// Answers `/sources...`.
pub(super) async fn route(app: &Arc<App>, req: Request<Incoming>, seg: &[&str]) -> Resp {
    let sources = app.storage.sources();
    match (req.method().clone(), seg) {
        (Method::GET, ["sources"]) => match sources.list().await {
            Ok(list) => json(StatusCode::OK, &json!({ "sources": list })),
            Err(e) => storage_error(e),
        },
        (Method::GET, ["sources", name]) => match sources.get(name).await {
            Ok(Some(s)) => json(StatusCode::OK, &s),
            Ok(None) => error(StatusCode::NOT_FOUND, format!("no source named '{name}'")),
            Err(e) => storage_error(e),
        },
        (Method::PUT, ["sources", name]) => {
            let body = match read_body(req.into_body(), 64 * 1024, app.config.read_timeout).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            crate::service::respond(crate::sources::put(app, name, &body).await, StatusCode::OK)
        }
        (Method::DELETE, ["sources", name]) => {
            crate::service::respond_empty(crate::sources::remove(app, name).await)
        }
        (Method::POST, ["sources", name, "sync"]) => {
            match sources.get(name).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return error(StatusCode::NOT_FOUND, format!("no source named '{name}'"));
                }
                Err(e) => return storage_error(e),
            }
            let outcome = crate::sources::sync(app, name, crate::sources::CLAIM_WAIT).await;
            if let Err(busy @ crate::sources::LookError::Busy) = outcome {
                return error(StatusCode::CONFLICT, busy.to_string());
            }
            match (outcome, sources.get(name).await) {
                (_, Err(e)) => storage_error(e),
                (_, Ok(None)) => error(StatusCode::NOT_FOUND, format!("no source named '{name}'")),
                // The source's state tells what happened, a refused commit included.
                (_, Ok(Some(s))) => json(StatusCode::OK, &s),
            }
        }
        _ => no_endpoint(req.method(), seg),
    }
}
