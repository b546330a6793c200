//! A decorator that counts the blocks read and written through it, for benchmarks and
//! for tests that check how many blocks an operation touches.

use super::{BlockStore, StoreError};
use crate::formats::block::Block;
use cid::Cid;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts `get` and `put` calls on the store it wraps.
#[derive(Debug)]
pub struct Counting<S> {
    inner: S,
    gets: AtomicU64,
    puts: AtomicU64,
}

impl<S: BlockStore> Counting<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Counting { inner, gets: AtomicU64::new(0), puts: AtomicU64::new(0) }
    }

    /// Blocks read so far.
    pub fn gets(&self) -> u64 {
        self.gets.load(Ordering::Relaxed)
    }

    /// Blocks written so far (including ones already present).
    pub fn puts(&self) -> u64 {
        self.puts.load(Ordering::Relaxed)
    }

    /// Resets both counts.
    pub fn reset(&self) {
        self.gets.store(0, Ordering::Relaxed);
        self.puts.store(0, Ordering::Relaxed);
    }
}

impl<S: BlockStore> BlockStore for Counting<S> {
    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.inner.get(cid)
    }

    fn put(&self, block: &Block) -> Result<(), StoreError> {
        self.puts.fetch_add(1, Ordering::Relaxed);
        self.inner.put(block)
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        self.inner.has(cid)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}
