//! `cargo ipfs verify --rebuild`: rebuild the project's dependencies (or
//! one crate) from nothing and compare each artifact with the signed entry
//! of the same key ([`crate::rebuild`]). Exit status 1 on any mismatch.

use super::fetch::Source;
use super::{Global, Status};
use crate::rebuild::{rebuild, RebuildOptions};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Arguments of `cargo ipfs verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rebuild without the cache, in a temporary target directory, and
    /// compare every artifact with the index's signed entry of the same key.
    #[arg(long, required = true)]
    rebuild: bool,
    #[command(flatten)]
    what: RebuildArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// What to rebuild, and against which index (`verify --rebuild`, `attest`).
#[derive(Debug, clap::Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    source: Source,
    /// The project whose lockfile to rebuild [default: the current directory's].
    #[arg(long, value_name = "PATH", conflicts_with = "krate")]
    manifest_path: Option<PathBuf>,
    /// Rebuild one crate (a generated project depending on it) and compare its artifacts.
    #[arg(long = "crate", value_name = "NAME[@VERSION]")]
    krate: Option<String>,
    /// Compare a random subset of this many rebuilt artifacts.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(usize))]
    sample: Option<usize>,
    /// Rebuild with `--release`, as `cargo install` builds (else the
    /// `dev` profile, as `cargo build`).
    #[arg(long)]
    release: bool,
    /// Cargo's parallel jobs.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(usize))]
    jobs: Option<usize>,
}

impl RebuildArgs {
    /// The options of the rebuild.
    pub fn options(&self) -> RebuildOptions {
        let krate = self.krate.as_deref().map(|spec| match spec.split_once('@') {
            Some((name, version)) => (name.to_string(), Some(version.to_string())),
            None => (spec.to_string(), None),
        });
        RebuildOptions {
            index: self.source.index.clone(),
            gateways: self.source.gateways.clone(),
            kubo: self.source.kubo.clone(),
            offline: self.source.offline,
            timeout: self.source.timeout.map(std::time::Duration::from_secs),
            manifest_path: self.manifest_path.clone(),
            krate,
            sample: self.sample,
            jobs: self.jobs,
            release: self.release,
        }
    }
}

/// Rebuilds, compares, reports.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    let _ = args.rebuild;
    let store_dir = global.store_dir()?;
    global.open_store()?;
    let report = rebuild(&store_dir, &args.what.options())?;
    let status = if report.mismatched.is_empty() { 0 } else { 1 };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(status);
    }
    print_report(&report);
    Ok(status)
}

/// The report of a rebuild, for people.
pub fn print_report(report: &crate::rebuild::compare::Report) {
    println!(
        "index {} version {}: {} matched, {} mismatched, {} signed entries not rebuilt here, {} rebuilt artifacts not in the index",
        report.index,
        report.version,
        report.matched.len(),
        report.mismatched.len(),
        report.not_rebuilt.len(),
        report.not_in_index
    );
    for m in &report.mismatched {
        println!(
            "MISMATCH {} {} ({}, key {}): signed {}, rebuilt {}",
            m.name, m.version, m.kind, m.key, m.cid, m.rebuilt_cid
        );
        for line in &m.differences {
            println!("  {line}");
        }
    }
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &report.not_rebuilt {
        *reasons.entry(n.reason.as_str()).or_default() += 1;
    }
    for (reason, count) in reasons {
        println!("not rebuilt here: {count} ({reason})");
    }
}
