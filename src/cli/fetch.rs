//! `cargo ipfs fetch` / `cargo ipfs-fetch`: fetch the prebuilt dependencies
//! of the current lockfile before compilation.

use super::{Global, Status};
use crate::fetch::{FetchOptions, Progress, Summary};
use std::io::IsTerminal;
use std::time::SystemTime;

/// Where to fetch from (shared with `cargo ipfs build` and `install`).
#[derive(Debug, Clone, clap::Args)]
pub struct Source {
    /// The index to fetch from [default: CARGO_IPFS_INDEX, <store>/config.json, the only trusted index].
    #[arg(long, value_name = "NAME")]
    pub index: Option<String>,
    /// A trustless gateway (repeat to race several) [default: CARGO_IPFS_GATEWAYS, <store>/config.json].
    #[arg(long = "gateway", value_name = "URL")]
    pub gateways: Vec<String>,
    /// A kubo node's RPC API to fetch through instead of gateways, as
    /// `http://127.0.0.1:5001` or `/ip4/127.0.0.1/tcp/5001` [default: CARGO_IPFS_KUBO, <store>/config.json].
    #[arg(long, value_name = "ADDR")]
    pub kubo: Option<String>,
    /// Use the local store only.
    #[arg(long)]
    pub offline: bool,
    /// How long a request may go without an answer, in seconds (a CAR
    /// stream: without a byte) [default: gateways 5 for the answer to
    /// begin and 30 between its pieces; kubo 60].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: Option<u64>,
    /// Use only artifacts that K distinct trusted rebuilders attest [default:
    /// CARGO_IPFS_REQUIRE_ATTESTATIONS, <store>/config.json, 0].
    #[arg(long, value_name = "K")]
    pub require_attestations: Option<u32>,
    /// A trusted rebuilder whose attestations count (repeat) [default:
    /// CARGO_IPFS_REBUILDERS, <store>/config.json, every rebuilder trusted].
    #[arg(long = "rebuilder", value_name = "NAME")]
    pub rebuilders: Vec<String>,
}

/// Arguments of `cargo ipfs fetch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: Source,
    /// The manifest of the project whose dependencies to fetch.
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<std::path::PathBuf>,
    /// The target triple [default: the host].
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,
    /// Parallel downloads.
    #[arg(short, long, default_value_t = 8)]
    jobs: usize,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

impl Source {
    /// The fetch options these flags give.
    pub fn options(&self) -> FetchOptions {
        FetchOptions {
            index: self.index.clone(),
            gateways: self.gateways.clone(),
            kubo: self.kubo.clone(),
            offline: self.offline,
            timeout: self.timeout.map(std::time::Duration::from_secs),
            jobs: 8,
            rebuilders: self.rebuilders.clone(),
            require_attestations: self.require_attestations,
            ..FetchOptions::default()
        }
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Prints a summary line (and what is missing, when asked).
pub fn print_summary(summary: &Summary) {
    eprintln!(
        "cargo-ipfs: index {} version {}: fetched {} artifact(s), {:.1} MiB in {:.1} s; {} already local; {} package(s) not in the index; {} failed",
        summary.index,
        summary.version,
        summary.fetched.len(),
        mib(summary.bytes),
        summary.total_ms as f64 / 1000.0,
        summary.already_local,
        summary.missing.len(),
        summary.failed.len()
    );
    if summary.store_full.is_some() {
        eprintln!(
            "cargo-ipfs: the fetch stopped early because the disk of the store is full; what it did not fetch will compile"
        );
    }
}

/// Runs a fetch, showing progress on stderr: a bar (crates and bytes) on
/// a terminal, plain lines otherwise, nothing with `quiet`.
pub fn run(global: &Global, mut opts: FetchOptions, quiet: bool) -> anyhow::Result<Summary> {
    let store_dir = global.store_dir()?;
    global.open_store()?;
    opts.jobs = opts.jobs.max(1);
    let terminal = std::io::stderr().is_terminal();
    let bar: std::sync::OnceLock<indicatif::ProgressBar> = std::sync::OnceLock::new();
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let progress = |p: Progress| {
        if quiet {
            return;
        }
        match p {
            Progress::Unattested(what, why) => {
                let line = format!("cargo-ipfs: {what}: not fetched, {why}; it will compile");
                match bar.get() {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
            Progress::Resolved { index, version, packages } => {
                eprintln!(
                    "cargo-ipfs: index {index} version {version} verified; looking up {packages} locked package(s)"
                );
                // Downloads start while lookups still run: the bar is there
                // from the start, and learns its length once all are done.
                if terminal {
                    let style = indicatif::ProgressStyle::with_template("{pos} crates, {msg} (looking up)")
                        .expect("a valid template");
                    let _ = bar.set(indicatif::ProgressBar::no_length().with_style(style));
                }
            }
            Progress::Planned { artifacts } => {
                if let Some(bar) = bar.get() {
                    let style = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} crates, {msg}")
                        .expect("a valid template");
                    bar.set_length(artifacts as u64);
                    bar.set_style(style);
                }
            }
            Progress::Fetched(f) => match bar.get() {
                Some(bar) => {
                    let total = bytes.fetch_add(f.bytes, std::sync::atomic::Ordering::Relaxed) + f.bytes;
                    bar.set_message(format!("{:.1} MiB", mib(total)));
                }
                None => eprintln!("cargo-ipfs: fetched {} {} ({:.1} MiB)", f.name, f.version, mib(f.bytes)),
            },
            Progress::Done => {
                if let Some(bar) = bar.get() {
                    bar.inc(1);
                }
            }
            Progress::Failed(what, why) => {
                let line = format!("cargo-ipfs: {what}: {why}; it will compile");
                match bar.get() {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
        }
    };
    let result = crate::fetch::subscribed::fetch_subscribed(&store_dir, &opts, &progress);
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }
    // Said even when quiet: the index is about to stop working.
    if let Ok(s) = &result {
        if let Some(warning) = crate::fetch::expiry_warning(&s.index, s.version, s.expires, SystemTime::now()) {
            eprintln!("cargo-ipfs: warning: {warning}");
        }
    }
    result
}

/// Fetches and reports.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    let mut opts = args.source.options();
    opts.manifest_path = args.manifest_path;
    opts.target = args.target;
    opts.jobs = args.jobs;
    let summary = run(global, opts, args.quiet || args.json)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else if !args.quiet {
        print_summary(&summary);
        for line in missing_lines(&summary.missing) {
            eprintln!("{line}");
        }
    }
    // `cargo-ipfs-fetch` runs this too; the collection is `cargo-ipfs gc`.
    if let Ok(me) = std::env::current_exe() {
        let main = me.with_file_name(format!("cargo-ipfs{}", std::env::consts::EXE_SUFFIX));
        crate::gc::collect_if_over(&global.store_dir()?, if main.is_file() { &main } else { &me });
    }
    Ok(0)
}

/// How many of the packages the index lacks are named one per line; a
/// lockfile names every platform's packages, so the list can be long.
const MISSING_SHOWN: usize = 10;

/// The lines that name what the index lacks: the first few, then a count.
fn missing_lines(missing: &[String]) -> Vec<String> {
    let mut lines: Vec<String> =
        missing.iter().take(MISSING_SHOWN).map(|m| format!("  not in the index: {m}")).collect();
    if missing.len() > MISSING_SHOWN {
        lines.push(format!("  and {} more (`--json` lists them all)", missing.len() - MISSING_SHOWN));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_list_of_what_the_index_lacks_is_cut_with_a_count() {
        let names = |n: usize| (0..n).map(|i| format!("crate{i} 1.0.0")).collect::<Vec<_>>();
        assert!(missing_lines(&[]).is_empty());
        assert_eq!(missing_lines(&names(2)), ["  not in the index: crate0 1.0.0", "  not in the index: crate1 1.0.0"]);
        let lines = missing_lines(&names(25));
        assert_eq!(lines.len(), MISSING_SHOWN + 1);
        assert_eq!(lines[MISSING_SHOWN - 1], "  not in the index: crate9 1.0.0");
        assert_eq!(lines[MISSING_SHOWN], "  and 15 more (`--json` lists them all)");
        assert_eq!(missing_lines(&names(MISSING_SHOWN)).len(), MISSING_SHOWN, "no count when all are named");
    }
}
