//! CAR streams from a gateway, verified as they arrive.
//!
//! The body is read on the async runtime and handed over a small channel to
//! a blocking thread, where [`CarReader`] parses it: so the synchronous,
//! verifying reader is reused as it is, and memory stays bounded by a few
//! chunks and a few blocks whatever the size of the DAG. The stream also
//! checks what the reader cannot: that the blocks belong to the DAG asked for
//! and that none is missing when the stream ends, since a gateway that loses
//! a block part way still answered `200 OK` (the spec makes clients check).

use super::error::RemoteError;
use super::MEDIA_CAR;
use crate::formats::block::{Block, IDENTITY};
use crate::formats::car::CarReader;
use crate::formats::links::{links, LinksError};
use cid::Cid;
use reqwest::Response;
use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::time::Duration;
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio::task::AbortHandle;
use tokio::time::timeout;

/// What a CAR request asks for: the DAG-ordered, duplicate-free CARv1 that
/// lets the stream check order and completeness as it goes.
pub(super) const ACCEPT_CAR: &str = "application/vnd.ipld.car; version=1; order=dfs; dups=n";

/// Body chunks and parsed blocks in flight between the three stages.
const CHUNKS_IN_FLIGHT: usize = 8;
const BLOCKS_IN_FLIGHT: usize = 16;

/// How many blocks outside the DAG a `dag-scope=all` stream may carry before
/// the gateway is taken to be wasting the client's time.
pub const MAX_UNRELATED_BLOCKS: usize = 1024;

/// Which blocks a CAR request asks for (the `dag-scope` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DagScope {
    /// The root block only.
    Block,
    /// What is needed to read the root as one entity: a whole UnixFS file,
    /// or a directory's own blocks without its children.
    Entity,
    /// Every block reachable from the root.
    All,
}

impl DagScope {
    /// Parses the parameter's value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "block" => Some(DagScope::Block),
            "entity" => Some(DagScope::Entity),
            "all" => Some(DagScope::All),
            _ => None,
        }
    }

    /// The parameter's value.
    pub fn as_str(self) -> &'static str {
        match self {
            DagScope::Block => "block",
            DagScope::Entity => "entity",
            DagScope::All => "all",
        }
    }
}

/// What a response's `Content-Type` says about its CAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CarParams {
    /// Blocks come in depth-first order (`order=dfs`).
    pub dfs: bool,
}

/// Reads `application/vnd.ipld.car; version=1; order=...` and friends.
/// `None` if the media type is not a CARv1.
pub(super) fn car_params(content_type: &str) -> Option<CarParams> {
    let mut parts = content_type.split(';').map(str::trim);
    if !parts.next()?.eq_ignore_ascii_case(MEDIA_CAR) {
        return None;
    }
    let mut params = CarParams { dfs: false };
    for part in parts {
        let Some((key, value)) = part.split_once('=') else { continue };
        let value = value.trim().trim_matches('"');
        match key.trim().to_ascii_lowercase().as_str() {
            "version" if value != "1" => return None,
            "order" => params.dfs = value.eq_ignore_ascii_case("dfs"),
            _ => {}
        }
    }
    Some(params)
}

/// Verified blocks of one CAR response, in the order the gateway sent them.
/// After an error, the stream ends. Dropping it cancels the download.
pub struct CarStream {
    blocks: mpsc::Receiver<Result<Block, RemoteError>>,
    gateway: String,
    root: Cid,
    pump: AbortHandle,
}

impl CarStream {
    /// Starts reading `response` (already checked to be a CAR).
    pub(super) fn start(
        response: Response,
        permit: OwnedSemaphorePermit,
        gateway: String,
        root: Cid,
        scope: DagScope,
        params: CarParams,
        idle: Duration,
    ) -> Self {
        let (chunk_tx, chunk_rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
        let (block_tx, block_rx) = mpsc::channel(BLOCKS_IN_FLIGHT);
        let pump = tokio::spawn(pump(response, chunk_tx, idle, permit)).abort_handle();
        let check = Completeness::new(root, scope, params.dfs);
        let label = gateway.clone();
        // Detached: it ends when the body ends or when either channel closes.
        drop(tokio::task::spawn_blocking(move || {
            parse(BodyReader { chunks: chunk_rx, chunk: bytes::Bytes::new(), pos: 0 }, &block_tx, check, &label, root)
        }));
        CarStream { blocks: block_rx, gateway, root, pump }
    }

    /// The gateway that is sending the stream.
    pub fn gateway(&self) -> &str {
        &self.gateway
    }

    /// The root asked for.
    pub fn root(&self) -> &Cid {
        &self.root
    }

    /// The next verified block, an error (after which the stream ends), or
    /// `None` when the stream ended complete.
    pub async fn next(&mut self) -> Option<Result<Block, RemoteError>> {
        self.blocks.recv().await
    }
}

impl std::fmt::Debug for CarStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CarStream").field("gateway", &self.gateway).field("root", &self.root).finish()
    }
}

impl Drop for CarStream {
    fn drop(&mut self) {
        // Stops the download at once rather than at the next idle timeout;
        // the parser then sees the body end and the closed block channel.
        self.pump.abort();
    }
}

/// Moves body chunks to the parser, giving up when none comes for `idle`.
/// Holds the concurrency permit for as long as the download runs.
async fn pump(
    mut response: Response,
    chunks: mpsc::Sender<io::Result<bytes::Bytes>>,
    idle: Duration,
    _permit: OwnedSemaphorePermit,
) {
    loop {
        let next = match timeout(idle, response.chunk()).await {
            Ok(Ok(Some(chunk))) => Ok(chunk),
            Ok(Ok(None)) => return,
            Ok(Err(e)) => Err(io::Error::other(e)),
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, format!("the gateway sent nothing for {idle:?}"))),
        };
        let failed = next.is_err();
        if chunks.send(next).await.is_err() || failed {
            return;
        }
    }
}

/// The body as a blocking [`Read`], for [`CarReader`].
struct BodyReader {
    chunks: mpsc::Receiver<io::Result<bytes::Bytes>>,
    chunk: bytes::Bytes,
    pos: usize,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.chunks.blocking_recv() {
                Some(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Parses the CAR and sends each verified block of the DAG on, then checks
/// completeness. Stops at the first error or when the receiver is gone.
fn parse(
    body: BodyReader,
    blocks: &mpsc::Sender<Result<Block, RemoteError>>,
    mut check: Completeness,
    gateway: &str,
    root: Cid,
) {
    let send = |item| blocks.blocking_send(item).is_ok();
    let car_error = |source| RemoteError::Car { gateway: gateway.to_string(), cid: root, source };
    // The header's roots are not looked at: the trustless gateway spec leaves
    // them unspecified and tells clients to ignore them.
    let mut car = match CarReader::new(body) {
        Ok(car) => car,
        Err(e) => {
            send(Err(car_error(e)));
            return;
        }
    };
    loop {
        match car.next_block() {
            Ok(Some(block)) => match check.accept(&block) {
                Ok(true) => {
                    if !send(Ok(block)) {
                        return;
                    }
                }
                Ok(false) if check.unrelated > MAX_UNRELATED_BLOCKS => {
                    send(Err(RemoteError::Unrelated {
                        gateway: gateway.to_string(),
                        cid: root,
                        count: check.unrelated,
                    }));
                    return;
                }
                Ok(false) => {}
                Err(source) => {
                    send(Err(RemoteError::Links { gateway: gateway.to_string(), cid: root, source }));
                    return;
                }
            },
            Ok(None) => break,
            Err(e) => {
                send(Err(car_error(e)));
                return;
            }
        }
    }
    if let Some(missing) = check.missing() {
        send(Err(RemoteError::Incomplete { gateway: gateway.to_string(), cid: root, missing }));
    }
}

/// Which blocks of a CAR to keep, and whether the DAG arrived whole.
///
/// Duplicates are dropped. With `dag-scope=all` the links of every block are
/// read; in a depth-first stream a block nobody linked to yet is not part of
/// the DAG and is ignored, as the spec asks; in a stream of unknown order
/// every verified block is kept (it is content-addressed, so harmless) and
/// the DAG is walked at the end. For the other scopes only the root is
/// required: where an entity ends depends on UnixFS, which is not read here.
pub(super) struct Completeness {
    root: Cid,
    all: bool,
    dfs: bool,
    seen: HashSet<Cid>,
    expected: HashSet<Cid>,
    links: HashMap<Cid, Vec<Cid>>,
    /// Blocks ignored because they are outside the DAG.
    pub(super) unrelated: usize,
}

impl Completeness {
    pub(super) fn new(root: Cid, scope: DagScope, dfs: bool) -> Self {
        let mut expected = HashSet::new();
        expand(root, &mut expected);
        let all = scope == DagScope::All;
        Completeness { root, all, dfs, seen: HashSet::new(), expected, links: HashMap::new(), unrelated: 0 }
    }

    /// Whether to hand `block` on.
    pub(super) fn accept(&mut self, block: &Block) -> Result<bool, LinksError> {
        let cid = *block.cid();
        if self.seen.contains(&cid) {
            return Ok(false);
        }
        if self.all {
            if self.dfs && !self.expected.contains(&cid) {
                self.unrelated += 1;
                return Ok(false);
            }
            let children = links(&cid, block.data())?;
            if self.dfs {
                for child in &children {
                    expand(*child, &mut self.expected);
                }
            }
            self.links.insert(cid, children);
        }
        self.seen.insert(cid);
        Ok(true)
    }

    /// The first block of the DAG that did not arrive, if any.
    pub(super) fn missing(&self) -> Option<Cid> {
        if !self.all {
            return (self.root.hash().code() != IDENTITY && !self.seen.contains(&self.root)).then_some(self.root);
        }
        let mut stack = vec![self.root];
        let mut visited = HashSet::new();
        while let Some(cid) = stack.pop() {
            if !visited.insert(cid) {
                continue;
            }
            if cid.hash().code() == IDENTITY {
                stack.extend(identity_links(&cid));
                continue;
            }
            match self.links.get(&cid) {
                Some(children) => stack.extend(children.iter().rev()),
                None => return Some(cid),
            }
        }
        None
    }
}

/// Adds `cid` to `expected`, and for an identity CID (never sent in a CAR,
/// its bytes are in the CID) the blocks it links to.
fn expand(cid: Cid, expected: &mut HashSet<Cid>) {
    if cid.hash().code() != IDENTITY {
        expected.insert(cid);
        return;
    }
    // An identity block's links are in its (short) digest; the recursion is
    // bounded because each level is strictly shorter than the one above.
    for child in identity_links(&cid) {
        expand(child, expected);
    }
}

/// The links inside an identity CID's inline bytes (none if unreadable).
fn identity_links(cid: &Cid) -> Vec<Cid> {
    links(cid, cid.hash().digest()).unwrap_or_default()
}
