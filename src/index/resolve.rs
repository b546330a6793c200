//! Reading an index version the way a subscriber must: every step verified.
//!
//! IPNS record valid for the name → root → manifest whose signatures meet
//! its own threshold and the subscriber's trusted keys (following signed key
//! rotations) → manifest names this index → sequence not below the last one
//! seen, and the same sequence never with another root → not expired → the
//! shards directory is the one signed. Blocks are verified as they are read.

use super::manifest::{
    check_manifest, check_rotation_chain, check_trusted, Manifest, ManifestError, TrustedKeys, MAX_ROTATION_WALK,
};
use super::state::{IndexTrust, Seen};
use super::tree::{check_shards, load_manifest, read_version, IndexVersion, TreeError};
use crate::formats::block::parse_cid;
use crate::formats::ipns::{verify_record, IpnsError, IpnsName};
use crate::store::BlockStore;
use cid::Cid;
use std::time::{SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// Why an index could not be resolved. Messages name the index.
#[derive(Debug, Error)]
pub enum ResolveError {
    /// The configured IPNS name is not a name.
    #[error("index `{index}`: the configured IPNS name {name:?} is invalid; fix it with `cargo ipfs trust add`")]
    BadName {
        /// The index.
        index: String,
        /// The configured name.
        name: String,
    },
    /// No record for the name is available.
    #[error("index `{index}`: no IPNS record for {name} is available; fetch one from a source that serves this index, or check the name")]
    NoRecord {
        /// The index.
        index: String,
        /// The IPNS name.
        name: String,
    },
    /// The record failed verification.
    #[error("index `{index}`: {source}")]
    Record {
        /// The index.
        index: String,
        /// Why.
        source: IpnsError,
    },
    /// The record does not point at an /ipfs/ path.
    #[error("index `{index}`: the IPNS record points at {value:?}, not an /ipfs/CID path")]
    BadValue {
        /// The index.
        index: String,
        /// The record value.
        value: String,
    },
    /// The tree could not be read.
    #[error("index `{index}`: {source}")]
    Tree {
        /// The index.
        index: String,
        /// Why.
        source: TreeError,
    },
    /// The manifest was refused.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Two versions with one sequence number.
    #[error("index `{index}`: version {seq} was seen before with root {seen_root}, now with root {root}; the publisher signed two different versions with one number, refusing both until a newer version appears")]
    Equivocation {
        /// The index.
        index: String,
        /// The sequence.
        seq: u64,
        /// The root seen before.
        seen_root: String,
        /// The root now.
        root: Cid,
    },
}

/// A verified index version.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The version.
    pub version: IndexVersion,
    /// When the publisher rotated keys since the trusted set, the set to
    /// trust from now on.
    pub rotated: Option<TrustedKeys>,
}

fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Verifies `record` for the index's IPNS name and the version it points at.
pub fn resolve_record(
    store: &dyn BlockStore,
    record: Option<&[u8]>,
    index: &str,
    trust: &IndexTrust,
    seen: Option<&Seen>,
    now: SystemTime,
) -> Result<Resolved, ResolveError> {
    let name: IpnsName =
        trust.ipns.parse().map_err(|_| ResolveError::BadName { index: index.into(), name: trust.ipns.clone() })?;
    let bytes = record.ok_or_else(|| ResolveError::NoRecord { index: index.into(), name: name.to_string() })?;
    let record =
        verify_record(&name, bytes, now).map_err(|source| ResolveError::Record { index: index.into(), source })?;
    let root = record
        .value()
        .strip_prefix("/ipfs/")
        .and_then(|c| parse_cid(c).ok())
        .ok_or_else(|| ResolveError::BadValue { index: index.into(), value: record.value().to_string() })?;
    verify_root(store, &root, index, trust, seen, now)
}

/// Verifies the version at `root` for `index` (no IPNS step).
pub fn verify_root(
    store: &dyn BlockStore,
    root: &Cid,
    index: &str,
    trust: &IndexTrust,
    seen: Option<&Seen>,
    now: SystemTime,
) -> Result<Resolved, ResolveError> {
    let tree_err = |source| ResolveError::Tree { index: index.into(), source };
    // Only the root's block and the manifest are read before the
    // signatures are checked; the shards they cover come after.
    let version = read_version(store, root).map_err(tree_err)?;
    let m = &version.manifest;
    check_manifest(m, index, seen.map(|s| s.seq), unix(now))?;
    if let Some(seen) = seen {
        if seen.seq == m.seq && seen.root != root.to_string() {
            return Err(ResolveError::Equivocation {
                index: index.into(),
                seq: m.seq,
                seen_root: seen.root.clone(),
                root: *root,
            });
        }
    }
    let trusted = TrustedKeys { keys: trust.keys.clone(), threshold: trust.threshold };
    let rotated = match check_trusted(m, &trusted) {
        Ok(()) => None,
        Err(untrusted) => Some(follow_rotations(store, m, &trusted, untrusted).map_err(|e| match e {
            Walk::Manifest(m) => ResolveError::Manifest(m),
            Walk::Tree(t) => tree_err(t),
        })?),
    };
    check_shards(&version).map_err(tree_err)?;
    Ok(Resolved { version, rotated })
}

enum Walk {
    Manifest(ManifestError),
    Tree(TreeError),
}

/// Walks `prev` links back to a version the trusted keys signed, then checks
/// each key change on the way forward. Gives back the original refusal when
/// no trusted version is found within [`MAX_ROTATION_WALK`] steps.
fn follow_rotations(
    store: &dyn BlockStore,
    newest: &Manifest,
    trusted: &TrustedKeys,
    untrusted: ManifestError,
) -> Result<TrustedKeys, Walk> {
    let mut chain = vec![newest.clone()];
    loop {
        let current = chain.last().expect("non-empty");
        if check_trusted(current, trusted).is_ok() {
            break;
        }
        let Some(prev) = current.prev.as_deref().and_then(|p| parse_cid(p).ok()) else {
            return Err(Walk::Manifest(untrusted));
        };
        if chain.len() > MAX_ROTATION_WALK {
            return Err(Walk::Manifest(untrusted));
        }
        // A missing old version means the rotation cannot be followed here.
        match load_manifest(store, &prev) {
            Ok(m) if m.index == newest.index && m.seq < current.seq => chain.push(m),
            Ok(_) => return Err(Walk::Manifest(untrusted)),
            Err(TreeError::Read(_)) | Err(TreeError::Store(_)) => return Err(Walk::Manifest(untrusted)),
            Err(e) => return Err(Walk::Tree(e)),
        }
    }
    chain.reverse();
    check_rotation_chain(&chain, trusted).map_err(Walk::Manifest)
}
