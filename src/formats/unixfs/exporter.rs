//! The UnixFS file exporter: streams a file's bytes back out of its blocks.
//!
//! Every block is verified against its CID before any of its bytes are
//! passed on, and the sizes recorded in each node (`blocksizes`, `filesize`)
//! must match what its children really hold, so a truncated or padded DAG is
//! refused rather than exported.

use super::data::DataType;
use super::read::{decode_unixfs, fetch_verified, ReadError};
use crate::formats::block::{DAG_PB, IDENTITY, RAW};
use cid::Cid;

/// How deep a file's DAG may be. A balanced tree of 174-link nodes reaches
/// 2^64 bytes long before this.
pub const MAX_DEPTH: usize = 32;

/// Streams the file at `root` into `sink`, reading blocks with `get`, and
/// returns its length.
pub fn export_file<E>(
    root: &Cid,
    get: &mut impl FnMut(&Cid) -> Result<Vec<u8>, E>,
    sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<u64, ReadError<E>> {
    export_node(root, get, sink, 0, true)
}

/// Like [`export_file`] for a `get` that returns only bytes already
/// verified against their CIDs (a [`crate::store::BlockStore`], blocks from a
/// verifying CAR reader), which are not hashed again. Sizes are still
/// checked.
pub fn export_verified_file<E>(
    root: &Cid,
    get: &mut impl FnMut(&Cid) -> Result<Vec<u8>, E>,
    sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<u64, ReadError<E>> {
    export_node(root, get, sink, 0, false)
}

fn export_node<E>(
    cid: &Cid,
    get: &mut impl FnMut(&Cid) -> Result<Vec<u8>, E>,
    sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
    depth: usize,
    verify: bool,
) -> Result<u64, ReadError<E>> {
    if depth > MAX_DEPTH {
        return Err(ReadError::TooDeep { cid: *cid, limit: MAX_DEPTH });
    }
    let codec = cid.codec();
    if codec != RAW && codec != DAG_PB {
        return Err(ReadError::Codec { cid: *cid, codec });
    }
    let bytes = if verify || cid.hash().code() == IDENTITY {
        fetch_verified(cid, get)?
    } else {
        get(cid).map_err(ReadError::Source)?
    };
    if codec == RAW {
        sink(&bytes).map_err(ReadError::Source)?;
        return Ok(bytes.len() as u64);
    }
    let (node, data) = decode_unixfs(cid, &bytes)?;
    match data.kind {
        DataType::File | DataType::Raw => {}
        DataType::Directory | DataType::HamtShard => return Err(ReadError::NotAFile { cid: *cid, kind: "directory" }),
        DataType::Symlink => return Err(ReadError::NotAFile { cid: *cid, kind: "symlink" }),
        DataType::Metadata => return Err(ReadError::NotAFile { cid: *cid, kind: "metadata node" }),
    }
    let mut total = 0u64;
    if let Some(inline) = &data.data {
        sink(inline).map_err(ReadError::Source)?;
        total += inline.len() as u64;
    }
    if !node.links.is_empty() && data.blocksizes.len() != node.links.len() {
        return Err(ReadError::SizeMismatch {
            cid: *cid,
            expected: node.links.len() as u64,
            actual: data.blocksizes.len() as u64,
        });
    }
    for (link, &expected) in node.links.iter().zip(&data.blocksizes) {
        let actual = export_node(&link.cid, get, sink, depth + 1, verify)?;
        if actual != expected {
            return Err(ReadError::SizeMismatch { cid: link.cid, expected, actual });
        }
        total += actual;
    }
    if let Some(expected) = data.filesize {
        if expected != total {
            return Err(ReadError::SizeMismatch { cid: *cid, expected, actual: total });
        }
    }
    Ok(total)
}
