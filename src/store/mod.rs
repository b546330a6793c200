//! Block stores: where verified blocks live.
//!
//! [`BlockStore`] is deliberately small (get, put, has) so that every backend
//! is a short file: [`DiskStore`], the embedded default that needs no daemon,
//! and [`MemoryStore`] for tests and scratch work. Both pass the same test
//! suite. A store hands out only bytes that match the CID asked for; a block
//! that fails that check is reported as corrupt, never returned.
//!
//! Over the network: [`gateway::GatewayClient`] speaks the trustless gateway
//! and delegated routing protocols (async), [`RemoteStore`] makes it a
//! blocking, read-only `BlockStore`, and [`Layered`] puts a local store in
//! front of another as a write-through cache. [`KuboStore`] is a kubo
//! node's repository through its RPC API; [`crate::publish::push()`] pushes
//! DAGs into one, pinned.
//!
//! [`dag`] walks the DAG under a root in any store: CAR export,
//! completeness checks, paths through directories.

mod blocking;
mod counting;
pub mod dag;
mod disk;
pub mod gateway;
pub mod kubo;
mod layered;
mod memory;
mod records;
mod recycling;
mod remote;

pub use counting::Counting;
pub use disk::{BlockFile, DiskStore};
pub use gateway::{ClientOptions, GatewayClient, RemoteError};
pub use kubo::{KuboError, KuboOptions, KuboStore};
pub use layered::Layered;
pub use memory::MemoryStore;
pub use records::{PutOutcome, RecordError, RecordStore};
pub use recycling::Recycling;
pub use remote::{CarBlocks, RemoteStore};

use crate::formats::block::{Block, BlockError};
use cid::Cid;
use std::path::PathBuf;
use thiserror::Error;

/// Why a store operation failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A file of the store could not be read or written.
    #[error("store I/O error at {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The disk (or the quota) holding the store has no room left. Whatever
    /// was being written was removed again; nothing half-written remains.
    #[error(
        "no space left on the disk of the store (writing {path}); free some space there, \
         or point CARGO_IPFS_STORE (or --store) at a store on a larger disk"
    )]
    Full {
        /// The file or directory that could not be written.
        path: PathBuf,
    },
    /// A stored block does not match its CID. It has been moved aside.
    #[error("{source}; the bad copy was moved to {quarantine}, fetch or add the block again")]
    Corrupt {
        /// The verification failure.
        source: BlockError,
        /// Where the bad copy now is.
        quarantine: PathBuf,
    },
    /// A block is not in the store.
    #[error("block {cid} is not in the store at {store}; add or fetch it first")]
    NotFound {
        /// The CID asked for.
        cid: Cid,
        /// A description of the store.
        store: String,
    },
    /// A block failed verification before it was stored.
    #[error(transparent)]
    Invalid(#[from] BlockError),
    /// A gateway request failed (a block absent from every gateway is not an
    /// error but `None`).
    #[error(transparent)]
    Remote(Box<RemoteError>),
    /// A kubo RPC request failed.
    #[error(transparent)]
    Kubo(Box<KuboError>),
}

impl StoreError {
    /// An I/O error on `path`: [`StoreError::Full`] when the disk or the
    /// quota is exhausted, else [`StoreError::Io`].
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        let path = path.into();
        if is_full(&error) {
            StoreError::Full { path }
        } else {
            StoreError::Io { path, source: error }
        }
    }
}

/// Whether an I/O error says the disk (or the quota) has no room left.
pub fn is_full(error: &std::io::Error) -> bool {
    matches!(error.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
}

/// Whether anywhere in `error`'s chain the disk ran out of room.
pub fn chain_is_full(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(cause.downcast_ref::<StoreError>(), Some(StoreError::Full { .. }))
            || cause.downcast_ref::<std::io::Error>().is_some_and(is_full)
    })
}

impl From<RemoteError> for StoreError {
    fn from(error: RemoteError) -> Self {
        StoreError::Remote(Box::new(error))
    }
}

/// A place to keep blocks by CID.
pub trait BlockStore: Send + Sync {
    /// The block's bytes, verified against `cid`, or `None` if absent.
    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError>;

    /// Stores a block (already verified by its construction). Storing a block
    /// that is present is a cheap no-op.
    fn put(&self, block: &Block) -> Result<(), StoreError>;

    /// Whether the block is present (without verifying it).
    fn has(&self, cid: &Cid) -> Result<bool, StoreError>;

    /// A short description for messages, such as the store's directory.
    fn describe(&self) -> String;

    /// Like [`BlockStore::get`], with the memory for the bytes from
    /// `alloc`, which a store that reads blocks from files calls with the
    /// block's length before reading it, so that a caller can hand out
    /// reused buffers (any it returns is cleared first). A store that holds
    /// blocks in memory of its own (the default) hands that over instead.
    fn get_with(&self, cid: &Cid, alloc: &mut dyn FnMut(usize) -> Vec<u8>) -> Result<Option<Vec<u8>>, StoreError> {
        let _ = alloc;
        self.get(cid)
    }

    /// Like [`BlockStore::get`], with absence as an error that names the CID.
    fn get_required(&self, cid: &Cid) -> Result<Vec<u8>, StoreError> {
        self.get(cid)?.ok_or_else(|| StoreError::NotFound { cid: *cid, store: self.describe() })
    }
}

#[cfg(test)]
pub(crate) mod suite;
