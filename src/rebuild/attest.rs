//! `cargo ipfs attest`: a rebuild whose matches the rebuilder signs. Each
//! artifact the rebuild gave byte for byte gets a statement
//! ([`crate::index::attest::Statement`]) signed with the rebuilder's own
//! key, and the statements are published as a new version of its
//! attestation index, under its own IPNS name: anyone follows it as they
//! follow a publisher, and counts it in a policy of required attestations.

use super::compare::Report;
use super::{rebuild, RebuildOptions};
use crate::index::attest::Statement;
use crate::index::manifest::IndexKind;
use crate::index::publish::NewVersion;
use crate::index::state::IndexState;
use crate::keystore::Keystore;
use crate::publish::{publish_version, published};
use crate::store::DiskStore;
use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// What an attestation run did.
#[derive(Debug)]
pub struct Attested {
    /// The rebuild's report.
    pub report: Report,
    /// How many statements were signed (one per matched artifact).
    pub statements: usize,
    /// The new version of the attestation index; `None` when every
    /// statement was in it already.
    pub version: Option<NewVersion>,
}

/// Rebuilds as `verify --rebuild` does, signs a statement for every
/// artifact that matched with the first key of attestation index
/// `as_index` (published from this store), and publishes them in a new
/// version of it. A mismatch is reported, never attested.
pub fn attest(
    store_dir: &Path,
    keystore: &Keystore,
    opts: &RebuildOptions,
    as_index: &str,
    now: SystemTime,
) -> anyhow::Result<Attested> {
    let local = IndexState::new(store_dir);
    let config = published(&local, as_index)?;
    if config.kind != IndexKind::Attestations {
        bail!(
            "index `{as_index}` is {}; attest into an attestation index: \
             `cargo ipfs index init --name NAME --key KEY --attestations`",
            config.kind.describe()
        );
    }
    let signer = keystore.get(&config.keys[0])?;
    let report = rebuild(store_dir, opts)?;
    let trust = local.trust()?;
    let ipns = &trust.get(&report.index).context("the rebuilt index is no longer trusted here")?.ipns;
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut changes: BTreeMap<String, Vec<Statement>> = BTreeMap::new();
    for entry in &report.matched_entries {
        let statement = Statement::sign_for(entry, &report.index, ipns, secs, &signer);
        changes.entry(entry.name.clone()).or_default().push(statement);
    }
    let statements = report.matched_entries.len();
    let store = DiskStore::open(store_dir)?;
    let version = match statements {
        0 => None,
        _ => publish_version(&store, &local, keystore, as_index, &changes, None, now)?,
    };
    Ok(Attested { report, statements, version })
}
