//! `cargo ipfs publish --name INDEX`: add what `cargo ipfs build --record`
//! journaled to the index and publish a new signed version.
//!
//! Only registry crates with a checksum are in the journal (the wrapper never
//! journals path or git crates), and only crates.io's are published: a crate
//! from another registry, private ones included, goes out only when
//! `--allow-registry HOST` names its registry. The journal is kept:
//! publishing it again changes nothing, and a crash at any moment leaves the
//! previous version published and the journal ready to replay. The rules are
//! [`crate::publish`]'s; this parses and prints.

use super::{Global, Status};
use crate::artifact::cache::Cache;
use crate::index::state::IndexState;
use crate::publish::{publish_version, published, push_published, read_journal, AllowedRegistries};
use std::time::SystemTime;

/// Arguments of `cargo ipfs publish`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The index to publish to (created with `cargo ipfs index init`).
    #[arg(long)]
    name: String,
    /// Also publish crates from the registry at HOST (its folder under
    /// `$CARGO_HOME/registry/src/` is `HOST-<hash>`); by default only crates
    /// from crates.io are published, so that no private crate leaves by
    /// accident. `vendored` names the crates compiled from a vendor
    /// directory (`cargo vendor`). Repeatable.
    #[arg(long = "allow-registry", value_name = "HOST")]
    allow_registry: Vec<String>,
    /// Also push the version and its artifacts into this kubo node, pinned,
    /// and hand it the IPNS record.
    #[command(flatten)]
    kubo: super::index::KuboArgs,
}

/// Reads the journal, keeps the entries that may be published, publishes.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    let allowed = AllowedRegistries::new(args.allow_registry)?;
    let store = global.open_store()?;
    let store_dir = global.store_dir()?;
    let local = IndexState::new(&store_dir);
    let config = published(&local, &args.name)?;
    let keystore = global.open_keystore()?;
    let name = keystore.get(&config.ipns_key)?.ipns_name();
    let recorded = read_journal(&store, &Cache::new(&store_dir), &name.to_string(), &allowed)?;
    let (kept, skipped, held_back) = (recorded.kept, recorded.skipped, recorded.held_back);
    if held_back > 0 {
        eprintln!(
            "cargo-ipfs: {held_back} journaled artifact(s) from registries other than crates.io held back; \
             name a registry with --allow-registry HOST to publish its crates"
        );
    }
    match publish_version(&store, &local, &keystore, &args.name, &recorded.changes, None, SystemTime::now())? {
        Some(new) => println!(
            "index {}: version {} at {} ({} new of {kept} journaled artifacts; {skipped} skipped)",
            args.name, new.version.manifest.seq, new.version.root, new.added
        ),
        None => println!("index {}: nothing new to publish ({kept} journaled artifacts already in it)", args.name),
    }
    if let Some(addr) = &args.kubo.addr {
        // The version the record names now, new or not: a push that failed
        // before is made again by publishing again.
        let report = push_published(&store, addr, &name, &recorded.artifacts, SystemTime::now())?;
        super::index::print_push(report)?;
    }
    Ok(0)
}
