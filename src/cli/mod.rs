//! The command line: `cargo ipfs <subcommand>`, one file per subcommand.
//!
//! Each subcommand file exposes an `Args` struct (clap) and an `exec`
//! function that does the work with the opened store. Errors travel as
//! `anyhow` with context and are printed once, on one line, by [`run`].

mod add;
mod attest;
mod block;
mod build;
mod car;
mod cat;
mod demo;
mod doctor;
mod fetch;
mod gc;
mod get;
mod index;
mod key;
mod mirror;
mod name;
mod pin;
mod pin_remote;
mod prefetch;
mod publish;
mod republish;
mod serve;
mod stats;
mod subscribe;
mod trust;
mod verify;
mod why_miss;

use crate::report::Chain;
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::keystore::Keystore;
use crate::store::DiskStore;

/// Options every subcommand takes.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// The block store directory [default: $CARGO_HOME/ipfs].
    #[arg(long, global = true, value_name = "DIR", env = crate::vars::STORE)]
    pub store: Option<PathBuf>,
}

impl Global {
    /// The store directory: `--store`, else `CARGO_IPFS_STORE`, else
    /// `$CARGO_HOME/ipfs`.
    pub fn store_dir(&self) -> anyhow::Result<PathBuf> {
        crate::vars::store_dir(self.store.clone())
            .context("cannot find CARGO_HOME; set CARGO_IPFS_STORE or pass --store DIR")
    }

    /// Opens (creating if needed) the block store.
    pub fn open_store(&self) -> anyhow::Result<DiskStore> {
        let dir = self.store_dir()?;
        DiskStore::open(&dir).with_context(|| format!("cannot open the block store at {}", dir.display()))
    }

    /// Opens (creating if needed) the keystore, `<store>/keystore`.
    pub fn open_keystore(&self) -> anyhow::Result<Keystore> {
        // The keystore's errors name the directory already.
        Ok(Keystore::open(&self.store_dir()?.join("keystore"))?)
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "cargo ipfs",
    bin_name = "cargo ipfs",
    version,
    about = "Share compiled Rust dependencies over IPFS",
    propagate_version = true
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add files to the store and print their CIDs (like `ipfs add`).
    Add(add::Args),
    /// Print a file's bytes (like `ipfs cat`).
    Cat(cat::Args),
    /// Write a file or directory out of the store (like `ipfs get`).
    Get(get::Args),
    /// Work with raw blocks (like `ipfs block`).
    #[command(subcommand)]
    Block(block::Command),
    /// Import and export CAR files (like `ipfs dag import/export`).
    #[command(subcommand)]
    Car(car::Command),
    /// Fetch prebuilt dependencies for the current lockfile.
    Fetch(fetch::Args),
    /// Fetch from the index, then run `cargo build` with the cache as rustc wrapper.
    Build(build::Args),
    /// Run `cargo install` with prebuilt dependencies fetched on demand.
    Install(build::InstallArgs),
    /// Show what the rustc wrapper did (hits, misses, reasons).
    Stats(stats::Args),
    /// Name, for each miss of a crate, the key input that differed from the nearest entry.
    WhyMiss(why_miss::Args),
    /// Rebuild the dependencies without the cache and compare each artifact with its signed entry.
    Verify(verify::Args),
    /// Rebuild, and sign with this rebuilder's key a statement for every artifact that matched.
    Attest(attest::Args),
    /// Publish recorded artifacts as a new signed index version.
    Publish(publish::Args),
    /// Manage the keys that sign IPNS records (like `ipfs key`).
    #[command(subcommand)]
    Key(key::Command),
    /// Inspect IPNS records (like `ipfs name inspect`).
    #[command(subcommand)]
    Name(name::Command),
    /// Publish a signed index, or show, verify and compare versions of one.
    #[command(subcommand)]
    Index(index::Command),
    /// Manage the publisher keys you trust, per index.
    #[command(subcommand)]
    Trust(trust::Command),
    /// Follow an index by name: trust its keys, resolve and verify it, and
    /// have `cargo ipfs-fetch` use it.
    Subscribe(subscribe::Args),
    /// Serve the store over HTTP: a trustless gateway and IPNS routing.
    Serve(serve::Args),
    /// Keep the indexes published here resolvable: renew and put their records.
    Republish(republish::Args),
    /// Keep a verified copy of a trusted index here, once or following it.
    Mirror(mirror::Args),
    /// Remove what the store no longer needs: orphans, and under a size or
    /// age bound the least recently used, never what is pinned.
    Gc(gc::Args),
    /// Check the installation and say what to fix.
    Doctor(doctor::Args),
    /// The roots this store keeps and why: list, add, remove.
    #[command(subcommand)]
    Pin(pin::Command),
    /// Play a CI job and a second machine end to end, in temporary directories.
    Demo(demo::Args),
}

/// Outcome of a subcommand that did not fail: an exit status to return.
pub type Status = u8;

/// Runs `cargo ipfs` with the arguments as cargo passes them (the program
/// name, then `ipfs` when run as `cargo ipfs`, then the subcommand).
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let mut args: Vec<OsString> = args.into_iter().collect();
    // In place of a build script, the launcher runs `cargo-ipfs ARGS...`
    // with the real script named in the environment.
    if std::env::var_os(crate::vars::BUILD_SCRIPT).is_some() {
        return crate::wrapper::script::run_build_script(args);
    }
    // As RUSTC_WRAPPER, cargo runs `cargo-ipfs /path/to/rustc ARGS...`.
    if args.get(1).is_some_and(|a| crate::wrapper::is_rustc(a)) {
        return crate::wrapper::wrap_rustc(args);
    }
    if args.get(1).is_some_and(|a| a == "ipfs") {
        args.remove(1);
    }
    dispatch(args)
}

/// Runs `cargo ipfs-fetch` (the same as `cargo ipfs fetch`).
pub fn run_fetch(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let mut args: Vec<OsString> = args.into_iter().collect();
    if args.get(1).is_some_and(|a| a == "ipfs-fetch") {
        args.remove(1);
    }
    args.insert(1.min(args.len()), "fetch".into());
    dispatch(args)
}

fn dispatch(args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if !matches!(cli.command, Command::Serve(_)) {
        exit_quietly_when_stdout_closes();
    }
    let result = match cli.command {
        Command::Add(args) => add::exec(&cli.global, args),
        Command::Cat(args) => cat::exec(&cli.global, args),
        Command::Get(args) => get::exec(&cli.global, args),
        Command::Block(cmd) => block::exec(&cli.global, cmd),
        Command::Car(cmd) => car::exec(&cli.global, cmd),
        Command::Fetch(args) => fetch::exec(&cli.global, args),
        Command::Build(args) => build::exec(&cli.global, args),
        Command::Install(args) => build::install(&cli.global, args),
        Command::Stats(args) => stats::exec(&cli.global, args),
        Command::WhyMiss(args) => why_miss::exec(&cli.global, args),
        Command::Verify(args) => verify::exec(&cli.global, args),
        Command::Attest(args) => attest::exec(&cli.global, args),
        Command::Publish(args) => publish::exec(&cli.global, args),
        Command::Key(cmd) => key::exec(&cli.global, cmd),
        Command::Name(cmd) => name::exec(&cli.global, cmd),
        Command::Index(cmd) => index::exec(&cli.global, cmd),
        Command::Trust(cmd) => trust::exec(&cli.global, cmd),
        Command::Subscribe(args) => subscribe::exec(&cli.global, args),
        Command::Serve(args) => serve::exec(&cli.global, args),
        Command::Republish(args) => republish::exec(&cli.global, args),
        Command::Mirror(args) => mirror::exec(&cli.global, args),
        Command::Pin(cmd) => pin::exec(&cli.global, cmd),
        Command::Gc(args) => gc::exec(&cli.global, args),
        Command::Doctor(args) => doctor::exec(&cli.global, args),
        Command::Demo(args) => demo::exec(&cli.global, args),
    };
    match result {
        Ok(status) => ExitCode::from(status),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", Chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// A reader of stdout that goes away (`cargo ipfs index show X | head -1`)
/// ends the command quietly and successfully, as `is_broken_pipe` does for
/// commands that report their write errors: `println!` panics on a closed
/// stdout instead (Rust ignores SIGPIPE), and that panic is turned into the
/// same quiet exit. Every other panic is reported as before. `serve` keeps
/// the default: it writes logs, not results.
fn exit_quietly_when_stdout_closes() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        report(info)
    }));
}

/// `cargo ipfs cat X | head` closes the pipe early; that is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

/// Parses `30s`, `5m`, `1h`, `7d`, `500ms`, or a number of seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 30s, 5m, 1h, 7d or 500ms"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        "d" => Duration::from_secs(n * 86_400),
        _ => return Err(format!("{text:?}: unknown unit {unit:?}; use ms, s, m, h or d")),
    };
    if d.is_zero() {
        return Err("the interval must be more than zero".into());
    }
    Ok(d)
}

/// Parses a CID argument with a message that names it.
pub(crate) fn parse_cid_arg(text: &str) -> anyhow::Result<cid::Cid> {
    Ok(crate::formats::block::parse_cid(text)?)
}

#[cfg(test)]
mod duration_tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5 days").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("soon").unwrap_err().contains("not a duration"));
    }
}
