//! What `index show` and `index verify` read of attestations: a crate's
//! entries with the statements of every rebuilder trusted here, and an
//! attestation index's own statements.

use super::read::{open, VerifiedVersion};
use super::Ctx;
use crate::index::attest::{Statement, Tally};
use crate::index::attested::{Attesting, Followed};
use crate::index::manifest::IndexKind;
use crate::index::shard::ShardItem;
use crate::index::tree::{lookup_items, lookup_shard};
use crate::index::Entry;
use crate::store::BlockStore;
use cid::Cid;

/// How many lines of crate `krate`'s shard there are; an error for a line
/// this build does not understand (a verification reads every line).
pub(super) fn understood(store: &dyn BlockStore, kind: IndexKind, shards: &Cid, krate: &str) -> anyhow::Result<usize> {
    match kind {
        IndexKind::Artifacts => count::<Entry>(store, shards, krate),
        IndexKind::Attestations => count::<Statement>(store, shards, krate),
    }
}

fn count<T: ShardItem>(store: &dyn BlockStore, shards: &Cid, krate: &str) -> anyhow::Result<usize> {
    let shard = lookup_shard::<T>(store, shards, krate)?;
    if let Some((line, why)) = shard.skipped.first() {
        anyhow::bail!(
            "line {line} of crate {krate}'s shard is not understood ({why}); a newer cargo-ipfs-fetch may read it"
        );
    }
    Ok(shard.entries.len())
}

/// Each rebuilder trusted here, opened from the local store with every
/// check, or why it cannot be.
fn rebuilders(ctx: &Ctx) -> anyhow::Result<Vec<Followed>> {
    let trust = ctx.local.trust()?;
    let mut out = Vec::new();
    for (name, t) in trust.iter().filter(|(_, t)| t.kind == IndexKind::Attestations) {
        out.push(match open(&ctx.store, &ctx.local, name, ctx.now) {
            Ok(v) => Followed::verified(name, &v.version.manifest.keys, &v.version.shards),
            Err(e) => Followed::refused(name, t, crate::report::Chain(&e).to_string()),
        });
    }
    Ok(out)
}

/// The entries of `krate` in an artifact index, each with what the
/// rebuilders trusted here attest of it.
pub(super) fn entries_with_attestations(
    ctx: &Ctx,
    opened: &VerifiedVersion,
    krate: &str,
    json: bool,
) -> anyhow::Result<()> {
    let m = &opened.version.manifest;
    let entries: Vec<Entry> = lookup_items(&ctx.store, &opened.version.shards, krate)?;
    let trust = ctx.local.trust()?;
    let attesting = Attesting {
        require: 0,
        index: m.index.clone(),
        ipns: trust.get(&m.index).map(|t| t.ipns.clone()).unwrap_or_default(),
        publisher_keys: m.keys.iter().chain(&m.root_keys).cloned().collect(),
        rebuilders: rebuilders(ctx)?,
    };
    if attesting.rebuilders.is_empty() {
        // No rebuilder trusted here: the entries as they are.
        return super::read::print_entries(&entries, json);
    }
    let tallies = attesting.tally_all(&ctx.store, krate, &entries)?;
    if json {
        let out: Vec<serde_json::Value> =
            entries.iter().zip(&tallies).map(|(e, t)| crate::index::attested::with_attestations(e, t)).collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    for (e, t) in entries.iter().zip(&tallies) {
        let kind = if e.is_run() { " build-script-run" } else { "" };
        println!(
            "{} {} {}{kind} {} {} bytes key={} rustc={}",
            e.name, e.version, e.target, e.cid, e.size, e.key, e.rustc
        );
        println!("  {}", attested(t));
    }
    Ok(())
}

fn attested(t: &Tally) -> String {
    let mut parts = vec![format!("attested by {}", t.by.len())];
    if !t.by.is_empty() {
        parts[0].push_str(&format!(" ({})", t.by.join(", ")));
    }
    parts.extend(t.not.iter().map(|(name, why)| format!("{name}: {why}")));
    parts.join("; ")
}

/// The statements of `krate` in an attestation index.
pub(super) fn statements(ctx: &Ctx, opened: &VerifiedVersion, krate: &str, json: bool) -> anyhow::Result<()> {
    let statements: Vec<Statement> = lookup_items(&ctx.store, &opened.version.shards, krate)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&statements)?);
        return Ok(());
    }
    for s in &statements {
        let signed = if s.signature_valid() { "signed" } else { "BAD SIGNATURE" };
        println!(
            "{} {} key={} cid={} of index {} (/ipns/{}) rebuilt {} by {} ({signed})",
            s.name, s.version, s.key, s.cid, s.index, s.ipns, s.rebuilt_at, s.attester
        );
    }
    Ok(())
}
