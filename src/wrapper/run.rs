//! The wrapper's hot path: `cargo-ipfs RUSTC ARGS...` as cargo runs it.
//!
//! Decide whether the compilation is cacheable; if so compute its key,
//! restore a recorded artifact on a hit, or run rustc (and, in record mode,
//! pack and store the outputs) on a miss. Any cache problem is logged in one
//! line and the compilation runs normally: the cache never breaks a build.
//! No async runtime and no network here.

use super::args::{analyze, Analysis, Invocation, NotCacheable, TargetNaming};
use super::cache::{env_digest, ArtifactRef, Cache};
use super::digest::Digests;
use super::identity::{linker_identity, rustc_identity, RustcIdentity};
use super::key::{cache_key, KeyInputs};
use super::local::{self, LocalSources};
use super::pack::{pack, unpack, Meta, PackedFile};
use super::paths::{normalize_args, Escaping, PathMap};
use super::stats::{self, Event};
use super::unpacked::{linkable, place, Unpacked};
use crate::formats::unixfs::{import_bytes, ImportParams};
use crate::index::{Entry, Output, OutputKind};
use crate::report::Chain;
use crate::store::{BlockStore, DiskStore};
use anyhow::{bail, Context};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// How the wrapper behaves (`CARGO_IPFS_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run rustc, touch nothing.
    Off,
    /// Restore hits, compile misses.
    Read,
    /// Restore hits, compile and record misses.
    Record,
}

impl Mode {
    /// Reads `CARGO_IPFS_MODE` (default `read`).
    pub fn from_env() -> Mode {
        match std::env::var("CARGO_IPFS_MODE").as_deref() {
            Ok("off") => Mode::Off,
            Ok("record") => Mode::Record,
            _ => Mode::Read,
        }
    }
}

/// The largest artifact restored (decompressed), so a corrupt or hostile
/// pack cannot fill memory.
const MAX_ARTIFACT: u64 = 4 << 30;
/// OUT_DIR contents beyond these bounds make a crate not cacheable.
const MAX_OUT_DIR_FILES: usize = 10_000;

/// Whether `program` (cargo's first argument to a wrapper) is a rustc.
pub fn is_rustc(program: &std::ffi::OsStr) -> bool {
    let name = Path::new(program).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    name == "rustc" || name.starts_with("rustc-") || name == "clippy-driver"
}

/// Runs as a rustc wrapper: `args` are `[self, rustc, rustc args...]`.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let started = Instant::now();
    let rustc = PathBuf::from(&args[1]);
    let rustc_args = &args[2..];
    let mode = Mode::from_env();
    if mode == Mode::Off {
        return exec_plain(&rustc, rustc_args);
    }
    let Some(store_dir) = store_dir() else { return exec_plain(&rustc, rustc_args) };
    match wrap(&rustc, rustc_args, mode, &store_dir, started) {
        Ok(code) => code,
        Err(failure) => {
            let kind = failure.kind;
            eprintln!("cargo-ipfs: cache {kind} error ({}); compiling normally", Chain(&failure.error));
            let _ = stats::record(&store_dir, &Event::Error(kind.to_string()));
            let mut all: Vec<OsString> = rustc_args.to_vec();
            all.extend(failure.remap.into_iter().map(OsString::from));
            exec_plain(&rustc, &all)
        }
    }
}

fn store_dir() -> Option<PathBuf> {
    match std::env::var_os("CARGO_IPFS_STORE") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => home::cargo_home().ok().map(|h| h.join("ipfs")),
    }
}

/// A failure before rustc ran, with the remap flags to keep (so the fallback
/// compile makes the same bytes other machines make).
struct Failure {
    kind: &'static str,
    error: anyhow::Error,
    remap: Vec<String>,
}

fn fail<'a>(kind: &'static str, remap: &'a [String]) -> impl FnOnce(anyhow::Error) -> Failure + 'a {
    move |error| Failure { kind, error, remap: remap.to_vec() }
}

/// Runs rustc with the wrapper's own process replaced where possible.
fn exec_plain(rustc: &Path, args: &[OsString]) -> ExitCode {
    let mut cmd = Command::new(rustc);
    cmd.args(args);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = cmd.exec();
        eprintln!("cargo-ipfs: cannot run {}: {err}", rustc.display());
        ExitCode::FAILURE
    }
    #[cfg(not(unix))]
    match cmd.status() {
        Ok(status) => ExitCode::from(status.code().unwrap_or(1) as u8),
        Err(err) => {
            eprintln!("cargo-ipfs: cannot run {}: {err}", rustc.display());
            ExitCode::FAILURE
        }
    }
}

/// Where the crate comes from, when it is a registry crate.
struct Source {
    name: String,
    version: String,
    /// `registry+URL` as in Cargo.lock (crates.io), `registry+local:DIR`
    /// for another registry (DIR is its folder under
    /// `$CARGO_HOME/registry/src/`, `HOST-HASH`), or a local description.
    source: String,
    checksum: String,
    /// A registry crate, which its `.crate` checksum identifies anywhere:
    /// journaled when recorded (`publish` sends only crates.io's unless
    /// told otherwise). Path and git crates are only ever cached locally.
    registry: bool,
}

/// A registry crate's identity: its package directory sits at
/// `$CARGO_HOME/registry/src/<registry>/<name>-<version>`, and the `.crate`
/// file cargo verified against the lockfile checksum at
/// `$CARGO_HOME/registry/cache/<registry>/<name>-<version>.crate`.
fn registry_source(cargo_home: &Path, digests: &Digests) -> anyhow::Result<Option<Source>> {
    let Some(manifest_dir) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else { return Ok(None) };
    let Ok(rel) = manifest_dir.strip_prefix(cargo_home.join("registry").join("src")) else { return Ok(None) };
    let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned());
    let (Some(registry), Some(package)) = (parts.next(), parts.next()) else { return Ok(None) };
    let name = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    if package != format!("{name}-{version}") {
        return Ok(None);
    }
    let crate_file = cargo_home.join("registry").join("cache").join(&registry).join(format!("{package}.crate"));
    if !crate_file.is_file() {
        return Ok(None);
    }
    let checksum = digests.of(&crate_file).with_context(|| format!("cannot hash {}", crate_file.display()))?;
    let crates_io = registry.starts_with("index.crates.io-") || registry.starts_with("github.com-");
    let source = if crates_io {
        crate::index::entry::CRATES_IO_SOURCE.to_string()
    } else {
        format!("registry+local:{registry}")
    };
    Ok(Some(Source { name, version, source, checksum, registry: true }))
}

/// A path or git crate, cached only with `CARGO_IPFS_LOCAL` (see
/// [`super::local`]): named by its manifest directory (normalized with the
/// other paths before it enters the key), never journaled.
fn local_source() -> Option<Source> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    Some(Source {
        name: std::env::var("CARGO_PKG_NAME").ok()?,
        version: std::env::var("CARGO_PKG_VERSION").ok()?,
        source: format!("local:{}", Path::new(&dir).display()),
        checksum: String::new(),
        registry: false,
    })
}

/// After a path or git crate compiled: the key that covers the files its
/// dep-info lists, filed for the next lookup.
fn local_key_after(p: &Prepared, pre_key: &str, store_dir: &Path) -> anyhow::Result<String> {
    let naming = TargetNaming::for_target(&p.target);
    let (name, _) = p
        .inv
        .expected_outputs(&naming)
        .into_iter()
        .find(|(_, kind)| *kind == super::args::OutputKind::DepInfo)
        .context("no dep-info output")?;
    let path = p.inv.out_dir.join(name);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let read = super::depinfo::parse(&text)?.files;
    Ok(LocalSources::new(store_dir).add(pre_key, &read, &p.digests)?)
}

/// The working directory as the workspace prefix, unless it is the root or
/// already a prefix or under one (a git checkout in CARGO_HOME). A prefix
/// under it, such as cargo's default `<workspace>/target`, is fine: the
/// longest prefix wins.
fn workspace_dir(prefixes: &[(PathBuf, String)]) -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let covered = prefixes.iter().any(|(prefix, _)| cwd.starts_with(prefix));
    (cwd.parent().is_some() && cwd.to_str().is_some() && !covered).then_some(cwd)
}

/// The target directory: the nearest ancestor of `out_dir` holding cargo's
/// `CACHEDIR.TAG`, else `CARGO_TARGET_DIR`.
fn target_dir(out_dir: &Path) -> Option<PathBuf> {
    out_dir
        .ancestors()
        .take(6)
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
}

fn out_dir_digests(digests: &Digests) -> anyhow::Result<Option<Vec<(String, String)>>> {
    let Some(dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else { return Ok(Some(Vec::new())) };
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else { continue };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                if files.len() >= MAX_OUT_DIR_FILES {
                    return Ok(None);
                }
                let rel = path.strip_prefix(&dir).unwrap_or(&path).to_string_lossy().into_owned();
                files.push((rel, digests.of(&path)?));
            }
        }
    }
    files.sort();
    Ok(Some(files))
}

/// The native libraries a crate names with `-l` (bundled into an rlib when
/// static, linked into executables), each with the digest of the first file
/// that provides it in the `-L` directories (native or unqualified ones, in
/// order), or `-` when none does (the linker then finds it in the system's
/// directories, which the linker identity covers for libc; other system
/// libraries are linked dynamically or named by their flag only).
fn native_lib_digests(inv: &Invocation, digests: &Digests) -> anyhow::Result<Vec<(String, String)>> {
    let mut native = Vec::new();
    for spec in &inv.libs {
        let (kind, rest) = match spec.split_once('=') {
            Some((kind, rest)) => (kind.split(':').next().unwrap_or(kind), rest),
            None => ("", spec.as_str()),
        };
        let name = rest.split(':').next().unwrap_or(rest);
        let candidates: Vec<String> = match kind {
            "static" => vec![format!("lib{name}.a"), format!("{name}.lib")],
            "framework" | "link-arg" => Vec::new(),
            _ => {
                vec![format!("lib{name}.so"), format!("lib{name}.dylib"), format!("lib{name}.a"), format!("{name}.lib")]
            }
        };
        let found = inv
            .lib_search
            .iter()
            .filter(|(kind, _)| matches!(kind.as_deref(), None | Some("native") | Some("all")))
            .flat_map(|(_, dir)| candidates.iter().map(move |c| dir.join(c)))
            .find(|path| path.is_file());
        let digest = match found {
            Some(path) => digests.of(&path).with_context(|| format!("cannot hash -l {spec} at {}", path.display()))?,
            None => "-".to_string(),
        };
        native.push((spec.clone(), digest));
    }
    Ok(native)
}

fn not_cacheable(store_dir: &Path, reason: &str) {
    let _ = stats::record(store_dir, &Event::NotCacheable(reason.to_string()));
}

fn exit_code(status: i32) -> ExitCode {
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}

/// Everything computed before the lookup.
struct Prepared {
    inv: Invocation,
    digests: Digests,
    source: Source,
    map: PathMap,
    remap: Vec<String>,
    rustc: RustcIdentity,
    target: String,
    key: String,
    externs: Vec<(String, String)>,
}

fn wrap(rustc: &Path, args: &[OsString], mode: Mode, store_dir: &Path, started: Instant) -> Result<ExitCode, Failure> {
    let inv = match analyze(args) {
        Analysis::Cacheable(inv) => inv,
        Analysis::NotCacheable(reason) => {
            not_cacheable(store_dir, reason.as_str());
            return Ok(exec_plain(rustc, args));
        }
    };
    let none: &[String] = &[];
    let digests = Digests::new(store_dir);
    let cargo_home = home::cargo_home().map_err(|e| fail("setup", none)(e.into()))?;
    let source = match registry_source(&cargo_home, &digests).map_err(fail("source", none))? {
        Some(source) => source,
        None => match local_source() {
            Some(source) if local::enabled() && inv.emits_dep_info() => source,
            _ => {
                not_cacheable(store_dir, "not a registry crate");
                return Ok(exec_plain(rustc, args));
            }
        },
    };
    let is_local = source.checksum.is_empty();
    // Incremental outputs depend on the session's history: fine for this
    // store's path crates, never for artifacts that may be published.
    if inv.incremental && !is_local {
        not_cacheable(store_dir, NotCacheable::Incremental.as_str());
        return Ok(exec_plain(rustc, args));
    }
    let identity_dir = store_dir.join("wrapper").join("identity");
    let rustc_id = rustc_identity(&identity_dir, rustc).map_err(fail("rustc identity", none))?;
    let mut prefixes = vec![(cargo_home.clone(), "/cargo-home".to_string())];
    if let Some(target) = target_dir(&inv.out_dir) {
        prefixes.push((target, "/target".to_string()));
    }
    prefixes.push((rustc_id.sysroot.clone(), "/rustc-sysroot".to_string()));
    // Cargo compiles a path crate from the workspace root: normalized like
    // the other prefixes, a clone of the project elsewhere shares its hits.
    if is_local {
        if let Some(cwd) = workspace_dir(&prefixes) {
            prefixes.push((cwd, "/workspace".to_string()));
        }
    }
    let map = PathMap::new(prefixes).map_err(|e| fail("paths", none)(e.into()))?;
    let remap = map.remap_args();
    let prepared = prepare(inv, source, map, remap.clone(), rustc_id, &digests, &identity_dir, store_dir)
        .map_err(fail("key", &remap))?;
    let Some(mut prepared) = prepared else {
        let mut all = args.to_vec();
        all.extend(remap.iter().map(OsString::from));
        return Ok(exec_plain(rustc, &all));
    };
    // A path or git crate's key also covers the sources it read last time.
    let pre_key = prepared.key.clone();
    if is_local {
        if let Some(key) = LocalSources::new(store_dir).resolve(&pre_key, &digests) {
            prepared.key = key;
        }
    }
    let store = DiskStore::open(store_dir).map_err(|e| fail("store", &remap)(e.into()))?;
    let cache = Cache::new(store_dir);
    if let Some(code) = try_hit(&store, &cache, &prepared, store_dir, started) {
        return Ok(code);
    }
    match fetch_on_demand(&store, &cache, &prepared) {
        Ok(true) => {
            if let Some(code) = try_hit(&store, &cache, &prepared, store_dir, started) {
                return Ok(code);
            }
        }
        Ok(false) => {}
        Err(e) => {
            eprintln!("cargo-ipfs: cannot fetch {} ({}); compiling normally", prepared.inv.crate_name, Chain(&e));
            let _ = stats::record(store_dir, &Event::Error("fetch".into()));
        }
    }
    let mut all = args.to_vec();
    all.extend(prepared.remap.iter().map(OsString::from));
    if mode != Mode::Record {
        let _ = stats::record(store_dir, &Event::Miss { recorded: false });
        return Ok(exec_plain(rustc, &all));
    }
    let started = Instant::now();
    let (status, stdout, stderr) = run_capturing(rustc, &all).map_err(fail("rustc", &remap))?;
    let elapsed = started.elapsed().as_millis() as u64;
    let mut recorded = false;
    if status == 0 {
        // A path or git crate is filed under the key of the sources it read.
        let keyed = if is_local {
            local_key_after(&prepared, &pre_key, store_dir).map(|key| prepared.key = key)
        } else {
            Ok(())
        };
        match keyed.and_then(|()| record(&store, &cache, &prepared, &stdout, &stderr, elapsed)) {
            Ok(()) => recorded = true,
            Err(e) => {
                eprintln!(
                    "cargo-ipfs: cannot record {} ({}); the build is unaffected",
                    prepared.inv.crate_name,
                    Chain(&e)
                );
                let _ = stats::record(store_dir, &Event::Error("record".into()));
            }
        }
    }
    let _ = stats::record(store_dir, &Event::Miss { recorded });
    Ok(exit_code(status))
}

/// Restores a recorded artifact for the prepared key, if there is one.
fn try_hit(
    store: &DiskStore,
    cache: &Cache,
    prepared: &Prepared,
    store_dir: &Path,
    started: Instant,
) -> Option<ExitCode> {
    let record = cache.get(&prepared.key)?;
    // A portable artifact is filed under the normalized values of the
    // variables it read, a machine-specific one under their raw values.
    let portable = env_digest(&record.env_names, |n| std::env::var(n).ok().map(|v| prepared.map.normalize_text(&v)));
    let raw = env_digest(&record.env_names, |n| std::env::var(n).ok());
    let artifact = record.variants.get(&portable).or_else(|| record.variants.get(&raw))?;
    match restore(store, store_dir, artifact, prepared) {
        Ok(code) => {
            let took_us = started.elapsed().as_micros() as u64;
            let event = Event::Hit { bytes: artifact.size, saved_ms: artifact.compile_ms, took_us };
            let _ = stats::record(store_dir, &event);
            Some(code)
        }
        Err(e) => {
            // Outputs are restored by rename, so whatever was done is
            // replaced by the compilation that follows.
            eprintln!("cargo-ipfs: cannot restore {} ({}); compiling normally", prepared.inv.crate_name, Chain(&e));
            let _ = stats::record(store_dir, &Event::Error("restore".into()));
            None
        }
    }
}

/// On a local miss, when `cargo ipfs install` handed down a verified index
/// (`CARGO_IPFS_INDEX_SHARDS`) and where to fetch from (`CARGO_IPFS_GATEWAYS`
/// or `CARGO_IPFS_KUBO`), looks up this crate's entry with exactly this key
/// and fetches its artifact. Returns whether it fetched one.
fn fetch_on_demand(store: &DiskStore, cache: &Cache, p: &Prepared) -> anyhow::Result<bool> {
    let Ok(shards) = std::env::var("CARGO_IPFS_INDEX_SHARDS") else { return Ok(false) };
    if !p.source.registry {
        return Ok(false);
    }
    let gateways = crate::fetch::config::gateway_list(&std::env::var("CARGO_IPFS_GATEWAYS").unwrap_or_default());
    let kubo = std::env::var("CARGO_IPFS_KUBO").ok().filter(|k| !k.trim().is_empty());
    let Some(remote) = crate::fetch::remote::Remote::open(&gateways, kubo.as_deref(), None)? else { return Ok(false) };
    let shards = crate::formats::block::parse_cid(&shards)?;
    let layered = crate::store::Layered::new(store.clone(), remote);
    let entries = crate::index::tree::lookup(&layered, &shards, &p.source.name)?;
    let Some(entry) = entries.into_iter().find(|e| e.key.starts_with(&p.key) && e.checksum == p.source.checksum) else {
        return Ok(false);
    };
    crate::fetch::fetch_one(store, &layered, Some(layered.remote()), cache, &entry, Instant::now())?;
    Ok(true)
}

#[allow(clippy::too_many_arguments)]
fn prepare(
    inv: Invocation,
    source: Source,
    map: PathMap,
    remap: Vec<String>,
    rustc: RustcIdentity,
    digests: &Digests,
    identity_dir: &Path,
    store_dir: &Path,
) -> anyhow::Result<Option<Prepared>> {
    let target = inv.target.clone().unwrap_or_else(|| rustc.host.clone());
    let mut externs = Vec::new();
    for ext in &inv.externs {
        if let Some(path) = &ext.path {
            let digest = digests.of(path).with_context(|| format!("cannot hash --extern {}", path.display()))?;
            externs.push((ext.name.clone(), digest));
        }
    }
    externs.sort();
    let Some(out_dir) = out_dir_digests(digests)? else {
        not_cacheable(store_dir, "OUT_DIR too large");
        return Ok(None);
    };
    let native = native_lib_digests(&inv, digests)?;
    let linker = if inv.is_linked() {
        let program = inv
            .codegen
            .iter()
            .find(|(k, _)| k == "linker")
            .and_then(|(_, v)| v.clone())
            .unwrap_or_else(|| "cc".to_string());
        Some(linker_identity(identity_dir, Path::new(&program))?)
    } else {
        None
    };
    let args = normalize_args(&inv, &map);
    let origin = match source.source.strip_prefix("local:") {
        Some(dir) => format!("local:{}", map.normalize_path(Path::new(dir))),
        None => source.source.clone(),
    };
    let source_id = format!("{} {} {} {}", source.name, source.version, origin, source.checksum);
    let inputs = KeyInputs {
        rustc: &rustc,
        target: &target,
        source: &source_id,
        args: &args,
        externs: &externs,
        out_dir: &out_dir,
        native: &native,
        linker: linker.as_ref(),
    };
    let key = cache_key(&inputs);
    // `CARGO_IPFS_EXPLAIN=DIR` writes every key's inputs there, to find out
    // why two machines (or two builds) do not share a hit.
    if let Some(dir) = std::env::var_os("CARGO_IPFS_EXPLAIN") {
        let explain = serde_json::json!({
            "key": key, "crate": inv.crate_name, "rustc": rustc.verbose_version, "sysroot": rustc.sysroot_digest,
            "target": target, "source": source_id, "args": args, "externs": externs, "out_dir": out_dir,
            "native": native, "linker": linker,
        });
        let dir = PathBuf::from(dir);
        let _ = std::fs::create_dir_all(&dir);
        let name = format!("{}-{}.json", inv.crate_name, &key[..12]);
        let _ = std::fs::write(dir.join(name), serde_json::to_vec_pretty(&explain).unwrap_or_default());
    }
    Ok(Some(Prepared { inv, digests: digests.clone(), source, map, remap, rustc, target, key, externs }))
}

/// Places every output of the artifact into the out-dir (each by one
/// rename) from its unpacked copy, making the copy first when it is missing,
/// and replays rustc's output.
fn restore(store: &DiskStore, store_dir: &Path, artifact: &ArtifactRef, p: &Prepared) -> anyhow::Result<ExitCode> {
    let unpacked = Unpacked::new(store_dir);
    let copy = match unpacked.get(&artifact.cid) {
        Some(copy) => copy,
        None => {
            let (meta, files) = read_artifact(store, artifact)?;
            match unpacked.put(&artifact.cid, &meta, &files) {
                Ok(copy) => copy,
                // No room for the copy (or no right to write it): restore
                // from memory this time.
                Err(_) => return restore_files(&meta, &files, p),
            }
        }
    };
    for file in &copy.manifest.files {
        let src = copy.file(&file.name);
        let dest = p.inv.out_dir.join(&file.name);
        if file.name.ends_with(".d") {
            let text = std::fs::read_to_string(&src).with_context(|| format!("cannot read {}", src.display()))?;
            let bytes = p.map.expand_text_escaped(&text, Escaping::DepInfo).into_bytes();
            write_output(&p.inv.out_dir, &file.name, &bytes, file.executable)?;
            let _ = p.digests.remember(&dest, &bytes);
        } else {
            place(&src, &dest, linkable(&file.name), file.executable)
                .with_context(|| format!("cannot place {}", dest.display()))?;
            // Dependents key on this file's digest: file it now, while known.
            let _ = p.digests.remember_digest(&dest, &file.sha256);
        }
    }
    replay(&copy.manifest.meta, p)
}

/// Reads and unpacks an artifact from the store, every block verified (by
/// the store's `get`, so not hashed a second time), refused unless it is of
/// the size the cache map names.
fn read_artifact(store: &DiskStore, artifact: &ArtifactRef) -> anyhow::Result<(Meta, Vec<PackedFile>)> {
    let packed = crate::fetch::read_artifact(&artifact.cid, artifact.size, &mut |c| store.get_required(c))?;
    Ok(unpack(&packed, MAX_ARTIFACT)?)
}

/// Writes every output from memory and replays rustc's output.
fn restore_files(meta: &Meta, files: &[PackedFile], p: &Prepared) -> anyhow::Result<ExitCode> {
    for file in files {
        let bytes = if file.name.ends_with(".d") {
            p.map.expand_text_escaped(&String::from_utf8_lossy(&file.bytes), Escaping::DepInfo).into_bytes().into()
        } else {
            file.bytes.clone()
        };
        write_output(&p.inv.out_dir, &file.name, &bytes, file.executable)?;
        let _ = p.digests.remember(&p.inv.out_dir.join(&file.name), &bytes);
    }
    replay(meta, p)
}

/// Replays rustc's standard output and error with this machine's paths.
fn replay(meta: &Meta, p: &Prepared) -> anyhow::Result<ExitCode> {
    // With --error-format=json, paths sit inside JSON strings.
    let escaping = if p.inv.error_format.as_deref() == Some("json") { Escaping::Json } else { Escaping::Plain };
    std::io::stdout().write_all(p.map.expand_text(&meta.stdout).as_bytes())?;
    std::io::stderr().write_all(p.map.expand_text_escaped(&meta.stderr, escaping).as_bytes())?;
    Ok(exit_code(meta.status))
}

fn write_output(dir: &Path, name: &str, bytes: &[u8], executable: bool) -> anyhow::Result<()> {
    let mut tmp = tempfile::Builder::new().prefix(".cargo-ipfs-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if executable { 0o755 } else { 0o644 };
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    tmp.persist(dir.join(name)).map_err(|e| e.error)?;
    Ok(())
}

/// Runs rustc, passing its output through as it comes and keeping a copy.
fn run_capturing(rustc: &Path, args: &[OsString]) -> anyhow::Result<(i32, String, String)> {
    let mut child = Command::new(rustc)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", rustc.display()))?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let tee = |reader: &mut dyn Read, sink: &mut dyn Write| -> std::io::Result<Vec<u8>> {
        let mut copy = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(copy);
            }
            sink.write_all(&buf[..n])?;
            sink.flush()?;
            copy.extend_from_slice(&buf[..n]);
        }
    };
    let (stdout, stderr) = std::thread::scope(|s| {
        let handle = s.spawn(|| tee(&mut out, &mut std::io::stdout()));
        let stderr = tee(&mut err, &mut std::io::stderr());
        (handle.join().expect("stdout thread"), stderr)
    });
    let status = child.wait()?.code().unwrap_or(1);
    Ok((status, String::from_utf8_lossy(&stdout?).into_owned(), String::from_utf8_lossy(&stderr?).into_owned()))
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn output_kind(kind: super::args::OutputKind) -> OutputKind {
    use super::args::OutputKind as K;
    match kind {
        K::Rlib => OutputKind::Rlib,
        K::Rmeta => OutputKind::Rmeta,
        K::ProcMacro => OutputKind::ProcMacro,
        K::Dylib => OutputKind::Dylib,
        K::Staticlib => OutputKind::Staticlib,
        K::Bin => OutputKind::Bin,
        K::DepInfo => OutputKind::DepInfo,
        K::Other => OutputKind::Other,
    }
}

/// Packs the outputs, stores the pack, and notes it in the cache and journal.
fn record(
    store: &DiskStore,
    cache: &Cache,
    p: &Prepared,
    stdout: &str,
    stderr: &str,
    compile_ms: u64,
) -> anyhow::Result<()> {
    let naming = TargetNaming::for_target(&p.target);
    let mut files = Vec::new();
    let mut outputs = Vec::new();
    let mut env_deps = Vec::new();
    for (name, kind) in p.inv.expected_outputs(&naming) {
        let path = p.inv.out_dir.join(&name);
        let Ok(bytes) = std::fs::read(&path) else { continue };
        // Read in full just after rustc wrote it: file its digest for the
        // dependents that key on it.
        let _ = p.digests.remember(&path, &bytes);
        let bytes = if kind == super::args::OutputKind::DepInfo {
            let text = p.map.normalize_text(&String::from_utf8(bytes).context("dep-info is not UTF-8")?);
            // Normalized, so that the pack holds no machine path.
            env_deps = super::depinfo::parse(&text)?.env;
            text.into_bytes()
        } else {
            bytes
        };
        let executable = matches!(kind, super::args::OutputKind::Bin);
        super::pack::check_name(&name)?;
        outputs.push(Output { name: name.clone(), kind: output_kind(kind) });
        files.push(PackedFile { name, executable, bytes: bytes.into() });
    }
    if files.is_empty() {
        bail!("rustc wrote none of the expected outputs in {}", p.inv.out_dir.display());
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
    let portable = !files.iter().any(|f| p.map.prefixes().any(|prefix| contains(&f.bytes, prefix.as_bytes())));
    let env = if portable {
        env_digest(&env_names, |n| std::env::var(n).ok().map(|v| p.map.normalize_text(&v)))
    } else {
        env_digest(&env_names, |n| std::env::var(n).ok())
    };
    let meta = Meta {
        stdout: p.map.normalize_text(stdout),
        stderr: p.map.normalize_text(stderr),
        status: 0,
        env_deps,
        format: crate::FORMAT_VERSION,
    };
    let packed = pack(&meta, &files);
    let (file, blocks) = import_bytes(ImportParams::UNIXFS_V1_2025, &packed)?;
    for block in &blocks {
        store.put(block)?;
    }
    // Ready for the next hit; without it, that hit makes the copy.
    let _ = Unpacked::new(store.root()).put(&file.cid.to_string(), &meta, &files);
    let sha256 = super::pack::file_digest(&packed);
    let artifact =
        ArtifactRef { cid: file.cid.to_string(), sha256: sha256.clone(), size: packed.len() as u64, compile_ms };
    // Only portable artifacts of registry crates may go to other machines
    // (and `publish` sends only crates.io's unless a flag names the registry).
    if p.source.registry && portable {
        let lookup_key = if env_names.is_empty() { p.key.clone() } else { format!("{}{}", p.key, &env[..16]) };
        let profile = p
            .inv
            .codegen
            .iter()
            .filter(|(k, _)| {
                matches!(
                    k.as_str(),
                    "opt-level"
                        | "debuginfo"
                        | "debug-assertions"
                        | "overflow-checks"
                        | "panic"
                        | "lto"
                        | "codegen-units"
                        | "strip"
                        | "embed-bitcode"
                )
            })
            .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
            .collect();
        let features = p
            .inv
            .cfgs
            .iter()
            .filter_map(|c| c.strip_prefix("feature=\"").and_then(|f| f.strip_suffix('"')).map(str::to_string))
            .collect();
        let entry = Entry {
            name: p.source.name.clone(),
            version: p.source.version.clone(),
            source: p.source.source.clone(),
            checksum: p.source.checksum.clone(),
            key: lookup_key,
            cid: file.cid.to_string(),
            size: packed.len() as u64,
            sha256,
            outputs,
            rustc: p.rustc.short(),
            target: p.target.clone(),
            profile,
            features,
            crate_types: p.inv.crate_types.clone(),
            deps: p.externs.iter().cloned().collect(),
            built_at: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            builder: std::env::var("CARGO_IPFS_BUILDER").unwrap_or_default(),
        };
        cache.journal(&entry)?;
    }
    // Journaled first: a later hit never journals, so an artifact filed in
    // the cache map without its journal line (the disk filled up between
    // the two) would never be published.
    cache.put(&p.key, &env_names, &env, artifact)?;
    Ok(())
}
