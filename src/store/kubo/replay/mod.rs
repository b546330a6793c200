//! A stand-in for kubo's RPC API in contract tests: real HTTP on
//! `127.0.0.1` with a port of its own, answering the commands this crate
//! sends as the kubo RPC reference and kubo's command library document them,
//! over an in-memory repository:
//!
//! - `POST` only (anything else is `405 - Method Not Allowed`, as kubo
//!   answers), arguments in `arg`, flags in the query string, files as
//!   `multipart/form-data`;
//! - errors as status 500 with `{"Message": ..., "Code": 0, "Type": "error"}`,
//!   kubo's messages included (`ipld: could not find <cid>`, `routing: not
//!   found`, `context deadline exceeded`);
//! - `block/get` streams the bytes with `X-Stream-Output: 1`; `routing/get`
//!   and `dag/import` stream JSON values, one per line, with
//!   `X-Chunked-Output: 1`; `routing/get` carries the record base64-encoded
//!   in `Extra` with `Type` 5, as kubo's `routing get` emits it;
//! - `dag/export` checks the root is there (an error otherwise), then
//!   streams the CAR (`application/vnd.ipld.car`) depth-first without
//!   duplicates; a block missing further down ends the stream early (kubo
//!   names the error in an `X-Stream-Error` trailer, which clients reading
//!   bytes do not see).
//!
//! It behaves as a node on the network does ([`online`]): it searches for
//! what it lacks until the request's timeout, fails to put a record
//! without peers, refuses routing offline, writes argument errors as plain
//! text, and sends an error met after a `200` began in the `X-Stream-Error`
//! trailer. It records each request for tests to check, and can misbehave.

mod online;

pub use online::{Network, SEARCH_FOR_GOOD, STREAM_ERROR};

use crate::formats::block::{cid_to_string, Block, RAW, SHA2_256};
use crate::formats::car::CarReader;
use crate::formats::ipns::{verify_record, IpnsName};
use crate::store::dag::missing_blocks;
use crate::store::{BlockStore, MemoryStore};
use axum::extract::{FromRequest, Multipart, Query, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use cid::Cid;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::runtime::{Builder, Runtime};

/// How the node misbehaves. The default is a correct node.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// `block/get` answers with other bytes than the block's.
    pub wrong_bytes: bool,
    /// `block/get` and `dag/export` send this block with a byte changed, as
    /// a node whose disk rotted would.
    pub corrupt: Option<Cid>,
    /// `block/put` answers with the key of other bytes.
    pub wrong_key: bool,
    /// Every command waits this long before answering.
    pub hang: Option<Duration>,
    /// Where the node stands on the network.
    pub network: Network,
    /// The version `version` answers [default: 0.41.0].
    pub version: Option<String>,
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The HTTP method.
    pub method: String,
    /// The path, such as `/api/v0/block/get`.
    pub path: String,
    /// The query string's pairs, in order.
    pub query: Vec<(String, String)>,
    /// The multipart files' field names.
    pub files: Vec<String>,
}

impl Seen {
    /// The value of query parameter `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

struct Shared {
    blocks: MemoryStore,
    pins: Mutex<HashSet<Cid>>,
    records: Mutex<HashMap<String, Vec<u8>>>,
    seen: Mutex<Vec<Seen>>,
    faults: Mutex<Faults>,
}

/// The stand-in node; stops when dropped.
pub struct KuboReplay {
    runtime: Option<Runtime>,
    url: String,
    shared: Arc<Shared>,
}

impl KuboReplay {
    /// Starts an empty node.
    pub fn start() -> Self {
        let shared = Arc::new(Shared {
            blocks: MemoryStore::new(),
            pins: Mutex::new(HashSet::new()),
            records: Mutex::new(HashMap::new()),
            seen: Mutex::new(Vec::new()),
            faults: Mutex::new(Faults::default()),
        });
        // kubo takes uploads of any size (a CAR of many artifacts).
        let app = Router::new()
            .route("/api/v0/{*command}", any(command))
            .layer(axum::extract::DefaultBodyLimit::max(1 << 30))
            .with_state(Arc::clone(&shared));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let runtime = Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
        KuboReplay { runtime: Some(runtime), url, shared }
    }

    /// The RPC address, as `--kubo` takes it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Puts blocks in the node's repository (unpinned).
    pub fn hold(&self, blocks: &[Block]) {
        for block in blocks {
            self.shared.blocks.put(block).unwrap();
        }
    }

    /// Whether the repository has the block.
    pub fn holds(&self, cid: &Cid) -> bool {
        self.shared.blocks.has(cid).unwrap()
    }

    /// The pinned roots.
    pub fn pins(&self) -> HashSet<Cid> {
        self.shared.pins.lock().unwrap().clone()
    }

    /// Sets the record kept for `name`, unverified.
    pub fn set_record(&self, name: &IpnsName, bytes: Vec<u8>) {
        self.shared.records.lock().unwrap().insert(name.to_string(), bytes);
    }

    /// The record kept for `name`.
    pub fn record(&self, name: &IpnsName) -> Option<Vec<u8>> {
        self.shared.records.lock().unwrap().get(&name.to_string()).cloned()
    }

    /// Changes how the node misbehaves.
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap() = faults;
    }

    /// The requests so far, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }
}

impl Drop for KuboReplay {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// kubo's error answer.
fn error(status: StatusCode, message: &str) -> Response {
    if message == online::SEARCHING {
        return (StatusCode::INTERNAL_SERVER_ERROR, [(online::SEARCHING_HEADER, "1")]).into_response();
    }
    let body =
        serde_json::json!({ "Message": message, "Code": u8::from(status == StatusCode::BAD_REQUEST), "Type": "error" });
    (status, [(header::CONTENT_TYPE, "application/json")], format!("{body}\n")).into_response()
}

/// A single JSON value, as kubo sends a command's one result.
fn single(value: serde_json::Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json".parse().unwrap()), online::trailer_header()], format!("{value}\n"))
        .into_response()
}

/// JSON values one per line, as kubo streams a channel of results.
fn chunked(values: Vec<serde_json::Value>) -> Response {
    let body: String = values.iter().map(|v| format!("{v}\n")).collect();
    (
        [
            (header::CONTENT_TYPE, "application/json".parse().unwrap()),
            (header::HeaderName::from_static("x-chunked-output"), "1".parse().unwrap()),
            online::trailer_header(),
        ],
        body,
    )
        .into_response()
}

fn not_found(cid: &Cid) -> String {
    format!("ipld: could not find {}", cid_to_string(cid))
}

async fn command(
    State(shared): State<Arc<Shared>>,
    method: Method,
    axum::extract::Path(command): axum::extract::Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    request: axum::extract::Request,
) -> Response {
    let mut files = Vec::new();
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if is_form {
        let Ok(mut multipart) = Multipart::from_request(request, &()).await else {
            return online::plain_400("unreadable multipart body");
        };
        while let Ok(Some(field)) = multipart.next_field().await {
            let name = field.name().unwrap_or_default().to_string();
            let Ok(bytes) = field.bytes().await else { return online::plain_400("unreadable body") };
            files.push((name, bytes.to_vec()));
        }
    }
    let seen = Seen {
        method: method.to_string(),
        path: format!("/api/v0/{command}"),
        query: query.clone(),
        files: files.iter().map(|(n, _)| n.clone()).collect(),
    };
    shared.seen.lock().unwrap().push(seen.clone());
    let faults = shared.faults.lock().unwrap().clone();
    if let Some(hang) = faults.hang {
        tokio::time::sleep(hang).await;
    }
    if method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, "405 - Method Not Allowed").into_response();
    }
    let arg = seen.param("arg").map(str::to_string);
    let offline = seen.param("offline") == Some("true") || faults.network == Network::Offline;
    let file = files.into_iter().next().map(|(_, bytes)| bytes);
    let cid_arg = || -> Result<Cid, Response> {
        let arg = arg.as_deref().ok_or_else(|| online::plain_400("argument \"cid\" is required"))?;
        crate::formats::block::parse_cid(arg.trim_start_matches("/ipfs/"))
            .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &format!("invalid path {arg:?}: {e}")))
    };
    let file_arg = |file: Option<Vec<u8>>| file.ok_or_else(|| online::plain_400("file argument 'data' is required"));
    let result: Result<Response, Response> = (|| match command.as_str() {
        "version" => Ok(single(serde_json::json!({
            "Commit": "", "Golang": "go1.25.0", "Repo": "16", "System": "amd64/linux",
            "Version": faults.version.as_deref().unwrap_or("0.41.0")
        }))),
        "block/get" => {
            let cid = cid_arg()?;
            match shared.blocks.get(&cid).unwrap() {
                Some(mut bytes) => {
                    if faults.wrong_bytes {
                        bytes.push(b'!');
                    }
                    if faults.corrupt == Some(cid) && !bytes.is_empty() {
                        bytes[0] ^= 1;
                    }
                    Ok((
                        [
                            (header::CONTENT_TYPE, "text/plain".parse().unwrap()),
                            (header::HeaderName::from_static("x-stream-output"), "1".parse().unwrap()),
                            online::trailer_header(),
                        ],
                        bytes,
                    )
                        .into_response())
                }
                None if offline => Err(error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("block was not found locally (offline): {}", not_found(&cid)),
                )),
                // Online, kubo searches the network until its timeout.
                None => Err(error(StatusCode::INTERNAL_SERVER_ERROR, online::SEARCHING)),
            }
        }
        "block/stat" => {
            let cid = cid_arg()?;
            match shared.blocks.get(&cid).unwrap() {
                Some(bytes) => Ok(single(serde_json::json!({ "Key": cid_to_string(&cid), "Size": bytes.len() }))),
                None => Err(error(StatusCode::INTERNAL_SERVER_ERROR, &not_found(&cid))),
            }
        }
        "block/put" => {
            let mut data = file_arg(file)?;
            let codec = match seen.param("cid-codec").unwrap_or("raw") {
                "raw" => RAW,
                "dag-pb" => crate::formats::block::DAG_PB,
                "dag-cbor" => crate::formats::block::DAG_CBOR,
                other => return Err(error(StatusCode::INTERNAL_SERVER_ERROR, &format!("unknown codec {other}"))),
            };
            if seen.param("mhtype").unwrap_or("sha2-256") != "sha2-256" {
                return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "unsupported mhtype in this stand-in"));
            }
            let block = Block::encode(codec, false, data.clone());
            shared.blocks.put(&block).unwrap();
            if faults.wrong_key {
                data.push(b'!');
            }
            let key = Cid::new_v1(codec, crate::formats::block::sha256(&data));
            debug_assert_eq!(key.hash().code(), SHA2_256);
            Ok(single(serde_json::json!({ "Key": cid_to_string(&key), "Size": data.len() })))
        }
        "dag/export" => {
            let root = cid_arg()?;
            if !shared.blocks.has(&root).unwrap() {
                return match offline {
                    true => Err(error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &format!("block was not found locally (offline): {}", not_found(&root)),
                    )),
                    // kubo stats the root first, online: a search.
                    false => Err(error(StatusCode::INTERNAL_SERVER_ERROR, online::SEARCHING)),
                };
            }
            let mut car = crate::formats::car::CarWriter::new(Vec::new(), &[root]).unwrap();
            let walked = crate::store::dag::walk(&shared.blocks, &root, &mut |block| {
                let (cid, mut bytes) = block.into_parts();
                if (faults.wrong_bytes || faults.corrupt == Some(cid)) && !bytes.is_empty() {
                    bytes[0] ^= 1;
                }
                car.write_block(&Block::verified(cid, bytes)).unwrap();
                Ok(())
            });
            // A block missing further down: the CAR ends there, and the
            // error follows in the trailer (online, after the search).
            let failure = walked.err().map(|e| match offline {
                true => (Duration::ZERO, format!("block was not found locally (offline): {e}")),
                false => (online::wait(seen.param("timeout")), "context deadline exceeded".to_string()),
            });
            Ok(online::streamed("application/vnd.ipld.car", car.finish().unwrap(), failure))
        }
        "dag/import" => {
            let car = file_arg(file)?;
            let mut reader = CarReader::new(car.as_slice())
                .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &format!("invalid CAR: {e}")))?;
            let roots = reader.roots().to_vec();
            while let Some(block) =
                reader.next_block().map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?
            {
                shared.blocks.put(&block).unwrap();
            }
            let pin = seen.param("pin-roots") != Some("false");
            let lines = roots
                .iter()
                .map(|root| {
                    let mut message = String::new();
                    if pin {
                        match missing_blocks(&shared.blocks, root).unwrap().first() {
                            Some(missing) if offline => {
                                message = format!(
                                    "pinning root {root}: block was not found locally (offline): {}",
                                    not_found(missing)
                                )
                            }
                            // Online, pinning a partial DAG searches the
                            // network for the rest (kubo#10159).
                            Some(_) => return Err(error(StatusCode::INTERNAL_SERVER_ERROR, online::SEARCHING)),
                            None => {
                                shared.pins.lock().unwrap().insert(*root);
                            }
                        }
                    }
                    Ok(serde_json::json!({ "Root": { "Cid": { "/": cid_to_string(root) }, "PinErrorMsg": message } }))
                })
                .collect::<Result<Vec<_>, Response>>()?;
            Ok(chunked(lines))
        }
        "pin/ls" => {
            let cid = cid_arg()?;
            match shared.pins.lock().unwrap().contains(&cid) {
                true => Ok(single(
                    serde_json::json!({ "Keys": { cid_to_string(&cid): { "Type": "recursive", "Name": "" } } }),
                )),
                false => Err(error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("path '{}' is not pinned", cid_to_string(&cid)),
                )),
            }
        }
        "pin/add" => {
            let cid = cid_arg()?;
            if missing_blocks(&shared.blocks, &cid).unwrap().is_empty() {
                shared.pins.lock().unwrap().insert(cid);
                return Ok(single(serde_json::json!({ "Pins": [cid_to_string(&cid)] })));
            }
            if offline {
                return Err(error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("block was not found locally (offline): {}", not_found(&cid)),
                ));
            }
            // Online, kubo searches the network for what it lacks, until the
            // request's timeout (or for good without one).
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, online::SEARCHING))
        }
        "routing/get" => {
            if faults.network == Network::Offline {
                return Err(error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "this action must be run in online mode, try running 'ipfs daemon' first",
                ));
            }
            let key = arg.clone().unwrap_or_default();
            let name = key.strip_prefix("/ipns/").unwrap_or(&key);
            match shared.records.lock().unwrap().get(name) {
                Some(bytes) => Ok(chunked(vec![serde_json::json!({
                    "Extra": data_encoding::BASE64.encode(bytes), "ID": "", "Responses": null, "Type": 5
                })])),
                None => Err(error(StatusCode::INTERNAL_SERVER_ERROR, "routing: not found")),
            }
        }
        "routing/put" => {
            let bytes = file_arg(file)?;
            let key = arg.clone().unwrap_or_default();
            let name: IpnsName = key
                .strip_prefix("/ipns/")
                .unwrap_or(&key)
                .parse()
                .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}")))?;
            verify_record(&name, &bytes, SystemTime::now())
                .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
            if faults.network == Network::Offline && seen.param("allow-offline") != Some("true") {
                return Err(error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "can't put while offline: pass `--allow-offline` to override",
                ));
            }
            shared.records.lock().unwrap().insert(name.to_string(), bytes);
            if faults.network == Network::Peerless {
                // Kept in the node's datastore; the DHT put finds no one.
                return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "failed to find any peer in table"));
            }
            Ok(chunked(vec![serde_json::json!({ "Extra": "", "ID": name.to_string(), "Responses": null, "Type": 5 })]))
        }
        _ => Ok((StatusCode::NOT_FOUND, "404 page not found").into_response()),
    })();
    match result {
        Ok(response) => response,
        Err(response) if response.headers().contains_key(online::SEARCHING_HEADER) => {
            online::search(seen.param("timeout")).await
        }
        Err(response) => response,
    }
}
