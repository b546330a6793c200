//! `cargo ipfs publish --name INDEX`: add what `cargo ipfs build --record`
//! journaled to the index and publish a new signed version.
//!
//! Only crates from crates.io with a checksum are in the journal (the wrapper
//! never journals path, git or private-registry crates), so nothing private
//! is published. The journal is kept: publishing it again changes nothing,
//! and a crash at any moment leaves the previous version published and the
//! journal ready to replay.

use super::index::publish_version;
use super::{Global, Status};
use crate::index::local::Local;
use crate::index::Entry;
use anyhow::Context;
use std::collections::BTreeMap;

/// Arguments of `cargo ipfs publish`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The index to publish to (created with `cargo ipfs index init`).
    #[arg(long)]
    name: String,
    /// Also push the version and its artifacts into this kubo node, pinned,
    /// and hand it the IPNS record.
    #[command(flatten)]
    kubo: super::index::KuboArgs,
}

/// Reads the journal, keeps the entries that may be published, publishes.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    let store = global.open_store()?;
    let store_dir = global.store_dir()?;
    let local = Local::new(&store_dir);
    let published = local.published()?;
    let config = published.get(&args.name).with_context(|| {
        format!("index `{}` is not published from this store; create it with `cargo ipfs index init`", args.name)
    })?;
    let builder = global.open_keystore()?.get(&config.ipns_key)?.ipns_name().to_string();
    let cache = crate::wrapper::cache::Cache::new(&store_dir);
    // A torn line (a crash or a full disk while appending) is skipped, not fatal.
    let (entries, torn) = cache
        .journal_entries()
        .with_context(|| format!("cannot read the journal {}", cache.journal_path().display()))?;
    let mut changes: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    let (mut kept, mut skipped) = (0, torn);
    for mut entry in entries {
        if !entry.source.starts_with("registry+https://github.com/rust-lang/crates.io-index")
            || entry.validate().is_err()
        {
            skipped += 1;
            continue;
        }
        if entry.builder.is_empty() {
            entry.builder = builder.clone();
        }
        // The artifact must be in the store, or subscribers could not fetch it.
        let cid = crate::formats::block::parse_cid(&entry.cid)?;
        if !crate::dag::missing_blocks(&store, &cid)?.is_empty() {
            skipped += 1;
            continue;
        }
        kept += 1;
        changes.entry(entry.name.to_ascii_lowercase()).or_default().push(entry);
    }
    match publish_version(global, &store, &local, &args.name, &changes, None)? {
        Some(new) => println!(
            "index {}: version {} at {} ({} new of {kept} journaled artifacts; {skipped} skipped)",
            args.name, new.version.manifest.seq, new.version.root, new.added
        ),
        None => println!("index {}: nothing new to publish ({kept} journaled artifacts already in it)", args.name),
    }
    if let Some(addr) = &args.kubo.addr {
        // The version the record names now, new or not: a push that failed
        // before is made again by publishing again.
        let name: crate::formats::ipns::IpnsName = builder.parse()?;
        let record = store.records()?.get(&name)?.context("the published IPNS record is missing from the store")?;
        let verified = crate::formats::ipns::verify_record(&name, &record, std::time::SystemTime::now())?;
        let root = crate::formats::block::parse_cid(verified.value().trim_start_matches("/ipfs/"))?;
        let artifacts = changes
            .values()
            .flatten()
            .map(|e| crate::formats::block::parse_cid(&e.cid))
            .collect::<Result<Vec<_>, _>>()?;
        super::index::push_to_kubo(&store, addr, &root, &artifacts, Some((&name, &record)))?;
    }
    Ok(0)
}
