//! Recording a miss: rustc runs with its output passed through and kept;
//! the outputs are packed, stored as a UnixFS file, kept unpacked for the
//! next hit, filed in the cache map, and journaled for `publish` when they
//! may go to other machines (a registry crate, no machine path inside).

use super::args::{OutputKind, TargetNaming};
use super::env::WrapperEnv;
use super::local_sources::LocalSources;
use super::unit::Unit;
use crate::artifact::cache::{env_digest, ArtifactRef, Cache};
use crate::artifact::pack::{check_name, file_digest, pack, Meta, PackedFile};
use crate::artifact::unpacked::Unpacked;
use crate::formats::unixfs::{import_bytes, ImportParams};
use crate::index::{Entry, Output};
use crate::store::{BlockStore, DiskStore};
use anyhow::{bail, Context};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// The codegen options that make an entry's profile.
const PROFILE_OPTIONS: &[&str] = &[
    "opt-level",
    "debuginfo",
    "debug-assertions",
    "overflow-checks",
    "panic",
    "lto",
    "codegen-units",
    "strip",
    "embed-bitcode",
];

/// Runs rustc, passing its output through as it comes and keeping a copy.
pub fn run_capturing(rustc: &Path, args: &[OsString]) -> anyhow::Result<(i32, String, String)> {
    let mut child = Command::new(rustc)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", rustc.display()))?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let (stdout, stderr) = std::thread::scope(|s| {
        let handle = s.spawn(|| tee(&mut out, &mut std::io::stdout()));
        let stderr = tee(&mut err, &mut std::io::stderr());
        (handle.join().expect("stdout thread"), stderr)
    });
    let status = child.wait()?.code().unwrap_or(1);
    Ok((status, String::from_utf8_lossy(&stdout?).into_owned(), String::from_utf8_lossy(&stderr?).into_owned()))
}

/// Copies `reader` to `sink` as it comes (flushed, so that cargo sees each
/// line when it is written), keeping a copy. A sink that fails (cargo went
/// away) does not stop the copy.
pub(super) fn tee(reader: &mut dyn Read, sink: &mut dyn Write) -> std::io::Result<Vec<u8>> {
    let mut copy = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(copy);
        }
        let _ = sink.write_all(&buf[..n]).and_then(|()| sink.flush());
        copy.extend_from_slice(&buf[..n]);
    }
}

/// After a path or git crate compiled: the key that covers the files its
/// dep-info lists, filed for the next lookup.
pub fn local_key_after(unit: &Unit, pre_key: &str, store_dir: &Path) -> anyhow::Result<String> {
    let path = unit.dep_info_path()?;
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let read = super::depinfo::parse(&text)?.files;
    Ok(LocalSources::new(store_dir).add(pre_key, &read, &unit.digests)?)
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Packs the outputs, stores the pack, and notes it in the cache and journal.
pub fn record(
    env: &WrapperEnv,
    store: &DiskStore,
    cache: &Cache,
    unit: &Unit,
    stdout: &str,
    stderr: &str,
    compile_ms: u64,
) -> anyhow::Result<()> {
    let naming = TargetNaming::for_target(&unit.target);
    let mut files = Vec::new();
    let mut outputs = Vec::new();
    let mut env_deps = Vec::new();
    for (name, kind) in unit.inv.expected_outputs(&naming) {
        let path = unit.inv.out_dir.join(&name);
        // A hit restores exactly these outputs: one rustc did not write
        // would make an artifact that never hits.
        let bytes = std::fs::read(&path).with_context(|| format!("rustc did not write {}", path.display()))?;
        // Read in full just after rustc wrote it: file its digest for the
        // dependents that key on it.
        let _ = unit.digests.remember(&path, &bytes);
        let bytes = if kind == OutputKind::DepInfo {
            let text = unit.map.normalize_text(&String::from_utf8(bytes).context("dep-info is not UTF-8")?);
            // Normalized, so that the pack holds no machine path.
            env_deps = super::depinfo::parse(&text)?.env;
            text.into_bytes()
        } else {
            bytes
        };
        let executable = matches!(kind, OutputKind::Bin);
        check_name(&name)?;
        outputs.push(Output { name: name.clone(), kind });
        files.push(PackedFile { name, executable, bytes: bytes.into() });
    }
    if files.is_empty() {
        bail!("this invocation writes no output to record");
    }
    // Dep-info order is rustc's; sort so the pack's bytes never depend on it.
    env_deps.sort();
    env_deps.dedup();
    let mut env_names: Vec<String> = env_deps.iter().map(|(n, _)| n.clone()).collect();
    env_names.sort();
    env_names.dedup();
    // An output that still holds one of this machine's paths (say from
    // `env!("CARGO_MANIFEST_DIR")` used as a value; debug info is remapped)
    // is only valid where the paths are the same: file it under the raw
    // values of the variables it read. Otherwise under normalized values, so
    // that OUT_DIR and friends match across machines.
    let portable = !files.iter().any(|f| unit.map.prefixes().any(|prefix| contains(&f.bytes, prefix.as_bytes())));
    let env_values = if portable {
        env_digest(&env_names, |n| env.value(n).map(|v| unit.map.normalize_text(&v)))
    } else {
        env_digest(&env_names, |n| env.value(n))
    };
    let meta = Meta {
        stdout: unit.map.normalize_text(stdout),
        stderr: unit.map.normalize_text(stderr),
        status: 0,
        env_deps,
        format: crate::artifact::pack::PACK_VERSION,
    };
    let packed = pack(&meta, &files);
    let unpacked_size = crate::artifact::pack::unpacked_size(&packed).context("a pack declares its unpacked size")?;
    let (file, blocks) = import_bytes(ImportParams::UNIXFS_V1_2025, &packed)?;
    for block in &blocks {
        store.put(block)?;
    }
    // Ready for the next hit; without it, that hit makes the copy.
    let _ = Unpacked::new(store.root()).put(&file.cid.to_string(), &meta, &files);
    let sha256 = file_digest(&packed);
    let artifact = ArtifactRef {
        cid: file.cid.to_string(),
        sha256: sha256.clone(),
        size: packed.len() as u64,
        compile_ms,
        local: true,
        attested_by: Vec::new(),
    };
    // Only portable artifacts of registry crates may go to other machines
    // (and `publish` sends only crates.io's unless a flag names the registry).
    if unit.source.registry && portable {
        let lookup_key =
            if env_names.is_empty() { unit.key.clone() } else { format!("{}{}", unit.key, &env_values[..16]) };
        let entry = Entry {
            name: unit.source.name.clone(),
            version: unit.source.version.clone(),
            source: unit.source.source.clone(),
            checksum: unit.source.checksum.clone(),
            key: lookup_key,
            cid: file.cid.to_string(),
            size: packed.len() as u64,
            unpacked_size,
            sha256,
            outputs,
            rustc: unit.rustc.short(),
            target: unit.target.clone(),
            profile: profile(unit),
            features: features(unit),
            crate_types: unit.inv.crate_types.clone(),
            deps: unit.externs.iter().cloned().collect(),
            built_at: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            builder: env.builder.clone(),
            build_ms: compile_ms.min(crate::index::entry::MAX_BUILD_MS),
            inputs: unit.inputs.clone(),
            run: None,
        };
        cache.journal(&entry)?;
    }
    // Journaled first: a later hit never journals, so an artifact filed in
    // the cache map without its journal line (the disk filled up between
    // the two) would never be published.
    cache.put(&unit.key, &env_names, &env_values, artifact)?;
    if unit.source.registry {
        // For `why-miss`: what a later miss of this crate is compared with.
        let _ = super::misses::add_record(
            store.root(),
            &unit.source.name,
            &keyed(unit, super::misses::MissKind::Compilation),
        );
    }
    Ok(())
}

/// A registry unit with the named inputs of its key, for `why-miss`.
pub fn keyed(unit: &Unit, kind: super::misses::MissKind) -> super::misses::Keyed {
    super::misses::Keyed {
        kind,
        version: unit.source.version.clone(),
        crate_types: unit.inv.crate_types.clone(),
        key: unit.key.clone(),
        rustc: unit.rustc.short(),
        inputs: unit.inputs.clone(),
        at: super::misses::now(),
    }
}

/// The unit's profile, as an entry names it: the codegen options of
/// [`PROFILE_OPTIONS`] given.
fn profile(unit: &Unit) -> std::collections::BTreeMap<String, String> {
    unit.inv
        .codegen
        .iter()
        .filter(|(k, _)| PROFILE_OPTIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
        .collect()
}

/// The features the unit was compiled with, from its `--cfg feature="..."`.
fn features(unit: &Unit) -> Vec<String> {
    unit.inv
        .cfgs
        .iter()
        .filter_map(|c| c.strip_prefix("feature=\"").and_then(|f| f.strip_suffix('"')).map(str::to_string))
        .collect()
}
