//! The signed manifest at the root of every index version.
//!
//! The manifest names the index, carries a sequence number and an expiry,
//! links the directory of shards and the previous manifest, and lists the
//! publisher keys with a signature threshold. Signatures are Ed25519 over a
//! domain-separation prefix and the manifest's JSON without its
//! `signatures` field; unknown fields are refused, so what is verified is
//! exactly what is read.
//!
//! This module does no I/O and reads no clock: `now` is a parameter.

use super::{INDEX_FORMAT_VERSION, OLDEST_READABLE_FORMAT};
use crate::formats::ipns::{IpnsName, Keypair};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use thiserror::Error;

/// Prefixed to the signed bytes so that a manifest signature can never be
/// replayed as another kind of signature made with the same key.
pub const SIGNING_DOMAIN: &[u8] = b"cargo-ipfs-fetch index manifest v1\n";

/// How many previous versions a subscriber walks to follow key rotations.
pub const MAX_ROTATION_WALK: usize = 256;

/// One publisher signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// The signer's IPNS name (`k51...`), which embeds its Ed25519 key.
    pub key: String,
    /// The Ed25519 signature, hex.
    pub sig: String,
}

/// The manifest of one index version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The format version ([`INDEX_FORMAT_VERSION`]).
    pub format: u32,
    /// The index's own name; a manifest is only valid for this name.
    pub index: String,
    /// What the shards hold: artifact entries (absent) or a rebuilder's
    /// attestations. Signed, so that neither is ever read as the other.
    #[serde(default, skip_serializing_if = "IndexKind::is_artifacts")]
    pub kind: IndexKind,
    /// The version number, one more than the previous version's.
    pub seq: u64,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// After this time (seconds since the Unix epoch) the version is refused.
    pub expires: u64,
    /// The CID of the directory of shards.
    pub shards: String,
    /// The CID of the previous version's manifest file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
    /// The publisher keys, as IPNS names, sorted: the online keys (the
    /// pinning job's) when `root_keys` is set.
    pub keys: Vec<String>,
    /// How many of `keys` must sign.
    pub threshold: u32,
    /// The root keys, as IPNS names, sorted: kept offline, and the only
    /// keys whose threshold can change `keys`, `threshold` or themselves.
    /// Empty on an index without the split: its `keys` are its root too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub root_keys: Vec<String>,
    /// How many of `root_keys` must sign a change of either key set (0
    /// without the split).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub root_threshold: u32,
    /// The signatures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<Signature>,
}

/// What an index's shards hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexKind {
    /// Entries from cache key to artifact: a publisher's index.
    #[default]
    Artifacts,
    /// Statements that rebuilds matched entries of other indexes: a
    /// rebuilder's index (see [`crate::index::attest`]).
    Attestations,
}

impl IndexKind {
    /// Whether this is the default kind, which manifests leave out.
    pub fn is_artifacts(&self) -> bool {
        *self == IndexKind::Artifacts
    }

    /// How a message names an index of this kind.
    pub fn describe(self) -> &'static str {
        match self {
            IndexKind::Artifacts => "an artifact index (a publisher's)",
            IndexKind::Attestations => "an attestation index (a rebuilder's)",
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The keys a subscriber trusts for one index, and how many must sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedKeys {
    /// IPNS names of the trusted keys.
    pub keys: Vec<String>,
    /// How many of them must sign a manifest.
    pub threshold: u32,
}

/// Why a manifest was refused. Every message names the index and says what
/// the user can do.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ManifestError {
    /// The bytes are not a manifest.
    #[error("index manifest is malformed: {0}")]
    Malformed(String),
    /// A format this version does not read.
    #[error("index `{index}`: manifest format {found} is not supported (this build reads {INDEX_FORMAT_VERSION}); upgrade cargo-ipfs-fetch")]
    Format {
        /// The index.
        index: String,
        /// The format found.
        found: u32,
    },
    /// A version of an older format, whose entries sign less than this
    /// build relies on.
    #[error("index `{index}`: version {seq} is in index format {found}, older than the {OLDEST_READABLE_FORMAT} this build reads (its entries sign no unpacked size); its publisher must publish a new version with a current cargo-ipfs-fetch")]
    OldFormat {
        /// The index.
        index: String,
        /// The version.
        seq: u64,
        /// The format found.
        found: u32,
    },
    /// The manifest belongs to another index.
    #[error("the manifest is for index `{found}`, not `{expected}`: indexes are never mixed; check the index name and IPNS name you configured")]
    ForeignIndex {
        /// The index asked for.
        expected: String,
        /// The index the manifest names.
        found: String,
    },
    /// An index of the other kind than the one trusted under this name.
    #[error("index `{index}` is {}, but it is trusted here as {}; check the name, or trust it again with `cargo ipfs trust add` (with `--rebuilder` for a rebuilder)", found.describe(), expected.describe())]
    Kind {
        /// The index.
        index: String,
        /// The kind trusted.
        expected: IndexKind,
        /// The kind its manifest says.
        found: IndexKind,
    },
    /// Not enough valid signatures from the manifest's own key set.
    #[error("index `{index}` version {seq}: {valid} valid signature(s) from its key set, {needed} needed{}; the manifest was altered or is incomplete, try another source", signed_by(strangers))]
    Threshold {
        /// The index.
        index: String,
        /// The version.
        seq: u64,
        /// Valid signatures found.
        valid: usize,
        /// Threshold.
        needed: u32,
        /// Signers not in its key set (a removed key, say).
        strangers: Vec<String>,
    },
    /// The key changes since the version seen last cannot be checked.
    #[error("index `{index}`: cannot check the key changes since version {seen} ({why}); try another source, or check the publisher's keys and run `cargo ipfs trust add {index} KEY...` again")]
    KeyHistory {
        /// The index.
        index: String,
        /// The version seen last.
        seen: u64,
        /// Why.
        why: String,
    },
    /// A new root key set that does not sign the version introducing it.
    #[error("index `{index}` version {seq} names root keys of which {valid} signed it, {needed} needed; a root key set must sign the version that introduces it")]
    RootThreshold {
        /// The index.
        index: String,
        /// The version.
        seq: u64,
        /// Valid signatures of the new root keys.
        valid: usize,
        /// The new root threshold.
        needed: u32,
    },
    /// Not enough valid signatures from the subscriber's trusted keys.
    #[error("index `{index}` version {seq}: signed by {valid} of your trusted key(s), {needed} needed; if the publisher announced new keys, check them and run `cargo ipfs trust add {index} KEY...`")]
    Untrusted {
        /// The index.
        index: String,
        /// The version.
        seq: u64,
        /// Valid trusted signatures found.
        valid: usize,
        /// Trusted threshold.
        needed: u32,
    },
    /// Older than a version seen before.
    #[error("index `{index}`: version {seq} is older than version {last_seen} seen before; refusing a rollback (a stale mirror or an attack), try another source")]
    Rollback {
        /// The index.
        index: String,
        /// The version offered.
        seq: u64,
        /// The newest version seen.
        last_seen: u64,
    },
    /// Past its expiry.
    #[error("index `{index}` version {seq} expired at {expires} (Unix time, now {now}); refusing a frozen index, the publisher must publish a new version")]
    Expired {
        /// The index.
        index: String,
        /// The version.
        seq: u64,
        /// Its expiry.
        expires: u64,
        /// The time of the check.
        now: u64,
    },
    /// A key change that the previous root (or, without the split, the
    /// previous key set) did not sign.
    #[error("index `{index}` version {seq} changes its keys without {needed} signature(s) of the previous root keys ({valid} found){}; only the root keys change keys, refusing it", signed_by(strangers))]
    BadRotation {
        /// The index.
        index: String,
        /// The version that rotates.
        seq: u64,
        /// Valid signatures of the previous root keys.
        valid: usize,
        /// The previous root threshold.
        needed: u32,
        /// Signers not among the previous root keys (an online key, say).
        strangers: Vec<String>,
    },
}

/// `, signed by KEY...` for the keys a refusal names.
fn signed_by(keys: &[String]) -> String {
    match keys {
        [] => String::new(),
        keys => {
            format!(", signed by {} (not among the keys that count here: removed, or never added)", keys.join(", "))
        }
    }
}

impl Manifest {
    /// The bytes that signatures cover.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let unsigned = Manifest { signatures: Vec::new(), ..self.clone() };
        let mut out = SIGNING_DOMAIN.to_vec();
        serde_json::to_writer(&mut out, &unsigned).expect("manifests serialize");
        out
    }

    /// Adds (or replaces) `keypair`'s signature.
    pub fn sign(&mut self, keypair: &Keypair) {
        let key = keypair.ipns_name().to_string();
        let sig = hex::encode(keypair.sign(&self.signing_bytes()));
        self.signatures.retain(|s| s.key != key);
        self.signatures.push(Signature { key, sig });
        self.signatures.sort_by(|a, b| a.key.cmp(&b.key));
    }

    /// How many distinct keys of `keys` have a valid signature here.
    pub fn valid_signatures(&self, keys: &[String]) -> usize {
        let message = self.signing_bytes();
        let wanted: BTreeSet<&str> = keys.iter().map(String::as_str).collect();
        let mut good = BTreeSet::new();
        for sig in &self.signatures {
            if !wanted.contains(sig.key.as_str()) || good.contains(sig.key.as_str()) {
                continue;
            }
            let Ok(name) = sig.key.parse::<IpnsName>() else { continue };
            let Some(Ok(public)) = name.inline_public_key() else { continue };
            let Ok(bytes) = hex::decode(&sig.sig) else { continue };
            if public.verify(&message, &bytes).is_ok() {
                good.insert(sig.key.as_str());
            }
        }
        good.len()
    }

    /// The manifest as stored: pretty JSON with a final newline.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("manifests serialize");
        out.push(b'\n');
        out
    }

    /// Parses a stored manifest and checks its shape (not its signatures).
    pub fn decode(bytes: &[u8]) -> Result<Self, ManifestError> {
        let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        // Every format so far has this manifest's shape, so an older one
        // still decodes (for `prev` links and key rotations, and for a
        // publisher building on it); [`check_manifest`] refuses to use it.
        if manifest.format == 0 || manifest.format > INDEX_FORMAT_VERSION {
            return Err(ManifestError::Format { index: manifest.index, found: manifest.format });
        }
        let malformed = |what: &str| Err(ManifestError::Malformed(format!("index `{}`: {what}", manifest.index)));
        if manifest.threshold == 0 || manifest.threshold as usize > manifest.keys.len() {
            return malformed("the threshold must be between 1 and the number of keys");
        }
        if manifest.root_keys.is_empty() != (manifest.root_threshold == 0)
            || manifest.root_threshold as usize > manifest.root_keys.len()
        {
            return malformed("the root threshold must be between 1 and the number of root keys, or both absent");
        }
        for key in manifest.keys.iter().chain(&manifest.root_keys) {
            match key.parse::<IpnsName>().ok().and_then(|n| n.inline_public_key()) {
                Some(Ok(_)) => {}
                _ => return malformed(&format!("key {key} is not an Ed25519 IPNS name")),
            }
        }
        if crate::formats::block::parse_cid(&manifest.shards).is_err() {
            return malformed("the shards field is not a CID");
        }
        if let Some(prev) = &manifest.prev {
            if crate::formats::block::parse_cid(prev).is_err() {
                return malformed("the prev field is not a CID");
            }
        }
        Ok(manifest)
    }

    /// Whether this manifest's online key set differs from `keys` and `threshold`.
    pub fn rotates_from(&self, keys: &[String], threshold: u32) -> bool {
        let mine: BTreeSet<&String> = self.keys.iter().collect();
        let theirs: BTreeSet<&String> = keys.iter().collect();
        mine != theirs || self.threshold != threshold
    }

    /// The keys that may change the key sets, and how many must sign:
    /// the root keys, or the keys themselves without the split.
    pub fn root(&self) -> (&[String], u32) {
        match self.root_threshold {
            0 => (&self.keys, self.threshold),
            n => (&self.root_keys, n),
        }
    }

    /// Whether either key set differs from `old`'s.
    pub fn changes_keys_of(&self, old: &Manifest) -> bool {
        let set = |keys: &[String]| keys.iter().cloned().collect::<BTreeSet<String>>();
        self.rotates_from(&old.keys, old.threshold)
            || set(&self.root_keys) != set(&old.root_keys)
            || self.root_threshold != old.root_threshold
    }

    /// The signers of this manifest that are not among `keys`, for a
    /// refusal to name them (a removed key, a key never added).
    pub fn strangers(&self, keys: &[String]) -> Vec<String> {
        self.signatures.iter().filter(|s| !keys.contains(&s.key)).map(|s| s.key.clone()).collect()
    }
}

/// Checks everything about one manifest that does not need other versions:
/// its index name, its own threshold, its expiry and the sequence against
/// the last one seen.
pub fn check_manifest(
    m: &Manifest,
    expected_index: &str,
    last_seen: Option<u64>,
    now: u64,
) -> Result<(), ManifestError> {
    if m.index != expected_index {
        return Err(ManifestError::ForeignIndex { expected: expected_index.into(), found: m.index.clone() });
    }
    if m.format < OLDEST_READABLE_FORMAT {
        return Err(ManifestError::OldFormat { index: m.index.clone(), seq: m.seq, found: m.format });
    }
    check_signed(m, None)?;
    if let Some(last) = last_seen {
        if m.seq < last {
            return Err(ManifestError::Rollback { index: m.index.clone(), seq: m.seq, last_seen: last });
        }
    }
    if now >= m.expires {
        return Err(ManifestError::Expired { index: m.index.clone(), seq: m.seq, expires: m.expires, now });
    }
    Ok(())
}

/// Checks that `m` is signed by the subscriber's trusted keys.
pub fn check_trusted(m: &Manifest, trusted: &TrustedKeys) -> Result<(), ManifestError> {
    let valid = m.valid_signatures(&trusted.keys);
    if valid < trusted.threshold as usize {
        return Err(ManifestError::Untrusted { index: m.index.clone(), seq: m.seq, valid, needed: trusted.threshold });
    }
    Ok(())
}

/// Checks that `new` carries its own threshold of signatures and, when it
/// changes the key set of the version before it (`old`), also `old`'s
/// threshold of signatures by the old keys. Publishers run it before they
/// sign off a version; subscribers on every version they accept.
pub fn check_signed(new: &Manifest, old: Option<&Manifest>) -> Result<(), ManifestError> {
    if let Some(old) = old.filter(|old| new.changes_keys_of(old)) {
        // Only the previous root (its keys, without the split) changes keys.
        let (root, needed) = old.root();
        let valid = new.valid_signatures(root);
        if valid < needed as usize {
            return Err(ManifestError::BadRotation {
                index: new.index.clone(),
                seq: new.seq,
                valid,
                needed,
                strangers: new.strangers(root),
            });
        }
    }
    // A new root shows it holds its keys: in the version that introduces it
    // (the first one, or one whose previous version had another root).
    let new_root = old.map_or(new.prev.is_none(), |old| old.root() != new.root());
    if new.root_threshold > 0 && new_root {
        let valid = new.valid_signatures(&new.root_keys);
        if valid < new.root_threshold as usize {
            return Err(ManifestError::RootThreshold {
                index: new.index.clone(),
                seq: new.seq,
                valid,
                needed: new.root_threshold,
            });
        }
    }
    let valid = new.valid_signatures(&new.keys);
    if valid < new.threshold as usize {
        return Err(ManifestError::Threshold {
            index: new.index.clone(),
            seq: new.seq,
            valid,
            needed: new.threshold,
            strangers: new.strangers(&new.keys).into_iter().filter(|k| !new.root_keys.contains(k)).collect(),
        });
    }
    Ok(())
}

/// Follows key rotations: `chain` runs from a version the trusted keys signed
/// (first) to the newest (last), each the `prev` of the next. Every step that
/// changes the key set must carry the previous set's threshold of signatures.
/// Returns the key set the subscriber should trust from now on.
pub fn check_rotation_chain(chain: &[Manifest], trusted: &TrustedKeys) -> Result<TrustedKeys, ManifestError> {
    let first = chain.first().ok_or_else(|| ManifestError::Malformed("empty rotation chain".into()))?;
    check_trusted(first, trusted)?;
    for pair in chain.windows(2) {
        check_signed(&pair[1], Some(&pair[0]))?;
    }
    let last = chain.last().expect("non-empty");
    Ok(TrustedKeys { keys: last.keys.clone(), threshold: last.threshold })
}

#[cfg(test)]
mod tests;
