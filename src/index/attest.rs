//! Attestations: a rebuilder's signed statement that its own rebuild of an
//! entry of some index gave the artifact that entry names, and how a client
//! counts them.
//!
//! A rebuilder publishes its statements as an index of its own (the same
//! manifest, sequence, expiry and IPNS record as a publisher's, with
//! `kind: "attestations"`), sharded by crate like entries, so that anyone
//! follows it with the verification code that follows a publisher. Each
//! statement is also signed on its own, so that it stays checkable out of
//! that index (merged into a publisher's, say).
//!
//! This module does no I/O and reads no clock.

use super::entry::{Entry, EntryError};
use super::manifest::IndexKind;
use super::shard::ShardItem;
use crate::formats::ipns::{IpnsName, Keypair};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Prefixed to the signed bytes, so that a statement signature is never
/// taken for a manifest signature made with the same key, nor the reverse.
pub const SIGNING_DOMAIN: &[u8] = b"cargo-ipfs-fetch attestation v1\n";

/// One rebuilder's statement that its rebuild of an entry matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// The attested index's name.
    pub index: String,
    /// The attested index's IPNS name: with the name, which index (one
    /// IPNS name carries one index forever).
    pub ipns: String,
    /// The crate.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The entry's cache key.
    pub key: String,
    /// The entry's artifact CID, which the rebuild gave too.
    pub cid: String,
    /// The artifact's sha256, which the rebuild gave too.
    pub sha256: String,
    /// The compiler the rebuild ran (`release commit-hash`).
    pub rustc: String,
    /// The target it built for.
    pub target: String,
    /// When it was rebuilt, seconds since the Unix epoch.
    pub rebuilt_at: u64,
    /// The IPNS name of the key that signs the statement.
    pub attester: String,
    /// The Ed25519 signature by `attester`, hex.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sig: String,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl Statement {
    /// The statement, signed by `keypair`, that a rebuild of `entry` of
    /// index `index` (published under `ipns`) matched, at `now`.
    pub fn sign_for(entry: &Entry, index: &str, ipns: &str, now: u64, keypair: &Keypair) -> Statement {
        let mut statement = Statement {
            index: index.into(),
            ipns: ipns.into(),
            name: entry.name.clone(),
            version: entry.version.clone(),
            key: entry.key.clone(),
            cid: entry.cid.clone(),
            sha256: entry.sha256.clone(),
            rustc: entry.rustc.clone(),
            target: entry.target.clone(),
            rebuilt_at: now,
            attester: keypair.ipns_name().to_string(),
            sig: String::new(),
        };
        statement.sig = hex::encode(keypair.sign(&statement.signing_bytes()));
        statement
    }

    /// The bytes the signature covers: the domain, then the statement as
    /// compact JSON in field order, without `sig`.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let unsigned = Statement { sig: String::new(), ..self.clone() };
        let mut out = SIGNING_DOMAIN.to_vec();
        serde_json::to_writer(&mut out, &unsigned).expect("statements serialize");
        out
    }

    /// Whether `sig` is `attester`'s signature of this statement.
    pub fn signature_valid(&self) -> bool {
        let Ok(name) = self.attester.parse::<IpnsName>() else { return false };
        let Some(Ok(public)) = name.inline_public_key() else { return false };
        let Ok(sig) = hex::decode(&self.sig) else { return false };
        public.verify(&self.signing_bytes(), &sig).is_ok()
    }

    /// Whether it speaks of `entry` of index `index` at `ipns`: what a
    /// client checks before it counts it, beside the signature.
    fn mismatch(&self, entry: &Entry, index: &str, ipns: &str) -> Option<&'static str> {
        if self.index != index || self.ipns != ipns {
            Some("it attests an entry of another index")
        } else if self.name != entry.name || self.version != entry.version {
            Some("it names another crate")
        } else if self.cid != entry.cid || self.sha256 != entry.sha256 {
            Some("its rebuild gave another artifact (CID or sha256)")
        } else {
            None
        }
    }
}

impl ShardItem for Statement {
    const KIND: IndexKind = IndexKind::Attestations;

    fn crate_name(&self) -> &str {
        &self.name
    }

    fn validate(&self) -> Result<(), EntryError> {
        let invalid = |what: &str| EntryError::Invalid {
            name: self.name.clone(),
            version: self.version.clone(),
            what: format!("attestation: {what}"),
        };
        super::layout::shard_path(&self.name).map_err(|e| invalid(&e.to_string()))?;
        if !is_hex(&self.sha256, 64) {
            return Err(invalid("sha256 must be 64 lower-case hex digits"));
        }
        if self.key.is_empty() || !self.key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid("key must be hex"));
        }
        let cid = crate::formats::block::parse_cid(&self.cid).map_err(|e| invalid(&e.to_string()))?;
        if cid.to_string() != self.cid {
            return Err(invalid("cid must be written in its canonical form"));
        }
        for (what, name) in [("ipns", &self.ipns), ("attester", &self.attester)] {
            if name.parse::<IpnsName>().is_err() {
                return Err(invalid(&format!("{what} is not an IPNS name")));
            }
        }
        if !is_hex(&self.sig, 128) {
            return Err(invalid("sig must be 128 lower-case hex digits"));
        }
        Ok(())
    }

    fn order(&self) -> (&str, &str, &str) {
        (&self.version, &self.key, &self.ipns)
    }

    fn same(&self, other: &Self) -> bool {
        self.key == other.key && self.ipns == other.ipns
    }
}

/// A rebuilder a client trusts, with what its verified attestation index
/// holds for one crate.
#[derive(Debug, Clone, Copy)]
pub struct Rebuilder<'a> {
    /// The name it is trusted under.
    pub name: &'a str,
    /// Its keys: the key set of the version of its index accepted.
    pub keys: &'a [String],
    /// Its statements of the crate.
    pub statements: &'a [Statement],
}

/// What the attestations of one entry come to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// The rebuilders whose statement counts, by name.
    pub by: Vec<String>,
    /// The keys that signed those statements.
    pub keys: Vec<String>,
    /// Each other rebuilder, and why its statement does not count (or that
    /// it made none).
    pub not: Vec<(String, String)>,
}

impl Tally {
    /// `2 of 3 required attestations (by a, b; c: no statement)`.
    pub fn describe(&self, required: usize) -> String {
        let mut parts = Vec::new();
        if !self.by.is_empty() {
            parts.push(format!("by {}", self.by.join(", ")));
        }
        parts.extend(self.not.iter().map(|(name, why)| format!("{name}: {why}")));
        let detail = if parts.is_empty() { String::new() } else { format!(" ({})", parts.join("; ")) };
        format!("{} of {required} required attestations{detail}", self.by.len())
    }
}

/// Counts the attestations of `entry` of index `index` (published under
/// `ipns`, signed by `publisher_keys`) among `rebuilders`. A statement
/// counts when its signature verifies, its signer is one of its
/// rebuilder's keys, and it names this index and this entry's key, crate,
/// CID and sha256. Each rebuilder counts once, each key once (two trusted
/// names for one rebuilder are one rebuilder), and a rebuilder that shares
/// a key with the publisher counts for nothing: it is not independent.
pub fn tally(entry: &Entry, index: &str, ipns: &str, publisher_keys: &[String], rebuilders: &[Rebuilder]) -> Tally {
    let mut tally = Tally::default();
    let mut used: BTreeSet<&str> = BTreeSet::new();
    for rebuilder in rebuilders {
        let not = |why: &str| (rebuilder.name.to_string(), why.to_string());
        if rebuilder.keys.iter().any(|k| publisher_keys.contains(k)) {
            tally.not.push(not("shares a key with the publisher, so it does not count"));
            continue;
        }
        let mut why = "no statement";
        let mut counted = false;
        for statement in rebuilder.statements.iter().filter(|s| s.key == entry.key) {
            why = if let Some(mismatch) = statement.mismatch(entry, index, ipns) {
                mismatch
            } else if !rebuilder.keys.contains(&statement.attester) {
                "signed by a key that is not the rebuilder's"
            } else if !statement.signature_valid() {
                "its signature does not verify (forged or altered)"
            } else if !used.insert(statement.attester.as_str()) {
                "signed by a key that already counted for another rebuilder"
            } else {
                counted = true;
                tally.by.push(rebuilder.name.to_string());
                tally.keys.push(statement.attester.clone());
                break;
            };
        }
        if !counted {
            tally.not.push(not(why));
        }
    }
    tally
}

#[cfg(test)]
#[path = "attest_tests.rs"]
mod tests;
