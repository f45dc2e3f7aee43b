//! The rollout section of a configuration's or package's page (its plan, where the candidate
//! stands, each ring's nodes and statuses, why it halted, the operator's buttons and the plan
//! form) and the versions a node was given, on its page.

use super::pages::when;
use super::{Viewer, csrf_field};
use crate::auth::Action;
use crate::state::App;
use crate::storage::ContentKey;
use maud::{Markup, html};
use serde_json::Value;

/// The plan a configuration without one is offered.
const EXAMPLE_PLAN: &str = r#"{"rings": [{"tag": "canary"}, {"percent": 10}, {"percent": 100}], "soak": "15m", "maxFailedPercent": 5, "minReportedPercent": 80}"#;

fn text(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn move_button(v: &Viewer, kind: &str, name: &str, mv: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(format!("/ui/content/rollout/{mv}")) {
            (csrf_field(v))
            input type="hidden" name="kind" value=(kind);
            input type="hidden" name="name" value=(name);
            button type="submit" { (label) }
        }
    }
}

fn rings_table(status: &Value) -> Markup {
    let empty = Vec::new();
    let rings = status["rings"].as_array().unwrap_or(&empty);
    html! {
        div.table { table {
            thead { tr { th { "Ring" } th { "Selects" } th { "Gets the candidate" } th { "Nodes" } th { "Downloaded it" } th { "Reported it" } th { "Failed or not compliant" } } }
            tbody { @for r in rings {
                tr {
                    td { (text(r, "ring")) }
                    td { (text(r, "selects")) }
                    td { @if r["reached"] == true { "yes" } @else { "not yet" } }
                    td { (text(r, "nodes")) }
                    td { (text(r, "onCandidate")) }
                    td { (text(r, "reported")) }
                    td { (text(r, "failed")) }
                }
            } }
        } }
    }
}

/// The rollout section; nothing for modules.
pub async fn section(app: &App, v: &Viewer, kind: &str, name: &str) -> Markup {
    let key = match kind {
        "package" => ContentKey::Package { name: name.into() },
        _ => ContentKey::Configuration { name: name.into() },
    };
    let status = crate::rollout::status(app, &key).await.ok();
    let state = status
        .as_ref()
        .map(|s| text(s, "state"))
        .unwrap_or_default();
    let live = matches!(state.as_str(), "active" | "halted");
    let plan = status
        .as_ref()
        .map(|s| s["plan"].to_string())
        .unwrap_or_else(|| EXAMPLE_PLAN.to_string());
    html! {
        h2 { "Rollout" }
        @match &status {
            None => p { "No rollout plan. Set one below, then publish a new version as a candidate (the upload form's “candidate” box, or " code { "PUT …?candidate=true" } ")." },
            Some(s) => {
                dl.kv {
                    dt { "State" } dd.rollout-state { (state) }
                    @if s["candidate"].is_object() {
                        dt { "Candidate" } dd { "version " (text(&s["candidate"], "version")) }
                        dt { "Ring" } dd { (text(s, "ring")) " of " (s["plan"]["rings"].as_array().map_or(0, Vec::len)) }
                        dt { "Started" } dd { (when(s["startedAt"].as_i64())) }
                        dt { "Reason" } dd.rollout-reason { (text(s, "reason")) }
                    }
                }
                @if s["rings"].is_array() { (rings_table(s)) }
            }
        }
        @if live && v.may(Action::RolloutPromote) {
            p {
                (move_button(v, kind, name, "promote", "Promote to the next ring"))
                @if state == "halted" { " " (move_button(v, kind, name, "resume", "Resume")) }
                " " (move_button(v, kind, name, "abort", "Abort (everyone back to the current version)"))
            }
        }
        @if !live && v.may(Action::RolloutPlan) {
            form method="post" action="/ui/content/rollout/plan" {
                (csrf_field(v))
                input type="hidden" name="kind" value=(kind);
                input type="hidden" name="name" value=(name);
                label { "Plan (JSON: rings by tag or cumulative percent, soak, maxFailedPercent, minReportedPercent)"
                    textarea name="plan" rows="4" cols="100" { (plan) } }
                button type="submit" { "Save plan" }
            }
        }
    }
}

/// What a node was given, by name (as the node gets it, from `names`): version number (when
/// still kept), checksum, when.
pub async fn given(app: &App, agent: uuid::Uuid, names: &[String]) -> Markup {
    let Ok(given) = app.storage.rollouts().given(agent).await else {
        return html! { "unknown (storage unavailable)" };
    };
    let mut rows = Vec::new();
    for (kind, name_key, checksum, at) in given {
        let name_key = names
            .iter()
            .find(|n| n.to_lowercase() == name_key)
            .cloned()
            .unwrap_or(name_key);
        let key = if kind == "package" {
            ContentKey::Package { name: name_key }
        } else {
            ContentKey::Configuration { name: name_key }
        };
        let version = app
            .storage
            .versions()
            .list(&key, None, 100)
            .await
            .ok()
            .and_then(|l| l.into_iter().find(|v| v.checksum == checksum))
            .map(|v| format!("version {}", v.version));
        let name = match &key {
            ContentKey::Package { name } | ContentKey::Configuration { name } => name.clone(),
            ContentKey::Module { name, .. } => name.clone(),
        };
        rows.push((name, version, checksum, at));
    }
    html! {
        @if rows.is_empty() { "nothing downloaded yet" }
        @for (name, version, checksum, at) in &rows {
            div {
                (name) ": " (version.clone().unwrap_or_else(|| "a version no longer kept".into()))
                " (" span.mono { (checksum.get(..16).unwrap_or(checksum)) "…" } "), " (when(Some(*at)))
            }
        }
    }
}
