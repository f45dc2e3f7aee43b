//! The dashboard's pages: routing a page request, sign-in, the overview and content pages, and
//! the helpers the other pages share (query parameters, times, status badges, notices).

use super::access::{audit, keys, tokens, users};
use super::nodes::{node, nodes};
use super::{Viewer, csrf_field, html_page, layout, message};
use crate::auth::Action;
use crate::http::{Resp, query_params, storage_error};
use crate::state::App;
use crate::storage::{ContentKind, Summary};
use dsc_core::pull::compliance::ComplianceStatus;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use maud::{Markup, html};
use std::sync::Arc;

/// A query parameter.
pub(super) fn param(req: &Request<Incoming>, name: &str) -> Option<String> {
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

pub(super) fn badge(status: ComplianceStatus) -> Markup {
    html! { span class=(format!("status s-{}", status.as_str())) { (status.as_str()) } }
}

/// A notice from a redirect (`?msg=`).
pub(super) fn notice(req: &Request<Incoming>) -> Markup {
    html! { @if let Some(m) = param(req, "msg") { div.notice { (m) } } }
}

/// Answers a dashboard page for a signed-in viewer.
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

/// The overview's chart: nodes by compliance status, as a bar per day.
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

/// The overview page: nodes by status, status over time, configurations, and the
/// resources failing on most nodes.
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

/// The content page: configurations, packages and modules, and the upload form.
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
