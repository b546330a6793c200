//! CAR streams from a gateway, verified as they arrive.
//!
//! The body is parsed with [`CarDecoder`] as its chunks arrive, on the task
//! that awaits the stream. The stream also checks what the decoder cannot:
//! that the blocks belong to the DAG asked for and that none is missing when
//! the stream ends, since a gateway that loses a block part way still
//! answered `200 OK` (the spec makes clients check).

use super::error::RemoteError;
use super::MEDIA_CAR;
use crate::formats::block::{Block, IDENTITY};
use crate::formats::car::{CarDecoder, CarError};
use crate::formats::links::{block_links, links, LinksError};
use bytes::Bytes;
use cid::Cid;
use futures::{Stream, StreamExt};
use reqwest::Response;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{timeout, Instant};

/// What a CAR request asks for: the DAG-ordered, duplicate-free CARv1 that
/// lets the stream check order and completeness as it goes.
pub(super) const ACCEPT_CAR: &str = "application/vnd.ipld.car; version=1; order=dfs; dups=n";

/// How many blocks outside the DAG a `dag-scope=all` stream may carry before
/// the gateway is taken to be wasting the client's time.
pub const MAX_UNRELATED_BLOCKS: usize = 1024;

/// The slowest average rate, in bytes per second, a CAR stream may keep up
/// once its first `timeout` has passed. A gateway sending a few bytes just
/// inside each idle timeout would otherwise hold a download for as long as
/// its byte budget lasts: with this floor, a stream of `n` bytes takes at
/// most `timeout + n / MIN_CAR_RATE`.
pub const MIN_CAR_RATE: u64 = 64 * 1024;

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

/// The bytes of a CAR as they arrive.
pub(crate) type Body = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// A response's body as a [`Body`].
fn body_of(response: Response) -> Body {
    Box::pin(futures::stream::unfold(response, |mut response| async move {
        match response.chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), response)),
            Ok(None) => None,
            Err(e) => Some((Err(io::Error::other(e)), response)),
        }
    }))
}

/// Verified blocks of one CAR response, in the order the gateway sent them.
/// After an error, the stream ends. Dropping it cancels the download.
///
/// The body is parsed where [`CarStream::next`] is awaited, each block
/// verified there as its last byte arrives: from blocking code (see
/// [`crate::store::RemoteStore::get_car`]) that is the caller's own thread,
/// so parallel downloads hash on as many threads, and no block crosses a
/// thread on its way. A large block is handed on as slices of the chunks it
/// arrived in, not copied (see [`CarDecoder::feed_shared`]). Memory stays
/// bounded by one block's chunks whatever the size of the DAG.
pub struct CarStream {
    body: Body,
    decoder: CarDecoder,
    /// Blocks decoded from the last chunk and not yet handed out.
    ready: VecDeque<Block>,
    check: Completeness,
    gateway: String,
    root: Cid,
    idle: Duration,
    /// When the stream started, for its [`MIN_CAR_RATE`] bound.
    started: Instant,
    done: bool,
    /// An error found after the blocks in `ready`, returned after them.
    failed: Option<RemoteError>,
    /// Held for as long as the download runs.
    _permit: Option<OwnedSemaphorePermit>,
}

impl CarStream {
    /// Starts reading `response` (already checked to be a CAR).
    pub(super) fn start(
        response: Response,
        permit: OwnedSemaphorePermit,
        gateway: String,
        root: Cid,
        check: Completeness,
        idle: Duration,
    ) -> Self {
        CarStream::of_body(body_of(response), Some(permit), gateway, root, check, idle)
    }

    /// Starts reading the CAR of the whole DAG under `root`, in any block
    /// order, that `source` (a name for messages) sends as `body`; each
    /// chunk may take `idle`.
    pub(crate) fn of_dag(body: Body, source: String, root: Cid, idle: Duration) -> Self {
        CarStream::of_body(body, None, source, root, Completeness::new(root, DagScope::All, false), idle)
    }

    fn of_body(
        body: Body,
        permit: Option<OwnedSemaphorePermit>,
        gateway: String,
        root: Cid,
        check: Completeness,
        idle: Duration,
    ) -> Self {
        CarStream {
            body,
            decoder: CarDecoder::new(),
            ready: VecDeque::new(),
            check,
            gateway,
            root,
            idle,
            started: Instant::now(),
            done: false,
            failed: None,
            _permit: permit,
        }
    }

    /// The gateway that is sending the stream.
    pub fn gateway(&self) -> &str {
        &self.gateway
    }

    /// The root asked for.
    pub fn root(&self) -> &Cid {
        &self.root
    }

    /// Bytes of the body read so far, blocks dropped as duplicates or
    /// outside the DAG included.
    pub fn bytes_read(&self) -> u64 {
        self.decoder.offset()
    }

    /// The next verified block, an error (after which the stream ends), or
    /// `None` when the stream ended complete.
    pub async fn next(&mut self) -> Option<Result<Block, RemoteError>> {
        let result = self.advance().await;
        if !matches!(result, Some(Ok(_))) {
            self.done = true;
            self.ready.clear();
        }
        result
    }

    async fn advance(&mut self) -> Option<Result<Block, RemoteError>> {
        if self.done {
            return None;
        }
        // The header's roots are not looked at: the trustless gateway spec
        // leaves them unspecified and tells clients to ignore them.
        loop {
            while let Some(block) = self.ready.pop_front() {
                match self.check.accept(&block) {
                    Ok(true) => return Some(Ok(block)),
                    Ok(false) if self.check.unrelated > MAX_UNRELATED_BLOCKS => {
                        let count = self.check.unrelated;
                        return Some(Err(RemoteError::Unrelated {
                            gateway: self.gateway.clone(),
                            cid: self.root,
                            count,
                        }));
                    }
                    Ok(false) => {}
                    Err(source) => {
                        return Some(Err(RemoteError::Links { gateway: self.gateway.clone(), cid: self.root, source }))
                    }
                }
            }
            if let Some(e) = self.failed.take() {
                return Some(Err(e));
            }
            // The next chunk may take the idle timeout, but not past the
            // time the bytes so far allow at the minimum rate.
            let read = self.decoder.offset();
            let allowed = self.idle + Duration::from_secs_f64(read as f64 / MIN_CAR_RATE as f64);
            let deadline = self.started + allowed;
            let now = Instant::now();
            if now >= deadline {
                let e = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the gateway sent {read} bytes in {:.1?}, slower than the minimum of {} KiB/s",
                        now - self.started,
                        MIN_CAR_RATE / 1024
                    ),
                );
                return Some(Err(self.io_error(e)));
            }
            let wait = self.idle.min(deadline - now);
            let chunk = match timeout(wait, self.body.next()).await {
                Ok(Some(Ok(chunk))) => chunk,
                Ok(None) => {
                    if let Err(e) = self.decoder.finish() {
                        return Some(Err(self.car_error(e)));
                    }
                    let missing = self.check.missing()?;
                    return Some(Err(RemoteError::Incomplete {
                        gateway: self.gateway.clone(),
                        cid: self.root,
                        missing,
                    }));
                }
                Ok(Some(Err(e))) => return Some(Err(self.io_error(e))),
                // Past the rate's deadline, the check above says so.
                Err(_) if wait < self.idle => continue,
                Err(_) => {
                    let idle = self.idle;
                    let e = io::Error::new(io::ErrorKind::TimedOut, format!("the gateway sent nothing for {idle:?}"));
                    return Some(Err(self.io_error(e)));
                }
            };
            let ready = &mut self.ready;
            if let Err(e) = self.decoder.feed_shared(chunk, &mut |block| ready.push_back(block)) {
                // The blocks before the bad one are still good.
                if self.ready.is_empty() {
                    return Some(Err(self.car_error(e)));
                }
                self.failed = Some(self.car_error(e));
            }
        }
    }

    fn car_error(&self, source: CarError) -> RemoteError {
        RemoteError::Car { gateway: self.gateway.clone(), cid: self.root, source }
    }

    fn io_error(&self, source: io::Error) -> RemoteError {
        self.car_error(CarError::Io { offset: self.decoder.offset(), source })
    }
}

impl std::fmt::Debug for CarStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CarStream").field("gateway", &self.gateway).field("root", &self.root).finish()
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
    /// Keep only blocks linked from the root through blocks kept.
    linked: bool,
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
        Completeness {
            root,
            all,
            dfs,
            linked: false,
            seen: HashSet::new(),
            expected,
            links: HashMap::new(),
            unrelated: 0,
        }
    }

    /// For a path's CAR: only the root is required, and only blocks linked
    /// from it through blocks already kept are kept, so a gateway cannot
    /// fill the store with blocks nobody asked for.
    pub(super) fn linked(root: Cid) -> Self {
        Completeness { linked: true, ..Completeness::new(root, DagScope::Entity, true) }
    }

    /// Whether to hand `block` on.
    pub(super) fn accept(&mut self, block: &Block) -> Result<bool, LinksError> {
        let cid = *block.cid();
        // Duplicates count against the same budget as unrelated blocks, so
        // that a gateway repeating a block cannot keep a stream going.
        if self.seen.contains(&cid) {
            self.unrelated += 1;
            return Ok(false);
        }
        if self.linked {
            if !self.expected.contains(&cid) {
                self.unrelated += 1;
                return Ok(false);
            }
            for child in block_links(block)? {
                expand(child, &mut self.expected);
            }
        } else if self.all {
            if self.dfs && !self.expected.contains(&cid) {
                self.unrelated += 1;
                return Ok(false);
            }
            let children = block_links(block)?;
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
