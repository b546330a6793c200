//! A stand-in for an IPFS Cluster's REST API (`/pins`), as its reference
//! and its `api/rest` sources define it, over three simulated peers:
//!
//! - `POST /pins/{cid}?name=&mode=&replication-min=&replication-max=`
//!   allocates the pin to `replication-max` peers (all of them for `-1` or
//!   none given) and answers `200` with the `Pin` (its `cid` as `{"/":
//!   ...}`, `allocations`, `mode`, `name`, the replication factors); a bad
//!   CID or mode is `400` with `{"code": 400, "message": ...}`;
//! - `GET /pins/{cid}` answers the `GlobalPinInfo`: `peer_map` with each
//!   peer's `status`. Allocated peers go `pin_queued` → `pinning` →
//!   `pinned` over successive checks (or `pin_error` for a CID told to
//!   fail); peers not allocated answer `remote`. A CID the cluster does not
//!   track is `404`;
//! - with credentials set, requests without HTTP basic authentication or a
//!   bearer token that matches are `401`.

use super::{record, Exchange, Running};
use crate::formats::block::{cid_to_string, parse_cid};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

/// The simulated peers.
const PEERS: [(&str, &str); 3] = [
    ("12D3KooWCluster1111111111111111111111111111111111111", "cluster-a"),
    ("12D3KooWCluster2222222222222222222222222222222222222", "cluster-b"),
    ("12D3KooWCluster3333333333333333333333333333333333333", "cluster-c"),
];

struct Tracked {
    name: String,
    mode: String,
    min: i32,
    max: i32,
    allocations: Vec<usize>,
    checks: u32,
}

struct Shared {
    auth: Mutex<Option<String>>,
    pins: Mutex<BTreeMap<String, Tracked>>,
    failing: Mutex<HashSet<String>>,
    log: Mutex<Vec<Exchange>>,
}

/// The stand-in cluster; stops when dropped.
pub struct ClusterStandIn {
    running: Running,
    shared: Arc<Shared>,
}

impl ClusterStandIn {
    /// Starts a cluster with no pins; with `auth`, the `Authorization`
    /// header value it requires (`Basic ...` or `Bearer ...`).
    pub fn start(auth: Option<&str>) -> Self {
        let shared = Arc::new(Shared {
            auth: Mutex::new(auth.map(str::to_string)),
            pins: Mutex::new(BTreeMap::new()),
            failing: Mutex::new(HashSet::new()),
            log: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        ClusterStandIn { running: Running::start("cluster-stand-in", app), shared }
    }

    /// The API's base URL.
    pub fn url(&self) -> &str {
        self.running.url()
    }

    /// Makes every peer fail to pin `cid`.
    pub fn fail(&self, cid: &cid::Cid) {
        self.shared.failing.lock().unwrap().insert(hex::encode(cid.hash().to_bytes()));
    }

    /// The CIDs tracked, with the peers each is allocated to.
    pub fn pins(&self) -> BTreeMap<String, usize> {
        self.shared.pins.lock().unwrap().iter().map(|(k, t)| (k.clone(), t.allocations.len())).collect()
    }

    /// Every exchange so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.log.lock().unwrap().clone()
    }
}

fn error(status: StatusCode, message: &str) -> (StatusCode, serde_json::Value) {
    (status, serde_json::json!({ "code": status.as_u16(), "message": message }))
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let (status, answer) = answer(&shared, &method, uri.path(), &query, &headers);
    record(
        &shared.log,
        Exchange {
            method: method.to_string(),
            path: uri.path().to_string(),
            query,
            body: None,
            status: status.as_u16(),
            answer: Some(answer.clone()),
        },
    );
    (status, [(header::CONTENT_TYPE, "application/json")], answer.to_string()).into_response()
}

fn answer(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> (StatusCode, serde_json::Value) {
    if let Some(required) = shared.auth.lock().unwrap().as_deref() {
        if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(required) {
            return error(StatusCode::UNAUTHORIZED, "Unauthorized");
        }
    }
    let Some(arg) = path.strip_prefix("/pins/").filter(|a| !a.is_empty() && !a.contains('/')) else {
        return error(StatusCode::NOT_FOUND, "404 page not found");
    };
    let Ok(cid) = parse_cid(arg) else {
        return error(StatusCode::BAD_REQUEST, &format!("error decoding Cid: {arg}"));
    };
    let key = cid_to_string(&cid);
    let get = |k: &str| query.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let failing = shared.failing.lock().unwrap().contains(&hex::encode(cid.hash().to_bytes()));
    let mut pins = shared.pins.lock().unwrap();
    match *method {
        Method::POST => {
            let mode = get("mode").unwrap_or("recursive");
            if mode != "recursive" && mode != "direct" {
                return error(StatusCode::BAD_REQUEST, &format!("invalid pin mode: {mode}"));
            }
            let factor = |k: &str| get(k).map(|v| v.parse::<i32>()).transpose();
            let (Ok(min), Ok(max)) = (factor("replication-min"), factor("replication-max")) else {
                return error(StatusCode::BAD_REQUEST, "replication factors must be integers");
            };
            let (min, max) = (min.unwrap_or(-1), max.unwrap_or(-1));
            let n = if max < 0 { PEERS.len() } else { (max as usize).min(PEERS.len()) };
            if min > 0 && (min as usize) > n.max(PEERS.len().min(n)) {
                return error(StatusCode::INTERNAL_SERVER_ERROR, "not enough peers to allocate CID");
            }
            let tracked = pins.entry(key.clone()).or_insert_with(|| Tracked {
                name: String::new(),
                mode: String::new(),
                min,
                max,
                allocations: (0..n).collect(),
                checks: 0,
            });
            tracked.name = get("name").unwrap_or("").to_string();
            tracked.mode = mode.to_string();
            (StatusCode::OK, pin_json(&key, tracked))
        }
        Method::GET => {
            let Some(tracked) = pins.get_mut(&key) else {
                return error(StatusCode::NOT_FOUND, "cid is not part of the global state");
            };
            tracked.checks += 1;
            (StatusCode::OK, status_json(&key, tracked, failing))
        }
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    }
}

fn pin_json(cid: &str, t: &Tracked) -> serde_json::Value {
    serde_json::json!({
        "cid": { "/": cid },
        "type": 2,
        "allocations": t.allocations.iter().map(|i| PEERS[*i].0).collect::<Vec<_>>(),
        "max_depth": -1,
        "reference": null,
        "replication_factor_min": t.min,
        "replication_factor_max": t.max,
        "name": t.name,
        "mode": t.mode,
        "shard_size": 0,
        "user_allocations": null,
        "expire_at": "0001-01-01T00:00:00Z",
        "metadata": null,
        "pin_update": null,
        "origins": [],
        "timestamp": "2026-01-01T00:00:00Z",
    })
}

fn status_json(cid: &str, t: &Tracked, failing: bool) -> serde_json::Value {
    let peer_map: serde_json::Map<String, serde_json::Value> = PEERS
        .iter()
        .enumerate()
        .map(|(i, (id, name))| {
            let (status, error) = match (t.allocations.contains(&i), failing, t.checks) {
                (false, _, _) => ("remote", ""),
                (true, true, c) if c > 1 => ("pin_error", "context canceled: the DAG could not be found"),
                (true, _, 1) => ("pin_queued", ""),
                (true, false, 2) => ("pinning", ""),
                (true, false, _) => ("pinned", ""),
                (true, true, _) => ("pinning", ""),
            };
            let info = serde_json::json!({
                "peername": name, "ipfs_peer_id": id, "ipfs_peer_addresses": [], "status": status,
                "timestamp": "2026-01-01T00:00:00Z", "error": error, "attempt_count": 0, "priority_pin": false,
            });
            (id.to_string(), info)
        })
        .collect();
    serde_json::json!({
        "cid": { "/": cid },
        "name": t.name,
        "allocations": t.allocations.iter().map(|i| PEERS[*i].0).collect::<Vec<_>>(),
        "origins": [],
        "created": "2026-01-01T00:00:00Z",
        "metadata": null,
        "peer_map": peer_map,
    })
}
