//! An in-memory block store, for tests and for work that must not touch disk.

use super::{BlockStore, StoreError};
use crate::formats::block::{verify, Block};
use cid::Cid;
use std::collections::HashMap;
use std::sync::Mutex;

/// Blocks in a map keyed by multihash, so that a raw and a dag-pb CID of the
/// same bytes share one entry, as they do on disk.
#[derive(Debug, Default)]
pub struct MemoryStore {
    blocks: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the stored bytes of `cid` without verification, so tests can
    /// play a corrupt disk or a lying peer.
    #[cfg(test)]
    pub(crate) fn corrupt(&self, cid: &Cid, bytes: Vec<u8>) {
        self.blocks.lock().unwrap().insert(cid.hash().to_bytes(), bytes);
    }
}

impl BlockStore for MemoryStore {
    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError> {
        let key = cid.hash().to_bytes();
        let mut blocks = self.blocks.lock().expect("memory store lock");
        let Some(bytes) = blocks.get(&key) else { return Ok(None) };
        if let Err(source) = verify(cid, bytes) {
            blocks.remove(&key);
            return Err(StoreError::Corrupt { source, quarantine: "(memory, dropped)".into() });
        }
        Ok(Some(bytes.clone()))
    }

    fn put(&self, block: &Block) -> Result<(), StoreError> {
        let key = block.cid().hash().to_bytes();
        self.blocks.lock().expect("memory store lock").entry(key).or_insert_with(|| block.data().to_vec());
        Ok(())
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        Ok(self.blocks.lock().expect("memory store lock").contains_key(&cid.hash().to_bytes()))
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passes_the_store_suite() {
        let store = super::MemoryStore::new();
        crate::store::suite::run(&store, &|cid, bytes| store.corrupt(cid, bytes));
    }
}
