//! The UnixFS file exporter: streams a file's bytes back out of its blocks.
//!
//! Every block is verified against its CID before any of its bytes are
//! passed on, and the sizes recorded in each node (`blocksizes`, `filesize`)
//! must match what its children really hold, so a truncated or padded DAG is
//! refused rather than exported.
//!
//! A file's DAG may name one block many times (a file of zeros does, and so
//! does a hostile DAG of a few blocks that link to each other a thousand
//! times per level), so no visited set can apply; instead every export has a
//! budget. The caller names the most bytes it accepts (an artifact's signed
//! size, an index file's cap); the root's own declared size, if smaller,
//! lowers it; and the nodes read are bounded by that size
//! ([`node_budget`]: every leaf of a real file holds a byte, and every
//! internal node but those on one edge has two children). Identity CIDs,
//! whose bytes are in the CID, count like any other node. So an export costs
//! time linear in the size it was allowed, never exponential in the DAG's
//! depth, and a DAG of empty leaves linked over and over is refused after a
//! few reads.

use super::data::DataType;
use super::read::{decode_unixfs, fetch_verified, ReadError};
use crate::formats::block::{DAG_PB, IDENTITY, RAW};
use cid::Cid;

/// How deep a file's DAG may be. A balanced tree of 174-link nodes reaches
/// 2^64 bytes long before this.
pub const MAX_DEPTH: usize = 32;

/// Nodes every export may read besides those its size pays for: the root,
/// an empty file's node, and internal nodes of one child on a tree's edge
/// (at most [`MAX_DEPTH`]).
pub const BASE_NODES: u64 = 64;

/// The most nodes an export of a file of `size` bytes reads: [`BASE_NODES`]
/// and two per byte. A real file's leaves each hold at least a byte, and its
/// internal nodes are fewer than its leaves but for a chain of single
/// children, so any file kubo or this tool writes, whatever its chunk size,
/// fits; the importers' chunks of 256 KiB or 1 MiB use a millionth of it.
pub fn node_budget(size: u64) -> u64 {
    BASE_NODES.saturating_add(size.saturating_mul(2))
}

/// Streams the file at `root` into `sink`, reading blocks with `get`, and
/// returns its length. A file larger than `limit` bytes (by its root's
/// declaration or by what its blocks hold) is refused, and so is one whose
/// DAG reads more than [`node_budget`] nodes for its size.
pub fn export_file<E>(
    root: &Cid,
    limit: u64,
    get: &mut impl FnMut(&Cid) -> Result<Vec<u8>, E>,
    sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<u64, ReadError<E>> {
    let mut tally = Tally::new(*root, limit, true);
    export_node(root, get, sink, 0, &mut tally)
}

/// Like [`export_file`] for a `get` that returns only bytes already
/// verified against their CIDs (a [`crate::store::BlockStore`], blocks from a
/// verifying CAR reader), which are not hashed again. Sizes and the budget
/// are still checked.
pub fn export_verified_file<E>(
    root: &Cid,
    limit: u64,
    get: &mut impl FnMut(&Cid) -> Result<Vec<u8>, E>,
    sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<u64, ReadError<E>> {
    let mut tally = Tally::new(*root, limit, false);
    export_node(root, get, sink, 0, &mut tally)
}

/// What an export has spent and may spend.
struct Tally {
    root: Cid,
    verify: bool,
    nodes: u64,
    node_limit: u64,
    bytes: u64,
    byte_limit: u64,
}

impl Tally {
    fn new(root: Cid, limit: u64, verify: bool) -> Self {
        // The node limit is set once the root's size is known.
        Tally { root, verify, nodes: 0, node_limit: u64::MAX, bytes: 0, byte_limit: limit }
    }

    /// Lowers the budget to what the root declares, refusing a root that
    /// declares more than the caller allows.
    fn declare<E>(&mut self, size: u64) -> Result<(), ReadError<E>> {
        if size > self.byte_limit {
            return Err(ReadError::TooLarge { cid: self.root, limit: self.byte_limit });
        }
        self.byte_limit = size;
        self.node_limit = node_budget(size);
        Ok(())
    }

    fn node<E>(&mut self) -> Result<(), ReadError<E>> {
        self.nodes += 1;
        if self.nodes > self.node_limit {
            return Err(ReadError::TooManyNodes { cid: self.root, limit: self.node_limit, size: self.byte_limit });
        }
        Ok(())
    }

    fn emit<E>(&mut self, bytes: &[u8], sink: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), ReadError<E>> {
        self.bytes += bytes.len() as u64;
        if self.bytes > self.byte_limit {
            return Err(ReadError::TooLarge { cid: self.root, limit: self.byte_limit });
        }
        sink(bytes).map_err(ReadError::Source)
    }
}

fn export_node<E>(
    cid: &Cid,
    get: &mut impl FnMut(&Cid) -> Result<Vec<u8>, E>,
    sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
    depth: usize,
    tally: &mut Tally,
) -> Result<u64, ReadError<E>> {
    if depth > MAX_DEPTH {
        return Err(ReadError::TooDeep { cid: *cid, limit: MAX_DEPTH });
    }
    tally.node()?;
    let codec = cid.codec();
    if codec != RAW && codec != DAG_PB {
        return Err(ReadError::Codec { cid: *cid, codec });
    }
    let bytes = if tally.verify || cid.hash().code() == IDENTITY {
        fetch_verified(cid, get)?
    } else {
        get(cid).map_err(ReadError::Source)?
    };
    if codec == RAW {
        if depth == 0 {
            tally.declare(bytes.len() as u64)?;
        }
        tally.emit(&bytes, sink)?;
        return Ok(bytes.len() as u64);
    }
    let (node, data) = decode_unixfs(cid, &bytes)?;
    match data.kind {
        DataType::File | DataType::Raw => {}
        DataType::Directory | DataType::HamtShard => return Err(ReadError::NotAFile { cid: *cid, kind: "directory" }),
        DataType::Symlink => return Err(ReadError::NotAFile { cid: *cid, kind: "symlink" }),
        DataType::Metadata => return Err(ReadError::NotAFile { cid: *cid, kind: "metadata node" }),
    }
    if !node.links.is_empty() && data.blocksizes.len() != node.links.len() {
        return Err(ReadError::SizeMismatch {
            cid: *cid,
            expected: node.links.len() as u64,
            actual: data.blocksizes.len() as u64,
        });
    }
    if depth == 0 {
        let inline = data.data.as_ref().map_or(0, |d| d.len() as u64);
        let declared =
            data.filesize.unwrap_or_else(|| data.blocksizes.iter().fold(inline, |sum, &size| sum.saturating_add(size)));
        tally.declare(declared)?;
    }
    let mut total = 0u64;
    if let Some(inline) = &data.data {
        tally.emit(inline, sink)?;
        total += inline.len() as u64;
    }
    for (link, &expected) in node.links.iter().zip(&data.blocksizes) {
        let actual = export_node(&link.cid, get, sink, depth + 1, tally)?;
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
