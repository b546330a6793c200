//! `cargo ipfs build [--record] [CARGO BUILD ARGS]`: `cargo build` with this
//! binary as the rustc wrapper, then a summary of what was restored and
//! what compiled.

use super::{Global, Status};
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
    /// Arguments passed to `cargo build`.
    #[arg(allow_hyphen_values = true, value_name = "CARGO BUILD ARGS")]
    cargo_args: Vec<String>,
}

/// Runs `cargo <subcommand> ARGS` with the wrapper and prints a summary.
pub fn run_cargo(global: &Global, subcommand: &str, record: bool, cargo_args: &[String]) -> anyhow::Result<Status> {
    let store_dir = global.store_dir()?;
    global.open_store()?;
    let me = std::env::current_exe().context("cannot find this program's path to use it as the rustc wrapper")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let before = stats::read(&store_dir);
    let started = Instant::now();
    let status = Command::new(&cargo)
        .arg(subcommand)
        .args(cargo_args)
        .env("RUSTC_WRAPPER", &me)
        .env("CARGO_IPFS_STORE", &store_dir)
        .env("CARGO_IPFS_MODE", if record { "record" } else { "read" })
        .status()
        .with_context(|| format!("cannot run {}", cargo.to_string_lossy()))?;
    let after = stats::read(&store_dir);
    let hits = after.hits.saturating_sub(before.hits);
    let misses = after.misses.saturating_sub(before.misses);
    let recorded = after.recorded.saturating_sub(before.recorded);
    let other: u64 = after.not_cacheable.values().sum::<u64>().saturating_sub(before.not_cacheable.values().sum());
    eprintln!(
        "cargo-ipfs: {hits} restored, {misses} compiled ({recorded} recorded), {other} not cacheable, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(u8::try_from(status.code().unwrap_or(1)).unwrap_or(1))
}

/// Runs `cargo build` with the wrapper.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    run_cargo(global, "build", args.record, &args.cargo_args)
}
