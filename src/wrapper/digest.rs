//! File digests with a cache, for inputs read on every wrapper call
//! (`--extern` dependencies, `.crate` files): a file whose path, size and
//! modification time are unchanged is not hashed again.

use crate::atomic_file::Durability;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Digests cached under `<store>/wrapper/digests/`.
#[derive(Debug, Clone)]
pub struct Digests {
    dir: PathBuf,
}

/// sha256 of a file's content, hex.
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

impl Digests {
    /// The digest cache of a store directory.
    pub fn new(store_dir: &Path) -> Self {
        Digests { dir: store_dir.join("wrapper").join("digests") }
    }

    fn slot(&self, path: &Path) -> PathBuf {
        self.dir.join(&hex::encode(Sha256::digest(path.as_os_str().as_encoded_bytes()))[..32])
    }

    fn stamp(meta: &std::fs::Metadata) -> std::io::Result<String> {
        let mtime = meta.modified()?.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Ok(format!("{} {}", meta.len(), mtime))
    }

    /// Files the digest of a file this process has just written with known
    /// content (a restored output), so its dependents need not hash it.
    pub fn remember(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        self.remember_digest(path, &hex::encode(Sha256::digest(bytes)))
    }

    /// Files `digest` (sha256, hex) as the digest of `path` as it is now: for
    /// a file this process has just placed from a copy whose digest it knows.
    pub fn remember_digest(&self, path: &Path, digest: &str) -> std::io::Result<()> {
        let stamp = Self::stamp(&std::fs::metadata(path)?)?;
        std::fs::create_dir_all(&self.dir)?;
        crate::atomic_file::replace(&self.slot(path), format!("{stamp} {digest}").as_bytes(), Durability::Unsynced)
    }

    /// sha256 of `path`, from the cache when its size and mtime match.
    pub fn of(&self, path: &Path) -> std::io::Result<String> {
        let meta = std::fs::metadata(path)?;
        let stamp = Self::stamp(&meta)?;
        let slot = self.slot(path);
        if let Ok(text) = std::fs::read_to_string(&slot) {
            if let Some((cached_stamp, digest)) = text.rsplit_once(' ') {
                if cached_stamp == stamp && digest.len() == 64 {
                    return Ok(digest.to_string());
                }
            }
        }
        let digest = hash_file(path)?;
        // A file modified within the clock's resolution could change again
        // unseen under the same stamp; only cache digests of settled files.
        let settled = meta.modified()?.elapsed().is_ok_and(|age| age.as_secs() >= 2);
        if settled {
            let _ = std::fs::create_dir_all(&self.dir);
            let _ = crate::atomic_file::replace(&slot, format!("{stamp} {digest}").as_bytes(), Durability::Unsynced);
        }
        Ok(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_digest_follows_content_changes() {
        let dir = tempfile::tempdir().unwrap();
        let digests = Digests::new(dir.path());
        let file = dir.path().join("f");
        std::fs::write(&file, b"one").unwrap();
        let one = digests.of(&file).unwrap();
        assert_eq!(one, hash_file(&file).unwrap());
        std::fs::write(&file, b"two!").unwrap();
        assert_ne!(digests.of(&file).unwrap(), one);
        // A remembered digest is used for the file as written.
        std::fs::write(&file, b"three").unwrap();
        digests.remember(&file, b"three").unwrap();
        assert_eq!(digests.of(&file).unwrap(), hash_file(&file).unwrap());
    }
}
