//! Small HTTP helpers shared by the protocol and admin handlers.

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use std::time::Duration;

/// A response body: bytes in memory, or a stream (content blobs), boxed so every handler
/// answers with one type.
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

pub type Resp = Response<Body>;

fn full(bytes: Bytes) -> Body {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A `200 application/octet-stream` answer that sends `stream` as it is read, with a
/// `Content-Length` of `size`: memory per download stays at one chunk, whatever the blob's size.
pub fn stream(
    size: u64,
    stream: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static,
) -> Resp {
    let body = StreamBody::new(stream.map_ok(Frame::data)).boxed_unsync();
    let mut r = Response::new(body);
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    r.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(size));
    r
}

pub const ODATA_JSON: &str = "application/json;odata=minimalmetadata;streaming=true;charset=utf-8";

pub fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(full(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub fn empty(status: StatusCode) -> Resp {
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = status;
    r
}

pub fn json<T: serde::Serialize + ?Sized>(status: StatusCode, value: &T) -> Resp {
    match serde_json::to_string(value) {
        Ok(text) => respond(status, "application/json; charset=utf-8", text),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// An error answer with a JSON body `{"error": message}` (OData-ish for protocol paths too).
pub fn error(status: StatusCode, message: impl std::fmt::Display) -> Resp {
    json(status, &serde_json::json!({"error": message.to_string()}))
}

/// A storage failure behind an answer, put in the response's extensions by the handler that
/// met it and counted when the request is recorded.
#[derive(Clone, Copy, Debug)]
pub struct StorageFailure {
    /// The storage could not be reached (503), rather than failing a query (500).
    pub unavailable: bool,
}

/// The answer to a storage failure: 503 with `Retry-After` when the store is unreachable (the
/// client may retry), 500 otherwise. The cause goes to the log, not to the client.
pub fn storage_error(e: crate::storage::StorageError) -> Resp {
    let failure = StorageFailure {
        unavailable: e.unavailable,
    };
    let mut r = storage_error_answer(e);
    r.extensions_mut().insert(failure);
    r
}

fn storage_error_answer(e: crate::storage::StorageError) -> Resp {
    if e.unavailable {
        tracing::warn!(error = %e, "storage unavailable");
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage is unavailable; retry later",
        );
        r.headers_mut()
            .insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("5"));
        r
    } else {
        tracing::error!(error = %e, "storage failure");
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "storage failure; see the server log",
        )
    }
}

/// Reads a request body up to `limit` bytes within `timeout`.
pub async fn read_body(body: Incoming, limit: usize, timeout: Duration) -> Result<Bytes, Resp> {
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            "the request body did not arrive in time",
        )),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the request body is larger than {limit} bytes"),
                ))
            } else {
                Err(error(
                    StatusCode::BAD_REQUEST,
                    format!("reading the request body: {e}"),
                ))
            }
        }
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// Query string parameters, percent-decoded.
pub fn query_params(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// The longest free-text query filter (`q`, `user`, `action`, ...), in characters.
pub const MAX_FILTER_CHARS: usize = 256;

/// A free-text query filter: `None` when absent or empty, an error when longer than
/// [`MAX_FILTER_CHARS`].
pub fn filter_text(name: &str, value: Option<String>) -> Result<Option<String>, String> {
    match value.filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > MAX_FILTER_CHARS => Err(format!(
            "'{name}' is longer than {MAX_FILTER_CHARS} characters"
        )),
        v => Ok(v),
    }
}

/// Compares secrets in constant time (for equal lengths).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
