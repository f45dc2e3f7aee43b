//! The application: shared state, request dispatch, and the accept loop with graceful
//! shutdown.

use crate::http::{Resp, error, respond};
pub use crate::state::{App, Peer};
use dsc_core::pull::PROTOCOL_VERSION;
use dsc_core::pull::path::{Method, RouteError, route};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// How long `/readyz` waits for storage before answering 503.
const READY_WAIT: Duration = Duration::from_secs(3);

/// Handles one request; never fails (errors become 4xx/5xx answers).
pub async fn handle(
    app: Arc<App>,
    peer: Arc<Peer>,
    req: Request<Incoming>,
) -> Result<Resp, Infallible> {
    let start = Instant::now();
    let peer = app.config.trusted_proxies.resolve(&peer, req.headers());
    let carries_body = !hyper::body::Body::is_end_stream(req.body());
    let (endpoint, mut resp) = dispatch(&app, &peer, req).await;
    // A refused request's body may be left unread (too large, no credentials, too slow), and
    // hyper then closes the connection. Saying so keeps the client from sending its next
    // request down a connection that is about to close.
    if carries_body && (resp.status().is_client_error() || resp.status().is_server_error()) {
        resp.headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp.headers_mut().insert(
        "ProtocolVersion",
        HeaderValue::from_static(PROTOCOL_VERSION),
    );
    // Answers may hold secrets (tokens, keys, configurations): never stored by a cache,
    // unless a handler chose otherwise (the stylesheet).
    if !resp.headers().contains_key("Cache-Control") {
        resp.headers_mut()
            .insert("Cache-Control", HeaderValue::from_static("no-store"));
    }
    let storage_failure = resp
        .extensions()
        .get::<crate::metrics::StorageFailure>()
        .copied();
    app.metrics.observe(
        endpoint,
        resp.status().as_u16(),
        start.elapsed(),
        storage_failure,
    );
    Ok(resp)
}

async fn dispatch(app: &Arc<App>, peer: &Peer, req: Request<Incoming>) -> (&'static str, Resp) {
    let path = req.uri().path().to_string();
    match path.as_str() {
        "/healthz" => return ("healthz", respond(StatusCode::OK, "text/plain", "ok\n")),
        "/readyz" => {
            let ping = tokio::time::timeout(READY_WAIT, app.storage.ping()).await;
            return match ping {
                Ok(Ok(())) => {
                    // Failing git sources are told, but do not make the server unready.
                    let mut body = String::from("ready\n");
                    for line in crate::sources::failing(app).await {
                        body.push_str(&line.replace(['\r', '\n'], " "));
                        body.push('\n');
                    }
                    ("readyz", respond(StatusCode::OK, "text/plain", body))
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "readiness check failed");
                    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, "storage is unavailable");
                    r.extensions_mut()
                        .insert(crate::metrics::StorageFailure { unavailable: true });
                    ("readyz", r)
                }
                Err(_) => (
                    "readyz",
                    error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "storage did not answer in time",
                    ),
                ),
            };
        }
        "/metrics" => return ("metrics", metrics(app, &req).await),
        _ => {}
    }
    if path == "/" || path == "/ui" || path.starts_with("/ui/") {
        return ("ui", crate::ui::handle(app, peer, req).await);
    }
    if path.starts_with("/api/") {
        return ("admin", crate::admin::handle(app, peer, req).await);
    }
    let method = Method::parse(req.method().as_str());
    match route(method, req.uri().path()) {
        Ok(r) => {
            let name = crate::protocol::endpoint_name(&r);
            (name, crate::protocol::handle(app, peer, r, req).await)
        }
        Err(RouteError::NotFound) => ("unknown", error(StatusCode::NOT_FOUND, "no such endpoint")),
        Err(RouteError::MethodNotAllowed) => (
            "unknown",
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this endpoint",
            ),
        ),
        Err(RouteError::BadRequest(m)) => ("bad-request", error(StatusCode::BAD_REQUEST, m)),
    }
}

async fn serve_connection<I>(
    app: Arc<App>,
    peer: Arc<Peer>,
    io: I,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let read_timeout = app.config.read_timeout;
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(read_timeout)
        .keep_alive(true)
        .serve_connection(
            io,
            service_fn(move |req| handle(Arc::clone(&app), Arc::clone(&peer), req)),
        );
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Serves until `shutdown` resolves; then stops accepting, lets in-flight requests finish (up to
/// 30 s), and flushes storage.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let flusher = {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                if let Err(e) = app.storage.flush().await {
                    tracing::error!(error = %e, "flushing last-seen times failed");
                }
            }
        })
    };
    let pruner = tokio::spawn(crate::retention::prune_loop(Arc::clone(&app)));
    let notifiers = [
        tokio::spawn(crate::notify::node_loop(Arc::clone(&app))),
        tokio::spawn(crate::notify::sweep_loop(Arc::clone(&app))),
        tokio::spawn(crate::notify::delivery_loop(Arc::clone(&app))),
        tokio::spawn(crate::rollout::driver_loop(Arc::clone(&app))),
        tokio::spawn(crate::sources::poll_loop(Arc::clone(&app))),
    ];
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, addr) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = Arc::clone(&app);
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    match app.tls.clone() {
                        None => {
                            let peer = Arc::new(Peer { addr: Some(addr), ..Peer::default() });
                            serve_connection(app, peer, TokioIo::new(stream), watcher).await
                        }
                        Some(config) => {
                            let acceptor = tokio_rustls::TlsAcceptor::from(config);
                            let tls = match tokio::time::timeout(app.config.read_timeout, acceptor.accept(stream)).await {
                                Ok(Ok(t)) => t,
                                Ok(Err(e)) => {
                                    tracing::debug!(error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!("TLS handshake timed out");
                                    return;
                                }
                            };
                            let thumbprint = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).map(crate::tls::thumbprint);
                            let peer = Arc::new(Peer { tls: true, thumbprint, addr: Some(addr) });
                            serve_connection(app, peer, TokioIo::new(tls), watcher).await;
                        }
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within 30 s");
    }
    flusher.abort();
    pruner.abort();
    for task in notifiers {
        task.abort();
    }
    if let Err(e) = app.storage.flush().await {
        tracing::error!(error = %e, "final flush failed");
    }
    Ok(())
}

/// `/metrics`: the exposition, behind a bearer token when `--metrics-token-file` gives one.
async fn metrics(app: &Arc<App>, req: &Request<Incoming>) -> Resp {
    if let Some(expected) = &app.config.metrics_token {
        let given = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| crate::http::constant_time_eq(g.as_bytes(), expected.as_bytes()))
        {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "/metrics needs the metrics token: Authorization: Bearer TOKEN",
            );
            r.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"traek metrics\""),
            );
            return r;
        }
    }
    match app.metrics.freshness() {
        crate::metrics::Freshness::Count => {
            app.metrics
                .refresh(app.storage.as_ref(), app.config.stale_after)
                .await
        }
        crate::metrics::Freshness::Recount => {
            let app = Arc::clone(app);
            tokio::spawn(async move {
                app.metrics
                    .refresh(app.storage.as_ref(), app.config.stale_after)
                    .await
            });
        }
        crate::metrics::Freshness::Fresh => {}
    }
    respond(
        StatusCode::OK,
        crate::metrics::CONTENT_TYPE,
        app.metrics.render(),
    )
}
