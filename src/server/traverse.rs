//! The gateway's blocking work over the store: resolving `/ipfs/{cid}/a/b`
//! through UnixFS directories (plain and HAMT), and writing the CAR of what
//! a request's `dag-scope` covers into a channel the response body reads.
//!
//! Everything here runs on tokio's blocking pool. A CAR carries the blocks
//! that prove each path segment, then the scope's blocks in depth-first link
//! order, each once, never an identity block (the spec forbids them: their
//! bytes are in the CID).

use super::negotiate::DagScope;
use crate::buffers::ChunkWriter;
use crate::formats::block::MAX_BLOCK_SIZE;
use crate::formats::block::{Block, DAG_PB, IDENTITY};
use crate::formats::car::{encode_header, section_prefix};
use crate::formats::dagpb::PbNode;
use crate::formats::unixfs::{DataType, UnixFsData, MAX_LIST_SHARDS};
use crate::store::dag::{walk_from, WalkError};
use crate::store::{BlockStore, Recycling, StoreError};
use axum::body::Bytes;
use cid::Cid;
use std::collections::HashSet;
use std::io::{self, Write};
use std::time::Instant;
use thiserror::Error;
use tokio::sync::mpsc;

/// How deep HAMT shards may nest (as in the UnixFS reader).
const MAX_HAMT_DEPTH: usize = 16;

/// The response body is sent in pieces of about this size.
const CHUNK: usize = 64 * 1024;

/// A content path resolved to its terminus.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The CID the path starts from.
    pub root: Cid,
    /// The CID the path names.
    pub terminus: Cid,
    /// The CID of each logical path segment, root first (`X-Ipfs-Roots`).
    pub roots: Vec<Cid>,
    /// The blocks read to cross each segment (directory nodes and HAMT
    /// shards on the way), in order: a CAR sends them first.
    pub path_blocks: Vec<Cid>,
    /// The terminus block's bytes, verified.
    pub block: Vec<u8>,
}

/// Why a content path could not be resolved.
#[derive(Debug, Error)]
pub enum ResolveError {
    /// A block on the path is not in the store.
    #[error("block {0} is not in this gateway's store")]
    Missing(Cid),
    /// A directory has no entry of that name.
    #[error("{path} has no entry named {name:?}")]
    NoEntry {
        /// The directory's path.
        path: String,
        /// The missing name.
        name: String,
    },
    /// A path segment follows something that is not a UnixFS directory.
    #[error("{path} is not a UnixFS directory, so it has no entry {name:?}: {reason}")]
    NotADirectory {
        /// The node's path.
        path: String,
        /// The name looked up.
        name: String,
        /// What the node is instead.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A block's bytes as the store gives them (verified there unless the
/// gateway turned hashing on read off; clients verify every block anyway),
/// or for identity CIDs, which carry theirs inline, verified here.
pub fn load(store: &dyn BlockStore, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError> {
    if cid.hash().code() == IDENTITY {
        let bytes = cid.hash().digest().to_vec();
        crate::formats::block::verify(cid, &bytes)?;
        return Ok(Some(bytes));
    }
    store.get(cid)
}

/// Resolves `root/segments...` through UnixFS directories. The root itself
/// must be in the store (or be an identity CID) even without segments.
pub fn resolve(store: &dyn BlockStore, root: Cid, segments: &[String]) -> Result<Resolved, ResolveError> {
    let block = load(store, &root)?.ok_or(ResolveError::Missing(root))?;
    let mut resolved = Resolved { root, terminus: root, roots: vec![root], path_blocks: Vec::new(), block };
    let mut path = root.to_string();
    for name in segments {
        let not_dir = |reason: String| ResolveError::NotADirectory { path: path.clone(), name: name.clone(), reason };
        let cid = resolved.terminus;
        let (node, data) = decode(&cid, &resolved.block).map_err(not_dir)?;
        let found = match data.kind {
            DataType::Directory => {
                resolved.path_blocks.push(cid);
                node.links.into_iter().find(|l| l.name.as_deref() == Some(name.as_str())).map(|l| l.cid)
            }
            DataType::HamtShard => {
                let mut chain = Vec::new();
                let mut seen = HashSet::new();
                let found = find_in_shard(store, cid, node, &data, name, &mut chain, &mut seen, 0)?;
                resolved.path_blocks.extend(chain);
                found
            }
            other => return Err(not_dir(format!("it is a UnixFS {other:?} node"))),
        };
        let next = found.ok_or_else(|| ResolveError::NoEntry { path: path.clone(), name: name.clone() })?;
        resolved.block = load(store, &next)?.ok_or(ResolveError::Missing(next))?;
        path = format!("{path}/{name}");
        resolved.terminus = next;
        resolved.roots.push(next);
    }
    Ok(resolved)
}

/// Decodes a dag-pb node and its UnixFS data, saying why not.
fn decode(cid: &Cid, bytes: &[u8]) -> Result<(PbNode, UnixFsData), String> {
    if cid.codec() != DAG_PB {
        return Err(format!("its codec is {:#x}, not dag-pb", cid.codec()));
    }
    let node = PbNode::decode(bytes).map_err(|e| e.to_string())?;
    let data = node.data.as_deref().ok_or("the dag-pb node has no UnixFS data")?;
    let data = UnixFsData::decode(data).map_err(|e| e.to_string())?;
    Ok((node, data))
}

/// The bucket prefix width of a HAMT shard's link names.
fn hamt_width(data: &UnixFsData) -> usize {
    format!("{:X}", data.fanout.unwrap_or(256).max(2) - 1).len()
}

/// Looks `name` up in a HAMT directory by visiting its shards, leaving in
/// `chain` the shards from this one to the one that holds the entry (the
/// blocks a client needs to verify the lookup). Names are not hashed here,
/// so a lookup may read every shard; the chain is still the minimal one.
/// Each shard is read once (`seen`; a HAMT that reaches one twice is
/// refused, since no real one does), and at most [`MAX_LIST_SHARDS`], so
/// shards that link to each other over and over cost a few reads.
#[allow(clippy::too_many_arguments)]
fn find_in_shard(
    store: &dyn BlockStore,
    cid: Cid,
    node: PbNode,
    data: &UnixFsData,
    name: &str,
    chain: &mut Vec<Cid>,
    seen: &mut HashSet<Cid>,
    depth: usize,
) -> Result<Option<Cid>, ResolveError> {
    let invalid = |reason: String| ResolveError::NotADirectory { path: cid.to_string(), name: name.into(), reason };
    if depth > MAX_HAMT_DEPTH {
        return Err(invalid(format!("its HAMT shards nest deeper than {MAX_HAMT_DEPTH} levels")));
    }
    if !seen.insert(cid) {
        return Err(invalid(format!("its HAMT reaches shard {cid} twice, which no real one does")));
    }
    if seen.len() > MAX_LIST_SHARDS {
        return Err(invalid(format!("its HAMT has more than {MAX_LIST_SHARDS} shards")));
    }
    chain.push(cid);
    let width = hamt_width(data);
    for link in node.links {
        let link_name = link.name.unwrap_or_default();
        if link_name.len() == width {
            let bytes = load(store, &link.cid)?.ok_or(ResolveError::Missing(link.cid))?;
            let (child, child_data) = decode(&link.cid, &bytes).map_err(invalid)?;
            if child_data.kind != DataType::HamtShard {
                return Err(invalid(format!("HAMT link {link_name:?} does not lead to a shard")));
            }
            if let Some(found) = find_in_shard(store, link.cid, child, &child_data, name, chain, seen, depth + 1)? {
                return Ok(Some(found));
            }
        } else if link_name.get(width..) == Some(name) {
            return Ok(Some(link.cid));
        }
    }
    chain.pop();
    Ok(None)
}

/// What a CAR request streams.
#[derive(Debug, Clone)]
pub struct CarJob {
    /// The resolved path.
    pub resolved: Resolved,
    /// How much of the DAG under the terminus to send.
    pub scope: DagScope,
    /// When to give up and cut the stream.
    pub deadline: Instant,
}

/// How a CAR stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Every block in scope was sent (this many).
    Complete(u64),
    /// The client closed the connection.
    ClientGone,
    /// The stream was cut off, for this reason.
    CutOff(String),
}

/// Writes the CAR for `job` into `tx`, in chunks. A block that goes missing
/// mid-stream, a store error or the deadline ends the stream: the blocks
/// written so far are sent, then the error, so that the response is cut off
/// rather than ended cleanly.
pub fn write_car(store: &dyn BlockStore, job: CarJob, tx: mpsc::Sender<io::Result<Bytes>>) -> Ended {
    let store = &Recycling::new(store);
    let out = ChunkWriter::new(tx.clone(), CHUNK, "the client closed the connection");
    let mut sink = Sink { out, seen: HashSet::new(), deadline: job.deadline, blocks: 0 };
    let result = sink.run(store, job);
    if tx.is_closed() {
        return Ended::ClientGone;
    }
    match result {
        Ok(()) => Ended::Complete(sink.blocks),
        Err(message) => {
            let _ = sink.out.flush();
            let _ = tx.blocking_send(Err(io::Error::other(message.clone())));
            Ended::CutOff(message)
        }
    }
}

struct Sink {
    out: ChunkWriter,
    seen: HashSet<Cid>,
    deadline: Instant,
    blocks: u64,
}

impl Sink {
    fn run(&mut self, store: &dyn BlockStore, job: CarJob) -> Result<(), String> {
        let resolved = job.resolved;
        self.out.write_all(&encode_header(&[resolved.root])).map_err(|e| e.to_string())?;
        for cid in &resolved.path_blocks {
            self.emit_cid(store, cid)?;
        }
        let terminus = resolved.terminus;
        // Read once, while resolving: not read again here.
        let block = Block::verified(terminus, resolved.block);
        let all = |sink: &mut Sink, block: Block| {
            walk_from(store, block, &mut |block| sink.emit(block).map_err(WalkError::Stopped))
                .map_err(|e| e.to_string())
        };
        match job.scope {
            DagScope::Block => self.emit(block)?,
            DagScope::All => all(self, block)?,
            DagScope::Entity => match decode(&terminus, block.data()).map(|(_, data)| data.kind) {
                Ok(DataType::File | DataType::Raw) => all(self, block)?,
                Ok(DataType::HamtShard) => self.emit_shards(store, block)?,
                // Plain directories, symlinks, raw blocks and non-UnixFS
                // data: the block is the entity.
                _ => self.emit(block)?,
            },
        }
        self.out.flush().map_err(|e| e.to_string())
    }

    /// Every shard of a HAMT directory, depth-first: what enumerating it
    /// takes, without the entries' own DAGs.
    fn emit_shards(&mut self, store: &dyn BlockStore, root: Block) -> Result<(), String> {
        let (root, bytes) = root.into_parts();
        let mut first = Some(bytes);
        let mut stack = vec![(root, 0)];
        while let Some((cid, depth)) = stack.pop() {
            if depth > MAX_HAMT_DEPTH {
                return Err(format!("HAMT shards under {root} nest deeper than {MAX_HAMT_DEPTH} levels"));
            }
            let bytes = match first.take() {
                Some(bytes) => bytes,
                None => load(store, &cid).map_err(|e| e.to_string())?.ok_or_else(|| missing(&cid))?,
            };
            let (node, data) = decode(&cid, &bytes)?;
            self.emit(Block::verified(cid, bytes))?;
            let width = hamt_width(&data);
            let shards = node.links.iter().filter(|l| l.name.as_deref().map_or(0, str::len) == width);
            stack.extend(shards.map(|l| (l.cid, depth + 1)).collect::<Vec<_>>().into_iter().rev());
        }
        Ok(())
    }

    fn emit_cid(&mut self, store: &dyn BlockStore, cid: &Cid) -> Result<(), String> {
        let bytes = load(store, cid).map_err(|e| e.to_string())?.ok_or_else(|| missing(cid))?;
        self.emit(Block::verified(*cid, bytes))
    }

    fn emit(&mut self, block: Block) -> Result<(), String> {
        if block.cid().hash().code() == IDENTITY || !self.seen.insert(*block.cid()) {
            return Ok(());
        }
        if Instant::now() > self.deadline {
            return Err("the CAR stream took longer than its time limit".into());
        }
        let (cid, data) = block.into_parts();
        // No reader accepts more; a file that grew on the gateway's disk is
        // not passed on.
        if data.len() > MAX_BLOCK_SIZE {
            return Err(format!("block {cid} in this gateway's store is over the {MAX_BLOCK_SIZE}-byte block limit"));
        }
        let prefix = section_prefix(&cid, data.len());
        self.out.write_all(&prefix).map_err(|e| e.to_string())?;
        self.out.send(data).map_err(|e| e.to_string())?;
        self.blocks += 1;
        Ok(())
    }
}

fn missing(cid: &Cid) -> String {
    format!("block {cid} is not in this gateway's store")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::unixfs::{build_directory, import_bytes, DirEntry, ImportParams};
    use crate::store::MemoryStore;

    fn params() -> ImportParams {
        ImportParams::profile("unixfs-v1-2025").unwrap()
    }

    /// A directory `top/` holding `sub/` holding `f` (a three-block file).
    fn tree(store: &MemoryStore) -> (Cid, Cid, Cid) {
        let mut p = params();
        p.chunk_size = 4;
        let (file, blocks) = import_bytes(p, b"0123456789").unwrap();
        for block in &blocks {
            store.put(block).unwrap();
        }
        let entry = |name: &str, cid, tsize| DirEntry { name: name.into(), cid, tsize };
        let (sub, sub_size) = build_directory(&params(), vec![entry("f", file.cid, file.tsize)]).unwrap();
        store.put(&sub).unwrap();
        let (top, _) = build_directory(&params(), vec![entry("sub", *sub.cid(), sub_size)]).unwrap();
        store.put(&top).unwrap();
        (*top.cid(), *sub.cid(), file.cid)
    }

    fn car_cids(store: &dyn BlockStore, resolved: Resolved, scope: DagScope) -> Result<Vec<Cid>, String> {
        let (tx, mut rx) = mpsc::channel(1024);
        let job = CarJob { resolved, scope, deadline: Instant::now() + std::time::Duration::from_secs(60) };
        let ended = write_car(store, job, tx);
        let mut bytes = Vec::new();
        while let Ok(chunk) = rx.try_recv() {
            if let Ok(chunk) = chunk {
                bytes.extend_from_slice(&chunk);
            }
        }
        if let Ended::CutOff(reason) = ended {
            return Err(reason);
        }
        let reader = crate::formats::car::CarReader::new(bytes.as_slice()).unwrap();
        Ok(reader.map(|b| *b.unwrap().cid()).collect())
    }

    #[test]
    fn resolves_paths_and_scopes() {
        let store = MemoryStore::default();
        let (top, sub, file) = tree(&store);
        let resolved = resolve(&store, top, &["sub".into(), "f".into()]).unwrap();
        assert_eq!(resolved.terminus, file);
        assert_eq!(resolved.roots, [top, sub, file]);
        assert_eq!(resolved.path_blocks, [top, sub]);

        let block = car_cids(&store, resolved.clone(), DagScope::Block).unwrap();
        assert_eq!(block, [top, sub, file]);
        let entity = car_cids(&store, resolved.clone(), DagScope::Entity).unwrap();
        assert_eq!(entity.len(), 2 + 4, "path blocks, then the file root and its three leaves");
        let at_dir = resolve(&store, top, &["sub".into()]).unwrap();
        assert_eq!(car_cids(&store, at_dir.clone(), DagScope::Entity).unwrap(), [top, sub], "a directory alone");
        assert_eq!(car_cids(&store, at_dir, DagScope::All).unwrap().len(), 2 + 4);

        assert!(matches!(resolve(&store, top, &["nope".into()]), Err(ResolveError::NoEntry { .. })));
        assert!(matches!(
            resolve(&store, top, &["sub".into(), "f".into(), "x".into()]),
            Err(ResolveError::NotADirectory { .. })
        ));
    }

    #[test]
    fn a_car_reads_each_block_once() {
        let store = MemoryStore::default();
        let (_, _, file) = tree(&store);
        let store = crate::store::Counting::new(store);
        for scope in [DagScope::Block, DagScope::Entity, DagScope::All] {
            store.reset();
            let resolved = resolve(&store, file, &[]).unwrap();
            let sent = car_cids(&store, resolved, scope).unwrap();
            assert_eq!(sent.len(), if scope == DagScope::Block { 1 } else { 4 }, "{scope:?}");
            // The root, read to resolve the path, is not read again.
            assert_eq!(store.gets(), sent.len() as u64, "{scope:?}");
        }
    }

    #[test]
    fn identity_blocks_are_not_sent_and_a_missing_block_cuts_the_stream() {
        let store = MemoryStore::default();
        let empty: Cid = "bafkqaaa".parse().unwrap();
        let resolved = resolve(&store, empty, &[]).unwrap();
        assert_eq!(car_cids(&store, resolved, DagScope::All).unwrap(), Vec::<Cid>::new());

        let (top, _, _) = tree(&store);
        let partial = MemoryStore::default();
        partial.put(&Block::new(top, store.get(&top).unwrap().unwrap()).unwrap()).unwrap();
        let resolved = resolve(&partial, top, &[]).unwrap();
        let err = car_cids(&partial, resolved, DagScope::All).unwrap_err();
        assert!(err.contains("is not in the store"), "{err}");
        assert!(matches!(resolve(&partial, top, &["sub".into()]), Err(ResolveError::Missing(_))));
    }
}
