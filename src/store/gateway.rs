//! A client for IPFS trustless HTTP gateways and delegated routing (IPNS)
//! endpoints: the network side of the store layer.
//!
//! Nothing a gateway sends is trusted. A block is hashed and compared with
//! its CID before it is returned; a CAR stream goes through
//! [`CarReader`](crate::formats::car::CarReader), which verifies every block,
//! and must hold the whole DAG asked for; an IPNS record is verified against
//! its name (signature, key, expiry) before it is returned. A gateway that
//! answers with wrong bytes is treated as failed and the next one is asked.
//!
//! Requests follow the specs: `GET /ipfs/{cid}?format=raw` with
//! `Accept: application/vnd.ipld.raw` for blocks, `?format=car&dag-scope=...`
//! with `Accept: application/vnd.ipld.car; version=1; order=dfs; dups=n` for
//! DAGs (trustless gateway), and `GET`/`PUT /routing/v1/ipns/{name}` with
//! `application/vnd.ipfs.ipns-record` for records (delegated routing v1).
//!
//! With several gateways a block request is raced: the first gateway is
//! asked, the next one after [`ClientOptions::hedge`] or as soon as an earlier
//! one fails, the first verified answer wins and the other requests are
//! cancelled. A CAR request is raced on slowness the same way (`hedge.rs`):
//! the next gateway is asked too once the streams running are all behind
//! their pace ([`ClientOptions::car_hedge`]), and the first to end complete
//! wins. Each gateway is retried with exponential backoff on transport
//! errors and 5xx answers, never on a 404, a timeout or a faulty answer.
//! Record requests ask every endpoint and keep the best valid record that
//! came within [`RECORD_GRACE`] of the first (`routing.rs`).
//!
//! Time is bounded per gateway, and a gateway that used its time up is
//! remembered (`health.rs`) and skipped by later requests, of this process
//! and, with [`ClientOptions::remember`], of other processes: an answer
//! must begin within [`ClientOptions::first_byte`], a block must be whole
//! within [`block_limit`], and a CAR stream of known size within the time
//! its size allows at [`HEDGE_RATE`]. So a gateway that hangs or trickles
//! costs a build one such wait, not one per block or per artifact; and
//! when another gateway is listed, about a second of racing instead. A
//! gateway that only lost a race is not remembered as failing: one that
//! was behind its pace when it lost is asked after the others.
//!
//! Goals: verified data from untrusted HTTP servers, bounded memory (a block
//! is capped at [`MAX_BLOCK_SIZE`], a record at
//! [`MAX_RECORD_SIZE`](crate::formats::ipns::MAX_RECORD_SIZE), a CAR
//! stream holds a few sections at a time), bounded time per request.
//! Non-goals: paths below a CID, `entity-bytes` ranges, ranking gateways by
//! speed (beyond asking one found behind its pace last), and content
//! routing (finding providers).

mod car;
mod completeness;
mod error;
mod health;
mod hedge;
mod requests;
mod routing;

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
pub(crate) mod test_server;
#[cfg(test)]
mod tests;

pub use car::{DagScope, HEDGE_RATE, MIN_CAR_RATE, PACE_SLACK, PATH_PACE_SIZE};
pub use completeness::{MAX_PENDING_BLOCKS, MAX_PENDING_BYTES, MAX_UNRELATED_BLOCKS, MAX_UNRELATED_BYTES};
pub use error::{RemoteError, Target};
pub use health::{forget_all, Health, AVOID_FOR, HEALTH_DIR};
pub use hedge::CarStream;
pub use reqwest::Url;
pub use routing::RECORD_GRACE;

use crate::formats::block::{verify, IDENTITY, MAX_BLOCK_SIZE, SHA2_256, SHA2_512};
use cid::Cid;
use reqwest::{Response, StatusCode};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

/// The media type of a single raw block.
pub const MEDIA_RAW: &str = "application/vnd.ipld.raw";
/// The media type of a CAR stream.
pub const MEDIA_CAR: &str = "application/vnd.ipld.car";
/// The media type of a serialized IPNS record.
pub const MEDIA_IPNS_RECORD: &str = "application/vnd.ipfs.ipns-record";

/// The longest wait between two retries of one gateway.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How the client paces and bounds its requests.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How long one request may take: connecting, the answer's headers and,
    /// for records, the whole body. For a CAR stream, how long the next
    /// chunk of the body may take; a stream of unknown size may take this
    /// long plus its bytes at [`MIN_CAR_RATE`].
    pub timeout: Duration,
    /// How long a block or CAR request may wait for the answer to begin
    /// (at most `timeout`). A gateway that lets it pass is remembered as
    /// failing and skipped: 5 s, since an answer from a mirror that has the
    /// data starts in well under a second, and this is what one hanging
    /// gateway costs a build.
    pub first_byte: Duration,
    /// How many times one gateway is asked again after a retryable failure.
    pub retries: u32,
    /// The wait before the first retry; it doubles for each further one, up
    /// to [`MAX_BACKOFF`].
    pub backoff: Duration,
    /// How long a block request waits for one gateway before also asking the
    /// next.
    pub hedge: Duration,
    /// How long a CAR stream may run before it must keep up [`HEDGE_RATE`]:
    /// a stream that has not sent, by then and from then on, its time past
    /// this at that rate has the next gateway asked too, and the first to
    /// end complete wins (see [`CarStream`]). 1 s: a gateway that has the
    /// data starts well within it, and it is what one gateway that
    /// trickles or hangs costs a request while the next one is raced.
    pub car_hedge: Duration,
    /// How many requests may be in flight at once, over all gateways; CAR
    /// streams started to race others may be as many again.
    pub max_concurrency: usize,
    /// A folder (`<store>/gateway-health`) where gateways found failing
    /// are remembered for other processes too; `None`: in this client only.
    pub remember: Option<PathBuf>,
}

/// How long a block request may take in all on one gateway: the answer's
/// start within `first_byte`, then the largest block at [`HEDGE_RATE`]
/// (8 s), and never more than `timeout`.
pub fn block_limit(options: &ClientOptions) -> Duration {
    let body = Duration::from_secs(MAX_BLOCK_SIZE as u64 / HEDGE_RATE);
    (options.first_byte.min(options.timeout) + body).min(options.timeout)
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(30),
            first_byte: Duration::from_secs(5),
            retries: 2,
            backoff: Duration::from_millis(250),
            hedge: Duration::from_millis(200),
            car_hedge: Duration::from_secs(1),
            max_concurrency: 16,
            remember: None,
        }
    }
}

/// A client for one or more trustless gateways. Cheap to clone; clones share
/// the connection pool and the concurrency limit.
#[derive(Clone)]
pub struct GatewayClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GatewayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayClient")
            .field("gateways", &self.gateways())
            .field("options", &self.inner.options)
            .finish()
    }
}

struct Inner {
    http: reqwest::Client,
    gateways: Vec<Gateway>,
    options: ClientOptions,
    permits: Arc<Semaphore>,
    /// As many again, for the CAR streams that race others (`hedge.rs`),
    /// so that a race is never starved by the streams it races.
    hedge_permits: Arc<Semaphore>,
    health: Arc<Health>,
}

/// One gateway: its base URL (ending in `/`, so that joining keeps its path)
/// and the label messages use.
struct Gateway {
    base: Url,
    label: String,
}

impl Gateway {
    fn url(&self, path: &str, query: Option<&str>) -> Url {
        let mut url = self.base.join(path).expect("a relative path joins onto an http(s) base");
        url.set_query(query);
        url
    }

    fn send_error(&self, target: &Target, source: reqwest::Error) -> RemoteError {
        RemoteError::Http { gateway: self.label.clone(), target: target.clone(), source }
    }

    /// Maps a non-success status to an error; 404 means "not here".
    fn check_status(&self, target: &Target, response: &Response) -> Result<(), RemoteError> {
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status == StatusCode::NOT_FOUND {
            Err(RemoteError::NotFound { target: target.clone(), gateways: vec![self.label.clone()] })
        } else {
            Err(RemoteError::Status { gateway: self.label.clone(), target: target.clone(), status: status.as_u16() })
        }
    }

    /// Reads the body, refusing it as soon as it exceeds `limit` bytes (the
    /// rest is never read: dropping the response closes the connection).
    async fn read_capped(
        &self,
        target: &Target,
        response: &mut Response,
        limit: usize,
    ) -> Result<Vec<u8>, RemoteError> {
        let too_large = || RemoteError::TooLarge { gateway: self.label.clone(), target: target.clone(), limit };
        if response.content_length().is_some_and(|len| len > limit as u64) {
            return Err(too_large());
        }
        // The declared length (already bounded) sizes the buffer; a missing or
        // lying one is caught by the check on every chunk.
        let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
        while let Some(chunk) = response.chunk().await.map_err(|e| self.send_error(target, e))? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

impl GatewayClient {
    /// A client for `urls` (tried in the order given). Each URL is the base
    /// under which `/ipfs/` and `/routing/v1/` live, e.g.
    /// `https://trustless-gateway.link` or `http://127.0.0.1:8080`.
    pub fn new(urls: Vec<Url>, options: ClientOptions) -> Result<Self, RemoteError> {
        if urls.is_empty() {
            return Err(RemoteError::NoGateways);
        }
        let mut gateways = Vec::with_capacity(urls.len());
        for mut base in urls {
            let bad = |reason: &str| RemoteError::BadUrl { url: base.to_string(), reason: reason.into() };
            if !matches!(base.scheme(), "http" | "https") {
                return Err(bad("the scheme is not http or https"));
            }
            if base.query().is_some() || base.fragment().is_some() {
                return Err(bad("it has a query or fragment"));
            }
            if !base.path().ends_with('/') {
                let path = format!("{}/", base.path());
                base.set_path(&path);
            }
            let label = base.as_str().trim_end_matches('/').to_string();
            gateways.push(Gateway { base, label });
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("cargo-ipfs-fetch/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.timeout)
            .build()
            .map_err(|e| RemoteError::Setup { reason: e.to_string() })?;
        let permits = Arc::new(Semaphore::new(options.max_concurrency.max(1)));
        let hedge_permits = Arc::new(Semaphore::new(options.max_concurrency.max(1)));
        let health = Arc::new(match &options.remember {
            Some(dir) => Health::shared(dir.clone()),
            None => Health::in_memory(),
        });
        Ok(GatewayClient { inner: Arc::new(Inner { http, gateways, options, permits, hedge_permits, health }) })
    }

    /// The gateways' base URLs, in the order they are tried.
    pub fn gateways(&self) -> Vec<String> {
        self.inner.gateways.iter().map(|g| g.label.clone()).collect()
    }

    /// The options the client was made with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// Remembers `gateway` (one of [`GatewayClient::gateways`]) as failing,
    /// for a caller that refused what it sent.
    pub fn avoid(&self, gateway: &str, reason: &str) {
        self.inner.health.avoid(gateway, reason);
    }

    /// The gateways to ask now, in order: those not remembered as failing,
    /// those found behind their pace lately last. `Err` says why none is.
    fn usable(&self, target: &Target) -> Result<Vec<usize>, RemoteError> {
        let mut avoided = Vec::new();
        let mut usable = Vec::new();
        for (i, gateway) in self.inner.gateways.iter().enumerate() {
            match self.inner.health.avoided(&gateway.label) {
                Some(why) => avoided.push((gateway.label.clone(), why)),
                None => usable.push(i),
            }
        }
        if usable.is_empty() {
            return Err(RemoteError::Avoided { target: target.clone(), gateways: avoided });
        }
        usable.sort_by_key(|&i| self.inner.health.behind(&self.inner.gateways[i].label));
        Ok(usable)
    }

    /// Whether every gateway is remembered as failing, so that a request
    /// would ask none.
    pub fn all_avoided(&self) -> bool {
        self.inner.gateways.iter().all(|g| self.inner.health.avoided(&g.label).is_some())
    }

    /// Fetches one block and returns its bytes, verified against `cid`.
    /// Identity CIDs are answered without a request.
    pub async fn get_block(&self, cid: &Cid) -> Result<Vec<u8>, RemoteError> {
        if let Some(bytes) = local_answer(cid)? {
            return Ok(bytes);
        }
        let cid = *cid;
        self.race(Target::Block(cid), move |inner, i| async move { inner.block(i, cid).await }).await
    }

    /// Whether some gateway has the block (`HEAD`; nothing is verified).
    pub async fn has_block(&self, cid: &Cid) -> Result<bool, RemoteError> {
        if local_answer(cid)?.is_some() {
            return Ok(true);
        }
        let cid = *cid;
        match self.race(Target::Block(cid), move |inner, i| async move { inner.head(i, cid).await }).await {
            Ok(()) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Opens a CAR stream of the DAG under `cid`. Gateways are tried in turn
    /// (with retries) until one answers with a CAR; the stream then yields
    /// verified blocks, and ends with an error if it breaks off or, for
    /// [`DagScope::All`], lacks any block of the DAG. A stream that fails
    /// part way is not resumed from another gateway: the blocks already
    /// yielded are good, and the caller can fetch what is missing.
    pub async fn get_car(&self, cid: &Cid, scope: DagScope) -> Result<CarStream, RemoteError> {
        self.car_of(Target::Car(*cid), scope, None).await
    }

    /// [`GatewayClient::get_car`] for a DAG of about `size` bytes (a file's
    /// size): the stream must end within the time that size allows at
    /// [`HEDGE_RATE`], or it fails as [`RemoteError::Slow`] and its gateway
    /// is skipped by the next request, which a caller makes to go on with
    /// the next gateway.
    pub async fn get_car_sized(&self, cid: &Cid, scope: DagScope, size: u64) -> Result<CarStream, RemoteError> {
        self.car_of(Target::Car(*cid), scope, Some(size)).await
    }

    /// Opens a CAR stream of what the path `segments` under `root` names,
    /// with [`DagScope::Entity`]: the blocks that resolve the path, then the
    /// entity (a whole file). One round trip instead of one per level; the
    /// stream checks each block against its CID, keeps only blocks linked
    /// from the root through blocks already kept, and requires the root; the
    /// caller walks the path through what arrived. The stream is paced as
    /// one of [`PATH_PACE_SIZE`] bytes (see [`GatewayClient::get_car_sized`]).
    /// Segments are
    /// percent-encoded; an empty one, `.`, `..` or one holding `/` is refused.
    pub async fn get_path_car(&self, root: &Cid, segments: &[&str]) -> Result<CarStream, RemoteError> {
        if let Some(bad) = segments.iter().find(|s| s.is_empty() || **s == "." || **s == ".." || s.contains('/')) {
            return Err(RemoteError::BadUrl {
                url: format!("/ipfs/{root}/{}", segments.join("/")),
                reason: format!("the path segment {bad:?} cannot name a directory entry"),
            });
        }
        self.car_of(Target::Path(*root, segments.join("/")), DagScope::Entity, Some(PATH_PACE_SIZE)).await
    }

    async fn car_of(&self, target: Target, scope: DagScope, size: Option<u64>) -> Result<CarStream, RemoteError> {
        let Some((cid, _)) = target.car_root() else { unreachable!("CAR targets only") };
        if let Some(err) = unverifiable(&cid) {
            return Err(err);
        }
        let order = self.usable(&target)?;
        let mut stream = CarStream::hedged(Arc::clone(&self.inner), target, scope, size, order);
        stream.open().await?;
        Ok(stream)
    }

    /// Runs `request` against the gateways, hedged: the first gateway at
    /// once, each next one after [`ClientOptions::hedge`] or as soon as a
    /// running request fails, skipping one found failing meanwhile (by a
    /// request running beside this one). The first success wins; the
    /// requests still running are cancelled when the set of tasks is
    /// dropped.
    async fn race<T, F, Fut>(&self, target: Target, request: F) -> Result<T, RemoteError>
    where
        T: Send + 'static,
        F: Fn(Arc<Inner>, usize) -> Fut,
        Fut: Future<Output = Result<T, RemoteError>> + Send + 'static,
    {
        let order = self.usable(&target)?;
        let count = order.len();
        let hedge = self.inner.options.hedge;
        let mut running = JoinSet::new();
        let mut errors = Vec::new();
        let mut next = 0;
        let mut next_at = Instant::now();
        loop {
            while next < count && (running.is_empty() || Instant::now() >= next_at) {
                let i = order[next];
                next += 1;
                let label = &self.inner.gateways[i].label;
                if let Some(why) = self.inner.health.avoided(label) {
                    errors.push(RemoteError::Avoided { target: target.clone(), gateways: vec![(label.clone(), why)] });
                    continue;
                }
                running.spawn(request(Arc::clone(&self.inner), i));
                next_at = Instant::now() + hedge;
            }
            if running.is_empty() {
                break;
            }
            let more = next < count;
            tokio::select! {
                joined = running.join_next() => {
                    let joined = joined.expect("the set is not empty");
                    match joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())) {
                        Ok(value) => return Ok(value),
                        Err(e) => {
                            tracing::debug!(%target, error = %e, "gateway failed");
                            errors.push(e);
                            // A failure starts the next gateway at once.
                            next_at = Instant::now();
                        }
                    }
                }
                () = sleep_until(next_at), if more => {}
            }
        }
        Err(RemoteError::combine(target, errors))
    }
}

/// Answers identity CIDs (whose bytes are in the CID) and refuses CIDs whose
/// hash cannot be verified, before any request is made.
fn local_answer(cid: &Cid) -> Result<Option<Vec<u8>>, RemoteError> {
    if let Some(err) = unverifiable(cid) {
        return Err(err);
    }
    if cid.hash().code() == IDENTITY {
        let bytes = cid.hash().digest().to_vec();
        verify(cid, &bytes).map_err(|source| RemoteError::Unverifiable { source })?;
        return Ok(Some(bytes));
    }
    Ok(None)
}

fn unverifiable(cid: &Cid) -> Option<RemoteError> {
    let code = cid.hash().code();
    if matches!(code, SHA2_256 | SHA2_512 | IDENTITY) {
        return None;
    }
    Some(RemoteError::Unverifiable { source: crate::formats::block::BlockError::UnsupportedHash { cid: *cid, code } })
}
