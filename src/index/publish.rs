//! Making a new index version: add entries, sign the manifest, make the
//! IPNS record. Blocks are written before anything points at them, and the
//! caller stores the record last, so a crash at any moment leaves the
//! previous version as the published one.

use super::manifest::{check_signed, Manifest, ManifestError};
use super::shard::ShardItem;
use super::tree::{apply, empty_shards, write_version, IndexVersion, TreeError};
use super::{INDEX_FORMAT_VERSION, OLDEST_READABLE_FORMAT};
use crate::formats::ipns::{create_record, IpnsError, Keypair};
use crate::store::BlockStore;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// How a version is signed and how long it lives.
#[derive(Debug)]
pub struct PublishParams<'a> {
    /// The index name.
    pub index: &'a str,
    /// The keys that sign this version (the current key set's, and at a
    /// rotation also the previous set's).
    pub signers: &'a [Keypair],
    /// The key that signs the IPNS record.
    pub ipns_key: &'a Keypair,
    /// The key set written into the manifest, as IPNS names.
    pub keys: Vec<String>,
    /// The manifest's threshold.
    pub threshold: u32,
    /// The root key set written into the manifest (empty: no split).
    pub root_keys: Vec<String>,
    /// Its threshold (0: no split).
    pub root_threshold: u32,
    /// How long the version stays valid.
    pub lifetime: Duration,
    /// How long resolvers may cache the record.
    pub ttl: Duration,
    /// The time of publication.
    pub now: SystemTime,
    /// Sign a new version even when nothing changed: a refresh, whose only
    /// news is its new expiry.
    pub refresh: bool,
}

/// Why a version could not be published.
#[derive(Debug, Error)]
pub enum PublishError {
    /// Reading or writing the tree failed.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// The signatures would not satisfy a verifier.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The IPNS record could not be made.
    #[error(transparent)]
    Record(#[from] IpnsError),
}

/// A version made by [`publish`], with its record.
#[derive(Debug)]
pub struct NewVersion {
    /// The stored version.
    pub version: IndexVersion,
    /// The signed IPNS record pointing at it.
    pub record: Vec<u8>,
    /// How many entries were new.
    pub added: usize,
}

fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Adds `changes` (entries, or a rebuilder's statements: the manifest
/// says which) on top of `prev` and signs a new version. Returns `None`
/// when nothing would change (no new entry, same key set) and this is no
/// refresh: publishing the same artifacts twice is a no-op.
pub fn publish<T: ShardItem>(
    store: &dyn BlockStore,
    prev: Option<&IndexVersion>,
    changes: &BTreeMap<String, Vec<T>>,
    params: &PublishParams,
) -> Result<Option<NewVersion>, PublishError> {
    let mut keys = params.keys.clone();
    keys.sort();
    keys.dedup();
    let mut root_keys = params.root_keys.clone();
    root_keys.sort();
    root_keys.dedup();
    // A version of an older format holds entries without the fields this
    // one signs: the new version starts from empty shards instead (its
    // `prev` link still leads back), and its publisher records again what
    // it wants to keep.
    let base = prev.filter(|p| p.manifest.format >= OLDEST_READABLE_FORMAT);
    let (shards, added) = match (base, changes.is_empty()) {
        (Some(base), true) => (base.shards, 0),
        (base, _) => apply(store, base.map(|p| &p.shards), changes)?,
    };
    let shards = if base.is_none() && changes.is_empty() { empty_shards(store)? } else { shards };
    if let Some(prev) = prev {
        let same_root = {
            let (old, threshold) = prev.manifest.root();
            let old: std::collections::BTreeSet<&String> = old.iter().collect();
            match params.root_threshold {
                0 => prev.manifest.root_threshold == 0,
                n => n == threshold && old == root_keys.iter().collect(),
            }
        };
        let same_keys = !prev.manifest.rotates_from(&keys, params.threshold) && same_root;
        if added == 0 && same_keys && shards == prev.shards && !params.refresh {
            return Ok(None);
        }
    }
    let now = unix(params.now);
    let mut manifest = Manifest {
        format: INDEX_FORMAT_VERSION,
        index: params.index.to_string(),
        kind: T::KIND,
        seq: prev.map_or(1, |p| p.manifest.seq + 1),
        created: now,
        expires: now + params.lifetime.as_secs(),
        shards: shards.to_string(),
        prev: prev.map(|p| p.manifest_cid.to_string()),
        keys,
        threshold: params.threshold,
        root_keys,
        root_threshold: params.root_threshold,
        signatures: Vec::new(),
    };
    for signer in params.signers {
        manifest.sign(signer);
    }
    // Refuse to publish what no subscriber would accept.
    check_signed(&manifest, prev.map(|p| &p.manifest))?;
    let version = write_version(store, &shards, &manifest)?;
    let validity = UNIX_EPOCH + Duration::from_secs(manifest.expires);
    let record =
        create_record(params.ipns_key, &format!("/ipfs/{}", version.root), manifest.seq, validity, params.ttl)?;
    Ok(Some(NewVersion { version, record, added }))
}
