//! One build-script run: restore a recorded run whose inputs hold, else
//! run the real script, and in record mode record it when it can be
//! captured whole.

use super::child::{self, Output};
use super::directives;
use super::inputs::{self, InputNames};
use super::outdir;
use super::remote;
use super::Run;
use crate::artifact::cache::{ArtifactRef, Cache};
use crate::artifact::pack::file_digest;
use crate::artifact::read::read_artifact;
use crate::artifact::run_pack::{pack_run, unpack_run, RunMeta, MAX_RUN, RUN_PACK_VERSION};
use crate::artifact::runs::{Candidate, Runs};
use crate::formats::unixfs::{import_bytes, ImportParams};
use crate::index::run::RunInfo;
use crate::index::Entry;
use crate::report::Chain;
use crate::store::{BlockStore, DiskStore};
use crate::wrapper::env::{Mode, WrapperEnv};
use crate::wrapper::misses::{self, Keyed as MissRecord, MissKind};
use crate::wrapper::stats::{self, Event};
use anyhow::Context;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

/// Runs or restores; `Err` only before the real script ran (the caller
/// then runs it).
pub fn run(env: &WrapperEnv, store_dir: &Path, real: &Path, args: &[OsString]) -> anyhow::Result<ExitCode> {
    let run = match Run::setup(env, store_dir, real)? {
        Ok(run) => run,
        Err(reason) => {
            let _ = stats::record(store_dir, &Event::RunNotCached(reason));
            return Ok(execute(env, None, real, args));
        }
    };
    let script = if super::pending::is_pending(real) {
        super::identity::read_pending(real).context("the build script waits to be compiled and has no identity")?
    } else {
        let script_digest = run.digests.of(real)?;
        super::identity::read(real, &script_digest).unwrap_or(script_digest)
    };
    let (pre_key, named) = match inputs::pre_key(&run, &script, &run.rustc) {
        Ok(keyed) => keyed,
        Err(reason) => {
            let _ = stats::record(store_dir, &Event::RunNotCached(reason));
            return Ok(execute(env, None, real, args));
        }
    };
    let store = DiskStore::open(store_dir)?;
    let runs = Runs::new(store_dir);
    let mut restored = restore_filed(&store, &runs, &run, &pre_key)?;
    // Nothing filed here fits: a run the index handed down signs may.
    if restored == Restored::None && remote::fetch_runs(env, &store, &runs, &run, &pre_key) {
        restored = restore_filed(&store, &runs, &run, &pre_key)?;
    }
    match restored {
        Restored::Yes => Ok(ExitCode::SUCCESS),
        Restored::None | Restored::Failed => {
            let keyed = Keyed { run: &run, store: &store, pre_key: &pre_key, named: &named };
            Ok(execute(env, Some(keyed), real, args))
        }
    }
}

/// What [`restore_filed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restored {
    /// A run was restored.
    Yes,
    /// No run filed under the pre-key has its declared inputs in the
    /// state they are in now.
    None,
    /// One had, but could not be restored (`OUT_DIR` was emptied again).
    Failed,
}

/// Restores the newest run filed under `pre_key` whose declared inputs
/// are in the state recorded. `Err` only when `OUT_DIR` cannot be emptied
/// after a failed restore.
fn restore_filed(store: &DiskStore, runs: &Runs, run: &Run, pre_key: &str) -> anyhow::Result<Restored> {
    let prefixes: Vec<String> = run.map.prefixes().map(str::to_string).collect();
    for candidate in runs.candidates(pre_key) {
        if candidate.bound_to.as_ref().is_some_and(|bound| *bound != prefixes) {
            continue;
        }
        if inputs::state(run, &candidate.names).ok().as_ref() != Some(&candidate.state) {
            continue;
        }
        if !crate::wrapper::hit::restorable(&run.store_dir, &candidate.artifact) {
            continue;
        }
        return match restore(store, run, &candidate.artifact) {
            Ok(()) => {
                let _ = runs.touch(pre_key);
                let saved_ms = candidate.artifact.compile_ms;
                let _ = stats::record(&run.store_dir, &Event::RunRestored { saved_ms });
                Ok(Restored::Yes)
            }
            Err(e) => {
                eprintln!("cargo-ipfs: cannot restore a build-script run ({}); running the script", Chain(&e));
                let _ = stats::record(&run.store_dir, &Event::Error("restore run".into()));
                outdir::clear(&run.out_dir)?;
                Ok(Restored::Failed)
            }
        };
    }
    Ok(Restored::None)
}

/// Restores a recorded run: its files into an emptied `OUT_DIR`, its
/// output replayed with this machine's paths.
fn restore(store: &DiskStore, run: &Run, artifact: &ArtifactRef) -> anyhow::Result<()> {
    let packed = read_artifact(&artifact.cid, artifact.size, &mut |c| store.get_required(c))?;
    let (meta, files) = unpack_run(&packed, MAX_RUN)?;
    outdir::restore(&run.out_dir, &files, &meta.text_files, &run.map)?;
    std::io::stdout().write_all(run.map.expand_text(&meta.stdout).as_bytes())?;
    std::io::stderr().write_all(run.map.expand_text(&meta.stderr).as_bytes())?;
    Ok(())
}

/// A run keyed by its pre-key.
#[derive(Clone, Copy)]
struct Keyed<'a> {
    run: &'a Run,
    store: &'a DiskStore,
    pre_key: &'a str,
    /// The pre-key's named inputs.
    named: &'a BTreeMap<String, String>,
}

/// Runs the real script; with a keyed run, as a child whose C compilations
/// get the prefix-map flags, recorded in record mode.
fn execute(env: &WrapperEnv, keyed: Option<Keyed>, real: &Path, args: &[OsString]) -> ExitCode {
    if let Some(store_dir) = env.store_dir.as_deref().filter(|_| super::pending::is_pending(real)) {
        // Compiled now, before it runs: the compilation missed after all.
        let _ = stats::record(store_dir, &Event::Miss { recorded: false });
    }
    let Some(Keyed { run, store, pre_key, named }) = keyed else {
        let store_dir = env.store_dir.as_deref().unwrap_or(Path::new("."));
        let _ = stats::record(store_dir, &Event::RunExecuted { recorded: false });
        return child::exec_real(real, args);
    };
    // In record mode OUT_DIR starts empty, so that what is recorded is
    // this run's alone (cargo never empties it; a script may not count on
    // what an earlier run left, which a restore does not bring either).
    if env.mode == Mode::Record && !outdir::is_empty(&run.out_dir) {
        let _ = outdir::clear(&run.out_dir);
    }
    let empty_before = outdir::is_empty(&run.out_dir);
    let started = (SystemTime::now(), Instant::now());
    let flags = child::prefix_map_flags(&run.map);
    let extra = flags.as_deref().map(child::flag_env).unwrap_or_default();
    let output = child::run(real, args, &extra);
    if !extra.is_empty() && !output.as_ref().is_ok_and(|o| o.status == 0) {
        // A C compiler that does not take the flags fails the run: run it
        // as cargo asked, and record nothing.
        eprintln!("cargo-ipfs: the build script failed with prefix-map flags; running it as cargo asked");
        return exec_counted(run, real, args);
    }
    let output = match output {
        Ok(output) => output,
        Err(e) => {
            eprintln!("cargo-ipfs: cannot run the build script {} ({e})", real.display());
            return exec_counted(run, real, args);
        }
    };
    let _ = std::io::stdout().write_all(&output.stdout);
    let _ = std::io::stdout().flush();
    let elapsed_ms = started.1.elapsed().as_millis() as u64;
    if output.status == 0 && run.source.registry {
        note_miss(run, pre_key, named, &output);
    }
    let mut recorded = false;
    if output.status == 0 && env.mode == Mode::Record {
        let captured = if flags.is_none() {
            Err("a machine path holds white space".to_string())
        } else if !empty_before {
            Err("OUT_DIR not empty before the run".to_string())
        } else {
            capture(run, &output, started.0)
        };
        match captured.and_then(|c| record(Keyed { run, store, pre_key, named }, &output, c, elapsed_ms)) {
            Ok(()) => recorded = true,
            Err(reason) => {
                let _ = stats::record(&run.store_dir, &Event::RunNotCached(reason));
            }
        }
    }
    let _ = stats::record(&run.store_dir, &Event::RunExecuted { recorded });
    crate::wrapper::run::exit_code(output.status)
}

/// For `why-miss`: the named inputs of a run that was executed, its
/// pre-key's and the state of what it declared (when it can be read).
fn note_miss(run: &Run, pre_key: &str, named: &BTreeMap<String, String>, output: &Output) {
    let Ok(stdout) = std::str::from_utf8(&output.stdout) else { return };
    let Ok(names) = inputs::names(run, &directives::parse(stdout)) else { return };
    let Ok(state) = inputs::state(run, &names) else { return };
    let mut inputs = named.clone();
    inputs.extend(crate::index::inputs::declared(&state));
    let miss = MissRecord {
        kind: MissKind::Run,
        version: run.source.version.clone(),
        crate_types: Vec::new(),
        key: pre_key.to_string(),
        rustc: run.rustc_short.clone(),
        inputs,
        at: misses::now(),
    };
    let _ = misses::add_miss(&run.store_dir, &run.source.name, miss);
}

/// Counts a run of the real script, then becomes it.
fn exec_counted(run: &Run, real: &Path, args: &[OsString]) -> ExitCode {
    let _ = stats::record(&run.store_dir, &Event::RunExecuted { recorded: false });
    child::exec_real(real, args)
}

/// What a successful run declared, when it can be captured whole: its
/// output is UTF-8, it links from nothing outside the build, and its
/// declared files did not change while it ran. `Err` names why not.
fn capture(run: &Run, output: &Output, started: SystemTime) -> Result<InputNames, String> {
    let stdout = std::str::from_utf8(&output.stdout).map_err(|_| "output not UTF-8".to_string())?;
    let declared = directives::parse(stdout);
    for dir in &declared.link_search {
        let path = run.package_dir.join(dir);
        if run.map.normalize_path(&path) == path.to_string_lossy() {
            return Err("links from outside the build".into());
        }
    }
    let names = inputs::names(run, &declared)?;
    for file in &declared.files {
        let modified = std::fs::metadata(run.package_dir.join(file)).and_then(|m| m.modified());
        if modified.is_ok_and(|m| m >= started) {
            return Err("a declared input changed during the run".into());
        }
    }
    Ok(names)
}

/// Packs `OUT_DIR` and the output, stores the pack, files the run under
/// its pre-key, and journals it when it may go to other machines.
fn record(keyed: Keyed, output: &Output, names: InputNames, run_ms: u64) -> Result<(), String> {
    let Keyed { run, store, pre_key, named } = keyed;
    let state = inputs::state(run, &names)?;
    let collected = outdir::collect(&run.out_dir, &run.map)?;
    let meta = RunMeta {
        stdout: run.map.normalize_text(&String::from_utf8_lossy(&output.stdout)),
        stderr: run.map.normalize_text(&String::from_utf8_lossy(&output.stderr)),
        text_files: collected.text_files,
        format: RUN_PACK_VERSION,
    };
    let packed = pack_run(&meta, &collected.files);
    let unpacked_size = crate::artifact::pack::unpacked_size(&packed).ok_or("a pack declares its size")?;
    if unpacked_size > MAX_RUN {
        return Err(format!("OUT_DIR holds over {MAX_RUN} bytes"));
    }
    let stored = || -> anyhow::Result<ArtifactRef> {
        let (file, blocks) = import_bytes(ImportParams::UNIXFS_V1_2025, &packed)?;
        for block in &blocks {
            store.put(block)?;
        }
        let sha256 = file_digest(&packed);
        Ok(ArtifactRef {
            cid: file.cid.to_string(),
            sha256,
            size: packed.len() as u64,
            compile_ms: run_ms,
            local: true,
            attested_by: Vec::new(),
        })
    };
    let artifact = stored().map_err(|e| format!("cannot store ({})", Chain(&e)))?;
    let key = inputs::full_key(pre_key, &state);
    let bound_to = collected.machine_bound.then(|| run.map.prefixes().map(str::to_string).collect());
    let candidate = Candidate { names, state, key, artifact, bound_to };
    // Journaled first, as compilations are: a run filed without its
    // journal line would never be published.
    if candidate.bound_to.is_none() && run.source.registry {
        let entry = run_entry(run, pre_key, named, &candidate, unpacked_size);
        Cache::new(&run.store_dir).journal(&entry).map_err(|e| format!("cannot journal ({e})"))?;
    }
    Runs::new(&run.store_dir).add(pre_key, candidate).map_err(|e| format!("cannot file ({e})"))
}

/// The index entry of a recorded run that may go to other machines.
fn run_entry(
    run: &Run,
    pre_key: &str,
    named: &BTreeMap<String, String>,
    candidate: &Candidate,
    unpacked_size: u64,
) -> Entry {
    let artifact = &candidate.artifact;
    Entry {
        name: run.source.name.clone(),
        version: run.source.version.clone(),
        source: run.source.source.clone(),
        checksum: run.source.checksum.clone(),
        key: candidate.key.clone(),
        cid: artifact.cid.clone(),
        size: artifact.size,
        unpacked_size,
        sha256: artifact.sha256.clone(),
        outputs: Vec::new(),
        rustc: run.rustc_short.clone(),
        target: run.target.clone(),
        profile: Default::default(),
        features: Vec::new(),
        crate_types: Vec::new(),
        deps: Default::default(),
        built_at: SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        builder: run.builder.clone(),
        build_ms: artifact.compile_ms.min(crate::index::entry::MAX_BUILD_MS),
        inputs: named.clone(),
        run: Some(RunInfo {
            pre_key: pre_key.to_string(),
            host: run.host.clone(),
            names: candidate.names.clone(),
            state: candidate.state.clone(),
        }),
    }
}
