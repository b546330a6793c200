//! The embedded on-disk block store: one file per block, named by multihash.
//!
//! Layout: `<root>/blocks/<XY>/<NAME>`, where `NAME` is the base32 (upper
//! case, unpadded) multihash, as kubo's flatfs names blocks, and `XY` its
//! next-to-last two characters, which spreads blocks over 1024 folders.
//! Writes go to a temporary file in the destination folder and are renamed
//! into place, so readers never see a partial block and concurrent writers of
//! the same block both succeed. Reads verify every block (unless a gateway
//! turned that off); a block that fails is moved to `<root>/quarantine/` and
//! reported, so the next put repairs it.

use super::{BlockStore, StoreError};
use crate::formats::block::{verify, Block, BlockError, MAX_BLOCK_SIZE};
use cid::Cid;
use std::io::{ErrorKind, IoSlice, Write};
use std::path::{Path, PathBuf};

/// Blocks in a directory on disk.
#[derive(Debug, Clone)]
pub struct DiskStore {
    root: PathBuf,
    blocks: PathBuf,
    hash_on_read: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |error| StoreError::io(path, error)
}

impl DiskStore {
    /// Opens (creating if needed) the store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        let blocks = root.join("blocks");
        std::fs::create_dir_all(&blocks).map_err(io(&blocks))?;
        Ok(DiskStore { root, blocks, hash_on_read: true })
    }

    /// Whether [`BlockStore::get`] hashes every block it reads (the default).
    /// A gateway may turn it off, as kubo's `Datastore.HashOnRead` is off by
    /// default: its clients verify every block they receive, and `cargo ipfs
    /// block verify` (see [`DiskStore::verify_all`]) finds rot on a schedule.
    pub fn with_hash_on_read(mut self, hash_on_read: bool) -> Self {
        self.hash_on_read = hash_on_read;
        self
    }

    /// Hashes every block in the store against its name, moves each that
    /// fails to the quarantine, and says how many were checked and which
    /// failed. Files that are not blocks (temporary files of writes under
    /// way) are left alone.
    pub fn verify_all(&self) -> Result<VerifyReport, StoreError> {
        let mut report = VerifyReport::default();
        // One buffer, reused for every block that fits it.
        let mut spare = Vec::new();
        for shard in std::fs::read_dir(&self.blocks).map_err(io(&self.blocks))? {
            let shard = shard.map_err(io(&self.blocks))?.path();
            if !shard.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&shard).map_err(io(&shard))? {
                let path = file.map_err(io(&shard))?.path();
                let Some(cid) = path.file_name().and_then(|n| n.to_str()).and_then(block_name_cid) else { continue };
                let mut reuse = |len: usize| {
                    let buffer = std::mem::take(&mut spare);
                    if buffer.capacity() >= len {
                        buffer
                    } else {
                        Vec::with_capacity(len)
                    }
                };
                // Gone since the listing: a concurrent repair.
                let Some(bytes) = read_block_file(&path, &mut reuse)? else { continue };
                report.checked += 1;
                report.bytes += bytes.len() as u64;
                match verify(&cid, &bytes) {
                    Ok(()) => {}
                    // A hash this build cannot compute is not rot.
                    Err(BlockError::UnsupportedHash { .. }) => report.unsupported += 1,
                    Err(source) => {
                        let quarantine = self.quarantine(&path);
                        report.corrupt.push(StoreError::Corrupt { source, quarantine });
                    }
                }
                spare = bytes;
            }
        }
        Ok(report)
    }

    /// Every block file: its multihash (bytes), path, size and last
    /// modification, in no order. Temporary files of writes under way and
    /// anything that is not named as a block are left out.
    pub fn block_files(&self) -> Result<Vec<BlockFile>, StoreError> {
        let mut files = Vec::new();
        for shard in std::fs::read_dir(&self.blocks).map_err(io(&self.blocks))? {
            let shard = shard.map_err(io(&self.blocks))?.path();
            if !shard.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&shard).map_err(io(&shard))? {
                let Ok(file) = file else { continue };
                let path = file.path();
                let Some(cid) = path.file_name().and_then(|n| n.to_str()).and_then(block_name_cid) else { continue };
                // Gone since the listing: removed by another process.
                let Ok(meta) = file.metadata() else { continue };
                let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
                files.push(BlockFile { multihash: cid.hash().to_bytes(), path, size: meta.len(), modified });
            }
        }
        Ok(files)
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

    /// A block's bytes as stored, not hashed: for a caller that checks what
    /// it reads another way, as a fetch checks a whole artifact against the
    /// sha256 its signed entry names. [`BlockStore::get`] is the verifying
    /// read.
    /// A file over [`MAX_BLOCK_SIZE`] is no block: it is quarantined unread.
    pub fn get_unverified(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_unverified(cid, &mut Vec::with_capacity)
    }

    /// [`DiskStore::get_unverified`] into memory from `alloc` (see
    /// [`BlockStore::get_with`]).
    fn read_unverified(
        &self,
        cid: &Cid,
        alloc: &mut dyn FnMut(usize) -> Vec<u8>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.block_path(cid);
        let Some(bytes) = read_block_file(&path, alloc)? else { return Ok(None) };
        if bytes.len() > MAX_BLOCK_SIZE {
            let quarantine = self.quarantine(&path);
            let source = BlockError::TooLarge { cid: *cid, size: bytes.len() };
            return Err(StoreError::Corrupt { source, quarantine });
        }
        Ok(Some(bytes))
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

/// What [`DiskStore::verify_all`] found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Blocks hashed.
    pub checked: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Blocks whose hash function this build does not implement: left as
    /// they are.
    pub unsupported: u64,
    /// The blocks that failed, each now in the quarantine. They are named by
    /// a raw CID of their multihash (a block file does not record its codec).
    pub corrupt: Vec<StoreError>,
}

/// Reads a block file into memory from `alloc`, called with the file's
/// length (the memory it returns is cleared first), at most one byte over
/// [`MAX_BLOCK_SIZE`] (enough to tell it is too large); `None` if there is
/// no such file.
fn read_block_file(path: &Path, alloc: &mut dyn FnMut(usize) -> Vec<u8>) -> Result<Option<Vec<u8>>, StoreError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0).min(MAX_BLOCK_SIZE as u64 + 1) as usize;
    let mut bytes = alloc(len);
    bytes.clear();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_BLOCK_SIZE as u64 + 1), &mut bytes)
        .map_err(io(path))?;
    Ok(Some(bytes))
}

/// Writes every byte of `pieces`, in order, gathering them into as few
/// writes as the kernel takes.
fn write_pieces(file: &mut std::fs::File, pieces: &[&[u8]]) -> std::io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = pieces.iter().map(|p| IoSlice::new(p)).collect();
    let mut rest = &mut slices[..];
    IoSlice::advance_slices(&mut rest, 0);
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A block file as [`DiskStore::block_files`] lists it.
#[derive(Debug, Clone)]
pub struct BlockFile {
    /// The block's multihash, as bytes.
    pub multihash: Vec<u8>,
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// When it was last written.
    pub modified: std::time::SystemTime,
}

/// The CID under which a block file named `name` is checked: a raw CID of
/// the multihash the name encodes (the codec plays no part in the hash).
fn block_name_cid(name: &str) -> Option<Cid> {
    let bytes = data_encoding::BASE32_NOPAD.decode(name.as_bytes()).ok()?;
    let hash = crate::formats::block::Multihash::from_bytes(&bytes).ok()?;
    Some(Cid::new_v1(crate::formats::block::RAW, hash))
}

impl BlockStore for DiskStore {
    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_with(cid, &mut Vec::with_capacity)
    }

    fn get_with(&self, cid: &Cid, alloc: &mut dyn FnMut(usize) -> Vec<u8>) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(bytes) = self.read_unverified(cid, alloc)? else { return Ok(None) };
        if self.hash_on_read {
            if let Err(source) = verify(cid, &bytes) {
                let quarantine = self.quarantine(&self.block_path(cid));
                return Err(StoreError::Corrupt { source, quarantine });
            }
        }
        Ok(Some(bytes))
    }

    fn put(&self, block: &Block) -> Result<(), StoreError> {
        let path = self.block_path(block.cid());
        // A present file of the right length is taken as the block; a torn
        // or corrupt one is caught by verification on read and replaced then.
        if let Ok(meta) = std::fs::metadata(&path) {
            if meta.len() == block.len() as u64 {
                return Ok(());
            }
        }
        // Blocks are content-addressed: a lost write is a missing block,
        // fetched or reported again, so no flush.
        let options = crate::atomic_file::Options::new(crate::atomic_file::Durability::Unsynced);
        crate::atomic_file::replace_with(&path, options, |file| write_pieces(file, &block.pieces())).map_err(io(&path))
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
    fn verify_all_hashes_every_block_and_quarantines_the_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        let good = Block::encode(RAW, false, b"good".to_vec());
        let node = Block::encode(crate::formats::block::DAG_PB, false, vec![0x0a, 0x02, 0x08, 0x01]);
        let bad = Block::encode(RAW, false, b"about to rot".to_vec());
        for block in [&good, &node, &bad] {
            store.put(block).unwrap();
        }
        std::fs::write(store.block_path(bad.cid()), b"about to roT").unwrap();
        // A write under way is not a block.
        std::fs::write(store.block_path(good.cid()).with_file_name(".tmp-x"), b"partial").unwrap();

        // Without hashing on read, the rotten bytes come back as stored...
        let trusting = store.clone().with_hash_on_read(false);
        assert_eq!(trusting.get(bad.cid()).unwrap().unwrap(), b"about to roT");
        // ...and the sweep finds them.
        let report = store.verify_all().unwrap();
        assert_eq!(report.checked, 3);
        assert_eq!(report.bytes, 4 + 4 + 12);
        assert_eq!(report.corrupt.len(), 1, "{:?}", report.corrupt);
        assert!(report.corrupt[0].to_string().contains(&bad.cid().to_string()), "{}", report.corrupt[0]);
        assert!(!store.has(bad.cid()).unwrap(), "quarantined");
        assert!(store.has(good.cid()).unwrap() && store.has(node.cid()).unwrap());
        assert_eq!(store.verify_all().unwrap().corrupt.len(), 0);
    }

    #[test]
    fn a_file_over_the_block_limit_is_refused_unread_even_without_hashing() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap().with_hash_on_read(false);
        let block = Block::encode(RAW, false, b"small".to_vec());
        store.put(&block).unwrap();
        std::fs::write(store.block_path(block.cid()), vec![0u8; MAX_BLOCK_SIZE + 10]).unwrap();
        let err = store.get(block.cid()).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { source: BlockError::TooLarge { .. }, .. }), "{err}");
        assert!(!store.has(block.cid()).unwrap(), "quarantined");
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
