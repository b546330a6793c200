//! A trustless gateway and delegated routing endpoint for tests: real HTTP on
//! `127.0.0.1` with a port of its own, serving the blocks of a fixture CAR and
//! the IPNS records put to it, and able to misbehave on demand. It runs on a
//! runtime of its own (so blocking and async tests can both use it) and stops
//! when dropped.

use crate::formats::block::{Block, MAX_BLOCK_SIZE};
use crate::formats::car::{CarReader, CarWriter};
use crate::formats::ipns::{verify_record, IpnsName};
use crate::store::dag::{walk, WalkError};
use crate::store::{BlockStore, MemoryStore};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use cid::Cid;
use reqwest::Url;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::runtime::{Builder, Runtime};

/// The CAR the server serves: a directory with `hello.txt`, `ascii.txt` and
/// the five-leaf `multiblock.txt` (provenance in `tests/fixtures/ipfs/README.txt`).
pub(crate) const FIXTURE_CAR: &str = "gateway-conformance/fixtures/path_gateway_unixfs/dir-with-files.car";
/// The root directory of [`FIXTURE_CAR`].
pub(crate) const ROOT: &str = "bafybeihchr7vmgjaasntayyatmp5sv6xza57iy2h4xj7g46bpjij6yhrmy";
/// `hello.txt`, one raw block holding "hello world\n".
pub(crate) const HELLO: &str = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";
/// `multiblock.txt`, a dag-pb file node over five raw leaves.
pub(crate) const MULTIBLOCK: &str = "bafybeigcisqd7m5nf3qmuvjdbakl5bdnh4ocrmacaqkpuh77qjvggmt2sa";

/// Reads a file under `tests/fixtures/ipfs/`.
pub(crate) fn fixture(rel: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ipfs").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The blocks of [`FIXTURE_CAR`], in file order.
pub(crate) fn fixture_blocks() -> Vec<Block> {
    let car = fixture(FIXTURE_CAR);
    CarReader::new(car.as_slice()).unwrap().map(Result::unwrap).collect()
}

/// How the server misbehaves. The default is a correct gateway.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults {
    /// Answer block requests with other bytes than the block's.
    pub wrong_bytes: bool,
    /// Answer this many requests (of any kind) with 500 first.
    pub fail_first: usize,
    /// Wait this long before answering.
    pub hang: Option<Duration>,
    /// Cut CAR answers short.
    pub cut_car: Option<Cut>,
    /// Send CAR and record answers [`TRICKLE_BYTES`] at a time, one piece
    /// per period.
    pub trickle: Option<Duration>,
    /// Answer block requests with a body over `MAX_BLOCK_SIZE`.
    pub oversized: bool,
    /// Answer every record request with these bytes.
    pub record: Option<Vec<u8>>,
    /// Send CARs in reverse depth-first order (children before parents),
    /// as `order=unk`, with this many blocks of [`junk_blocks`] before the
    /// first block, as many in the middle and as many after the last.
    pub junk: Option<usize>,
}

/// Verified blocks outside every DAG the server holds, 1 KiB each.
pub(crate) fn junk_blocks(count: usize) -> Vec<Block> {
    (0..count).map(|i| Block::encode(crate::formats::block::RAW, false, vec![i as u8; 1024 + i])).collect()
}

/// How a CAR answer is cut short.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cut {
    /// Leave out this many bytes at the end (inside the last section).
    Bytes(usize),
    /// Leave out this many whole sections at the end.
    Blocks(usize),
}

struct Shared {
    blocks: MemoryStore,
    records: Mutex<HashMap<String, Vec<u8>>>,
    faults: Mutex<Faults>,
    requests: AtomicUsize,
    /// Bytes of trickled answers handed to the connection so far.
    trickled: Arc<AtomicUsize>,
}

/// A running test gateway.
pub(crate) struct TestGateway {
    runtime: Option<Runtime>,
    url: Url,
    shared: Arc<Shared>,
}

impl TestGateway {
    /// Starts a correct gateway serving the fixture blocks.
    pub(crate) fn start() -> Self {
        Self::with_faults(Faults::default())
    }

    /// Starts a gateway serving the fixture blocks with `faults`.
    pub(crate) fn with_faults(faults: Faults) -> Self {
        Self::serving(fixture_blocks(), faults)
    }

    /// Starts a gateway serving `served` with `faults`.
    pub(crate) fn serving(served: impl IntoIterator<Item = Block>, faults: Faults) -> Self {
        let blocks = MemoryStore::new();
        for block in served {
            blocks.put(&block).unwrap();
        }
        let shared = Arc::new(Shared {
            blocks,
            records: Mutex::new(HashMap::new()),
            faults: Mutex::new(faults),
            requests: AtomicUsize::new(0),
            trickled: Arc::new(AtomicUsize::new(0)),
        });
        let app = Router::new()
            .route("/ipfs/{cid}", get(ipfs))
            .route("/routing/v1/ipns/{name}", get(get_record).put(put_record))
            .with_state(Arc::clone(&shared));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let runtime = Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
        TestGateway { runtime: Some(runtime), url, shared }
    }

    /// Serves `block` besides the fixture's.
    pub(crate) fn put(&self, block: &Block) {
        self.shared.blocks.put(block).unwrap();
    }

    /// The base URL.
    pub(crate) fn url(&self) -> Url {
        self.url.clone()
    }

    /// The base URL as the client names it in messages.
    pub(crate) fn label(&self) -> String {
        self.url.as_str().trim_end_matches('/').to_string()
    }

    /// How many requests have arrived.
    pub(crate) fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// How many bytes of trickled answers were sent: less than the answer
    /// when its client went away before the end.
    pub(crate) fn trickled(&self) -> usize {
        self.shared.trickled.load(Ordering::SeqCst)
    }

    /// Stores a record to serve for `name`, unverified.
    pub(crate) fn set_record(&self, name: &IpnsName, bytes: Vec<u8>) {
        self.shared.records.lock().unwrap().insert(name.to_string(), bytes);
    }

    /// The record stored for `name`.
    pub(crate) fn record(&self, name: &IpnsName) -> Option<Vec<u8>> {
        self.shared.records.lock().unwrap().get(&name.to_string()).cloned()
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        // Does not wait for handlers still sleeping, and may run inside an
        // async test, where a blocking shutdown is not allowed.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Counts the request and applies the faults every endpoint shares. Returns
/// the faults, or the answer to give instead.
async fn misbehave(shared: &Shared) -> Result<Faults, Response> {
    let n = shared.requests.fetch_add(1, Ordering::SeqCst);
    let faults = shared.faults.lock().unwrap().clone();
    if n < faults.fail_first {
        return Err(StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    if let Some(hang) = faults.hang {
        tokio::time::sleep(hang).await;
    }
    Ok(faults)
}

async fn ipfs(
    State(shared): State<Arc<Shared>>,
    Path(cid): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let faults = match misbehave(&shared).await {
        Ok(faults) => faults,
        Err(answer) => return answer,
    };
    let Ok(cid) = Cid::try_from(cid.as_str()) else { return StatusCode::BAD_REQUEST.into_response() };
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let car = match query.get("format") {
        Some(format) => format == "car",
        None => accept.contains("vnd.ipld.car"),
    };
    if car {
        return serve_car(&shared, cid, &faults);
    }
    if faults.oversized {
        return ([(header::CONTENT_TYPE, super::MEDIA_RAW)], vec![0u8; MAX_BLOCK_SIZE + 1]).into_response();
    }
    let Some(mut bytes) = shared.blocks.get(&cid).unwrap() else { return StatusCode::NOT_FOUND.into_response() };
    if faults.wrong_bytes {
        bytes.push(b'!');
    }
    ([(header::CONTENT_TYPE, super::MEDIA_RAW)], bytes).into_response()
}

fn serve_car(shared: &Shared, root: Cid, faults: &Faults) -> Response {
    let cut = faults.cut_car;
    let mut dag = Vec::new();
    match walk(&shared.blocks, &root, &mut |block| {
        dag.push(block);
        Ok(())
    }) {
        Ok(()) => {}
        Err(WalkError::Missing { missing, .. }) if missing == root => return StatusCode::NOT_FOUND.into_response(),
        // A gateway that loses a child block part way still answers 200.
        Err(WalkError::Missing { .. }) => {}
        Err(e) => panic!("{e}"),
    }
    if let Some(Cut::Blocks(n)) = cut {
        dag.truncate(dag.len().saturating_sub(n));
    }
    let mut order = "dfs";
    if let Some(count) = faults.junk {
        order = "unk";
        let junk = junk_blocks(3 * count);
        dag.reverse();
        let middle = dag.split_off(dag.len() / 2);
        dag = [&junk[..count], &dag, &junk[count..2 * count], &middle, &junk[2 * count..]].concat();
    }
    let mut car = CarWriter::new(Vec::new(), &[root]).unwrap();
    for block in &dag {
        car.write_block(block).unwrap();
    }
    let mut bytes = car.finish().unwrap();
    if let Some(Cut::Bytes(n)) = cut {
        bytes.truncate(bytes.len().saturating_sub(n));
    }
    let content_type = format!("application/vnd.ipld.car; version=1; order={order}; dups=n");
    let content_type = [(header::CONTENT_TYPE, content_type)];
    (content_type, trickled(shared, faults, bytes)).into_response()
}

/// `bytes` as a body, trickled if the faults say so.
fn trickled(shared: &Shared, faults: &Faults, bytes: Vec<u8>) -> axum::body::Body {
    match faults.trickle {
        Some(every) => axum::body::Body::new(Trickle {
            bytes: Bytes::from(bytes),
            every,
            next: Box::pin(tokio::time::sleep(every)),
            sent: Arc::clone(&shared.trickled),
        }),
        None => axum::body::Body::from(bytes),
    }
}

/// How many bytes a trickling answer sends at a time.
pub(crate) const TRICKLE_BYTES: usize = 16;

/// A body that sends [`TRICKLE_BYTES`] every `every`, each piece well inside
/// any idle timeout longer than `every`.
struct Trickle {
    bytes: Bytes,
    every: Duration,
    next: std::pin::Pin<Box<tokio::time::Sleep>>,
    sent: Arc<AtomicUsize>,
}

impl http_body::Body for Trickle {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if self.bytes.is_empty() {
            return std::task::Poll::Ready(None);
        }
        std::task::ready!(std::future::Future::poll(self.next.as_mut(), cx));
        let every = self.every;
        self.next.as_mut().reset(tokio::time::Instant::now() + every);
        let n = TRICKLE_BYTES.min(self.bytes.len());
        let piece = self.bytes.split_to(n);
        self.sent.fetch_add(n, Ordering::SeqCst);
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(piece))))
    }
}

async fn get_record(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let faults = match misbehave(&shared).await {
        Ok(faults) => faults,
        Err(answer) => return answer,
    };
    let record = faults.record.clone().or_else(|| shared.records.lock().unwrap().get(&name).cloned());
    match record {
        Some(bytes) => {
            ([(header::CONTENT_TYPE, super::MEDIA_IPNS_RECORD)], trickled(&shared, &faults, bytes)).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn put_record(State(shared): State<Arc<Shared>>, Path(name): Path<String>, body: Bytes) -> Response {
    if let Err(answer) = misbehave(&shared).await {
        return answer;
    }
    let Ok(parsed) = name.parse::<IpnsName>() else { return StatusCode::BAD_REQUEST.into_response() };
    if verify_record(&parsed, &body, SystemTime::now()).is_err() {
        return StatusCode::BAD_REQUEST.into_response();
    }
    shared.records.lock().unwrap().insert(parsed.to_string(), body.to_vec());
    StatusCode::OK.into_response()
}
