//! Wrapper statistics, kept in `<store>/wrapper/stats.json` and updated
//! under a file lock at the end of each wrapper call.

use crate::atomic_file::Durability;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Counters since the last `cargo ipfs stats --zero`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Compilations answered from the cache.
    pub hits: u64,
    /// Cacheable compilations that ran rustc.
    pub misses: u64,
    /// Misses whose outputs were recorded.
    pub recorded: u64,
    /// Compilations that could not be cached, by reason.
    pub not_cacheable: BTreeMap<String, u64>,
    /// Cache problems that fell back to rustc, by kind.
    pub errors: BTreeMap<String, u64>,
    /// Bytes of outputs restored on hits.
    pub bytes_restored: u64,
    /// Compile time the hits saved, by the recorded compile times (ms).
    pub time_saved_ms: u64,
    /// Wall time the wrapper spent on hits, from start to exit (µs).
    #[serde(default)]
    pub hit_time_us: u64,
    /// Build-script runs.
    #[serde(default)]
    pub runs: RunStats,
}

/// Build-script runs seen by the launcher (see `crate::wrapper::script`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStats {
    /// Runs restored from the cache: the script did not run.
    pub restored: u64,
    /// Runs of the real script.
    pub executed: u64,
    /// Executed runs that were recorded.
    pub recorded: u64,
    /// Run time the restores saved, by the recorded run times (ms).
    pub time_saved_ms: u64,
    /// Runs that could not be cached, by reason.
    pub not_cached: BTreeMap<String, u64>,
    /// Build scripts whose compilation waited for their run (compiled
    /// only when it ran: a miss then).
    #[serde(default)]
    pub deferred: u64,
}

/// What one wrapper call adds to the counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A hit restoring `bytes`, saving `saved_ms`, taking `took_us`.
    Hit {
        /// Bytes restored.
        bytes: u64,
        /// Compile time saved.
        saved_ms: u64,
        /// The wrapper's own wall time for this hit.
        took_us: u64,
    },
    /// A miss; `recorded` when the outputs were stored.
    Miss {
        /// Whether the outputs were recorded.
        recorded: bool,
    },
    /// Not cacheable, with the reason's label.
    NotCacheable(String),
    /// A cache error (the compilation ran normally), with its kind.
    Error(String),
    /// A build-script run restored, saving `saved_ms`.
    RunRestored {
        /// The recorded run time.
        saved_ms: u64,
    },
    /// A build-script run of the real script; `recorded` when stored.
    RunExecuted {
        /// Whether the run was recorded.
        recorded: bool,
    },
    /// A build-script run that cannot be cached, with the reason.
    RunNotCached(String),
    /// A build script's compilation left for its run.
    ScriptDeferred,
}

/// The stats file of a store directory.
pub fn stats_path(store_dir: &Path) -> PathBuf {
    store_dir.join("wrapper").join("stats.json")
}

/// Reads the counters (zero when absent or unreadable).
pub fn read(store_dir: &Path) -> Stats {
    std::fs::read(stats_path(store_dir)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// Applies `f` to the counters under the stats lock.
pub fn update(store_dir: &Path, f: impl FnOnce(&mut Stats)) -> std::io::Result<()> {
    let path = stats_path(store_dir);
    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
    let lock =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path.with_extension("lock"))?;
    lock.lock()?;
    let mut stats = read(store_dir);
    f(&mut stats);
    crate::atomic_file::replace(
        &path,
        &serde_json::to_vec_pretty(&stats).expect("stats serialize"),
        Durability::Unsynced,
    )
}

/// Adds one event.
pub fn record(store_dir: &Path, event: &Event) -> std::io::Result<()> {
    update(store_dir, |s| match event {
        Event::Hit { bytes, saved_ms, took_us } => {
            s.hits += 1;
            s.bytes_restored += bytes;
            s.time_saved_ms = s.time_saved_ms.saturating_add(*saved_ms);
            s.hit_time_us += took_us;
        }
        Event::Miss { recorded } => {
            s.misses += 1;
            s.recorded += u64::from(*recorded);
        }
        Event::NotCacheable(reason) => *s.not_cacheable.entry(reason.clone()).or_default() += 1,
        Event::Error(kind) => *s.errors.entry(kind.clone()).or_default() += 1,
        Event::RunRestored { saved_ms } => {
            s.runs.restored += 1;
            s.runs.time_saved_ms = s.runs.time_saved_ms.saturating_add(*saved_ms);
        }
        Event::RunExecuted { recorded } => {
            s.runs.executed += 1;
            s.runs.recorded += u64::from(*recorded);
        }
        Event::RunNotCached(reason) => *s.runs.not_cached.entry(reason.clone()).or_default() += 1,
        Event::ScriptDeferred => s.runs.deferred += 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_updates_are_all_counted() {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..25 {
                        record(dir.path(), &Event::Hit { bytes: 2, saved_ms: 3, took_us: 4 }).unwrap();
                        record(dir.path(), &Event::NotCacheable("incremental".into())).unwrap();
                    }
                });
            }
        });
        let stats = read(dir.path());
        assert_eq!((stats.hits, stats.bytes_restored, stats.time_saved_ms, stats.hit_time_us), (100, 200, 300, 400));
        assert_eq!(stats.not_cacheable["incremental"], 100);
    }
}
