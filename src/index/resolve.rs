//! Reading an index version the way a subscriber must: every step verified.
//!
//! IPNS record valid for the name → root → manifest whose signatures meet
//! its own threshold and the subscriber's trusted keys (following signed key
//! rotations) → manifest names this index → sequence not below the last one
//! seen, and the same sequence never with another root → not expired → the
//! shards directory is the one signed. Blocks are verified as they are read.

use super::manifest::{
    check_manifest, check_rotation_chain, check_signed, check_trusted, Manifest, ManifestError, TrustedKeys,
    MAX_ROTATION_WALK,
};

/// How many versions a subscriber walks back to the one it saw last, to
/// check every key change since.
pub const MAX_CATCH_UP: usize = 1024;
use super::state::{IndexState, IndexTrust, Seen, StateError};
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

/// Records `resolved` as the newest version of `index` accepted here (its
/// sequence never goes down) and, after a signed key rotation, trusts the
/// new key set from now on: what every reader of an index does once a
/// version is verified.
pub fn accept(local: &IndexState, index: &str, resolved: &Resolved) -> Result<(), StateError> {
    let version = &resolved.version;
    local.record_seen(index, version.manifest.seq, &version.root.to_string())?;
    if let Some(keys) = &resolved.rotated {
        local.update_trust(|t| {
            if let Some(entry) = t.get_mut(index) {
                entry.keys = keys.keys.clone();
                entry.threshold = keys.threshold;
            }
        })?;
    }
    Ok(())
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
    if m.kind != trust.kind {
        return Err(ManifestError::Kind { index: index.into(), expected: trust.kind, found: m.kind }.into());
    }
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
    let walk_err = |e| match e {
        Walk::Manifest(m) => ResolveError::Manifest(m),
        Walk::Tree(t) => tree_err(t),
    };
    // Every key change since the version seen last must have been signed
    // by the root of its time, even when the trusted keys sign this one:
    // a key the root removed may still be among them.
    if let Some(seen) = seen.filter(|s| s.seq < m.seq) {
        check_since(store, m, seen.seq).map_err(walk_err)?;
    }
    let rotated = match check_trusted(m, &trusted) {
        Ok(()) => None,
        Err(untrusted) => Some(follow_rotations(store, m, &trusted, untrusted).map_err(walk_err)?),
    };
    // From now on, trust the keys of the version accepted.
    let newest = TrustedKeys { keys: m.keys.clone(), threshold: m.threshold };
    let set = |keys: &[String]| keys.iter().cloned().collect::<std::collections::BTreeSet<String>>();
    let differs = set(&newest.keys) != set(&trusted.keys) || newest.threshold != trusted.threshold;
    let rotated = rotated.or_else(|| differs.then_some(newest));
    check_shards(&version).map_err(tree_err)?;
    Ok(Resolved { version, rotated })
}

enum Walk {
    Manifest(ManifestError),
    Tree(TreeError),
}

/// What one step back through a manifest's `prev` link found.
enum Prev {
    /// The previous version of the same index.
    Found(Manifest),
    /// No (readable) link: the first version, or a malformed one.
    NoLink,
    /// A manifest of another index, or not older.
    Foreign(Manifest),
    /// Not in the store nor from its sources.
    Missing,
}

/// The version before `current`; `Err` for a manifest that is there but
/// cannot be read as one.
fn previous(store: &dyn BlockStore, current: &Manifest) -> Result<Prev, TreeError> {
    let Some(prev) = current.prev.as_deref().and_then(|p| parse_cid(p).ok()) else { return Ok(Prev::NoLink) };
    match load_manifest(store, &prev) {
        Ok(m) if m.index == current.index && m.kind == current.kind && m.seq < current.seq => Ok(Prev::Found(m)),
        Ok(m) => Ok(Prev::Foreign(m)),
        Err(TreeError::Read(_)) | Err(TreeError::Store(_)) => Ok(Prev::Missing),
        Err(e) => Err(e),
    }
}

/// Walks `prev` links from `newest` back to the version numbered `seen`
/// (at most [`MAX_CATCH_UP`] steps) and checks every step with
/// `check_signed`: a key change the root of its time did not sign refuses
/// the newest version. A version on the way that cannot be read refuses it
/// too (a source that withholds old versions must not skip the check).
fn check_since(store: &dyn BlockStore, newest: &Manifest, seen: u64) -> Result<(), Walk> {
    let index = newest.index.clone();
    let cannot = |why: String| Walk::Manifest(ManifestError::KeyHistory { index: index.clone(), seen, why });
    let mut current = newest.clone();
    for _ in 0..MAX_CATCH_UP {
        if current.seq <= seen {
            return Ok(());
        }
        let older = match previous(store, &current).map_err(Walk::Tree)? {
            Prev::Found(m) => m,
            Prev::NoLink => return Err(cannot(format!("version {} links no previous version", current.seq))),
            Prev::Foreign(m) => {
                return Err(cannot(format!("version {} links version {} of index `{}`", current.seq, m.seq, m.index)))
            }
            Prev::Missing => return Err(cannot(format!("version {} is not available", current.seq - 1))),
        };
        check_signed(&current, Some(&older)).map_err(Walk::Manifest)?;
        current = older;
    }
    Err(cannot(format!("more than {MAX_CATCH_UP} versions since")))
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
        if chain.len() > MAX_ROTATION_WALK {
            return Err(Walk::Manifest(untrusted));
        }
        // A missing old version means the rotation cannot be followed here.
        match previous(store, current).map_err(Walk::Tree)? {
            Prev::Found(m) => chain.push(m),
            Prev::NoLink | Prev::Foreign(_) | Prev::Missing => return Err(Walk::Manifest(untrusted)),
        }
    }
    chain.reverse();
    check_rotation_chain(&chain, trusted).map_err(Walk::Manifest)
}
