//! CAR streams from a gateway, verified as they arrive.
//!
//! The body is parsed with [`CarDecoder`] as its chunks arrive, on the task
//! that awaits the stream. The stream also checks what the decoder cannot:
//! that the blocks belong to the DAG asked for and that none is missing when
//! the stream ends, since a gateway that loses a block part way still
//! answered `200 OK` (the spec makes clients check); see `completeness.rs`.
//! And it keeps the gateway to a pace: a stream of known size must end by a
//! deadline its size sets, so that a gateway that trickles gives way to the
//! next one in seconds.

use super::completeness::{Completeness, Refusal};
use super::error::{RemoteError, Target};
use super::health::Health;
use super::MEDIA_CAR;
use crate::formats::block::Block;
use crate::formats::car::{CarDecoder, CarError};
use bytes::Bytes;
use cid::Cid;
use futures::{Stream, StreamExt};
use reqwest::Response;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{timeout, Instant};

/// What a CAR request asks for: the DAG-ordered, duplicate-free CARv1 that
/// lets the stream check order and completeness as it goes.
pub(super) const ACCEPT_CAR: &str = "application/vnd.ipld.car; version=1; order=dfs; dups=n";

/// The slowest average rate, in bytes per second, a CAR stream may keep up
/// once its first `timeout` has passed. A gateway sending a few bytes just
/// inside each idle timeout would otherwise hold a download for as long as
/// its byte budget lasts: with this floor, a stream of `n` bytes takes at
/// most `timeout + n / MIN_CAR_RATE`. It applies where the size is not
/// known; a stream of known size keeps to [`HEDGE_RATE`].
pub const MIN_CAR_RATE: u64 = 64 * 1024;

/// The slowest rate, in bytes per second, at which a CAR stream of known
/// size may arrive: it must end within the first-byte time
/// ([`ClientOptions::first_byte`](super::ClientOptions::first_byte)) plus
/// its size and [`PACE_SLACK`] at this rate, or the gateway is taken to be
/// too slow, remembered, and the next one is tried. 256 KiB/s (2 Mbit/s) is
/// below any link a build fetches over in practice, and keeps what one slow
/// gateway costs a build to about `first_byte + 4 s` per MiB of the one
/// artifact it was found slow on.
pub const HEDGE_RATE: u64 = 256 * 1024;

/// What a stream of known size may send beyond the file's bytes (the CAR
/// header, each section's prefix, the DAG's inner nodes) before the pace is
/// reckoned: 64 KiB.
pub const PACE_SLACK: u64 = 64 * 1024;

/// The size a path's CAR (an index shard and the directories on the way)
/// is paced as, since nothing says its size before it arrives: 2 MiB, many
/// times a large shard, so that a path request to a gateway that trickles
/// costs about `first_byte + 8 s` once.
pub const PATH_PACE_SIZE: u64 = 2 << 20;

/// When a stream of `size` file bytes, asked for at `asked`, must have
/// ended (see [`HEDGE_RATE`]).
pub(super) fn paced_deadline(asked: Instant, first_byte: Duration, size: u64) -> Instant {
    asked + first_byte + Duration::from_secs_f64(size.saturating_add(PACE_SLACK) as f64 / HEDGE_RATE as f64)
}

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

/// Verified blocks of one CAR response (one leg of a
/// [`CarStream`](super::CarStream)), in the order the gateway sent them
/// (a block held back until its parent came follows the parent).
/// After an error, the stream ends. Dropping it cancels the download.
///
/// The body is parsed where [`SingleCar::next`] is awaited, each block
/// verified there as its last byte arrives: from blocking code (see
/// [`crate::store::RemoteStore::get_car`]) that is the caller's own thread,
/// so parallel downloads hash on as many threads, and no block crosses a
/// thread on its way. A large block is handed on as slices of the chunks it
/// arrived in, not copied (see [`CarDecoder::feed_shared`]). Memory stays
/// bounded by one block's chunks (and, in a stream that is not depth-first,
/// the blocks held back) whatever the size of the DAG.
///
/// An error that shows the gateway costing time is remembered (see
/// `health.rs`), so that the next request goes elsewhere.
pub(crate) struct SingleCar {
    body: Body,
    decoder: CarDecoder,
    /// Blocks decoded from the last chunk and not yet checked.
    ready: VecDeque<Block>,
    /// Blocks checked and not yet handed out.
    accepted: VecDeque<Block>,
    check: Completeness,
    gateway: String,
    root: Cid,
    idle: Duration,
    /// When the stream started, for its [`MIN_CAR_RATE`] bound.
    started: Instant,
    /// When a stream of known size must have ended ([`HEDGE_RATE`]).
    deadline: Option<Instant>,
    done: bool,
    /// An error found after the blocks in `ready`, returned after them.
    failed: Option<RemoteError>,
    /// Where a gateway found costing time is remembered.
    health: Option<Arc<Health>>,
    /// Held for as long as the download runs.
    _permit: Option<OwnedSemaphorePermit>,
}

/// How a gateway's CAR stream is watched.
pub(super) struct Watch {
    /// When the stream must have ended, for a stream of known size.
    pub deadline: Option<Instant>,
    /// Where to remember the gateway if it fails.
    pub health: Arc<Health>,
}

impl SingleCar {
    /// Starts reading `response` (already checked to be a CAR).
    pub(super) fn start(
        response: Response,
        permit: OwnedSemaphorePermit,
        gateway: String,
        root: Cid,
        check: Completeness,
        idle: Duration,
        watch: Watch,
    ) -> Self {
        let mut stream = SingleCar::of_body(body_of(response), Some(permit), gateway, root, check, idle);
        stream.deadline = watch.deadline;
        stream.health = Some(watch.health);
        stream
    }

    /// Starts reading the CAR of the whole DAG under `root`, in any block
    /// order, that `source` (a name for messages) sends as `body`; each
    /// chunk may take `idle`.
    pub(crate) fn of_dag(body: Body, source: String, root: Cid, idle: Duration) -> Self {
        SingleCar::of_body(body, None, source, root, Completeness::new(root, DagScope::All, false), idle)
    }

    fn of_body(
        body: Body,
        permit: Option<OwnedSemaphorePermit>,
        gateway: String,
        root: Cid,
        check: Completeness,
        idle: Duration,
    ) -> Self {
        SingleCar {
            body,
            decoder: CarDecoder::new(),
            ready: VecDeque::new(),
            accepted: VecDeque::new(),
            check,
            gateway,
            root,
            idle,
            started: Instant::now(),
            deadline: None,
            done: false,
            failed: None,
            health: None,
            _permit: permit,
        }
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
            self.accepted.clear();
        }
        if let (Some(Err(e)), Some(health)) = (&result, &self.health) {
            if let Some(gateway) = e.blames() {
                health.avoid(gateway, &e.to_string());
            }
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
            if let Some(block) = self.accepted.pop_front() {
                return Some(Ok(block));
            }
            if let Some(block) = self.ready.pop_front() {
                if let Err(refusal) = self.check.offer(block, &mut self.accepted) {
                    return Some(Err(self.refused(refusal)));
                }
                continue;
            }
            if let Some(e) = self.failed.take() {
                return Some(Err(e));
            }
            let wait = match self.wait() {
                Ok(wait) => wait,
                Err(e) => return Some(Err(e)),
            };
            let chunk = match timeout(wait, self.body.next()).await {
                Ok(Some(Ok(chunk))) => chunk,
                Ok(None) => return self.end(),
                Ok(Some(Err(e))) => return Some(Err(self.io_error(e))),
                // Past a deadline, `wait` says so.
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

    /// How long the next chunk may take: the idle timeout, but not past the
    /// time the bytes so far allow at the minimum rate, nor past the
    /// deadline of a stream of known size; an error once either has passed.
    fn wait(&self) -> Result<Duration, RemoteError> {
        let read = self.decoder.offset();
        let now = Instant::now();
        if let Some(deadline) = self.deadline {
            if now >= deadline {
                return Err(RemoteError::Slow {
                    gateway: self.gateway.clone(),
                    target: Target::Car(self.root),
                    bytes: read,
                    after: now - self.started,
                });
            }
        }
        let allowed = self.idle + Duration::from_secs_f64(read as f64 / MIN_CAR_RATE as f64);
        let floor = self.started + allowed;
        if now >= floor {
            let e = io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the gateway sent {read} bytes in {:.1?}, slower than the minimum of {} KiB/s",
                    now - self.started,
                    MIN_CAR_RATE / 1024
                ),
            );
            return Err(self.io_error(e));
        }
        let until = self.deadline.map_or(floor, |d| d.min(floor));
        Ok(self.idle.min(until - now))
    }

    /// The body ended: complete, or an error saying what is wrong.
    fn end(&mut self) -> Option<Result<Block, RemoteError>> {
        if let Err(e) = self.decoder.finish() {
            return Some(Err(self.car_error(e)));
        }
        if let Err(refusal) = self.check.finish() {
            return Some(Err(self.refused(refusal)));
        }
        let missing = self.check.missing()?;
        Some(Err(RemoteError::Incomplete { gateway: self.gateway.clone(), cid: self.root, missing }))
    }

    fn refused(&self, refusal: Refusal) -> RemoteError {
        let (gateway, cid) = (self.gateway.clone(), self.root);
        match refusal {
            Refusal::Links(source) => RemoteError::Links { gateway, cid, source },
            Refusal::Unrelated { count, bytes } => RemoteError::Unrelated { gateway, cid, count, bytes },
            Refusal::Unlinked { bytes } => RemoteError::Unlinked { gateway, cid, bytes },
        }
    }

    fn car_error(&self, source: CarError) -> RemoteError {
        RemoteError::Car { gateway: self.gateway.clone(), cid: self.root, source }
    }

    fn io_error(&self, source: io::Error) -> RemoteError {
        self.car_error(CarError::Io { offset: self.decoder.offset(), source })
    }
}

impl std::fmt::Debug for SingleCar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleCar").field("gateway", &self.gateway).field("root", &self.root).finish()
    }
}
