//! UnixFS directories: building plain ones, listing plain and HAMT-sharded
//! ones.
//!
//! A plain directory is one dag-pb node whose links, sorted by name bytes,
//! are the entries. kubo switches to a HAMT when the links' estimated size
//! (name plus CID bytes) passes 256 KiB; the builder refuses such a directory
//! rather than produce a CID kubo would not, and the reader follows HAMT
//! shards so that directories made elsewhere can still be listed.

use super::data::{DataType, UnixFsData, UnixFsError};
use super::importer::ImportParams;
use super::read::{decode_unixfs, fetch_verified, ReadError};
use crate::formats::block::{Block, DAG_PB, RAW};
use crate::formats::dagpb::{PbLink, PbNode};
use cid::Cid;
use std::collections::HashSet;
use thiserror::Error;

/// kubo's `HAMTShardingSize`: a directory whose links are estimated above
/// this many bytes is sharded by kubo.
pub const MAX_PLAIN_DIRECTORY_BLOCK: usize = 256 * 1024;

/// How deep HAMT shards may nest before the reader gives up (a 256-way HAMT
/// of 2^64 entries is 8 levels deep).
const MAX_HAMT_DEPTH: usize = 16;

/// A named entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry name.
    pub name: String,
    /// The entry's root CID.
    pub cid: Cid,
    /// The cumulative size of its DAG.
    pub tsize: u64,
}

/// What a UnixFS node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A file (dag-pb file node or raw block).
    File,
    /// A plain or HAMT-sharded directory.
    Directory,
    /// A symbolic link.
    Symlink,
}

/// Why a directory could not be built.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DirError {
    /// An entry name is empty, has a `/`, or is `.` or `..`.
    #[error("invalid directory entry name {0:?}: names must be non-empty, without '/', and not '.' or '..'")]
    BadName(String),
    /// Two entries share a name.
    #[error("directory has two entries named {0:?}")]
    DuplicateName(String),
    /// The directory is too large for a plain node.
    #[error("directory has {size} bytes of links, over the {limit}-byte limit for a plain directory (kubo shards larger ones as HAMT, which this importer does not build)")]
    TooLarge {
        /// The links' estimated size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// Builds a plain directory node over `entries` (sorted here) and returns
/// the block and the directory's cumulative size. Refuses directories kubo
/// would shard ([`MAX_PLAIN_DIRECTORY_BLOCK`]), so CIDs match `ipfs add`.
pub fn build_directory(params: &ImportParams, entries: Vec<DirEntry>) -> Result<(Block, u64), DirError> {
    build_directory_with_limit(params, entries, MAX_PLAIN_DIRECTORY_BLOCK)
}

/// [`build_directory`] with another bound on the links' estimated size, for
/// trees that need not match `ipfs add` (the index allows 1 MiB, well under
/// the 2 MiB block limit).
pub fn build_directory_with_limit(
    params: &ImportParams,
    mut entries: Vec<DirEntry>,
    limit: usize,
) -> Result<(Block, u64), DirError> {
    entries.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let mut estimate = 0;
    for (i, entry) in entries.iter().enumerate() {
        if entry.name.is_empty() || entry.name.contains('/') || entry.name == "." || entry.name == ".." {
            return Err(DirError::BadName(entry.name.clone()));
        }
        if i > 0 && entries[i - 1].name == entry.name {
            return Err(DirError::DuplicateName(entry.name.clone()));
        }
        estimate += entry.name.len() + entry.cid.encoded_len();
    }
    if estimate > limit {
        return Err(DirError::TooLarge { size: estimate, limit });
    }
    let children: u64 = entries.iter().map(|e| e.tsize).sum();
    let links = entries.into_iter().map(|e| PbLink { cid: e.cid, name: Some(e.name), tsize: Some(e.tsize) }).collect();
    let node = PbNode { links, data: Some(UnixFsData::new(DataType::Directory).encode()) };
    let block = params.dag_pb_block(node.encode());
    let tsize = block.data().len() as u64 + children;
    Ok((block, tsize))
}

/// What kind of UnixFS node a verified block is.
pub fn node_kind(cid: &Cid, bytes: &[u8]) -> Option<EntryKind> {
    if cid.codec() != DAG_PB {
        return (cid.codec() == RAW).then_some(EntryKind::File);
    }
    let (_, data) = decode_unixfs::<std::convert::Infallible>(cid, bytes).ok()?;
    match data.kind {
        DataType::File | DataType::Raw => Some(EntryKind::File),
        DataType::Directory | DataType::HamtShard => Some(EntryKind::Directory),
        DataType::Symlink => Some(EntryKind::Symlink),
        DataType::Metadata => None,
    }
}

/// The most shard blocks a HAMT listing reads: a 256-way HAMT of a million
/// names has about 4,000, and the index's own directories are plain.
pub const MAX_LIST_SHARDS: usize = 65_536;

/// The most entries a listing returns: a plain directory block of 2 MiB
/// holds at most about 50,000, and a HAMT of this many is far larger than
/// any directory this tool reads.
pub const MAX_LIST_ENTRIES: usize = 1 << 20;

/// Lists a directory, plain or HAMT-sharded, sorted by name. Every block read
/// is verified against its CID. A listing reads each shard once (a HAMT that
/// reaches one shard twice is refused, since no real one does), at most
/// [`MAX_LIST_SHARDS`] shards and [`MAX_LIST_ENTRIES`] entries, so a few
/// blocks that link to each other over and over cost a few reads.
pub fn list_directory<E>(
    cid: &Cid,
    get: &mut impl FnMut(&Cid) -> Result<Vec<u8>, E>,
) -> Result<Vec<DirEntry>, ReadError<E>> {
    let mut listing = Listing { dir: *cid, out: Vec::new(), seen: HashSet::new(), follow: true };
    listing.list(cid, get, 0)?;
    listing.out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    Ok(listing.out)
}

/// The entries a directory's own block holds, reading that one block: every
/// entry of a plain directory, and of a HAMT shard those not in a sub-shard
/// (which are left unread). For directories whose entries a caller must
/// find before it may trust anything more, such as an index version's root
/// before its manifest's signatures are checked.
pub fn list_directory_block<E>(
    cid: &Cid,
    get: &mut impl FnMut(&Cid) -> Result<Vec<u8>, E>,
) -> Result<Vec<DirEntry>, ReadError<E>> {
    let mut listing = Listing { dir: *cid, out: Vec::new(), seen: HashSet::new(), follow: false };
    listing.list(cid, get, 0)?;
    listing.out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    Ok(listing.out)
}

/// A listing under way: the directory, what was found, the shards read, and
/// whether sub-shards are followed.
struct Listing {
    dir: Cid,
    out: Vec<DirEntry>,
    seen: HashSet<Cid>,
    follow: bool,
}

impl Listing {
    fn push<E>(&mut self, entry: DirEntry) -> Result<(), ReadError<E>> {
        if self.out.len() >= MAX_LIST_ENTRIES {
            return Err(ReadError::TooManyEntries { cid: self.dir, what: "entries", limit: MAX_LIST_ENTRIES });
        }
        self.out.push(entry);
        Ok(())
    }

    fn list<E>(
        &mut self,
        cid: &Cid,
        get: &mut impl FnMut(&Cid) -> Result<Vec<u8>, E>,
        depth: usize,
    ) -> Result<(), ReadError<E>> {
        if depth > MAX_HAMT_DEPTH {
            return Err(ReadError::TooDeep { cid: *cid, limit: MAX_HAMT_DEPTH });
        }
        if cid.codec() != DAG_PB {
            return Err(ReadError::NotADirectory { cid: *cid });
        }
        if !self.seen.insert(*cid) {
            return Err(ReadError::RepeatedShard { dir: self.dir, cid: *cid });
        }
        if self.seen.len() > MAX_LIST_SHARDS {
            return Err(ReadError::TooManyEntries { cid: self.dir, what: "shards", limit: MAX_LIST_SHARDS });
        }
        let bytes = fetch_verified(cid, get)?;
        let (node, data) = decode_unixfs(cid, &bytes)?;
        match data.kind {
            DataType::Directory if depth == 0 => {
                for link in node.links {
                    let name = link.name.unwrap_or_default();
                    self.push(DirEntry { name, cid: link.cid, tsize: link.tsize.unwrap_or(0) })?;
                }
            }
            DataType::HamtShard => {
                // Link names start with the bucket index in upper-case hex, as
                // wide as the fanout needs; a name that is only the index
                // points to a sub-shard.
                let fanout = data.fanout.unwrap_or(256).max(2);
                let width = format!("{:X}", fanout - 1).len();
                for link in node.links {
                    let name = link.name.unwrap_or_default();
                    if name.len() < width {
                        return Err(ReadError::UnixFs { cid: *cid, source: UnixFsError::BadHamtName(name) });
                    }
                    if name.len() == width {
                        if self.follow {
                            self.list(&link.cid, get, depth + 1)?;
                        }
                    } else {
                        let entry =
                            DirEntry { name: name[width..].to_string(), cid: link.cid, tsize: link.tsize.unwrap_or(0) };
                        self.push(entry)?;
                    }
                }
            }
            _ => return Err(ReadError::NotADirectory { cid: *cid }),
        }
        Ok(())
    }
}
