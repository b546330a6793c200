//! Keeping indexes alive beyond one build: the store's pin set, and
//! mirrors that follow an index.
//!
//! - [`kept`]: every root the store keeps and why, assembled from the
//!   explicit pins (`pins.json`, [`crate::index::pins`]) and the roots kept
//!   implicitly: the newest verified version of each trusted index
//!   (`seen.json`) and the journaled artifacts (the journal). `cargo ipfs
//!   pin ls` lists it; garbage collection must keep all of it.
//! - [`mirror`]: one round of mirroring a trusted index into the store, as
//!   `cargo ipfs mirror` runs it once or on a schedule.

pub mod mirror;
pub mod remote;

use crate::artifact::cache::Cache;
use crate::index::pins::PinReason;
use crate::index::state::IndexState;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

/// Why the store keeps a root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Why {
    /// A version of an index this store mirrors.
    Mirror {
        /// The index name.
        index: String,
        /// The version's sequence number.
        seq: u64,
    },
    /// The newest verified version of a trusted index.
    Trusted {
        /// The index name.
        index: String,
        /// The version's sequence number.
        seq: u64,
    },
    /// An artifact in the journal: recorded here, published or not yet.
    Journaled {
        /// The crate.
        #[serde(rename = "crate")]
        krate: String,
        /// Its version.
        version: String,
    },
    /// Pinned by the user.
    User {
        /// The name the user gave it, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
}

impl From<PinReason> for Why {
    fn from(reason: PinReason) -> Self {
        match reason {
            PinReason::Mirror { index, seq } => Why::Mirror { index, seq },
            PinReason::User { name } => Why::User { name },
        }
    }
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Mirror { index, seq } => write!(f, "mirror of index {index}, version {seq}"),
            Why::Trusted { index, seq } => {
                write!(f, "newest verified version of trusted index {index} (version {seq})")
            }
            Why::Journaled { krate, version } => write!(f, "journaled artifact of {krate} {version}"),
            Why::User { name: Some(name) } => write!(f, "pinned by the user ({name})"),
            Why::User { name: None } => write!(f, "pinned by the user"),
        }
    }
}

/// One root the store keeps.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Kept {
    /// The root: an index version's root (or, for a mirrored version
    /// reached through `prev` links, its manifest), or any DAG's root.
    pub cid: String,
    /// Why.
    #[serde(flatten)]
    pub why: Why,
}

/// Every root the store at `store_dir` keeps, each once per reason, in a
/// stable order (by reason, then name).
pub fn kept(store_dir: &Path) -> anyhow::Result<Vec<Kept>> {
    let local = IndexState::new(store_dir);
    let mut set = BTreeSet::new();
    for pin in local.pins()?.pins {
        set.insert(Kept { cid: pin.cid, why: pin.reason.into() });
    }
    let trust = local.trust()?;
    for (index, seen) in local.seen()? {
        if trust.contains_key(&index) {
            set.insert(Kept { cid: seen.root, why: Why::Trusted { index, seq: seen.seq } });
        }
    }
    let cache = Cache::new(store_dir);
    let (entries, _torn) = cache.journal_entries().map_err(|e| {
        anyhow::anyhow!("cannot read the journal {}: {e}; the pin set needs it", cache.journal_path().display())
    })?;
    for entry in entries {
        set.insert(Kept { cid: entry.cid, why: Why::Journaled { krate: entry.name, version: entry.version } });
    }
    Ok(set.into_iter().collect())
}
