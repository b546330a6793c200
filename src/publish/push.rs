//! Pushing DAGs from a local store into a kubo node, pinned.
//!
//! One `dag/import` request carries a CAR whose header lists every root
//! (kubo pins the roots of a CAR it imports) and whose body holds only the
//! blocks the node lacks: the walk from each root asks the node
//! (`block/stat`, offline) before it reads a block, and leaves out what the
//! node has together with what only that block links to. A node that holds
//! a block holds the DAG under it when it came by an earlier push, which
//! pinned it; a node holding part of a DAG fails to pin its root, and that
//! root is pushed again whole. Offline, kubo says so per root; online, it
//! searches the network for the rest until the request's timeout and the
//! import fails as a whole (kubo#10159), and then every root is pushed
//! again whole. So a new index version costs the blocks that
//! changed, not the whole index.
//!
//! The request itself, and the check of kubo's answer, are
//! [`KuboStore::dag_import`]'s; this module decides what to send and
//! writes the CAR.

use crate::buffers::ChunkWriter;
use crate::formats::block::Block;
use crate::formats::car::CarWriter;
use crate::store::dag::{walk_skipping, WalkError};
use crate::store::{BlockStore, KuboError, KuboStore};
use bytes::Bytes;
use cid::Cid;
use std::cell::RefCell;
use std::collections::HashSet;
use std::io::{self, Write};
use thiserror::Error;
use tokio::sync::mpsc;

#[cfg(test)]
mod tests;

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Roots the node pinned.
    pub pinned: usize,
    /// Blocks sent (the node had the others).
    pub blocks: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Optional roots left out: neither this store nor the node holds all
    /// of their DAG.
    pub incomplete: Vec<Cid>,
}

/// Why a push failed.
#[derive(Debug, Error)]
pub enum PushError {
    /// The local store cannot supply a block of a DAG to push.
    #[error("cannot push to kubo from {store}: {source}")]
    Local {
        /// The local store.
        store: String,
        /// What the walk found.
        source: WalkError,
    },
    /// A request to the node failed.
    #[error(transparent)]
    Kubo(#[from] KuboError),
    /// The node imported the CAR but could not pin a root, twice.
    #[error("kubo at {url} could not pin {cid} even with every block of it sent: {message}")]
    Pin {
        /// The node.
        url: String,
        /// The root.
        cid: String,
        /// kubo's message.
        message: String,
    },
}

/// Pushes the DAGs under `required` and `optional` from `local` into the
/// node and pins each root. A required root whose DAG the local store
/// cannot supply fails the push; an optional one is left out and listed in
/// [`Pushed::incomplete`]. Roots the node already has pinned cost one
/// `block/stat` each.
pub fn push(local: &dyn BlockStore, kubo: &KuboStore, required: &[Cid], optional: &[Cid]) -> Result<Pushed, PushError> {
    let roots: Vec<(Cid, bool)> =
        required.iter().map(|c| (*c, true)).chain(optional.iter().map(|c| (*c, false))).collect();
    let mut pushed = match import(local, kubo, &roots, true) {
        // An online node pinning a root whose DAG it holds only part of
        // searches the network for the rest until the request's timeout
        // (kubo#10159), and the whole import fails: send every root whole.
        Err(PushError::Kubo(KuboError::Timeout { .. })) => {
            tracing::info!(roots = roots.len(), "kubo did not finish the import in time; pushing every DAG whole");
            let whole = import(local, kubo, &roots, false)?;
            if let Some((cid, message)) = whole.unpinned.into_iter().next() {
                return Err(PushError::Pin { url: kubo.url().to_string(), cid: cid.to_string(), message });
            }
            return Ok(whole.done);
        }
        other => other?,
    };
    if !pushed.unpinned.is_empty() {
        // Part of a DAG was in the node, not all of it: send those whole.
        let again: Vec<(Cid, bool)> =
            roots.iter().filter(|(c, _)| pushed.unpinned.iter().any(|(u, _)| u == c)).copied().collect();
        tracing::info!(roots = again.len(), "kubo held only part of some DAGs; pushing them whole");
        let retry = import(local, kubo, &again, false)?;
        if let Some((cid, message)) = retry.unpinned.into_iter().next() {
            return Err(PushError::Pin { url: kubo.url().to_string(), cid: cid.to_string(), message });
        }
        pushed.done.blocks += retry.done.blocks;
        pushed.done.bytes += retry.done.bytes;
        pushed.done.pinned += retry.done.pinned;
        pushed.done.incomplete.extend(retry.done.incomplete);
    }
    Ok(pushed.done)
}

struct Import {
    done: Pushed,
    /// Roots kubo did not pin, and why.
    unpinned: Vec<(Cid, String)>,
}

/// One `dag/import` of `roots` (each marked required or not): plans what to
/// send (skipping what the node has when `skip_present`), then streams the
/// CAR to the node.
fn import(
    local: &dyn BlockStore,
    kubo: &KuboStore,
    roots: &[(Cid, bool)],
    skip_present: bool,
) -> Result<Import, PushError> {
    let local_error = |source| PushError::Local { store: local.describe(), source };
    // What to send, in DAG order; reading each block here learns its links,
    // and finds each DAG complete (between this store and the node) or not.
    let mut plan = Vec::new();
    let planned = RefCell::new(HashSet::new());
    let mut bytes = 0u64;
    let mut included = Vec::new();
    let mut incomplete = Vec::new();
    for &(root, required) in roots {
        let (plan_before, bytes_before) = (plan.len(), bytes);
        let mut skip = |cid: &Cid| -> Result<bool, WalkError> {
            Ok(planned.borrow().contains(cid) || (skip_present && kubo.has(cid)?))
        };
        let walked = walk_skipping(local, &root, &mut skip, &mut |block| {
            bytes += block.len() as u64;
            planned.borrow_mut().insert(*block.cid());
            plan.push(*block.cid());
            Ok(())
        });
        match walked {
            Ok(()) => included.push(root),
            Err(WalkError::Missing { .. }) if !required => {
                // Unplan this root's blocks; a later root needing them plans them again.
                for cid in plan.drain(plan_before..) {
                    planned.borrow_mut().remove(&cid);
                }
                bytes = bytes_before;
                incomplete.push(root);
            }
            Err(e) => return Err(local_error(e)),
        }
    }
    if included.is_empty() {
        return Ok(Import { done: Pushed { incomplete, ..Pushed::default() }, unpinned: Vec::new() });
    }
    let blocks = plan.len() as u64;

    // The CAR goes out as it is written: a thread reads the blocks again and
    // writes them into a bounded channel that the request's body drains.
    let (sender, receiver) = mpsc::channel::<io::Result<Bytes>>(8);
    let (answer, written) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| write_car(local, &included, &plan, sender));
        let answer = kubo.dag_import(&included, bytes, receiver);
        (answer, writer.join().expect("the CAR writer does not panic"))
    });
    // A local failure says more than the request it aborted; the writer
    // stopped by the end of the request says less than the request's error.
    let answer = match written {
        Err(WalkError::Stopped(m)) if m.contains(STOPPED) => answer?,
        Err(e) => return Err(local_error(e)),
        Ok(()) => answer?,
    };
    let unpinned: Vec<(Cid, String)> =
        answer.into_iter().filter_map(|root| root.pin_error.map(|message| (root.cid, message))).collect();
    let pinned = included.len() - unpinned.len();
    Ok(Import { done: Pushed { pinned, blocks, bytes, incomplete }, unpinned })
}

/// Writes the CAR of `plan` (roots in the header) into `sender`. A failure
/// is also sent, so that the request ends as an error rather than as a
/// shorter CAR.
fn write_car(
    local: &dyn BlockStore,
    roots: &[Cid],
    plan: &[Cid],
    sender: mpsc::Sender<io::Result<Bytes>>,
) -> Result<(), WalkError> {
    fn stopped(e: impl std::fmt::Display) -> WalkError {
        WalkError::Stopped(e.to_string())
    }
    let out = ChunkWriter::new(sender.clone(), CHUNK, STOPPED);
    let result = (|| -> Result<(), WalkError> {
        let mut car = CarWriter::new(out, roots).map_err(stopped)?;
        for cid in plan {
            let bytes = local.get_required(cid)?;
            car.write_block(&Block::verified(*cid, bytes)).map_err(stopped)?;
        }
        car.finish().map_err(stopped)?.flush().map_err(stopped)
    })();
    if let Err(e) = &result {
        let _ = sender.blocking_send(Err(io::Error::other(e.to_string())));
    }
    result
}

/// The request body is sent in pieces of about this size.
const CHUNK: usize = 256 * 1024;

/// Why the writer stops when the request ended before the CAR did.
const STOPPED: &str = "the request ended before the CAR did";
