//! The MS-DSCPM v2 endpoints.

use crate::http::{ODATA_JSON, Resp, empty, error, read_body, respond, storage_error};
use crate::state::{App, Peer};
use crate::storage::{AgentView, ContentKey, Registration, ReportFilter};
use dsc_core::pull::action::decide;
use dsc_core::pull::auth::{AuthError, SignedHeaders};
use dsc_core::pull::checksum::ALGORITHM;
use dsc_core::pull::identity::{Accepted, Described, IdentityError, Proof, check_registration};
use dsc_core::pull::messages::{
    GetDscActionRequest, RegisterRequest, merge_reports, parse_report, saved_report_json,
};
use dsc_core::pull::path::{Route, parse_guid};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use uuid::Uuid;

/// The names an agent gets, borrowed from its view unless its tags decide (hot path).
fn effective_names<'a>(app: &App, view: &'a AgentView) -> std::borrow::Cow<'a, [String]> {
    match view.names_without_tags() {
        Some(names) => std::borrow::Cow::Borrowed(names),
        None => std::borrow::Cow::Owned(app.storage.effective_names(view)),
    }
}

/// The content a node gets under a configuration name: a package for a traek agent, a MOF
/// for an LCM.
fn content_key(view: &AgentView, name: String) -> ContentKey {
    if view.traek_agent {
        ContentKey::Package { name }
    } else {
        ContentKey::Configuration { name }
    }
}

/// The rollout serving its candidate of `name` to this node now, if one does
/// (`dsc_core::pull::rollout` decides who is served it).
fn candidate_for(
    app: &App,
    view: &AgentView,
    agent_id: &Uuid,
    name: &str,
) -> Option<Arc<dsc_core::pull::rollout::Rollout>> {
    let kind = if view.traek_agent {
        "package"
    } else {
        "configuration"
    };
    app.storage
        .rollout(kind, name)
        .filter(|r| r.serves_candidate(agent_id, &view.tags))
}

/// The endpoint name (for metrics) of a route.
pub fn endpoint_name(route: &Route) -> &'static str {
    match route {
        Route::RegisterDscAgent { .. } => "RegisterDscAgent",
        Route::GetDscAction { .. } => "GetDscAction",
        Route::GetConfiguration { .. } => "GetConfiguration",
        Route::GetModule { .. } => "GetModule",
        Route::SendReport { .. } => "SendReport",
        Route::GetReports { .. } => "GetReports",
        Route::V1 => "V1",
    }
}

/// `scheme://host/prefix`, the OData service root the Windows server names in `odata.metadata`.
fn service_root(req: &Request<Incoming>) -> String {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let path = req.uri().path();
    let lower = path.to_ascii_lowercase();
    let cut = ["/nodes(", "/modules("]
        .iter()
        .filter_map(|m| lower.find(m))
        .min()
        .unwrap_or(0);
    format!("http://{host}{}", &path[..cut])
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

pub async fn handle(app: &Arc<App>, peer: &Peer, route: Route, req: Request<Incoming>) -> Resp {
    if let Some(agent_id) = route_agent(&route, req.headers())
        && !matches!(route, Route::RegisterDscAgent { .. })
        && let Err(r) = check_pinned(app, peer, agent_id).await
    {
        return r;
    }
    match route {
        Route::RegisterDscAgent { agent_id } => register(app, peer, agent_id, req).await,
        Route::GetDscAction { agent_id } => get_dsc_action(app, agent_id, req).await,
        Route::GetConfiguration { agent_id, name } => get_configuration(app, agent_id, name).await,
        Route::GetModule { name, version } => get_module(app, req.headers(), name, version).await,
        Route::SendReport { agent_id } => send_report(app, agent_id, req).await,
        Route::GetReports { agent_id, job_id } => get_reports(app, agent_id, job_id, &req).await,
        Route::V1 => error(
            StatusCode::BAD_REQUEST,
            "version 1 (ConfigurationID) requests are not supported; configure the LCM with RegistrationKey and ConfigurationNames",
        ),
    }
}

/// The agent a request is about (from the path, or GetModule's `AgentId` header).
fn route_agent(route: &Route, headers: &HeaderMap) -> Option<Uuid> {
    match route {
        Route::RegisterDscAgent { agent_id }
        | Route::GetDscAction { agent_id }
        | Route::GetConfiguration { agent_id, .. }
        | Route::SendReport { agent_id }
        | Route::GetReports { agent_id, .. } => Some(*agent_id),
        Route::GetModule { .. } => {
            header(headers, "agentid").and_then(|a| parse_guid("AgentId", a).ok())
        }
        Route::V1 => None,
    }
}

/// What the transport proved about the caller's client certificate.
fn proof(peer: &Peer) -> Proof {
    match (peer.tls, &peer.thumbprint) {
        (true, Some(t)) => Proof::Presented(t.clone()),
        (true, None) => Proof::Missing,
        (false, _) => Proof::Unavailable,
    }
}

/// Over HTTPS, an agent pinned to a client certificate must present that certificate on every
/// later request (401 otherwise). Plain HTTP has no certificate to pin.
async fn check_pinned(app: &App, peer: &Peer, agent_id: Uuid) -> Result<(), Resp> {
    if !peer.tls {
        return Ok(());
    }
    let Ok(Some(view)) = app.storage.agent(agent_id).await else {
        return Ok(()); // unknown agents are refused by the handlers themselves
    };
    let Some(pin) = &view.pin else {
        return Ok(());
    };
    match &peer.thumbprint {
        Some(t) if pin.thumbprint.eq_ignore_ascii_case(t) => Ok(()),
        Some(_) => Err(error(
            StatusCode::UNAUTHORIZED,
            format!("the client certificate is not the one agent {agent_id} registered"),
        )),
        None => Err(error(
            StatusCode::UNAUTHORIZED,
            format!("agent {agent_id} registered a client certificate; present it"),
        )),
    }
}

/// The largest registration body accepted (a WMF registration is about 1 KiB).
pub const MAX_REGISTRATION_BYTES: usize = 64 * 1024;

/// Refuses a registration (audited and logged, never with the body's text).
async fn refuse(app: &App, peer: &Peer, agent_id: Uuid, status: StatusCode, why: String) -> Resp {
    tracing::warn!(agent = %agent_id, reason = ?why, "registration refused");
    crate::auth::audit(
        app,
        "agent",
        peer,
        "agent.register",
        &agent_id.to_string(),
        &format!("refused: {why}"),
    )
    .await;
    error(status, why)
}

async fn register(app: &Arc<App>, peer: &Peer, agent_id: Uuid, req: Request<Incoming>) -> Resp {
    // The credentials are checked before any body byte is read.
    let signed = match SignedHeaders::check(
        header(req.headers(), "authorization"),
        header(req.headers(), "x-ms-date"),
        now(),
        app.config.max_clock_skew,
    ) {
        Ok(s) => s,
        Err(e) => {
            let status = match e {
                AuthError::MalformedDate(_) | AuthError::MissingDate => StatusCode::BAD_REQUEST,
                _ => StatusCode::UNAUTHORIZED,
            };
            tracing::warn!(agent = %agent_id, reason = %e, "registration refused");
            return error(status, e);
        }
    };
    let limit = MAX_REGISTRATION_BYTES.min(app.config.max_body_bytes);
    let body = match read_body(req.into_body(), limit, app.config.read_timeout).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let records = match app.storage.registration_keys().await {
        Ok(k) => k,
        Err(e) => return storage_error(e),
    };
    let keys: Vec<String> = records.iter().map(|k| k.key.clone()).collect();
    let key_index = match signed.matching_key(&keys, &body) {
        Ok(i) => i,
        Err(e) => {
            return refuse(app, peer, agent_id, StatusCode::UNAUTHORIZED, e.to_string()).await;
        }
    };
    let request: RegisterRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid registration body: {e}"),
            );
        }
    };
    if let Err(e) = check_agent_information(&request) {
        return error(StatusCode::BAD_REQUEST, e);
    }
    let accepted = match accept_identity(app, peer, agent_id, &request, &signed).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let message_type = request.registration_information.registration_message_type;
    let registration = Registration {
        agent_id,
        message_type,
        key_id: records[key_index].id.clone(),
        registered_at: now().unix_timestamp(),
        request,
        pin: accepted.new_pin().cloned(),
    };
    match app.storage.register(registration).await {
        Ok(()) => {
            tracing::info!(agent = %agent_id, kind = message_type.as_str(), "agent registered");
            empty(StatusCode::NO_CONTENT)
        }
        Err(e) => storage_error(e),
    }
}

/// The identity checks of a registration: the certificate it describes against the agent's
/// pin and the presented certificate, and its signature never seen before. A renewal is audited.
async fn accept_identity(
    app: &App,
    peer: &Peer,
    agent_id: Uuid,
    request: &RegisterRequest,
    signed: &SignedHeaders,
) -> Result<Accepted, Resp> {
    let view = match app.storage.agent(agent_id).await {
        Ok(v) => v,
        Err(e) => return Err(storage_error(e)),
    };
    let described = request
        .registration_information
        .certificate_information
        .as_ref()
        .map(|c| Described {
            thumbprint: &c.thumbprint,
            not_after: &c.not_after,
        });
    let pinned = view.as_ref().and_then(|v| v.pin.as_ref());
    let accepted = match check_registration(pinned, described, &proof(peer), now()) {
        Ok(a) => a,
        Err(e) => {
            let status = match e {
                IdentityError::MalformedThumbprint(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::UNAUTHORIZED,
            };
            return Err(refuse(app, peer, agent_id, status, e.to_string()).await);
        }
    };
    // A signature is accepted once: a captured registration cannot be replayed.
    match app
        .storage
        .accounts()
        .remember_signature(&signed.signature, now().unix_timestamp())
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            let why = "this registration signature was already used; sign each registration anew"
                .to_string();
            return Err(refuse(app, peer, agent_id, StatusCode::UNAUTHORIZED, why).await);
        }
        Err(e) => return Err(storage_error(e)),
    }
    if let Accepted::Renewal { old, new } = &accepted {
        let what = format!("certificate renewed: {old} -> {}", new.thumbprint);
        crate::auth::audit(
            app,
            "agent",
            peer,
            "agent.certificate",
            &agent_id.to_string(),
            &what,
        )
        .await;
    }
    Ok(accepted)
}

/// Bounds the name-like fields of a registration.
fn check_agent_information(request: &RegisterRequest) -> Result<(), String> {
    if let Some(names) = &request.configuration_names {
        if names.len() > 64 {
            return Err("a registration names at most 64 configurations".into());
        }
        for n in names {
            dsc_core::pull::path::check_name("configuration name", n).map_err(|e| e.to_string())?;
        }
    }
    let info = &request.agent_information;
    for (what, value, max) in [
        ("NodeName", &info.node_name, 255),
        ("IPAddress", &info.ip_address, 4096),
        ("LCMVersion", &info.lcm_version, 64),
    ] {
        if value.len() > max || value.chars().any(char::is_control) {
            return Err(format!(
                "AgentInformation.{what} must be at most {max} characters without control characters"
            ));
        }
    }
    Ok(())
}

/// A protocol request's body, within the protocol's size and time limits.
async fn protocol_body(app: &App, req: Request<Incoming>) -> Result<bytes::Bytes, Resp> {
    read_body(
        req.into_body(),
        app.config.max_body_bytes,
        app.config.read_timeout,
    )
    .await
}

/// The registered agent, or the answer to give when it is not (401) or storage fails (500).
async fn registered(app: &App, agent_id: Uuid) -> Result<Arc<crate::storage::AgentView>, Resp> {
    match app.storage.agent(agent_id).await {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(error(
            StatusCode::UNAUTHORIZED,
            format!("agent {agent_id} is not registered"),
        )),
        Err(e) => Err(storage_error(e)),
    }
}

async fn get_dsc_action(app: &Arc<App>, agent_id: Uuid, req: Request<Incoming>) -> Resp {
    let root = service_root(&req);
    let view = match registered(app, agent_id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let body = match protocol_body(app, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let request: GetDscActionRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid GetDscAction body: {e}"),
            );
        }
    };
    if let Some(bad) = request
        .client_status
        .iter()
        .filter_map(|c| c.checksum_algorithm.as_deref())
        .find(|a| !a.is_empty() && !a.eq_ignore_ascii_case(ALGORITHM))
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!("checksum algorithm '{bad}' is not supported (only SHA-256)"),
        );
    }
    app.storage.touch(agent_id, now().unix_timestamp());
    let names = effective_names(app, &view);
    let decision = decide(&request, &names, |name| {
        if let Some(r) = candidate_for(app, &view, &agent_id, name) {
            Some(r.candidate.clone())
        } else if view.traek_agent {
            app.storage.package_checksum(name)
        } else {
            app.storage.configuration_checksum(name)
        }
    });
    if let Some(d) = &decision.diagnosis {
        tracing::warn!(agent = %agent_id, "{d}");
    }
    respond(
        StatusCode::OK,
        ODATA_JSON,
        decision.response.to_odata_json(&root),
    )
}

fn content_response(
    meta: &crate::storage::ContentMeta,
    bytes: crate::storage::blobs::BlobStream,
) -> Resp {
    let mut r = crate::http::stream(meta.size, bytes);
    if let Ok(v) = HeaderValue::from_str(&meta.checksum) {
        r.headers_mut().insert("Checksum", v);
    }
    r.headers_mut()
        .insert("ChecksumAlgorithm", HeaderValue::from_static(ALGORITHM));
    r
}

async fn get_configuration(app: &Arc<App>, agent_id: Uuid, name: String) -> Resp {
    let view = match registered(app, agent_id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(name) = effective_names(app, &view)
        .iter()
        .find(|n| n.eq_ignore_ascii_case(&name))
        .cloned()
    else {
        return error(
            StatusCode::NOT_FOUND,
            format!("configuration '{name}' is not assigned to agent {agent_id}"),
        );
    };
    app.storage.touch(agent_id, now().unix_timestamp());
    let key = content_key(&view, name.clone());
    let stream = match candidate_for(app, &view, &agent_id, &name) {
        Some(r) => {
            let meta = crate::storage::blobs::meta_of(&r.candidate, r.candidate_size, r.started_at);
            crate::storage::blobs::open_stream(app.storage.blob_store(), meta)
                .await
                .map(Some)
        }
        None => app.storage.content_stream(&key).await,
    };
    match stream {
        Ok(Some((meta, bytes))) => {
            // Which version the node was given: its reports are about that version from now on.
            let rollouts = app.storage.rollouts();
            let given = rollouts.give(agent_id, &key, &meta.checksum, now().unix_timestamp());
            if let Err(e) = given.await {
                return storage_error(e);
            }
            content_response(&meta, bytes)
        }
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("configuration '{name}' is not stored on this server"),
        ),
        Err(e) => storage_error(e),
    }
}

async fn get_module(app: &Arc<App>, headers: &HeaderMap, name: String, version: String) -> Resp {
    let Some(agent_text) = header(headers, "agentid") else {
        return error(
            StatusCode::UNAUTHORIZED,
            "GetModule needs the AgentId header of a registered agent",
        );
    };
    let agent_id = match parse_guid("AgentId header", agent_text) {
        Ok(a) => a,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    if let Err(r) = registered(app, agent_id).await {
        return r;
    }
    app.storage.touch(agent_id, now().unix_timestamp());
    match app
        .storage
        .content_stream(&ContentKey::Module {
            name: name.clone(),
            version: version.clone(),
        })
        .await
    {
        Ok(Some((meta, bytes))) => content_response(&meta, bytes),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("module {name} {version} is not stored on this server"),
        ),
        Err(e) => storage_error(e),
    }
}

async fn send_report(app: &Arc<App>, agent_id: Uuid, req: Request<Incoming>) -> Resp {
    let root = service_root(&req);
    let view = match registered(app, agent_id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let body = match protocol_body(app, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut summary = match parse_report(&body) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    app.storage.touch(agent_id, now().unix_timestamp());
    summary.once_per_job = view.traek_agent;
    summary.applied = match app.storage.rollouts().given(agent_id).await {
        Ok(given) if given.is_empty() => None,
        Ok(given) => Some(
            given
                .into_iter()
                .map(|(_, _, checksum, _)| checksum)
                .collect::<Vec<_>>()
                .join(","),
        ),
        Err(e) => return storage_error(e),
    };
    match app.storage.store_report(agent_id, summary, body).await {
        Ok(_) => {
            app.metrics.report_ingested();
            app.notifier.reported(agent_id);
            respond(StatusCode::OK, ODATA_JSON, saved_report_json(&root))
        }
        Err(e) => storage_error(e),
    }
}

/// Reports one protocol `GetReports` answer holds; more come through `odata.nextLink`.
pub const REPORTS_PAGE: usize = 1000;

async fn get_reports(
    app: &Arc<App>,
    agent_id: Uuid,
    job_id: Option<Uuid>,
    req: &Request<Incoming>,
) -> Resp {
    if let Err(r) = registered(app, agent_id).await {
        return r;
    }
    let query = crate::http::query_params(req.uri().query());
    let after = match query.iter().find(|(k, _)| k == "$skiptoken") {
        None => None,
        Some((_, v)) => match v.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => return error(StatusCode::BAD_REQUEST, "$skiptoken must be a report id"),
        },
    };
    let page = match app
        .storage
        .reports(ReportFilter {
            agent_id: Some(agent_id),
            job_id,
            after_id: after,
            limit: REPORTS_PAGE,
            ..Default::default()
        })
        .await
    {
        Ok(p) => p,
        Err(e) => return storage_error(e),
    };
    let next = (page.len() == REPORTS_PAGE)
        .then(|| {
            page.last()
                .map(|r| format!("{}?$skiptoken={}", req.uri().path(), r.id))
        })
        .flatten();
    let values: Vec<Value> = page
        .iter()
        .filter_map(|r| serde_json::from_slice(&r.body).ok())
        .collect();
    match job_id {
        Some(job) if values.is_empty() => {
            error(StatusCode::NOT_FOUND, format!("no report with JobId {job}"))
        }
        Some(_) => crate::http::json(StatusCode::OK, &merge_reports(&values)),
        None => {
            let mut body = serde_json::json!({"value": values});
            if let Some(link) = next {
                body["odata.nextLink"] = Value::String(link);
            }
            crate::http::json(StatusCode::OK, &body)
        }
    }
}
