//! The dashboard's form posts. Each checks the form's CSRF token against the session, the
//! role the same change needs in the API, performs it through the same code as the API,
//! records it in the audit trail, and redirects back with a message (or shows the error).

use super::form::Form;
use super::pages::LOGIN_COOKIE;
use super::{Viewer, cookie, message, redirect, with_cookie};
use crate::auth::{self, Action, SESSION_COOKIE, Via};
use crate::http::{Resp, constant_time_eq, read_body, storage_error};
use crate::state::{App, Peer};
use crate::storage::ContentKey;
use crate::storage::accounts::Session;
use dsc_core::pull::signin;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};

/// The largest form other than a content upload (sign-in, tags, users, tokens, keys).
pub const FORM_LIMIT: usize = 16 * 1024;

/// Reads an `application/x-www-form-urlencoded` or `multipart/form-data` body of at most
/// `limit` bytes.
async fn read_form(app: &App, req: Request<Incoming>, limit: usize) -> Result<Form, String> {
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = read_body(req.into_body(), limit, app.config.read_timeout)
        .await
        .map_err(|_| format!("the form could not be read (at most {limit} bytes)"))?;
    Form::parse(&content_type, body).await
}

/// The message of an API answer (its `error` member), for showing on a page.
async fn answer_text(resp: Resp) -> (bool, String) {
    let ok = resp.status().is_success();
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let text = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| status.to_string());
    (ok, text)
}

fn back(to: &str, msg: &str) -> Resp {
    let sep = if to.contains('?') { '&' } else { '?' };
    let msg = percent_encoding::utf8_percent_encode(msg, percent_encoding::NON_ALPHANUMERIC);
    redirect(&format!("{to}{sep}msg={msg}"))
}

/// `POST /ui/login`: checks the login CSRF cookie, the delay after failed attempts and the
/// password; starts a session.
pub async fn login(app: &App, peer: &Peer, req: Request<Incoming>) -> Resp {
    let expected = req
        .headers()
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == LOGIN_COOKIE)
        .map(|(_, v)| v.to_string());
    let form = match read_form(app, req, FORM_LIMIT).await {
        Ok(f) => f,
        Err(e) => return super::html_page(StatusCode::BAD_REQUEST, maud::html! { p { (e) } }),
    };
    let csrf_ok =
        expected.is_some_and(|e| constant_time_eq(e.as_bytes(), form.get("csrf").as_bytes()));
    if !csrf_ok {
        return login_again(peer, "the sign-in form expired; try again").await;
    }
    let name = form.get("name").trim().to_string();
    if crate::admin::check_user_name(&name).is_err() {
        // No account can have this name: do the same work as for a wrong password, record
        // nothing (the name is the caller's text, of any length).
        auth::verify_password_off_thread(form.get("password").to_string(), None).await;
        return login_again(peer, "wrong user name or password").await;
    }
    let accounts = app.storage.accounts();
    let now = crate::storage::now_unix();
    // One claim per address (any name), then one per name (any address).
    let addr_key = format!(
        "addr:{}",
        peer.addr.map(|a| a.ip().to_string()).unwrap_or_default()
    );
    let name_key = format!("name:{}", name.to_lowercase());
    for (key, throttle) in [
        (&addr_key, signin::PER_ADDRESS),
        (&name_key, signin::PER_NAME),
    ] {
        match accounts.claim_attempt(key, throttle, now).await {
            Ok(None) => {}
            Ok(Some(wait)) => {
                auth::audit(
                    app,
                    &name,
                    peer,
                    "login",
                    &name,
                    "refused: too many failed attempts",
                )
                .await;
                return login_again(peer, &format!("too many failed sign-ins: wait {wait} s"))
                    .await;
            }
            Err(e) => return storage_error(e),
        }
    }
    let user = match accounts.user(&name).await {
        Ok(u) => u,
        Err(e) => return storage_error(e),
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let valid = auth::verify_password_off_thread(form.get("password").to_string(), hash).await;
    let Some(user) = user.filter(|_| valid) else {
        let end = crate::storage::now_unix();
        if let Err(e) = accounts.attempt_failed(&[&addr_key, &name_key], end).await {
            return storage_error(e);
        }
        auth::audit(app, &name, peer, "login", &name, "failed").await;
        return login_again(peer, "wrong user name or password").await;
    };
    let secret = auth::secret();
    let session = Session {
        id_hash: auth::digest(&secret),
        user: user.name.clone(),
        csrf: auth::secret(),
        expires_at: now + auth::SESSION_TTL.as_secs() as i64,
    };
    if let Err(e) = accounts.add_session(&session, now).await {
        return storage_error(e);
    }
    let _ = accounts.attempt_succeeded(&name_key, &addr_key).await;
    auth::audit(app, &user.name, peer, "login", &user.name, "ok").await;
    let resp = with_cookie(
        redirect("/ui/"),
        cookie(
            peer,
            SESSION_COOKIE,
            &secret,
            Some(auth::SESSION_TTL.as_secs()),
        ),
    );
    with_cookie(resp, cookie(peer, LOGIN_COOKIE, "", Some(0)))
}

async fn login_again(peer: &Peer, why: &str) -> Resp {
    super::pages::login_form(peer, None, Some(why))
}

/// Every other form post: CSRF, role, the change, the audit entry.
pub async fn handle(
    app: &App,
    peer: &Peer,
    v: &Viewer,
    req: Request<Incoming>,
    path: &str,
) -> Resp {
    // Only an upload may be large, and only for a caller who may upload.
    let upload = path == "/ui/content/upload";
    if upload && !Action::ContentPut.allowed(v.principal.role) {
        return message(
            v,
            StatusCode::FORBIDDEN,
            "uploading content needs the operator role",
        );
    }
    let limit = if upload {
        app.config.max_upload_bytes
    } else {
        FORM_LIMIT
    };
    let form = match read_form(app, req, limit).await {
        Ok(f) => f,
        Err(e) => return message(v, StatusCode::BAD_REQUEST, &e),
    };
    let session = match &v.principal.via {
        Via::Session { id_hash, csrf } => Some((id_hash.clone(), csrf.clone())),
        _ => None,
    };
    let csrf_ok = session
        .as_ref()
        .is_some_and(|(_, c)| constant_time_eq(c.as_bytes(), form.get("csrf").as_bytes()));
    if !csrf_ok {
        auth::audit(
            app,
            &v.principal.actor(),
            peer,
            "ui.post",
            path,
            "refused: bad CSRF token",
        )
        .await;
        return message(
            v,
            StatusCode::FORBIDDEN,
            "the form's CSRF token does not match your session; reload the page and try again",
        );
    }
    let rest: Vec<&str> = path.trim_start_matches("/ui/").split('/').collect();
    if rest == ["logout"] {
        if let Some((id_hash, _)) = &session {
            let _ = app.storage.accounts().remove_session(id_hash).await;
        }
        auth::audit(
            app,
            &v.principal.actor(),
            peer,
            "logout",
            &v.principal.name,
            "ok",
        )
        .await;
        return with_cookie(
            redirect("/ui/login"),
            cookie(peer, SESSION_COOKIE, "", Some(0)),
        );
    }
    let Some((action, target, back_to)) = form_action(&rest, &form) else {
        return message(v, StatusCode::NOT_FOUND, "no such form");
    };
    let audit_name = action.audit_name().unwrap_or("ui.post");
    if let Some(refused) = auth::require(&v.principal, action.role()) {
        auth::audit(
            app,
            &v.principal.actor(),
            peer,
            audit_name,
            &target,
            &auth::outcome(&refused),
        )
        .await;
        let (_, text) = answer_text(refused).await;
        return message(v, StatusCode::FORBIDDEN, &text);
    }
    let (resp, shown, target) = perform(app, v, &rest, &form, target).await;
    auth::audit(
        app,
        &v.principal.actor(),
        peer,
        audit_name,
        &target,
        &auth::outcome(&resp),
    )
    .await;
    if rest == ["tokens", "create"] && resp.status().is_success() {
        return super::pages::new_token(v, &token_secret(resp).await);
    }
    let (ok, text) = answer_text(resp).await;
    if ok {
        back(&back_to, &shown.unwrap_or_else(|| "done".into()))
    } else {
        message(v, StatusCode::BAD_REQUEST, &text)
    }
}

/// The action a form is, its audit target, and the page to go back to.
fn form_action(rest: &[&str], form: &Form) -> Option<(Action, String, String)> {
    let node = |id: &str| format!("/ui/nodes/{id}");
    Some(match rest {
        ["nodes", id, "assign"] => (Action::NodeAssign, id.to_string(), node(id)),
        ["nodes", id, "tags"] => (Action::NodeTags, id.to_string(), node(id)),
        ["content", "upload"] => (
            Action::ContentPut,
            content_target(form),
            "/ui/content".into(),
        ),
        ["content", "delete"] => (
            Action::ContentDelete,
            content_target(form),
            "/ui/content".into(),
        ),
        ["keys", "add"] => (Action::KeyAdd, String::new(), "/ui/keys".into()),
        ["keys", "revoke"] => (
            Action::KeyRevoke,
            dsc_core::pull::auth::public_key_id(form.get("id")),
            "/ui/keys".into(),
        ),
        ["users", "add"] => (Action::UserAdd, form.get("name").into(), "/ui/users".into()),
        ["users", "remove"] => (
            Action::UserRemove,
            form.get("name").into(),
            "/ui/users".into(),
        ),
        ["tokens", "create"] => (
            Action::TokenCreate,
            form.get("name").into(),
            "/ui/tokens".into(),
        ),
        ["tokens", "revoke"] => (
            Action::TokenRevoke,
            form.get("id").into(),
            "/ui/tokens".into(),
        ),
        _ => return None,
    })
}

fn content_target(form: &Form) -> String {
    match form.get("kind") {
        "module" => format!("module {} {}", form.get("name"), form.get("version")),
        kind => format!("{kind} {}", form.get("name")),
    }
}

fn content_key(form: &Form) -> Result<ContentKey, String> {
    let name = form.get("name").trim().to_string();
    dsc_core::pull::path::check_name("name", &name).map_err(|e| e.to_string())?;
    Ok(match form.get("kind") {
        "configuration" => ContentKey::Configuration { name },
        "package" => ContentKey::Package { name },
        "module" => {
            let version = form.get("version").trim().to_string();
            dsc_core::pull::path::check_module_version(&version).map_err(|e| e.to_string())?;
            if version.is_empty() {
                return Err("a module needs a version".into());
            }
            ContentKey::Module { name, version }
        }
        other => return Err(format!("unknown kind '{other}'")),
    })
}

fn bad(text: impl std::fmt::Display) -> Resp {
    crate::http::error(StatusCode::BAD_REQUEST, text)
}

/// Performs a change: the answer, a message to show on success, the audit target.
async fn perform(
    app: &App,
    v: &Viewer,
    rest: &[&str],
    form: &Form,
    target: String,
) -> (Resp, Option<String>, String) {
    let agent =
        |id: &str| dsc_core::pull::path::parse_guid("agent id", id).map_err(|e| e.to_string());
    match rest {
        ["nodes", id, "assign"] => {
            let names = form.list("names");
            let checked = agent(id).and_then(|a| {
                for n in &names {
                    dsc_core::pull::path::check_name("configuration name", n)
                        .map_err(|e| e.to_string())?;
                }
                Ok(a)
            });
            let resp = match checked {
                Err(e) => bad(e),
                Ok(a) => match app
                    .storage
                    .assign(a, (!names.is_empty()).then_some(names.clone()))
                    .await
                {
                    Ok(true) => crate::http::empty(StatusCode::NO_CONTENT),
                    Ok(false) => crate::http::error(StatusCode::NOT_FOUND, "no such node"),
                    Err(e) => storage_error(e),
                },
            };
            (resp, Some("assignment saved".into()), target)
        }
        ["nodes", id, "tags"] => {
            let tags = form.list("tags");
            let checked = agent(id).and_then(|a| {
                for t in &tags {
                    crate::admin::check_tag(t)?;
                }
                Ok(a)
            });
            let resp = match checked {
                Err(e) => bad(e),
                Ok(a) => match app.storage.set_tags(a, tags).await {
                    Ok(true) => crate::http::empty(StatusCode::NO_CONTENT),
                    Ok(false) => crate::http::error(StatusCode::NOT_FOUND, "no such node"),
                    Err(e) => storage_error(e),
                },
            };
            (resp, Some("tags saved".into()), target)
        }
        ["content", "upload"] => {
            let resp = match (content_key(form), form.file.clone()) {
                (Err(e), _) => bad(e),
                (_, None) => bad("choose a file to upload"),
                (Ok(key), Some(bytes)) => crate::admin::store_content(app, key, bytes).await,
            };
            (resp, Some(format!("uploaded {target}")), target)
        }
        ["content", "delete"] => {
            let resp = match content_key(form) {
                Err(e) => bad(e),
                Ok(key) => crate::admin::delete_content(app, key).await,
            };
            (resp, Some(format!("deleted {target}")), target)
        }
        ["keys", "add"] => {
            let key = match form.get("key").trim() {
                "" => uuid::Uuid::new_v4().to_string(),
                k if k.contains('#') || k.contains('\n') => {
                    return (bad("a key has no '#' and no line break"), None, target);
                }
                k => k.to_string(),
            };
            let id = dsc_core::pull::auth::key_id(&key);
            let resp = match app.keys.add(app.storage.as_ref(), &key, "ui").await {
                Ok(true) => crate::http::empty(StatusCode::NO_CONTENT),
                Ok(false) => crate::http::error(StatusCode::CONFLICT, "that key is already active"),
                Err(e) => crate::http::error(StatusCode::INTERNAL_SERVER_ERROR, e),
            };
            (resp, Some(format!("added key {id}")), id)
        }
        ["keys", "revoke"] => {
            let resp = match app.keys.revoke(app.storage.as_ref(), form.get("id")).await {
                Ok(true) => crate::http::empty(StatusCode::NO_CONTENT),
                Ok(false) => crate::http::error(StatusCode::NOT_FOUND, "no such active key"),
                Err(e) => crate::http::error(StatusCode::INTERNAL_SERVER_ERROR, e),
            };
            (resp, Some(format!("revoked key {target}")), target)
        }
        ["users", "add"] => {
            let resp = crate::admin::create_user(
                app,
                form.get("name").trim(),
                form.get("role"),
                form.get("password"),
            )
            .await;
            (resp, Some(format!("added user {target}")), target)
        }
        ["users", "remove"] => {
            let resp = crate::admin::remove_user(app, form.get("name")).await;
            (resp, Some(format!("removed user {target}")), target)
        }
        ["tokens", "create"] => {
            let days = form.get("days").trim();
            let expires = match days {
                "" => None,
                d => match d.parse::<i64>() {
                    Ok(n) if n > 0 => Some(crate::storage::now_unix() + n * 86_400),
                    _ => return (bad("expiry must be a whole number of days"), None, target),
                },
            };
            let name = form.get("name").trim();
            if name.is_empty() {
                return (bad("a token needs a name"), None, target);
            }
            let (resp, audit_target) =
                crate::admin::issue_token(app, &v.principal, name, expires).await;
            (resp, None, audit_target.unwrap_or(target))
        }
        ["tokens", "revoke"] => {
            let resp = crate::admin::revoke_token(app, &v.principal, form.get("id")).await;
            (resp, Some(format!("revoked token {target}")), target)
        }
        _ => (
            crate::http::error(StatusCode::NOT_FOUND, "no such form"),
            None,
            target,
        ),
    }
}

/// The new token's secret from an `issue_token` answer.
async fn token_secret(resp: Resp) -> String {
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("token").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_default()
}
