//! A stand-in for a remote pinning service, speaking the IPFS Pinning
//! Service API 1.0 as its OpenAPI document defines it (`docs/spec/`):
//!
//! - every request needs `Authorization: Bearer <token>`; a missing, wrong
//!   or expired token is `401` with a `Failure` (`{"error": {"reason":
//!   "UNAUTHORIZED", "details": ...}}`);
//! - `GET /pins` filters by `cid` (at most 10), `name` with `match`,
//!   `status` (default `pinned`), `before`, `after` and `meta`, answers
//!   newest first with the total in `count`, at most `limit` (1 to 1000,
//!   default 10) a page, and fewer when the stand-in is told to cap pages;
//!   a malformed parameter is `400`;
//! - `POST /pins` takes a `Pin` and answers `202` with a `PinStatus` in
//!   `queued`; each later `GET /pins/{requestid}` moves it on, to `pinning`
//!   and then `pinned` (or `failed`, for a CID it is told cannot be found);
//! - `POST /pins/{requestid}` replaces a pin (`202`, a new request id),
//!   `DELETE /pins/{requestid}` removes it (`202`); an unknown id is `404`.
//!
//! It can also throttle: answer the next requests `429` with `Retry-After`.

use super::{record, Exchange, Running};
use crate::formats::block::parse_cid;
use crate::formats::ipns::rfc3339;
use crate::pinning::remote::psa::{PinRequest, PinResults, PinStatus, Status};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How the service behaves beyond the defaults.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The most results on one page, whatever `limit` asks.
    pub page_cap: usize,
    /// Status checks a request takes to reach `pinned` (the first moves it
    /// to `pinning`).
    pub steps: u32,
    /// CIDs (by multihash, hex) the service cannot find: they end `failed`.
    pub unfindable: HashSet<String>,
    /// The next this many requests are answered `429` with `Retry-After: 0`.
    pub throttle: u32,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour { page_cap: 1000, steps: 2, unfindable: HashSet::new(), throttle: 0 }
    }
}

struct Stored {
    status: PinStatus,
    polls: u32,
    at: SystemTime,
}

struct Shared {
    token: Mutex<String>,
    expired: Mutex<HashSet<String>>,
    pins: Mutex<Vec<Stored>>,
    log: Mutex<Vec<Exchange>>,
    behaviour: Mutex<Behaviour>,
    next: Mutex<u64>,
    epoch: SystemTime,
}

/// The stand-in service; stops when dropped.
pub struct PinningServiceStandIn {
    running: Running,
    shared: Arc<Shared>,
}

impl PinningServiceStandIn {
    /// Starts a service with no pins that accepts `token`.
    pub fn start(token: &str) -> Self {
        let shared = Arc::new(Shared {
            token: Mutex::new(token.to_string()),
            expired: Mutex::new(HashSet::new()),
            pins: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            behaviour: Mutex::new(Behaviour::default()),
            next: Mutex::new(0),
            epoch: SystemTime::now(),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        PinningServiceStandIn { running: Running::start("pinning-service-stand-in", app), shared }
    }

    /// The API's base URL.
    pub fn url(&self) -> &str {
        self.running.url()
    }

    /// Changes how it behaves.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = behaviour;
    }

    /// Expires the token in use and accepts `fresh` instead.
    pub fn expire_token(&self, fresh: &str) {
        let mut token = self.shared.token.lock().unwrap();
        self.shared.expired.lock().unwrap().insert(std::mem::replace(&mut token, fresh.to_string()));
    }

    /// Every pin, newest first.
    pub fn pins(&self) -> Vec<PinStatus> {
        let pins = self.shared.pins.lock().unwrap();
        let mut all: Vec<&Stored> = pins.iter().collect();
        all.sort_by_key(|s| std::cmp::Reverse(s.at));
        all.into_iter().map(|s| s.status.clone()).collect()
    }

    /// Every exchange so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.log.lock().unwrap().clone()
    }
}

fn failure(status: StatusCode, reason: &str, details: &str) -> (StatusCode, serde_json::Value) {
    (status, serde_json::json!({ "error": { "reason": reason, "details": details } }))
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let (status, answer) = answer(&shared, &method, uri.path(), &query, &headers, &body);
    record(
        &shared.log,
        Exchange {
            method: method.to_string(),
            path: uri.path().to_string(),
            query,
            body: json,
            status: status.as_u16(),
            answer: answer.clone(),
        },
    );
    match answer {
        Some(value) if status == StatusCode::METHOD_NOT_ALLOWED => {
            let allow = if uri.path() == "/pins" { "GET, POST" } else { "GET, POST, DELETE" };
            (status, [(header::CONTENT_TYPE, "application/json"), (header::ALLOW, allow)], value.to_string())
                .into_response()
        }
        Some(value) => (status, [(header::CONTENT_TYPE, "application/json")], value.to_string()).into_response(),
        None if status == StatusCode::TOO_MANY_REQUESTS => {
            let value = serde_json::json!({ "error": { "reason": "RATE_LIMITED", "details": "slow down" } });
            (status, [(header::CONTENT_TYPE, "application/json"), (header::RETRY_AFTER, "0")], value.to_string())
                .into_response()
        }
        None => status.into_response(),
    }
}

fn answer(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, Option<serde_json::Value>) {
    let wrap = |(s, v): (StatusCode, serde_json::Value)| (s, Some(v));
    {
        let mut behaviour = shared.behaviour.lock().unwrap();
        if behaviour.throttle > 0 {
            behaviour.throttle -= 1;
            return (StatusCode::TOO_MANY_REQUESTS, None);
        }
    }
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match bearer {
        None => return wrap(failure(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "an access token is required")),
        Some(t) if shared.expired.lock().unwrap().contains(t) => {
            return wrap(failure(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "the access token has expired"))
        }
        Some(t) if *shared.token.lock().unwrap() != t => {
            return wrap(failure(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "the access token is not valid"))
        }
        Some(_) => {}
    }
    let id = path.strip_prefix("/pins/").filter(|id| !id.is_empty() && !id.contains('/'));
    match (method.clone(), path, id) {
        (Method::GET, "/pins", _) => match list(shared, query) {
            Ok(results) => (StatusCode::OK, Some(serde_json::to_value(results).expect("results serialize"))),
            Err(details) => wrap(failure(StatusCode::BAD_REQUEST, "BAD_REQUEST", &details)),
        },
        (Method::POST, "/pins", _) => match add(shared, body, None) {
            Ok(status) => (StatusCode::ACCEPTED, Some(serde_json::to_value(status).expect("a status serializes"))),
            Err(details) => wrap(failure(StatusCode::BAD_REQUEST, "BAD_REQUEST", &details)),
        },
        (Method::GET, _, Some(id)) => {
            let behaviour = shared.behaviour.lock().unwrap().clone();
            let mut pins = shared.pins.lock().unwrap();
            let Some(stored) = pins.iter_mut().find(|s| s.status.requestid == id) else {
                return wrap(failure(StatusCode::NOT_FOUND, "NOT_FOUND", "no pin request with that id"));
            };
            advance(stored, &behaviour);
            (StatusCode::OK, Some(serde_json::to_value(&stored.status).expect("a status serializes")))
        }
        (Method::POST, _, Some(id)) => {
            if !shared.pins.lock().unwrap().iter().any(|s| s.status.requestid == id) {
                return wrap(failure(StatusCode::NOT_FOUND, "NOT_FOUND", "no pin request with that id"));
            }
            match add(shared, body, Some(id)) {
                Ok(status) => (StatusCode::ACCEPTED, Some(serde_json::to_value(status).expect("a status serializes"))),
                Err(details) => wrap(failure(StatusCode::BAD_REQUEST, "BAD_REQUEST", &details)),
            }
        }
        (Method::DELETE, _, Some(id)) => {
            let mut pins = shared.pins.lock().unwrap();
            let before = pins.len();
            pins.retain(|s| s.status.requestid != id);
            if pins.len() == before {
                return wrap(failure(StatusCode::NOT_FOUND, "NOT_FOUND", "no pin request with that id"));
            }
            (StatusCode::ACCEPTED, None)
        }
        (_, "/pins", _) | (_, _, Some(_)) => {
            wrap(failure(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "not a method of this path"))
        }
        _ => wrap(failure(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint")),
    }
}

/// One status check's worth of progress.
fn advance(stored: &mut Stored, behaviour: &Behaviour) {
    stored.polls += 1;
    let key = parse_cid(&stored.status.pin.cid).map(|c| hex::encode(c.hash().to_bytes())).ok();
    stored.status.status = match stored.status.status {
        Status::Pinned | Status::Failed => return,
        _ if key.as_ref().is_none_or(|k| behaviour.unfindable.contains(k)) => {
            stored.status.info = Some(BTreeMap::from([(
                "status_details".to_string(),
                "the DAG could not be found on the network".to_string(),
            )]));
            Status::Failed
        }
        _ if stored.polls >= behaviour.steps => Status::Pinned,
        _ => Status::Pinning,
    };
}

fn add(shared: &Shared, body: &[u8], replacing: Option<&str>) -> Result<PinStatus, String> {
    // Any string is a `cid` to the document; one that does not parse ends
    // `failed`, as a service that cannot find it would.
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    // Present fields must have their types (`null` is none of them).
    for (field, ok) in [
        ("name", value.get("name").is_none_or(serde_json::Value::is_string)),
        ("origins", value.get("origins").is_none_or(serde_json::Value::is_array)),
        ("meta", value.get("meta").is_none_or(serde_json::Value::is_object)),
    ] {
        if !ok {
            return Err(format!("{field} has the wrong type"));
        }
    }
    let pin: PinRequest = serde_json::from_value(value).map_err(|e| format!("the body is not a Pin: {e}"))?;
    if pin.name.as_ref().is_some_and(|n| n.chars().count() > 255) {
        return Err("name is longer than 255 characters".into());
    }
    if pin.origins.len() > 20 || !unique(&pin.origins) {
        return Err("origins must be at most 20 distinct multiaddrs".into());
    }
    let mut next = shared.next.lock().unwrap();
    *next += 1;
    // Distinct, increasing creation times, a millisecond apart.
    let at = shared.epoch + Duration::from_millis(*next);
    let status = PinStatus {
        requestid: format!("standin-{:08}", *next),
        status: Status::Queued,
        created: rfc3339::format(at).expect("a time after 1970"),
        pin,
        delegates: vec!["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN".into()],
        info: Some(BTreeMap::from([("status_details".to_string(), "queued".to_string())])),
    };
    let mut pins = shared.pins.lock().unwrap();
    if let Some(old) = replacing {
        pins.retain(|s| s.status.requestid != old);
    }
    pins.push(Stored { status: status.clone(), polls: 0, at });
    Ok(status)
}

fn list(shared: &Shared, query: &[(String, String)]) -> Result<PinResults, String> {
    let get = |k: &str| query.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let limit: usize = match get("limit") {
        None => 10,
        Some(l) => l.parse().ok().filter(|l| (1..=1000).contains(l)).ok_or("limit must be from 1 to 1000")?,
    };
    let statuses: Vec<Status> = get("status")
        .unwrap_or("pinned")
        .split(',')
        .map(|s| {
            serde_json::from_value(serde_json::Value::String(s.to_string()))
                .map_err(|_| format!("unknown status {s:?}"))
        })
        .collect::<Result<_, _>>()?;
    // CIDs compare by multihash; strings that are not CIDs as they are.
    let same =
        |text: &str| parse_cid(text).map(|c| hex::encode(c.hash().to_bytes())).unwrap_or_else(|_| text.to_string());
    let cids: Vec<String> = get("cid").map(|list| list.split(',').map(same).collect()).unwrap_or_default();
    if cids.len() > 10 || !unique(&cids) {
        return Err("cid must list at most 10 distinct CIDs".into());
    }
    if !unique(&statuses) {
        return Err("status must list distinct statuses".into());
    }
    let time = |k: &str| -> Result<Option<SystemTime>, String> {
        get(k).map(|t| rfc3339::parse(t).ok_or(format!("{k} is not an RFC 3339 date-time"))).transpose()
    };
    let (before, after) = (time("before")?, time("after")?);
    let meta: BTreeMap<String, String> = match get("meta") {
        None => BTreeMap::new(),
        Some(m) => serde_json::from_str(m).map_err(|_| "meta must be a JSON object of strings".to_string())?,
    };
    let strategy = get("match").unwrap_or("exact");
    let name = get("name");
    if name.is_some_and(|n| n.chars().count() > 255) {
        return Err("name is longer than 255 characters".into());
    }
    if !["exact", "iexact", "partial", "ipartial"].contains(&strategy) {
        return Err(format!("unknown match {strategy:?}"));
    }
    let named = |pin: &str| match (name, strategy) {
        (None, _) => Ok(true),
        (Some(n), "exact") => Ok(pin == n),
        (Some(n), "iexact") => Ok(pin.eq_ignore_ascii_case(n)),
        (Some(n), "partial") => Ok(pin.contains(n)),
        (Some(n), "ipartial") => Ok(pin.to_lowercase().contains(&n.to_lowercase())),
        (Some(_), other) => Err(format!("unknown match {other:?}")),
    };
    let cap = shared.behaviour.lock().unwrap().page_cap;
    let pins = shared.pins.lock().unwrap();
    let mut matching = Vec::new();
    for s in pins.iter() {
        let cid = same(&s.status.pin.cid);
        let ok = statuses.contains(&s.status.status)
            && (cids.is_empty() || cids.contains(&cid))
            && before.is_none_or(|b| s.at < b)
            && after.is_none_or(|a| s.at > a)
            && meta.iter().all(|(k, v)| s.status.pin.meta.get(k) == Some(v))
            && named(s.status.pin.name.as_deref().unwrap_or(""))?;
        if ok {
            matching.push(s);
        }
    }
    matching.sort_by_key(|s| std::cmp::Reverse(s.at));
    let count = matching.len() as u64;
    let results = matching.into_iter().take(limit.min(cap)).map(|s| s.status.clone()).collect();
    Ok(PinResults { count, results })
}

/// Whether no two items are equal (the document's `uniqueItems`).
fn unique<T: PartialEq>(items: &[T]) -> bool {
    items.iter().enumerate().all(|(i, a)| !items[..i].contains(a))
}
