//! Notification routes: list and add rules, show one with its deliveries, remove one.

use super::*;
use crate::storage::notifications::LOG_ROWS;
use dsc_core::pull::notify::NewRule;

/// Answers `/notifications...`; the audit target when only the answer knows it.
pub(super) async fn route(
    app: &Arc<App>,
    req: Request<Incoming>,
    seg: &[&str],
) -> (Resp, Option<String>) {
    let n = app.storage.notifications();
    let resp = match (req.method().clone(), seg) {
        (Method::GET, ["notifications"]) => match n.rules().await {
            Ok(rules) => json(StatusCode::OK, &json!({ "notifications": rules })),
            Err(e) => storage_error(e),
        },
        (Method::POST, ["notifications"]) => return add(app, req).await,
        (Method::GET, ["notifications", name]) => show(app, name).await,
        (Method::DELETE, ["notifications", name]) => {
            crate::service::respond_empty(crate::service::remove_notification(app, name).await)
        }
        _ => no_endpoint(req.method(), seg),
    };
    (resp, None)
}

async fn add(app: &Arc<App>, req: Request<Incoming>) -> (Resp, Option<String>) {
    let body = match read_body(req.into_body(), 64 * 1024, app.config.read_timeout).await {
        Ok(b) => b,
        Err(r) => return (r, None),
    };
    let new: NewRule = match serde_json::from_slice(&body) {
        Ok(n) => n,
        Err(e) => {
            let msg = format!(
                "expected {{\"name\", \"url\", \"secret\", \"events\": [...], \"tags\": [...], \"configurations\": [...]}}: {e}"
            );
            return (error(StatusCode::BAD_REQUEST, msg), None);
        }
    };
    let name = Some(new.name.clone());
    (
        crate::service::respond(
            crate::service::add_notification(app, &new).await,
            StatusCode::CREATED,
        ),
        name,
    )
}

/// One rule with its latest deliveries (pending ones with their next retry) and attempts.
async fn show(app: &App, name: &str) -> Resp {
    let n = app.storage.notifications();
    let found = async {
        let Some(rule) = n.rule(name).await? else {
            return Ok(None);
        };
        let deliveries = n.deliveries(name, LOG_ROWS).await?;
        let attempts = n.attempts(name, LOG_ROWS).await?;
        Ok::<_, crate::storage::StorageError>(Some(
            json!({ "rule": rule, "deliveries": deliveries, "attempts": attempts }),
        ))
    };
    match found.await {
        Ok(Some(v)) => json(StatusCode::OK, &v),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("no notification rule named '{name}'"),
        ),
        Err(e) => storage_error(e),
    }
}
