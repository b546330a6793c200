//! `cargo ipfs mirror NAME [--follow] [--interval D] [--gateway URL]...
//! [--kubo ADDR] [--keep-versions N] [--pin-to SERVICE]...`: keep a verified
//! copy of a trusted index in this store, for `cargo ipfs serve` to serve,
//! and with `--pin-to`, pin what each round brought in on pinning services
//! too (see `docs/operators.md`).

use super::{Global, Status};
use crate::pinning::mirror::{Mirror, Round};
use crate::sources::{config, Sources};
use anyhow::Context;
use std::time::{Duration, SystemTime};

/// `cargo ipfs mirror` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The trusted index to mirror.
    index: String,
    /// Keep following: check for a new version every `--interval`.
    #[arg(long)]
    follow: bool,
    /// How often `--follow` checks, as `30s`, `5m`, `1h` or `500ms`.
    #[arg(long, value_name = "D", default_value = "5m", value_parser = super::parse_duration)]
    interval: Duration,
    /// With `--follow`, stop after N rounds [default: never].
    #[arg(long, value_name = "N")]
    rounds: Option<u64>,
    /// A trustless gateway to mirror from (repeat) [default: CARGO_IPFS_GATEWAYS, <store>/config.json].
    #[arg(long = "gateway", value_name = "URL")]
    gateways: Vec<String>,
    /// A kubo node's RPC API to mirror from instead of gateways [default: CARGO_IPFS_KUBO, <store>/config.json].
    #[arg(long, value_name = "ADDR")]
    kubo: Option<String>,
    /// How many of the newest versions stay pinned.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    keep_versions: u64,
    /// A pinning service (`cargo ipfs pin remote service add`) to pin each
    /// mirrored version on as well (repeat); only what a version adds is
    /// sent.
    #[arg(long = "pin-to", value_name = "SERVICE")]
    pin_to: Vec<String>,
    /// Parallel downloads.
    #[arg(short, long, default_value_t = 8)]
    jobs: usize,
    /// One JSON object per round on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs one round, or rounds on a schedule with `--follow`.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    let store_dir = global.store_dir()?;
    let flags = config::Flags {
        index: Some(&args.index),
        gateways: &args.gateways,
        kubo: args.kubo.as_deref(),
        ..config::Flags::default()
    };
    let settings = config::settings(flags, |k| std::env::var(k).ok(), &config::read_config(&store_dir)?, &[])?;
    let sources = Sources::open(&settings.gateways, settings.kubo.as_deref(), None, Some(&store_dir))?
        .context("no source to mirror from; pass --gateway URL or --kubo ADDR")?;
    let mirror = Mirror::new(&store_dir, sources, &args.index, args.keep_versions as usize, args.jobs)?;
    let services = crate::pinning::remote::read_services(&store_dir)?;
    for name in &args.pin_to {
        if !services.contains_key(name) {
            anyhow::bail!(
                "no pinning service named `{name}`; add it with `cargo ipfs pin remote service add {name} ...`"
            );
        }
    }
    // A round, then the pins of what it brought in; a pin that fails says
    // so and makes the status 1, and the next round tries again.
    let once = |json: bool| -> anyhow::Result<bool> {
        let round = mirror.round(SystemTime::now())?;
        report(&round, json)?;
        if args.pin_to.is_empty() {
            return Ok(true);
        }
        let mut progress = |_: &str, _: &crate::pinning::remote::Wanted, _: &crate::pinning::remote::Outcome| {};
        let pinned = crate::pinning::remote::run::pin_index(
            &store_dir,
            &args.index,
            &services,
            &args.pin_to,
            true,
            crate::pinning::remote::Pace::default(),
            &mut progress,
        )?;
        let mut complete = true;
        for s in &pinned.services {
            complete &= s.complete();
            match &s.error {
                Some(e) => eprintln!("cargo-ipfs: mirror of {}: pinning on {}: {e}", args.index, s.target),
                None => eprintln!(
                    "cargo-ipfs: mirror of {}: version {} on {}: {} pinned now, {} already, {} failed, {} pending",
                    args.index,
                    pinned.seq,
                    s.target,
                    s.pinned,
                    s.already,
                    s.failed.len(),
                    s.pending.len()
                ),
            }
        }
        Ok(complete)
    };
    if !args.follow {
        return Ok(if once(args.json)? { 0 } else { 1 });
    }
    let mut round = 0u64;
    loop {
        match once(args.json) {
            Ok(_) => {}
            Err(e) => eprintln!(
                "cargo-ipfs: mirror of {}: {}; trying again in {:?}",
                args.index,
                crate::report::Chain(&e),
                args.interval
            ),
        }
        round += 1;
        if args.rounds.is_some_and(|n| round >= n) {
            return Ok(0);
        }
        std::thread::sleep(args.interval);
    }
}

fn report(round: &Round, json: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(round)?)?;
    } else if round.versions.is_empty() {
        writeln!(out, "index {}: version {} is mirrored already", round.index, round.head)?;
    } else {
        for v in &round.versions {
            writeln!(
                out,
                "index {}: version {} mirrored ({} artifacts fetched, {} bytes; {} here already), pinned as {}",
                round.index, v.seq, v.fetched, v.bytes, v.present, v.pinned
            )?;
        }
        for cid in &round.unpinned {
            writeln!(out, "index {}: {cid} no longer pinned (older than --keep-versions)", round.index)?;
        }
    }
    out.flush()?;
    Ok(())
}
