//! `index init|add|rotate`: new signed versions of an index published from
//! this store. The rules (which version to build on, who signs, what is
//! stored) are [`crate::publish`]'s; this parses and prints.

use super::Ctx;
use crate::cli::Global;
use crate::index::entry::Entry;
use crate::index::local::{IndexTrust, Published};
use crate::publish::{publish_version, published, Rotation};
use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::path::PathBuf;

// The index a subcommand publishes.
#[derive(Debug, clap::Args)]
pub struct IndexName {
    /// The index name.
    #[arg(long)]
    name: String,
}

// `index init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    #[command(flatten)]
    index: IndexName,
    /// Keystore keys that sign the index (repeat for several).
    #[arg(long = "key", required = true, value_name = "KEY")]
    keys: Vec<String>,
    /// How many keys must sign each version.
    #[arg(long, default_value_t = 1)]
    threshold: u32,
    /// How many days each version stays valid.
    #[arg(long, default_value_t = 30, value_name = "DAYS")]
    lifetime_days: u64,
}

// `index add`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    #[command(flatten)]
    index: IndexName,
    /// Files of entries.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

// `index rotate`.
#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    #[command(flatten)]
    index: IndexName,
    /// The new keystore keys.
    #[arg(long = "key", required = true, value_name = "KEY")]
    keys: Vec<String>,
    /// The new threshold.
    #[arg(long, default_value_t = 1)]
    threshold: u32,
}

fn check_threshold(threshold: u32, keys: &[String]) -> anyhow::Result<()> {
    if threshold == 0 || threshold as usize > keys.len() {
        bail!("--threshold {threshold} must be between 1 and the number of keys ({})", keys.len());
    }
    Ok(())
}

/// `index init`: the index in `published.json`, its first (empty) version,
/// and the publisher's trust in its own keys.
pub(super) fn init(global: &Global, ctx: &Ctx, args: InitArgs) -> anyhow::Result<()> {
    let InitArgs { index: IndexName { name }, keys, threshold, lifetime_days } = args;
    crate::index::layout::shard_path(&name)
        .map_err(|_| anyhow::anyhow!("invalid index name {name:?}: use 1 to 64 ASCII letters, digits, '-' or '_'"))?;
    if ctx.local.published()?.contains_key(&name) {
        bail!(
            "index `{name}` already exists in this store; use `cargo ipfs index add --name {name}` to publish entries"
        );
    }
    check_threshold(threshold, &keys)?;
    let keystore = global.open_keystore()?;
    let pairs = keys.iter().map(|k| keystore.get(k)).collect::<Result<Vec<_>, _>>()?;
    let ipns = pairs[0].ipns_name().to_string();
    let config = Published {
        keys: keys.clone(),
        ipns_key: keys[0].clone(),
        threshold,
        lifetime_secs: lifetime_days * 86_400,
        head: String::new(),
    };
    ctx.local.update_published(|p| p.insert(name.clone(), config))?;
    let new = publish_version(&ctx.store, &ctx.local, &keystore, &name, &BTreeMap::new(), None, ctx.now)?
        .context("a new index always gets a first version")?;
    // The publisher trusts its own keys, so `index show NAME` works here.
    let trusted: Vec<String> = pairs.iter().map(|k| k.ipns_name().to_string()).collect();
    ctx.local.update_trust(|t| {
        t.entry(name.clone()).or_insert(IndexTrust { keys: trusted, threshold, ipns: ipns.clone() });
    })?;
    println!("index {name}: version {} at {}, published at /ipns/{ipns}", new.version.manifest.seq, new.version.root);
    Ok(())
}

/// `index add`: the entries of JSON lines files, in a new version.
pub(super) fn add(global: &Global, ctx: &Ctx, args: AddArgs) -> anyhow::Result<()> {
    let name = args.index.name;
    published(&ctx.local, &name)?;
    let changes = read_entries(&args.files)?;
    let keystore = global.open_keystore()?;
    match publish_version(&ctx.store, &ctx.local, &keystore, &name, &changes, None, ctx.now)? {
        Some(new) => println!(
            "index {name}: version {} at {} ({} new entries)",
            new.version.manifest.seq, new.version.root, new.added
        ),
        None => println!("index {name}: no new entries; the current version is unchanged"),
    }
    Ok(())
}

/// `index rotate`: a version signed by the new key set and the old one.
pub(super) fn rotate(global: &Global, ctx: &Ctx, args: RotateArgs) -> anyhow::Result<()> {
    let RotateArgs { index: IndexName { name }, keys, threshold } = args;
    check_threshold(threshold, &keys)?;
    published(&ctx.local, &name)?;
    let keystore = global.open_keystore()?;
    let rotation = Rotation { keys, threshold };
    let new = publish_version(&ctx.store, &ctx.local, &keystore, &name, &BTreeMap::new(), Some(&rotation), ctx.now)?
        .context("the key set is unchanged; nothing to rotate")?;
    println!("index {name}: version {} at {} is signed by the new key set", new.version.manifest.seq, new.version.root);
    Ok(())
}

/// Entries from JSON lines files, each checked, by lower-case crate name.
fn read_entries(files: &[PathBuf]) -> anyhow::Result<BTreeMap<String, Vec<Entry>>> {
    let mut changes: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let entry: Entry = serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not a valid index entry", file.display(), i + 1))?;
            entry.validate().with_context(|| format!("{}:{}", file.display(), i + 1))?;
            changes.entry(entry.name.to_ascii_lowercase()).or_default().push(entry);
        }
    }
    Ok(changes)
}
