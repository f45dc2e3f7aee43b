//! A configuration's or package's page: its versions (who, when, where from, the message),
//! a restore button on each earlier one, and a text diff between two MOF versions.

use super::pages::{notice, when};
use super::{Viewer, csrf_field, html_page, layout, message};
use crate::auth::Action;
use crate::http::{Resp, query_params};
use crate::state::App;
use crate::storage::ContentKey;
use crate::storage::versions::Version;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use maud::{Markup, html};

/// The largest version the diff reads.
const DIFF_LIMIT: u64 = 2 * 1024 * 1024;

/// A version's bytes as text: UTF-16 (with its byte-order mark, as Windows writes MOFs) or
/// UTF-8.
pub fn as_text(bytes: &[u8]) -> String {
    let (text, _, _) = match bytes {
        [0xFF, 0xFE, ..] => encoding_rs::UTF_16LE.decode(bytes),
        [0xFE, 0xFF, ..] => encoding_rs::UTF_16BE.decode(bytes),
        _ => encoding_rs::UTF_8.decode(bytes),
    };
    text.into_owned()
}

async fn version_text(app: &App, v: &Version) -> Result<String, String> {
    if u64::try_from(v.size).unwrap_or(u64::MAX) > DIFF_LIMIT {
        return Err(format!(
            "version {} is too large to compare here",
            v.version
        ));
    }
    let meta = crate::storage::blobs::meta_of(&v.checksum, v.size, v.created_at);
    crate::storage::blobs::fetch(app.storage.blob_store(), meta)
        .await
        .map(|(_, bytes)| as_text(&bytes))
        .map_err(|e| e.to_string())
}

/// The lines that differ between two texts, with three lines of context around each change.
fn diff(old: &str, new: &str) -> Markup {
    let diff = similar::TextDiff::from_lines(old, new);
    html! {
        pre.diff { @for group in diff.grouped_ops(3) {
            span.hunk { "@@\n" }
            @for op in group { @for change in diff.iter_changes(&op) {
                @match change.tag() {
                    similar::ChangeTag::Delete => span.del { "-" (change) },
                    similar::ChangeTag::Insert => span.ins { "+" (change) },
                    similar::ChangeTag::Equal => span { " " (change) },
                }
            } }
        } }
    }
}

/// `/ui/content/{configuration|package}/{name}`, with `?from=A&to=B` for a diff.
pub async fn page(app: &App, v: &Viewer, req: &Request<Incoming>, kind: &str, name: &str) -> Resp {
    let key = match kind {
        "package" => ContentKey::Package { name: name.into() },
        _ => ContentKey::Configuration { name: name.into() },
    };
    let versions = match crate::service::versions(app, &key).await {
        Ok(list) => list,
        Err(e) => return message(v, e.status(), &e.message()),
    };
    let query = query_params(req.uri().query());
    let number = |k: &str| {
        query
            .iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, x)| x.parse::<i64>().ok())
    };
    let pick = |n: Option<i64>| n.and_then(|n| versions.iter().find(|x| x.version == n));
    let compared = match (pick(number("from")), pick(number("to"))) {
        (Some(a), Some(b)) if kind == "configuration" && v.may(Action::ReadConfiguration) => {
            match (version_text(app, a).await, version_text(app, b).await) {
                (Ok(old), Ok(new)) => Some(Ok((a.version, b.version, diff(&old, &new)))),
                (Err(e), _) | (_, Err(e)) => Some(Err(e)),
            }
        }
        _ => None,
    };
    let rollout = super::rollout::section(app, v, kind, name).await;
    let body = html! {
        h1 { (kind) " " (name) }
        (notice(req))
        @match &compared {
            Some(Ok((a, b, d))) => { h2 { "Version " (a) " → version " (b) } (d) },
            Some(Err(e)) => div.error { (e) },
            None => {},
        }
        (rollout)
        h2 { "Versions" }
        (versions_table(v, kind, name, &versions))
        p { a href="/ui/content" { "All content" } }
    };
    html_page(StatusCode::OK, layout(v, name, "content", body))
}

fn versions_table(v: &Viewer, kind: &str, name: &str, versions: &[Version]) -> Markup {
    let newest = versions.first().map(|x| x.version);
    let compare = kind == "configuration" && v.may(Action::ReadConfiguration);
    html! {
        div.table { table {
            thead { tr { th { "Version" } th { "Checksum" } th { "Size" } th { "When" } th { "Who" } th { "From" } th { "Message" } th {} } }
            tbody { @for x in versions {
                tr {
                    td { (x.version) @if x.current { " (current)" } @if x.candidate { " (candidate)" } }
                    td.mono { (x.checksum.get(..16).unwrap_or(&x.checksum)) "…" }
                    td { (x.size) } td { (when(Some(x.created_at))) } td { (x.actor) } td { (x.origin) }
                    td { (x.message.clone().unwrap_or_default()) }
                    td {
                        @if compare && Some(x.version) != newest {
                            @if let Some(n) = newest {
                                a href=(format!("/ui/content/{kind}/{name}?from={}&to={n}", x.version)) { "diff to newest" } " "
                            }
                        }
                        @if !x.current && v.may(Action::ContentRestore) {
                            form.inline method="post" action="/ui/content/restore" {
                                (csrf_field(v))
                                input type="hidden" name="kind" value=(kind);
                                input type="hidden" name="name" value=(name);
                                input type="hidden" name="version" value=(x.version);
                                button type="submit" { "Restore" }
                            }
                        }
                    }
                }
            } }
        } }
    }
}
