//! The nodes pages: the list (filtered, sorted, as CSV) and one node with its reports.

use super::pages::{badge, notice, param, when};
use super::{Viewer, csrf_field, html_page, layout, message};
use crate::auth::Action;
use crate::http::{Resp, query_params, storage_error};
use crate::state::App;
use crate::storage::{NodeQuery, NodeSummary, ReportFilter};
use dsc_core::pull::compliance::{ComplianceStatus, run_compliance};
use dsc_core::pull::path::parse_guid;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use maud::html;
use serde_json::Value;

/// Sorts a page of nodes by `name`, `status` or `seen` (default: agent id).
fn sort_nodes(nodes: &mut [NodeSummary], by: Option<&str>) {
    match by {
        Some("name") => nodes.sort_by(|a, b| a.node_name.cmp(&b.node_name)),
        Some("status") => nodes.sort_by_key(|n| n.status),
        Some("seen") => nodes.sort_by_key(|n| std::cmp::Reverse(n.last_seen)),
        _ => {}
    }
}

/// The nodes page (or its CSV): a filtered, sorted page of nodes with their status.
pub(super) async fn nodes(app: &App, v: &Viewer, req: &Request<Incoming>, csv: bool) -> Resp {
    let status = param(req, "status").and_then(|s| ComplianceStatus::parse(&s));
    let after = param(req, "after").and_then(|a| parse_guid("after", &a).ok());
    let query = NodeQuery {
        after,
        limit: if csv { 100_000 } else { 100 },
        status,
        now: crate::storage::now_unix(),
        stale_after: app.stale_after_secs(),
        tag: param(req, "tag"),
        configuration: param(req, "configuration"),
        text: param(req, "q"),
    };
    let mut list = match app.storage.search_nodes(&query).await {
        Ok(n) => n,
        Err(e) => return storage_error(e),
    };
    if csv {
        return crate::listing::nodes_csv(&list);
    }
    let next = (list.len() == query.limit)
        .then(|| list.last().map(|n| n.agent_id))
        .flatten();
    let sort = param(req, "sort");
    sort_nodes(&mut list, sort.as_deref());
    let keep = |extra: &str| {
        let mut q: Vec<(String, String)> = query_params(req.uri().query())
            .into_iter()
            .filter(|(k, val)| k != "after" && k != "msg" && !val.is_empty())
            .collect();
        if !extra.is_empty() {
            q.retain(|(k, _)| !extra.starts_with(&format!("{k}=")));
        }
        let mut s: Vec<String> = q
            .iter()
            .map(|(k, val)| format!("{k}={}", enc(val)))
            .collect();
        if !extra.is_empty() {
            s.push(extra.to_string());
        }
        s.join("&")
    };
    let body = html! {
        h1 { "Nodes" }
        form.filters method="get" action="/ui/nodes" {
            label { "Status" select name="status" {
                option value="" { "any" }
                @for s in ComplianceStatus::ALL { option value=(s.as_str()) selected[status == Some(s)] { (s.as_str()) } }
            } }
            label { "Tag" input name="tag" value=[param(req, "tag")]; }
            label { "Configuration" input name="configuration" value=[param(req, "configuration")]; }
            label { "Name, id or address" input name="q" value=[param(req, "q")]; }
            label { "Sort" select name="sort" {
                option value="" { "agent id" }
                option value="name" selected[sort.as_deref() == Some("name")] { "name" }
                option value="status" selected[sort.as_deref() == Some("status")] { "status" }
                option value="seen" selected[sort.as_deref() == Some("seen")] { "last seen" }
            } }
            button type="submit" { "Filter" }
            a.button href=(format!("/ui/nodes.csv?{}", keep(""))) { "CSV" }
        }
        @if list.is_empty() {
            div.empty { "No node matches. Registered nodes appear here after their first registration." }
        } @else {
            div.table { table {
                thead { tr { th { "Node" } th { "Status" } th.hide-narrow { "Configurations" } th.hide-narrow { "Tags" } th.hide-narrow { "LCM" } th { "Last seen" } } }
                tbody { @for n in &list {
                    tr {
                        td { a href=(format!("/ui/nodes/{}", n.agent_id)) { (n.node_name.clone().unwrap_or_else(|| n.agent_id.to_string())) }
                             br; span.muted.mono { (n.agent_id) } }
                        td { (badge(n.status)) }
                        td.hide-narrow { (n.configurations.join(", ")) }
                        td.hide-narrow { (n.tags.join(", ")) }
                        td.hide-narrow { (n.lcm_version.clone().unwrap_or_default()) }
                        td { (when(n.last_seen)) }
                    }
                } }
            } }
        }
        div.pager {
            @if after.is_some() { a href=(format!("/ui/nodes?{}", keep(""))) { "« first page" } }
            @if let Some(n) = next { a href=(format!("/ui/nodes?{}", keep(&format!("after={n}")))) { "next page »" } }
        }
    };
    html_page(StatusCode::OK, layout(v, "Nodes", "nodes", body))
}

/// `s` percent-encoded for a query string.
fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// One node's page: registration, assignment and tags (with forms to change them),
/// what its rollout gave it, and its latest runs.
pub(super) async fn node(app: &App, v: &Viewer, req: &Request<Incoming>, id: &str) -> Resp {
    let Ok(agent) = parse_guid("agent id", id) else {
        return message(v, StatusCode::BAD_REQUEST, "not an agent id");
    };
    let node = match app.storage.node(agent).await {
        Ok(Some(mut n)) => {
            n.judge(crate::storage::now_unix(), app.stale_after_secs());
            n
        }
        Ok(None) => return message(v, StatusCode::NOT_FOUND, "no such node"),
        Err(e) => return storage_error(e),
    };
    let (regs, resources, reports) = match tokio::try_join!(
        app.storage.agent(agent),
        app.storage.node_resources(agent),
        app.storage.reports(ReportFilter {
            agent_id: Some(agent),
            limit: 50,
            newest_first: true,
            ..Default::default()
        }),
    ) {
        Ok(x) => x,
        Err(e) => return storage_error(e),
    };
    let thumbprints: Vec<String> = regs
        .and_then(|r| r.pin.as_ref().map(|p| p.thumbprint.clone()))
        .into_iter()
        .collect();
    let errors: Vec<String> = reports
        .first()
        .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .and_then(|v| run_compliance(&v))
        .map(|r| r.errors)
        .unwrap_or_default();
    let title = node.node_name.clone().unwrap_or_else(|| agent.to_string());
    let given = super::rollout::given(app, agent, &node.configurations).await;
    let body = html! {
        h1 { (title) " " (badge(node.status)) }
        (notice(req))
        dl.kv {
            dt { "Agent id" } dd.mono { (agent) }
            dt { "Node name" } dd { (node.node_name.clone().unwrap_or_default()) }
            dt { "Addresses" } dd { (node.ip_addresses.join(", ")) }
            dt { "LCM version" } dd { (node.lcm_version.clone().unwrap_or_default()) }
            dt { "Certificate" } dd.mono { (thumbprints.join(", ")) }
            dt { "Registrations" } dd { (node.registration_types.join(", ")) }
            dt { "Registered names" } dd { (node.registered_names.join(", ")) }
            dt { "Assigned names" } dd { (node.assigned_names.clone().map(|a| a.join(", ")).unwrap_or_else(|| "none (tags or registered names apply)".into())) }
            dt { "Gets" } dd { (node.configurations.join(", ")) }
            dt { "Version given" } dd.given { (given) }
            dt { "Tags" } dd { (node.tags.join(", ")) }
            dt { "Last seen" } dd { (when(node.last_seen)) }
            dt { "Latest run" } dd { (when(node.run_time)) }
        }
        @if v.may(Action::NodeAssign) {
            h2 { "Assign and tag" }
            form.row method="post" action=(format!("/ui/nodes/{agent}/assign")) {
                (csrf_field(v))
                label { "Configuration names (comma-separated; empty clears)" input name="names" value=[node.assigned_names.clone().map(|a| a.join(", "))]; }
                button type="submit" { "Assign" }
            }
            form.row method="post" action=(format!("/ui/nodes/{agent}/tags")) {
                (csrf_field(v))
                label { "Tags (comma-separated)" input name="tags" value=(node.tags.join(", ")); }
                button type="submit" { "Save tags" }
            }
        }
        (node_results(&resources, &errors, &reports))
    };
    html_page(StatusCode::OK, layout(v, &title, "nodes", body))
}

/// A node page's results: the latest run's resources, its errors, the runs.
fn node_results(
    resources: &[dsc_core::pull::compliance::ResourceResult],
    errors: &[String],
    reports: &[crate::storage::StoredReport],
) -> maud::Markup {
    html! {
    h2 { "Resources in the latest run" }
    @if resources.is_empty() {
        div.empty { "No run reported per-resource results yet." }
    } @else {
        div.table { table {
            thead { tr { th { "Resource" } th { "Module" } th { "State" } th { "Error" } } }
            tbody { @for r in resources {
                tr {
                    td.mono { (r.resource_id) }
                    td { (r.module) }
                    td { @if r.in_desired_state { (badge(ComplianceStatus::Compliant)) } @else { (badge(ComplianceStatus::NonCompliant)) } }
                    td { (r.error.clone().unwrap_or_default()) }
                }
            } }
        } }
    }
    @if !errors.is_empty() {
        h2 { "Errors" }
        div.error { ul { @for e in errors { li { (e) } } } }
    }
    h2 { "Runs" }
    @if reports.is_empty() {
        div.empty { "No report yet." }
    } @else {
        div.table { table {
            thead { tr { th { "Received" } th { "Operation" } th { "Status" } th { "Applied" } th { "Report" } } }
            tbody { @for r in reports {
                tr {
                    td { (when(Some(r.received_at))) }
                    td { (r.summary.operation_type.clone().unwrap_or_default()) }
                    td { (r.summary.status.clone().unwrap_or_else(|| "(start)".into())) }
                    td.mono { @if let Some(a) = &r.summary.applied { (a.get(..16).unwrap_or(a)) "…" } }
                    td { details { summary { "JSON" } pre { (pretty(&r.body)) } } }
                }
            } }
        } }
    }
    }
}

/// A stored report body as indented JSON (as it came when it is not JSON).
fn pretty(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}
