//! Walking a DAG over a block store: CAR export and completeness checks.

use super::{BlockStore, StoreError};
use crate::formats::block::{verify, Block, IDENTITY};
use crate::formats::links::{links, LinksError};
use cid::Cid;
use std::collections::HashSet;
use thiserror::Error;

/// Why a walk stopped.
#[derive(Debug, Error)]
pub enum WalkError {
    /// The store failed (a missing block is [`WalkError::Missing`]).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A block's links could not be read.
    #[error(transparent)]
    Links(#[from] LinksError),
    /// A block of the DAG is not in the store.
    #[error("the DAG under {root} is incomplete: block {missing} is not in the store")]
    Missing {
        /// The root walked from.
        root: Cid,
        /// The first missing block.
        missing: Cid,
    },
    /// The visitor stopped the walk, for example because the stream it
    /// writes to was closed.
    #[error("{0}")]
    Stopped(String),
}

/// Visits every block reachable from `root` once, depth-first in link order
/// (the order `ipfs dag export` writes), handing each to `visit`.
pub fn walk(
    store: &dyn BlockStore,
    root: &Cid,
    visit: &mut dyn FnMut(Block) -> Result<(), WalkError>,
) -> Result<(), WalkError> {
    walk_inner(store, *root, None, &mut |_| Ok(false), visit)
}

/// [`walk`], leaving out every block for which `skip` says yes, and all
/// that only it links to (`skip` is asked once per block, before the block
/// is read).
pub fn walk_skipping(
    store: &dyn BlockStore,
    root: &Cid,
    skip: &mut dyn FnMut(&Cid) -> Result<bool, WalkError>,
    visit: &mut dyn FnMut(Block) -> Result<(), WalkError>,
) -> Result<(), WalkError> {
    walk_inner(store, *root, None, skip, visit)
}

/// [`walk`] from a root block already read (and verified), which is not
/// read again.
pub fn walk_from(
    store: &dyn BlockStore,
    root: Block,
    visit: &mut dyn FnMut(Block) -> Result<(), WalkError>,
) -> Result<(), WalkError> {
    walk_inner(store, *root.cid(), Some(root), &mut |_| Ok(false), visit)
}

fn walk_inner(
    store: &dyn BlockStore,
    root: Cid,
    mut first: Option<Block>,
    skip: &mut dyn FnMut(&Cid) -> Result<bool, WalkError>,
    visit: &mut dyn FnMut(Block) -> Result<(), WalkError>,
) -> Result<(), WalkError> {
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    while let Some(cid) = stack.pop() {
        if !seen.insert(cid) || skip(&cid)? {
            continue;
        }
        let bytes = if let Some(block) = first.take() {
            block.into_parts().1
        } else if cid.hash().code() == IDENTITY {
            let bytes = cid.hash().digest().to_vec();
            verify(&cid, &bytes).map_err(StoreError::from)?;
            bytes
        } else {
            store.get(&cid)?.ok_or(WalkError::Missing { root, missing: cid })?
        };
        let children = links(&cid, &bytes)?;
        stack.extend(children.into_iter().rev());
        // Verified above, by the store's `get`, or (the root given to
        // `walk_from`) by whoever read it.
        visit(Block::verified(cid, bytes))?;
    }
    Ok(())
}

/// Resolves `CID[/name/...]` (optionally after `/ipfs/`) through UnixFS
/// directories to the CID it names.
pub fn resolve_path(store: &dyn BlockStore, text: &str) -> anyhow::Result<Cid> {
    let bare = text.strip_prefix("/ipfs/").or_else(|| text.strip_prefix("ipfs://")).unwrap_or(text);
    let mut parts = bare.split('/').filter(|p| !p.is_empty());
    let first = parts.next().unwrap_or_default();
    let mut cid = crate::formats::block::parse_cid(first)?;
    let mut walked = first.to_string();
    for part in parts {
        let entries = crate::formats::unixfs::list_directory(&cid, &mut |c| store.get_required(c))?;
        cid = entries
            .into_iter()
            .find(|e| e.name == part)
            .map(|e| e.cid)
            .ok_or_else(|| anyhow::anyhow!("{walked} has no entry named {part:?}"))?;
        walked = format!("{walked}/{part}");
    }
    Ok(cid)
}

/// Lists the blocks under `root` that are absent from the store (stopping
/// below each absent block, whose links are unknown).
pub fn missing_blocks(store: &dyn BlockStore, root: &Cid) -> Result<Vec<Cid>, WalkError> {
    let mut missing = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![*root];
    while let Some(cid) = stack.pop() {
        if !seen.insert(cid) || cid.hash().code() == IDENTITY {
            continue;
        }
        match store.get(&cid)? {
            Some(bytes) => stack.extend(links(&cid, &bytes)?.into_iter().rev()),
            None => missing.push(cid),
        }
    }
    Ok(missing)
}
