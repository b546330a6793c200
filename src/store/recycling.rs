//! [`Recycling`]: a store decorator whose reads of large blocks fill the
//! reused buffers of [`crate::buffers::Pool`].

use super::{BlockStore, StoreError};
use crate::buffers::{Pool, POOL};
use crate::formats::block::Block;
use cid::Cid;

/// A store whose reads of large blocks fill the pool's buffers (see
/// [`BlockStore::get_with`]).
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
        self.store.get_with(cid, &mut |len| self.pool.take_for(len))
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
        assert_eq!(TEST_POOL.spare_len(), 0, "the buffer is in use while the chunk lives");
        drop(chunk);

        // The smaller block is read into the same memory, and only its
        // bytes are there.
        let again = recycling.get(other.cid()).unwrap().unwrap();
        assert_eq!(again.as_ptr(), memory);
        assert_eq!(&again[..], other.data());
    }

    #[test]
    fn a_small_block_leaves_the_spares_and_a_large_one_takes_the_smallest_that_fits() {
        static TEST_POOL: Pool = Pool::new();
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        let (small, large) = (block(5, 1000), block(6, 300 * 1024));
        store.put(&small).unwrap();
        store.put(&large).unwrap();
        let (big, fitting) = (Vec::<u8>::with_capacity(2 << 20), Vec::<u8>::with_capacity(512 * 1024));
        let (big_memory, fitting_memory) = (big.as_ptr(), fitting.as_ptr());
        TEST_POOL.give_back(big);
        TEST_POOL.give_back(fitting);
        let recycling = Recycling { store: &store, pool: &TEST_POOL };

        assert_eq!(recycling.get(small.cid()).unwrap().unwrap(), small.data());
        assert_eq!(TEST_POOL.spare_len(), 2, "a small block takes no spare");
        let bytes = recycling.get(large.cid()).unwrap().unwrap();
        assert_eq!((bytes.as_ptr(), &bytes[..]), (fitting_memory, large.data()));
        let taken = TEST_POOL.take_for(1 << 20);
        assert_eq!(taken.as_ptr(), big_memory);
        assert_eq!(TEST_POOL.spare_len(), 0);
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
