//! A kubo node as a block store, over its RPC API (`/api/v0`), through
//! `ipfs-api-backend-hyper`.
//!
//! What it is for: a pinning CI job or a mirror operator that runs kubo
//! pushes each index version and its artifacts into the node, pinned, and
//! hands it the IPNS record to publish ([`KuboStore::dag_import`], which
//! [`crate::publish::push()`] feeds, and [`KuboStore::put_record`]). A developer or a mirror that runs kubo
//! fetches through it: the record from [`KuboStore::get_record`], each
//! artifact's DAG in one [`KuboStore::export`], and index blocks through the
//! [`BlockStore`] methods; kubo looks on the IPFS network for what its
//! repository lacks.
//!
//! The node is trusted no more than a gateway: every block it returns is
//! hashed and compared with its CID, every record verified against its
//! name, and a block it stores must come back under the CID asked for.
//! Every request has a timeout and every answer a size limit.
//!
//! The RPC API is admin access to the node; kubo binds it to localhost, and
//! so does every example here. Only `http://` is spoken.

mod api;
mod export;
mod import;
mod pin;
#[cfg(any(test, feature = "kubo-replay"))]
#[doc(hidden)]
pub mod replay;
#[cfg(test)]
mod tests;
mod version;

pub use import::ImportedRoot;
pub use version::MIN_KUBO;

use super::blocking::Blocking;
use super::{BlockStore, StoreError};
use crate::formats::block::{
    cid_to_string, verify, Block, DAG_CBOR, DAG_JSON, DAG_PB, IDENTITY, LIBP2P_KEY, MAX_BLOCK_SIZE, RAW, SHA2_256,
    SHA2_512,
};
use crate::formats::ipns::{verify_record, IpnsError, IpnsName, MAX_RECORD_SIZE};
use api::{BlockGet, BlockPut, BlockStat, BlockStatRequest, Global, QueryEvent, RoutingGet, RoutingPut, QUERY_VALUE};
use bytes::{Bytes, BytesMut};
use cid::Cid;
use futures::StreamExt;
use ipfs_api_backend_hyper::{Form, IpfsClient, TryFromUri};
use ipfs_api_prelude::{ApiRequest, Backend};
use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime};
use thiserror::Error;

/// The largest answer read for a command that answers with JSON.
const MAX_JSON_ANSWER: usize = 1 << 20;

/// Why a kubo request failed. `url` is the node's RPC address.
#[derive(Debug, Error)]
pub enum KuboError {
    /// The address cannot be used.
    #[error("kubo RPC address {addr:?} is unusable ({reason}); give http://HOST:PORT or a multiaddr such as /ip4/127.0.0.1/tcp/5001")]
    BadAddress {
        /// The address as given.
        addr: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The runtime for the requests could not be started.
    #[error("cannot start the runtime for kubo RPC requests: {reason}")]
    Setup {
        /// What failed.
        reason: String,
    },
    /// The node could not be reached, or the connection broke.
    #[error("cannot reach kubo's RPC API at {url} for {endpoint}: {reason}; is `ipfs daemon` running there?")]
    Unreachable {
        /// The node.
        url: String,
        /// The command, such as `block/get`.
        endpoint: &'static str,
        /// The transport error.
        reason: String,
    },
    /// The node answered the command with an error.
    #[error("kubo at {url} refused {endpoint}: {message}")]
    Refused {
        /// The node.
        url: String,
        /// The command.
        endpoint: &'static str,
        /// kubo's message.
        message: String,
    },
    /// The command took longer than allowed.
    #[error("kubo at {url} did not finish {endpoint} within {after:?}; try again, or raise --timeout")]
    Timeout {
        /// The node.
        url: String,
        /// The command.
        endpoint: &'static str,
        /// The limit.
        after: Duration,
    },
    /// The node answered with something other than what the command promises.
    #[error("kubo at {url} gave a faulty answer to {endpoint}: {reason}; it was not used")]
    Faulty {
        /// The node.
        url: String,
        /// The command.
        endpoint: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The node has no record for the name.
    #[error(
        "kubo at {url} found no IPNS record for {name}; it may not be published yet, or not reachable from that node"
    )]
    NoRecord {
        /// The node.
        url: String,
        /// The name asked for.
        name: IpnsName,
    },
    /// The record the node gave (or was to be given) fails verification.
    #[error("the IPNS record of {name} from kubo at {url} was refused: {source}")]
    BadRecord {
        /// The node.
        url: String,
        /// The name.
        name: IpnsName,
        /// Why.
        source: IpnsError,
    },
    /// Stored here a block must be verifiable; this one's hash function or
    /// codec has no name kubo knows.
    #[error("block {cid} cannot be stored in kubo: {reason}")]
    Unsupported {
        /// The block.
        cid: Cid,
        /// Why.
        reason: String,
    },
    /// The blocking store was called on a thread that runs async tasks.
    #[error("the kubo store was called from inside an async task; call it from `spawn_blocking`")]
    InAsyncContext,
}

impl From<KuboError> for StoreError {
    fn from(error: KuboError) -> Self {
        StoreError::Kubo(Box::new(error))
    }
}

/// How the store talks to the node.
#[derive(Debug, Clone)]
pub struct KuboOptions {
    /// How long one command may take, kubo's own work included (it is sent
    /// as kubo's `timeout` option too, so that the node stops searching the
    /// network for a block when the client stops waiting).
    pub timeout: Duration,
    /// Read blocks from the node's repository only: a block it does not
    /// hold is absent, instead of searched for on the IPFS network.
    pub offline: bool,
}

impl Default for KuboOptions {
    fn default() -> Self {
        KuboOptions { timeout: Duration::from_secs(60), offline: false }
    }
}

/// A kubo node's repository, through its RPC API. `get` verifies every
/// block; `has` asks the node's repository only; `put` stores a block
/// unpinned (pin with [`KuboStore::dag_import`], through
/// [`crate::publish::push()`]).
pub struct KuboStore {
    client: IpfsClient,
    url: String,
    options: KuboOptions,
    runtime: Blocking,
    /// For `dag/export`, whose `X-Stream-Error` trailer the RPC client's
    /// HTTP/1.1 stack (hyper 0.14) drops.
    trailers_client: reqwest::Client,
}

impl fmt::Debug for KuboStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KuboStore").field("url", &self.url).field("options", &self.options).finish()
    }
}

impl KuboStore {
    /// A store for the node whose RPC API is at `addr`: a URL
    /// (`http://127.0.0.1:5001`, any path is replaced by `/api/v0`) or a
    /// multiaddr (`/ip4/127.0.0.1/tcp/5001`, as in kubo's `api` file).
    /// Nothing is sent yet; [`KuboStore::version`] checks the node is there.
    pub fn connect(addr: &str, options: KuboOptions) -> Result<Self, KuboError> {
        let bad = |reason: &str| KuboError::BadAddress { addr: addr.to_string(), reason: reason.to_string() };
        let addr = addr.trim();
        let client = if addr.starts_with('/') {
            IpfsClient::from_multiaddr_str(addr).map_err(|e| bad(&e.to_string()))?
        } else if let Some(rest) = addr.strip_prefix("http://") {
            if rest.is_empty() || rest.starts_with('/') {
                return Err(bad("no host"));
            }
            IpfsClient::from_str(addr).map_err(|e| bad(&e.to_string()))?
        } else if addr.starts_with("https://") {
            return Err(bad("only http:// is spoken; the RPC API belongs on localhost"));
        } else {
            return Err(bad("neither an http:// URL nor a multiaddr"));
        };
        let url = if addr.starts_with('/') { addr.to_string() } else { addr.trim_end_matches('/').to_string() };
        let runtime = Blocking::new("cargo-ipfs-kubo").map_err(|e| KuboError::Setup { reason: e.to_string() })?;
        let trailers_client = reqwest::Client::builder()
            .connect_timeout(options.timeout)
            .build()
            .map_err(|e| KuboError::Setup { reason: e.to_string() })?;
        Ok(KuboStore { client, url, options, runtime, trailers_client })
    }

    /// The node's address as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The node's best record for `name` (`routing/get`), verified against
    /// the name before it is returned.
    pub fn get_record(&self, name: &IpnsName) -> Result<Vec<u8>, KuboError> {
        const ENDPOINT: &str = "routing/get";
        let key = format!("/ipns/{name}");
        let global = Global { timeout: Some(self.options.timeout), ..Global::default() };
        let request = RoutingGet { arg: &key, global };
        let answer = match self.call(ENDPOINT, request, None, MAX_JSON_ANSWER) {
            Err(KuboError::Refused { message, .. }) if is_not_found(&message) => {
                return Err(KuboError::NoRecord { url: self.url.clone(), name: *name })
            }
            Err(KuboError::Refused { url, endpoint, message }) if message.contains("must be run in online mode") => {
                let message = format!("{message} (the daemon runs offline and cannot look records up; start it online, or read the record from a gateway)");
                return Err(KuboError::Refused { url, endpoint, message });
            }
            other => other?,
        };
        let event: QueryEvent = self.last_json(ENDPOINT, &answer)?;
        if event.kind != QUERY_VALUE {
            return Err(self.faulty(ENDPOINT, format!("an event of type {} instead of a value", event.kind)));
        }
        let bytes = data_encoding::BASE64
            .decode(event.extra.as_bytes())
            .map_err(|e| self.faulty(ENDPOINT, format!("the record is not base64 ({e})")))?;
        if bytes.len() > MAX_RECORD_SIZE {
            return Err(self.faulty(ENDPOINT, format!("a record of {} bytes", bytes.len())));
        }
        verify_record(name, &bytes, SystemTime::now()).map_err(|source| KuboError::BadRecord {
            url: self.url.clone(),
            name: *name,
            source,
        })?;
        Ok(bytes)
    }

    /// Hands the node `bytes` as the record of `name` (`routing/put`, with
    /// `allow-offline`, so that a daemon started offline keeps it). An
    /// online node without peers keeps it too but fails the put, and does
    /// not publish it later (kubo republishes only its own keys' records):
    /// that is an error saying so. The record is verified first and not
    /// sent if it fails.
    pub fn put_record(&self, name: &IpnsName, bytes: &[u8]) -> Result<(), KuboError> {
        const ENDPOINT: &str = "routing/put";
        verify_record(name, bytes, SystemTime::now()).map_err(|source| KuboError::BadRecord {
            url: self.url.clone(),
            name: *name,
            source,
        })?;
        let key = format!("/ipns/{name}");
        let mut form = Form::default();
        form.add_reader_file("file", std::io::Cursor::new(bytes.to_vec()), "record");
        let answer = match self.call(
            ENDPOINT,
            RoutingPut { arg: &key, allow_offline: true },
            Some(form),
            MAX_JSON_ANSWER,
        ) {
            Err(KuboError::Refused { url, endpoint, message }) if message.contains("failed to find any peer") => {
                let message = format!("{message} (the node is online without peers: it kept the record but could not publish it, and kubo republishes only records of its own keys; connect the node, or put the record on a routing endpoint with `cargo ipfs republish --to URL`)");
                return Err(KuboError::Refused { url, endpoint, message });
            }
            other => other?,
        };
        let _: QueryEvent = self.last_json(ENDPOINT, &answer)?;
        Ok(())
    }

    /// Sends one command and reads its whole answer, at most `limit` bytes.
    fn call<R: ApiRequest>(
        &self,
        endpoint: &'static str,
        request: R,
        form: Option<Form<'static>>,
        limit: usize,
    ) -> Result<Bytes, KuboError> {
        self.run(endpoint, self.send(endpoint, request, form, limit))
    }

    /// [`KuboStore::call`], async.
    async fn send<R: ApiRequest>(
        &self,
        endpoint: &'static str,
        request: R,
        form: Option<Form<'static>>,
        limit: usize,
    ) -> Result<Bytes, KuboError> {
        let request = self.client.build_base_request(request, form).map_err(|e| self.error(endpoint, e))?;
        let mut body = self.client.request_stream_bytes(request);
        let mut answer = BytesMut::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.error(endpoint, e))?;
            if answer.len() + chunk.len() > limit {
                return Err(self.faulty(endpoint, format!("an answer of more than {limit} bytes")));
            }
            answer.extend_from_slice(&chunk);
        }
        Ok(answer.freeze())
    }

    /// Runs `future` on the store's runtime within the timeout (plus a
    /// little, so that kubo's own timeout message arrives first).
    fn run<T>(
        &self,
        endpoint: &'static str,
        future: impl Future<Output = Result<T, KuboError>>,
    ) -> Result<T, KuboError> {
        self.run_within(endpoint, self.options.timeout, future)
    }

    /// [`KuboStore::run`] with a limit of its own.
    fn run_within<T>(
        &self,
        endpoint: &'static str,
        after: Duration,
        future: impl Future<Output = Result<T, KuboError>>,
    ) -> Result<T, KuboError> {
        // The timer is made inside the runtime, which it needs.
        let limited = async move { tokio::time::timeout(after + Duration::from_secs(2), future).await };
        match self.runtime.block_on(limited) {
            None => Err(KuboError::InAsyncContext),
            Some(Err(_)) => Err(KuboError::Timeout { url: self.url.clone(), endpoint, after }),
            Some(Ok(result)) => result,
        }
    }

    /// The last JSON value of an answer (kubo ends each with a newline, and
    /// streams some as one value per line).
    fn last_json<T: serde::de::DeserializeOwned>(&self, endpoint: &'static str, answer: &[u8]) -> Result<T, KuboError> {
        let line = answer.split(|&b| b == b'\n').rfind(|l| !l.iter().all(u8::is_ascii_whitespace)).unwrap_or(b"");
        serde_json::from_slice(line).map_err(|e| self.faulty(endpoint, format!("unreadable JSON ({e})")))
    }

    fn faulty(&self, endpoint: &'static str, reason: String) -> KuboError {
        KuboError::Faulty { url: self.url.clone(), endpoint, reason }
    }

    /// Names a client error: kubo's own message, or the transport's.
    fn error(&self, endpoint: &'static str, error: ipfs_api_backend_hyper::Error) -> KuboError {
        use ipfs_api_backend_hyper::Error as E;
        let url = self.url.clone();
        match error {
            E::Api(api) if api.message.contains("context deadline exceeded") => {
                KuboError::Timeout { url, endpoint, after: self.options.timeout }
            }
            E::Api(api) => KuboError::Refused { url, endpoint, message: api.message },
            E::IpfsClientError(ipfs_api_prelude::Error::UnrecognizedApiError(text)) => {
                KuboError::Refused { url, endpoint, message: text.trim().chars().take(300).collect() }
            }
            E::Client(e) => KuboError::Unreachable { url, endpoint, reason: e.to_string() },
            other => KuboError::Faulty { url, endpoint, reason: other.to_string() },
        }
    }
}

/// Whether kubo's message says the thing asked for is absent (`ipld: could
/// not find <cid>` for blocks, `routing: not found` for records).
fn is_not_found(message: &str) -> bool {
    message.contains("could not find") || message.contains("not found")
}

/// kubo's names for the codecs and hash functions of the blocks made here.
fn names(cid: &Cid) -> Result<(&'static str, &'static str), KuboError> {
    let codec = match cid.codec() {
        RAW => "raw",
        DAG_PB => "dag-pb",
        DAG_CBOR => "dag-cbor",
        DAG_JSON => "dag-json",
        LIBP2P_KEY => "libp2p-key",
        other => return Err(KuboError::Unsupported { cid: *cid, reason: format!("codec 0x{other:x}") }),
    };
    let hash = match cid.hash().code() {
        SHA2_256 => "sha2-256",
        SHA2_512 => "sha2-512",
        other => return Err(KuboError::Unsupported { cid: *cid, reason: format!("hash function 0x{other:x}") }),
    };
    Ok((codec, hash))
}

impl BlockStore for KuboStore {
    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError> {
        const ENDPOINT: &str = "block/get";
        let arg = cid_to_string(cid);
        let global = Global { offline: self.options.offline, timeout: Some(self.options.timeout) };
        let bytes = match self.call(ENDPOINT, BlockGet { arg: &arg, global }, None, MAX_BLOCK_SIZE) {
            Ok(bytes) => bytes,
            Err(KuboError::Refused { message, .. }) if is_not_found(&message) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        verify(cid, &bytes).map_err(|e| self.faulty(ENDPOINT, e.to_string()))?;
        Ok(Some(bytes.into()))
    }

    fn put(&self, block: &Block) -> Result<(), StoreError> {
        const ENDPOINT: &str = "block/put";
        let cid = block.cid();
        if cid.hash().code() == IDENTITY {
            return Ok(());
        }
        let (cid_codec, mhtype) = names(cid)?;
        let mut form = Form::default();
        form.add_reader_file("file", std::io::Cursor::new(block.data().to_vec()), "block");
        let answer = self.call(ENDPOINT, BlockPut { cid_codec, mhtype, pin: false }, Some(form), MAX_JSON_ANSWER)?;
        let stat: BlockStat = self.last_json(ENDPOINT, &answer)?;
        // kubo keys blocks by multihash; the CID it answers with is CIDv1.
        match crate::formats::block::parse_cid(&stat.key) {
            Ok(key) if key.hash() == cid.hash() && key.codec() == cid.codec() => Ok(()),
            _ => Err(self.faulty(ENDPOINT, format!("stored {cid} as {} ({} bytes)", stat.key, stat.size)).into()),
        }
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        const ENDPOINT: &str = "block/stat";
        let arg = cid_to_string(cid);
        let global = Global { offline: true, timeout: Some(self.options.timeout) };
        match self.call(ENDPOINT, BlockStatRequest { arg: &arg, global }, None, MAX_JSON_ANSWER) {
            Ok(answer) => {
                let _: BlockStat = self.last_json(ENDPOINT, &answer)?;
                Ok(true)
            }
            Err(KuboError::Refused { message, .. }) if is_not_found(&message) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn describe(&self) -> String {
        format!("kubo at {}", self.url)
    }
}
