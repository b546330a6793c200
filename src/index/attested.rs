//! A client's policy of required attestations, applied to the entries of
//! one index: the trusted rebuilders chosen, the verified version of each
//! one's attestation index, and the count of each entry's valid statements
//! ([`super::attest::tally`]). A fetch resolves the rebuilders and hands
//! the result down to the wrappers of its build, which count the same way
//! for what they fetch on demand.

use super::attest::{tally, Rebuilder, Statement, Tally};
use super::manifest::IndexKind;
use super::state::{IndexTrust, TrustFile};
use super::tree::{lookup_items, TreeError};
use super::Entry;
use crate::store::BlockStore;
use anyhow::bail;
use serde::{Deserialize, Serialize};

/// The rebuilders a policy counts: those named (each must be trusted here
/// as a rebuilder), or every rebuilder trusted here when none is named.
/// Refuses a policy that cannot be met: fewer rebuilders than required.
pub fn chosen_rebuilders(
    trust: &TrustFile,
    named: &[String],
    require: u32,
) -> anyhow::Result<Vec<(String, IndexTrust)>> {
    let mut chosen = Vec::new();
    if named.is_empty() {
        chosen.extend(
            trust.iter().filter(|(_, t)| t.kind == IndexKind::Attestations).map(|(n, t)| (n.clone(), t.clone())),
        );
    } else {
        for name in named {
            match trust.get(name) {
                Some(t) if t.kind == IndexKind::Attestations => chosen.push((name.clone(), t.clone())),
                Some(_) => bail!(
                    "`{name}` is trusted here as a publisher's index, not as a rebuilder; \
                     trust its attestation index with `cargo ipfs trust add NAME KEY --rebuilder`"
                ),
                None => bail!(
                    "rebuilder `{name}` is not trusted here; add it with `cargo ipfs trust add {name} KEY --rebuilder`"
                ),
            }
        }
    }
    if chosen.len() < require as usize {
        bail!(
            "{require} attestation(s) are required but {} rebuilder(s) are trusted here{}; trust more with \
             `cargo ipfs trust add NAME KEY --rebuilder`, or lower `require_attestations`",
            chosen.len(),
            if chosen.is_empty() { String::new() } else { format!(" ({})", names(&chosen)) }
        );
    }
    Ok(chosen)
}

fn names(chosen: &[(String, IndexTrust)]) -> String {
    chosen.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
}

/// One rebuilder as a policy counts it: its verified attestation index, or
/// why it could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Followed {
    /// The name it is trusted under.
    pub name: String,
    /// The key set of its version accepted.
    pub keys: Vec<String>,
    /// The shards directory of that version; `None` when it was refused.
    pub shards: Option<String>,
    /// Why it was refused (expired, rolled back, forged, unreachable).
    pub refused: Option<String>,
}

impl Followed {
    /// A rebuilder whose attestation index verified: the keys and shards
    /// of the version accepted.
    pub fn verified(name: &str, manifest_keys: &[String], shards: &cid::Cid) -> Self {
        Followed {
            name: name.to_string(),
            keys: manifest_keys.to_vec(),
            shards: Some(shards.to_string()),
            refused: None,
        }
    }

    /// A rebuilder whose attestation index was refused, and why.
    pub fn refused(name: &str, trust: &IndexTrust, why: String) -> Self {
        Followed { name: name.to_string(), keys: trust.keys.clone(), shards: None, refused: Some(why) }
    }
}

/// The policy for the entries of one index, ready to count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attesting {
    /// How many distinct rebuilders must attest an entry.
    pub require: u32,
    /// The attested index's name.
    pub index: String,
    /// Its IPNS name.
    pub ipns: String,
    /// Its publisher keys (a rebuilder sharing one does not count).
    pub publisher_keys: Vec<String>,
    /// The rebuilders.
    pub rebuilders: Vec<Followed>,
}

impl Attesting {
    /// The tallies of `entries`, all of crate `name`: each rebuilder's
    /// statements of the crate read once, through `reader`.
    pub fn tally_all(&self, reader: &dyn BlockStore, name: &str, entries: &[Entry]) -> Result<Vec<Tally>, TreeError> {
        let mut statements: Vec<Vec<Statement>> = Vec::new();
        for followed in &self.rebuilders {
            statements.push(match followed.shards.as_deref().map(crate::formats::block::parse_cid) {
                Some(Ok(shards)) => lookup_items(reader, &shards, name)?,
                _ => Vec::new(),
            });
        }
        let rebuilders: Vec<Rebuilder> = self
            .rebuilders
            .iter()
            .zip(&statements)
            .filter(|(f, _)| f.refused.is_none())
            .map(|(f, s)| Rebuilder { name: &f.name, keys: &f.keys, statements: s })
            .collect();
        Ok(entries
            .iter()
            .map(|entry| {
                let mut t = tally(entry, &self.index, &self.ipns, &self.publisher_keys, &rebuilders);
                for f in self.rebuilders.iter().filter(|f| f.refused.is_some()) {
                    t.not.push((
                        f.name.clone(),
                        format!("its index was refused: {}", f.refused.as_deref().unwrap_or("")),
                    ));
                }
                t
            })
            .collect())
    }

    /// Whether a tally meets the policy.
    pub fn allows(&self, tally: &Tally) -> bool {
        tally.by.len() >= self.require as usize
    }
}

/// An entry as `index show --crate --json` prints it, with its tally: the
/// rebuilders whose statement counts, and each other one with why not.
pub fn with_attestations(entry: &Entry, tally: &Tally) -> serde_json::Value {
    let mut v = serde_json::to_value(entry).expect("entries serialize");
    v["attestations"] = serde_json::json!({
        "by": tally.by,
        "not": tally.not.iter().map(|(n, why)| serde_json::json!({"rebuilder": n, "why": why})).collect::<Vec<_>>(),
    });
    v
}
