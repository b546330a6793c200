//! Block stores: where verified blocks live.
//!
//! [`BlockStore`] is deliberately small (get, put, has) so that every backend
//! is a short file: [`DiskStore`], the embedded default that needs no daemon,
//! and [`MemoryStore`] for tests and scratch work. Both pass the same test
//! suite. A store hands out only bytes that match the CID asked for; a block
//! that fails that check is reported as corrupt, never returned.

mod counting;
mod disk;
mod memory;
mod records;

pub use counting::Counting;
pub use disk::DiskStore;
pub use memory::MemoryStore;
pub(crate) use records::write_atomic;
pub use records::{PutOutcome, RecordError, RecordStore};

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

    /// Like [`BlockStore::get`], with absence as an error that names the CID.
    fn get_required(&self, cid: &Cid) -> Result<Vec<u8>, StoreError> {
        self.get(cid)?.ok_or_else(|| StoreError::NotFound { cid: *cid, store: self.describe() })
    }
}

#[cfg(test)]
pub(crate) mod suite;
