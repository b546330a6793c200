//! What can go wrong talking to gateways, named so that the user can act:
//! every error carries the gateway, the CID or IPNS name, and what to do.

use crate::formats::block::BlockError;
use crate::formats::car::CarError;
use crate::formats::ipns::{IpnsError, IpnsName};
use crate::formats::links::LinksError;
use cid::Cid;
use std::fmt;
use std::time::Duration;
use thiserror::Error;

/// What a request was for, as messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One block, fetched as `application/vnd.ipld.raw`.
    Block(Cid),
    /// A DAG, fetched as a CAR stream.
    Car(Cid),
    /// What a path under a root names, and the blocks on the way, fetched
    /// as a CAR stream.
    Path(Cid, String),
    /// The IPNS record of a name, fetched from a routing endpoint.
    Record(IpnsName),
    /// Publishing the IPNS record of a name to routing endpoints.
    Publish(IpnsName),
}

impl Target {
    /// The root of a CAR target and the path under it; `None` for a target
    /// that is not a CAR.
    pub(super) fn car_root(&self) -> Option<(Cid, Option<&str>)> {
        match self {
            Target::Car(cid) => Some((*cid, None)),
            Target::Path(cid, path) => Some((*cid, Some(path))),
            _ => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Block(cid) => write!(f, "block {cid}"),
            Target::Car(cid) => write!(f, "the CAR of {cid}"),
            Target::Path(cid, path) => write!(f, "the CAR of /ipfs/{cid}/{path}"),
            Target::Record(name) => write!(f, "the IPNS record of {name}"),
            Target::Publish(name) => write!(f, "publishing the IPNS record of {name}"),
        }
    }
}

/// Why a gateway request failed. `gateway` fields hold the gateway's base URL.
#[derive(Debug, Error)]
pub enum RemoteError {
    /// The client was given no gateway.
    #[error("no gateway URL was given; pass at least one http:// or https:// gateway")]
    NoGateways,
    /// A gateway URL cannot be used.
    #[error("gateway URL {url} is unusable ({reason}); give an http:// or https:// URL without a query")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client or the runtime for the blocking adapter could not be set up.
    #[error("the HTTP client could not be set up: {reason}")]
    Setup {
        /// What failed.
        reason: String,
    },
    /// The CID's hash function cannot be verified here, so nothing is fetched.
    #[error("{source}; it was not fetched, since its bytes could not be verified")]
    Unverifiable {
        /// The verification error naming the CID.
        source: BlockError,
    },
    /// Every gateway answered 404 (or the routing endpoint has no record).
    #[error("{target} was not found on {}; it may not be published yet, or try another gateway", .gateways.join(", "))]
    NotFound {
        /// What was asked for.
        target: Target,
        /// The gateways that were asked.
        gateways: Vec<String>,
    },
    /// A gateway answered with an unexpected HTTP status.
    #[error("gateway {gateway} answered HTTP {status} for {target}; it is failing or refuses the request")]
    Status {
        /// The gateway.
        gateway: String,
        /// What was asked for.
        target: Target,
        /// The status code.
        status: u16,
    },
    /// The request could not be sent or the answer could not be read.
    #[error("gateway {gateway} could not be reached for {target}: {source}; check the URL and the network")]
    Http {
        /// The gateway.
        gateway: String,
        /// What was asked for.
        target: Target,
        /// The transport error.
        source: reqwest::Error,
    },
    /// The gateway did not answer (or stopped sending) within the timeout.
    #[error("gateway {gateway} did not answer within {after:?} for {target}; it is slow or unreachable, so raise the timeout or use another gateway")]
    Timeout {
        /// The gateway.
        gateway: String,
        /// What was asked for.
        target: Target,
        /// The timeout that expired.
        after: Duration,
    },
    /// The gateway's block does not hash to the CID asked for.
    #[error("gateway {gateway} returned block bytes that do not match {cid}: the gateway is faulty or malicious; it was skipped")]
    WrongBlock {
        /// The gateway.
        gateway: String,
        /// The CID asked for.
        cid: Cid,
        /// The verification failure.
        source: BlockError,
    },
    /// The gateway sent more bytes than the answer may have.
    #[error("gateway {gateway} sent more than {limit} bytes for {target}: the gateway is faulty or malicious; it was skipped")]
    TooLarge {
        /// The gateway.
        gateway: String,
        /// What was asked for.
        target: Target,
        /// The limit in bytes.
        limit: usize,
    },
    /// The gateway answered with a content type other than the one asked for.
    #[error("gateway {gateway} answered {target} with content type {content_type:?}; it is not a trustless gateway, so use another")]
    WrongContentType {
        /// The gateway.
        gateway: String,
        /// What was asked for.
        target: Target,
        /// The content type it sent.
        content_type: String,
    },
    /// The CAR stream broke off or held a bad section.
    #[error("the CAR of {cid} from gateway {gateway} is unusable from here on: {source}; blocks received before this point are verified and can be kept, fetch the rest again")]
    Car {
        /// The gateway.
        gateway: String,
        /// The root asked for.
        cid: Cid,
        /// What the CAR reader found.
        source: CarError,
    },
    /// The CAR stream ended cleanly but without a block of the DAG.
    #[error("the CAR of {cid} from gateway {gateway} ended without block {missing}, so it was truncated; blocks received are verified and can be kept, fetch again or use another gateway")]
    Incomplete {
        /// The gateway.
        gateway: String,
        /// The root asked for.
        cid: Cid,
        /// The first block found missing.
        missing: Cid,
    },
    /// A block in the CAR stream has links this crate cannot read, so the
    /// stream's completeness cannot be checked.
    #[error("the CAR of {cid} from gateway {gateway} cannot be checked for completeness: {source}")]
    Links {
        /// The gateway.
        gateway: String,
        /// The root asked for.
        cid: Cid,
        /// Why the links could not be read.
        source: LinksError,
    },
    /// The CAR stream carried too many blocks outside the DAG asked for, or
    /// sent twice.
    #[error("gateway {gateway} sent {count} blocks ({bytes} bytes) that are not part of the DAG of {cid} or were sent before: the gateway is faulty or malicious; it was skipped")]
    Unrelated {
        /// The gateway.
        gateway: String,
        /// The root asked for.
        cid: Cid,
        /// How many unrelated blocks it sent.
        count: usize,
        /// Their bytes.
        bytes: u64,
    },
    /// The CAR stream, not in depth-first order, sent too many bytes of
    /// blocks before any block that links to them.
    #[error("gateway {gateway} sent {bytes} bytes of blocks that nothing it sent links to in the CAR of {cid}: it does not send the DAG depth-first, or sends blocks outside it; it was skipped")]
    Unlinked {
        /// The gateway.
        gateway: String,
        /// The root asked for.
        cid: Cid,
        /// The bytes held back when it was refused.
        bytes: u64,
    },
    /// A CAR stream of known size fell behind the pace its size allows.
    #[error("gateway {gateway} sent {bytes} bytes of {target} in {after:.1?}, too slow for its size; it is skipped for a while and another source is used")]
    Slow {
        /// The gateway.
        gateway: String,
        /// What was asked for.
        target: Target,
        /// Bytes it sent.
        bytes: u64,
        /// How long it had.
        after: Duration,
    },
    /// Every gateway failed or was too slow a short while ago, so none was
    /// asked.
    #[error("{target} was not asked of any gateway: each failed recently ({}); they are tried again after a few minutes or on the next `cargo ipfs fetch`", .gateways.iter().map(|(g, why)| format!("{g}: {why}")).collect::<Vec<_>>().join("; "))]
    Avoided {
        /// What was asked for.
        target: Target,
        /// Each gateway and why it is skipped.
        gateways: Vec<(String, String)>,
    },
    /// The gateway's IPNS record does not verify for the name asked for.
    #[error("gateway {gateway} returned an IPNS record that does not verify: {source}; the gateway is faulty or malicious, it was skipped")]
    InvalidRecord {
        /// The gateway.
        gateway: String,
        /// Why the record was refused; it names the IPNS name.
        source: IpnsError,
    },
    /// A record given to publish does not verify, so it was not sent.
    #[error("refusing to publish: {source}")]
    RecordRefused {
        /// Why the record was refused; it names the IPNS name.
        source: IpnsError,
    },
    /// Several gateways failed, each for its own reason.
    #[error("every gateway failed for {target}: {}", join(.errors))]
    AllFailed {
        /// What was asked for.
        target: Target,
        /// One error per gateway.
        errors: Vec<RemoteError>,
    },
    /// Blocks cannot be written through a gateway.
    #[error(
        "the gateway store ({gateways}) is read-only; write blocks to a local store, for example through `Layered`"
    )]
    ReadOnly {
        /// The gateways, as `RemoteStore::describe` names them.
        gateways: String,
    },
    /// The blocking adapter was called on a thread that runs async tasks.
    #[error("the blocking gateway store was called from inside an async task; call it from `spawn_blocking` or use `GatewayClient` directly")]
    InAsyncContext,
}

fn join(errors: &[RemoteError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

impl RemoteError {
    /// Whether trying the same gateway again may help: transport errors,
    /// server errors (5xx), 408 and 429. A 404 or a faulty answer is final
    /// for that gateway, and so is a timeout: asking again would make the
    /// caller wait as long again.
    pub fn is_retryable(&self) -> bool {
        match self {
            RemoteError::Http { .. } => true,
            RemoteError::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            _ => false,
        }
    }

    /// The gateway to remember as failing (see `health.rs`), if this error
    /// shows one that costs its callers time: a timeout or a stream behind
    /// its pace, junk blocks, or a failure that outlasted the retries (5xx,
    /// no connection). Not a quick refusal (wrong bytes, an oversized block,
    /// not a CAR, a bad record: refused at once, the next gateway asked at
    /// once, and an honest mirror whose disk rotted one block sends wrong
    /// bytes for that block only), nor a 404, nor a stream that broke off
    /// or ended short (an honest mirror that lacks a block answers so).
    pub fn blames(&self) -> Option<&str> {
        match self {
            RemoteError::Timeout { gateway, .. }
            | RemoteError::Http { gateway, .. }
            | RemoteError::Status { gateway, .. }
            | RemoteError::Unrelated { gateway, .. }
            | RemoteError::Unlinked { gateway, .. }
            | RemoteError::Slow { gateway, .. } => Some(gateway),
            RemoteError::Car { gateway, source: CarError::Io { source, .. }, .. }
                if source.kind() == std::io::ErrorKind::TimedOut =>
            {
                Some(gateway)
            }
            _ => None,
        }
    }

    /// Whether this is [`RemoteError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, RemoteError::NotFound { .. })
    }

    /// One error for a request that every gateway failed: `NotFound` when all
    /// of them answered 404, the single error when only one gateway was asked,
    /// else `AllFailed` with each one's reason.
    pub(crate) fn combine(target: Target, mut errors: Vec<RemoteError>) -> RemoteError {
        if !errors.is_empty() && errors.iter().all(RemoteError::is_not_found) {
            let gateways = errors
                .into_iter()
                .flat_map(|e| match e {
                    RemoteError::NotFound { gateways, .. } => gateways,
                    _ => Vec::new(),
                })
                .collect();
            return RemoteError::NotFound { target, gateways };
        }
        if errors.len() == 1 {
            return errors.pop().expect("one error");
        }
        RemoteError::AllFailed { target, errors }
    }
}
