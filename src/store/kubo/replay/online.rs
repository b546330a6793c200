//! How the stand-in behaves as a node on the network, as kubo does:
//!
//! - [`Network::Connected`] (the default): an online node with peers. What
//!   it lacks, it searches the network for until the request's `timeout`
//!   (`block/get`, `pin/add`, `dag/export` of a missing root, pinning the
//!   roots of a partial DAG in `dag/import`, kubo#10159), then answers
//!   `context deadline exceeded`; with no `timeout` it goes on searching,
//!   here for [`SEARCH_FOR_GOOD`].
//! - [`Network::Peerless`]: online, no peers: searches the same way;
//!   `routing/put` keeps the record and then fails with `failed to find any
//!   peer in table`.
//! - [`Network::Offline`]: a daemon started with `--offline` (or a request
//!   with `offline=true`): what it lacks is an immediate error; `routing/get`
//!   refuses (`this action must be run in online mode`), `routing/put`
//!   needs `allow-offline`.
//!
//! Every `200` carries `Trailer: X-Stream-Error`; an error after the body
//! began (a block missing under a `dag/export` root) is sent in that
//! trailer. Argument errors are plain-text `400`s, as kubo's command
//! library writes them.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body::Frame;
use std::convert::Infallible;
use std::time::Duration;

/// Where the node stands on the network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Network {
    /// Online, with peers.
    #[default]
    Connected,
    /// Online, with no peers.
    Peerless,
    /// Started offline.
    Offline,
}

/// How long "for good" lasts in the stand-in.
pub const SEARCH_FOR_GOOD: Duration = Duration::from_secs(30);

/// The trailer header kubo names in every answer.
pub const STREAM_ERROR: &str = "x-stream-error";

/// The message that marks an answer as "the node searches the network".
pub(super) const SEARCHING: &str = "searching the network";
/// The header such an answer carries inside the stand-in, for the handler
/// to wait before answering.
pub(super) const SEARCHING_HEADER: &str = "x-replay-searching";

/// A search until `timeout` (a Go duration such as `1500ms` or `30s`; at
/// most [`SEARCH_FOR_GOOD`]), then kubo's answer to it.
pub(super) async fn search(timeout: Option<&str>) -> Response {
    tokio::time::sleep(wait(timeout)).await;
    super::error(StatusCode::INTERNAL_SERVER_ERROR, "context deadline exceeded")
}

/// How long a search lasts for a request with `timeout`.
pub(super) fn wait(timeout: Option<&str>) -> Duration {
    timeout.and_then(go_duration).unwrap_or(SEARCH_FOR_GOOD).min(SEARCH_FOR_GOOD)
}

/// A Go duration as the clients here send it (`1500ms`, `30s`, `2m`).
fn go_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = text[..split].parse().ok()?;
    match &text[split..] {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        _ => None,
    }
}

/// An argument error as kubo's command library writes it (`http.Error`):
/// plain text, status 400.
pub(super) fn plain_400(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{message}\n"))
        .into_response()
}

/// The header every `200` of kubo carries.
pub(super) fn trailer_header() -> (HeaderName, HeaderValue) {
    (header::TRAILER, HeaderValue::from_static("X-Stream-Error"))
}

/// A streamed `200` whose body is `bytes`, then, after `wait`, the
/// `X-Stream-Error` trailer with `error` (an error met after the answer
/// began; a client must read the trailer to see it).
pub(super) fn streamed(content_type: &'static str, bytes: Vec<u8>, error: Option<(Duration, String)>) -> Response {
    let data = futures::stream::once(async move { Ok::<_, Infallible>(Frame::data(Bytes::from(bytes))) });
    let trailer = futures::stream::once(async move {
        let mut trailers = HeaderMap::new();
        if let Some((wait, message)) = error {
            tokio::time::sleep(wait).await;
            let value = HeaderValue::from_str(&message).unwrap_or(HeaderValue::from_static("error"));
            trailers.insert(HeaderName::from_static(STREAM_ERROR), value);
        }
        Ok::<_, Infallible>(Frame::trailers(trailers))
    });
    use futures::StreamExt;
    let body = Body::new(http_body_util::StreamBody::new(data.chain(trailer)));
    let (name, value) = trailer_header();
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (HeaderName::from_static("x-stream-output"), HeaderValue::from_static("1")),
            (name, value),
        ],
        body,
    )
        .into_response()
}
