//! The trustless gateway: `GET/HEAD /ipfs/{cid}[/{path}]` as a raw block or
//! a CAR stream, and `GET/HEAD /ipns/{name}` as a signed IPNS record.
//!
//! Only verifiable responses are served (no UnixFS deserialization): a
//! request that asks for no format gets 400, as the trustless gateway spec
//! asks of a gateway in strict trustless mode, and one whose `Accept` names
//! nothing served here gets 406. Raw blocks may also be requested through a
//! path (`/ipfs/{cid}/a/b?format=raw`, the path gateway's behaviour); a
//! client that wants to verify the path itself asks for a CAR, which carries
//! the blocks that prove each segment.

use super::body::ChannelBody;
use super::negotiate::{
    dag_scope, if_none_match, negotiate, split_content_path, CarQuery, DagScope, Negotiated, Refusal, Want,
    CAR_CONTENT_TYPE, RAW,
};
use super::traverse::{resolve, write_car, CarJob, Ended, ResolveError, Resolved};
use super::{blocking, text, Reply, ServerState};
use crate::buffers::POOL;
use crate::formats::block::parse_cid;
use crate::formats::ipns::IpnsName;
use crate::store::Recycling;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::time::Instant;
use tokio::sync::mpsc;

/// What `Cache-Control` says of everything under `/ipfs/`.
const IMMUTABLE: &str = "public, max-age=29030400, immutable";

/// The query parameters the gateway reads; others are ignored.
#[derive(Debug, Default, serde::Deserialize)]
pub struct GatewayQuery {
    format: Option<String>,
    #[serde(rename = "dag-scope")]
    dag_scope: Option<String>,
    #[serde(rename = "entity-bytes")]
    entity_bytes: Option<String>,
    #[serde(rename = "car-version")]
    car_version: Option<String>,
    #[serde(rename = "car-order")]
    car_order: Option<String>,
    #[serde(rename = "car-dups")]
    car_dups: Option<String>,
}

impl GatewayQuery {
    fn car(&self) -> CarQuery {
        CarQuery { version: self.car_version.clone(), order: self.car_order.clone(), dups: self.car_dups.clone() }
    }
}

/// The status and message for a refused request.
pub fn refused(refusal: Refusal) -> Response {
    match refusal {
        Refusal::BadRequest(message) => text(StatusCode::BAD_REQUEST, &message),
        Refusal::NotAcceptable(message) => text(StatusCode::NOT_ACCEPTABLE, &message),
    }
}

fn header_str(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `GET/HEAD /ipfs/{cid}[/{path}]`.
pub async fn ipfs(
    State(state): State<ServerState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<GatewayQuery>,
) -> Reply {
    let rest = uri.path().strip_prefix("/ipfs/").unwrap_or_default();
    let (cid_text, segments) = split_content_path(rest).map_err(refused)?;
    let accept = header_str(&headers, header::ACCEPT);
    let negotiated = negotiate(query.format.as_deref(), accept, &query.car()).map_err(refused)?;
    let root = parse_cid(&cid_text).map_err(|e| text(StatusCode::BAD_REQUEST, &e.to_string()))?;
    let scope = match negotiated.want {
        Want::IpnsRecord => {
            return Err(text(StatusCode::BAD_REQUEST, "IPNS records are served under /ipns/<name>, not /ipfs/"))
        }
        Want::Raw => None,
        Want::Car => {
            if query.entity_bytes.is_some() {
                return Err(text(
                    StatusCode::BAD_REQUEST,
                    "entity-bytes is not supported by this gateway; request the whole entity (dag-scope=entity)",
                ));
            }
            Some(dag_scope(query.dag_scope.as_deref()).map_err(refused)?)
        }
    };

    let store = state.store.clone();
    let mut resolved = blocking(move || resolve(&Recycling::new(&store), root, &segments)).await?.map_err(|e| {
        let only_if_cached = header_str(&headers, header::CACHE_CONTROL).is_some_and(|v| v.contains("only-if-cached"));
        match e {
            // Nothing is fetched from elsewhere, so "not cached" is "not here".
            ResolveError::Missing(_) if only_if_cached => text(StatusCode::PRECONDITION_FAILED, ""),
            ResolveError::Missing(_) | ResolveError::NoEntry { .. } | ResolveError::NotADirectory { .. } => {
                text(StatusCode::NOT_FOUND, &e.to_string())
            }
            ResolveError::Store(e) => {
                tracing::error!(error = %e, "the store failed");
                text(StatusCode::INTERNAL_SERVER_ERROR, &format!("the gateway's store failed: {e}"))
            }
        }
    })?;

    // The terminus block is moved into the response, not copied.
    let block = std::mem::take(&mut resolved.block);
    let common = Common { uri: &uri, negotiated, resolved: &resolved };
    Ok(match scope {
        None => raw(&headers, common, block),
        Some(scope) => car(&state, &method, &headers, common, scope, block),
    })
}

/// What raw and CAR responses share.
struct Common<'a> {
    uri: &'a Uri,
    negotiated: Negotiated,
    resolved: &'a Resolved,
}

impl Common<'_> {
    /// The headers of every `/ipfs/` response, and its `Etag`.
    fn headers(&self, etag: &str, filename: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let mut put = |name: HeaderName, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        };
        put(header::ETAG, etag);
        put(header::CACHE_CONTROL, IMMUTABLE);
        put(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        put(header::CONTENT_DISPOSITION, &format!("attachment; filename=\"{filename}\""));
        put(header::VARY, "Accept");
        put(HeaderName::from_static("x-ipfs-path"), self.uri.path());
        let roots: Vec<String> = self.resolved.roots.iter().map(ToString::to_string).collect();
        put(HeaderName::from_static("x-ipfs-roots"), &roots.join(","));
        if self.negotiated.from_accept {
            // The same response under a URL that says its format, so that
            // caches keep raw, CAR and other variants apart.
            let format = self.negotiated.want.format();
            let location = match self.uri.query() {
                Some(q) => format!("{}?{q}&format={format}", self.uri.path()),
                None => format!("{}?format={format}", self.uri.path()),
            };
            put(header::CONTENT_LOCATION, &location);
        }
        headers
    }
}

fn not_modified(headers: HeaderMap) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    *response.headers_mut() = headers;
    response
}

fn raw(request: &HeaderMap, common: Common<'_>, block: Vec<u8>) -> Response {
    let cid = common.resolved.terminus;
    let etag = format!("\"{cid}.raw\"");
    let mut headers = common.headers(&etag, &format!("{cid}.bin"));
    if if_none_match(header_str(request, header::IF_NONE_MATCH), &etag) {
        return not_modified(headers);
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(RAW));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(block.len()));
    let mut response = Response::new(Body::from(POOL.chunk(block)));
    *response.headers_mut() = headers;
    response
}

fn car(
    state: &ServerState,
    method: &Method,
    request: &HeaderMap,
    common: Common<'_>,
    scope: DagScope,
    block: Vec<u8>,
) -> Response {
    let resolved = Resolved { block, ..common.resolved.clone() };
    let root = resolved.root;
    let mut etag = format!("\"{root}.car.{}.dfs.n", scope.as_str());
    if resolved.roots.len() > 1 {
        // Different paths under one root give different CARs.
        let digest = Sha256::digest(common.uri.path().as_bytes());
        etag.push('.');
        etag.push_str(&hex::encode(&digest[..8]));
    }
    etag.push('"');
    let mut headers = common.headers(&etag, &format!("{root}.car"));
    if if_none_match(header_str(request, header::IF_NONE_MATCH), &etag) {
        return not_modified(headers);
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CAR_CONTENT_TYPE));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("none"));
    // A few chunks of buffer: the walk waits for a slow client rather than
    // reading ahead of it.
    let (tx, rx) = mpsc::channel(4);
    if method != Method::HEAD {
        let store = state.store.clone();
        let path = common.uri.path().to_string();
        let job = CarJob { resolved, scope, deadline: Instant::now() + state.limits.car_timeout };
        tokio::task::spawn_blocking(move || match write_car(&store, job, tx) {
            Ended::Complete(blocks) => tracing::debug!(%path, blocks, "CAR stream complete"),
            Ended::ClientGone => tracing::debug!(%path, "CAR stream abandoned by the client"),
            Ended::CutOff(reason) => tracing::warn!(%path, %reason, "CAR stream ended early"),
        });
    }
    let mut response = Response::new(Body::new(ChannelBody::new(rx)));
    *response.headers_mut() = headers;
    response
}

/// `GET/HEAD /ipns/{name}`: only as a record (`?format=ipns-record` or
/// `Accept: application/vnd.ipfs.ipns-record`).
pub async fn ipns(
    State(state): State<ServerState>,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<GatewayQuery>,
) -> Reply {
    let rest = uri.path().strip_prefix("/ipns/").unwrap_or_default();
    let (name_text, segments) = split_content_path(rest).map_err(refused)?;
    let accept = header_str(&headers, header::ACCEPT);
    let negotiated = negotiate(query.format.as_deref(), accept, &query.car()).map_err(refused)?;
    if negotiated.want != Want::IpnsRecord {
        return Err(text(
            StatusCode::NOT_IMPLEMENTED,
            "this gateway serves /ipns/ names only as signed records (?format=ipns-record); verify the record and request the /ipfs/ path it names",
        ));
    }
    if !segments.is_empty() {
        return Err(text(StatusCode::BAD_REQUEST, "an IPNS record is for a name alone; remove the path after it"));
    }
    let name: IpnsName = name_text
        .parse()
        .map_err(|e: crate::formats::ipns::NameError| text(StatusCode::BAD_REQUEST, &e.to_string()))?;
    super::routing::stored_record(&state, name, &headers, true).await
}
