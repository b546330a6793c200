//! `cargo ipfs gc [--max-size SIZE] [--max-age D] [--dry-run] [--json]`:
//! keep the store under a size and rid of what went unused, never touching
//! the pin set (see [`crate::gc`]).

use super::{Global, Status};
use crate::gc::{collect, Options};
use std::time::{Duration, SystemTime};

/// `cargo ipfs gc` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bring the store under this size (`500M`, `20G`, `1T`, or bytes).
    #[arg(long, value_name = "SIZE", value_parser = crate::gc::parse_size)]
    max_size: Option<u64>,
    /// Remove what went unused for longer (`30d`, `12h`).
    #[arg(long, value_name = "D", value_parser = super::parse_duration)]
    max_age: Option<Duration>,
    /// Leave what was used or written more recently than this, for builds
    /// running meanwhile.
    #[arg(long, value_name = "D", default_value = "10m", value_parser = super::parse_duration)]
    grace: Duration,
    /// Say what would be removed; remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs a collection.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    let store_dir = global.store_dir()?;
    let options = Options { max_size: args.max_size, max_age: args.max_age, grace: args.grace, dry_run: args.dry_run };
    let report = collect(&store_dir, options, SystemTime::now())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let verb = if report.dry_run { "would remove" } else { "removed" };
        println!(
            "{verb}: {} orphan blocks ({} bytes), {} unpacked copies ({} bytes), {} artifacts ({} bytes)",
            report.orphan_blocks.0,
            report.orphan_blocks.1,
            report.unpacked.0.len(),
            report.unpacked.1,
            report.artifacts.0.len(),
            report.artifacts.1
        );
        if report.leftovers.0 > 0 {
            println!("{verb}: {} leftovers of interrupted writes ({} bytes)", report.leftovers.0, report.leftovers.1);
        }
        if report.stale_candidates > 0 {
            println!("{verb}: {} path-crate candidates whose artifact was gone", report.stale_candidates);
        }
        println!(
            "store: {} bytes before, {} after; {} blocks protected by the pin set (`cargo ipfs pin ls`)",
            report.before.total(),
            report.after.total(),
            report.protected_blocks
        );
        if !report.fits {
            println!(
                "the store is still over --max-size: what is left is pinned, kept, or used within --grace ({:?})",
                args.grace
            );
        }
    }
    Ok(if report.fits { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use crate::gc::parse_size;

    #[test]
    fn sizes_read_in_powers_of_1024() {
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("20GiB"), Ok(20 << 30));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err() && parse_size("5X").is_err());
    }
}
