//! One round of mirroring a trusted index into the local store.
//!
//! A round resolves the index's IPNS record from the sources and verifies
//! the version it names exactly as a subscriber does (signatures against
//! the trusted keys, key rotations, no rollback, not expired). Then, for
//! every version since the last one mirrored (found by walking the signed
//! `prev` links, so that a mirror that was down catches up on each
//! version it missed), oldest first, it brings the version's tree and every
//! artifact the version added into the store, each block verified against
//! its CID, and pins the version (`pins.json`) once all of it is here. The
//! record goes into the store last, after its version is whole: a server
//! on this store never hands out a record whose version it cannot serve,
//! nor one this round did not verify.
//!
//! What is already here is never fetched again: a version's tree is read
//! locally where present, and an artifact is skipped when its whole DAG
//! is local. A round killed at any point leaves the pins of the versions
//! finished; the next round starts after them and finds the blocks
//! already stored.

use crate::artifact::cache::Cache;
use crate::artifact::download::Downloader;
use crate::formats::block::parse_cid;
use crate::formats::ipns::IpnsName;
use crate::index::manifest::IndexKind;
use crate::index::resolve::{resolve_record, MAX_CATCH_UP};
use crate::index::state::IndexState;
use crate::index::tree::{all_shards, load_manifest, lookup, read_version};
use crate::index::Entry;
use crate::sources::Sources;
use crate::store::dag::{missing_blocks, walk};
use crate::store::{BlockStore, DiskStore, Layered};
use anyhow::Context;
use cid::Cid;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A mirror of one index into one store.
pub struct Mirror {
    store_dir: PathBuf,
    store: DiskStore,
    layered: Layered<DiskStore, Sources>,
    local: IndexState,
    index: String,
    keep: usize,
    jobs: usize,
}

/// One version a round brought in whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirroredVersion {
    /// Its sequence number.
    pub seq: u64,
    /// The CID pinned for it: the root of the newest version, the manifest
    /// of one reached through `prev` links.
    pub pinned: String,
    /// Artifacts fetched for it.
    pub fetched: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Artifacts it added that were here already.
    pub present: usize,
}

/// What a round did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Round {
    /// The index.
    pub index: String,
    /// The newest version, verified.
    pub head: u64,
    /// The versions brought in, oldest first; empty when the newest was
    /// mirrored already.
    pub versions: Vec<MirroredVersion>,
    /// Mirrored versions no longer kept (beyond `--keep-versions`).
    pub unpinned: Vec<String>,
}

/// One version to bring in.
struct Todo {
    seq: u64,
    pinned: Cid,
    tree: Vec<Cid>,
    shards: Cid,
}

fn unix(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Mirror {
    /// A mirror of `index` into the store at `store_dir`, reading from
    /// `sources`, keeping the `keep` newest versions pinned, fetching with
    /// `jobs` workers.
    pub fn new(store_dir: &Path, sources: Sources, index: &str, keep: usize, jobs: usize) -> anyhow::Result<Self> {
        let store = DiskStore::open(store_dir)?;
        Ok(Mirror {
            store_dir: store_dir.to_path_buf(),
            layered: Layered::new(store.clone(), sources),
            store,
            local: IndexState::new(store_dir),
            index: index.to_string(),
            keep: keep.max(1),
            jobs: jobs.clamp(1, 64),
        })
    }

    /// Runs one round at `now`.
    pub fn round(&self, now: SystemTime) -> anyhow::Result<Round> {
        let index = self.index.as_str();
        let trust_file = self.local.trust()?;
        let trust = trust_file.get(index).with_context(|| {
            format!("index `{index}` is not trusted here; a mirror serves only what it verified: add the publisher's keys with `cargo ipfs trust add {index} KEY...`")
        })?;
        let name: IpnsName = trust.ipns.parse()?;
        let record = self
            .layered
            .remote()
            .get_record(&name)
            .with_context(|| format!("cannot fetch the IPNS record of index `{index}` ({name})"))?;
        let seen = self.local.seen()?;
        let resolved = resolve_record(&self.layered, Some(&record), index, trust, seen.get(index), now)?;
        let head = &resolved.version;
        let pins = self.local.pins()?;
        let last = pins.mirrored(index).first().map(|p| (p.cid.clone(), p.mirror_seq()));
        let mut round =
            Round { index: index.to_string(), head: head.manifest.seq, versions: Vec::new(), unpinned: Vec::new() };
        if last.as_ref().is_some_and(|(_, seq)| *seq >= head.manifest.seq) {
            self.publish_record(&name, &record, now)?;
            return Ok(round);
        }
        let todo = self.versions_since(head, last.as_ref().map(|(_, seq)| *seq))?;
        let mut previous = match &last {
            Some((cid, _)) => Some(self.shards_of(&parse_cid(cid)?)?),
            None => None,
        };
        for version in todo.into_iter().rev() {
            let done = self.bring_in(&version, previous.as_ref(), head.manifest.kind)?;
            let unpinned = self.local.update_pins(|pins| {
                pins.mirror(index, version.seq, &version.pinned.to_string(), self.keep, unix(now))
            })?;
            crate::failpoint::hit("mirror.version-pinned");
            round.unpinned.extend(unpinned);
            round.versions.push(done);
            previous = Some(version.shards);
        }
        crate::index::resolve::accept(&self.local, index, &resolved)?;
        self.publish_record(&name, &record, now)?;
        Ok(round)
    }

    /// Stores the record, for `serve` to hand out.
    fn publish_record(&self, name: &IpnsName, record: &[u8], now: SystemTime) -> anyhow::Result<()> {
        self.store.records()?.put(name, record, now)?;
        Ok(())
    }

    /// The versions to bring in, newest first: the head, and every version
    /// after `last` reached through `prev` links (on a first round, the
    /// `keep` newest). Older manifests on the way are fetched too, so that
    /// a subscriber that saw an older version can check the key history
    /// through this mirror alone.
    fn versions_since(&self, head: &crate::index::IndexVersion, last: Option<u64>) -> anyhow::Result<Vec<Todo>> {
        let mut todo =
            vec![Todo { seq: head.manifest.seq, pinned: head.root, tree: vec![head.root], shards: head.shards }];
        let mut current = head.manifest.clone();
        for _ in 0..MAX_CATCH_UP {
            if last.is_some_and(|l| current.seq <= l + 1) {
                break;
            }
            let Some(prev) = current.prev.as_deref().and_then(|p| parse_cid(p).ok()) else { break };
            let older = match load_manifest(&self.layered, &prev) {
                Ok(m) if m.index == current.index && m.kind == current.kind && m.seq < current.seq => m,
                Ok(_) => break,
                Err(e) if last.is_some() => {
                    return Err(anyhow::Error::new(e).context(format!(
                        "cannot catch up on index `{}`: version {} links a previous version that no source sends",
                        self.index, current.seq
                    )))
                }
                // On a first round, the history is a courtesy to subscribers.
                Err(_) => break,
            };
            let wanted = match last {
                Some(l) => older.seq > l,
                None => todo.len() < self.keep,
            };
            if wanted {
                let shards = parse_cid(&older.shards)?;
                todo.push(Todo { seq: older.seq, pinned: prev, tree: vec![prev, shards], shards });
            }
            current = older;
        }
        Ok(todo)
    }

    /// The shards directory of a mirrored version pinned at `cid` (a root
    /// or a manifest), from the local store.
    fn shards_of(&self, cid: &Cid) -> anyhow::Result<Cid> {
        match read_version(&self.store, cid) {
            Ok(version) => Ok(version.shards),
            Err(_) => Ok(parse_cid(&load_manifest(&self.store, cid)?.shards)?),
        }
    }

    /// Brings one version's tree and the artifacts it added since
    /// `previous` (the shards of the version before it) into the store.
    fn bring_in(&self, version: &Todo, previous: Option<&Cid>, kind: IndexKind) -> anyhow::Result<MirroredVersion> {
        for root in &version.tree {
            self.tree(root)
                .with_context(|| format!("cannot mirror version {} of index `{}`", version.seq, self.index))?;
        }
        let added: Vec<Entry> = match (kind, previous) {
            // An attestation index names no artifacts: its tree is all of it.
            (IndexKind::Attestations, _) => Vec::new(),
            (IndexKind::Artifacts, Some(previous)) => {
                crate::index::diff::diff(&self.store, previous, &version.shards)?.0
            }
            (IndexKind::Artifacts, None) => {
                let mut entries = Vec::new();
                for (krate, _) in all_shards(&self.store, &version.shards)? {
                    entries.extend(lookup(&self.store, &version.shards, &krate)?);
                }
                entries
            }
        };
        let (fetched, bytes, present) = self.artifacts(&added).with_context(|| {
            format!("cannot mirror version {} of index `{}`; the next round goes on from here", version.seq, self.index)
        })?;
        Ok(MirroredVersion { seq: version.seq, pinned: version.pinned.to_string(), fetched, bytes, present })
    }

    /// The DAG under `root` into the store: one stream from the sources
    /// when something is missing, then block by block for the rest.
    fn tree(&self, root: &Cid) -> anyhow::Result<()> {
        if missing_blocks(&self.store, root)?.is_empty() {
            return Ok(());
        }
        if let Ok(blocks) = self.layered.remote().get_tree(root) {
            for block in blocks {
                let Ok(block) = block else { break };
                self.store.put(&block)?;
            }
        }
        walk(&self.layered, root, &mut |_| Ok(()))?;
        Ok(())
    }

    /// Every artifact of `entries` whose DAG is not whole here, fetched by
    /// `jobs` workers: how many were fetched, their bytes, and how many
    /// were here already. Fails, naming the first, when any cannot be
    /// fetched whole.
    fn artifacts(&self, entries: &[Entry]) -> anyhow::Result<(usize, u64, usize)> {
        let cache = Cache::new(&self.store_dir);
        let downloader = Downloader {
            store: &self.store,
            reader: &self.layered,
            sources: Some(self.layered.remote()),
            cache: &cache,
        };
        let next = AtomicUsize::new(0);
        let outcome = Mutex::new((0usize, 0u64, 0usize, Vec::<String>::new()));
        std::thread::scope(|s| {
            for _ in 0..self.jobs.min(entries.len().max(1)) {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(entry) = entries.get(i) else { return };
                    let result = self.artifact(&downloader, entry);
                    let mut o = outcome.lock().expect("outcome");
                    match result {
                        Ok(true) => (o.0, o.1) = (o.0 + 1, o.1 + entry.size),
                        Ok(false) => o.2 += 1,
                        Err(e) => o.3.push(format!(
                            "{} {} ({}): {}",
                            entry.name,
                            entry.version,
                            entry.cid,
                            crate::report::Chain(&e)
                        )),
                    }
                });
            }
        });
        let (fetched, bytes, present, failed) = outcome.into_inner().expect("outcome");
        if let Some(first) = failed.first() {
            anyhow::bail!(
                "{} of {} artifacts could not be fetched whole, the first: {first}",
                failed.len(),
                entries.len()
            );
        }
        Ok((fetched, bytes, present))
    }

    /// One artifact: true when fetched, false when it was whole here.
    fn artifact(&self, downloader: &Downloader<'_>, entry: &Entry) -> anyhow::Result<bool> {
        let cid = parse_cid(&entry.cid)?;
        if missing_blocks(&self.store, &cid)?.is_empty() {
            return Ok(false);
        }
        downloader.download(entry, Instant::now())?;
        anyhow::ensure!(missing_blocks(&self.store, &cid)?.is_empty(), "artifact {cid} did not reach the store whole");
        Ok(true)
    }
}
