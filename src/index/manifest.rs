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
    /// The publisher keys, as IPNS names, sorted.
    pub keys: Vec<String>,
    /// How many of `keys` must sign.
    pub threshold: u32,
    /// The signatures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<Signature>,
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
    /// Not enough valid signatures from the manifest's own key set.
    #[error("index `{index}` version {seq}: {valid} valid signature(s) from its key set, {needed} needed; the manifest was altered or is incomplete, try another source")]
    Threshold {
        /// The index.
        index: String,
        /// The version.
        seq: u64,
        /// Valid signatures found.
        valid: usize,
        /// Threshold.
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
    /// A key rotation that the previous key set did not sign.
    #[error("index `{index}` version {seq} changes the key set without {needed} signature(s) of the previous keys ({valid} found); refusing the rotation")]
    BadRotation {
        /// The index.
        index: String,
        /// The version that rotates.
        seq: u64,
        /// Valid signatures of the previous keys.
        valid: usize,
        /// The previous threshold.
        needed: u32,
    },
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
        for key in &manifest.keys {
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

    /// Whether this manifest's key set differs from `other`'s.
    pub fn rotates_from(&self, keys: &[String], threshold: u32) -> bool {
        let mine: BTreeSet<&String> = self.keys.iter().collect();
        let theirs: BTreeSet<&String> = keys.iter().collect();
        mine != theirs || self.threshold != threshold
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
    if let Some(old) = old.filter(|old| new.rotates_from(&old.keys, old.threshold)) {
        let valid = new.valid_signatures(&old.keys);
        if valid < old.threshold as usize {
            return Err(ManifestError::BadRotation {
                index: new.index.clone(),
                seq: new.seq,
                valid,
                needed: old.threshold,
            });
        }
    }
    let valid = new.valid_signatures(&new.keys);
    if valid < new.threshold as usize {
        return Err(ManifestError::Threshold { index: new.index.clone(), seq: new.seq, valid, needed: new.threshold });
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
