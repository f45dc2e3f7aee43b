//! The dashboard under `/ui/`: server-rendered HTML (maud), one embedded stylesheet, no
//! JavaScript and no CDN. Reading works with any browser; changes are plain HTML forms, each
//! carrying the session's CSRF token, checked for the same roles as the API and recorded in the
//! same audit trail.
//!
//! - [`pages`]: the pages (overview, nodes, node, content, keys, users and tokens, audit).
//! - [`notifications`]: the notification rules and each one's delivery log.
//! - [`actions`]: the form posts (login, logout, assignments, tags, uploads, keys, users,
//!   tokens).
//! - [`form`]: decoding a posted form.
//! - [`sso`]: single sign-on with an OpenID provider.
//! - [`versions`]: a configuration's or package's versions, diff and restore.

mod access;
mod actions;
pub mod form;
mod nodes;
mod notifications;
mod pages;
mod rollout;
mod sources;
mod sso;
mod versions;

use crate::auth::{self, Action, Principal, Via};
use crate::http::{Resp, respond};
use crate::state::{App, Peer};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, LOCATION, SET_COOKIE};
use hyper::{Method, Request, StatusCode};
use maud::{DOCTYPE, Markup, html};
use std::sync::Arc;

const STYLE: &str = include_str!("style.css");

/// The signed-in user and what the page needs to render forms.
pub struct Viewer {
    pub principal: Principal,
    /// The session's CSRF token (empty for Bearer callers, who cannot post forms).
    pub csrf: String,
}

impl Viewer {
    /// Whether the viewer may do `action` (the forms and links shown follow the same policy as
    /// the API).
    pub fn may(&self, action: Action) -> bool {
        action.allowed(self.principal.role)
    }
}

/// Adds the headers every dashboard answer carries.
fn secure(mut r: Resp) -> Resp {
    let h = r.headers_mut();
    h.insert(
        "Content-Security-Policy",
        HeaderValue::from_static("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("Referrer-Policy", HeaderValue::from_static("same-origin"));
    h.insert("X-Frame-Options", HeaderValue::from_static("DENY"));
    r
}

pub fn html_page(status: StatusCode, markup: Markup) -> Resp {
    secure(respond(
        status,
        "text/html; charset=utf-8",
        markup.into_string(),
    ))
}

/// A 303 redirect (after a form post, or to the login page).
pub fn redirect(to: &str) -> Resp {
    let mut r = respond(StatusCode::SEE_OTHER, "text/plain", "");
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    secure(r)
}

pub fn with_cookie(mut r: Resp, cookie: String) -> Resp {
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(SET_COOKIE, v);
    }
    r
}

/// `Name=value` with the flags every traek cookie has (`Secure` when the client reached the
/// server over HTTPS, directly or through a trusted proxy).
pub fn cookie(peer: &Peer, name: &str, value: &str, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if peer.tls {
        c.push_str("; Secure");
    }
    c
}

/// The page frame: header with navigation and the signed-in user.
pub fn layout(v: &Viewer, title: &str, current: &str, body: Markup) -> Markup {
    let link = |href: &str, label: &str, key: &str| {
        html! { a href=(href) class=[(key == current).then_some("current")] { (label) } }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, None))
            body {
                header {
                    a.brand href="/ui/" { "traek" }
                    nav {
                        (link("/ui/", "Overview", "overview"))
                        (link("/ui/nodes", "Nodes", "nodes"))
                        (link("/ui/content", "Content", "content"))
                        (link("/ui/sources", "Git", "sources"))
                        @if v.may(Action::ReadSecrets) { (link("/ui/keys", "Keys", "keys")) (link("/ui/users", "Users", "users")) (link("/ui/notifications", "Notifications", "notifications")) }
                        (link("/ui/tokens", "Tokens", "tokens"))
                        (link("/ui/audit", "Audit", "audit"))
                    }
                    div.who {
                        span { (v.principal.name) " · " (v.principal.role.as_str()) }
                        @if !v.csrf.is_empty() {
                            form.inline method="post" action="/ui/logout" {
                                input type="hidden" name="csrf" value=(v.csrf);
                                button type="submit" { "Log out" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page without navigation (sign-in and its steps): `title`, and `body` in the sign-in
/// box; with `refresh`, the browser moves on to that address at once.
pub fn bare_page(title: &str, refresh: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, refresh))
            body { div.login { (body) } }
        }
    }
}

/// Every page's `head`: its title, the stylesheet, and an optional immediate refresh.
fn head(title: &str, refresh: Option<&str>) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            @if let Some(to) = refresh {
                meta http-equiv="refresh" content=(format!("0; url={to}"));
            }
            title { (title) " · traek" }
            link rel="stylesheet" href="/ui/assets/style.css";
        }
    }
}

/// A message page (errors, refusals).
pub fn message(v: &Viewer, status: StatusCode, text: &str) -> Resp {
    let body = html! {
        h1 { (status.canonical_reason().unwrap_or("Error")) }
        div.error { (text) }
        p { a href="/ui/" { "Back to the overview" } }
    };
    html_page(status, layout(v, "Error", "", body))
}

/// A hidden CSRF field for forms.
pub fn csrf_field(v: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(v.csrf); }
}

/// Answers `/` (to the dashboard) and everything under `/ui/`.
pub async fn handle(app: &Arc<App>, peer: &Peer, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    match (&method, path.as_str()) {
        (&Method::GET, "/") | (&Method::GET, "/ui") => return redirect("/ui/"),
        (&Method::GET, "/ui/assets/style.css") => {
            let mut r = respond(StatusCode::OK, "text/css; charset=utf-8", STYLE);
            r.headers_mut()
                .insert("Cache-Control", HeaderValue::from_static("max-age=3600"));
            return r;
        }
        (&Method::GET, "/ui/login") => return pages::login(app, peer, &req, None).await,
        (&Method::POST, "/ui/login") if !app.config.local_accounts => {
            return pages::login_form(
                app,
                peer,
                None,
                Some("sign-in with a user name and password is switched off: use single sign-on"),
            )
            .await;
        }
        (&Method::POST, "/ui/login") => return actions::login(app, peer, req).await,
        (&Method::GET, "/ui/oidc/login") => return sso::login(app, peer).await,
        (&Method::GET, "/ui/oidc/callback") => return sso::callback(app, peer, &req).await,
        _ => {}
    }
    let principal = match auth::authenticate(app, req.headers()).await {
        Ok(Some(p)) => p,
        Ok(None) => return redirect("/ui/login"),
        Err(e) => return crate::http::storage_error(e),
    };
    let csrf = match &principal.via {
        Via::Session { csrf, .. } => csrf.clone(),
        _ => String::new(),
    };
    let viewer = Viewer { principal, csrf };
    if method == Method::POST {
        return actions::handle(app, peer, &viewer, req, &path).await;
    }
    if method != Method::GET {
        return message(
            &viewer,
            StatusCode::METHOD_NOT_ALLOWED,
            "the dashboard answers GET and form posts",
        );
    }
    pages::handle(app, &viewer, &req, &path).await
}
