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

    /// The cache file of `path`, named after its absolute form: a relative
    /// path (a path crate's dep-info names its files relative to the
    /// workspace) means another file in each workspace.
    fn slot(&self, path: &Path) -> PathBuf {
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        self.dir.join(&hex::encode(Sha256::digest(absolute.as_os_str().as_encoded_bytes()))[..32])
    }

    /// What must be unchanged for a cached digest to hold: size and
    /// modification time, and on Unix the change time, inode and device,
    /// which no copy or edit keeps, so that trees whose modification times
    /// are normalized (`cp -a`, Nix, container layers) are not misread.
    fn stamp(meta: &std::fs::Metadata) -> std::io::Result<String> {
        let mtime = meta.modified()?.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let ctime = (meta.ctime(), meta.ctime_nsec());
            Ok(format!("{} {} {}.{} {} {}", meta.len(), mtime, ctime.0, ctime.1, meta.ino(), meta.dev()))
        }
        #[cfg(not(unix))]
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

    #[test]
    fn a_file_replaced_under_the_same_size_and_time_is_hashed_again() {
        let dir = tempfile::tempdir().unwrap();
        let digests = Digests::new(&dir.path().join("store"));
        let path = dir.path().join("lib.rs");
        // A normalized modification time, as `cp -a` of a tree, Nix or a
        // container layer leaves: old enough for the digest to be cached.
        let normalized = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1);
        std::fs::write(&path, b"one").unwrap();
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(normalized).unwrap();
        assert_eq!(digests.of(&path).unwrap(), hex::encode(Sha256::digest(b"one")));
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"two").unwrap();
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(normalized).unwrap();
        assert_eq!(digests.of(&path).unwrap(), hex::encode(Sha256::digest(b"two")));
    }
}
