//! Which blocks of a CAR response to keep, and whether the DAG asked for
//! arrived whole.
//!
//! A block is handed on only once a block already handed on (or the root
//! asked for) links to it, whatever order the gateway sends: a gateway
//! cannot fill the store with blocks that are verified but unrelated. In a
//! depth-first stream (what the client asks for) a parent always comes
//! before its children, so a block nothing links to yet is outside the DAG
//! at once. In a stream of another order a child may come before its
//! parent: such a block is held back, in memory and within
//! [`MAX_PENDING_BYTES`], until its parent comes, and is dropped as
//! unrelated if none does by the end. Duplicates and unrelated blocks count
//! against [`MAX_UNRELATED_BLOCKS`] and [`MAX_UNRELATED_BYTES`]; past either
//! the stream is refused.

use crate::formats::block::{Block, IDENTITY};
use crate::formats::links::{block_links, links, LinksError};
use cid::Cid;
use std::collections::{HashMap, HashSet, VecDeque};

use super::DagScope;

/// How many blocks outside the DAG (or sent twice) a stream may carry before
/// the gateway is taken to be wasting the client's time. An honest gateway
/// asked for `dups=n` sends none; a few are tolerated for gateways that
/// ignore the parameter on small repeated blocks.
pub const MAX_UNRELATED_BLOCKS: usize = 64;

/// How many bytes of such blocks a stream may carry: two blocks of the
/// largest size, so that a handful of junk blocks cannot cost more than a
/// few MiB of download before the gateway is refused.
pub const MAX_UNRELATED_BYTES: u64 = 4 << 20;

/// How many bytes of blocks a stream in another order than depth-first may
/// send before the block that links to them. Held in memory, so small: a
/// stream that sends a whole file's leaves before the file node is refused
/// (and the caller fetches block by block) rather than buffered.
pub const MAX_PENDING_BYTES: u64 = 8 << 20;

/// How many such blocks, whatever their size.
pub const MAX_PENDING_BLOCKS: usize = 4096;

/// Why a stream is refused.
#[derive(Debug)]
pub(super) enum Refusal {
    /// A block's links cannot be read.
    Links(LinksError),
    /// Too many blocks outside the DAG or sent twice.
    Unrelated {
        /// Blocks so far.
        count: usize,
        /// Their bytes.
        bytes: u64,
    },
    /// Too many bytes of blocks held back waiting for a parent.
    Unlinked {
        /// Bytes held back.
        bytes: u64,
    },
}

/// What has arrived of a DAG, and what is held back.
pub(super) struct Completeness {
    root: Cid,
    /// Every block reachable from the root is required (`dag-scope=all`).
    all: bool,
    /// Only the root is wanted (`dag-scope=block`): its links are not
    /// followed.
    block_only: bool,
    /// The stream says it is depth-first.
    dfs: bool,
    seen: HashSet<Cid>,
    /// Blocks linked from the root through blocks handed on.
    expected: HashSet<Cid>,
    /// The links of every block handed on, for the final check.
    links: HashMap<Cid, Vec<Cid>>,
    /// Blocks no block handed on links to yet (not depth-first only).
    pending: HashMap<Cid, Block>,
    pending_bytes: u64,
    /// Blocks dropped as duplicates or outside the DAG, and their bytes.
    pub(super) unrelated: usize,
    pub(super) unrelated_bytes: u64,
}

impl Completeness {
    /// For the DAG under `root` with `scope`, in a stream that is
    /// depth-first when `dfs` is set.
    pub(super) fn new(root: Cid, scope: DagScope, dfs: bool) -> Self {
        let mut expected = HashSet::new();
        expand(root, &mut expected, &mut Vec::new());
        Completeness {
            root,
            all: scope == DagScope::All,
            block_only: scope == DagScope::Block,
            dfs,
            seen: HashSet::new(),
            expected,
            links: HashMap::new(),
            pending: HashMap::new(),
            pending_bytes: 0,
            unrelated: 0,
            unrelated_bytes: 0,
        }
    }

    /// Takes `block` (verified); pushes onto `out` what to hand on: the
    /// block when something handed on links to it, followed by every block
    /// held back that it links to, directly or not.
    pub(super) fn offer(&mut self, block: Block, out: &mut VecDeque<Block>) -> Result<(), Refusal> {
        let cid = *block.cid();
        if self.seen.contains(&cid) || self.pending.contains_key(&cid) {
            return self.drop_unrelated(block.len() as u64);
        }
        if !self.expected.contains(&cid) {
            if self.dfs {
                return self.drop_unrelated(block.len() as u64);
            }
            self.pending_bytes += block.len() as u64;
            self.pending.insert(cid, block);
            if self.pending_bytes > MAX_PENDING_BYTES || self.pending.len() > MAX_PENDING_BLOCKS {
                return Err(Refusal::Unlinked { bytes: self.pending_bytes });
            }
            return Ok(());
        }
        let mut queue = vec![block];
        while let Some(block) = queue.pop() {
            let cid = *block.cid();
            if !self.block_only {
                let children = block_links(&block).map_err(Refusal::Links)?;
                let mut added = Vec::new();
                for child in &children {
                    expand(*child, &mut self.expected, &mut added);
                }
                for cid in added {
                    if let Some(held) = self.pending.remove(&cid) {
                        self.pending_bytes -= held.len() as u64;
                        queue.push(held);
                    }
                }
                if self.all {
                    self.links.insert(cid, children);
                }
            }
            self.seen.insert(cid);
            out.push_back(block);
        }
        Ok(())
    }

    fn drop_unrelated(&mut self, bytes: u64) -> Result<(), Refusal> {
        self.unrelated += 1;
        self.unrelated_bytes += bytes;
        if self.unrelated > MAX_UNRELATED_BLOCKS || self.unrelated_bytes > MAX_UNRELATED_BYTES {
            return Err(Refusal::Unrelated { count: self.unrelated, bytes: self.unrelated_bytes });
        }
        Ok(())
    }

    /// At the end of the stream: the blocks still held back are outside the
    /// DAG, dropped and counted.
    pub(super) fn finish(&mut self) -> Result<(), Refusal> {
        let held: Vec<u64> = self.pending.drain().map(|(_, b)| b.len() as u64).collect();
        self.pending_bytes = 0;
        held.into_iter().try_for_each(|bytes| self.drop_unrelated(bytes))
    }

    /// The first block of the DAG that did not arrive, if any.
    pub(super) fn missing(&self) -> Option<Cid> {
        if !self.all {
            return (self.root.hash().code() != IDENTITY && !self.seen.contains(&self.root)).then_some(self.root);
        }
        let mut stack = vec![self.root];
        let mut visited = HashSet::new();
        while let Some(cid) = stack.pop() {
            if !visited.insert(cid) {
                continue;
            }
            if cid.hash().code() == IDENTITY {
                stack.extend(identity_links(&cid));
                continue;
            }
            match self.links.get(&cid) {
                Some(children) => stack.extend(children.iter().rev()),
                None => return Some(cid),
            }
        }
        None
    }
}

/// Adds `cid` to `expected` (and to `added` when new), and for an identity
/// CID (never sent in a CAR, its bytes are in the CID) the blocks it links
/// to.
fn expand(cid: Cid, expected: &mut HashSet<Cid>, added: &mut Vec<Cid>) {
    if cid.hash().code() != IDENTITY {
        if expected.insert(cid) {
            added.push(cid);
        }
        return;
    }
    // An identity block's links are in its (short) digest; the recursion is
    // bounded because each level is strictly shorter than the one above.
    for child in identity_links(&cid) {
        expand(child, expected, added);
    }
}

/// The links inside an identity CID's inline bytes (none if unreadable).
fn identity_links(cid: &Cid) -> Vec<Cid> {
    links(cid, cid.hash().digest()).unwrap_or_default()
}
