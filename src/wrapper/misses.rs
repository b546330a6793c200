//! What `cargo ipfs why-miss` reads: the misses of registry units and the
//! executed runs of cached build scripts, with the named inputs of their
//! keys (`<store>/wrapper/misses/<crate>.json`, the last [`KEEP`] per
//! crate), and the named inputs of each unit recorded here
//! (`<store>/wrapper/inputs/<crate>/<key>.json`). Written after the fact:
//! a failure to write is ignored, never the build's.

use crate::atomic_file::Durability;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How many misses are kept per crate.
pub const KEEP: usize = 8;

/// What missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MissKind {
    /// A compilation that ran rustc.
    Compilation,
    /// A build-script run that ran the script.
    Run,
}

/// One miss, or one unit recorded here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keyed {
    /// Compilation or run.
    pub kind: MissKind,
    /// The crate version.
    pub version: String,
    /// A compilation's crate types (`lib`, `bin` for a build script...):
    /// a package's units are told apart by them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crate_types: Vec<String>,
    /// The key (a run's pre-key).
    pub key: String,
    /// The compiler, as entries name it (`release commit-hash`).
    pub rustc: String,
    /// The named inputs of the key (a run's: of its pre-key, and its
    /// declared state).
    pub inputs: BTreeMap<String, String>,
    /// When (seconds since the Unix epoch).
    pub at: u64,
}

/// Whether `name` can name a file: a package name.
pub fn valid_crate_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn misses_path(store_dir: &Path, krate: &str) -> PathBuf {
    store_dir.join("wrapper").join("misses").join(format!("{krate}.json"))
}

fn inputs_dir(store_dir: &Path, krate: &str) -> PathBuf {
    store_dir.join("wrapper").join("inputs").join(krate)
}

/// The seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Adds a miss of `krate`, keeping the last [`KEEP`], under a lock.
pub fn add_miss(store_dir: &Path, krate: &str, miss: Keyed) -> std::io::Result<()> {
    if !valid_crate_name(krate) {
        return Ok(());
    }
    let path = misses_path(store_dir, krate);
    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
    let lock =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path.with_extension("lock"))?;
    lock.lock()?;
    let mut list = read_misses(store_dir, krate);
    // The same miss again (cargo building the crate twice alike) is kept once.
    list.retain(|m| !(m.kind == miss.kind && m.key == miss.key && m.inputs == miss.inputs));
    list.push(miss);
    let drop = list.len().saturating_sub(KEEP);
    list.drain(..drop);
    crate::atomic_file::replace(
        &path,
        &serde_json::to_vec_pretty(&list).expect("misses serialize"),
        Durability::Unsynced,
    )
}

/// The misses of `krate` kept, oldest first (none when unreadable).
pub fn read_misses(store_dir: &Path, krate: &str) -> Vec<Keyed> {
    if !valid_crate_name(krate) {
        return Vec::new();
    }
    std::fs::read(misses_path(store_dir, krate)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// Files the named inputs of a unit recorded here.
pub fn add_record(store_dir: &Path, krate: &str, record: &Keyed) -> std::io::Result<()> {
    if !valid_crate_name(krate) || !record.key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(());
    }
    let dir = inputs_dir(store_dir, krate);
    std::fs::create_dir_all(&dir)?;
    let bytes = serde_json::to_vec(record).expect("records serialize");
    crate::atomic_file::replace(&dir.join(format!("{}.json", record.key)), &bytes, Durability::Unsynced)
}

/// The named inputs of the units of `krate` recorded here (those that
/// cannot be read are left out).
pub fn read_records(store_dir: &Path, krate: &str) -> Vec<Keyed> {
    if !valid_crate_name(krate) {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir(inputs_dir(store_dir, krate)) else { return Vec::new() };
    let mut records: Vec<Keyed> = entries
        .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
        .filter_map(|bytes| serde_json::from_slice(&bytes).ok())
        .collect();
    records.sort_by(|a, b| (a.at, &a.key).cmp(&(b.at, &b.key)));
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    fn miss(key: &str) -> Keyed {
        Keyed {
            kind: MissKind::Compilation,
            version: "1.0.0".into(),
            crate_types: vec!["lib".into()],
            key: key.into(),
            rustc: "1.95.0 abc".into(),
            inputs: [("features".to_string(), "[]".to_string())].into(),
            at: 1,
        }
    }

    #[test]
    fn the_last_misses_are_kept_once_each() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..(KEEP + 3) {
            add_miss(dir.path(), "cfix", miss(&format!("{i:02}"))).unwrap();
        }
        add_miss(dir.path(), "cfix", miss(&format!("{:02}", KEEP + 2))).unwrap();
        let kept = read_misses(dir.path(), "cfix");
        assert_eq!(kept.len(), KEEP);
        assert_eq!(kept.first().unwrap().key, "03");
        assert_eq!(kept.last().unwrap().key, format!("{:02}", KEEP + 2));
        assert!(read_misses(dir.path(), "../x").is_empty());
        add_miss(dir.path(), "../x", miss("00")).unwrap();
        assert!(!dir.path().join("wrapper/x.json").exists());
    }

    #[test]
    fn records_are_read_back_by_crate() {
        let dir = tempfile::tempdir().unwrap();
        add_record(dir.path(), "cfix", &miss("ab")).unwrap();
        add_record(dir.path(), "cfix", &miss("cd")).unwrap();
        add_record(dir.path(), "other", &miss("ef")).unwrap();
        let keys: Vec<String> = read_records(dir.path(), "cfix").into_iter().map(|r| r.key).collect();
        assert_eq!(keys, ["ab", "cd"]);
    }
}
