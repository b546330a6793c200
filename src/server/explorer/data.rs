//! What the explorer shows, read from the store and verified as the CLI
//! verifies it, but read-only: an index is resolved from its stored IPNS
//! record against the keys trusted here and the newest version seen here
//! (no rollback), and nothing is written (`seen.json` and `trust.json` stay
//! as they are, so a `--read-only` server changes no file). A version that
//! fails verification is never shown as current: its index shows why.
//! Older versions are reached through the signed `prev` links of a
//! verified one, each checked by its CID.
//!
//! What grows with the index (counts, sizes, crate names, the entries a
//! version added) is computed once per root and kept in a bounded cache.

use crate::formats::block::parse_cid;
use crate::formats::ipns::IpnsName;
use crate::index::attest::Tally;
use crate::index::attested::{Attesting, Followed};
use crate::index::manifest::IndexKind;
use crate::index::pins::PinReason;
use crate::index::resolve::{resolve_record, Resolved};
use crate::index::state::{IndexState, IndexTrust};
use crate::index::tree::{all_shards, load_manifest, load_version, lookup_items};
use crate::index::Entry;
use crate::store::{BlockStore, DiskStore};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// A record expiring sooner than this is shown as near expiry.
pub const NEAR_EXPIRY_SECS: u64 = 86_400;
/// Versions shown in a history.
pub const HISTORY_LIMIT: usize = 30;
/// Roots whose facts are cached.
const CACHED_ROOTS: usize = 256;
/// Entries named per version in a history, and search results.
pub const LISTED: usize = 50;

/// What grows with a version: computed once per root.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RootFacts {
    /// Entries in all shards.
    pub entries: u64,
    /// Their artifacts' bytes (packed).
    pub bytes: u64,
    /// The crate names, sorted.
    pub crates: Vec<String>,
}

/// What one version changed from the one before it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Change {
    /// How many entries it added.
    pub added: usize,
    /// The first added, described.
    pub added_first: Vec<String>,
    /// How many it removed.
    pub removed: usize,
    /// The first removed, described.
    pub removed_first: Vec<String>,
}

/// A verified version, as the overview and history show it.
#[derive(Debug, Clone, Serialize)]
pub struct VersionView {
    /// Its sequence number.
    pub seq: u64,
    /// Its root CID (known for the current version; older ones are
    /// reached by their manifest).
    pub root: Option<String>,
    /// Its manifest's CID.
    pub manifest: String,
    /// When it was signed, and until when it is valid (seconds since the epoch).
    pub created: u64,
    /// Until when.
    pub expires: u64,
    /// The keys that signed it (IPNS names).
    pub signers: Vec<String>,
    /// The version before it, when there is one.
    pub prev: Option<String>,
}

/// One index this store trusts.
#[derive(Debug, Clone, Serialize)]
pub struct IndexView {
    /// The name it is trusted under.
    pub name: String,
    /// Its IPNS name.
    pub ipns: String,
    /// Artifacts or attestations.
    pub kind: IndexKind,
    /// The keys trusted here, and how many must sign.
    pub keys: Vec<String>,
    /// How many must sign.
    pub threshold: u32,
    /// Its current version, verified; `None` when refused.
    pub current: Option<VersionView>,
    /// Seconds until the current version expires (negative: past).
    pub expires_in: Option<i64>,
    /// Whether that is within a day.
    pub near_expiry: bool,
    /// Why there is no current version.
    pub refused: Option<String>,
    /// The current version's entries, bytes and crates.
    #[serde(serialize_with = "shared")]
    pub facts: Option<Arc<RootFacts>>,
    /// For a mirror of it: what is held, seen and pinned where.
    pub mirror: Option<MirrorView>,
}

/// A mirror's state for one index.
#[derive(Debug, Clone, Serialize)]
pub struct MirrorView {
    /// The versions this store keeps as a mirror, newest first.
    pub holds: Vec<u64>,
    /// When it last pinned a version (seconds since the epoch).
    pub last_followed: u64,
    /// The newest version seen here (from any source).
    pub newest_seen: Option<u64>,
    /// Each remote pinning service and the version pinned there.
    pub remote: Vec<(String, u64)>,
}

fn shared<S: serde::Serializer>(facts: &Option<Arc<RootFacts>>, s: S) -> Result<S::Ok, S::Error> {
    facts.as_deref().serialize(s)
}

/// The explorer's view of a store.
pub struct Explorer {
    store: DiskStore,
    local: IndexState,
    facts: Mutex<HashMap<String, Arc<RootFacts>>>,
    changes: Mutex<HashMap<String, Arc<Change>>>,
}

impl std::fmt::Debug for Explorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Explorer").field("store", &self.store.root()).finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn describe(e: &Entry) -> String {
    let kind = if e.is_run() { "build-script run".to_string() } else { e.crate_types.join(",") };
    let rustc = e.rustc.split_whitespace().next().unwrap_or("");
    format!("{} {} ({kind}) {} rustc {rustc}", e.name, e.version, e.target)
}

fn cached<T>(
    cache: &Mutex<HashMap<String, Arc<T>>>,
    key: &str,
    make: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<Arc<T>> {
    if let Some(found) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(key) {
        return Ok(found.clone());
    }
    let made = Arc::new(make()?);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= CACHED_ROOTS {
        cache.clear();
    }
    cache.insert(key.to_string(), made.clone());
    Ok(made)
}

impl Explorer {
    /// The explorer of `store`.
    pub fn new(store: DiskStore) -> Self {
        let local = IndexState::new(store.root());
        Explorer { store, local, facts: Mutex::default(), changes: Mutex::default() }
    }

    /// Resolves index `name` read-only: its stored record and version,
    /// verified against the keys trusted here and the newest version seen.
    fn resolve(&self, name: &str, trust: &IndexTrust) -> anyhow::Result<Resolved> {
        let seen = self.local.seen()?;
        let ipns: IpnsName = trust.ipns.parse()?;
        let record = self.store.records()?.get(&ipns)?;
        Ok(resolve_record(&self.store, record.as_deref(), name, trust, seen.get(name), SystemTime::now())?)
    }

    /// The facts of the version whose shards are `shards`, once per root.
    fn facts(&self, root: &str, shards: &cid::Cid) -> anyhow::Result<Arc<RootFacts>> {
        cached(&self.facts, root, || {
            let mut facts = RootFacts::default();
            for (krate, _) in all_shards(&self.store, shards)? {
                let entries: Vec<Entry> = lookup_items(&self.store, shards, &krate).unwrap_or_default();
                facts.entries += entries.len() as u64;
                facts.bytes += entries.iter().map(|e| e.size).sum::<u64>();
                facts.crates.push(krate);
            }
            facts.crates.sort();
            Ok(facts)
        })
    }

    /// Every index trusted here, each verified or refused with the reason.
    pub fn indexes(&self) -> anyhow::Result<Vec<IndexView>> {
        let trust = self.local.trust()?;
        let (pins, seen, remote) = (self.local.pins()?, self.local.seen()?, self.local.remote_pins()?);
        let now = now_secs();
        let mut out = Vec::new();
        for (name, t) in trust.iter() {
            let mut view = IndexView {
                name: name.clone(),
                ipns: t.ipns.clone(),
                kind: t.kind,
                keys: t.keys.clone(),
                threshold: t.threshold,
                current: None,
                expires_in: None,
                near_expiry: false,
                refused: None,
                facts: None,
                mirror: None,
            };
            match self.resolve(name, t) {
                Ok(resolved) => {
                    let v = &resolved.version;
                    let expires = v.manifest.expires;
                    view.expires_in = Some(expires as i64 - now as i64);
                    view.near_expiry = expires < now + NEAR_EXPIRY_SECS;
                    view.facts = Some(self.facts(&v.root.to_string(), &v.shards)?);
                    view.current = Some(version_view(v));
                }
                Err(e) => view.refused = Some(format!("{e:#}")),
            }
            let mirrored = pins.mirrored(name);
            if !mirrored.is_empty() {
                let mut holds: Vec<u64> = mirrored.iter().map(|p| mirror_seq(&p.reason)).collect();
                holds.sort_unstable_by(|a, b| b.cmp(a));
                view.mirror = Some(MirrorView {
                    holds,
                    last_followed: mirrored.iter().map(|p| p.pinned_at).max().unwrap_or(0),
                    newest_seen: seen.get(name).map(|s| s.seq),
                    remote: remote
                        .iter()
                        .filter_map(|(svc, idx)| idx.get(name).map(|s| (svc.clone(), s.seq)))
                        .collect(),
                });
            }
            out.push(view);
        }
        Ok(out)
    }

    /// One index, verified.
    pub fn index(&self, name: &str) -> anyhow::Result<Option<IndexView>> {
        Ok(self.indexes()?.into_iter().find(|v| v.name == name))
    }

    /// The versions of an index through the `prev` links of its verified
    /// current version, newest first, as far as the store holds them (at
    /// most [`HISTORY_LIMIT`]; a link to a version that is not the one
    /// before, of the same index, ends the walk), each with what it
    /// changed from the one before.
    pub fn history(&self, current: &VersionView) -> anyhow::Result<Vec<(VersionView, Option<Arc<Change>>)>> {
        let version = load_version(&self.store, &parse_cid(&current.root.clone().unwrap_or_default())?)?;
        let mut this = Some((current.clone(), version.manifest));
        let mut out = Vec::new();
        while let Some((view, manifest)) = this.take() {
            if out.len() >= HISTORY_LIMIT {
                break;
            }
            let older = match manifest.prev.as_deref().map(parse_cid) {
                Some(Ok(prev)) if self.store.has(&prev).unwrap_or(false) => {
                    load_manifest(&self.store, &prev).ok().map(|m| (prev, m))
                }
                _ => None,
            }
            .filter(|(_, m)| m.index == manifest.index && m.seq + 1 == manifest.seq);
            let change = match &older {
                Some((_, m)) => Some(cached(&self.changes, &view.manifest, || {
                    let (old, new) = (parse_cid(&m.shards)?, parse_cid(&manifest.shards)?);
                    let (added, removed) = crate::index::diff::diff(&self.store, &old, &new)?;
                    Ok(Change {
                        added: added.len(),
                        added_first: added.iter().take(LISTED).map(describe).collect(),
                        removed: removed.len(),
                        removed_first: removed.iter().take(LISTED).map(describe).collect(),
                    })
                })?),
                None => None,
            };
            out.push((view, change));
            this = older.map(|(cid, m)| (manifest_view(None, cid.to_string(), &m), m));
        }
        Ok(out)
    }

    /// The entries of crate `krate` in the verified current version of
    /// `index`, each as `index show --crate --json` prints it: with what
    /// the rebuilders trusted here attest of it.
    pub fn crate_entries(&self, index: &IndexView, krate: &str) -> anyhow::Result<Vec<serde_json::Value>> {
        let Some(current) = &index.current else { return Ok(Vec::new()) };
        let version = load_version(&self.store, &parse_cid(current.root.as_deref().unwrap_or_default())?)?;
        let entries: Vec<Entry> = lookup_items(&self.store, &version.shards, krate)?;
        let attesting = Attesting {
            require: 0,
            index: index.name.clone(),
            ipns: index.ipns.clone(),
            publisher_keys: version.manifest.keys.iter().chain(&version.manifest.root_keys).cloned().collect(),
            rebuilders: self.rebuilders()?,
        };
        let tallies = if attesting.rebuilders.is_empty() {
            vec![Tally::default(); entries.len()]
        } else {
            attesting.tally_all(&self.store, krate, &entries)?
        };
        Ok(entries.iter().zip(&tallies).map(|(e, t)| crate::index::attested::with_attestations(e, t)).collect())
    }

    /// Each rebuilder trusted here, resolved read-only, or why it was refused.
    fn rebuilders(&self) -> anyhow::Result<Vec<Followed>> {
        let trust = self.local.trust()?;
        let mut out = Vec::new();
        for (name, t) in trust.iter().filter(|(_, t)| t.kind == IndexKind::Attestations) {
            out.push(match self.resolve(name, t) {
                Ok(r) => Followed::verified(name, &r.version.manifest.keys, &r.version.shards),
                Err(e) => Followed::refused(name, t, format!("{e:#}")),
            });
        }
        Ok(out)
    }

    /// Crate names containing `query` (case folded) in the verified
    /// artifact indexes: `(index, crate)`, at most [`LISTED`].
    pub fn search(&self, query: &str) -> anyhow::Result<Vec<(String, String)>> {
        let query = query.trim().to_lowercase();
        let mut out = Vec::new();
        if query.is_empty() {
            return Ok(out);
        }
        for index in self.indexes()?.into_iter().filter(|i| i.kind == IndexKind::Artifacts) {
            for krate in index.facts.iter().flat_map(|f| f.crates.iter()) {
                if krate.to_lowercase().contains(&query) && out.len() < LISTED {
                    out.push((index.name.clone(), krate.clone()));
                }
            }
        }
        Ok(out)
    }
}

fn mirror_seq(reason: &PinReason) -> u64 {
    match reason {
        PinReason::Mirror { seq, .. } => *seq,
        _ => 0,
    }
}

fn version_view(v: &crate::index::tree::IndexVersion) -> VersionView {
    manifest_view(Some(v.root.to_string()), v.manifest_cid.to_string(), &v.manifest)
}

fn manifest_view(root: Option<String>, manifest: String, m: &crate::index::manifest::Manifest) -> VersionView {
    VersionView {
        seq: m.seq,
        root,
        manifest,
        created: m.created,
        expires: m.expires,
        signers: m.signatures.iter().map(|s| s.key.clone()).collect(),
        prev: m.prev.clone(),
    }
}
