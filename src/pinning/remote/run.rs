//! One `pin remote add`: an index version's references pinned on each
//! chosen service, what happened to each counted, and each service that
//! pinned all of it remembered (`remote-pins.json`) so that `--only-new`
//! sends only what later versions add.

use super::{open, references, Outcome, Pace, Services, Wanted};
use crate::formats::block::parse_cid;
use crate::index::state::IndexState;
use crate::index::tree::read_version;
use crate::store::DiskStore;
use anyhow::Context;
use cid::Cid;
use serde::Serialize;
use std::path::Path;

/// A CID that did not end pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unpinned {
    /// The CID.
    pub cid: String,
    /// Its pin name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// What one service did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceReport {
    /// The service's name.
    pub service: String,
    /// Its description (API and endpoint).
    pub target: String,
    /// CIDs asked for.
    pub total: usize,
    /// Pinned by this run.
    pub pinned: usize,
    /// Held there already.
    pub already: usize,
    /// Failed.
    pub failed: Vec<Unpinned>,
    /// Still in progress when the wait ended.
    pub pending: Vec<Unpinned>,
    /// What ended the service's run early, if anything did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ServiceReport {
    /// Whether everything asked for is pinned there.
    pub fn complete(&self) -> bool {
        self.error.is_none() && self.failed.is_empty() && self.pending.is_empty()
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// The index.
    pub index: String,
    /// The version pinned.
    pub seq: u64,
    /// Its root.
    pub root: String,
    /// Per service, in the order run.
    pub services: Vec<ServiceReport>,
}

/// The newest version of `index` this store holds: the one it published,
/// else the newest it verified (fetched, followed or mirrored).
pub fn newest_root(store_dir: &Path, index: &str) -> anyhow::Result<Cid> {
    let local = IndexState::new(store_dir);
    let root = match local.published()?.get(index) {
        Some(published) => published.head.clone(),
        None => local.seen()?.get(index).map(|s| s.root.clone()).with_context(|| {
            format!("this store holds no version of index `{index}`; publish it here, or mirror or fetch it first")
        })?,
    };
    Ok(parse_cid(&root)?)
}

/// Pins the newest version of `index` on each of `chosen` (names in
/// `services`); with `only_new`, on each service only what was added since
/// the version last pinned whole there. `progress` hears each CID settle.
pub fn pin_index(
    store_dir: &Path,
    index: &str,
    services: &Services,
    chosen: &[String],
    only_new: bool,
    pace: Pace,
    progress: &mut dyn FnMut(&str, &Wanted, &Outcome),
) -> anyhow::Result<RunReport> {
    let store = DiskStore::open(store_dir)?;
    let local = IndexState::new(store_dir);
    let root = newest_root(store_dir, index)?;
    let remote = local.remote_pins()?;
    let mut report = RunReport { index: index.into(), seq: 0, root: root.to_string(), services: Vec::new() };
    for name in chosen {
        let service = services.get(name).with_context(|| {
            format!("no pinning service named `{name}`; add it with `cargo ipfs pin remote service add {name} ...`")
        })?;
        let last = remote.get(name).and_then(|m| m.get(index));
        let since = match last {
            Some(last) if only_new => {
                parse_cid(&last.root).ok().and_then(|r| read_version(&store, &r).ok()).map(|v| v.shards)
            }
            _ => None,
        };
        let (wanted, seq) = references(&store, index, &root, since.as_ref())?;
        report.seq = seq;
        let labels = super::Labels { index: index.to_string(), seq };
        let mut row = ServiceReport {
            service: name.clone(),
            target: format!("{name} ({} at {})", service.api, service.endpoint),
            total: wanted.len(),
            pinned: 0,
            already: 0,
            failed: Vec::new(),
            pending: Vec::new(),
            error: None,
        };
        let outcomes = open(name, service, pace).and_then(|target| {
            row.target = target.describe();
            Ok(target.pin_all(&wanted, &labels, &mut |w, o| progress(name, w, o))?)
        });
        match outcomes {
            Err(e) => row.error = Some(crate::report::Chain(&e).to_string()),
            Ok(outcomes) => {
                for (w, outcome) in wanted.iter().zip(outcomes) {
                    let unpinned = |reason: String| Unpinned { cid: w.cid.to_string(), name: w.name.clone(), reason };
                    match outcome {
                        Outcome::Pinned => row.pinned += 1,
                        Outcome::Already => row.already += 1,
                        Outcome::Failed(reason) => row.failed.push(unpinned(reason)),
                        Outcome::Pending(reason) => row.pending.push(unpinned(reason)),
                    }
                }
            }
        }
        if row.complete() {
            local.record_remote_pin(name, index, seq, &root.to_string())?;
        }
        report.services.push(row);
    }
    Ok(report)
}
