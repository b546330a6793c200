//! `cargo ipfs fetch`: before compilation, resolve the trusted index, find the
//! artifacts built for the packages of `Cargo.lock` with this compiler and
//! target, download them in parallel, verify them, and file them where the
//! rustc wrapper looks, so that those compilations become hits.
//!
//! Every step verifies: the IPNS record and the index (see
//! [`crate::index::resolve`]), every block against its CID, every artifact
//! against the sha256 its signed entry names. A failure is reported and the
//! build compiles what is missing.

pub mod config;
pub mod lockfile;
pub mod remote;

use crate::formats::unixfs::export_verified_file;
use crate::index::local::Local;
use crate::index::resolve::resolve_record;
use crate::index::tree::{lookup, TreeError};
use crate::index::Entry;
use crate::report::Chain;
use crate::store::{BlockStore, DiskStore, Layered};
use crate::wrapper::cache::{env_digest, ArtifactRef, Cache};
use anyhow::{bail, Context};
use remote::Remote;
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
    /// Artifacts downloaded.
    pub fetched: Vec<Fetched>,
    /// Artifacts that were already local.
    pub already_local: usize,
    /// Locked packages the index has no matching artifact for.
    pub missing: Vec<String>,
    /// Artifacts that failed (crate and reason); they will compile.
    pub failed: Vec<(String, String)>,
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
}

/// The fetch pass's shared state: packages not yet looked up, lookups under
/// way, artifacts found and not yet taken.
struct Work<'a> {
    packages: std::slice::Iter<'a, lockfile::LockedPackage>,
    looking: usize,
    found: usize,
    pending: Vec<Entry>,
}

impl Work<'_> {
    fn take_largest(&mut self) -> Option<Entry> {
        let (i, _) = self.pending.iter().enumerate().max_by_key(|(_, e)| e.size)?;
        Some(self.pending.swap_remove(i))
    }
}

enum Task<'a> {
    LookUp(&'a lockfile::LockedPackage),
    Download(Box<Entry>),
}

fn base_key(entry: &Entry) -> &str {
    &entry.key[..entry.key.len().min(64)]
}

/// Runs a fetch for the store at `store_dir`.
pub fn fetch(store_dir: &Path, opts: &FetchOptions, progress: &(dyn Fn(Progress) + Sync)) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let now = SystemTime::now();
    let store = DiskStore::open(store_dir)?;
    // While the index resolves: the compiler's identity (a rustc run on
    // first use)...
    let identity_dir = store_dir.join("wrapper").join("identity");
    let rustc = std::env::var_os("RUSTC").map(PathBuf::from).unwrap_or_else(|| "rustc".into());
    let identity = std::thread::spawn(move || crate::wrapper::identity::rustc_identity(&identity_dir, &rustc));
    // And where the lockfile is (cargo answers that).
    let manifest_path = opts.manifest_path.clone();
    let lock_path = std::thread::spawn(move || lockfile::find(manifest_path.as_deref()));
    let local = Local::new(store_dir);
    let trust_file = local.trust()?;
    let trusted: Vec<String> = trust_file.keys().cloned().collect();
    let flags = config::Flags { index: opts.index.as_deref(), gateways: &opts.gateways, kubo: opts.kubo.as_deref() };
    let settings = config::settings(flags, |k| std::env::var(k).ok(), &config::read_config(store_dir)?, &trusted)?;
    let index = settings.index.as_str();
    let trust = trust_file.get(index).with_context(|| {
        format!("index `{index}` is not trusted here; add it with `cargo ipfs trust add {index} KEY...`")
    })?;
    let name: crate::formats::ipns::IpnsName = trust.ipns.parse()?;

    let remote =
        if opts.offline { None } else { Remote::open(&settings.gateways, settings.kubo.as_deref(), opts.timeout)? };
    if let Some(remote) = &remote {
        match remote.get_record(&name) {
            Ok(bytes) => {
                store.records()?.put(&name, &bytes, now)?;
            }
            Err(e) => {
                eprintln!("cargo-ipfs: cannot fetch the IPNS record of index {index} ({e}); using the local copy")
            }
        }
    }
    let record = store.records()?.get(&name)?;
    let layered = remote.map(|remote| Layered::new(store.clone(), remote));
    let reader: &dyn BlockStore = match &layered {
        Some(layered) => layered,
        None => &store,
    };
    let remote = layered.as_ref().map(Layered::remote);
    let seen = local.seen()?;
    let resolved = resolve_record(reader, record.as_deref(), index, trust, seen.get(index), now)?;
    local.record_seen(index, resolved.version.manifest.seq, &resolved.version.root.to_string())?;
    if let Some(keys) = &resolved.rotated {
        local.update_trust(|t| {
            if let Some(entry) = t.get_mut(index) {
                entry.keys = keys.keys.clone();
                entry.threshold = keys.threshold;
            }
        })?;
    }

    let identity = identity.join().map_err(|_| anyhow::anyhow!("the rustc identity thread panicked"))??;
    let lock_path = lock_path.join().map_err(|_| anyhow::anyhow!("the lockfile thread panicked"))??;
    let text = std::fs::read_to_string(&lock_path).with_context(|| format!("cannot read {}", lock_path.display()))?;
    let packages = lockfile::parse(&text)?;
    let target = opts.target.clone().unwrap_or_else(|| identity.host.clone());
    let mut summary =
        Summary { index: index.to_string(), version: resolved.version.manifest.seq, ..Summary::default() };

    // Look every locked package up and download what matches, in parallel.
    // A lookup is a few small blocks, an artifact one CAR. Half the workers
    // download as soon as something is found, always the largest artifact
    // known, so that no large one starts last and runs alone at the end;
    // the other half look up first.
    let cache = Cache::new(store_dir);
    let work = Mutex::new(Work { packages: packages.iter(), looking: 0, found: 0, pending: Vec::new() });
    let changed = std::sync::Condvar::new();
    let out = Mutex::new((&mut summary, Vec::new()));
    let jobs = opts.jobs.clamp(1, 64);
    progress(Progress::Resolved { index, version: resolved.version.manifest.seq, packages: packages.len() });
    if packages.is_empty() {
        progress(Progress::Planned { artifacts: 0 });
    }
    // A failure is shown and kept for the summary; that crate compiles.
    // Once the store's disk is full, nothing more can be stored: the first
    // such failure is shown, the workers stop, and the rest is summed up.
    let full = Mutex::new(None::<String>);
    let report = |name: &str, version: &str, e: anyhow::Error| {
        let what = format!("{name} {version}");
        let why = Chain(&e).to_string();
        let quiet = crate::store::chain_is_full(&e) && full.lock().expect("full").replace(why.clone()).is_some();
        if !quiet {
            progress(Progress::Failed(&what, &why));
        }
        (what, why)
    };
    let stopped = || full.lock().expect("full").is_some();
    let look_up = |package: &lockfile::LockedPackage| -> Vec<Entry> {
        let found = look_up_entries(&store, reader, remote, &resolved.version.shards, &package.name)
            .with_context(|| format!("cannot read the entries of {} from index {index}", package.name));
        let matching: Vec<Entry> = match found {
            Ok(entries) => entries
                .into_iter()
                .filter(|e| {
                    e.version == package.version
                        && e.checksum == package.checksum
                        && e.rustc == identity.short()
                        && e.target == target
                        && e.key.len() >= 64
                })
                .collect(),
            Err(e) => {
                let failure = report(&package.name, &package.version, e);
                out.lock().expect("summary").0.failed.push(failure);
                return Vec::new();
            }
        };
        if matching.is_empty() {
            out.lock().expect("summary").0.missing.push(format!("{} {}", package.name, package.version));
        }
        matching
    };
    let fetch_entry = |entry: Entry| {
        let result = download(&store, reader, remote, &cache, &entry, started);
        let mut guard = out.lock().expect("summary");
        let (summary, downloaded) = &mut *guard;
        match result {
            Ok(None) => summary.already_local += 1,
            Ok(Some(first_byte)) => {
                let fetched = Fetched::of(&entry);
                summary.bytes += fetched.bytes;
                summary.first_byte_ms = Some(summary.first_byte_ms.map_or(first_byte, |f| f.min(first_byte)));
                progress(Progress::Fetched(&fetched));
                summary.fetched.push(fetched);
                downloaded.push(entry);
            }
            Err(e) => summary.failed.push(report(&entry.name, &entry.version, e)),
        }
        progress(Progress::Done);
    };
    std::thread::scope(|s| {
        for worker in 0..jobs {
            let (work, changed, look_up, fetch_entry, stopped) = (&work, &changed, &look_up, &fetch_entry, &stopped);
            s.spawn(move || loop {
                let task = {
                    let mut w = work.lock().expect("work");
                    loop {
                        if stopped() {
                            return;
                        }
                        let downloader = worker % 2 == 1 || w.packages.len() == 0;
                        if downloader {
                            if let Some(entry) = w.take_largest() {
                                break Task::Download(Box::new(entry));
                            }
                        }
                        if let Some(package) = w.packages.next() {
                            w.looking += 1;
                            break Task::LookUp(package);
                        }
                        // No package left (so this worker downloads) and
                        // nothing pending: wait for the lookups under way.
                        if w.looking == 0 {
                            return;
                        }
                        w = changed.wait(w).expect("work");
                    }
                };
                match task {
                    Task::LookUp(package) => {
                        let matching = look_up(package);
                        let mut w = work.lock().expect("work");
                        w.looking -= 1;
                        w.found += matching.len();
                        w.pending.extend(matching);
                        if w.looking == 0 && w.packages.len() == 0 {
                            progress(Progress::Planned { artifacts: w.found });
                        }
                        changed.notify_all();
                    }
                    Task::Download(entry) => fetch_entry(*entry),
                }
            });
        }
    });
    let (_, downloaded) = out.into_inner().expect("summary");
    if stopped() {
        let w = work.into_inner().expect("work");
        let not_stored = "not fetched: the disk of the store is full";
        for entry in w.pending {
            summary.failed.push((format!("{} {}", entry.name, entry.version), not_stored.into()));
        }
        for package in w.packages {
            summary.failed.push((format!("{} {}", package.name, package.version), not_stored.into()));
        }
    }
    summary.download_ms = started.elapsed().as_millis() as u64;
    summary.missing.sort();

    // Then unpack, on every core, so that the wrapper's hits only place files.
    let unpack_started = Instant::now();
    // `downloaded[i]` is `summary.fetched[i]`: both were pushed under one lock.
    let queue = Mutex::new(downloaded.into_iter().enumerate());
    let failed = Mutex::new(Vec::new());
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..cores {
            s.spawn(|| loop {
                let Some((i, entry)) = queue.lock().expect("queue").next() else { return };
                if let Err(e) = file_artifact(&store, reader, &cache, &entry) {
                    failed.lock().expect("failed").push((i, report(&entry.name, &entry.version, e)));
                }
            });
        }
    });
    // An artifact that could not be filed counts as failed, not fetched.
    let mut failed = failed.into_inner().expect("failed");
    failed.sort_by_key(|(i, _)| std::cmp::Reverse(*i));
    for (i, failure) in failed {
        summary.fetched.remove(i);
        summary.failed.push(failure);
    }
    summary.store_full = full.into_inner().expect("full");
    summary.unpack_ms = unpack_started.elapsed().as_millis() as u64;
    summary.total_ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}

/// The entries of crate `name` in the index whose shards directory is
/// `shards`. Read from the local store when every block on the way is
/// there; else one CAR request brings the directories on the way and the
/// shard (each block verified against its CID) and the lookup reads them
/// locally, fetching block by block only what did not come, for example the
/// directory that shows a crate is absent.
fn look_up_entries(
    store: &DiskStore,
    reader: &dyn BlockStore,
    remote: Option<&Remote>,
    shards: &cid::Cid,
    name: &str,
) -> Result<Vec<Entry>, TreeError> {
    let local = lookup(store, shards, name);
    let Some(remote) = remote else { return local };
    // A block missing (or quarantined just now): ask the remote.
    if !matches!(local, Err(TreeError::Store(_) | TreeError::Read(_))) {
        return local;
    }
    let path = crate::index::layout::shard_path(name)?;
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    if let Some(Ok(mut blocks)) = remote.get_path(shards, &segments) {
        // A shard is at most `MAX_FILE_SIZE`; a stream far beyond that is not
        // followed further.
        let limit = crate::index::tree::MAX_FILE_SIZE + (4 << 20);
        while let Some(Ok(block)) = blocks.next() {
            if blocks.bytes_read() > limit {
                break;
            }
            store.put(&block)?;
        }
    }
    lookup(reader, shards, name)
}

/// Fetches one artifact and files it in the cache map, unpacked. `None`
/// when it was already there. The wrapper's on-demand path.
pub(crate) fn fetch_one(
    store: &DiskStore,
    reader: &dyn BlockStore,
    remote: Option<&Remote>,
    cache: &Cache,
    entry: &Entry,
    started: Instant,
) -> anyhow::Result<Option<(Fetched, u64)>> {
    let Some(first_byte) = download(store, reader, remote, cache, entry, started)? else { return Ok(None) };
    file_artifact(store, reader, cache, entry)?;
    Ok(Some((Fetched::of(entry), first_byte)))
}

/// Brings every block of one artifact into the store, each verified
/// against its CID, and returns the milliseconds from `started` to its
/// first byte; `None` when the cache map has the artifact already.
fn download(
    store: &DiskStore,
    reader: &dyn BlockStore,
    remote: Option<&Remote>,
    cache: &Cache,
    entry: &Entry,
    started: Instant,
) -> anyhow::Result<Option<u64>> {
    let key = base_key(entry);
    if cache.get(key).is_some_and(|r| r.variants.values().any(|a| a.cid == entry.cid)) {
        return Ok(None);
    }
    let cid = crate::formats::block::parse_cid(&entry.cid)?;
    let mut first_byte = None;
    let mut first = || *first_byte.get_or_insert_with(|| started.elapsed().as_millis() as u64);
    // One CAR request per artifact; the client verifies its blocks as they
    // arrive, and each goes straight to the store. A stream that ends
    // complete has brought the whole DAG (the client checks that too).
    let mut complete = false;
    if let Some(remote) = remote {
        if !store.has(&cid)? {
            if let Ok(mut blocks) = remote.get_dag(&cid) {
                // A stream larger than its entry says (duplicates and blocks
                // outside the DAG included) is not followed further.
                let limit = entry.size.saturating_mul(2).saturating_add(1 << 20);
                complete = true;
                while let Some(block) = blocks.next() {
                    let Ok(block) = block else {
                        complete = false;
                        break;
                    };
                    first();
                    if blocks.bytes_read() > limit {
                        complete = false;
                        break;
                    }
                    store.put(&block)?;
                }
            }
        }
    }
    if !complete {
        // Offline, or the stream broke: read the file through the store,
        // which reads local blocks verified and fetches the missing ones
        // one by one.
        read_artifact(&entry.cid, entry.size, &mut |c| {
            let block = reader.get_required(c)?;
            first();
            Ok(block)
        })
        .with_context(|| format!("cannot fetch artifact {cid}"))?;
        // Blocks read through a layered store are already local; make sure.
        if !store.has(&cid)? {
            bail!("artifact {cid} did not reach the local store");
        }
    }
    Ok(Some(first()))
}

/// The bytes of the artifact `cid` whose entry (or cache map) says it is
/// `size` bytes, each block from `get`, refused unless it is exactly that
/// size. Blocks read unverified could link in a cycle, so the blocks and
/// bytes read are bounded too (generously: a file's nodes and leaves are a
/// small multiple of its size).
pub(crate) fn read_artifact(
    cid: &str,
    size: u64,
    get: &mut dyn FnMut(&cid::Cid) -> Result<Vec<u8>, crate::store::StoreError>,
) -> anyhow::Result<Vec<u8>> {
    let cid = crate::formats::block::parse_cid(cid)?;
    let too_large =
        || crate::store::StoreError::NotFound { cid, store: "(artifact larger than its entry says)".into() };
    let (mut blocks, mut read) = (0u64, 0u64);
    let budget = size.saturating_mul(2).saturating_add(4 << 20);
    let mut bounded = |c: &cid::Cid| {
        let bytes = get(c)?;
        blocks += 1;
        read += bytes.len() as u64 + 64;
        if read > budget || blocks > budget / 64 {
            return Err(too_large());
        }
        Ok(bytes)
    };
    let mut bytes = Vec::with_capacity(size.min(1 << 30) as usize);
    export_verified_file(&cid, &mut bounded, &mut |chunk| {
        if bytes.len() as u64 + chunk.len() as u64 > size {
            return Err(too_large());
        }
        bytes.extend_from_slice(chunk);
        Ok(())
    })
    .with_context(|| format!("cannot read artifact {cid}"))?;
    if bytes.len() as u64 != size {
        bail!("artifact {cid} is not of the size its entry names ({size} bytes); refused");
    }
    Ok(bytes)
}

/// Unpacks an artifact from the store for the wrapper and files it in the
/// cache map under the environment values it was built with.
fn file_artifact(store: &DiskStore, reader: &dyn BlockStore, cache: &Cache, entry: &Entry) -> anyhow::Result<()> {
    // Every block was verified against its CID on its way into the store,
    // and the CID is the one the signed entry names. The blocks are read
    // back without hashing each again, since the whole is checked against
    // the entry's sha256 before anything is filed. If that read fails or the
    // digest differs, they are read again through `reader`, verified: a
    // block that rotted on disk since is quarantined and fetched again.
    let mut unverified = |c: &cid::Cid| {
        store.get_unverified(c)?.ok_or_else(|| crate::store::StoreError::NotFound { cid: *c, store: store.describe() })
    };
    let first = read_artifact(&entry.cid, entry.size, &mut unverified);
    let bytes = match first {
        Ok(bytes) if crate::wrapper::pack::file_digest(&bytes) == entry.sha256 => bytes,
        _ => {
            let bytes = read_artifact(&entry.cid, entry.size, &mut |c| reader.get_required(c))?;
            if crate::wrapper::pack::file_digest(&bytes) != entry.sha256 {
                bail!("artifact {} does not match the sha256 its signed entry names; refused", entry.cid);
            }
            bytes
        }
    };
    let (meta, files) = crate::wrapper::pack::unpack(&bytes, 4 << 30)
        .with_context(|| format!("cannot unpack artifact {} of {} {}", entry.cid, entry.name, entry.version))?;
    drop(bytes);
    // Without room for the unpacked copy, the first hit unpacks instead.
    let _ = crate::wrapper::unpacked::Unpacked::new(store.root()).put(&entry.cid, &meta, &files);
    let mut names: Vec<String> = meta.env_deps.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    names.dedup();
    let env = env_digest(&names, |n| meta.env_deps.iter().find(|(k, _)| k == n).and_then(|(_, v)| v.clone()));
    let artifact =
        ArtifactRef { cid: entry.cid.clone(), sha256: entry.sha256.clone(), size: entry.size, compile_ms: 0 };
    cache.put(base_key(entry), &names, &env, artifact).map_err(|e| crate::store::StoreError::io(store.root(), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::unixfs::{import_bytes, ImportParams};
    use crate::wrapper::pack::{file_digest, pack, Meta, PackedFile};

    /// An artifact in `store` and the entry that names it.
    fn artifact(store: &DiskStore) -> (Entry, Vec<u8>) {
        let meta = Meta {
            stdout: String::new(),
            stderr: String::new(),
            status: 0,
            env_deps: vec![("PROBE".into(), Some("1".into()))],
            format: crate::FORMAT_VERSION,
        };
        let files = vec![PackedFile { name: "libx-0.rlib".into(), executable: false, bytes: vec![7; 300_000].into() }];
        let packed = pack(&meta, &files);
        let (file, blocks) = import_bytes(ImportParams::UNIXFS_V1_2025, &packed).unwrap();
        for block in &blocks {
            store.put(block).unwrap();
        }
        let entry = Entry {
            name: "x".into(),
            version: "0.1.0".into(),
            source: "registry+https://github.com/rust-lang/crates.io-index".into(),
            checksum: "c".repeat(64),
            key: "ab".repeat(32),
            cid: file.cid.to_string(),
            size: packed.len() as u64,
            sha256: file_digest(&packed),
            outputs: vec![],
            rustc: "1.0.0".into(),
            target: "t".into(),
            profile: Default::default(),
            features: vec![],
            crate_types: vec!["lib".into()],
            deps: Default::default(),
            built_at: 0,
            builder: String::new(),
        };
        (entry, files[0].bytes.to_vec())
    }

    #[test]
    fn an_artifact_of_another_size_than_named_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        let (entry, _) = artifact(&store);
        let mut get = |c: &cid::Cid| store.get_required(c);
        let bytes = read_artifact(&entry.cid, entry.size, &mut get).unwrap();
        assert_eq!(file_digest(&bytes), entry.sha256);
        for size in [entry.size - 1, entry.size + 1, 0] {
            let e = read_artifact(&entry.cid, size, &mut get).unwrap_err();
            assert!(format!("{e:#}").contains(&entry.cid), "{e:#}");
        }
    }

    #[test]
    fn downloads_are_taken_largest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        let (entry, _) = artifact(&store);
        let sized = |size| Entry { size, ..entry.clone() };
        let mut work =
            Work { packages: [].iter(), looking: 0, found: 3, pending: vec![sized(5), sized(900), sized(40)] };
        let order: Vec<u64> = std::iter::from_fn(|| work.take_largest()).map(|e| e.size).collect();
        assert_eq!(order, [900, 40, 5]);
    }

    #[test]
    fn an_artifact_is_filed_unpacked_only_when_its_entry_matches() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        let cache = Cache::new(dir.path());
        let (entry, rlib) = artifact(&store);

        // An entry whose sha256 disagrees with the bytes its CID names.
        let lying = Entry { sha256: "0".repeat(64), ..entry.clone() };
        let err = fetch_one(&store, &store, None, &cache, &lying, Instant::now()).unwrap_err();
        assert!(format!("{err:#}").contains("does not match the sha256"), "{err:#}");
        assert!(cache.get(base_key(&entry)).is_none(), "nothing filed");
        // And one whose size disagrees.
        let short = Entry { size: entry.size - 1, ..entry.clone() };
        assert!(fetch_one(&store, &store, None, &cache, &short, Instant::now()).is_err());
        assert!(cache.get(base_key(&entry)).is_none());

        let (fetched, _) = fetch_one(&store, &store, None, &cache, &entry, Instant::now()).unwrap().unwrap();
        assert_eq!(fetched.bytes, entry.size);
        let record = cache.get(base_key(&entry)).unwrap();
        assert_eq!(record.env_names, ["PROBE"]);
        let copy = crate::wrapper::unpacked::Unpacked::new(dir.path()).get(&entry.cid).unwrap();
        assert_eq!(std::fs::read(copy.file("libx-0.rlib")).unwrap(), rlib);
        // A second time, it is already there.
        assert!(fetch_one(&store, &store, None, &cache, &entry, Instant::now()).unwrap().is_none());
    }

    #[test]
    fn a_block_that_rotted_after_the_download_is_fetched_again_before_unpacking() {
        let (good_dir, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let good = DiskStore::open(good_dir.path()).unwrap();
        let (entry, rlib) = artifact(&good);
        let store = DiskStore::open(dir.path()).unwrap();
        artifact(&store);
        let cid = crate::formats::block::parse_cid(&entry.cid).unwrap();
        let path = store.block_path(&cid);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let cache = Cache::new(dir.path());

        // With nowhere to fetch a good copy from: refused, nothing filed, and
        // the rotten block is out of the way.
        let err = file_artifact(&store, &store, &cache, &entry).unwrap_err();
        assert!(format!("{err:#}").contains("quarantine"), "{err:#}");
        assert!(cache.get(base_key(&entry)).is_none());
        assert!(!store.has(&cid).unwrap());

        // Rotten again, with a source of good blocks behind the store: the
        // block comes again, verified, and the artifact is filed.
        std::fs::write(&path, &bytes).unwrap();
        let layered = Layered::new(store.clone(), good);
        file_artifact(&store, &layered, &cache, &entry).unwrap();
        assert!(cache.get(base_key(&entry)).is_some());
        assert!(store.get(&cid).unwrap().is_some(), "repaired in place");
        let copy = crate::wrapper::unpacked::Unpacked::new(dir.path()).get(&entry.cid).unwrap();
        assert_eq!(std::fs::read(copy.file("libx-0.rlib")).unwrap(), rlib);
    }
}
