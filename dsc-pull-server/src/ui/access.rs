//! Who may do what: the registration keys, users, API tokens and audit pages.

use super::pages::{notice, when};
use super::{Viewer, csrf_field, html_page, layout, message};
use crate::http::{Resp, storage_error};
use crate::state::App;
use dsc_core::pull::policy::token_owner;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use maud::html;

/// The registration keys page: every key with its state, and forms to add and revoke
/// them.
pub(super) async fn keys(app: &App, v: &Viewer, req: &Request<Incoming>) -> Resp {
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

/// The users page: accounts with their roles, and forms to add and remove them.
pub(super) async fn users(app: &App, v: &Viewer, req: &Request<Incoming>) -> Resp {
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

/// The API tokens page: the tokens the viewer may see, and forms to create and revoke
/// them.
pub(super) async fn tokens(app: &App, v: &Viewer, req: &Request<Incoming>) -> Resp {
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

/// The audit page: entries newest first, filtered by the query.
pub(super) async fn audit(app: &App, v: &Viewer, req: &Request<Incoming>) -> Resp {
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
