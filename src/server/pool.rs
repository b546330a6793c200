//! Block buffers the gateway reuses. A CAR of large blocks would otherwise
//! read each into memory fresh from the allocator, which the kernel must
//! fault in and zero page by page before the file's bytes are copied in.
//! A buffer comes back to the pool when hyper drops the chunk it sent, and
//! the pool holds at most [`KEPT`]: a bound on memory held idle, while a
//! busy gateway reads into warm pages.

use crate::formats::block::Block;
use crate::store::{BlockStore, StoreError};
use axum::body::Bytes;
use cid::Cid;
use std::sync::Mutex;

/// Buffers held for reuse, at most (each up to the block size limit).
const KEPT: usize = 32;

/// Buffers smaller than this are not worth keeping: the allocator reuses
/// them without the kernel's help.
const MIN_KEPT: usize = 128 * 1024;

/// Spare buffers, shared by every request.
pub struct Pool {
    spare: Mutex<Vec<Vec<u8>>>,
}

/// The gateway's pool.
pub static POOL: Pool = Pool::new();

impl Pool {
    const fn new() -> Self {
        Pool { spare: Mutex::new(Vec::new()) }
    }

    fn take(&self) -> Vec<u8> {
        self.spare.lock().map(|mut spare| spare.pop()).ok().flatten().unwrap_or_default()
    }

    fn give_back(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() < MIN_KEPT {
            return;
        }
        buffer.clear();
        if let Ok(mut spare) = self.spare.lock() {
            if spare.len() < KEPT {
                spare.push(buffer);
            }
        }
    }

    /// A block's bytes as a response chunk, whose buffer comes back here
    /// once the chunk has been sent and dropped.
    pub fn chunk(&'static self, bytes: Vec<u8>) -> Bytes {
        if bytes.capacity() < MIN_KEPT {
            return Bytes::from(bytes);
        }
        Bytes::from_owner(Returned { bytes, pool: self })
    }
}

struct Returned {
    bytes: Vec<u8>,
    pool: &'static Pool,
}

impl AsRef<[u8]> for Returned {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Returned {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.bytes));
    }
}

/// A store whose reads fill the pool's buffers (see
/// [`BlockStore::get_into`]).
pub struct Recycling<'a> {
    store: &'a dyn BlockStore,
    pool: &'static Pool,
}

impl<'a> Recycling<'a> {
    /// `store` read into buffers of the gateway's pool.
    pub fn new(store: &'a dyn BlockStore) -> Self {
        Recycling { store, pool: &POOL }
    }
}

impl BlockStore for Recycling<'_> {
    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError> {
        let mut buffer = self.pool.take();
        if self.store.get_into(cid, &mut buffer)? {
            return Ok(Some(buffer));
        }
        self.pool.give_back(buffer);
        Ok(None)
    }

    fn put(&self, block: &Block) -> Result<(), StoreError> {
        self.store.put(block)
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        self.store.has(cid)
    }

    fn describe(&self) -> String {
        self.store.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::block::RAW;
    use crate::store::DiskStore;

    fn block(fill: u8, len: usize) -> Block {
        Block::encode(RAW, false, vec![fill; len])
    }

    #[test]
    fn a_sent_chunk_gives_its_buffer_back_and_the_next_read_fills_it() {
        static TEST_POOL: Pool = Pool::new();
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        let (large, other) = (block(1, 512 * 1024), block(2, 300 * 1024));
        store.put(&large).unwrap();
        store.put(&other).unwrap();
        let recycling = Recycling { store: &store, pool: &TEST_POOL };

        let bytes = recycling.get(large.cid()).unwrap().unwrap();
        let memory = bytes.as_ptr();
        let chunk = TEST_POOL.chunk(bytes);
        assert_eq!(&chunk[..], large.data());
        assert!(TEST_POOL.spare.lock().unwrap().is_empty(), "the buffer is in use while the chunk lives");
        drop(chunk);

        // The smaller block is read into the same memory, and only its
        // bytes are there.
        let again = recycling.get(other.cid()).unwrap().unwrap();
        assert_eq!(again.as_ptr(), memory);
        assert_eq!(&again[..], other.data());
    }

    #[test]
    fn small_buffers_are_not_kept_and_the_pool_is_bounded() {
        static TEST_POOL: Pool = Pool::new();
        drop(TEST_POOL.chunk(vec![0; 1000]));
        assert!(TEST_POOL.spare.lock().unwrap().is_empty());
        let chunks: Vec<Bytes> = (0..KEPT + 5).map(|_| TEST_POOL.chunk(vec![7; MIN_KEPT])).collect();
        drop(chunks);
        assert_eq!(TEST_POOL.spare.lock().unwrap().len(), KEPT);
    }

    #[test]
    fn a_missing_block_is_none_and_a_corrupt_one_an_error() {
        static TEST_POOL: Pool = Pool::new();
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        let recycling = Recycling { store: &store, pool: &TEST_POOL };
        let good = block(3, 200 * 1024);
        assert!(recycling.get(good.cid()).unwrap().is_none());
        store.put(&good).unwrap();
        std::fs::write(store.block_path(good.cid()), vec![4; 200 * 1024]).unwrap();
        assert!(matches!(recycling.get(good.cid()), Err(StoreError::Corrupt { .. })));
    }
}
