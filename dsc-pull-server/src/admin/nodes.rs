//! Node routes: the summary, the node list (filters, CSV), one node, assignments, tags,
//! unregistering.

use super::*;

/// Answers a node route (`/summary`, `/nodes`, `/tags`).
pub(super) async fn route(app: &Arc<App>, req: Request<Incoming>, seg: &[&str]) -> Resp {
    let method = req.method().clone();
    let query = query_params(req.uri().query());
    let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match (method, seg) {
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
            let tag = q("tag").filter(|t| !t.is_empty());
            let configuration = q("configuration").filter(|c| !c.is_empty());
            let checked = tag
                .as_deref()
                .map_or(Ok(()), check_tag)
                .and_then(|_| match &configuration {
                    Some(c) => check_name("configuration name", c).map_err(|e| e.to_string()),
                    None => Ok(()),
                })
                .and_then(|_| filter_text("q", q("q")));
            let text = match checked {
                Ok(text) => text,
                Err(e) => return error(StatusCode::BAD_REQUEST, e),
            };
            let query = NodeQuery {
                after,
                limit,
                status,
                now: crate::storage::now_unix(),
                stale_after: app.stale_after_secs(),
                tag,
                configuration,
                text,
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
        (Method::DELETE, ["nodes", id, "certificate"]) => {
            let agent = match parse_guid("agent id", id) {
                Ok(a) => a,
                Err(e) => return error(StatusCode::BAD_REQUEST, e),
            };
            match app.storage.release_pin(agent).await {
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

/// The client asked for CSV (`Accept: text/csv`).
fn wants_csv(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/csv"))
}

/// One CSV field, quoted when it needs to be (RFC 4180).
/// One CSV cell. A value a spreadsheet would run as a formula (it starts with `=`, `+`, `-`,
/// `@`, a tab or a carriage return) is prefixed with `'`, so it is shown as text.
pub fn csv_field(text: &str) -> String {
    let safe;
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        safe = format!("'{text}");
        safe.as_str()
    } else {
        text
    };
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

/// The most tags a node, or configuration names a node or tag, can be given at once.
pub const MAX_NAMES: usize = 256;

/// A request body holding a JSON array of tags or configuration names, each checked.
async fn names_body(app: &App, req: Request<Incoming>, what: &str) -> Result<Vec<String>, Resp> {
    let body = read_body(req.into_body(), 1024 * 1024, app.config.read_timeout).await?;
    let names: Vec<String> = serde_json::from_slice(&body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("expected a JSON array of {what}s: {e}"),
        )
    })?;
    if names.len() > MAX_NAMES {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("at most {MAX_NAMES} {what}s at once"),
        ));
    }
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
    #[test]
    fn csv_cells_never_start_a_spreadsheet_formula() {
        assert_eq!(
            super::csv_field("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(super::csv_field("+1"), "'+1");
        assert_eq!(super::csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(super::csv_field("web-01"), "web-01");
    }

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
