//! A new version of an index this store publishes: the version it builds
//! on, the keys that sign it, and what is stored once it is signed.

use crate::formats::block::parse_cid;
use crate::formats::ipns::{verify_record, IpnsName};
use crate::index::manifest::IndexKind;
use crate::index::publish::{publish, NewVersion, PublishParams};
use crate::index::shard::ShardItem;
use crate::index::state::{IndexState, IndexTrust, Published};
use crate::index::tree::{load_version, IndexVersion};
use crate::keystore::Keystore;
use crate::store::DiskStore;
use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::keysets::{check_threshold, signers, Rotation};

/// An index to create in this store, checked: a valid name not published
/// from here yet, and a threshold its keys can meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIndex {
    name: String,
    keys: Vec<String>,
    threshold: u32,
    lifetime: Duration,
    root: Option<(Vec<String>, u32)>,
    kind: IndexKind,
}

impl NewIndex {
    /// Index `name`, signed by keystore keys `keys` (the first one's IPNS
    /// name is the index's), `threshold` of them per version, each version
    /// valid for `lifetime`.
    pub fn new(
        local: &IndexState,
        name: String,
        keys: Vec<String>,
        threshold: u32,
        lifetime: Duration,
    ) -> anyhow::Result<Self> {
        crate::index::layout::shard_path(&name).map_err(|_| {
            anyhow::anyhow!("invalid index name {name:?}: use 1 to 64 ASCII letters, digits, '-' or '_'")
        })?;
        if local.published()?.contains_key(&name) {
            bail!("index `{name}` already exists in this store; use `cargo ipfs index add --name {name}` to publish entries");
        }
        check_threshold("--threshold", threshold, &keys)?;
        Ok(NewIndex { name, keys, threshold, lifetime, root: None, kind: IndexKind::Artifacts })
    }

    /// With a root key set (keystore names, to be kept offline after the
    /// first version, which they sign): only `root_threshold` of them can
    /// change keys.
    pub fn with_root(mut self, root_keys: Vec<String>, root_threshold: u32) -> anyhow::Result<Self> {
        check_threshold("--root-threshold", root_threshold, &root_keys)?;
        self.root = Some((root_keys, root_threshold));
        Ok(self)
    }

    /// A rebuilder's attestation index rather than an artifact index.
    pub fn attestations(mut self) -> Self {
        self.kind = IndexKind::Attestations;
        self
    }
}

/// Creates `index`: records it in `published.json`, publishes its first,
/// empty version, and trusts its keys here (so that this store reads its
/// own index like a subscriber does). Returns the version and the IPNS name
/// it is published under.
pub fn create_index(
    store: &DiskStore,
    local: &IndexState,
    keystore: &Keystore,
    index: &NewIndex,
    now: SystemTime,
) -> anyhow::Result<(NewVersion, IpnsName)> {
    let NewIndex { name, keys, threshold, lifetime, root, kind } = index;
    let pairs = keys.iter().map(|k| keystore.get(k)).collect::<Result<Vec<_>, _>>()?;
    let ipns = pairs[0].ipns_name();
    // The name must carry no other index: not in its stored record, nor
    // as the name of an index this store publishes.
    let stored = store.records()?.get(&ipns)?;
    super::guard::check_stored(store, &ipns, Some(&keys[0]), stored.as_deref(), name)?;
    for (other, config) in local.published()? {
        if other != *name && keystore.get(&config.ipns_key).is_ok_and(|k| k.ipns_name() == ipns) {
            super::guard::check_replaces(&ipns, Some(&keys[0]), Some(&other), name)?;
        }
    }
    let config = Published {
        keys: keys.clone(),
        ipns_key: keys[0].clone(),
        threshold: *threshold,
        root_keys: Vec::new(),
        root_threshold: 0,
        lifetime_secs: lifetime.as_secs(),
        head: String::new(),
        kind: *kind,
    };
    // With a root, the first version introduces it: the root signs it.
    let first = match root {
        Some((root_keys, root_threshold)) => {
            Some(Rotation::new(keys.clone(), *threshold)?.with_root(root_keys.clone(), *root_threshold)?)
        }
        None => None,
    };
    local.update_published(|p| p.insert(name.clone(), config))?;
    // A failure leaves no half-made index behind: the record is written
    // last, so only `published.json` has to be undone.
    let first_version = sign_unchanged(store, local, keystore, name, first.as_ref(), now, false);
    let new = match first_version {
        Ok(Some(new)) => new,
        failed => {
            local.update_published(|p| {
                p.remove(name);
            })?;
            return Err(failed.err().unwrap_or_else(|| anyhow::anyhow!("a new index always gets a first version")));
        }
    };
    let trusted: Vec<String> = pairs.iter().map(|k| k.ipns_name().to_string()).collect();
    local.update_trust(|t| {
        t.entry(name.clone()).or_insert(IndexTrust {
            keys: trusted,
            threshold: *threshold,
            ipns: ipns.to_string(),
            kind: *kind,
        });
    })?;
    Ok((new, ipns))
}

/// How index `index` is published from this store (`published.json`); an
/// error that says how to create it when it is not.
pub fn published(local: &IndexState, index: &str) -> anyhow::Result<Published> {
    local.published()?.remove(index).with_context(|| {
        format!("index `{index}` is not published from this store; create it with `cargo ipfs index init`")
    })
}

/// Signs and stores a new version of index `index`, published from this
/// store: `changes` added, signed by its keys from `keystore` (and, at a
/// `rotate_to`, by the new ones too). Stores the record last, so a crash
/// leaves the previous version published; then records the new head (and
/// key set) in `published.json`. `None` when nothing would change.
///
/// The version it builds on is the newer of the one the stored record
/// points at and the head this store published last: no sequence number
/// is ever signed twice, even when the stored record went back to an older
/// version (restored from a backup) or was lost.
pub fn publish_version<T: ShardItem>(
    store: &DiskStore,
    local: &IndexState,
    keystore: &Keystore,
    index: &str,
    changes: &BTreeMap<String, Vec<T>>,
    rotate_to: Option<&Rotation>,
    now: SystemTime,
) -> anyhow::Result<Option<NewVersion>> {
    sign_version(store, local, keystore, index, changes, rotate_to, now, false)
}

/// Signs and stores a new version of index `index` with its entries and
/// keys unchanged and a new expiry (the index's lifetime from `now`): what
/// the pinning job runs on a schedule, well within the lifetime, so that
/// subscribers never meet an expired version and a frozen one is refused
/// soon.
pub fn refresh_version(
    store: &DiskStore,
    local: &IndexState,
    keystore: &Keystore,
    index: &str,
    now: SystemTime,
) -> anyhow::Result<NewVersion> {
    let refreshed = sign_unchanged(store, local, keystore, index, None, now, true);
    refreshed?.context("a refresh always signs a new version")
}

/// Signs a version of index `index` that adds nothing: its first, a
/// refresh, a key rotation; of whichever kind the index is.
pub fn sign_unchanged(
    store: &DiskStore,
    local: &IndexState,
    keystore: &Keystore,
    index: &str,
    rotate_to: Option<&Rotation>,
    now: SystemTime,
    refresh: bool,
) -> anyhow::Result<Option<NewVersion>> {
    use crate::index::{attest::Statement, Entry};
    match published(local, index)?.kind {
        IndexKind::Artifacts => {
            sign_version::<Entry>(store, local, keystore, index, &BTreeMap::new(), rotate_to, now, refresh)
        }
        IndexKind::Attestations => {
            sign_version::<Statement>(store, local, keystore, index, &BTreeMap::new(), rotate_to, now, refresh)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn sign_version<T: ShardItem>(
    store: &DiskStore,
    local: &IndexState,
    keystore: &Keystore,
    index: &str,
    changes: &BTreeMap<String, Vec<T>>,
    rotate_to: Option<&Rotation>,
    now: SystemTime,
    refresh: bool,
) -> anyhow::Result<Option<NewVersion>> {
    let config = published(local, index)?;
    if config.kind != T::KIND {
        bail!("index `{index}` is {}: it holds no {}", config.kind.describe(), T::KIND.describe());
    }
    let ipns_key = keystore.get(&config.ipns_key)?;
    let prev = base_version(store, index, &ipns_key.ipns_name(), &config.head, now)?;
    // One IPNS name, one index: never a version of this one over another's.
    if let Some(prev) = &prev {
        super::guard::check_replaces(&ipns_key.ipns_name(), Some(&config.ipns_key), Some(&prev.manifest.index), index)?;
    }
    let (signers, sets) = signers(keystore, &config, rotate_to)?;
    let params = PublishParams {
        index,
        signers: &signers,
        ipns_key: &ipns_key,
        keys: sets.keys,
        threshold: sets.threshold,
        root_keys: sets.root_keys.clone(),
        root_threshold: sets.root_threshold,
        lifetime: Duration::from_secs(config.lifetime_secs),
        ttl: Duration::from_secs(300),
        now,
        refresh,
    };
    let Some(new) = publish(store, prev.as_ref(), changes, &params)? else { return Ok(None) };
    crate::failpoint::hit("publish.version-stored");
    store.records()?.put(&ipns_key.ipns_name(), &new.record, now)?;
    crate::failpoint::hit("publish.record-stored");
    local.update_published(|p| {
        if let Some(entry) = p.get_mut(index) {
            entry.head = new.version.root.to_string();
            if let Some(rotation) = rotate_to {
                entry.keys = rotation.keys.clone();
                entry.threshold = rotation.threshold;
                entry.root_keys = sets.root_keys.clone();
                entry.root_threshold = sets.root_threshold;
            }
        }
    })?;
    Ok(Some(new))
}

/// The version a new version of `index` builds on: the one the stored
/// record of `name` points at (the record is written last, so it is the
/// last complete publication), unless `head` (the root this store recorded
/// as published last) is a newer version. A record older than the head (the
/// store's records restored from an older backup, say) is passed over, so
/// that no sequence number is ever signed for two different versions.
fn base_version(
    store: &DiskStore,
    index: &str,
    name: &IpnsName,
    head: &str,
    now: SystemTime,
) -> anyhow::Result<Option<IndexVersion>> {
    let record = store.records()?.get(name)?;
    let prev = match record {
        Some(bytes) => {
            let rec = verify_record(name, &bytes, now)
                .with_context(|| format!("the stored record of index `{index}` is invalid"))?;
            let root = parse_cid(rec.value().trim_start_matches("/ipfs/"))?;
            Some(
                load_version(store, &root)
                    .with_context(|| format!("cannot read the current version of index `{index}`"))?,
            )
        }
        None => None,
    };
    let head = parse_cid(head)
        .ok()
        .filter(|h| prev.as_ref().is_none_or(|p| p.root != *h))
        .and_then(|h| load_version(store, &h).ok());
    Ok(match (prev, head) {
        (Some(record), Some(head)) if head.manifest.seq > record.manifest.seq => Some(head),
        (None, Some(head)) => Some(head),
        (record, _) => record,
    })
}
