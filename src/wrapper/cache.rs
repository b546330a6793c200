//! The local cache map and the journal.
//!
//! `<store>/wrapper/keys/<ab>/<key>.json` maps a cache key to the
//! environment variables the crate reads and, for each set of their values,
//! the artifact (CID, sha256, size). The artifact itself is a UnixFS file in
//! the block store. `<store>/journal.jsonl` lists every artifact recorded
//! here, for `cargo ipfs publish`; one line is appended per artifact with a
//! single write, so concurrent wrappers never interleave lines.

use crate::index::Entry;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One stored artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRef {
    /// The artifact's CID.
    pub cid: String,
    /// Its sha256 (hex).
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// How long rustc took to make it, in milliseconds (for the time-saved estimate).
    pub compile_ms: u64,
}

/// What is known about one cache key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The environment variables the crate reads (from rustc's dep-info).
    pub env_names: Vec<String>,
    /// Artifacts by the digest of those variables' values.
    pub variants: BTreeMap<String, ArtifactRef>,
}

/// The digest of the current values of `names` (absent and empty differ).
pub fn env_digest(names: &[String], get: impl Fn(&str) -> Option<String>) -> String {
    let mut h = Sha256::new();
    for name in names {
        h.update(name.as_bytes());
        match get(name) {
            Some(value) => {
                h.update([1]);
                h.update((value.len() as u64).to_le_bytes());
                h.update(value.as_bytes());
            }
            None => h.update([0]),
        }
    }
    hex::encode(h.finalize())
}

/// The map of keys in a store directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    journal: PathBuf,
}

impl Cache {
    /// The cache of the store at `store_dir`.
    pub fn new(store_dir: &Path) -> Self {
        Cache { dir: store_dir.join("wrapper").join("keys"), journal: store_dir.join("journal.jsonl") }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.json"))
    }

    /// The record of `key`, if any. A malformed record reads as absent.
    pub fn get(&self, key: &str) -> Option<KeyRecord> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Adds an artifact for `key` under the given environment variables.
    pub fn put(&self, key: &str, env_names: &[String], env: &str, artifact: ArtifactRef) -> std::io::Result<()> {
        let path = self.path(key);
        std::fs::create_dir_all(path.parent().expect("key paths have a parent"))?;
        let mut record = self.get(key).unwrap_or_default();
        if record.env_names != env_names {
            // The same key always reads the same variables; a different list
            // means an older record from another format: start over.
            record = KeyRecord { env_names: env_names.to_vec(), variants: BTreeMap::new() };
        }
        record.variants.insert(env.to_string(), artifact);
        crate::store::write_atomic_cache(&path, &serde_json::to_vec(&record).expect("records serialize"))
    }

    /// Appends an entry to the journal.
    pub fn journal(&self, entry: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry).expect("entries serialize");
        line.push(b'\n');
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.journal)?;
        file.write_all(&line)
    }

    /// The journal's path.
    pub fn journal_path(&self) -> &Path {
        &self.journal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_digest_distinguishes_absent_from_empty_and_values() {
        let names = vec!["A".to_string()];
        let absent = env_digest(&names, |_| None);
        let empty = env_digest(&names, |_| Some(String::new()));
        let one = env_digest(&names, |_| Some("1".into()));
        assert!(absent != empty && empty != one && absent != one);
        assert_eq!(one, env_digest(&names, |_| Some("1".into())));
    }

    #[test]
    fn records_variants_per_environment() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let key = "ab".repeat(32);
        let art = |cid: &str| ArtifactRef { cid: cid.into(), sha256: "0".repeat(64), size: 1, compile_ms: 5 };
        cache.put(&key, &["X".into()], "e1", art("c1")).unwrap();
        cache.put(&key, &["X".into()], "e2", art("c2")).unwrap();
        let record = cache.get(&key).unwrap();
        assert_eq!(record.variants.len(), 2);
        assert_eq!(record.variants["e2"].cid, "c2");
        assert!(cache.get(&"cd".repeat(32)).is_none());
    }
}
