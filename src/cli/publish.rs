//! `cargo ipfs publish --name INDEX`: add what `cargo ipfs build --record`
//! journaled to the index and publish a new signed version.
//!
//! Only registry crates with a checksum are in the journal (the wrapper never
//! journals path or git crates), and only crates.io's are published: a crate
//! from another registry, private ones included, goes out only when
//! `--allow-registry HOST` names its registry. The journal is kept:
//! publishing it again changes nothing, and a crash at any moment leaves the
//! previous version published and the journal ready to replay.

use super::index::publish_version;
use super::{Global, Status};
use crate::index::entry::CRATES_IO_SOURCE;
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
    /// Also publish crates from the registry at HOST (its folder under
    /// `$CARGO_HOME/registry/src/` is `HOST-<hash>`); by default only crates
    /// from crates.io are published, so that no private crate leaves by
    /// accident. Repeatable.
    #[arg(long = "allow-registry", value_name = "HOST")]
    allow_registry: Vec<String>,
    /// Also push the version and its artifacts into this kubo node, pinned,
    /// and hand it the IPNS record.
    #[command(flatten)]
    kubo: super::index::KuboArgs,
}

/// Whether an entry from `source` may be published: crates.io's, or a
/// registry whose host `allowed` names (`registry+local:HOST-<hex>`, as the
/// wrapper records it). Path and git crates never.
fn publishable(source: &str, allowed: &[String]) -> bool {
    if source == CRATES_IO_SOURCE {
        return true;
    }
    let Some(dir) = source.strip_prefix("registry+local:") else { return false };
    let Some((host, hash)) = dir.rsplit_once('-') else { return false };
    !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_hexdigit()) && allowed.iter().any(|a| a == host)
}

/// Refuses an `--allow-registry` value that is not a host name (a URL, say),
/// which would match nothing and hold back what the user meant to publish.
fn check_hosts(allowed: &[String]) -> anyhow::Result<()> {
    for host in allowed {
        let valid = !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
        anyhow::ensure!(
            valid,
            "--allow-registry {host:?} is not a host name; give the registry's host as in its folder \
             $CARGO_HOME/registry/src/HOST-<hash>, for example `--allow-registry registry.example.com`"
        );
    }
    Ok(())
}

/// Reads the journal, keeps the entries that may be published, publishes.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    check_hosts(&args.allow_registry)?;
    let store = global.open_store()?;
    let store_dir = global.store_dir()?;
    let local = Local::new(&store_dir);
    let published = local.published()?;
    let config = published.get(&args.name).with_context(|| {
        format!("index `{}` is not published from this store; create it with `cargo ipfs index init`", args.name)
    })?;
    let builder = global.open_keystore()?.get(&config.ipns_key)?.ipns_name().to_string();
    let cache = crate::artifact::cache::Cache::new(&store_dir);
    // A torn line (a crash or a full disk while appending) is skipped, not fatal.
    let (entries, torn) = cache
        .journal_entries()
        .with_context(|| format!("cannot read the journal {}", cache.journal_path().display()))?;
    let mut changes: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    let (mut kept, mut skipped, mut held_back) = (0, torn, 0);
    for mut entry in entries {
        if entry.validate().is_err() {
            skipped += 1;
            continue;
        }
        if !publishable(&entry.source, &args.allow_registry) {
            held_back += 1;
            continue;
        }
        if entry.builder.is_empty() {
            entry.builder = builder.clone();
        }
        // The artifact must be in the store, or subscribers could not fetch it.
        let cid = crate::formats::block::parse_cid(&entry.cid)?;
        if !crate::store::dag::missing_blocks(&store, &cid)?.is_empty() {
            skipped += 1;
            continue;
        }
        kept += 1;
        changes.entry(entry.name.to_ascii_lowercase()).or_default().push(entry);
    }
    if held_back > 0 {
        eprintln!(
            "cargo-ipfs: {held_back} journaled artifact(s) from registries other than crates.io held back; \
             name a registry with --allow-registry HOST to publish its crates"
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_crates_io_and_named_registries_are_publishable() {
        let allowed = vec!["registry.example.com".to_string()];
        assert!(publishable(CRATES_IO_SOURCE, &[]));
        assert!(publishable("registry+local:registry.example.com-0123456789abcdef", &allowed));
        assert!(!publishable("registry+local:registry.example.com-0123456789abcdef", &[]));
        assert!(!publishable("registry+local:other.example.com-0123456789abcdef", &allowed));
        // The host must be the whole name before the hash.
        assert!(!publishable("registry+local:evil-registry.example.com-0123456789abcdef", &allowed));
        assert!(!publishable("registry+local:registry.example.com", &allowed));
        assert!(!publishable("local:/home/me/project", &allowed));
        assert!(!publishable("registry+https://github.com/rust-lang/crates.io-index.evil", &[]));
    }

    #[test]
    fn a_registry_named_by_url_is_refused_with_what_to_give() {
        assert!(check_hosts(&["registry.example.com".into(), "my-registry_2".into()]).is_ok());
        for bad in ["https://registry.example.com/", "registry.example.com:443", "", "a/b"] {
            let e = check_hosts(&[bad.to_string()]).unwrap_err().to_string();
            assert!(e.contains("is not a host name") && e.contains("registry/src/HOST-<hash>"), "{e}");
        }
    }
}
