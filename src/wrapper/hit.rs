//! A hit: the artifact filed under the unit's key (and the values of the
//! variables the crate read) is placed into the out-dir from its unpacked
//! copy, and rustc's output is replayed with this machine's paths. On a
//! local miss under `cargo ipfs build` or `install`, the unit's entry is looked up in
//! the index handed down and its artifact fetched first.

use super::args::{OutputKind, TargetNaming};
use super::env::WrapperEnv;
use super::paths::Escaping;
use super::replay::{check_files, check_output, check_status, Refused};
use super::stats::{self, Event};
use super::unit::Unit;
use crate::artifact::cache::{env_digest, ArtifactRef, Cache};
use crate::artifact::download::Downloader;
use crate::artifact::pack::{unpack, Meta, PackedFile};
use crate::artifact::policy::RestorePolicy;
use crate::artifact::read::read_artifact;
use crate::artifact::stream::{stream_into_copy, Packed, Unfiled};
use crate::artifact::unpacked::{place, Unpacked};
use crate::artifact::MAX_ARTIFACT;
use crate::atomic_file::{replace_with, Durability, Options};
use crate::index::attested::Attesting;
use crate::index::Entry;
use crate::report::Chain;
use crate::sources::Sources;
use crate::store::{BlockStore, DiskStore, Layered};
use anyhow::Context;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// Restores a recorded artifact for the unit's key, if there is one.
pub fn try_hit(
    env: &WrapperEnv,
    store: &DiskStore,
    cache: &Cache,
    unit: &Unit,
    store_dir: &Path,
    started: Instant,
) -> Option<ExitCode> {
    let record = cache.get(&unit.key)?;
    // A portable artifact is filed under the normalized values of the
    // variables it read, a machine-specific one under their raw values.
    let portable = env_digest(&record.env_names, |n| env.value(n).map(|v| unit.map.normalize_text(&v)));
    let raw = env_digest(&record.env_names, |n| env.value(n));
    let artifact = record.variants.get(&portable).or_else(|| record.variants.get(&raw))?;
    if !restorable(store_dir, artifact) {
        return None;
    }
    match restore(store, store_dir, artifact, unit) {
        Ok(code) => {
            let took_us = started.elapsed().as_micros() as u64;
            let event = Event::Hit { bytes: artifact.size, saved_ms: artifact.compile_ms, took_us };
            let _ = stats::record(store_dir, &event);
            Some(code)
        }
        Err(e) => {
            // Outputs are restored by rename, so whatever was done is
            // replaced by the compilation that follows.
            eprintln!("cargo-ipfs: cannot restore {} ({}); compiling normally", unit.inv.crate_name, Chain(&e));
            let _ = stats::record(store_dir, &Event::Error("restore".into()));
            None
        }
    }
}

/// On a local miss, when `cargo ipfs build` or `install` handed down a verified index
/// (`CARGO_IPFS_INDEX_SHARDS`) and where to fetch from (`CARGO_IPFS_GATEWAYS`
/// or `CARGO_IPFS_KUBO`), looks up this crate's entry with exactly this key
/// and fetches its artifact. Returns whether it fetched one. A gateway
/// that failed or was too slow for one wrapper is skipped by the next ones
/// (remembered under the store directory, see `store/gateway/health.rs`).
pub fn fetch_on_demand(env: &WrapperEnv, store: &DiskStore, cache: &Cache, unit: &Unit) -> anyhow::Result<bool> {
    if !unit.source.registry {
        return Ok(false);
    }
    let Some((entries, layered)) = index_entries(env, store, &unit.source.name)? else { return Ok(false) };
    let Some(entry) =
        entries.into_iter().find(|e| !e.is_run() && e.key.starts_with(&unit.key) && e.checksum == unit.source.checksum)
    else {
        return Ok(false);
    };
    let Some(attested) = attested_on_demand(env, store, &layered, &entry)? else { return Ok(false) };
    let downloader = Downloader { store, reader: &layered, sources: Some(layered.remote()), cache };
    if downloader.download(&entry, Instant::now())?.is_some() {
        downloader.file_attested(&entry, &attested)?;
    }
    Ok(true)
}

/// Whether a fetched artifact may be restored under the policy of required
/// attestations in force ([`RestorePolicy`]); one made here always may. A
/// policy that cannot be read restores nothing fetched, and says why.
pub(super) fn restorable(store_dir: &Path, artifact: &ArtifactRef) -> bool {
    if artifact.local {
        return true;
    }
    match RestorePolicy::load(store_dir, |k| std::env::var(k).ok()) {
        Ok(policy) => policy.allows(artifact),
        Err(e) => {
            eprintln!("cargo-ipfs: {}; compiling what was fetched", Chain(&e));
            false
        }
    }
}

/// Under the policy the build was handed down (or configured), the keys
/// of the trusted rebuilders that attest `entry`, counted as a fetch
/// counts them; `None` when too few do, and the entry is not fetched. With
/// a policy configured but none handed down (a build not started by
/// `cargo ipfs build` or `install`), nothing is fetched on demand.
pub(crate) fn attested_on_demand(
    env: &WrapperEnv,
    store: &DiskStore,
    reader: &dyn BlockStore,
    entry: &Entry,
) -> anyhow::Result<Option<Vec<String>>> {
    let Some(text) = &env.attesting else {
        let required = RestorePolicy::load(store.root(), |k| std::env::var(k).ok()).map_or(1, |p| p.require);
        return Ok((required == 0).then(Vec::new));
    };
    let attesting: Attesting = serde_json::from_str(text).with_context(|| {
        format!("{} is malformed; run the build through `cargo ipfs build`", crate::vars::ATTESTING)
    })?;
    let tally = attesting.tally_all(reader, &entry.name, std::slice::from_ref(entry))?.remove(0);
    Ok(attesting.allows(&tally).then_some(tally.keys))
}

/// The local store in front of the sources.
pub(super) type Remote = Layered<DiskStore, Sources>;

/// The entries of crate `name` in the index handed down to the wrappers,
/// and the store in front of the sources they were read through; `None`
/// when no index was handed down, or every gateway failed for an earlier
/// unit of this build (this one then compiles at once, and says nothing:
/// the first failure was said).
pub(super) fn index_entries(
    env: &WrapperEnv,
    store: &DiskStore,
    name: &str,
) -> anyhow::Result<Option<(Vec<Entry>, Remote)>> {
    let Some(shards) = &env.index_shards else { return Ok(None) };
    let gateways = crate::sources::config::gateway_list(&env.gateways);
    let Some(sources) = Sources::open(&gateways, env.kubo.as_deref(), None, Some(store.root()))? else {
        return Ok(None);
    };
    if sources.all_avoided() {
        return Ok(None);
    }
    let shards = crate::formats::block::parse_cid(shards)?;
    let layered = Layered::new(store.clone(), sources);
    let entries = crate::index::tree::lookup(&layered, &shards, name)?;
    Ok(Some((entries, layered)))
}

/// Places every output of the artifact into the out-dir (each by one
/// rename) from its unpacked copy, making the copy first when it is missing,
/// and replays rustc's output. Nothing is placed unless the artifact passes
/// [`checked`].
fn restore(store: &DiskStore, store_dir: &Path, artifact: &ArtifactRef, unit: &Unit) -> anyhow::Result<ExitCode> {
    let expected = unit.inv.expected_outputs(&TargetNaming::for_target(&unit.target));
    let unpacked = Unpacked::new(store_dir);
    let copy = match unpacked.get(&artifact.cid) {
        Some(copy) => copy,
        None => {
            // Streamed from the verified blocks into a new copy; the blocks'
            // sha256 is the cache map's.
            let packed = Packed {
                cid: &artifact.cid,
                size: artifact.size,
                sha256: &artifact.sha256,
                unpacked_limit: MAX_ARTIFACT,
            };
            let mut get = |c: &cid::Cid| store.get_required(c);
            match stream_into_copy(&unpacked, &packed, &mut get, &mut |_, _| Ok(())) {
                Ok(copy) => copy,
                Err(Unfiled::Bytes(e)) => return Err(e),
                // No room for the copy (or no right to write it): restore
                // from memory this time, when the artifact is small enough
                // to hold.
                Err(Unfiled::Content(e)) if artifact.size > IN_MEMORY => return Err(e),
                Err(Unfiled::Content(_)) => {
                    let (meta, files) = read_unpacked(store, artifact)?;
                    return restore_files(&meta, &files, unit, &expected);
                }
            }
        }
    };
    let names = copy.manifest.files.iter().map(|f| f.name.as_str());
    let output = match checked(&copy.manifest.meta, names, unit, &expected) {
        Ok(output) => output,
        Err(refused) => {
            // Made again from the verified blocks next time, in case only
            // this copy was damaged.
            unpacked.discard(&artifact.cid);
            return Err(refused.into());
        }
    };
    for file in &copy.manifest.files {
        let src = copy.file(&file.name);
        let dest = unit.inv.out_dir.join(&file.name);
        if file.name.ends_with(".d") {
            let text = std::fs::read_to_string(&src).with_context(|| format!("cannot read {}", src.display()))?;
            let bytes = unit.map.expand_text_escaped(&text, Escaping::DepInfo).into_bytes();
            write_output(&unit.inv.out_dir, &file.name, &bytes, file.executable)?;
            let _ = unit.digests.remember(&dest, &bytes);
        } else {
            place(&src, &dest, file.executable).with_context(|| format!("cannot place {}", dest.display()))?;
            // Dependents key on this file's digest: file it now, while known.
            let _ = unit.digests.remember_digest(&dest, &file.sha256);
        }
    }
    replay(&output)
}

/// The checks of [`super::replay`] on an artifact about to be restored:
/// its files are exactly this invocation's outputs, its status a success,
/// and its output, expanded to this machine's paths, what rustc prints.
/// Returns that output.
fn checked<'a>(
    meta: &Meta,
    names: impl IntoIterator<Item = &'a str>,
    unit: &Unit,
    expected: &[(String, OutputKind)],
) -> Result<(String, String), Refused> {
    check_status(meta.status)?;
    check_files(names, expected)?;
    // With --error-format=json, paths sit inside JSON strings.
    let json = unit.inv.error_format.as_deref() == Some("json");
    let escaping = if json { Escaping::Json } else { Escaping::Plain };
    let stdout = unit.map.expand_text(&meta.stdout);
    let stderr = unit.map.expand_text_escaped(&meta.stderr, escaping);
    check_output(&stdout, &stderr, json, &unit.inv.out_dir, expected)?;
    Ok((stdout, stderr))
}

/// Reads and unpacks an artifact from the store, every block verified (by
/// the store's `get`, so not hashed a second time), refused unless it is of
/// the size the cache map names.
fn read_unpacked(store: &DiskStore, artifact: &ArtifactRef) -> anyhow::Result<(Meta, Vec<PackedFile>)> {
    let packed = read_artifact(&artifact.cid, artifact.size, &mut |c| store.get_required(c))?;
    Ok(unpack(&packed, 4 * IN_MEMORY)?)
}

/// The largest artifact restored from memory when its unpacked copy cannot
/// be written (it decompresses to at most four times that): beyond it, the
/// unit compiles.
const IN_MEMORY: u64 = 64 << 20;

/// Writes every output from memory and replays rustc's output, after the
/// same checks as [`restore`].
fn restore_files(
    meta: &Meta,
    files: &[PackedFile],
    unit: &Unit,
    expected: &[(String, OutputKind)],
) -> anyhow::Result<ExitCode> {
    let output = checked(meta, files.iter().map(|f| f.name.as_str()), unit, expected)?;
    for file in files {
        let bytes = if file.name.ends_with(".d") {
            unit.map.expand_text_escaped(&String::from_utf8_lossy(&file.bytes), Escaping::DepInfo).into_bytes().into()
        } else {
            file.bytes.clone()
        };
        write_output(&unit.inv.out_dir, &file.name, &bytes, file.executable)?;
        let _ = unit.digests.remember(&unit.inv.out_dir.join(&file.name), &bytes);
    }
    replay(&output)
}

/// Replays rustc's standard output and error, checked; a hit is always a
/// success.
fn replay((stdout, stderr): &(String, String)) -> anyhow::Result<ExitCode> {
    std::io::stdout().write_all(stdout.as_bytes())?;
    std::io::stderr().write_all(stderr.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn write_output(dir: &Path, name: &str, bytes: &[u8], executable: bool) -> anyhow::Result<()> {
    let mode = if executable { 0o755 } else { 0o644 };
    let options = Options { prefix: ".cargo-ipfs-", mode: Some(mode), ..Options::new(Durability::Unsynced) };
    replace_with(&dir.join(name), options, |file| file.write_all(bytes))?;
    Ok(())
}
