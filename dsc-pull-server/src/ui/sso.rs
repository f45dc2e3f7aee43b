//! Single sign-on pages: `/ui/oidc/login` sends the browser to the provider, and
//! `/ui/oidc/callback` checks what comes back and opens a session. Every sign-in, refusal and
//! role change is audited.
//!
//! The callback must carry the `state` this browser was given (a cookie binds it, so a link
//! with someone else's code cannot sign a victim in as someone else) and that state must still
//! be pending in storage (taken once, so a replayed callback finds nothing).

use super::{bare_page, html_page, redirect, with_cookie};
use crate::auth::{self, SESSION_COOKIE};
use crate::http::{Resp, constant_time_eq, query_params, storage_error};
use crate::state::{App, Peer};
use crate::storage::accounts::Session;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use maud::html;

/// The cookie that binds a started sign-in to the browser that started it.
const STATE_COOKIE: &str = "traek_sso";

/// `SameSite=Lax`: the provider's redirect back is a cross-site navigation, which a `Strict`
/// cookie would not accompany.
fn state_cookie(peer: &Peer, value: &str, max_age: u64) -> String {
    let secure = if peer.tls { "; Secure" } else { "" };
    format!(
        "{STATE_COOKIE}={value}; Path=/ui/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    )
}

/// A page for someone without a session (a refusal, a provider failure).
fn plain(status: StatusCode, title: &str, text: &str) -> Resp {
    let body = html! {
        h1 { (title) }
        div.error #sso-error { (text) }
        p { a href="/ui/login" { "Back to sign-in" } }
    };
    html_page(status, bare_page(title, None, body))
}

/// `GET /ui/oidc/login`: starts a sign-in with the provider.
pub async fn login(app: &App, peer: &Peer) -> Resp {
    let Some(oidc) = &app.oidc else {
        return plain(
            StatusCode::NOT_FOUND,
            "No single sign-on",
            "this server has no OpenID provider configured",
        );
    };
    let begin = match oidc.begin().await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "single sign-on could not start");
            return plain(
                StatusCode::BAD_GATEWAY,
                "Single sign-on is unavailable",
                &format!("{e}; try again later, or sign in with a local account"),
            );
        }
    };
    let now = crate::storage::now_unix();
    if let Err(e) = app
        .storage
        .accounts()
        .add_oidc_login(
            &auth::digest(&begin.state),
            &begin.nonce,
            &begin.pkce_verifier,
            now,
        )
        .await
    {
        return storage_error(e);
    }
    let ttl = crate::storage::accounts::OIDC_LOGIN_TTL.unsigned_abs();
    with_cookie(redirect(&begin.url), state_cookie(peer, &begin.state, ttl))
}

/// Refuses a callback: audited, the state cookie cleared, a page that says why.
async fn refuse(app: &App, peer: &Peer, who: &str, why: &str, status: StatusCode) -> Resp {
    auth::audit(app, who, peer, "login", who, &format!("refused: {why}")).await;
    let page = plain(status, "Sign-in refused", why);
    with_cookie(page, state_cookie(peer, "", 0))
}

/// `GET /ui/oidc/callback`: finishes a sign-in.
pub async fn callback(app: &App, peer: &Peer, req: &Request<Incoming>) -> Resp {
    let Some(oidc) = &app.oidc else {
        return plain(
            StatusCode::NOT_FOUND,
            "No single sign-on",
            "this server has no OpenID provider configured",
        );
    };
    let query = query_params(req.uri().query());
    let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let sso = "single sign-on";
    if let Some(error) = param("error") {
        let text: String = format!("the provider answered '{error}'")
            .chars()
            .take(200)
            .collect();
        return refuse(app, peer, sso, &text, StatusCode::FORBIDDEN).await;
    }
    let (Some(code), Some(state)) = (param("code"), param("state")) else {
        return refuse(
            app,
            peer,
            sso,
            "the provider's answer has no code or state",
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let bound = auth::cookie(req.headers(), STATE_COOKIE)
        .is_some_and(|c| constant_time_eq(c.as_bytes(), state.as_bytes()));
    if !bound {
        let why =
            "the sign-in did not start in this browser (its state does not match); start again";
        return refuse(app, peer, sso, why, StatusCode::BAD_REQUEST).await;
    }
    let now = crate::storage::now_unix();
    let pending = match app
        .storage
        .accounts()
        .take_oidc_login(&auth::digest(&state), now)
        .await
    {
        Ok(p) => p,
        Err(e) => return storage_error(e),
    };
    let Some((nonce, verifier)) = pending else {
        let why = "this sign-in expired or was already used; start again";
        return refuse(app, peer, sso, why, StatusCode::BAD_REQUEST).await;
    };
    let identity = match oidc.finish(&code, &nonce, &verifier).await {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "single sign-on refused");
            return refuse(app, peer, sso, &e.to_string(), StatusCode::FORBIDDEN).await;
        }
    };
    let name = identity.account_name(&oidc.settings.issuer);
    let Some(role) = oidc.role_of(&identity) else {
        let why = format!(
            "your account ({}) has no role in traek: none of the values of its '{}' claim is mapped to a role; ask a traek administrator to map one of your groups with --oidc-role",
            identity.display, oidc.settings.role_claim
        );
        return refuse(app, peer, &name, &why, StatusCode::FORBIDDEN).await;
    };
    open_session(app, peer, &name, role.as_str(), now).await
}

/// Creates or updates the account (auditing a new one or a changed role), opens a session and
/// answers a page that goes on to the dashboard.
async fn open_session(app: &App, peer: &Peer, name: &str, role: &str, now: i64) -> Resp {
    let accounts = app.storage.accounts();
    let before = match accounts.upsert_sso_user(name, role, now).await {
        Ok(b) => b,
        Err(e) => return storage_error(e),
    };
    match before.as_deref() {
        None => {
            auth::audit(
                app,
                "single sign-on",
                peer,
                "user.add",
                name,
                &format!("ok: {role} from the provider's claims"),
            )
            .await
        }
        Some(old) if old != role => {
            auth::audit(
                app,
                "single sign-on",
                peer,
                "user.role",
                name,
                &format!("ok: {old} -> {role} from the provider's claims"),
            )
            .await
        }
        Some(_) => {}
    }
    let secret = auth::secret();
    let session = Session {
        id_hash: auth::digest(&secret),
        user: name.to_string(),
        csrf: auth::secret(),
        expires_at: now + auth::SESSION_TTL.as_secs() as i64,
    };
    if let Err(e) = accounts.add_session(&session, now).await {
        return storage_error(e);
    }
    auth::audit(app, name, peer, "login", name, "ok: single sign-on").await;
    // A page of this site moves on to the dashboard: after a cross-site redirect the browser
    // would not send the session's SameSite=Strict cookie with a redirect, but does with a
    // navigation this page starts.
    let body = html! {
        h1 { "Signed in" }
        p { a #continue href="/ui/" { "Continue to the dashboard" } }
    };
    let page = bare_page("Signed in", Some("/ui/"), body);
    let resp = with_cookie(
        html_page(StatusCode::OK, page),
        super::cookie(
            peer,
            SESSION_COOKIE,
            &secret,
            Some(auth::SESSION_TTL.as_secs()),
        ),
    );
    with_cookie(resp, state_cookie(peer, "", 0))
}

/// What follows sign-out: for a single sign-on user whose provider offers it, a page that
/// goes on to the provider's end-session endpoint (which sends them back to the sign-in
/// page); else the sign-in page. A page, not a redirect: the form's `form-action 'self'`
/// policy forbids following a redirect to another site.
pub async fn after_logout(app: &App, name: &str) -> Resp {
    let provider = match &app.oidc {
        Some(oidc) if name.starts_with("sso:") => {
            oidc.logout_url(&format!("{}/ui/login", app.public_url))
                .await
        }
        _ => None,
    };
    let Some(url) = provider else {
        return redirect("/ui/login");
    };
    let body = html! {
        h1 { "Signed out of traek" }
        p { a #provider-logout href=(url) { "Sign out at your identity provider too" } }
    };
    let page = bare_page("Signing out", Some(&url), body);
    html_page(StatusCode::OK, page)
}
