//! What the wrapper journaled that may be published.
//!
//! Only registry crates with a checksum are in the journal (the wrapper
//! never journals path or git crates), and only crates.io's are published:
//! a crate from another registry, private ones included, goes out only when
//! [`AllowedRegistries`] names its registry. The journal is kept:
//! publishing it again changes nothing, and a crash at any moment leaves the
//! previous version published and the journal ready to replay.

use crate::artifact::cache::Cache;
use crate::formats::block::parse_cid;
use crate::index::entry::{CRATES_IO_SOURCE, VENDORED_SOURCE};
use crate::index::Entry;
use crate::store::BlockStore;
use anyhow::Context;
use cid::Cid;
use std::collections::BTreeMap;

/// The registries besides crates.io whose crates may be published, by host
/// (the registry's folder under `$CARGO_HOME/registry/src/` is
/// `HOST-<hash>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedRegistries {
    hosts: Vec<String>,
}

impl AllowedRegistries {
    /// The registries at `hosts`. A value that is not a host name (a URL,
    /// say) is refused: it would match nothing and hold back what the user
    /// meant to publish.
    pub fn new(hosts: Vec<String>) -> anyhow::Result<Self> {
        check_hosts(&hosts)?;
        Ok(AllowedRegistries { hosts })
    }

    /// Whether an entry from `source` may be published.
    pub fn allows(&self, source: &str) -> bool {
        publishable(source, &self.hosts)
    }
}

/// Whether an entry from `source` may be published: crates.io's, or a
/// registry whose host `allowed` names (`registry+local:HOST-<hex>`, as the
/// wrapper records it), or vendored crates when `allowed` names `vendored`.
/// Path and git crates never.
fn publishable(source: &str, allowed: &[String]) -> bool {
    if source == CRATES_IO_SOURCE {
        return true;
    }
    if source == VENDORED_SOURCE {
        return allowed.iter().any(|a| a == VENDORED_SOURCE);
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

/// What the journal holds, sorted into what may be published and what not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The entries to publish, by lower-case crate name.
    pub changes: BTreeMap<String, Vec<Entry>>,
    /// Their artifacts, in journal order.
    pub artifacts: Vec<Cid>,
    /// How many entries `changes` holds.
    pub kept: usize,
    /// Lines left out: torn or invalid, or an artifact not wholly in the
    /// store (subscribers could not fetch it).
    pub skipped: usize,
    /// Entries held back because their registry is not allowed.
    pub held_back: usize,
}

/// Reads `cache`'s journal and keeps the entries that may be published from
/// registries `allowed`, whose artifacts `store` holds whole. An entry with
/// no builder gets `builder` (the IPNS name of the index it goes into). A
/// torn line (a crash or a full disk while appending) is skipped, not fatal.
pub fn read_journal(
    store: &dyn BlockStore,
    cache: &Cache,
    builder: &str,
    allowed: &AllowedRegistries,
) -> anyhow::Result<Recorded> {
    let (entries, torn) = cache
        .journal_entries()
        .with_context(|| format!("cannot read the journal {}", cache.journal_path().display()))?;
    let mut recorded = Recorded { skipped: torn, ..Recorded::default() };
    for mut entry in entries {
        if entry.validate().is_err() {
            recorded.skipped += 1;
            continue;
        }
        if !allowed.allows(&entry.source) {
            recorded.held_back += 1;
            continue;
        }
        if entry.builder.is_empty() {
            entry.builder = builder.to_string();
        }
        // The artifact must be in the store, or subscribers could not fetch it.
        let cid = parse_cid(&entry.cid)?;
        if !crate::store::dag::missing_blocks(store, &cid)?.is_empty() {
            recorded.skipped += 1;
            continue;
        }
        recorded.kept += 1;
        recorded.artifacts.push(cid);
        recorded.changes.entry(entry.name.to_ascii_lowercase()).or_default().push(entry);
    }
    Ok(recorded)
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
        // Vendored crates, only when named.
        assert!(!publishable(VENDORED_SOURCE, &allowed));
        assert!(publishable(VENDORED_SOURCE, &["vendored".to_string()]));
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
