//! `cargo ipfs build [--record] [CARGO BUILD ARGS]` and
//! `cargo ipfs install [--record] CRATE [ARGS]`: fetch what the index has, then run cargo
//! with this binary as the rustc wrapper, then summarize.

use super::fetch::{print_summary, Source};
use super::{Global, Status};
use crate::fetch::HandDown;
use crate::report::Chain;
use crate::vars;
use crate::wrapper::run::BUILT_FROM_SOURCE;
use crate::wrapper::stats;
use anyhow::Context;
use std::process::Command;
use std::time::Instant;

/// Arguments of `cargo ipfs build`.
#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
pub struct Args {
    /// Record the outputs of every cacheable compilation that misses.
    #[arg(long)]
    record: bool,
    /// Do not fetch from the index first.
    #[arg(long)]
    no_fetch: bool,
    #[command(flatten)]
    source: Source,
    /// Arguments passed to `cargo build`.
    #[arg(allow_hyphen_values = true, value_name = "CARGO BUILD ARGS")]
    cargo_args: Vec<String>,
}

/// Arguments of `cargo ipfs install`.
#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
pub struct InstallArgs {
    /// Record the outputs of every cacheable compilation that misses, for
    /// `publish` (what the pinning job runs).
    #[arg(long)]
    record: bool,
    /// Compile the crate's own code (its library, executables and build
    /// script, which also runs) here rather than restore it; its
    /// dependencies are still restored from the index. For a build with
    /// nothing restored, run `cargo install` itself.
    #[arg(long)]
    build_from_source: bool,
    #[command(flatten)]
    source: Source,
    /// The crate and any further `cargo install` arguments (this command's
    /// own options go before the crate).
    #[arg(required = true, allow_hyphen_values = true, value_name = "CRATE [ARGS]")]
    cargo_args: Vec<String>,
}

/// Runs `cargo <subcommand> ARGS` with the wrapper (and `env` added) and
/// prints a summary.
fn run_cargo(
    global: &Global,
    subcommand: &str,
    record: bool,
    cargo_args: &[String],
    on_demand: Option<HandDown>,
    env: &[(&str, &str)],
) -> anyhow::Result<Status> {
    let store_dir = global.store_dir()?;
    global.open_store()?;
    let me = std::env::current_exe().context("cannot find this program's path to use it as the rustc wrapper")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let before = stats::read(&store_dir);
    let started = Instant::now();
    let mut cmd = Command::new(&cargo);
    cmd.arg(subcommand)
        .args(cargo_args)
        .env(vars::RUSTC_WRAPPER, &me)
        .env(vars::STORE, &store_dir)
        .env(vars::MODE, if record { "record" } else { "read" })
        .envs(env.iter().copied());
    if let Some(on_demand) = on_demand {
        match &on_demand.attesting {
            Some(attesting) => cmd.env(vars::ATTESTING, serde_json::to_string(attesting)?),
            None => cmd.env_remove(vars::ATTESTING),
        };
        cmd.env(vars::INDEX_SHARDS, on_demand.shards).env(vars::GATEWAYS, on_demand.gateways.join(","));
        match on_demand.kubo {
            Some(kubo) => cmd.env(vars::KUBO, kubo),
            None => cmd.env_remove(vars::KUBO),
        };
    }
    let status = cmd.status().with_context(|| format!("cannot run {}", cargo.to_string_lossy()))?;
    let after = stats::read(&store_dir);
    let hits = after.hits.saturating_sub(before.hits);
    let misses = after.misses.saturating_sub(before.misses);
    let recorded = after.recorded.saturating_sub(before.recorded);
    let other: u64 = after.not_cacheable.values().sum::<u64>().saturating_sub(before.not_cacheable.values().sum());
    eprintln!(
        "cargo-ipfs: {hits} restored, {misses} compiled ({recorded} recorded), {other} not cacheable (the project's own crates, probes), in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let reason = |stats: &stats::Stats, name: &str| stats.not_cacheable.get(name).copied().unwrap_or(0);
    let from_source = reason(&after, BUILT_FROM_SOURCE).saturating_sub(reason(&before, BUILT_FROM_SOURCE));
    if from_source > 0 {
        eprintln!("cargo-ipfs: {from_source} units of the crate itself built from source (--build-from-source)");
    }
    if subcommand == "install" && misses > 0 {
        eprintln!(
            "cargo-ipfs: {misses} units compiled here: the index has none for this toolchain, target, features \
             and linker (an output that holds a machine path is never shared; \
             CARGO_IPFS_EXPLAIN=DIR writes each key's inputs there)"
        );
    }
    let (runs, before_runs) = (&after.runs, &before.runs);
    let restored = runs.restored.saturating_sub(before_runs.restored);
    let executed = runs.executed.saturating_sub(before_runs.executed);
    if restored + executed > 0 {
        let saved = runs.time_saved_ms.saturating_sub(before_runs.time_saved_ms) as f64 / 1000.0;
        let run_recorded = runs.recorded.saturating_sub(before_runs.recorded);
        let not_cached: u64 =
            runs.not_cached.values().sum::<u64>().saturating_sub(before_runs.not_cached.values().sum());
        let deferred = runs.deferred.saturating_sub(before_runs.deferred);
        let waited = match deferred {
            0 => String::new(),
            n => format!("; {n} scripts compiled only if they had to run"),
        };
        eprintln!(
            "cargo-ipfs: build scripts: {restored} runs restored ({saved:.1} s saved), {executed} run ({run_recorded} recorded, {not_cached} not cacheable){waited}"
        );
    }
    crate::gc::collect_if_over(&store_dir, &me);
    Ok(u8::try_from(status.code().unwrap_or(1)).unwrap_or(1))
}

/// Fetches (a failure only warns: the build goes on and compiles), then builds.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    let mut hand_down = None;
    if !args.no_fetch {
        let mut opts = args.source.options();
        read_cargo_flags(&args.cargo_args, &mut opts);
        match super::fetch::run(global, opts, false) {
            Ok(summary) => {
                print_summary(&summary);
                hand_down = summary.hand_down;
            }
            Err(e) => eprintln!("cargo-ipfs: not fetching ({}); building without prebuilt dependencies", Chain(&e)),
        }
    }
    // Offline means offline for cargo too.
    let mut cargo_args = args.cargo_args.clone();
    if args.source.offline {
        cargo_args.insert(0, "--offline".into());
    }
    let policy = policy_env(&args.source);
    let env: Vec<(&str, &str)> = policy.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_cargo(global, "build", args.record, &cargo_args, hand_down, &env)
}

/// The policy flags as the variables the wrapper reads, so that its
/// restores ask what the fetch asked.
fn policy_env(source: &Source) -> Vec<(&'static str, String)> {
    let mut env = Vec::new();
    if let Some(k) = source.require_attestations {
        env.push((vars::REQUIRE_ATTESTATIONS, k.to_string()));
    }
    if !source.rebuilders.is_empty() {
        env.push((vars::REBUILDERS, source.rebuilders.join(",")));
    }
    env
}

/// Resolves the index for on-demand fetching, then runs `cargo install`
/// in a target directory the wrapper recognizes.
pub fn install(global: &Global, args: InstallArgs) -> anyhow::Result<Status> {
    let on_demand = match resolve_for_install(global, &args.source) {
        Ok(on_demand) => on_demand,
        Err(e) => {
            eprintln!("cargo-ipfs: not fetching ({}); installing without prebuilt dependencies", Chain(&e));
            None
        }
    };
    let mut cargo_args = args.cargo_args.clone();
    if args.source.offline {
        cargo_args.push("--offline".into());
    }
    // Cargo builds an install in a temporary directory it does not tag as a
    // target directory: its path, different on every run and machine,
    // would enter every key. A tagged one of ours is normalized instead.
    let target_dir = match chooses_target_dir(&cargo_args) {
        true => None,
        false => Some(install_target_dir()?),
    };
    if let Some(dir) = &target_dir {
        cargo_args.insert(0, dir.path().to_string_lossy().into_owned());
        cargo_args.insert(0, "--target-dir".into());
    }
    let policy = policy_env(&args.source);
    let mut env: Vec<(&str, &str)> = policy.iter().map(|(k, v)| (*k, v.as_str())).collect();
    if args.build_from_source {
        env.push((vars::BUILD_FROM_SOURCE, "1"));
    }
    // What the crate's packaged lockfile names is fetched while cargo runs.
    let prefetch = match (&on_demand, global.store_dir()) {
        (Some(_), Ok(store_dir)) => super::prefetch::start(store_dir, &args.source, &cargo_args),
        _ => None,
    };
    let status = run_cargo(global, "install", args.record, &cargo_args, on_demand, &env);
    if let Some(prefetch) = prefetch {
        prefetch.finish();
    }
    if let Some(dir) = target_dir {
        let path = dir.path().to_path_buf();
        if let Err(e) = dir.close() {
            eprintln!("cargo-ipfs: cannot remove the build directory {} ({e})", path.display());
        }
    }
    status
}

/// Whether the user chose where `cargo install` builds: `--target-dir`
/// among its arguments, or `CARGO_TARGET_DIR` / `CARGO_BUILD_TARGET_DIR`.
fn chooses_target_dir(cargo_args: &[String]) -> bool {
    let flag = cargo_args.iter().any(|a| a == "--target-dir" || a.starts_with("--target-dir="));
    flag || [vars::CARGO_TARGET_DIR, vars::CARGO_BUILD_TARGET_DIR].iter().any(|v| std::env::var_os(v).is_some())
}

/// A temporary target directory, removed when dropped, tagged as cargo tags
/// the target directories it creates (`CACHEDIR.TAG`).
fn install_target_dir() -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("cargo-ipfs-install")
        .tempdir()
        .context("cannot create a temporary directory to build the crate in")?;
    let tag = dir.path().join("CACHEDIR.TAG");
    std::fs::write(&tag, CACHEDIR_TAG).with_context(|| format!("cannot write {}", tag.display()))?;
    Ok(dir)
}

/// What cargo writes in `CACHEDIR.TAG` (<https://bford.info/cachedir/>).
const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55
# This file is a cache directory tag created by cargo.
# For information about cache directory tags see https://bford.info/cachedir/
";

fn resolve_for_install(global: &Global, source: &Source) -> anyhow::Result<Option<HandDown>> {
    let store_dir = global.store_dir()?;
    let opts = source.options();
    let flags = opts.flags();
    let trust_file = crate::index::state::IndexState::new(&store_dir).trust()?;
    let settings = crate::fetch::resolve::settings(&store_dir, &trust_file, flags)?;
    if source.offline || (settings.gateways.is_empty() && settings.kubo.is_none()) {
        return Ok(None);
    }
    let timeout = source.options().timeout;
    let now = std::time::SystemTime::now();
    let head = crate::fetch::resolve::resolve_index(&store_dir, &trust_file, settings, false, timeout, now)?;
    let (index, seq) = (&head.settings.index, head.version.manifest.seq);
    eprintln!("cargo-ipfs: index {index} version {seq} verified; fetching on demand");
    let attesting = crate::fetch::resolve::attesting(&store_dir, &trust_file, &head, false, timeout, now)?;
    let settings = head.settings;
    Ok(Some(HandDown {
        shards: head.version.shards.to_string(),
        gateways: settings.gateways,
        kubo: settings.kubo,
        attesting,
    }))
}

/// Takes from `cargo build` arguments what the fetch must know: the
/// manifest whose lockfile to read, and the target (the first, if several).
pub(super) fn read_cargo_flags(cargo_args: &[String], opts: &mut crate::fetch::FetchOptions) {
    let mut args = cargo_args.iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_string())),
            None => (arg.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next().cloned());
        match flag {
            "--manifest-path" => opts.manifest_path = value().map(Into::into),
            "--target" if opts.target.is_none() => opts.target = value(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::FetchOptions;

    #[test]
    fn the_fetch_reads_the_lockfile_and_target_the_build_uses() {
        let read = |args: &[&str]| {
            let mut opts = FetchOptions::default();
            read_cargo_flags(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>(), &mut opts);
            opts
        };
        let opts = read(&["--release", "--manifest-path", "a/Cargo.toml", "--target=x86_64-unknown-linux-musl"]);
        assert_eq!(opts.manifest_path.as_deref(), Some(std::path::Path::new("a/Cargo.toml")));
        assert_eq!(opts.target.as_deref(), Some("x86_64-unknown-linux-musl"));
        let opts = read(&["--manifest-path=b/Cargo.toml", "--target", "a", "--target", "b"]);
        assert_eq!(opts.manifest_path.as_deref(), Some(std::path::Path::new("b/Cargo.toml")));
        assert_eq!(opts.target.as_deref(), Some("a"), "the first target");
        let opts = read(&["--locked", "-p", "demo", "--", "--target", "after"]);
        assert!(opts.manifest_path.is_none() && opts.target.is_none(), "nothing after --");
    }
}
