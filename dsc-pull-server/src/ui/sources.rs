//! The Git sources page: each source with its last commit, when it last looked and its last
//! error; admins add and remove sources, operators ask for a look now.

use super::form::Form;
use super::pages::{notice, when};
use super::{Viewer, csrf_field, html_page, layout};
use crate::auth::Action;
use crate::http::{Resp, storage_error};
use crate::state::App;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use maud::html;
use serde_json::json;

/// The JSON body a posted form describes (checked like an API request).
pub fn body_of(form: &Form) -> Vec<u8> {
    let opt = |k: &str| Some(form.get(k).trim().to_string()).filter(|v| !v.is_empty());
    let mut body = json!({ "url": form.get("url").trim() });
    for (field, key) in [
        ("branch", "branch"),
        ("path", "path"),
        ("interval", "interval"),
        ("token", "token"),
    ] {
        if let Some(v) = opt(key) {
            body[field] = json!(v);
        }
    }
    body["deleteRemoved"] = json!(form.get("delete_removed") == "true");
    body.to_string().into_bytes()
}

/// `/ui/sources`.
pub async fn list(app: &App, v: &Viewer, req: &Request<Incoming>) -> Resp {
    let sources = match app.storage.sources().list().await {
        Ok(s) => s,
        Err(e) => return storage_error(e),
    };
    let body = html! {
        h1 { "Git sources" }
        (notice(req))
        p { "traek publishes every " code { "*.mof" } " (checked against " code { "*.mof.checksum" }
            " when present), " code { "*.dscpkg" } " and " code { "NAME_VERSION.zip" }
            " module under a source's folder, one version per changed file per commit. A commit with a bad file publishes nothing." }
        @if sources.is_empty() { div.empty { "No source. Add one below, or start traek-server with --content-git URL." } }
        @else { div.table { table {
            thead { tr { th { "Name" } th { "Repository" } th { "Branch / folder" } th { "Every" } th { "Last commit" } th { "Looked" } th { "Error" } th {} } }
            tbody { @for s in &sources {
                tr {
                    td { (s.name) }
                    td.mono { (s.source.url) }
                    td { (s.source.branch) " / " (s.source.path) }
                    td { (s.source.interval_secs) " s" }
                    td.mono { (s.last_commit.as_deref().and_then(|c| c.get(..12)).unwrap_or("none yet"))
                        @if let Some(a) = &s.last_author { br; span { (a) } } }
                    td { (when(s.last_checked_at)) }
                    td.source-error { (s.last_error.clone().unwrap_or_default()) }
                    td {
                        @if v.may(Action::SourceSync) {
                            form.inline method="post" action="/ui/sources/sync" {
                                (csrf_field(v))
                                input type="hidden" name="name" value=(s.name);
                                button type="submit" { "Look now" }
                            }
                        }
                        @if v.may(Action::SourceRemove) {
                            form.inline method="post" action="/ui/sources/remove" {
                                (csrf_field(v))
                                input type="hidden" name="name" value=(s.name);
                                button type="submit" { "Remove" }
                            }
                        }
                    }
                }
            } }
        } } }
        @if v.may(Action::SourcePut) {
            h2 { "Add or change a source" }
            form.stack method="post" action="/ui/sources/put" {
                (csrf_field(v))
                label { "Name" input name="name" required; }
                label { "Repository URL" input name="url" required placeholder="https://git.example.com/ops/dsc.git"; }
                label { "Branch" input name="branch" placeholder="main"; }
                label { "Folder" input name="path" placeholder="(the whole repository)"; }
                label { "Interval" input name="interval" placeholder="1m"; }
                label { "Token (HTTPS; left empty: keep the one set)" input name="token" type="password" autocomplete="off"; }
                label.check { input type="checkbox" name="delete_removed" value="true"; " delete content whose file is removed from Git" }
                button type="submit" { "Save source" }
            }
        }
    };
    html_page(StatusCode::OK, layout(v, "Git sources", "sources", body))
}
