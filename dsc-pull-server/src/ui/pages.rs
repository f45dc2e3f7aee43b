//! The dashboard's pages.

use super::{Viewer, csrf_field, html_page, layout, message};
use crate::auth::Action;
use crate::http::{Resp, query_params, storage_error};
use crate::state::App;
use crate::storage::{ContentKind, NodeQuery, NodeSummary, ReportFilter, Summary};
use dsc_core::pull::compliance::{ComplianceStatus, run_compliance};
use dsc_core::pull::path::parse_guid;
use dsc_core::pull::policy::token_owner;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use maud::{Markup, html};
use serde_json::Value;
use std::sync::Arc;

/// A query parameter.
fn param(req: &Request<Incoming>, name: &str) -> Option<String> {
    query_params(req.uri().query())
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

pub(super) fn when(t: Option<i64>) -> String {
    t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .map(|t| {
            let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
            t.format(&f).unwrap_or_default()
        })
        .unwrap_or_else(|| "never".to_string())
}

fn badge(status: ComplianceStatus) -> Markup {
    html! { span class=(format!("status s-{}", status.as_str())) { (status.as_str()) } }
}

/// A notice from a redirect (`?msg=`).
pub(super) fn notice(req: &Request<Incoming>) -> Markup {
    html! { @if let Some(m) = param(req, "msg") { div.notice { (m) } } }
}

pub async fn handle(app: &Arc<App>, v: &Viewer, req: &Request<Incoming>, path: &str) -> Resp {
    let rest: Vec<&str> = path
        .trim_start_matches("/ui")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match rest.as_slice() {
        [] => overview(app, v, req).await,
        ["nodes"] => nodes(app, v, req, false).await,
        ["nodes.csv"] => nodes(app, v, req, true).await,
        ["nodes", id] => node(app, v, req, id).await,
        ["content"] => content(app, v, req).await,
        ["content", kind @ ("configuration" | "package"), name] => {
            super::versions::page(app, v, req, kind, name).await
        }
        ["sources"] => super::sources::list(app, v, req).await,
        ["keys"] if v.may(Action::ReadSecrets) => keys(app, v, req).await,
        ["users"] if v.may(Action::ReadSecrets) => users(app, v, req).await,
        ["notifications"] if v.may(Action::ReadSecrets) => {
            super::notifications::list(app, v, req).await
        }
        ["notifications", name] if v.may(Action::ReadSecrets) => {
            super::notifications::detail(app, v, req, name).await
        }
        ["keys"] | ["users"] | ["notifications", ..] => {
            message(v, StatusCode::FORBIDDEN, "this page needs the admin role")
        }
        ["tokens"] => tokens(app, v, req).await,
        ["audit"] => audit(app, v, req).await,
        _ => message(v, StatusCode::NOT_FOUND, "no such page"),
    }
}

/// The login page.
pub async fn login(
    app: &App,
    peer: &crate::state::Peer,
    req: &Request<Incoming>,
    error: Option<&str>,
) -> Resp {
    login_form(app, peer, param(req, "msg"), error).await
}

/// The login form. It carries a CSRF token tied to a short-lived cookie (double submit).
pub async fn login_form(
    app: &App,
    peer: &crate::state::Peer,
    next: Option<String>,
    error: Option<&str>,
) -> Resp {
    let token = crate::auth::secret();
    // A storage error is not "no account": the hint only shows when the table is known empty.
    let local = app.config.local_accounts;
    let sso = app.oidc.is_some();
    let no_accounts =
        local && !sso && matches!(app.storage.accounts().has_users().await, Ok(false));
    let body = html! {
        h1 { "traek" }
        @if let Some(e) = error { div.error { (e) } }
        @if let Some(m) = next { div.notice { (m) } }
        @if no_accounts { (no_account_hint()) }
        @if sso {
            p { a.button #sso href="/ui/oidc/login" { "Sign in with single sign-on" } }
        }
        @if local {
            form method="post" action="/ui/login" {
                input type="hidden" name="csrf" value=(token);
                label { "User" input name="name" autocomplete="username" required autofocus; }
                label { "Password" input name="password" type="password" autocomplete="current-password" required; }
                button type="submit" { "Sign in" }
            }
        }
    };
    let page = super::bare_page("Sign in", None, body);
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    super::with_cookie(
        html_page(status, page),
        super::cookie(peer, LOGIN_COOKIE, &token, Some(600)),
    )
}

/// What the sign-in page says while no account exists: how to make one.
fn no_account_hint() -> Markup {
    html! {
        div.notice #no-account {
            p { "No account exists yet. Restart traek-server to have it create an "
                code { "admin" } " account (its password is written to "
                code { "admin-password" } " in the data directory), or create one on the server:" }
            pre { "traek-server user add NAME --role admin" }
            p { "Use the same " code { "--data-dir" } " or " code { "--database" }
                " as the running server; the command prints the generated password." }
        }
    }
}

/// The cookie that holds the login form's CSRF token.
pub const LOGIN_COOKIE: &str = "traek_login";

/// One bar segment of the chart: x, y, height, status, tooltip.
type Segment = (f64, f64, f64, &'static str, String);

fn chart(summary: &Summary) -> Markup {
    let max = summary
        .daily
        .iter()
        .map(|d| d.counts.values().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, h, gap) = (20.0, 120.0, 4.0);
    let width = summary.daily.len() as f64 * (w + gap);
    let mut segments: Vec<Segment> = Vec::new();
    for (i, day) in summary.daily.iter().enumerate() {
        let mut y = h;
        for status in ["compliant", "non-compliant", "failed"] {
            let n = day.counts.get(status).copied().unwrap_or(0);
            if n > 0 {
                let bar = n as f64 / max as f64 * h;
                y -= bar;
                segments.push((
                    i as f64 * (w + gap),
                    y,
                    bar,
                    status,
                    format!("{}: {n} {status}", day.day),
                ));
            }
        }
    }
    html! {
        div.chart {
            svg viewBox=(format!("0 0 {width} {h}")) role="img" aria-label="Nodes by status, last 30 days" {
                @for (x, y, bar, status, label) in &segments {
                    rect class=(format!("bar-{status}")) x=(x) y=(y) width=(w) height=(bar) { title { (label) } }
                }
            }
            div.legend {
                span { (badge(ComplianceStatus::Compliant)) } span { (badge(ComplianceStatus::NonCompliant)) } span { (badge(ComplianceStatus::Failed)) }
                span { "nodes by the status of their last run each day (UTC), last 30 days" }
            }
        }
    }
}

async fn overview(app: &App, v: &Viewer, req: &Request<Incoming>) -> Resp {
    let summary = match app
        .storage
        .summary(crate::storage::now_unix(), app.stale_after_secs())
        .await
    {
        Ok(s) => s,
        Err(e) => return storage_error(e),
    };
    let total: u64 = summary.statuses.values().sum();
    let body = html! {
        h1 { "Overview" }
        (notice(req))
        @if total == 0 {
            div.empty {
                p { "No nodes yet. Point an LCM at this server: set its ServerURL to "
                    code { "https://<this host>/PSDSCPullServer.svc" }
                    " with a registration key (" a href="/ui/keys" { "Keys" } "), or run "
                    code { "traek agent register --server ..." } " on a DSC v3 node." }
            }
        }
        div.cards {
            @for status in ComplianceStatus::ALL {
                div.card {
                    a href=(format!("/ui/nodes?status={}", status.as_str())) {
                        div.n { (summary.statuses.get(status.as_str()).copied().unwrap_or(0)) }
                        (badge(status))
                    }
                }
            }
        }
        h2 { "Status over time" }
        (chart(&summary))
        h2 { "Configurations" }
        @if summary.configurations.is_empty() {
            div.empty { "No configuration is assigned or registered yet." }
        } @else {
            div.table { table {
                thead { tr { th { "Configuration" } th { "Nodes" } } }
                tbody { @for c in &summary.configurations {
                    tr { td { a href=(format!("/ui/nodes?configuration={}", c.name)) { (c.name) } } td { (c.nodes) } }
                } }
            } }
        }
        h2 { "Resources failing on most nodes" }
        @if summary.failing_resources.is_empty() {
            div.empty { "Every resource is in the desired state in the latest runs." }
        } @else {
            div.table { table {
                thead { tr { th { "Resource" } th { "Nodes" } } }
                tbody { @for r in &summary.failing_resources { tr { td.mono { (r.name) } td { (r.nodes) } } } }
            } }
        }
    };
    html_page(StatusCode::OK, layout(v, "Overview", "overview", body))
}

/// Sorts a page of nodes by `name`, `status` or `seen` (default: agent id).
fn sort_nodes(nodes: &mut [NodeSummary], by: Option<&str>) {
    match by {
        Some("name") => nodes.sort_by(|a, b| a.node_name.cmp(&b.node_name)),
        Some("status") => nodes.sort_by_key(|n| n.status),
        Some("seen") => nodes.sort_by_key(|n| std::cmp::Reverse(n.last_seen)),
        _ => {}
    }
}

async fn nodes(app: &App, v: &Viewer, req: &Request<Incoming>, csv: bool) -> Resp {
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

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn node(app: &App, v: &Viewer, req: &Request<Incoming>, id: &str) -> Resp {
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

fn pretty(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

async fn content(app: &App, v: &Viewer, req: &Request<Incoming>) -> Resp {
    let lists = tokio::try_join!(
        app.storage.list_content(ContentKind::Configuration),
        app.storage.list_content(ContentKind::Package),
        app.storage.list_content(ContentKind::Module),
    );
    let (configs, packages, modules) = match lists {
        Ok(l) => l,
        Err(e) => return storage_error(e),
    };
    let section = |title: &str, kind: &str, items: &[crate::storage::ContentMeta]| {
        html! {
            h2 { (title) }
            @if items.is_empty() {
                div.empty { "None yet." }
            } @else {
                div.table { table {
                    thead { tr { th { "Name" } th { "Version" } th { "Checksum (SHA-256)" } th { "Size" } th.hide-narrow { "Signed by" } th.hide-narrow { "Updated" } @if v.may(Action::ContentDelete) { th {} } } }
                    tbody { @for c in items {
                        tr {
                            td { @if kind == "module" { (c.name) } @else {
                                a href=(format!("/ui/content/{kind}/{}", c.name)) title="versions" { (c.name) }
                            } }
                            td { (c.version.clone().unwrap_or_default()) }
                            td.mono { (c.checksum) } td { (c.size) }
                            td.hide-narrow.mono { (c.signers.join(", ")) }
                            td.hide-narrow { (when(Some(c.updated_at))) }
                            @if v.may(Action::ContentDelete) { td {
                                form.inline method="post" action="/ui/content/delete" {
                                    (csrf_field(v))
                                    input type="hidden" name="kind" value=(kind);
                                    input type="hidden" name="name" value=(c.name);
                                    input type="hidden" name="version" value=(c.version.clone().unwrap_or_default());
                                    button.danger type="submit" { "Delete" }
                                }
                            } }
                        }
                    } }
                } }
            }
        }
    };
    let body = html! {
        h1 { "Content" }
        (notice(req))
        @if v.may(Action::ContentPut) {
            form.row method="post" action="/ui/content/upload" enctype="multipart/form-data" {
                (csrf_field(v))
                label { "Kind" select name="kind" {
                    option value="configuration" { "configuration (MOF)" }
                    option value="package" { "package (.dscpkg)" }
                    option value="module" { "module (zip)" }
                } }
                label { "Name" input name="name" required; }
                label { "Version (modules)" input name="version"; }
                label { "File" input type="file" name="file" required; }
                label { "Message (optional)" input name="message" maxlength="500"; }
                label.check { input type="checkbox" name="candidate" value="true"; " candidate (staged rollout under the plan)" }
                button type="submit" { "Upload" }
            }
        }
        (section("Configurations (MOF, for WMF LCMs)", "configuration", &configs))
        (section("Packages (.dscpkg, for traek agents)", "package", &packages))
        (section("Modules", "module", &modules))
    };
    html_page(StatusCode::OK, layout(v, "Content", "content", body))
}

async fn keys(app: &App, v: &Viewer, req: &Request<Incoming>) -> Resp {
    let keys = match app.storage.registration_keys().await {
        Ok(k) => k,
        Err(e) => return storage_error(e),
    };
    let body = html! {
        h1 { "Registration keys" }
        (notice(req))
        form.row method="post" action="/ui/keys/add" {
            (csrf_field(v))
            label { "Key (empty: generate one)" input name="key"; }
            button type="submit" { "Add key" }
        }
        @if keys.is_empty() {
            div.empty { "No active key: LCMs cannot register until you add one." }
        } @else {
            div.table { table {
                thead { tr { th { "Id" } th { "Key" } th { "Source" } th { "Added" } th {} } }
                tbody { @for k in &keys {
                    tr {
                        td.mono { (k.id) }
                        td { details { summary { "show" } code { (k.key) } } }
                        td { (k.source) } td { (when(Some(k.added_at))) }
                        td { form.inline method="post" action="/ui/keys/revoke" {
                            (csrf_field(v)) input type="hidden" name="id" value=(k.id);
                            button.danger type="submit" { "Revoke" }
                        } }
                    }
                } }
            } }
        }
    };
    html_page(StatusCode::OK, layout(v, "Keys", "keys", body))
}

async fn users(app: &App, v: &Viewer, req: &Request<Incoming>) -> Resp {
    let users = match app.storage.accounts().users().await {
        Ok(u) => u,
        Err(e) => return storage_error(e),
    };
    let body = html! {
        h1 { "Users" }
        (notice(req))
        form.row method="post" action="/ui/users/add" {
            (csrf_field(v))
            label { "Name" input name="name" required; }
            label { "Role" select name="role" { option { "viewer" } option { "operator" } option { "admin" } } }
            label { "Password (8+ characters)" input type="password" name="password" autocomplete="new-password" required; }
            button type="submit" { "Add user" }
        }
        div.table { table {
            thead { tr { th { "Name" } th { "Role" } th { "Created" } th {} } }
            tbody { @for u in &users {
                tr {
                    td { (u.name) } td { (u.role) } td { (when(Some(u.created_at))) }
                    td { form.inline method="post" action="/ui/users/remove" {
                        (csrf_field(v)) input type="hidden" name="name" value=(u.name);
                        button.danger type="submit" { "Remove" }
                    } }
                }
            } }
        } }
    };
    html_page(StatusCode::OK, layout(v, "Users", "users", body))
}

async fn tokens(app: &App, v: &Viewer, req: &Request<Incoming>) -> Resp {
    let owner = token_owner(v.principal.role, &v.principal.name);
    let tokens = match app.storage.accounts().tokens(owner).await {
        Ok(t) => t,
        Err(e) => return storage_error(e),
    };
    let body = html! {
        h1 { "API tokens" }
        (notice(req))
        p.muted { "Use a token as " code { "Authorization: Bearer <token>" } " with the admin API; it has its owner's role." }
        form.row method="post" action="/ui/tokens/create" {
            (csrf_field(v))
            label { "Name" input name="name" required; }
            label { "Expires (days, empty: never)" input name="days" inputmode="numeric"; }
            button type="submit" { "Create token" }
        }
        @if tokens.is_empty() {
            div.empty { "No token yet." }
        } @else {
            div.table { table {
                thead { tr { th { "Id" } th { "Owner" } th { "Name" } th { "Created" } th { "Expires" } th { "State" } th {} } }
                tbody { @for t in &tokens {
                    tr {
                        td.mono { (t.id) } td { (t.user) } td { (t.name) } td { (when(Some(t.created_at))) }
                        td { (t.expires_at.map(|e| when(Some(e))).unwrap_or_else(|| "never".into())) }
                        td { @if t.revoked { "revoked" } @else { "active" } }
                        td { @if !t.revoked { form.inline method="post" action="/ui/tokens/revoke" {
                            (csrf_field(v)) input type="hidden" name="id" value=(t.id);
                            button.danger type="submit" { "Revoke" }
                        } } }
                    }
                } }
            } }
        }
    };
    html_page(StatusCode::OK, layout(v, "Tokens", "tokens", body))
}

async fn audit(app: &App, v: &Viewer, req: &Request<Incoming>) -> Resp {
    let filter = match crate::listing::audit_filter(req.uri().query()) {
        Ok(f) => f,
        Err(e) => return message(v, StatusCode::BAD_REQUEST, &e),
    };
    let entries = match app.storage.accounts().audit(&filter).await {
        Ok(e) => e,
        Err(e) => return storage_error(e),
    };
    let next = (entries.len() == filter.limit)
        .then(|| entries.last().map(|e| e.id.clone()))
        .flatten();
    let body = html! {
        h1 { "Audit log" }
        form.filters method="get" action="/ui/audit" {
            label { "User" input name="user" value=[filter.actor.clone()]; }
            label { "Action" input name="action" value=[filter.action.clone()]; }
            button type="submit" { "Filter" }
        }
        @if entries.is_empty() {
            div.empty { "No change recorded yet." }
        } @else {
            div.table { table {
                thead { tr { th { "When" } th { "Who" } th.hide-narrow { "From" } th { "Action" } th { "Target" } th { "Outcome" } } }
                tbody { @for e in &entries {
                    tr { td { (when(Some(e.at))) } td { (e.actor) } td.hide-narrow { (e.address) } td.mono { (e.action) } td.mono { (e.target) } td { (e.outcome) } }
                } }
            } }
        }
        @if let Some(n) = next { div.pager { a href=(format!("/ui/audit?before={n}")) { "older »" } } }
    };
    html_page(StatusCode::OK, layout(v, "Audit", "audit", body))
}

/// Shows a new API token once (never in a URL).
pub fn new_token(v: &Viewer, secret: &str) -> Resp {
    let body = html! {
        h1 { "New API token" }
        div.notice { "Copy the token now: it is shown only this once." }
        p { code { (secret) } }
        p { a href="/ui/tokens" { "Back to the tokens" } }
    };
    html_page(StatusCode::OK, layout(v, "New token", "tokens", body))
}
