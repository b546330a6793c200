//! Rebuild and compare: anyone can check a remotely built artifact by
//! building it again and comparing digests.
//!
//! An entry does not hold the whole compiler invocation, so the rebuild is
//! cargo's own: the project's lockfile (or a generated project depending on
//! one crate) built from nothing, in a temporary target directory, with the
//! wrapper recording into a temporary store (nothing restored, nothing
//! fetched on demand). Each artifact it journals (registry units and
//! build-script runs, keyed as any subscriber keys them) is set against the
//! signed entry of the same key ([`compare`]): matched when the sha256 and
//! CID are the signed ones, mismatched otherwise (with the files that
//! differ, [`diff`]); signed entries of the rebuilt packages that the
//! rebuild did not make are listed with why (another toolchain, target,
//! host, profile or feature set).

pub mod attest;
pub mod compare;
pub mod diff;

use crate::artifact::cache::Cache;
use crate::artifact::read::read_artifact;
use crate::fetch::resolve::{resolve_index, settings};
use crate::index::state::IndexState;
use crate::index::Entry;
use crate::sources::config::Flags;
use crate::store::{BlockStore, DiskStore};
use crate::vars;
use anyhow::{bail, Context};
use compare::Report;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

/// What to rebuild, and against which index.
#[derive(Debug, Clone, Default)]
pub struct RebuildOptions {
    /// The index (else the configured or only trusted one).
    pub index: Option<String>,
    /// Gateways to read the index and the signed artifacts through.
    pub gateways: Vec<String>,
    /// A kubo node instead.
    pub kubo: Option<String>,
    /// Read the local store only.
    pub offline: bool,
    /// Per-request timeout.
    pub timeout: Option<Duration>,
    /// The project (else the current directory's).
    pub manifest_path: Option<PathBuf>,
    /// One crate, and optionally its version: a generated project that
    /// depends on it is rebuilt, and only its own artifacts compared.
    pub krate: Option<(String, Option<String>)>,
    /// Compare a random subset of this many rebuilt artifacts.
    pub sample: Option<usize>,
    /// Cargo's `-j`.
    pub jobs: Option<usize>,
    /// Build with `--release` (what `cargo install` records).
    pub release: bool,
}

/// Rebuilds and compares; the report (mismatches with their differences).
pub fn rebuild(store_dir: &Path, opts: &RebuildOptions) -> anyhow::Result<Report> {
    if let Some((name, version)) = &opts.krate {
        check_spec(name, version.as_deref())?;
    }
    let trust = IndexState::new(store_dir).trust()?;
    let flags = Flags {
        index: opts.index.as_deref(),
        gateways: &opts.gateways,
        kubo: opts.kubo.as_deref(),
        ..Flags::default()
    };
    let settings = settings(store_dir, &trust, flags)?;
    let head = resolve_index(store_dir, &trust, settings, opts.offline, opts.timeout, SystemTime::now())?;
    let reader: &dyn BlockStore = match &head.layered {
        Some(layered) => layered,
        None => &head.store,
    };

    let work = tempfile::tempdir().context("cannot create a temporary directory for the rebuild")?;
    let manifest = match &opts.krate {
        Some((name, version)) => Some(generated_project(work.path(), name, version.as_deref())?),
        None => opts.manifest_path.clone(),
    };
    let rebuild_store = work.path().join("store");
    DiskStore::open(&rebuild_store)?;
    run_cargo(&rebuild_store, &work.path().join("target"), manifest.as_deref(), opts)?;

    let (mut rebuilt, _torn) = Cache::new(&rebuild_store).journal_entries()?;
    if let Some((name, version)) = &opts.krate {
        rebuilt.retain(|e| e.name == *name && version.as_ref().is_none_or(|v| e.version == *v));
    }
    if let Some(n) = opts.sample {
        sample(&mut rebuilt, n);
    }
    let Some(first) = rebuilt.first() else {
        bail!("the rebuild recorded no registry artifact to compare (only path crates, or nothing cacheable)");
    };
    let (rustc, target) = (first.rustc.clone(), first.target.clone());
    let host = rebuilt.iter().find_map(|e| e.run.as_ref().map(|r| r.host.clone())).unwrap_or_else(|| target.clone());
    let mut signed = Vec::new();
    let names: std::collections::BTreeSet<&str> = rebuilt.iter().map(|e| e.name.as_str()).collect();
    for name in names {
        signed.extend(
            crate::index::tree::lookup(reader, &head.version.shards, name)
                .with_context(|| format!("cannot read the index entries of {name}"))?,
        );
    }
    let mut report = compare::compare(&rebuilt, &signed, &rustc, &target, &host);
    report.index = head.settings.index.clone();
    report.version = head.version.manifest.seq;
    let rebuild_store = DiskStore::open(&rebuild_store)?;
    let by_key: BTreeMap<&str, &Entry> = rebuilt.iter().map(|e| (e.key.as_str(), e)).collect();
    let signed_by_key: BTreeMap<&str, &Entry> = signed.iter().map(|e| (e.key.as_str(), e)).collect();
    for mismatch in &mut report.mismatched {
        let (Some(ours), Some(theirs)) = (by_key.get(mismatch.key.as_str()), signed_by_key.get(mismatch.key.as_str()))
        else {
            continue;
        };
        mismatch.differences = match differences(reader, &rebuild_store, theirs, ours) {
            Ok(lines) => lines,
            Err(e) => vec![format!("cannot compare the files: {}", crate::report::Chain(&e))],
        };
    }
    Ok(report)
}

/// The files that differ between the signed artifact and the rebuilt one.
fn differences(
    reader: &dyn BlockStore,
    local: &DiskStore,
    theirs: &Entry,
    ours: &Entry,
) -> anyhow::Result<Vec<String>> {
    crate::artifact::download::check_sizes(theirs)?;
    let signed = read_artifact(&theirs.cid, theirs.size, &mut |c| reader.get_required(c))
        .with_context(|| format!("cannot read the signed artifact {}", theirs.cid))?;
    let rebuilt = read_artifact(&ours.cid, ours.size, &mut |c| local.get_required(c))?;
    let run = theirs.is_run();
    Ok(diff::differences(&diff::files(&signed, run)?, &diff::files(&rebuilt, run)?))
}

/// Refuses a `--crate` that names no crate (a path, a requirement).
fn check_spec(name: &str, version: Option<&str>) -> anyhow::Result<()> {
    use crate::fetch::packaged::is_plain;
    if !is_plain(name) || version.is_some_and(|v| !is_plain(v)) {
        let given = version.map_or(name.to_string(), |v| format!("{name}@{v}"));
        bail!("--crate {given:?} is not NAME or NAME@VERSION; give one as `serde@1.0.228`");
    }
    Ok(())
}

/// A project in `dir` that depends on `name` (at exactly `version`).
fn generated_project(dir: &Path, name: &str, version: Option<&str>) -> anyhow::Result<PathBuf> {
    let project = dir.join("rebuild-project");
    std::fs::create_dir_all(project.join("src"))?;
    let requirement = version.map_or("*".to_string(), |v| format!("={v}"));
    let manifest = format!(
        "[package]\nname = \"cargo-ipfs-rebuild\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\n{name} = \"{requirement}\"\n\n[workspace]\n"
    );
    std::fs::write(project.join("Cargo.toml"), manifest)?;
    std::fs::write(project.join("src/lib.rs"), "")?;
    Ok(project.join("Cargo.toml"))
}

/// `cargo build` of `manifest` from nothing in `target`, the wrapper
/// recording into `store` and fetching nothing.
fn run_cargo(store: &Path, target: &Path, manifest: Option<&Path>, opts: &RebuildOptions) -> anyhow::Result<()> {
    let me = std::env::current_exe().context("cannot find this program's path to use it as the rustc wrapper")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.arg("build");
    match (manifest, &opts.krate) {
        (Some(path), Some(_)) => cmd.arg("--manifest-path").arg(path),
        (Some(path), None) => cmd.arg("--locked").arg("--manifest-path").arg(path),
        (None, _) => cmd.arg("--locked"),
    };
    if opts.offline {
        cmd.arg("--offline");
    }
    if opts.release {
        cmd.arg("--release");
    }
    if let Some(jobs) = opts.jobs {
        cmd.arg("-j").arg(jobs.to_string());
    }
    cmd.env(vars::RUSTC_WRAPPER, &me)
        .env(vars::STORE, store)
        .env(vars::MODE, "record")
        .env(vars::CARGO_TARGET_DIR, target)
        .env_remove(vars::INDEX_SHARDS)
        .env_remove(vars::ATTESTING)
        .env_remove(vars::GATEWAYS)
        .env_remove(vars::KUBO)
        .env_remove(vars::CARGO_BUILD_TARGET_DIR);
    let status = cmd.status().with_context(|| format!("cannot run {}", cargo.to_string_lossy()))?;
    if !status.success() {
        bail!("the rebuild failed ({status}); nothing was compared");
    }
    Ok(())
}

/// Keeps `n` of `entries`, chosen at random.
fn sample(entries: &mut Vec<Entry>, n: usize) {
    use rand_core::RngCore;
    let mut state = rand_core::OsRng.next_u64() | 1;
    for i in (1..entries.len()).rev() {
        // xorshift64: enough to pick a subset.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        entries.swap(i, (state % (i as u64 + 1)) as usize);
    }
    entries.truncate(n);
}
