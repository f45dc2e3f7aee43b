//! Node routes: the summary, the node list (filters, CSV), one node, assignments, tags,
//! unregistering.

use super::*;
use crate::service::{self, respond_empty};
use dsc_core::pull::api::NodeList;
use dsc_core::pull::path::check_tag;
use uuid::Uuid;

/// Answers a node route (`/summary`, `/nodes`, `/tags`).
pub(super) async fn route(app: &Arc<App>, req: Request<Incoming>, seg: &[&str]) -> Resp {
    let method = req.method().clone();
    match (method, seg) {
        (Method::GET, ["summary"]) => {
            let stale = app.stale_after_secs();
            match app.storage.summary(crate::storage::now_unix(), stale).await {
                Ok(summary) => json(StatusCode::OK, &summary),
                Err(e) => storage_error(e),
            }
        }
        (Method::GET, ["nodes"]) => list_nodes(app, &req).await,
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
        (Method::PUT, ["tags", tag, "configurations"]) => tag_configurations(app, req, tag).await,
        (method, ["nodes", id, rest @ ..]) => {
            let agent = match parse_guid("agent id", id) {
                Ok(a) => a,
                Err(e) => return error(StatusCode::BAD_REQUEST, e),
            };
            node_route(app, req, method, agent, rest).await
        }
        _ => no_endpoint(req.method(), seg),
    }
}

/// `/nodes/{id}/...`.
async fn node_route(
    app: &Arc<App>,
    req: Request<Incoming>,
    method: Method,
    agent: Uuid,
    rest: &[&str],
) -> Resp {
    let not_registered = || {
        error(
            StatusCode::NOT_FOUND,
            format!("agent {agent} is not registered"),
        )
    };
    let done = |found: Result<bool, crate::storage::StorageError>| match found {
        Ok(true) => empty(StatusCode::NO_CONTENT),
        Ok(false) => not_registered(),
        Err(e) => storage_error(e),
    };
    match (method, rest) {
        (Method::GET, []) => node(app, agent).await,
        (Method::PUT, ["configurations"]) => match names_body(app, req, "configuration name").await
        {
            Ok(names) => service::respond(
                service::assign(app, agent, Some(names)).await,
                StatusCode::OK,
            ),
            Err(r) => r,
        },
        (Method::DELETE, ["configurations"]) => {
            respond_empty(service::assign(app, agent, None).await.map(|_| ()))
        }
        (Method::PUT, ["tags"]) => match names_body(app, req, "tag").await {
            Ok(tags) => service::respond(
                service::set_tags(app, agent, tags)
                    .await
                    .map(|tags| json!({"agentId": agent, "tags": tags})),
                StatusCode::OK,
            ),
            Err(r) => r,
        },
        (Method::DELETE, ["certificate"]) => done(app.storage.release_pin(agent).await),
        (Method::DELETE, []) => done(app.storage.unregister(agent).await),
        (m, _) => error(
            StatusCode::NOT_FOUND,
            format!("no admin endpoint {m} {}", req.uri().path()),
        ),
    }
}

/// `GET /nodes/{id}`: the node and its resources' latest results.
async fn node(app: &App, agent: Uuid) -> Resp {
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

/// `PUT /tags/{tag}/configurations`.
async fn tag_configurations(app: &App, req: Request<Incoming>, tag: &str) -> Resp {
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

/// The node list's query: `limit`, `after`, `status`, `tag`, `configuration`, `q`.
fn node_query(app: &App, req: &Request<Incoming>) -> Result<NodeQuery, String> {
    let query = query_params(req.uri().query());
    let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let limit = match q("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(l)) if (1..=1000).contains(&l) => l,
        Some(_) => return Err("limit must be 1 to 1000".into()),
    };
    let after = q("after")
        .map(|a| parse_guid("after", &a).map_err(|e| e.to_string()))
        .transpose()?;
    let status = q("status")
        .map(|s| {
            ComplianceStatus::parse(&s).ok_or_else(|| {
                format!(
                    "status '{s}' is not one of compliant, non-compliant, failed, pending, stale"
                )
            })
        })
        .transpose()?;
    let tag = q("tag").filter(|t| !t.is_empty());
    let configuration = q("configuration").filter(|c| !c.is_empty());
    if let Some(t) = &tag {
        check_tag(t)?;
    }
    if let Some(c) = &configuration {
        check_name("configuration name", c).map_err(|e| e.to_string())?;
    }
    let text = filter_text("q", q("q"))?;
    Ok(NodeQuery {
        after,
        limit,
        status,
        now: crate::storage::now_unix(),
        stale_after: app.stale_after_secs(),
        tag,
        configuration,
        text,
    })
}

/// `GET /nodes`: a page of nodes, as JSON or CSV.
async fn list_nodes(app: &App, req: &Request<Incoming>) -> Resp {
    let query = match node_query(app, req) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match app.storage.search_nodes(&query).await {
        Ok(nodes) if wants_csv(req) => crate::listing::nodes_csv(&nodes),
        Ok(nodes) => {
            let next = if nodes.len() == query.limit {
                nodes.last().map(|n| n.agent_id)
            } else {
                None
            };
            json(StatusCode::OK, &NodeList { nodes, next })
        }
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

/// A request body holding a JSON array of tags or configuration names, each checked.
async fn names_body(app: &App, req: Request<Incoming>, what: &str) -> Result<Vec<String>, Resp> {
    let body = read_body(req.into_body(), 1024 * 1024, app.config.read_timeout).await?;
    let names: Vec<String> = serde_json::from_slice(&body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("expected a JSON array of {what}s: {e}"),
        )
    })?;
    service::check_names(&names, what).map_err(service::ServiceError::response)?;
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
            ("delete", "/nodes/{agentId}/certificate"),
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
