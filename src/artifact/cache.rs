//! The local cache map and the journal.
//!
//! `<store>/wrapper/keys/<ab>/<key>.json` maps a cache key to the
//! environment variables the crate reads and, for each set of their values,
//! the artifact (CID, sha256, size). The artifact itself is a UnixFS file in
//! the block store. `<store>/journal.jsonl` lists every artifact recorded
//! here, for `cargo ipfs publish`; one line is appended per artifact with a
//! single write, so concurrent wrappers never interleave lines. A line torn
//! by a full disk or a crash is ended before the next one is appended, so
//! that it costs only itself: `publish` skips it and reads the rest.

use crate::atomic_file::Durability;
use crate::index::Entry;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
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
    /// Made here: recorded by this machine's wrapper, not fetched. A
    /// record written before this field existed reads as fetched, so that
    /// a policy of required attestations never restores it unchecked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub local: bool,
    /// The keys of the trusted rebuilders whose attestations of it a fetch
    /// checked (see [`super::policy`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attested_by: Vec<String>,
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

    /// Whether the map has a record for `key` (which may still lack the
    /// variant a compilation needs).
    pub fn has(&self, key: &str) -> bool {
        key.len() > 2 && self.path(key).is_file()
    }

    /// The record of `key`, if any. A malformed record reads as absent.
    pub fn get(&self, key: &str) -> Option<KeyRecord> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Runs `f`, a read-modify-write of `key`'s record, under the lock of
    /// its folder, so that wrappers and fetches filing variants of one key
    /// at once lose none.
    fn locked<R>(&self, key: &str, f: impl FnOnce() -> std::io::Result<R>) -> std::io::Result<R> {
        let dir = self.dir.join(&key[..2]);
        std::fs::create_dir_all(&dir)?;
        crate::atomic_file::locked(&dir.join(".lock"), f)
    }

    /// Adds an artifact for `key` under the given environment variables.
    pub fn put(&self, key: &str, env_names: &[String], env: &str, artifact: ArtifactRef) -> std::io::Result<()> {
        self.locked(key, || self.put_unlocked(key, env_names, env, artifact))
    }

    fn put_unlocked(&self, key: &str, env_names: &[String], env: &str, artifact: ArtifactRef) -> std::io::Result<()> {
        let path = self.path(key);
        let mut record = self.get(key).unwrap_or_default();
        if record.env_names != env_names {
            // The same key always reads the same variables; a different list
            // means an older record from another format: start over.
            record = KeyRecord { env_names: env_names.to_vec(), variants: BTreeMap::new() };
        }
        record.variants.insert(env.to_string(), artifact);
        crate::atomic_file::replace(
            &path,
            &serde_json::to_vec(&record).expect("records serialize"),
            Durability::Unsynced,
        )
    }

    /// Adds `keys` to the rebuilders that attested the artifact `cid` filed
    /// under `key` (an artifact fetched before a policy asked for them,
    /// attested since). Nothing when it is not filed.
    pub fn add_attesters(&self, key: &str, cid: &str, keys: &[String]) -> std::io::Result<()> {
        if self.get(key).is_none() {
            return Ok(());
        }
        self.locked(key, || self.add_attesters_unlocked(key, cid, keys))
    }

    fn add_attesters_unlocked(&self, key: &str, cid: &str, keys: &[String]) -> std::io::Result<()> {
        let Some(mut record) = self.get(key) else { return Ok(()) };
        let mut changed = false;
        for artifact in record.variants.values_mut().filter(|a| a.cid == cid) {
            for k in keys {
                if !artifact.attested_by.contains(k) {
                    artifact.attested_by.push(k.clone());
                    changed = true;
                }
            }
        }
        if !changed {
            return Ok(());
        }
        crate::atomic_file::replace(
            &self.path(key),
            &serde_json::to_vec(&record).expect("records serialize"),
            Durability::Unsynced,
        )
    }

    /// Removes every variant naming `cid` from the record in `file` (a
    /// file of this map), and the file when none is left: the artifact is
    /// gone, and a hit must not look for it.
    pub fn forget(&self, file: &Path, cid: &str) -> std::io::Result<()> {
        let Some(dir) = file.parent().filter(|d| d.parent() == Some(self.dir.as_path())) else {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file of the cache map"));
        };
        crate::atomic_file::edit_json(&dir.join(".lock"), file, |record: &mut KeyRecord| {
            record.variants.retain(|_, a| a.cid != cid);
            !record.variants.is_empty()
        })
    }

    /// Appends an entry to the journal.
    pub fn journal(&self, entry: &Entry) -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new().create(true).read(true).append(true).open(&self.journal)?;
        // A last line without its newline was torn (the disk filled up, or a
        // wrapper died mid-write): end it first, or this entry would join it
        // and be skipped with it. A wrapper appending at the same moment can
        // at worst leave an empty line, which readers skip.
        let mut line = Vec::with_capacity(1024);
        if file.seek(SeekFrom::End(0))? > 0 {
            let mut last = [0u8];
            file.seek(SeekFrom::End(-1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                line.push(b'\n');
            }
        }
        serde_json::to_writer(&mut line, entry).expect("entries serialize");
        line.push(b'\n');
        crate::failpoint::hit_then("journal.append", || {
            let _ = file.write_all(&line[..line.len() / 2]);
        });
        file.write_all(&line)
    }

    /// The entries in the journal, oldest first, and how many lines could
    /// not be read as one (torn by a crash or a full disk). No journal yet
    /// reads as empty.
    pub fn journal_entries(&self) -> std::io::Result<(Vec<Entry>, usize)> {
        let text = match std::fs::read_to_string(&self.journal) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => return Err(e),
        };
        let (mut entries, mut torn) = (Vec::new(), 0);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<Entry>(line) {
                Ok(entry) => entries.push(entry),
                Err(_) => torn += 1,
            }
        }
        Ok((entries, torn))
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
        let art = |cid: &str| ArtifactRef {
            cid: cid.into(),
            sha256: "0".repeat(64),
            size: 1,
            compile_ms: 5,
            local: true,
            attested_by: vec![],
        };
        cache.put(&key, &["X".into()], "e1", art("c1")).unwrap();
        cache.put(&key, &["X".into()], "e2", art("c2")).unwrap();
        let record = cache.get(&key).unwrap();
        assert_eq!(record.variants.len(), 2);
        assert_eq!(record.variants["e2"].cid, "c2");
        assert!(cache.get(&"cd".repeat(32)).is_none());
    }

    #[test]
    fn variants_filed_at_once_by_many_writers_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let key = "ef".repeat(32);
        std::thread::scope(|s| {
            for writer in 0..8 {
                let dir = dir.path().to_path_buf();
                let key = key.clone();
                s.spawn(move || {
                    let cache = Cache::new(&dir);
                    for round in 0..25 {
                        let artifact = ArtifactRef {
                            cid: format!("c{writer}-{round}"),
                            sha256: "0".repeat(64),
                            size: 1,
                            compile_ms: 1,
                            local: true,
                            attested_by: vec![],
                        };
                        cache.put(&key, &[], &format!("w{writer}-{round}"), artifact).unwrap();
                    }
                });
            }
        });
        let record = Cache::new(dir.path()).get(&key).unwrap();
        assert_eq!(record.variants.len(), 8 * 25, "no writer's variant is lost");
    }

    #[test]
    fn a_torn_journal_line_costs_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        assert_eq!(cache.journal_entries().unwrap(), (vec![], 0), "no journal yet");
        let first = crate::index::entry::tests::sample("serde", "1.0.0", &"ab".repeat(32));
        let second = crate::index::entry::tests::sample("itoa", "1.0.0", &"cd".repeat(32));
        cache.journal(&first).unwrap();
        // The disk filled up halfway through the next line.
        let whole = serde_json::to_string(&second).unwrap();
        let mut file = std::fs::OpenOptions::new().append(true).open(cache.journal_path()).unwrap();
        file.write_all(&whole.as_bytes()[..whole.len() / 2]).unwrap();
        drop(file);
        // Once there is room again, the next entry is read whole.
        cache.journal(&second).unwrap();
        let (entries, torn) = cache.journal_entries().unwrap();
        assert_eq!(entries, [first.clone(), second.clone()]);
        assert_eq!(torn, 1);
        // And appending after a whole line adds no empty one.
        cache.journal(&first).unwrap();
        let text = std::fs::read_to_string(cache.journal_path()).unwrap();
        assert_eq!(text.lines().filter(|l| l.is_empty()).count(), 0, "{text}");
        assert_eq!(cache.journal_entries().unwrap().0.len(), 3);
    }
}
