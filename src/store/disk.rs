//! The embedded on-disk block store: one file per block, named by multihash.
//!
//! Layout: `<root>/blocks/<XY>/<NAME>`, where `NAME` is the base32 (upper
//! case, unpadded) multihash, as kubo's flatfs names blocks, and `XY` its
//! next-to-last two characters, which spreads blocks over 1024 folders.
//! Writes go to a temporary file in the destination folder and are renamed
//! into place, so readers never see a partial block and concurrent writers of
//! the same block both succeed. Reads verify every block; a block that fails
//! is moved to `<root>/quarantine/` and reported, so the next put repairs it.

use super::{BlockStore, StoreError};
use crate::formats::block::{verify, Block};
use cid::Cid;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// Blocks in a directory on disk.
#[derive(Debug, Clone)]
pub struct DiskStore {
    root: PathBuf,
    blocks: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_path_buf(), source }
}

impl DiskStore {
    /// Opens (creating if needed) the store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        let blocks = root.join("blocks");
        std::fs::create_dir_all(&blocks).map_err(io(&blocks))?;
        Ok(DiskStore { root, blocks })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The IPNS records kept with this store (`<root>/ipns`).
    pub fn records(&self) -> Result<super::RecordStore, super::RecordError> {
        super::RecordStore::open(self.root.join("ipns"))
    }

    /// The file that holds (or would hold) the block `cid`.
    pub fn block_path(&self, cid: &Cid) -> PathBuf {
        let name = data_encoding::BASE32_NOPAD.encode(&cid.hash().to_bytes());
        let shard = &name[name.len() - 3..name.len() - 1];
        self.blocks.join(shard).join(name)
    }

    fn quarantine(&self, path: &Path) -> PathBuf {
        let dir = self.root.join("quarantine");
        let _ = std::fs::create_dir_all(&dir);
        let unique = format!(
            "{}.{}.{}",
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
        );
        let target = dir.join(unique);
        // If the rename fails (another reader moved it first), the block is
        // gone from its place either way.
        let _ = std::fs::rename(path, &target);
        target
    }
}

impl BlockStore for DiskStore {
    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.block_path(cid);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        if let Err(source) = verify(cid, &bytes) {
            let quarantine = self.quarantine(&path);
            return Err(StoreError::Corrupt { source, quarantine });
        }
        Ok(Some(bytes))
    }

    fn put(&self, block: &Block) -> Result<(), StoreError> {
        let path = self.block_path(block.cid());
        // A present file of the right length is taken as the block; a torn
        // or corrupt one is caught by verification on read and replaced then.
        if let Ok(meta) = std::fs::metadata(&path) {
            if meta.len() == block.data().len() as u64 {
                return Ok(());
            }
        }
        let dir = path.parent().expect("block paths have a parent");
        let temp = || tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir);
        // The folder usually exists: make it only when it does not.
        let mut tmp = match temp() {
            Ok(tmp) => tmp,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
                temp().map_err(io(dir))?
            }
            Err(e) => return Err(io(dir)(e)),
        };
        tmp.write_all(block.data()).map_err(io(tmp.path()))?;
        // On error the temporary file is removed when `tmp` drops.
        tmp.persist(&path).map_err(|e| io(&path)(e.error))?;
        Ok(())
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        let path = self.block_path(cid);
        match std::fs::metadata(&path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::block::RAW;

    #[test]
    fn passes_the_store_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        let corrupt = |cid: &Cid, bytes: Vec<u8>| {
            let path = store.block_path(cid);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        };
        crate::store::suite::run(&store, &corrupt);
    }

    #[test]
    fn names_blocks_like_kubo_flatfs() {
        // kubo's flatfs key for a sha2-256 multihash starts with CIQ.
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        let block = Block::encode(RAW, false, b"hello\n".to_vec());
        let path = store.block_path(block.cid());
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("CIQ"), "{name}");
        assert_eq!(
            path.parent().unwrap().file_name().unwrap().to_str().unwrap(),
            &name[name.len() - 3..name.len() - 1]
        );
    }

    #[test]
    fn corrupt_block_is_quarantined_and_repaired_by_put() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        let block = Block::encode(RAW, false, b"precious".to_vec());
        store.put(&block).unwrap();
        std::fs::write(store.block_path(block.cid()), b"precioux").unwrap();
        let err = store.get(block.cid()).unwrap_err();
        let StoreError::Corrupt { quarantine, .. } = &err else { panic!("{err}") };
        assert!(quarantine.exists());
        assert!(err.to_string().contains(&block.cid().to_string()), "{err}");
        assert!(!store.has(block.cid()).unwrap());
        store.put(&block).unwrap();
        assert_eq!(store.get(block.cid()).unwrap().unwrap(), b"precious");
    }

    #[test]
    fn unwritable_store_reports_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"").unwrap();
        let err = DiskStore::open(&file).unwrap_err().to_string();
        assert!(err.contains("not-a-dir"), "{err}");
    }
}
