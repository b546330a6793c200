//! Garbage collection: a store kept under a size bound and rid of what
//! went unused, never touching what the pin set protects.
//!
//! [`scan::Inventory`] takes stock; [`collect`] then removes, in order:
//!
//! 0. **leftovers** of writes that a killed process never finished: the
//!    `.tmp-` files and directories beside what they were to replace, and
//!    the `.trash-` directories of copies set aside for removal;
//! 1. **orphan blocks**: reachable from no protected root and no artifact
//!    the wrapper's maps name (an index version no longer the newest, a
//!    DAG added and never pinned);
//! 2. with `max_age`, every unpacked copy and every unprotected artifact
//!    unused for longer;
//! 3. with `max_size`, while the store is larger: unpacked copies, least
//!    recently used first (a hit makes them again from the blocks), then
//!    unprotected artifacts (compiled units and build-script runs), least
//!    recently used first: their variants in the cache map or their runs
//!    in the runs' map (so that a hit never looks for them), their
//!    unpacked copy, then their blocks that nothing else reaches. In that
//!    order, a collection killed halfway leaves at worst orphan blocks,
//!    which the next one removes, and never a map naming blocks that are
//!    gone;
//! 4. the path crates' candidates (`wrapper/local`) whose key no longer
//!    has a record in the cache map.
//!
//! Protected, never removed: the pin set (`pinning::kept`: mirrored
//! versions, the newest verified version of each trusted index with every
//! artifact its entries name, what is journaled, user pins) and the head of
//! each index published here. Nothing used or written within `grace` is
//! touched, so that a build restoring meanwhile finds what it started
//! with; one gc runs at a time (`<store>/gc.lock`). A unit's last use is
//! its unpacked copy's manifest read by a hit; a run's, its map file
//! touched by a restore.

pub mod scan;

use crate::artifact::cache::Cache;
use crate::artifact::runs::Runs;
use crate::artifact::unpacked::Unpacked;
use crate::formats::block::parse_cid;
use crate::store::DiskStore;
use crate::wrapper::local_sources::LocalSources;
use anyhow::Context;
use scan::{dir_size, Inventory, Marked};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// What to collect.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The size to bring the store under.
    pub max_size: Option<u64>,
    /// Remove what went unused for longer.
    pub max_age: Option<Duration>,
    /// Leave what was used or written more recently than this.
    pub grace: Duration,
    /// Say what would go, remove nothing.
    pub dry_run: bool,
}

/// The store's size by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sizes {
    /// Blocks other than index trees: artifacts as they travel.
    pub packed: u64,
    /// Unpacked copies.
    pub unpacked: u64,
    /// Index trees' blocks, IPNS records and the index files.
    pub index: u64,
    /// Everything else (the wrapper's maps and notes, the journal, keys).
    pub other: u64,
}

impl Sizes {
    /// The whole store.
    pub fn total(&self) -> u64 {
        self.packed + self.unpacked + self.index + self.other
    }
}

/// What a collection did (or, dry, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Nothing was removed.
    pub dry_run: bool,
    /// Sizes before.
    pub before: Sizes,
    /// Sizes after (as estimated, when dry).
    pub after: Sizes,
    /// Leftover temporary files and directories removed, and their bytes.
    pub leftovers: (u64, u64),
    /// Orphan blocks removed, and their bytes.
    pub orphan_blocks: (u64, u64),
    /// Unpacked copies removed (CIDs), and their bytes.
    pub unpacked: (Vec<String>, u64),
    /// Artifacts removed (CIDs), and the bytes of their blocks.
    pub artifacts: (Vec<String>, u64),
    /// Path crates' candidates dropped: their artifact was gone.
    pub stale_candidates: u64,
    /// Blocks protected by the pin set.
    pub protected_blocks: u64,
    /// Whether the store is now under `max_size` (true without one).
    pub fits: bool,
}

/// The sizes of the store at `store_dir` by kind.
pub fn sizes(store_dir: &Path, inventory: &Inventory) -> Sizes {
    let mut s = Sizes::default();
    for b in &inventory.blocks {
        if inventory.index.contains(&b.multihash) {
            s.index += b.size;
        } else {
            s.packed += b.size;
        }
    }
    s.unpacked = inventory.copies.values().map(|c| c.size).sum();
    let index_files = ["trust.json", "seen.json", "published.json", "pins.json", "remote-pins.json"];
    s.index +=
        dir_size(&store_dir.join("ipns")) + index_files.iter().map(|f| dir_size(&store_dir.join(f))).sum::<u64>();
    let all = dir_size(store_dir);
    s.other = all.saturating_sub(s.packed + s.unpacked + s.index);
    s
}

/// `500M`, `20G`, `1T`, `64K` (powers of 1024), or bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a size such as 500M, 20G or 1T");
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = number.parse().map_err(|_| bad())?;
    let shift = match unit.trim_end_matches(['B', 'b', 'i']) {
        "" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        "T" | "t" => 40,
        _ => return Err(bad()),
    };
    n.checked_mul(1 << shift).ok_or_else(bad)
}

/// After a build or a fetch (never in the wrapper): when `config.json` sets
/// `max-size` and the store's blocks and unpacked copies are past it,
/// starts `program gc --max-size` as a detached process and returns at
/// once. A malformed or unreadable configuration starts nothing and says
/// why; nothing here can fail the command that called it.
pub fn collect_if_over(store_dir: &Path, program: &Path) {
    let Ok(file) = crate::sources::config::read_config(store_dir) else { return };
    let Some(text) = file.max_size else { return };
    let max = match parse_size(&text) {
        Ok(max) => max,
        Err(why) => {
            eprintln!("cargo-ipfs: config.json: max-size {why}; no collection started");
            return;
        }
    };
    let used = dir_size(&store_dir.join("blocks")) + dir_size(&store_dir.join("wrapper").join("unpacked"));
    if used <= max {
        return;
    }
    let spawned = std::process::Command::new(program)
        .args(["gc", "--max-size", &max.to_string()])
        .env(crate::vars::STORE, store_dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match spawned {
        Ok(_) => eprintln!(
            "cargo-ipfs: the store ({} MiB) is past max-size {text}; collecting in the background",
            used >> 20
        ),
        Err(e) => eprintln!("cargo-ipfs: cannot start a collection ({e}); run `cargo ipfs gc --max-size {text}`"),
    }
}

/// The sizes of the store at `store_dir`, for `stats`.
pub fn store_sizes(store_dir: &Path) -> anyhow::Result<Sizes> {
    if !store_dir.join("blocks").is_dir() {
        return Ok(Sizes::default());
    }
    let store = DiskStore::open(store_dir)?;
    Ok(sizes(store_dir, &Inventory::scan(store_dir, &store)?))
}

/// Collects the store at `store_dir` as `options` say, at `now`.
pub fn collect(store_dir: &Path, options: Options, now: SystemTime) -> anyhow::Result<Report> {
    let lock_path = store_dir.join("gc.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        anyhow::bail!("another `cargo ipfs gc` is running on this store; let it finish");
    }
    let store = DiskStore::open(store_dir)?;
    let inventory = Inventory::scan(store_dir, &store)?;
    let before = sizes(store_dir, &inventory);
    let mut report = Report {
        dry_run: options.dry_run,
        before,
        protected_blocks: inventory.protected.len() as u64,
        ..Report::default()
    };
    let recent = |t: SystemTime| now.duration_since(t).map_or(true, |age| age < options.grace);
    let stale = |t: SystemTime| options.max_age.is_some_and(|max| now.duration_since(t).is_ok_and(|age| age > max));

    // Each artifact's blocks, and how many artifacts reach each block.
    let mut reach: BTreeMap<String, Marked> = BTreeMap::new();
    let mut sharing: HashMap<Vec<u8>, u32> = HashMap::new();
    for cid in inventory.artifacts.keys() {
        let Ok(parsed) = parse_cid(cid) else { continue };
        let mut marked = Marked::new();
        scan::mark(&store, &parsed, &mut marked);
        for m in &marked {
            *sharing.entry(m.clone()).or_default() += 1;
        }
        reach.insert(cid.clone(), marked);
    }
    let sizes_of: HashMap<&[u8], (u64, &Path)> =
        inventory.blocks.iter().map(|b| (b.multihash.as_slice(), (b.size, b.path.as_path()))).collect();
    let mut remaining = before.total();
    let remove_file = |path: &Path| if options.dry_run { Ok(()) } else { remove(path) };

    // 0. Leftovers of killed writes (none is younger than the grace, so
    // that no write under way loses its temporary file).
    for (path, modified, size) in scan::leftovers(store_dir) {
        if recent(modified) {
            continue;
        }
        remove_file(&path)?;
        report.leftovers.0 += 1;
        report.leftovers.1 += size;
        remaining = remaining.saturating_sub(size);
    }

    // 1. Orphan blocks.
    for b in &inventory.blocks {
        if inventory.protected.contains(&b.multihash) || sharing.contains_key(&b.multihash) || recent(b.modified) {
            continue;
        }
        remove_file(&b.path)?;
        report.orphan_blocks.0 += 1;
        report.orphan_blocks.1 += b.size;
        remaining = remaining.saturating_sub(b.size);
    }

    // 2 and 3. Unpacked copies, then artifacts, least recently used first.
    let unpacked = Unpacked::new(store_dir);
    let mut copies: Vec<(&String, &scan::Copy)> = inventory.copies.iter().collect();
    copies.sort_by_key(|(_, c)| c.last_used);
    let over = |remaining: u64| options.max_size.is_some_and(|max| remaining > max);
    for (cid, copy) in copies {
        if recent(copy.last_used) || !(stale(copy.last_used) || over(remaining)) {
            continue;
        }
        if !options.dry_run {
            // The copy held the artifact's last use: the map files keep it.
            if let Some(artifact) = inventory.artifacts.get(cid) {
                carry_use(artifact.key_files.iter().chain(&artifact.run_files), copy.last_used);
            }
            unpacked.discard(cid);
        }
        report.unpacked.0.push(cid.clone());
        report.unpacked.1 += copy.size;
        remaining = remaining.saturating_sub(copy.size);
    }
    let cache = Cache::new(store_dir);
    let runs = Runs::new(store_dir);
    let mut artifacts: Vec<(&String, &scan::Cached)> = inventory.artifacts.iter().collect();
    artifacts.sort_by_key(|(_, a)| a.last_used);
    for (cid, artifact) in artifacts {
        let protected = parse_cid(cid).is_ok_and(|c| inventory.protected.contains(&c.hash().to_bytes()));
        if protected || recent(artifact.last_used) || !(stale(artifact.last_used) || over(remaining)) {
            continue;
        }
        // The map first, the blocks last: see the module's documentation.
        if !options.dry_run {
            for file in &artifact.key_files {
                cache.forget(file, cid).with_context(|| format!("cannot update {}", file.display()))?;
            }
            for file in &artifact.run_files {
                runs.forget(file, cid).with_context(|| format!("cannot update {}", file.display()))?;
            }
            unpacked.discard(cid);
        }
        let mut freed = 0;
        for m in reach.get(cid).into_iter().flatten() {
            if inventory.protected.contains(m) || sharing.get(m).is_some_and(|n| *n > 1) {
                continue;
            }
            if let Some((size, path)) = sizes_of.get(m.as_slice()) {
                remove_file(path)?;
                freed += size;
            }
        }
        for m in reach.get(cid).into_iter().flatten() {
            if let Some(n) = sharing.get_mut(m) {
                *n = n.saturating_sub(1);
            }
        }
        report.artifacts.0.push(cid.clone());
        report.artifacts.1 += freed;
        remaining = remaining.saturating_sub(freed);
    }
    // 4. Path crates' candidates whose artifact went (they can only miss).
    let written_before = now.checked_sub(options.grace).unwrap_or(SystemTime::UNIX_EPOCH);
    report.stale_candidates = LocalSources::new(store_dir)
        .trim(&|key| cache.has(key), written_before, options.dry_run)
        .context("cannot trim the path crates' map")?;
    report.fits = !over(remaining);
    report.after = if options.dry_run {
        let mut after = before;
        after.packed = after.packed.saturating_sub(report.orphan_blocks.1 + report.artifacts.1);
        after.unpacked = after.unpacked.saturating_sub(report.unpacked.1);
        after
    } else {
        sizes(store_dir, &Inventory::scan(store_dir, &store)?)
    };
    Ok(report)
}

/// Moves the modification time of `files` forward to `used` (never back),
/// so that an artifact whose copy goes keeps its place in the
/// least-recently-used order. A file that cannot be touched only loses that.
fn carry_use<'a>(files: impl Iterator<Item = &'a std::path::PathBuf>, used: SystemTime) {
    for file in files {
        let older = std::fs::metadata(file).and_then(|m| m.modified()).is_ok_and(|m| m < used);
        if older {
            let _ = std::fs::File::options().write(true).open(file).and_then(|f| f.set_modified(used));
        }
    }
}

/// Removes a file, or a directory with what it holds; one already gone
/// is fine.
fn remove(path: &Path) -> anyhow::Result<()> {
    crate::failpoint::hit("gc.remove");
    let removed = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
    match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod month_tests;
#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::cache::ArtifactRef;
    use crate::formats::block::{Block, RAW};
    use crate::store::BlockStore;

    /// Two artifacts in the cache map, one last used ten days ago, one a
    /// day ago.
    fn two_artifacts(dir: &Path) -> (Block, Block) {
        let store = DiskStore::open(dir).unwrap();
        let cache = Cache::new(dir);
        let now = SystemTime::now();
        let mut made = Vec::new();
        for (i, days) in [(1u8, 10u64), (2, 1)] {
            let block = Block::encode(RAW, false, vec![i; 4000]);
            store.put(&block).unwrap();
            let key = format!("{i}{i}").repeat(32);
            let artifact = ArtifactRef {
                cid: block.cid().to_string(),
                sha256: "0".repeat(64),
                size: 4000,
                compile_ms: 0,
                local: true,
                attested_by: vec![],
            };
            cache.put(&key, &[], "env", artifact).unwrap();
            let file = dir.join("wrapper/keys").join(&key[..2]).join(format!("{key}.json"));
            let at = now - Duration::from_secs(days * 86_400);
            let times = std::fs::FileTimes::new().set_accessed(at).set_modified(at);
            std::fs::File::options().write(true).open(&file).unwrap().set_times(times).unwrap();
            made.push(block);
        }
        (made.remove(0), made.remove(0))
    }

    fn options(max_size: Option<u64>, max_age: Option<Duration>) -> Options {
        Options { max_size, max_age, grace: Duration::from_millis(1), dry_run: false }
    }

    #[test]
    fn the_least_recently_used_artifact_goes_first_and_age_bounds_alone_suffice() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = two_artifacts(dir.path());
        let store = DiskStore::open(dir.path()).unwrap();
        let total = store_sizes(dir.path()).unwrap().total();
        let report = collect(dir.path(), options(Some(total - 100), None), SystemTime::now()).unwrap();
        assert_eq!(report.artifacts.0, [old.cid().to_string()], "{report:?}");
        assert!(report.fits);
        assert!(!store.has(old.cid()).unwrap() && store.has(new.cid()).unwrap());
        assert!(Cache::new(dir.path()).get(&"11".repeat(32)).is_none(), "the cache map forgets it");

        let dir = tempfile::tempdir().unwrap();
        let (old, new) = two_artifacts(dir.path());
        let week = Duration::from_secs(7 * 86_400);
        let report = collect(dir.path(), options(None, Some(week)), SystemTime::now()).unwrap();
        assert_eq!(report.artifacts.0, [old.cid().to_string()]);
        let store = DiskStore::open(dir.path()).unwrap();
        assert!(store.has(new.cid()).unwrap());

        // A user's pin protects it whatever its age.
        let dir = tempfile::tempdir().unwrap();
        let (old, _) = two_artifacts(dir.path());
        let local = crate::index::state::IndexState::new(dir.path());
        local.update_pins(|p| p.add_user(&old.cid().to_string(), None, 0)).unwrap();
        let report = collect(dir.path(), options(Some(0), Some(week)), SystemTime::now()).unwrap();
        assert!(!report.artifacts.0.contains(&old.cid().to_string()) && !report.fits, "{report:?}");
        assert!(DiskStore::open(dir.path()).unwrap().has(old.cid()).unwrap());
    }

    #[test]
    fn leftovers_of_killed_writes_go_once_older_than_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = two_artifacts(dir.path());
        let blocks = dir.path().join("blocks");
        let shard = std::fs::read_dir(&blocks).unwrap().next().unwrap().unwrap().path();
        let torn_file = shard.join(".tmp-a1b2c3");
        std::fs::write(&torn_file, [0u8; 100]).unwrap();
        let torn_copy = dir.path().join("unpacked/.tmp-xyz/out");
        std::fs::create_dir_all(&torn_copy).unwrap();
        std::fs::write(torn_copy.join("lib.rlib"), [1u8; 50]).unwrap();
        let trash = dir.path().join("unpacked/.trash-bafk-12");
        std::fs::create_dir_all(&trash).unwrap();
        let young = dir.path().join("wrapper/.tmp-young");
        std::fs::write(&young, b"being written").unwrap();
        let later = SystemTime::now() + Duration::from_secs(3600);
        let grace = Options { grace: Duration::from_secs(600), ..options(None, None) };
        // Younger than the grace: a write under way; kept.
        let report = collect(dir.path(), grace, SystemTime::now()).unwrap();
        assert_eq!(report.leftovers, (0, 0), "{report:?}");
        let report = collect(dir.path(), Options { dry_run: true, ..grace }, later).unwrap();
        assert_eq!(report.leftovers, (4, 100 + 50 + 13), "{report:?}");
        assert!(torn_file.exists(), "a dry run removes nothing");
        let report = collect(dir.path(), grace, later).unwrap();
        assert_eq!(report.leftovers.0, 4, "{report:?}");
        for path in [&torn_file, &torn_copy, &trash, &young] {
            assert!(!path.exists(), "{} is left", path.display());
        }
        // What the leftovers sat beside stays.
        let store = DiskStore::open(dir.path()).unwrap();
        assert!(store.has(old.cid()).unwrap() && store.has(new.cid()).unwrap());
    }
}
