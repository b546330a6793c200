//! Who signs a new version, and the key sets it names.
//!
//! An index has online keys (the pinning job's: they sign every version)
//! and, once split, root keys (kept offline: only their threshold changes
//! either set, `index::manifest::check_signed`). A version that changes
//! keys is signed by the previous root (whose private keys are imported
//! into the keystore for the occasion, and found there by their IPNS
//! names), by the new online keys and by a new root; any other version by
//! the online keys alone. Without the split the keys are their own root,
//! as before it.

use crate::formats::ipns::Keypair;
use crate::index::state::Published;
use crate::keystore::Keystore;
use anyhow::{bail, Context};

/// A change of an index's keys: new online keys (keystore names) with
/// their threshold and, optionally, a new root key set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub(super) keys: Vec<String>,
    pub(super) threshold: u32,
    pub(super) root: Option<(Vec<String>, u32)>,
}

impl Rotation {
    /// The keystore keys `keys`, `threshold` of which must sign each
    /// version; a threshold they cannot meet is refused.
    pub fn new(keys: Vec<String>, threshold: u32) -> anyhow::Result<Self> {
        check_threshold("--threshold", threshold, &keys)?;
        Ok(Rotation { keys, threshold, root: None })
    }

    /// With a new root key set (keystore names): `root_threshold` of them
    /// must sign each later change of keys.
    pub fn with_root(mut self, root_keys: Vec<String>, root_threshold: u32) -> anyhow::Result<Self> {
        check_threshold("--root-threshold", root_threshold, &root_keys)?;
        self.root = Some((root_keys, root_threshold));
        Ok(self)
    }
}

/// Refuses a threshold its keys cannot meet.
pub(super) fn check_threshold(flag: &str, threshold: u32, keys: &[String]) -> anyhow::Result<()> {
    if threshold == 0 || threshold as usize > keys.len() {
        bail!("{flag} {threshold} must be between 1 and the number of keys ({})", keys.len());
    }
    Ok(())
}

/// The key sets a version names, as IPNS names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySets {
    /// The online keys.
    pub keys: Vec<String>,
    /// Their threshold.
    pub threshold: u32,
    /// The root keys (empty without the split).
    pub root_keys: Vec<String>,
    /// Their threshold (0 without the split).
    pub root_threshold: u32,
}

/// The signers of a new version of the index `config` describes, and the
/// key sets it names.
pub(super) fn signers(
    keystore: &Keystore,
    config: &Published,
    rotate_to: Option<&Rotation>,
) -> anyhow::Result<(Vec<Keypair>, KeySets)> {
    let get = |names: &[String]| names.iter().map(|n| keystore.get(n)).collect::<Result<Vec<_>, _>>();
    let names = |pairs: &[Keypair]| pairs.iter().map(|k| k.ipns_name().to_string()).collect::<Vec<_>>();
    let online = get(&config.keys)?;
    let Some(rotation) = rotate_to else {
        let sets = KeySets {
            keys: names(&online),
            threshold: config.threshold,
            root_keys: config.root_keys.clone(),
            root_threshold: config.root_threshold,
        };
        return Ok((online, sets));
    };
    let mut signers = get(&rotation.keys)?;
    let keys = names(&signers);
    // The previous root: the root keys, or the online keys without the split.
    if config.root_threshold == 0 {
        signers.extend(online);
    } else {
        let held: Vec<Keypair> = keystore
            .list()?
            .into_iter()
            .filter(|(_, name)| config.root_keys.contains(&name.to_string()))
            .map(|(n, _)| keystore.get(&n))
            .collect::<Result<_, _>>()?;
        if held.len() < config.root_threshold as usize {
            bail!(
                "changing keys takes {} of the root keys ({}), and the keystore holds {}: import them for the \
                 occasion with `cargo ipfs key import NAME FILE` (and remove them after with `cargo ipfs key rm NAME`)",
                config.root_threshold,
                config.root_keys.join(", "),
                held.len()
            );
        }
        signers.extend(held);
    }
    let (root_keys, root_threshold) = match &rotation.root {
        Some((root, threshold)) => {
            let root = get(root).context("the new root keys must be in the keystore to sign their first version")?;
            let root_names = names(&root);
            signers.extend(root);
            (root_names, *threshold)
        }
        None => (config.root_keys.clone(), config.root_threshold),
    };
    signers.sort_by_key(|k| k.ipns_name().to_string());
    signers.dedup_by_key(|k| k.ipns_name().to_string());
    Ok((signers, KeySets { keys, threshold: rotation.threshold, root_keys, root_threshold }))
}
