//! The notification pages: the rules with a form to add one, and each rule's delivery log
//! (deliveries with their state and next retry, and the latest attempts).

use super::form::Form;
use super::pages::{notice, when};
use super::{Viewer, csrf_field, html_page, layout, message};
use crate::http::{Resp, storage_error};
use crate::state::App;
use crate::storage::notifications::LOG_ROWS;
use dsc_core::pull::notify::{Event, NewRule};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use maud::html;

/// The rule a posted form describes (checked by the service like an API request).
pub fn rule_of(form: &Form) -> NewRule {
    NewRule {
        name: form.get("name").trim().to_string(),
        url: form.get("url").trim().to_string(),
        secret: form.get("secret").to_string(),
        events: Event::ALL
            .iter()
            .filter(|e| !form.get(&format!("event.{}", e.as_str())).is_empty())
            .map(|e| e.as_str().to_string())
            .collect(),
        tags: form.list("tags"),
        configurations: form.list("configurations"),
    }
}

fn or_all(items: &[String]) -> String {
    if items.is_empty() {
        "all".to_string()
    } else {
        items.join(", ")
    }
}

fn millis(ms: Option<i64>) -> String {
    when(ms.map(|m| m.div_euclid(1000)))
}

/// `/ui/notifications`: every rule, and the form to add one.
pub async fn list(app: &App, v: &Viewer, req: &Request<Incoming>) -> Resp {
    let rules = match app.storage.notifications().rules().await {
        Ok(r) => r,
        Err(e) => return storage_error(e),
    };
    let body = html! {
        h1 { "Notifications" }
        (notice(req))
        p { "Each rule POSTs matching events as JSON to its URL, signed in "
            code { "X-Traek-Signature: sha256=HMAC" } " with its secret, and retries for a day." }
        form.stack method="post" action="/ui/notifications/add" {
            (csrf_field(v))
            label { "Name" input name="name" required; }
            label { "Receiver URL" input name="url" type="url" required placeholder="https://hooks.example.com/traek"; }
            label { "Secret (16+ characters)" input name="secret" type="password" autocomplete="off" required; }
            fieldset {
                legend { "Events (none checked: all)" }
                @for e in Event::ALL {
                    label.check { input type="checkbox" name=(format!("event.{}", e.as_str())); (e.as_str()) }
                }
            }
            label { "Only nodes tagged (comma-separated; empty: any)" input name="tags"; }
            label { "Only configurations (comma-separated; empty: any)" input name="configurations"; }
            button type="submit" { "Add rule" }
        }
        @if rules.is_empty() {
            div.empty { "No rule yet: nobody is told when a node drifts." }
        } @else {
            div.table { table {
                thead { tr { th { "Name" } th { "URL" } th { "Events" } th { "Tags" } th { "Configurations" } th {} } }
                tbody { @for r in &rules {
                    tr {
                        td { a href=(format!("/ui/notifications/{}", r.name)) { (r.name) } }
                        td.mono { (r.url) }
                        td { (or_all(&r.events.iter().map(|e| e.as_str().to_string()).collect::<Vec<_>>())) }
                        td { (or_all(&r.tags)) } td { (or_all(&r.configurations)) }
                        td { form.inline method="post" action="/ui/notifications/remove" {
                            (csrf_field(v)) input type="hidden" name="name" value=(r.name);
                            button.danger type="submit" { "Remove" }
                        } }
                    }
                } }
            } }
        }
    };
    html_page(
        StatusCode::OK,
        layout(v, "Notifications", "notifications", body),
    )
}

/// `/ui/notifications/{name}`: the rule's deliveries and attempts.
pub async fn detail(app: &App, v: &Viewer, req: &Request<Incoming>, name: &str) -> Resp {
    let n = app.storage.notifications();
    let found = async {
        let Some(rule) = n.rule(name).await? else {
            return Ok(None);
        };
        Ok::<_, crate::storage::StorageError>(Some((
            rule,
            n.deliveries(name, LOG_ROWS).await?,
            n.attempts(name, LOG_ROWS).await?,
        )))
    };
    let (rule, deliveries, attempts) = match found.await {
        Ok(Some(f)) => f,
        Ok(None) => return message(v, StatusCode::NOT_FOUND, "no such notification rule"),
        Err(e) => return storage_error(e),
    };
    let body = html! {
        h1 { "Notification " (rule.name) }
        (notice(req))
        p { "To " code { (rule.url) } }
        h2 { "Deliveries" }
        @if deliveries.is_empty() {
            div.empty { "No event has matched this rule yet." }
        } @else {
            div.table { table {
                thead { tr { th { "Event" } th { "Id" } th { "State" } th { "Attempts" } th { "Last answer" } th { "Next try" } th { "Created" } } }
                tbody { @for d in &deliveries {
                    tr {
                        td { (d.event) } td.mono { (d.id) } td { (d.state) } td { (d.attempts) }
                        td { @if let Some(s) = d.last_status { (s) } @else if let Some(e) = &d.last_error { (e) } }
                        td { @if d.next_ms.is_some() { (millis(d.next_ms)) } }
                        td { (millis(Some(d.created_ms))) }
                    }
                } }
            } }
        }
        h2 { "Latest attempts" }
        div.table { table {
            thead { tr { th { "When" } th { "Event id" } th { "Status" } th { "Error" } } }
            tbody { @for a in &attempts {
                tr {
                    td { (millis(Some(a.at_ms))) } td.mono { (a.event_id) }
                    td { @if let Some(s) = a.status { (s) } @else { "no answer" } }
                    td { (a.error.clone().unwrap_or_default()) }
                }
            } }
        } }
        p { a href="/ui/notifications" { "All rules" } }
    };
    html_page(
        StatusCode::OK,
        layout(v, "Notification", "notifications", body),
    )
}
