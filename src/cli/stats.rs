//! `cargo ipfs stats [--json] [--zero]`: what the wrapper did.

use super::{Global, Status};
use crate::wrapper::stats;

/// Arguments of `cargo ipfs stats`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Reset the counters.
    #[arg(long)]
    zero: bool,
}

/// Prints (or resets) the counters.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    let dir = global.store_dir()?;
    if args.zero {
        stats::update(&dir, |s| *s = stats::Stats::default())?;
        println!("statistics reset");
        return Ok(0);
    }
    let s = stats::read(&dir);
    let sizes = crate::gc::store_sizes(&dir)?;
    if args.json {
        let mut value = serde_json::to_value(&s)?;
        value["store"] = serde_json::to_value(sizes)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(0);
    }
    println!(
        "store:           {} bytes ({} packed, {} unpacked, {} index, {} other)",
        sizes.total(),
        sizes.packed,
        sizes.unpacked,
        sizes.index,
        sizes.other
    );
    let cacheable = s.hits + s.misses;
    let rate = if cacheable == 0 { 0.0 } else { 100.0 * s.hits as f64 / cacheable as f64 };
    println!("hits:            {} ({rate:.0}% of cacheable compilations)", s.hits);
    println!("misses:          {} ({} recorded)", s.misses, s.recorded);
    println!("not cacheable:   {}", s.not_cacheable.values().sum::<u64>());
    for (reason, count) in &s.not_cacheable {
        println!("  {reason}: {count}");
    }
    println!("cache errors:    {}", s.errors.values().sum::<u64>());
    for (kind, count) in &s.errors {
        println!("  {kind}: {count}");
    }
    let runs = &s.runs;
    println!("build-script runs: {} restored, {} executed ({} recorded)", runs.restored, runs.executed, runs.recorded);
    println!(
        "  run time saved:  {:.1} s (recorded run times of the restored runs)",
        runs.time_saved_ms as f64 / 1000.0
    );
    if runs.deferred > 0 {
        println!("  scripts whose compilation waited for their run: {}", runs.deferred);
    }
    if !runs.not_cached.is_empty() {
        println!("  not cached:      {}", runs.not_cached.values().sum::<u64>());
        for (reason, count) in &runs.not_cached {
            println!("    {reason}: {count}");
        }
    }
    println!("bytes restored:  {}", s.bytes_restored);
    println!("time saved:      {:.1} s (recorded compile times of the hits)", s.time_saved_ms as f64 / 1000.0);
    if s.hits > 0 {
        println!(
            "time per hit:    {:.1} ms (the wrapper's own wall time)",
            s.hit_time_us as f64 / 1000.0 / s.hits as f64
        );
    }
    Ok(0)
}
