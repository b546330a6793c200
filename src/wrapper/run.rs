//! The wrapper's entry point: `cargo-ipfs RUSTC ARGS...` as cargo runs it.
//!
//! Decide whether the compilation is cacheable; if so key it
//! ([`super::unit`]), restore a recorded artifact on a hit
//! ([`super::hit`]), or run rustc (and, in record mode, record the outputs,
//! [`super::record`]) on a miss. Any cache problem is logged in one line and
//! the compilation runs normally: the cache never breaks a build. The
//! environment is read once, at the start ([`super::env`]). No async
//! runtime and no network here, but for the on-demand fetch of `install`.

use super::args::{analyze, Analysis, Invocation, NotCacheable};
use super::digest::Digests;
use super::env::{Mode, WrapperEnv};
use super::hidden::hidden_input_dependency;
use super::hit::{fetch_on_demand, try_hit};
use super::local_sources::LocalSources;
use super::record::{local_key_after, record, run_capturing};
use super::script::defer::defer;
use super::script::launcher::{install as install_launcher, is_build_script, script_path};
use super::source::{local_source, registry_source, vendored_source, Registry, VENDORED_SOURCE};
use super::stats::{self, Event};
use super::unit::{path_map, Unit};
use crate::artifact::cache::Cache;
use crate::report::Chain;
use crate::store::DiskStore;
use crate::toolchain::rustc_identity;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

/// Whether `program` (cargo's first argument to a wrapper) is a rustc.
pub fn is_rustc(program: &std::ffi::OsStr) -> bool {
    let name = Path::new(program).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    name == "rustc" || name.starts_with("rustc-") || name == "clippy-driver"
}

/// Runs as a rustc wrapper: `args` are `[self, rustc, rustc args...]`.
pub fn wrap_rustc(args: Vec<OsString>) -> ExitCode {
    let started = Instant::now();
    let rustc = Path::new(&args[1]);
    let rustc_args = &args[2..];
    let env = WrapperEnv::read();
    if env.mode == Mode::Off {
        return exec_plain(rustc, rustc_args);
    }
    let Some(store_dir) = env.store_dir.clone() else { return exec_plain(rustc, rustc_args) };
    let call = Call { env: &env, rustc, args: rustc_args, store_dir: &store_dir, started };
    match call.wrap() {
        Ok(code) => code,
        Err(failure) => {
            let kind = failure.kind;
            eprintln!("cargo-ipfs: cache {kind} error ({}); compiling normally", Chain(&failure.error));
            let _ = stats::record(&store_dir, &Event::Error(kind.to_string()));
            let mut all: Vec<OsString> = rustc_args.to_vec();
            all.extend(failure.remap.into_iter().map(OsString::from));
            exec_plain(rustc, &all)
        }
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

/// The statistics reason of a unit `--build-from-source` compiles here.
pub const BUILT_FROM_SOURCE: &str = "built from source";

fn not_cacheable(store_dir: &Path, reason: &str) {
    let _ = stats::record(store_dir, &Event::NotCacheable(reason.to_string()));
}

/// The statistics reason when the unit depends on a proc-macro that reads
/// inputs dep-info does not show ([`super::hidden`]): the built-in list,
/// the environment's and the store's `config.json`'s. A `config.json` that
/// cannot be read leaves the user's list unknown, so nothing is cached.
fn hidden_inputs(env: &WrapperEnv, inv: &Invocation, store_dir: &Path) -> Option<String> {
    if inv.externs.is_empty() {
        return None;
    }
    let mut extra = env.hidden_input_macros.clone();
    match crate::sources::config::read_config(store_dir) {
        Ok(file) => extra.extend(file.hidden_input_macros),
        Err(e) => {
            eprintln!("cargo-ipfs: {}; compiling without the cache", Chain(&e));
            return Some("config.json unreadable".into());
        }
    }
    hidden_input_dependency(&inv.externs, &extra).map(|name| format!("hidden inputs ({name})"))
}

/// A process exit status as an exit code (anything out of range is 1).
pub(super) fn exit_code(status: i32) -> ExitCode {
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}

/// One run of the wrapper: what cargo asked for, and where the cache is.
struct Call<'a> {
    env: &'a WrapperEnv,
    rustc: &'a Path,
    args: &'a [OsString],
    store_dir: &'a Path,
    started: Instant,
}

impl Call<'_> {
    /// Keys the unit, then restores it or compiles it; rustc runs as cargo
    /// asked when the unit cannot be cached.
    fn wrap(&self) -> Result<ExitCode, Failure> {
        let (unit, pre_key) = match self.key()? {
            Ok(keyed) => keyed,
            Err(flags) => {
                let mut all = self.args.to_vec();
                all.extend(flags.into_iter().map(OsString::from));
                return Ok(exec_plain(self.rustc, &all));
            }
        };
        let remap = unit.remap.clone();
        let store = DiskStore::open(self.store_dir).map_err(|e| fail("store", &remap)(e.into()))?;
        self.restore_or_compile(&store, unit, &pre_key).map_err(fail("rustc", &remap))
    }

    /// The unit and the key it had before a path crate's sources were
    /// looked up; else, when it is not cacheable (counted in the stats), the
    /// flags to add to rustc's arguments (the remap flags once they are
    /// known, so that it makes the bytes other machines make).
    fn key(&self) -> Result<Result<(Unit, String), Vec<String>>, Failure> {
        let (env, store_dir) = (self.env, self.store_dir);
        let inv = match analyze(self.args) {
            Analysis::Cacheable(inv) => inv,
            Analysis::NotCacheable(reason) => {
                not_cacheable(store_dir, reason.as_str());
                return Ok(Err(Vec::new()));
            }
        };
        // A build script probing rustc (autocfg, proc-macro2, anyhow...)
        // compiles into its OUT_DIR and may fail on purpose: never cached.
        if env.out_dir.as_ref().is_some_and(|dir| inv.out_dir.starts_with(dir) || inv.input.starts_with(dir)) {
            not_cacheable(store_dir, "build-script probe");
            return Ok(Err(Vec::new()));
        }
        // `cargo ipfs install --build-from-source`: the crate's own code.
        if env.from_source {
            not_cacheable(store_dir, BUILT_FROM_SOURCE);
            return Ok(Err(Vec::new()));
        }
        if let Some(reason) = hidden_inputs(env, &inv, store_dir) {
            not_cacheable(store_dir, &reason);
            return Ok(Err(Vec::new()));
        }
        let none: &[String] = &[];
        let digests = Digests::new(store_dir);
        let cargo_home =
            env.cargo_home.clone().ok_or_else(|| fail("setup", none)(anyhow::anyhow!("cannot find CARGO_HOME")))?;
        // A registry crate whose sources were changed is keyed like a path
        // crate, by the content of the files it reads, when path crates are
        // cached here; it is never journaled.
        let registry = match registry_source(env, &cargo_home, &digests, store_dir).map_err(fail("source", none))? {
            Registry::No => vendored_source(env, store_dir),
            known => known,
        };
        let source = match registry {
            Registry::Crate(source) => source,
            Registry::Modified | Registry::No => match local_source(env) {
                Some(source) if env.local && inv.emits_dep_info() => source,
                _ => {
                    let reason = match registry {
                        Registry::Modified => "registry source modified",
                        _ => "not a registry crate",
                    };
                    not_cacheable(store_dir, reason);
                    return Ok(Err(Vec::new()));
                }
            },
        };
        let is_local = source.is_local();
        // Incremental outputs depend on the session's history: fine for this
        // store's path crates, never for artifacts that may be published.
        if inv.incremental && !is_local {
            not_cacheable(store_dir, NotCacheable::Incremental.as_str());
            return Ok(Err(Vec::new()));
        }
        let identity_dir = store_dir.join("wrapper").join("identity");
        let rustc_id = rustc_identity(&identity_dir, self.rustc).map_err(fail("rustc identity", none))?;
        // A vendored package sits in the project: its directory gets a
        // placeholder of its own, so that other clones share its hits.
        let vendored = (source.source == VENDORED_SOURCE)
            .then(|| env.manifest_dir.clone().map(|dir| (dir, format!("/vendor/{}-{}", source.name, source.version))))
            .flatten();
        let map = path_map(env, &inv, &cargo_home, &rustc_id, is_local, vendored)
            .map_err(|e| fail("paths", none)(e.into()))?;
        let remap = map.remap_args();
        let prepared =
            Unit::prepare(env, inv, source, map, rustc_id, &digests, &identity_dir).map_err(fail("key", &remap))?;
        let mut unit = match prepared {
            Ok(unit) => unit,
            Err(unkeyable) => {
                not_cacheable(store_dir, unkeyable.as_str());
                return Ok(Err(remap));
            }
        };
        // A path or git crate's key also covers the sources it read last time.
        let pre_key = unit.key.clone();
        if is_local {
            if let Some(key) = LocalSources::new(store_dir).resolve(&pre_key, &digests) {
                unit.key = key;
            }
        }
        Ok(Ok((unit, pre_key)))
    }

    /// With the unit keyed: a hit (local, or fetched on demand), else rustc,
    /// recording the outputs in record mode.
    fn restore_or_compile(&self, store: &DiskStore, mut unit: Unit, pre_key: &str) -> anyhow::Result<ExitCode> {
        let (env, store_dir) = (self.env, self.store_dir);
        let cache = Cache::new(store_dir);
        // A build script gets a launcher once its real binary is in place.
        let script = (env.script_launcher && is_build_script(&unit.inv, false)).then(|| script_path(&unit.inv));
        if let Some(code) = try_hit(env, store, &cache, &unit, store_dir, self.started) {
            self.launcher(script.as_deref(), &unit);
            return Ok(code);
        }
        match fetch_on_demand(env, store, &cache, &unit) {
            Ok(true) => {
                if let Some(code) = try_hit(env, store, &cache, &unit, store_dir, self.started) {
                    self.launcher(script.as_deref(), &unit);
                    return Ok(code);
                }
            }
            Ok(false) => {}
            Err(e) => {
                eprintln!("cargo-ipfs: cannot fetch {} ({}); compiling normally", unit.inv.crate_name, Chain(&e));
                let _ = stats::record(store_dir, &Event::Error("fetch".into()));
            }
        }
        let mut all = self.args.to_vec();
        all.extend(unit.remap.iter().map(OsString::from));
        // A package's build script waits for its run, which another
        // machine's record may restore.
        if let Some(script) = script.as_deref().filter(|_| env.mode == Mode::Read && !unit.source.is_local()) {
            match defer(self.rustc, &all, &unit, script) {
                Ok(()) => {
                    let _ = stats::record(store_dir, &Event::ScriptDeferred);
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => eprintln!("cargo-ipfs: compiling the build script now ({})", Chain(&e)),
            }
        }
        if unit.source.registry && !unit.source.is_local() {
            // For `why-miss`: the inputs of the key that missed.
            let miss = super::record::keyed(&unit, super::misses::MissKind::Compilation);
            let _ = super::misses::add_miss(store_dir, &unit.source.name, miss);
        }
        if env.mode != Mode::Record {
            let _ = stats::record(store_dir, &Event::Miss { recorded: false });
            let Some(script) = &script else { return Ok(exec_plain(self.rustc, &all)) };
            let (status, _, _) = run_capturing(self.rustc, &all)?;
            if status == 0 {
                self.launcher(Some(script), &unit);
            }
            return Ok(exit_code(status));
        }
        let started = Instant::now();
        let (status, stdout, stderr) = run_capturing(self.rustc, &all)?;
        let elapsed = started.elapsed().as_millis() as u64;
        let mut recorded = false;
        if status == 0 {
            // A path or git crate is filed under the key of the sources it read.
            let keyed = if unit.source.is_local() {
                local_key_after(&unit, pre_key, store_dir).map(|key| unit.key = key)
            } else {
                Ok(())
            };
            match keyed.and_then(|()| record(env, store, &cache, &unit, &stdout, &stderr, elapsed)) {
                Ok(()) => recorded = true,
                Err(e) => {
                    let name = &unit.inv.crate_name;
                    eprintln!("cargo-ipfs: cannot record {name} ({}); the build is unaffected", Chain(&e));
                    let _ = stats::record(store_dir, &Event::Error("record".into()));
                }
            }
        }
        if status == 0 {
            self.launcher(script.as_deref(), &unit);
        }
        let _ = stats::record(store_dir, &Event::Miss { recorded });
        Ok(exit_code(status))
    }

    /// Puts the launcher in place of a build script binary just compiled
    /// or restored (after it was recorded: what is shared is the real
    /// binary). A failure leaves the real binary, whose runs are not cached.
    fn launcher(&self, script: Option<&Path>, unit: &Unit) {
        let Some(script) = script else { return };
        let identity = super::script::identity::of_unit(unit).map(|(identity, _)| identity);
        if let Err(e) = install_launcher(script, identity.as_deref(), &unit.digests) {
            eprintln!("cargo-ipfs: build-script runs not cached here ({})", Chain(&e));
            let _ = stats::record(self.store_dir, &Event::Error("launcher".into()));
        }
    }
}
