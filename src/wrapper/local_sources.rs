//! Local caching of path and git crates (`CARGO_IPFS_LOCAL=1`).
//!
//! A registry crate's sources are named by the checksum of its `.crate`
//! file; a path or git crate's are not named by anything, and which files a
//! compilation reads is known only once it has run (rustc's dep-info). So
//! their key is found in two steps, like ccache's direct mode: the key
//! computed from everything else (the pre-key) leads to a short list of
//! candidates `<store>/wrapper/local/<ab>/<pre-key>.json`, each the files a
//! compilation read with their digests and the key they gave; the first
//! candidate whose files all still have those digests gives the key.
//!
//! Such artifacts hold this machine's paths in their keys and are never
//! journaled, so they are never published.

use super::digest::Digests;
use crate::atomic_file::Durability;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Candidates kept per pre-key, newest first.
const MAX_CANDIDATES: usize = 8;

/// The files one compilation read and the key they gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Candidate {
    files: Vec<(String, String)>,
    key: String,
}

/// The candidate lists of a store directory.
#[derive(Debug, Clone)]
pub struct LocalSources {
    dir: PathBuf,
}

impl LocalSources {
    /// The lists of the store at `store_dir`.
    pub fn new(store_dir: &Path) -> Self {
        LocalSources { dir: store_dir.join("wrapper").join("local") }
    }

    fn path(&self, pre_key: &str) -> PathBuf {
        self.dir.join(&pre_key[..2]).join(format!("{pre_key}.json"))
    }

    fn candidates(&self, pre_key: &str) -> Vec<Candidate> {
        std::fs::read(self.path(pre_key)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    /// The key of the first candidate whose files are unchanged.
    pub fn resolve(&self, pre_key: &str, digests: &Digests) -> Option<String> {
        self.candidates(pre_key)
            .into_iter()
            .find(|c| c.files.iter().all(|(file, digest)| digests.of(Path::new(file)).is_ok_and(|d| &d == digest)))
            .map(|c| c.key)
    }

    /// Digests the files a compilation read (paths as its dep-info gives
    /// them, relative ones from the current directory), files them under
    /// `pre_key` and returns the key they give.
    pub fn add(&self, pre_key: &str, read: &[String], digests: &Digests) -> std::io::Result<String> {
        let mut files = Vec::with_capacity(read.len());
        for file in read {
            files.push((file.clone(), digests.of(Path::new(file))?));
        }
        files.sort();
        files.dedup();
        let key = local_key(pre_key, &files);
        let path = self.path(pre_key);
        let dir = path.parent().expect("candidate paths have a parent");
        std::fs::create_dir_all(dir)?;
        crate::atomic_file::locked(&dir.join(".lock"), || {
            let mut candidates = self.candidates(pre_key);
            candidates.retain(|c| c.key != key);
            candidates.insert(0, Candidate { files, key: key.clone() });
            candidates.truncate(MAX_CANDIDATES);
            write(&path, &candidates)
        })?;
        Ok(key)
    }

    /// Drops every candidate whose key `known` does not know (its artifact
    /// is gone from the cache map, so it can only lead to a miss), and the
    /// files left empty; how many candidates went. Files written since
    /// `before` are left alone: a compilation files its candidate before
    /// its artifact. Under the lock that [`LocalSources::add`] takes. For
    /// `gc`.
    pub fn trim(&self, known: &dyn Fn(&str) -> bool, before: SystemTime, dry_run: bool) -> std::io::Result<u64> {
        let mut dropped = 0;
        let Ok(folders) = std::fs::read_dir(&self.dir) else { return Ok(0) };
        for folder in folders.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
            let Ok(files) = std::fs::read_dir(&folder) else { continue };
            for path in files.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "json")) {
                let written = std::fs::metadata(&path).and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
                if written >= before {
                    continue;
                }
                crate::atomic_file::locked(&folder.join(".lock"), || {
                    let Ok(bytes) = std::fs::read(&path) else { return Ok(()) };
                    let mut candidates: Vec<Candidate> = serde_json::from_slice(&bytes).unwrap_or_default();
                    let before = candidates.len();
                    candidates.retain(|c| known(&c.key));
                    dropped += (before - candidates.len()) as u64;
                    match (dry_run, candidates.is_empty()) {
                        (true, _) => Ok(()),
                        (false, true) => std::fs::remove_file(&path),
                        (false, false) if candidates.len() < before => write(&path, &candidates),
                        (false, false) => Ok(()),
                    }
                })?;
            }
        }
        Ok(dropped)
    }
}

fn write(path: &Path, candidates: &[Candidate]) -> std::io::Result<()> {
    crate::atomic_file::replace(
        path,
        &serde_json::to_vec(candidates).expect("candidates serialize"),
        Durability::Unsynced,
    )
}

/// The key of a path or git crate: the pre-key and every source file's
/// path and digest, length-prefixed.
fn local_key(pre_key: &str, files: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    for part in [b"cargo-ipfs-fetch local sources".as_slice(), pre_key.as_bytes()] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    for (file, digest) in files {
        for part in [file.as_bytes(), digest.as_bytes()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_candidate_holds_while_its_files_do() {
        let dir = tempfile::tempdir().unwrap();
        let digests = Digests::new(&dir.path().join("store"));
        let local = LocalSources::new(&dir.path().join("store"));
        let pre = "ab".repeat(32);
        let src = dir.path().join("lib.rs");
        let files = vec![src.to_string_lossy().into_owned()];
        assert_eq!(local.resolve(&pre, &digests), None);

        std::fs::write(&src, "pub fn one() {}").unwrap();
        let one = local.add(&pre, &files, &digests).unwrap();
        assert_eq!(local.resolve(&pre, &digests).as_deref(), Some(one.as_str()));

        std::fs::write(&src, "pub fn two() {}").unwrap();
        assert_eq!(local.resolve(&pre, &digests), None, "an edited source must not find the old key");
        let two = local.add(&pre, &files, &digests).unwrap();
        assert_ne!(one, two);

        // Back to the first content: the first candidate is found again.
        std::fs::write(&src, "pub fn one() {}").unwrap();
        assert_eq!(local.resolve(&pre, &digests).as_deref(), Some(one.as_str()));
        // Another pre-key (other flags) knows none of them.
        assert_eq!(local.resolve(&"cd".repeat(32), &digests), None);
        // A deleted source finds nothing.
        std::fs::remove_file(&src).unwrap();
        assert_eq!(local.resolve(&pre, &digests), None);
    }

    #[test]
    fn trimming_drops_candidates_whose_artifact_went_and_leaves_new_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let (digests, local) = (Digests::new(&store), LocalSources::new(&store));
        let src = dir.path().join("lib.rs");
        let files = vec![src.to_string_lossy().into_owned()];
        let (pre, other) = ("ab".repeat(32), "cd".repeat(32));
        std::fs::write(&src, "pub fn one() {}").unwrap();
        let one = local.add(&pre, &files, &digests).unwrap();
        std::fs::write(&src, "pub fn two() {}").unwrap();
        let two = local.add(&pre, &files, &digests).unwrap();
        let lone = local.add(&other, &files, &digests).unwrap();
        let later = SystemTime::now() + std::time::Duration::from_secs(60);

        // Written since `before`: a compilation under way; left alone.
        assert_eq!(local.trim(&|_| false, SystemTime::UNIX_EPOCH, false).unwrap(), 0);
        assert_eq!(local.trim(&|k| k == two, later, true).unwrap(), 2, "a dry run counts");
        assert_eq!(local.resolve(&other, &digests).as_deref(), Some(lone.as_str()), "a dry run removes nothing");
        assert_eq!(local.trim(&|k| k == two, later, false).unwrap(), 2);
        assert_eq!(local.resolve(&pre, &digests).as_deref(), Some(two.as_str()));
        std::fs::write(&src, "pub fn one() {}").unwrap();
        assert_eq!(local.resolve(&pre, &digests), None, "{one} was dropped");
        assert!(!local.path(&other).exists(), "a file left empty goes");
    }
}
