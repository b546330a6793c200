//! What reading a UnixFS DAG shares: fetching a verified block, decoding a
//! node, and the one error type for listing and exporting.

use super::data::{UnixFsData, UnixFsError};
use crate::formats::block::{verify, BlockError, IDENTITY};
use crate::formats::dagpb::{DagPbError, PbNode};
use cid::Cid;
use thiserror::Error;

/// Why a UnixFS DAG could not be read. `E` is the error of the block source
/// (or of the sink, when exporting).
#[derive(Debug, Error)]
pub enum ReadError<E> {
    /// A block could not be obtained, or the sink failed.
    #[error("{0}")]
    Source(E),
    /// A block failed verification.
    #[error(transparent)]
    Block(#[from] BlockError),
    /// A node is not valid dag-pb.
    #[error("{cid}: {source}")]
    DagPb {
        /// The node.
        cid: Cid,
        /// What was wrong.
        source: DagPbError,
    },
    /// A node is not valid UnixFS.
    #[error("{cid}: {source}")]
    UnixFs {
        /// The node.
        cid: Cid,
        /// What was wrong.
        source: UnixFsError,
    },
    /// The CID names a directory, symlink or metadata node.
    #[error("{cid} is a {kind}, not a file")]
    NotAFile {
        /// The node.
        cid: Cid,
        /// What it is.
        kind: &'static str,
    },
    /// The CID does not name a directory.
    #[error("{cid} is not a directory")]
    NotADirectory {
        /// The node.
        cid: Cid,
    },
    /// A codec that is not part of UnixFS.
    #[error("{cid} has codec {codec:#x}, which is not UnixFS (dag-pb or raw)")]
    Codec {
        /// The node.
        cid: Cid,
        /// Its codec.
        codec: u64,
    },
    /// The sizes recorded in a node do not match its children.
    #[error("{cid}: the node says {expected} bytes but its blocks hold {actual}")]
    SizeMismatch {
        /// The node.
        cid: Cid,
        /// The recorded size.
        expected: u64,
        /// What was found.
        actual: u64,
    },
    /// A file is larger than the caller accepts.
    #[error("{cid}: the file is larger than {limit} bytes, the most accepted here; refusing it")]
    TooLarge {
        /// The file's root.
        cid: Cid,
        /// The most bytes accepted.
        limit: u64,
    },
    /// A file's DAG reads more nodes than its size pays for.
    #[error("{cid}: the file's DAG reads more than {limit} blocks for its {size} bytes; it links blocks over and over, refusing it")]
    TooManyNodes {
        /// The file's root.
        cid: Cid,
        /// The most nodes allowed.
        limit: u64,
        /// The file's size.
        size: u64,
    },
    /// A directory is larger than any listing accepts.
    #[error("directory {cid} has more than {limit} {what}; refusing to list it")]
    TooManyEntries {
        /// The directory.
        cid: Cid,
        /// What there are too many of (`entries`, `shards`).
        what: &'static str,
        /// The most accepted.
        limit: usize,
    },
    /// A HAMT directory reaches one shard twice, which no real one does.
    #[error("directory {dir} reaches shard {cid} twice; a HAMT never repeats a shard, refusing it")]
    RepeatedShard {
        /// The directory.
        dir: Cid,
        /// The shard.
        cid: Cid,
    },
    /// The DAG nests deeper than any real one does.
    #[error("{cid}: the DAG is deeper than {limit} levels")]
    TooDeep {
        /// The node.
        cid: Cid,
        /// The limit.
        limit: usize,
    },
}

/// Reads the bytes of `cid`, verified; identity CIDs carry their bytes inline.
pub(crate) fn fetch_verified<E>(
    cid: &Cid,
    get: &mut impl FnMut(&Cid) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, ReadError<E>> {
    let bytes = if cid.hash().code() == IDENTITY {
        cid.hash().digest().to_vec()
    } else {
        get(cid).map_err(ReadError::Source)?
    };
    verify(cid, &bytes)?;
    Ok(bytes)
}

/// Decodes a dag-pb node and its UnixFS data.
pub(crate) fn decode_unixfs<E>(cid: &Cid, bytes: &[u8]) -> Result<(PbNode, UnixFsData), ReadError<E>> {
    let node = PbNode::decode(bytes).map_err(|source| ReadError::DagPb { cid: *cid, source })?;
    let data = node.data.as_deref().ok_or(ReadError::UnixFs { cid: *cid, source: UnixFsError::NotUnixFs })?;
    let data = UnixFsData::decode(data).map_err(|source| ReadError::UnixFs { cid: *cid, source })?;
    Ok((node, data))
}
