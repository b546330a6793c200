//! The first step of a fetch: the configured sources, the trusted index's
//! newest version (record, signatures, sequence, expiry, key rotations),
//! the compiler's identity and the lockfile's packages. The identity and
//! the lockfile's place are found on their own threads while the index
//! resolves.

use super::{lockfile, FetchOptions};
use crate::formats::ipns::IpnsName;
use crate::index::attested::{chosen_rebuilders, Attesting, Followed};
use crate::index::manifest::IndexKind;
use crate::index::resolve::resolve_record;
use crate::index::state::{IndexState, TrustFile};
use crate::index::IndexVersion;
use crate::sources::{config, Sources};
use crate::store::{BlockStore, DiskStore, Layered};
use anyhow::Context;
use cid::Cid;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// What the fetch works from once the index is resolved.
pub(super) struct Resolved {
    /// The local store.
    pub store: DiskStore,
    /// The local store in front of the sources; `None` offline.
    pub layered: Option<Layered<DiskStore, Sources>>,
    /// The index's name.
    pub index: String,
    /// Its version's sequence number.
    pub version: u64,
    /// When that version expires (seconds since the Unix epoch).
    pub expires: u64,
    /// The shards directory of that version.
    pub shards: Cid,
    /// The compiler, as entries name it (`release commit-hash`).
    pub rustc: String,
    /// The target triple.
    pub target: String,
    /// The host triple: build scripts run on it.
    pub host: String,
    /// The lockfile's packages.
    pub packages: Vec<lockfile::LockedPackage>,
    /// What a build after the fetch hands down to its wrappers; `None` offline.
    pub hand_down: Option<super::HandDown>,
    /// The policy of required attestations; `None` when nothing is required.
    pub attesting: Option<Attesting>,
}

impl Resolved {
    /// Reads through the local store, and through the sources when online.
    pub fn reader(&self) -> &dyn BlockStore {
        match &self.layered {
            Some(layered) => layered,
            None => &self.store,
        }
    }

    /// The sources, when online.
    pub fn sources(&self) -> Option<&Sources> {
        self.layered.as_ref().map(Layered::remote)
    }
}

/// The trusted index's newest version, verified, and where it was read.
pub struct IndexHead {
    /// The local store.
    pub store: DiskStore,
    /// The local store in front of the sources; `None` offline.
    pub layered: Option<Layered<DiskStore, Sources>>,
    /// The settings in force (the index, the sources).
    pub settings: config::Settings,
    /// The version: its root, shards directory and manifest.
    pub version: IndexVersion,
}

/// Resolves the index the settings name: its IPNS record from the
/// sources (unless `offline`; a failure falls back to the stored one), then
/// every subscriber check against the trusted keys and the last version
/// seen, which is recorded; a signed key rotation updates the trust.
pub fn resolve_index(
    store_dir: &Path,
    trust_file: &TrustFile,
    settings: config::Settings,
    offline: bool,
    timeout: Option<Duration>,
    now: SystemTime,
) -> anyhow::Result<IndexHead> {
    let store = DiskStore::open(store_dir)?;
    let local = IndexState::new(store_dir);
    let index = settings.index.as_str();
    let trust = trust_file.get(index).with_context(|| {
        format!("index `{index}` is not trusted here; add it with `cargo ipfs trust add {index} KEY...`")
    })?;
    let name: IpnsName = trust.ipns.parse()?;
    // A new command tries every gateway again, even one an earlier build
    // found failing; the wrappers of this one then share what it finds.
    crate::store::gateway::forget_all(store_dir);
    let sources = if offline {
        None
    } else {
        Sources::open(&settings.gateways, settings.kubo.as_deref(), timeout, Some(store_dir))?
    };
    if let Some(sources) = &sources {
        match sources.get_record(&name) {
            Ok(bytes) => {
                store.records()?.put(&name, &bytes, now)?;
            }
            Err(e) => {
                eprintln!("cargo-ipfs: cannot fetch the IPNS record of index {index} ({e}); using the local copy")
            }
        }
    }
    let record = store.records()?.get(&name)?;
    let layered = sources.map(|sources| Layered::new(store.clone(), sources));
    let reader: &dyn BlockStore = match &layered {
        Some(layered) => layered,
        None => &store,
    };
    let seen = local.seen()?;
    let resolved = resolve_record(reader, record.as_deref(), index, trust, seen.get(index), now)?;
    crate::index::resolve::accept(&local, index, &resolved)?;
    Ok(IndexHead { store, layered, settings, version: resolved.version })
}

/// The attestations the settings' policy requires of the entries of
/// `head`'s index, ready to count: each chosen rebuilder's attestation
/// index resolved and verified like any index (record, signatures, key
/// rotations, no rollback, not expired). A rebuilder whose index is
/// refused is said so once and counts for no entry. `None` when the policy
/// requires nothing.
pub fn attesting(
    store_dir: &Path,
    trust_file: &TrustFile,
    head: &IndexHead,
    offline: bool,
    timeout: Option<Duration>,
    now: SystemTime,
) -> anyhow::Result<Option<Attesting>> {
    let policy = &head.settings.policy;
    if policy.require == 0 {
        return Ok(None);
    }
    let index = &head.settings.index;
    let chosen = chosen_rebuilders(trust_file, &policy.rebuilders, policy.require)?;
    let mut rebuilders = Vec::new();
    for (name, trust) in chosen {
        let settings = config::Settings { index: name.clone(), ..head.settings.clone() };
        rebuilders.push(match resolve_index(store_dir, trust_file, settings, offline, timeout, now) {
            Ok(h) => Followed {
                name,
                keys: h.version.manifest.keys.clone(),
                shards: Some(h.version.shards.to_string()),
                refused: None,
            },
            Err(e) => {
                let why = crate::report::Chain(&e).to_string();
                eprintln!("cargo-ipfs: rebuilder {name}: {why}; its attestations do not count");
                Followed { name, keys: trust.keys, shards: None, refused: Some(why) }
            }
        });
    }
    let m = &head.version.manifest;
    let ipns = trust_file.get(index).map(|t| t.ipns.clone()).unwrap_or_default();
    Ok(Some(Attesting {
        require: policy.require,
        index: index.clone(),
        ipns,
        publisher_keys: m.keys.iter().chain(&m.root_keys).cloned().collect(),
        rebuilders,
    }))
}

/// The settings in force for a fetch into `store_dir`: `flags`, then the
/// environment, then `<store>/config.json`, then the only index of
/// `trust_file` (the store's `trust.json`).
pub fn settings(store_dir: &Path, trust_file: &TrustFile, flags: config::Flags) -> anyhow::Result<config::Settings> {
    // A rebuilder's attestation index is never the index fetched from.
    let trusted: Vec<String> =
        trust_file.iter().filter(|(_, t)| t.kind == IndexKind::Artifacts).map(|(n, _)| n.clone()).collect();
    config::settings(flags, |k| std::env::var(k).ok(), &config::read_config(store_dir)?, &trusted)
}

/// Resolves the index and reads the lockfile for a fetch into `store_dir`.
pub(super) fn resolve(store_dir: &Path, opts: &FetchOptions, now: SystemTime) -> anyhow::Result<Resolved> {
    // While the index resolves: the compiler's identity (a rustc run on
    // first use)...
    let identity_dir = store_dir.join("wrapper").join("identity");
    // ... of the rustc a build here runs (run here, as cargo would run it,
    // so that rustup picks the same toolchain)...
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let cargo_home = home::cargo_home().ok();
    let rustc = super::rustc::rustc_program(&cwd, cargo_home.as_deref(), |name| std::env::var_os(name))?;
    let identity = std::thread::spawn(move || {
        crate::toolchain::rustc_identity(&identity_dir, &rustc)
            .with_context(|| format!("cannot identify the compiler {}", rustc.display()))
    });
    // And where the lockfile is (cargo answers that).
    let manifest_path = opts.manifest_path.clone();
    let lock_path = std::thread::spawn(move || lockfile::find(manifest_path.as_deref()));
    let flags = opts.flags();
    let trust_file = IndexState::new(store_dir).trust()?;
    let settings = settings(store_dir, &trust_file, flags)?;
    let head = resolve_index(store_dir, &trust_file, settings, opts.offline, opts.timeout, now)?;
    let attesting = attesting(store_dir, &trust_file, &head, opts.offline, opts.timeout, now)?;

    let identity = identity.join().map_err(|_| anyhow::anyhow!("the rustc identity thread panicked"))??;
    let lock_path = lock_path.join().map_err(|_| anyhow::anyhow!("the lockfile thread panicked"))??;
    let text = std::fs::read_to_string(&lock_path).with_context(|| format!("cannot read {}", lock_path.display()))?;
    let packages = lockfile::parse(&text)?;
    let target = opts.target.clone().unwrap_or_else(|| identity.host.clone());
    let hand_down = head.layered.as_ref().map(|_| super::HandDown {
        shards: head.version.shards.to_string(),
        gateways: head.settings.gateways.clone(),
        kubo: head.settings.kubo.clone(),
        attesting: attesting.clone(),
    });
    Ok(Resolved {
        hand_down,
        attesting,
        index: head.settings.index,
        version: head.version.manifest.seq,
        expires: head.version.manifest.expires,
        shards: head.version.shards,
        rustc: identity.short(),
        target,
        host: identity.host.clone(),
        packages,
        store: head.store,
        layered: head.layered,
    })
}

#[cfg(test)]
#[path = "attesting_tests.rs"]
mod attesting_tests;
