//! A local store in front of another one: reads try the local store first
//! and keep what the other one supplies (a write-through cache); writes go to
//! the local store only.
//!
//! The usual pair is a [`DiskStore`] in front of a
//! [`RemoteStore`](super::RemoteStore), so that every block fetched over HTTP
//! is fetched once. A local failure is never fatal to a read: a corrupt local
//! copy (already quarantined by the disk store) or an unreadable one is
//! fetched again from the remote, and a block that cannot be cached is still
//! returned.

use super::{BlockStore, DiskStore, RemoteStore, StoreError};
use crate::formats::block::Block;
use cid::Cid;

/// `local`, then `remote`, caching remote blocks in `local`.
#[derive(Debug)]
pub struct Layered<L = DiskStore, R = RemoteStore> {
    local: L,
    remote: R,
}

impl<L: BlockStore, R: BlockStore> Layered<L, R> {
    /// Puts `local` in front of `remote`.
    pub fn new(local: L, remote: R) -> Self {
        Layered { local, remote }
    }

    /// The local store.
    pub fn local(&self) -> &L {
        &self.local
    }

    /// The store behind it.
    pub fn remote(&self) -> &R {
        &self.remote
    }
}

impl<L: BlockStore, R: BlockStore> BlockStore for Layered<L, R> {
    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError> {
        match self.local.get(cid) {
            Ok(Some(bytes)) => return Ok(Some(bytes)),
            Ok(None) => {}
            Err(e) => tracing::warn!(%cid, error = %e, "local store failed; reading from {}", self.remote.describe()),
        }
        let Some(bytes) = self.remote.get(cid)? else { return Ok(None) };
        // The remote store's `get` verified the bytes.
        let block = Block::verified(*cid, bytes);
        if let Err(e) = self.local.put(&block) {
            tracing::warn!(%cid, error = %e, "could not cache the block in {}", self.local.describe());
        }
        Ok(Some(block.into_parts().1))
    }

    fn put(&self, block: &Block) -> Result<(), StoreError> {
        self.local.put(block)
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        match self.local.has(cid) {
            Ok(true) => Ok(true),
            Ok(false) => self.remote.has(cid),
            Err(e) => {
                tracing::warn!(%cid, error = %e, "local store failed; asking {}", self.remote.describe());
                self.remote.has(cid)
            }
        }
    }

    fn describe(&self) -> String {
        format!("{}, then {}", self.local.describe(), self.remote.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::block::parse_cid;
    use crate::formats::unixfs::export_file;
    use crate::store::gateway::test_server::{fixture, TestGateway, MULTIBLOCK};
    use crate::store::{ClientOptions, Counting, GatewayClient, MemoryStore};
    use std::time::Duration;

    fn export(store: &dyn BlockStore, root: &Cid) -> Vec<u8> {
        let mut out = Vec::new();
        export_file(root, u64::MAX, &mut |cid| store.get_required(cid), &mut |bytes| {
            out.extend_from_slice(bytes);
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn exports_a_file_through_http_and_caches_every_block_on_disk() {
        let gateway = TestGateway::start();
        let dir = tempfile::tempdir().unwrap();
        let disk = DiskStore::open(dir.path()).unwrap();
        let options = ClientOptions { timeout: Duration::from_secs(5), ..Default::default() };
        let remote = RemoteStore::new(GatewayClient::new(vec![gateway.url()], options).unwrap()).unwrap();
        let layered = Layered::new(disk.clone(), remote);
        let root = parse_cid(MULTIBLOCK).unwrap();
        let expected = fixture("derived/multiblock-1026B.txt");

        assert!(!disk.has(&root).unwrap());
        assert!(layered.has(&root).unwrap(), "the remote has it");
        assert_eq!(export(&layered, &root), expected);
        assert_eq!(gateway.requests(), 1 + 6, "one HEAD, then each of the six blocks once");
        assert!(disk.has(&root).unwrap());

        // With the gateway gone, the disk alone serves the file.
        drop(gateway);
        assert_eq!(export(&layered, &root), expected);
        assert_eq!(export(&disk, &root), expected);
    }

    #[test]
    fn a_corrupt_local_copy_is_fetched_again() {
        let source = MemoryStore::new();
        for block in crate::store::gateway::test_server::fixture_blocks() {
            source.put(&block).unwrap();
        }
        let local = MemoryStore::new();
        let root = parse_cid(MULTIBLOCK).unwrap();
        let layered = Layered::new(local, Counting::new(source));
        let good = layered.get_required(&root).unwrap();
        layered.local().corrupt(&root, b"rotten".to_vec());
        assert_eq!(layered.get_required(&root).unwrap(), good);
        assert_eq!(layered.remote().gets(), 2);
        assert_eq!(layered.get_required(&root).unwrap(), good);
        assert_eq!(layered.remote().gets(), 2, "the repaired copy is served locally");
        assert!(layered.describe().contains("memory, then memory"));
    }
}
