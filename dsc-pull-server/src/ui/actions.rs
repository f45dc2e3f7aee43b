//! The dashboard's form posts. Each checks the form's CSRF token against the session, the
//! role the same change needs in the API, performs it through the same code as the API,
//! records it in the audit trail, and redirects back with a message (or shows the error).

use super::form::Form;
use super::pages::LOGIN_COOKIE;
use super::{Viewer, cookie, message, redirect, with_cookie};
use crate::auth::{self, Action, SESSION_COOKIE, Via};
use crate::http::{Resp, constant_time_eq, read_body, storage_error};
use crate::service::{self, ServiceError, ServiceResult, TokenCreated};
use crate::state::{App, Peer};
use crate::storage::ContentKey;
use crate::storage::accounts::Session;
use dsc_core::pull::api::NewKey;
use dsc_core::pull::signin;
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

fn back(to: &str, msg: &str) -> Resp {
    let sep = if to.contains('?') { '&' } else { '?' };
    let msg = percent_encoding::utf8_percent_encode(msg, percent_encoding::NON_ALPHANUMERIC);
    redirect(&format!("{to}{sep}msg={msg}"))
}

/// `POST /ui/login`: checks the login CSRF cookie, the delay after failed attempts and the
/// password; starts a session.
pub async fn login(app: &App, peer: &Peer, req: Request<Incoming>) -> Resp {
    let expected = auth::cookie(req.headers(), LOGIN_COOKIE);
    let form = match read_form(app, req, FORM_LIMIT).await {
        Ok(f) => f,
        Err(e) => return super::html_page(StatusCode::BAD_REQUEST, maud::html! { p { (e) } }),
    };
    let csrf_ok =
        expected.is_some_and(|e| constant_time_eq(e.as_bytes(), form.get("csrf").as_bytes()));
    if !csrf_ok {
        return login_again(app, peer, "the sign-in form expired; try again").await;
    }
    let name = form.get("name").trim().to_string();
    if dsc_core::pull::policy::check_user_name(&name).is_err() {
        // No account can have this name: do the same work as for a wrong password, record
        // nothing (the name is the caller's text, of any length).
        auth::verify_password_off_thread(form.get("password").to_string(), None).await;
        return login_again(app, peer, "wrong user name or password").await;
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
                return login_again(
                    app,
                    peer,
                    &format!("too many failed sign-ins: wait {wait} s"),
                )
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
        return login_again(app, peer, "wrong user name or password").await;
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

async fn login_again(app: &App, peer: &Peer, why: &str) -> Resp {
    super::pages::login_form(app, peer, None, Some(why)).await
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
        let to = super::sso::after_logout(app, &v.principal.name).await;
        return with_cookie(to, cookie(peer, SESSION_COOKIE, "", Some(0)));
    }
    let Some((action, target, back_to)) = form_action(&rest, &form) else {
        return message(v, StatusCode::NOT_FOUND, "no such form");
    };
    let audit_name = action.audit_name().unwrap_or("ui.post");
    let actor = v.principal.actor();
    if let Some(refused) = auth::refusal(&v.principal, action.role()) {
        let outcome = ServiceError::Forbidden(String::new()).outcome();
        auth::audit(app, &actor, peer, audit_name, &target, &outcome).await;
        return message(v, StatusCode::FORBIDDEN, &refused);
    }
    let result = perform(app, v, &rest, &form).await;
    let (outcome, target) = match &result {
        Ok(done) => ("ok".to_string(), done.target.clone().unwrap_or(target)),
        Err(e) => (e.outcome(), target),
    };
    auth::audit(app, &actor, peer, audit_name, &target, &outcome).await;
    match result {
        Ok(Done {
            token: Some(created),
            ..
        }) => super::access::new_token(v, &created.token),
        Ok(done) => back(&back_to, &done.shown),
        Err(e) => message(v, e.status(), &e.message()),
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
        ["content", "rollout", mv] => (
            match *mv {
                "plan" => Action::RolloutPlan,
                "promote" => Action::RolloutPromote,
                "resume" => Action::RolloutResume,
                "abort" => Action::RolloutAbort,
                _ => return None,
            },
            content_target(form),
            format!("/ui/content/{}/{}", form.get("kind"), form.get("name")),
        ),
        ["content", "restore"] => (
            Action::ContentRestore,
            format!("{} version {}", content_target(form), form.get("version")),
            format!("/ui/content/{}/{}", form.get("kind"), form.get("name")),
        ),
        ["sources", "put"] => (
            Action::SourcePut,
            form.get("name").into(),
            "/ui/sources".into(),
        ),
        ["sources", "remove"] => (
            Action::SourceRemove,
            form.get("name").into(),
            "/ui/sources".into(),
        ),
        ["sources", "sync"] => (
            Action::SourceSync,
            form.get("name").into(),
            "/ui/sources".into(),
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
        ["notifications", "add"] => (
            Action::NotificationAdd,
            form.get("name").into(),
            "/ui/notifications".into(),
        ),
        ["notifications", "remove"] => (
            Action::NotificationRemove,
            form.get("name").into(),
            "/ui/notifications".into(),
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

/// What a form changed: the message shown after it, the audit target when only the change
/// knows it (a new key's id, a new token's id), and a new token to show once.
struct Done {
    shown: String,
    target: Option<String>,
    token: Option<TokenCreated>,
}

impl Done {
    fn shown(text: impl Into<String>) -> Self {
        Done {
            shown: text.into(),
            target: None,
            token: None,
        }
    }
}

fn agent(id: &str) -> ServiceResult<uuid::Uuid> {
    dsc_core::pull::path::parse_guid("agent id", id)
        .map_err(|e| ServiceError::Invalid(e.to_string()))
}

/// Uploads or deletes content from the Content page's forms.
async fn perform_content(app: &App, v: &Viewer, rest: &[&str], form: &Form) -> ServiceResult<Done> {
    let target = || content_target(form);
    match rest {
        ["content", "upload"] => {
            let key = content_key(form).map_err(ServiceError::Invalid)?;
            let bytes = form
                .file
                .clone()
                .ok_or_else(|| ServiceError::Invalid("choose a file to upload".into()))?;
            let by = crate::storage::versions::Publisher {
                actor: v.principal.actor(),
                origin: "dashboard".into(),
                message: Some(
                    form.get("message")
                        .trim()
                        .chars()
                        .take(500)
                        .collect::<String>(),
                )
                .filter(|m| !m.is_empty()),
            };
            if form.get("candidate") == "true" {
                let by = crate::storage::versions::Publisher {
                    origin: "dashboard (candidate)".into(),
                    ..by
                };
                crate::rollout::put_candidate(app, key, bytes, &by).await?;
                return Ok(Done::shown(format!(
                    "uploaded {} as the candidate: ring 1 gets it",
                    target()
                )));
            }
            service::put_content(app, key, bytes, &by).await?;
            Ok(Done::shown(format!("uploaded {}", target())))
        }
        ["content", "delete"] => {
            let key = content_key(form).map_err(ServiceError::Invalid)?;
            service::delete_content(app, key).await?;
            Ok(Done::shown(format!("deleted {}", target())))
        }
        ["content", "restore"] => {
            let key = content_key(form).map_err(ServiceError::Invalid)?;
            let version = form.get("version").parse::<i64>().map_err(|_| {
                ServiceError::Invalid(format!("'{}' is not a version number", form.get("version")))
            })?;
            let meta = service::restore(app, key, version, &v.principal.actor()).await?;
            Ok(Done::shown(format!(
                "version {version} is current again (checksum {})",
                meta.checksum
            )))
        }
        ["content", "rollout", mv] => {
            let key = content_key(form).map_err(ServiceError::Invalid)?;
            if *mv == "plan" {
                crate::rollout::put_plan(app, &key, form.get("plan").as_bytes()).await?;
                return Ok(Done::shown("rollout plan saved"));
            }
            let m = crate::rollout::Move::parse(mv)
                .ok_or_else(|| ServiceError::NotFound("no such form".into()))?;
            let status = crate::rollout::act(app, &key, m, &v.principal.actor()).await?;
            Ok(Done::shown(format!(
                "rollout {}: ring {}",
                status["state"].as_str().unwrap_or(""),
                status["ring"]
            )))
        }
        _ => Err(ServiceError::NotFound("no such form".into())),
    }
}

/// Adds, removes or looks at a Git source from the sources page.
async fn perform_source(app: &App, what: &str, form: &Form) -> ServiceResult<Done> {
    let name = form.get("name").trim();
    match what {
        "put" => {
            crate::sources::put(app, name, &super::sources::body_of(form)).await?;
            Ok(Done::shown(format!("saved source {name}")))
        }
        "remove" => {
            crate::sources::remove(app, name).await?;
            Ok(Done::shown(format!("removed source {name}")))
        }
        "sync" => match crate::sources::sync(app, name, crate::sources::CLAIM_WAIT).await {
            Ok(crate::sources::Synced::Unchanged) => {
                Ok(Done::shown(format!("{name}: nothing new")))
            }
            Ok(crate::sources::Synced::Published {
                commit,
                published,
                deleted,
            }) => Ok(Done::shown(format!(
                "{name}: commit {} published ({published} changed, {deleted} deleted)",
                commit.get(..12).unwrap_or(&commit)
            ))),
            Err(e) => Err(ServiceError::Conflict(e.to_string())),
        },
        _ => Err(ServiceError::NotFound("no such form".into())),
    }
}

/// Makes the change a form asks for, through the same service calls as the admin API.
async fn perform(app: &App, v: &Viewer, rest: &[&str], form: &Form) -> ServiceResult<Done> {
    match rest {
        ["nodes", id, "assign"] => {
            let names = form.list("names");
            let names = (!names.is_empty()).then_some(names);
            service::assign(app, agent(id)?, names).await?;
            Ok(Done::shown("assignment saved"))
        }
        ["nodes", id, "tags"] => {
            service::set_tags(app, agent(id)?, form.list("tags")).await?;
            Ok(Done::shown("tags saved"))
        }
        ["content", ..] => perform_content(app, v, rest, form).await,
        ["sources", what] => perform_source(app, what, form).await,
        ["keys", "add"] => {
            let given = form.get("key").trim();
            let new = NewKey {
                key: (!given.is_empty()).then(|| given.to_string()),
            };
            let added = service::add_key(app, &new, "ui").await?;
            Ok(Done {
                shown: format!("added key {}", added.id),
                target: Some(added.id),
                token: None,
            })
        }
        ["keys", "revoke"] => {
            service::revoke_key(app, form.get("id")).await?;
            Ok(Done::shown(format!(
                "revoked key {}",
                dsc_core::pull::auth::public_key_id(form.get("id"))
            )))
        }
        ["users", "add"] => {
            let name = form.get("name").trim();
            service::create_user(app, name, form.get("role"), form.get("password")).await?;
            Ok(Done::shown(format!("added user {name}")))
        }
        ["users", "remove"] => {
            service::remove_user(app, form.get("name")).await?;
            Ok(Done::shown(format!("removed user {}", form.get("name"))))
        }
        ["tokens", "create"] => {
            let expires = match form.get("days").trim() {
                "" => None,
                d => match d.parse::<i64>() {
                    Ok(n) if (1..=36_500).contains(&n) => {
                        Some(crate::storage::now_unix() + n * 86_400)
                    }
                    _ => {
                        return Err(ServiceError::Invalid(
                            "expiry must be a whole number of days (1 to 36500)".into(),
                        ));
                    }
                },
            };
            let created =
                service::issue_token(app, &v.principal, form.get("name").trim(), expires).await?;
            Ok(Done {
                shown: String::new(),
                target: Some(created.audit_target()),
                token: Some(created),
            })
        }
        ["notifications", "add"] => {
            let rule = service::add_notification(app, &super::notifications::rule_of(form)).await?;
            Ok(Done::shown(format!(
                "added notification rule {}",
                rule.name
            )))
        }
        ["notifications", "remove"] => {
            service::remove_notification(app, form.get("name")).await?;
            Ok(Done::shown(format!(
                "removed notification rule {}",
                form.get("name")
            )))
        }
        ["tokens", "revoke"] => {
            service::revoke_token(app, &v.principal, form.get("id")).await?;
            Ok(Done::shown(format!("revoked token {}", form.get("id"))))
        }
        _ => Err(ServiceError::NotFound("no such form".into())),
    }
}
