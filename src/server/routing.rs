//! Delegated routing v1, IPNS part: `GET` and `PUT /routing/v1/ipns/{name}`
//! over the store's [`RecordStore`](crate::store::RecordStore).
//!
//! A `PUT` record is verified against the name in the path and kept only if
//! it is better than the stored one (higher sequence, then later validity);
//! a worse but valid record is answered 200 all the same, since the name
//! then resolves to a record at least as new. A `GET` serves the stored
//! record only while it still verifies. The provider and peer routing
//! endpoints are not implemented (501).

use super::negotiate::{accepts_ipns_record, if_none_match, IPNS_RECORD};
use super::{blocking, text, Reply, ServerState};
use crate::formats::ipns::{verify_record, IpnsName, IpnsRecord, NameError};
use crate::store::{PutOutcome, RecordError};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::pin::Pin;
use std::time::{Duration, SystemTime};

/// `Cache-Control` when there is no record or it has no TTL, as the spec
/// suggests.
const DEFAULT_MAX_AGE: u64 = 60;

fn parse_name(name: &str) -> Result<IpnsName, Response> {
    name.parse().map_err(|e: NameError| text(StatusCode::BAD_REQUEST, &e.to_string()))
}

fn with_max_age(mut response: Response, seconds: u64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={seconds}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// `GET/HEAD /routing/v1/ipns/{name}`.
pub async fn get(State(state): State<ServerState>, Path(name): Path<String>, headers: HeaderMap) -> Reply {
    let name = parse_name(&name)?;
    if !accepts_ipns_record(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())) {
        return Err(text(StatusCode::NOT_ACCEPTABLE, &format!("retry with Accept: {IPNS_RECORD}")));
    }
    stored_record(&state, name, &headers, false).await
}

/// The stored record for `name`, if it verifies now, with its caching
/// headers; `attachment` adds the `Content-Disposition` a gateway sends.
pub async fn stored_record(state: &ServerState, name: IpnsName, request: &HeaderMap, attachment: bool) -> Reply {
    let records = state.records.clone();
    let bytes = blocking(move || records.get(&name)).await?.map_err(|e| {
        tracing::error!(error = %e, "the record store failed");
        text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
    })?;
    let not_found = |message: &str| with_max_age(text(StatusCode::NOT_FOUND, message), DEFAULT_MAX_AGE);
    let Some(bytes) = bytes else {
        return Err(not_found(&format!("no IPNS record for {name} is stored here")));
    };
    let now = SystemTime::now();
    let record = verify_record(&name, &bytes, now)
        .map_err(|e| not_found(&format!("the record stored for {name} is no longer valid: {e}")))?;
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&bytes)[..16]));
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex is a valid header"));
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    if attachment {
        let disposition = format!("attachment; filename=\"{name}.ipns-record\"");
        headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).expect("base36 is ASCII"));
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        let path = format!("/ipns/{name}");
        headers.insert("x-ipfs-path", HeaderValue::from_str(&path).expect("base36 is ASCII"));
    }
    let response = with_max_age(response, max_age(&record, now));
    if if_none_match(request.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()), &etag) {
        let (mut parts, _) = response.into_parts();
        parts.status = StatusCode::NOT_MODIFIED;
        return Ok(Response::from_parts(parts, Body::empty()));
    }
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(IPNS_RECORD));
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    Ok(Response::from_parts(parts, Body::from(Bytes::from(bytes))))
}

/// The record's TTL in seconds (60 when it has none), never past its validity.
fn max_age(record: &IpnsRecord, now: SystemTime) -> u64 {
    let ttl = match record.ttl().as_secs() {
        0 => DEFAULT_MAX_AGE,
        ttl => ttl,
    };
    let remaining = record.validity().duration_since(now).unwrap_or(Duration::ZERO).as_secs();
    ttl.min(remaining)
}

/// `PUT /routing/v1/ipns/{name}`: verify and keep the record if it is better.
pub async fn put(State(state): State<ServerState>, Path(name): Path<String>, headers: HeaderMap, body: Body) -> Reply {
    if state.read_only {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "this server is read-only: it does not accept records");
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
        return Err(response);
    }
    let name = parse_name(&name)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if content_type.split(';').next().map(str::trim) != Some(IPNS_RECORD) {
        return Err(text(StatusCode::NOT_ACCEPTABLE, &format!("retry with Content-Type: {IPNS_RECORD}")));
    }
    let limit = state.limits.max_body;
    let too_large = || text(StatusCode::PAYLOAD_TOO_LARGE, &format!("an IPNS record is at most {limit} bytes"));
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let bytes = read_limited(body, limit)
        .await
        .map_err(|e| text(StatusCode::BAD_REQUEST, &format!("cannot read the request body: {e}")))?
        .ok_or_else(too_large)?;
    let records = state.records.clone();
    let outcome = blocking(move || records.put(&name, &bytes, SystemTime::now())).await?;
    match outcome {
        Ok(PutOutcome::Stored) => Ok(text(StatusCode::OK, &format!("stored the record for {name}"))),
        Ok(PutOutcome::Kept) => {
            Ok(text(StatusCode::OK, &format!("kept the stored record for {name}: it is as new as this one or newer")))
        }
        Err(RecordError::Invalid(e)) => Err(text(StatusCode::BAD_REQUEST, &e.to_string())),
        Err(e) => {
            tracing::error!(error = %e, "the record store failed");
            Err(text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
        }
    }
}

/// Reads a body of at most `limit` bytes; `None` if it is longer (reading
/// stops there, whatever `Content-Length` claimed).
async fn read_limited(mut body: Body, limit: usize) -> Result<Option<Vec<u8>>, axum::Error> {
    let mut bytes = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Some(data) = frame?.data_ref() {
            if bytes.len() + data.len() > limit {
                return Ok(None);
            }
            bytes.extend_from_slice(data);
        }
    }
    Ok(Some(bytes))
}

/// Any other `/routing/v1/` request: the provider and peer endpoints are
/// known but not implemented here (501); anything else is an unknown path
/// (400), as the spec asks.
pub async fn other(uri: axum::http::Uri) -> Response {
    let rest = uri.path().strip_prefix("/routing/v1/").unwrap_or_default();
    if rest.starts_with("providers") || rest.starts_with("peers") {
        text(StatusCode::NOT_IMPLEMENTED, "this server answers only the IPNS part of the routing API")
    } else {
        text(StatusCode::BAD_REQUEST, &format!("unknown routing path {}", uri.path()))
    }
}
