//! Large block buffers, reused. A gateway serving large blocks would
//! otherwise read each into memory fresh from the allocator, which the
//! kernel must fault in and zero page by page before the bytes are copied
//! in.
//!
//! A buffer comes back to the pool when hyper drops the chunk that carried
//! it ([`Pool::chunk`]); a buffer that never becomes a chunk is simply
//! freed. The pool holds at most 32 buffers: a bound on memory held idle,
//! while busy code works in warm pages. (A client needs none: a CAR from
//! the network is decoded without copying large blocks, see
//! [`crate::formats::car::CarDecoder::feed_shared`].)
//!
//! [`ChunkWriter`] is how a thread writing a CAR feeds a streamed HTTP
//! body: the gateway's responses and the pushes into a kubo node.

use crate::formats::block::Block;
use crate::store::{BlockStore, StoreError};
use axum::body::Bytes;
use cid::Cid;
use std::io::{self, Write};
use std::sync::Mutex;
use tokio::sync::mpsc;

/// Buffers held for reuse, at most (each up to the block size limit).
const KEPT: usize = 32;

/// Buffers smaller than this are not worth keeping: the allocator reuses
/// them without the kernel's help.
const MIN_KEPT: usize = 128 * 1024;

/// Spare buffers, shared by every thread.
pub struct Pool {
    spare: Mutex<Vec<Vec<u8>>>,
}

impl Default for Pool {
    fn default() -> Self {
        Pool::new()
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let spare = self.spare.lock().map_or(0, |spare| spare.len());
        f.debug_struct("Pool").field("spare", &spare).finish()
    }
}

/// The process's pool.
pub static POOL: Pool = Pool::new();

impl Pool {
    /// An empty pool.
    pub const fn new() -> Self {
        Pool { spare: Mutex::new(Vec::new()) }
    }

    /// An empty buffer with room for at least `len` bytes: a spare one if
    /// `len` is worth one and a spare is large enough, else a new one.
    fn take_for(&self, len: usize) -> Vec<u8> {
        if len >= MIN_KEPT {
            if let Ok(mut spare) = self.spare.lock() {
                // The smallest that fits, leaving larger ones for larger blocks.
                let fits = spare.iter().enumerate().filter(|(_, b)| b.capacity() >= len);
                if let Some(i) = fits.min_by_key(|(_, b)| b.capacity()).map(|(i, _)| i) {
                    return spare.swap_remove(i);
                }
            }
        }
        Vec::with_capacity(len)
    }

    /// Keeps `buffer` for reuse if it is large enough and the pool has room.
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

/// A writer, for a blocking thread, that collects what it is given and sends
/// it on a bounded channel in chunks of about `chunk` bytes: the body of a
/// streamed request or response, which an async task drains. A send waits
/// while the channel is full; once the receiver is gone, writes fail with
/// `closed` (as [`io::ErrorKind::BrokenPipe`]).
pub struct ChunkWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
    chunk: usize,
    closed: &'static str,
}

impl ChunkWriter {
    /// A writer into `tx`.
    pub fn new(tx: mpsc::Sender<io::Result<Bytes>>, chunk: usize, closed: &'static str) -> Self {
        ChunkWriter { tx, buf: Vec::with_capacity(chunk), chunk, closed }
    }

    /// Sends `bytes` on: a large block as its own chunk, after what was
    /// collected before it, without a copy (its buffer comes back to the
    /// pool once sent); a small one collected.
    pub fn send(&mut self, bytes: Vec<u8>) -> io::Result<()> {
        if bytes.len() < self.chunk / 2 {
            return self.write_all(&bytes);
        }
        self.flush()?;
        self.send_chunk(POOL.chunk(bytes))
    }

    fn send_chunk(&mut self, chunk: Bytes) -> io::Result<()> {
        self.tx.blocking_send(Ok(chunk)).map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, self.closed))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= self.chunk {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(self.chunk)));
        self.send_chunk(chunk)
    }
}

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
        assert_eq!(TEST_POOL.spare.lock().unwrap().len(), 2, "a small block takes no spare");
        let bytes = recycling.get(large.cid()).unwrap().unwrap();
        assert_eq!((bytes.as_ptr(), &bytes[..]), (fitting_memory, large.data()));
        let taken = TEST_POOL.take_for(1 << 20);
        assert_eq!(taken.as_ptr(), big_memory);
        assert!(TEST_POOL.spare.lock().unwrap().is_empty());
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
