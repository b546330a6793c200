//! `cargo ipfs fetch`: before compilation, resolve the trusted index, find the
//! artifacts built for the packages of `Cargo.lock` with this compiler and
//! target, download them in parallel, verify them, and file them where the
//! rustc wrapper looks, so that those compilations become hits.
//!
//! Every step verifies: the IPNS record and the index (see
//! [`crate::index::resolve`]), every block against its CID, every artifact
//! against the sha256 its signed entry names. A failure is reported and the
//! build compiles what is missing.

//!
//! The steps: resolve the index and read the lockfile ([`resolve`]);
//! schedule lookups and downloads on parallel workers (`schedule.rs`,
//! `lookup.rs`); then check, unpack and file each artifact downloaded
//! ([`crate::artifact::download`]) on every core. A `Pass` holds what the
//! steps share.

pub mod lockfile;
mod lookup;
pub mod packaged;
pub mod resolve;
mod rustc;
mod schedule;
pub mod subscribed;

use crate::artifact::cache::Cache;
use crate::artifact::download::Downloader;
use crate::artifact::runs::Runs;
use crate::index::Entry;
use crate::report::Chain;
use anyhow::Context;
use resolve::Resolved;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// What to fetch, and from where.
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// The index (else `CARGO_IPFS_INDEX`, the config file, the only trusted one).
    pub index: Option<String>,
    /// Gateways (else `CARGO_IPFS_GATEWAYS`, the config file); none, and no
    /// kubo node: local only.
    pub gateways: Vec<String>,
    /// A kubo node's RPC API to read through instead of gateways (else
    /// `CARGO_IPFS_KUBO`, the config file).
    pub kubo: Option<String>,
    /// The project's manifest (else the current directory's workspace).
    pub manifest_path: Option<PathBuf>,
    /// The target triple (else the host's).
    pub target: Option<String>,
    /// Parallel downloads.
    pub jobs: usize,
    /// Use the local store only.
    pub offline: bool,
    /// Per-request timeout.
    pub timeout: Option<Duration>,
    /// `--rebuilder`: the trusted rebuilders whose attestations count.
    pub rebuilders: Vec<String>,
    /// `--require-attestations`.
    pub require_attestations: Option<u32>,
    /// Entry keys already matched in an index looked up before this one
    /// ([`subscribed`]): their entries here are passed over.
    pub skip_keys: std::collections::BTreeSet<String>,
}

impl FetchOptions {
    /// What the flags say of where to look and what to require.
    pub fn flags(&self) -> crate::sources::config::Flags<'_> {
        crate::sources::config::Flags {
            index: self.index.as_deref(),
            gateways: &self.gateways,
            kubo: self.kubo.as_deref(),
            rebuilders: &self.rebuilders,
            require_attestations: self.require_attestations,
        }
    }
}

/// What a build started after a fetch hands down to its wrappers, so
/// that what the lockfile did not name (a vendored package, a run, a tool
/// `cargo install` builds) is fetched on demand: the verified shards
/// directory, and the gateways or the kubo node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandDown {
    /// The shards directory of the verified index version.
    pub shards: String,
    /// The gateways.
    pub gateways: Vec<String>,
    /// The kubo node's RPC API, when fetching through one.
    pub kubo: Option<String>,
    /// The policy of required attestations, with the verified attestation
    /// indexes of the rebuilders it counts; `None` when nothing is required.
    pub attesting: Option<crate::index::attested::Attesting>,
}

/// One artifact fetched (or found locally).
#[derive(Debug, Clone, Serialize)]
pub struct Fetched {
    /// The crate.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The artifact's size.
    pub bytes: u64,
}

impl Fetched {
    /// The artifact an entry names.
    fn of(entry: &Entry) -> Self {
        Fetched { name: entry.name.clone(), version: entry.version.clone(), bytes: entry.size }
    }
}

/// What a fetch did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// The index and version used.
    pub index: String,
    /// Its version.
    pub version: u64,
    /// The compiler whose artifacts were selected (`release commit-hash`):
    /// the one a build started here runs.
    pub rustc: String,
    /// The target whose artifacts were selected.
    pub target: String,
    /// Artifacts downloaded.
    pub fetched: Vec<Fetched>,
    /// How many of them are build-script runs.
    pub runs: usize,
    /// Artifacts that were already local.
    pub already_local: usize,
    /// Locked packages the index has no matching artifact for.
    pub missing: Vec<String>,
    /// Artifacts that failed (crate and reason); they will compile.
    pub failed: Vec<(String, String)>,
    /// How many distinct trusted rebuilders must attest an entry (0: none).
    pub require_attestations: u32,
    /// Packages whose entries have too few attestations (crate and the
    /// count, `1 of 2 required attestations (...)`): not fetched, they
    /// will compile.
    pub unattested: Vec<(String, String)>,
    /// Why the fetch stopped early, when the disk of the store filled up:
    /// what was under way then is in `failed`, and so is everything not
    /// yet fetched or looked up.
    pub store_full: Option<String>,
    /// Bytes downloaded.
    pub bytes: u64,
    /// Milliseconds from the start to the first artifact byte.
    pub first_byte_ms: Option<u64>,
    /// Milliseconds from the start until every block of every artifact was
    /// downloaded, verified against its CID and stored.
    pub download_ms: u64,
    /// Milliseconds spent after that checking each artifact against its
    /// entry's size and sha256 and unpacking it for the wrapper, so that
    /// its hits only place files.
    pub unpack_ms: u64,
    /// Milliseconds in all.
    pub total_ms: u64,
    /// When the index version expires (seconds since the Unix epoch).
    pub expires: u64,
    /// What a build started now hands down to its wrappers; `None` offline.
    #[serde(skip)]
    pub hand_down: Option<HandDown>,
    /// The keys of the entries matched (fetched, found local, or failed),
    /// which an index looked up after this one passes over.
    #[serde(skip)]
    pub keys: Vec<String>,
}

/// Progress reports, for a progress display or plain lines.
#[derive(Debug)]
pub enum Progress<'a> {
    /// The index resolved and verified; `packages` locked packages to look up.
    Resolved {
        /// The index.
        index: &'a str,
        /// Its version.
        version: u64,
        /// How many packages the lockfile names.
        packages: usize,
    },
    /// An artifact arrived and verified.
    Fetched(&'a Fetched),
    /// Every package was looked up; `artifacts` match this build.
    Planned {
        /// How many artifacts will be fetched or found local.
        artifacts: usize,
    },
    /// An artifact is done with: fetched, found local, or failed.
    Done,
    /// An artifact failed.
    Failed(&'a str, &'a str),
    /// A package's entries have fewer attestations than required.
    Unattested(&'a str, &'a str),
}

/// A fetch under way: what its steps share.
struct Pass<'a> {
    resolved: &'a Resolved,
    /// Keys matched in an index looked up before.
    skip_keys: &'a std::collections::BTreeSet<String>,
    downloader: Downloader<'a>,
    runs: Runs,
    started: Instant,
    progress: &'a (dyn Fn(Progress) + Sync),
    /// The summary, and the entries downloaded (`downloaded[i]` is
    /// `summary.fetched[i]`: both are pushed under this one lock).
    out: Mutex<(Summary, Vec<Entry>)>,
    /// Why the workers stopped: the first failure that said the store's
    /// disk is full.
    full: Mutex<Option<String>>,
    /// The keys of the rebuilders that attested each entry let through
    /// (by key), filed with its artifact.
    attested: Mutex<std::collections::HashMap<String, Vec<String>>>,
}

impl Pass<'_> {
    fn attested_by(&self, entry: &Entry) -> Vec<String> {
        self.attested.lock().expect("attested").get(&entry.key).cloned().unwrap_or_default()
    }

    /// Under a policy of required attestations, the entries of `package`
    /// that enough distinct trusted rebuilders attest; the package is said
    /// unattested when none of its compilations is.
    fn attested(&self, package: &lockfile::LockedPackage, matching: Vec<Entry>) -> Vec<Entry> {
        let Some(attesting) = &self.resolved.attesting else { return matching };
        let tallies = match attesting.tally_all(self.downloader.reader, &package.name, &matching) {
            Ok(tallies) => tallies,
            Err(e) => {
                let e = anyhow::Error::new(e).context(format!("cannot read the attestations of {}", package.name));
                let failure = self.report(&package.name, &package.version, e);
                self.out.lock().expect("summary").0.failed.push(failure);
                return Vec::new();
            }
        };
        let mut kept = Vec::new();
        let mut refused = None;
        for (entry, tally) in matching.into_iter().zip(tallies) {
            if attesting.allows(&tally) {
                self.attested.lock().expect("attested").insert(entry.key.clone(), tally.keys);
                kept.push(entry);
            } else if refused.is_none() || !entry.is_run() {
                refused.get_or_insert_with(|| tally.describe(attesting.require as usize));
            }
        }
        if let Some(why) = refused.filter(|_| kept.iter().all(Entry::is_run)) {
            let what = format!("{} {}", package.name, package.version);
            (self.progress)(Progress::Unattested(&what, &why));
            self.out.lock().expect("summary").0.unattested.push((what, why));
        }
        kept
    }

    /// Shows a failure and returns it for the summary; that crate compiles.
    /// Once the store's disk is full, nothing more can be stored: the first
    /// such failure is shown, the workers stop, and the rest is summed up.
    fn report(&self, name: &str, version: &str, e: anyhow::Error) -> (String, String) {
        let what = format!("{name} {version}");
        let why = Chain(&e).to_string();
        let quiet = crate::store::chain_is_full(&e) && self.full.lock().expect("full").replace(why.clone()).is_some();
        if !quiet {
            (self.progress)(Progress::Failed(&what, &why));
        }
        (what, why)
    }

    /// Checks, unpacks and files each artifact downloaded, on every core,
    /// so that the wrapper's hits only place files. An artifact that could
    /// not be filed counts as failed, not fetched.
    fn file_all(&self, summary: &mut Summary, downloaded: Vec<Entry>) {
        let downloaded_runs: Vec<bool> = downloaded.iter().map(Entry::is_run).collect();
        let queue = Mutex::new(downloaded.into_iter().enumerate());
        let failed = Mutex::new(Vec::new());
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let d = &self.downloader;
        std::thread::scope(|s| {
            for _ in 0..cores {
                s.spawn(|| loop {
                    let Some((i, entry)) = queue.lock().expect("queue").next() else { return };
                    let attested = self.attested_by(&entry);
                    let filed = match entry.run {
                        Some(_) => self.runs.file_entry(d.store, d.reader, &entry, &attested),
                        None => d.file_attested(&entry, &attested),
                    };
                    crate::failpoint::hit("fetch.filed");
                    if let Err(e) = filed {
                        failed.lock().expect("failed").push((i, self.report(&entry.name, &entry.version, e)));
                    }
                });
            }
        });
        let mut failed = failed.into_inner().expect("failed");
        failed.sort_by_key(|(i, _)| std::cmp::Reverse(*i));
        for (i, failure) in failed {
            summary.fetched.remove(i);
            summary.failed.push(failure);
            if downloaded_runs[i] {
                summary.runs -= 1;
            }
        }
    }
}

impl schedule::Steps for Pass<'_> {
    fn look_up(&self, package: &lockfile::LockedPackage) -> Vec<Entry> {
        let r = self.resolved;
        let d = &self.downloader;
        let found = lookup::look_up_entries(d.store, d.reader, d.sources, &r.shards, &package.name)
            .with_context(|| format!("cannot read the entries of {} from index {}", package.name, r.index));
        let matching: Vec<Entry> = match found {
            Ok(entries) => entries
                .into_iter()
                .filter(|e| e.version == package.version && e.checksum == package.checksum)
                .filter(|e| match &e.run {
                    // A run of this package's build script, made on this host.
                    Some(run) => run.host == r.host && e.rustc == r.rustc && e.target == r.target,
                    None => e.rustc == r.rustc && e.target == r.target && e.key.len() >= 64,
                })
                .collect(),
            Err(e) => {
                let failure = self.report(&package.name, &package.version, e);
                self.out.lock().expect("summary").0.failed.push(failure);
                return Vec::new();
            }
        };
        if matching.iter().all(Entry::is_run) {
            self.out.lock().expect("summary").0.missing.push(format!("{} {}", package.name, package.version));
        }
        let mut kept = self.attested(package, matching);
        kept.retain(|e| !self.skip_keys.contains(&e.key));
        self.out.lock().expect("summary").0.keys.extend(kept.iter().map(|e| e.key.clone()));
        kept
    }

    fn download(&self, entry: Entry) {
        let result = match entry.run {
            Some(_) if self.runs.has_entry(&entry, &self.attested_by(&entry)) => Ok(None),
            // A run is never in the cache map: `download` brings its blocks.
            Some(_) => {
                crate::artifact::runs::check_sizes(&entry).and_then(|()| self.downloader.download(&entry, self.started))
            }
            None => self.downloader.download(&entry, self.started),
        };
        let mut guard = self.out.lock().expect("summary");
        let (summary, downloaded) = &mut *guard;
        match result {
            Ok(None) => {
                summary.already_local += 1;
                // Fetched before; now attested too.
                let attested = self.attested_by(&entry);
                if entry.run.is_none() && !attested.is_empty() {
                    let key = crate::artifact::download::base_key(&entry);
                    if let Err(e) = self.downloader.cache.add_attesters(key, &entry.cid, &attested) {
                        eprintln!("cargo-ipfs: cannot note the attestations of {} ({e})", entry.name);
                    }
                }
            }
            Ok(Some(first_byte)) => {
                let fetched = Fetched::of(&entry);
                summary.bytes += fetched.bytes;
                summary.first_byte_ms = Some(summary.first_byte_ms.map_or(first_byte, |f| f.min(first_byte)));
                (self.progress)(Progress::Fetched(&fetched));
                summary.fetched.push(fetched);
                summary.runs += usize::from(entry.is_run());
                downloaded.push(entry);
            }
            Err(e) => summary.failed.push(self.report(&entry.name, &entry.version, e)),
        }
        (self.progress)(Progress::Done);
    }

    fn stopped(&self) -> bool {
        self.full.lock().expect("full").is_some()
    }

    fn planned(&self, artifacts: usize) {
        (self.progress)(Progress::Planned { artifacts });
    }
}

/// How close to its expiry a version is said to be: a day.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(86_400);

/// The warning for an index version that expires within
/// [`EXPIRY_WARNING`] of `now`, if it does: after that, every fetch
/// refuses it until its publisher signs a new one.
pub fn expiry_warning(index: &str, version: u64, expires: u64, now: SystemTime) -> Option<String> {
    let now = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let left = expires.checked_sub(now)?;
    (left < EXPIRY_WARNING.as_secs()).then(|| {
        format!(
            "index {index} version {version} expires in {} h; after that every fetch refuses it until its publisher \
             signs a new version (`cargo ipfs index refresh --name {index}` on the pinning job's schedule)",
            left / 3600
        )
    })
}

/// Runs a fetch for the store at `store_dir`.
pub fn fetch(store_dir: &Path, opts: &FetchOptions, progress: &(dyn Fn(Progress) + Sync)) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let resolved = resolve::resolve(store_dir, opts, SystemTime::now())?;
    let cache = Cache::new(store_dir);
    let downloader =
        Downloader { store: &resolved.store, reader: resolved.reader(), sources: resolved.sources(), cache: &cache };
    let summary = Summary {
        index: resolved.index.clone(),
        version: resolved.version,
        expires: resolved.expires,
        rustc: resolved.rustc.clone(),
        target: resolved.target.clone(),
        hand_down: resolved.hand_down.clone(),
        require_attestations: resolved.attesting.as_ref().map_or(0, |a| a.require),
        ..Summary::default()
    };
    let pass = Pass {
        resolved: &resolved,
        skip_keys: &opts.skip_keys,
        downloader,
        runs: Runs::new(store_dir),
        started,
        progress,
        out: Mutex::new((summary, Vec::new())),
        full: Mutex::new(None),
        attested: Mutex::new(Default::default()),
    };
    progress(Progress::Resolved {
        index: &resolved.index,
        version: resolved.version,
        packages: resolved.packages.len(),
    });
    let left = schedule::run(&resolved.packages, opts.jobs, &pass);
    let (mut summary, downloaded) = pass.out.lock().map(|mut o| std::mem::take(&mut *o)).expect("summary");
    if schedule::Steps::stopped(&pass) {
        let not_stored = "not fetched: the disk of the store is full";
        for entry in left.pending {
            summary.failed.push((format!("{} {}", entry.name, entry.version), not_stored.into()));
        }
        for package in left.packages {
            summary.failed.push((format!("{} {}", package.name, package.version), not_stored.into()));
        }
    }
    summary.download_ms = started.elapsed().as_millis() as u64;
    summary.missing.sort();
    summary.unattested.sort();

    let unpack_started = Instant::now();
    pass.file_all(&mut summary, downloaded);
    summary.store_full = pass.full.into_inner().expect("full");
    summary.unpack_ms = unpack_started.elapsed().as_millis() as u64;
    summary.total_ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}

#[cfg(test)]
mod expiry_tests {
    use super::*;

    #[test]
    fn a_version_is_said_to_expire_within_a_day_only() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = |secs: u64| expiry_warning("idx", 4, 1_800_000_000 + secs, now);
        let soon = at(5 * 3600).unwrap();
        assert!(soon.contains("index idx version 4 expires in 5 h") && soon.contains("index refresh --name idx"));
        assert_eq!(at(86_400), None);
        assert_eq!(at(7 * 86_400), None);
        assert!(expiry_warning("idx", 4, 1_799_999_000, now).is_none(), "already refused by the resolve");
    }
}
