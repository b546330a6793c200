//! Large block buffers, reused. A gateway serving large blocks would
//! otherwise read each into memory fresh from the allocator, which the
//! kernel must fault in and zero page by page before the bytes are copied
//! in. The store decorator that reads blocks into them is
//! [`crate::store::Recycling`].
//!
//! A buffer comes back to the pool when hyper drops the chunk that carried
//! it ([`Pool::chunk`]); a buffer that never becomes a chunk is simply
//! freed. The pool holds at most 32 buffers: a bound on memory held idle,
//! while busy code works in warm pages. (A client needs none: a CAR from
//! the network is decoded without copying large blocks, see
//! [`crate::formats::car::CarDecoder::feed_shared`].)
//!
//! [`ChunkWriter`] (in `chunks.rs`) is how a thread writing a CAR feeds a
//! streamed HTTP body: the gateway's responses and the pushes into a kubo
//! node.

mod chunks;

pub use chunks::ChunkWriter;

use axum::body::Bytes;
use std::sync::Mutex;

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
        f.debug_struct("Pool").field("spare", &self.spare_len()).finish()
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
    pub(crate) fn take_for(&self, len: usize) -> Vec<u8> {
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
    pub(crate) fn give_back(&self, mut buffer: Vec<u8>) {
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

    /// How many spare buffers the pool holds.
    pub(crate) fn spare_len(&self) -> usize {
        self.spare.lock().map_or(0, |spare| spare.len())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_buffers_are_not_kept_and_the_pool_is_bounded() {
        static TEST_POOL: Pool = Pool::new();
        drop(TEST_POOL.chunk(vec![0; 1000]));
        assert!(TEST_POOL.spare.lock().unwrap().is_empty());
        let chunks: Vec<Bytes> = (0..KEPT + 5).map(|_| TEST_POOL.chunk(vec![7; MIN_KEPT])).collect();
        drop(chunks);
        assert_eq!(TEST_POOL.spare.lock().unwrap().len(), KEPT);
    }
}
