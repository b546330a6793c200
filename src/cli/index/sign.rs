//! `index init|add|rotate`: new signed versions of an index published from
//! this store. The rules (which version to build on, who signs, what is
//! stored) are [`crate::publish`]'s; this parses and prints.

use super::Ctx;
use crate::cli::Global;
use crate::index::entry::Entry;
use crate::publish::{create_index, publish_version, published, refresh_version, NewIndex, Rotation};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The index a subcommand publishes.
#[derive(Debug, clap::Args)]
pub struct IndexName {
    /// The index name.
    #[arg(long)]
    name: String,
}

/// A root key set: its keystore keys and threshold.
#[derive(Debug, clap::Args)]
pub struct RootArgs {
    /// Root keys (repeat for several): kept offline, they alone can change
    /// the keys; they sign the version that names them, so they must be in
    /// the keystore for it (`cargo ipfs key export` them afterwards and
    /// remove them).
    #[arg(long = "root-key", value_name = "KEY")]
    root_keys: Vec<String>,
    /// How many root keys must sign a change of keys.
    #[arg(long, default_value_t = 1, requires = "root_keys")]
    root_threshold: u32,
}

/// `index init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    #[command(flatten)]
    index: IndexName,
    /// Keystore keys that sign the index (repeat for several): the online
    /// keys of the pinning job when `--root-key` is given. A key not in the
    /// keystore is generated.
    #[arg(long = "key", required = true, value_name = "KEY")]
    keys: Vec<String>,
    /// How many keys must sign each version.
    #[arg(long, default_value_t = 1)]
    threshold: u32,
    #[command(flatten)]
    root: RootArgs,
    /// How many days each version stays valid: subscribers refuse it
    /// afterwards, so a mirror or an attacker can hold them on an old
    /// version this long at most. Keep it short and run `index refresh` on
    /// a schedule well inside it.
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    lifetime_days: u64,
    /// The lifetime as a duration (`12h`, `30m`; at least 1s), in place of
    /// `--lifetime-days`.
    #[arg(long, value_name = "D", conflicts_with = "lifetime_days", value_parser = crate::cli::parse_duration)]
    lifetime: Option<Duration>,
    /// A rebuilder's attestation index (`cargo ipfs attest --as NAME`),
    /// not an index of artifacts.
    #[arg(long)]
    attestations: bool,
}

/// `index add`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    #[command(flatten)]
    index: IndexName,
    /// Files of entries.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// `index rotate`.
#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    #[command(flatten)]
    index: IndexName,
    /// The new keystore keys (the online keys): leave a key out to revoke it.
    #[arg(long = "key", required = true, value_name = "KEY")]
    keys: Vec<String>,
    /// The new threshold.
    #[arg(long, default_value_t = 1)]
    threshold: u32,
    /// A new root key set (else the root stays as it is; an index without
    /// one gets it: the migration to root and online keys).
    #[command(flatten)]
    root: RootArgs,
}

/// `index init`: the index in `published.json`, its first (empty) version,
/// and the publisher's trust in its own keys.
pub(super) fn init(global: &Global, ctx: &Ctx, args: InitArgs) -> anyhow::Result<()> {
    let InitArgs { index: IndexName { name }, keys, threshold, root, lifetime_days, lifetime, attestations } = args;
    let lifetime = lifetime
        .map(|d| Duration::from_secs(d.as_secs().max(1)))
        .unwrap_or(Duration::from_secs(lifetime_days * 86_400));
    let mut index = NewIndex::new(&ctx.local, name.clone(), keys.clone(), threshold, lifetime)?;
    if !root.root_keys.is_empty() {
        index = index.with_root(root.root_keys.clone(), root.root_threshold)?;
    }
    if attestations {
        index = index.attestations();
    }
    let keystore = global.open_keystore()?;
    // Keys not in the keystore yet are made; a failed init removes them.
    let held: Vec<String> = keystore.list()?.into_iter().map(|(n, _)| n).collect();
    let mut made: Vec<String> = Vec::new();
    let mut generated = Ok(());
    for key in keys.iter().chain(&root.root_keys) {
        if !held.contains(key) && !made.contains(key) {
            generated = keystore.gen(key).map(|_| made.push(key.clone()));
            if generated.is_err() {
                break;
            }
        }
    }
    let created = generated
        .map_err(anyhow::Error::from)
        .and_then(|()| create_index(&ctx.store, &ctx.local, &keystore, &index, ctx.now));
    match created {
        Ok((new, ipns)) => {
            for key in &made {
                println!("generated key {key}: {}", keystore.get(key)?.ipns_name());
            }
            println!(
                "index {name}: version {} at {}, published at /ipns/{ipns}",
                new.version.manifest.seq, new.version.root
            );
            if !root.root_keys.is_empty() {
                println!(
                    "keep the root keys offline: `cargo ipfs key export NAME -o FILE`, then `cargo ipfs key rm NAME`"
                );
            }
            Ok(())
        }
        Err(e) => {
            for key in &made {
                let _ = keystore.remove(key);
            }
            Err(e)
        }
    }
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

/// `index refresh`: a version with nothing changed but a new expiry.
pub(super) fn refresh(global: &Global, ctx: &Ctx, args: IndexName) -> anyhow::Result<()> {
    let name = args.name;
    published(&ctx.local, &name)?;
    let keystore = global.open_keystore()?;
    let new = refresh_version(&ctx.store, &ctx.local, &keystore, &name, ctx.now)?;
    let until = crate::formats::ipns::rfc3339::format(
        std::time::UNIX_EPOCH + Duration::from_secs(new.version.manifest.expires),
    )
    .unwrap_or_else(|| new.version.manifest.expires.to_string());
    println!("index {name}: version {} at {}, valid until {until}", new.version.manifest.seq, new.version.root);
    Ok(())
}

/// `index rotate`: a version signed by the new key set and the old one.
pub(super) fn rotate(global: &Global, ctx: &Ctx, args: RotateArgs) -> anyhow::Result<()> {
    let RotateArgs { index: IndexName { name }, keys, threshold, root } = args;
    let mut rotation = Rotation::new(keys, threshold)?;
    if !root.root_keys.is_empty() {
        rotation = rotation.with_root(root.root_keys, root.root_threshold)?;
    }
    published(&ctx.local, &name)?;
    let keystore = global.open_keystore()?;
    let new = crate::publish::version::sign_unchanged(
        &ctx.store,
        &ctx.local,
        &keystore,
        &name,
        Some(&rotation),
        ctx.now,
        false,
    )?
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
