//! What this machine keeps about indexes, as JSON files in the store
//! directory:
//!
//! - `trust.json`: per index name, the keys the subscriber trusts, the
//!   threshold, and the IPNS name to resolve (configuration, edited by
//!   `cargo ipfs trust`);
//! - `seen.json`: per index name, the newest version accepted (state; the
//!   sequence never goes down, which is what refuses rollbacks);
//! - `published.json`: the indexes this machine publishes, with the
//!   keystore keys that sign them and the newest root;
//! - `pins.json`: the roots kept on purpose ([`super::pins`]).
//!
//! Every change is a read-modify-write under an exclusive lock on
//! `<file>.lock`, written through a temporary file and a rename.

use super::manifest::IndexKind;
use super::pins::PinFile;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a local index file could not be used.
#[derive(Debug, Error)]
pub enum StateError {
    /// Reading, writing or locking failed.
    #[error("cannot use {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The disk (or the quota) holding the file has no room left; the file
    /// is as it was.
    #[error("cannot write {path}: no space left on its disk; free some space there")]
    Full {
        /// The file.
        path: PathBuf,
    },
    /// The file is not valid JSON of the expected shape.
    #[error("{path} is malformed ({source}); fix or remove it")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
}

/// A subscriber's trust in one index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexTrust {
    /// IPNS names of the trusted publisher keys.
    pub keys: Vec<String>,
    /// How many must sign.
    pub threshold: u32,
    /// The IPNS name the index is published under.
    pub ipns: String,
    /// What it holds: a publisher's artifacts, or a rebuilder's
    /// attestations (`trust add --rebuilder`).
    #[serde(default, skip_serializing_if = "IndexKind::is_artifacts")]
    pub kind: IndexKind,
}

/// The newest version of an index accepted on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// Its sequence number.
    pub seq: u64,
    /// Its root CID.
    pub root: String,
}

/// An index this machine publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// Keystore names of the signing keys.
    pub keys: Vec<String>,
    /// Keystore name of the key whose IPNS name the index is published under.
    pub ipns_key: String,
    /// The signature threshold written into manifests.
    pub threshold: u32,
    /// The root keys written into manifests, as IPNS names (their private
    /// keys are kept offline, not here); empty without the split.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub root_keys: Vec<String>,
    /// How many root keys must sign a change of keys (0 without the split).
    #[serde(default)]
    pub root_threshold: u32,
    /// How long a version stays valid, in seconds.
    pub lifetime_secs: u64,
    /// The newest root published.
    pub head: String,
    /// What it holds: artifacts, or this machine's attestations.
    #[serde(default, skip_serializing_if = "IndexKind::is_artifacts")]
    pub kind: IndexKind,
}

/// `trust.json`.
pub type TrustFile = BTreeMap<String, IndexTrust>;
/// `seen.json`.
pub type SeenFile = BTreeMap<String, Seen>;
/// `remote-pins.json`: by service, by index, the newest version pinned
/// there whole (`cargo ipfs pin remote add`).
pub type RemotePinsFile = BTreeMap<String, BTreeMap<String, Seen>>;
/// `published.json`.
pub type PublishedFile = BTreeMap<String, Published>;

/// The local index files of one store directory.
#[derive(Debug, Clone)]
pub struct IndexState {
    dir: PathBuf,
}

impl IndexState {
    /// The files in `dir` (the store directory).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        IndexState { dir: dir.into() }
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Reads `trust.json` (empty if absent).
    pub fn trust(&self) -> Result<TrustFile, StateError> {
        read(&self.file("trust.json"))
    }

    /// Changes `trust.json` under its lock.
    pub fn update_trust<R>(&self, f: impl FnOnce(&mut TrustFile) -> R) -> Result<R, StateError> {
        update(&self.file("trust.json"), f)
    }

    /// Reads `seen.json` (empty if absent).
    pub fn seen(&self) -> Result<SeenFile, StateError> {
        read(&self.file("seen.json"))
    }

    /// Records that version `seq` at `root` of `index` was accepted; an
    /// older sequence never replaces a newer one.
    pub fn record_seen(&self, index: &str, seq: u64, root: &str) -> Result<(), StateError> {
        update(&self.file("seen.json"), |seen: &mut SeenFile| {
            let newer = seen.get(index).is_none_or(|s| seq > s.seq);
            if newer {
                seen.insert(index.to_string(), Seen { seq, root: root.to_string() });
            }
        })
    }

    /// Reads `published.json` (empty if absent).
    pub fn published(&self) -> Result<PublishedFile, StateError> {
        read(&self.file("published.json"))
    }

    /// Changes `published.json` under its lock.
    pub fn update_published<R>(&self, f: impl FnOnce(&mut PublishedFile) -> R) -> Result<R, StateError> {
        update(&self.file("published.json"), f)
    }

    /// Reads `remote-pins.json` (empty if absent).
    pub fn remote_pins(&self) -> Result<RemotePinsFile, StateError> {
        read(&self.file("remote-pins.json"))
    }

    /// Records that version `seq` at `root` of `index` is pinned whole on
    /// `service`; an older version never replaces a newer one.
    pub fn record_remote_pin(&self, service: &str, index: &str, seq: u64, root: &str) -> Result<(), StateError> {
        update(&self.file("remote-pins.json"), |file: &mut RemotePinsFile| {
            let indexes = file.entry(service.to_string()).or_default();
            if indexes.get(index).is_none_or(|s| seq >= s.seq) {
                indexes.insert(index.to_string(), Seen { seq, root: root.to_string() });
            }
        })
    }

    /// Reads `pins.json`, the explicit pins (empty if absent).
    pub fn pins(&self) -> Result<PinFile, StateError> {
        read(&self.file("pins.json"))
    }

    /// Changes `pins.json` under its lock.
    pub fn update_pins<R>(&self, f: impl FnOnce(&mut PinFile) -> R) -> Result<R, StateError> {
        update(&self.file("pins.json"), f)
    }
}

fn read<T: DeserializeOwned + Default>(path: &Path) -> Result<T, StateError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StateError::Json { path: path.into(), source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(source) => Err(StateError::Io { path: path.into(), source }),
    }
}

fn update<T: DeserializeOwned + Serialize + Default, R>(
    path: &Path,
    f: impl FnOnce(&mut T) -> R,
) -> Result<R, StateError> {
    let io = |source: std::io::Error| {
        if crate::store::is_full(&source) {
            StateError::Full { path: path.into() }
        } else {
            StateError::Io { path: path.into(), source }
        }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let lock_path = path.with_extension("json.lock");
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(io)?;
    lock.lock().map_err(io)?;
    let mut value: T = read(path)?;
    let before = serde_json::to_vec_pretty(&value).expect("local files serialize");
    let out = f(&mut value);
    let mut bytes = serde_json::to_vec_pretty(&value).expect("local files serialize");
    // Nothing changed (a version seen before, say): nothing to write, so
    // reading commands work on a full disk and skip a flush.
    if bytes == before && path.exists() {
        return Ok(out);
    }
    bytes.push(b'\n');
    crate::atomic_file::replace(path, &bytes, crate::atomic_file::Durability::Synced).map_err(io)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_never_goes_down_and_updates_are_serialized() {
        let dir = tempfile::tempdir().unwrap();
        let local = IndexState::new(dir.path());
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let local = local.clone();
                s.spawn(move || {
                    for i in 0..20u64 {
                        local.record_seen("idx", t * 20 + i, "root").unwrap();
                    }
                });
            }
        });
        assert_eq!(local.seen().unwrap()["idx"].seq, 159);
        local.record_seen("idx", 3, "old").unwrap();
        assert_eq!(local.seen().unwrap()["idx"].seq, 159);
    }

    #[test]
    fn an_update_that_changes_nothing_writes_nothing() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let local = IndexState::new(dir.path());
        let inode = || std::fs::metadata(dir.path().join("seen.json")).unwrap().ino();
        local.record_seen("idx", 5, "root").unwrap();
        let first = inode();
        // Every write replaces the file by rename, so an unchanged inode
        // means no write (which a full disk could not take).
        local.record_seen("idx", 5, "root").unwrap();
        local.record_seen("idx", 4, "older").unwrap();
        assert_eq!(inode(), first);
        local.record_seen("idx", 6, "newer").unwrap();
        assert_ne!(inode(), first);
        assert_eq!(local.seen().unwrap()["idx"].seq, 6);
    }

    #[test]
    fn malformed_files_name_themselves() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("trust.json"), b"{not json").unwrap();
        let err = IndexState::new(dir.path()).trust().unwrap_err().to_string();
        assert!(err.contains("trust.json") && err.contains("fix or remove it"), "{err}");
    }
}
