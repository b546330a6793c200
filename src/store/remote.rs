//! A blocking, read-only [`BlockStore`] over trustless gateways, so that code
//! written against the trait (file export, index lookups) can read through
//! HTTP.
//!
//! Each call runs the async [`GatewayClient`] on a current-thread runtime the
//! store owns; several threads may call at once. It must not be called from
//! inside an async task (that would block the task's thread): such calls
//! return [`RemoteError::InAsyncContext`] rather than panic. Blocks cannot be
//! written through it; put a [`Layered`](super::Layered) local store in front.

use super::blocking::Blocking;
use super::gateway::{CarStream, DagScope, GatewayClient, RemoteError};
use super::{BlockStore, StoreError};
use crate::formats::block::Block;
use crate::formats::ipns::IpnsName;
use cid::Cid;
use std::fmt;
use std::future::Future;

/// Gateways as a blocking, read-only block store. `get` verifies every block;
/// a block no gateway has is `None`; `has` asks with `HEAD`.
pub struct RemoteStore {
    client: GatewayClient,
    runtime: Blocking,
}

impl fmt::Debug for RemoteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteStore").field("gateways", &self.client.gateways()).finish()
    }
}

impl RemoteStore {
    /// Wraps `client`, starting the runtime its requests run on.
    pub fn new(client: GatewayClient) -> Result<Self, RemoteError> {
        let runtime = Blocking::new("cargo-ipfs-http")
            .map_err(|e| RemoteError::Setup { reason: format!("cannot start the runtime for HTTP requests: {e}") })?;
        Ok(RemoteStore { client, runtime })
    }

    /// The async client underneath.
    pub fn client(&self) -> &GatewayClient {
        &self.client
    }

    /// Blocks on `future`, refusing to do so on a thread that runs async tasks.
    fn block_on<F: Future>(&self, future: F) -> Result<F::Output, RemoteError> {
        self.runtime.block_on(future).ok_or(RemoteError::InAsyncContext)
    }

    /// [`GatewayClient::get_record`], blocking.
    pub fn get_record(&self, name: &IpnsName) -> Result<Vec<u8>, RemoteError> {
        self.block_on(self.client.get_record(name))?
    }

    /// [`GatewayClient::put_record`], blocking.
    pub fn put_record(&self, name: &IpnsName, bytes: &[u8]) -> Result<usize, RemoteError> {
        self.block_on(self.client.put_record(name, bytes))?
    }

    /// [`GatewayClient::get_car`], blocking: an iterator of verified blocks.
    pub fn get_car(&self, cid: &Cid, scope: DagScope) -> Result<CarBlocks<'_>, RemoteError> {
        let stream = self.block_on(self.client.get_car(cid, scope))??;
        Ok(CarBlocks::new(&self.runtime, stream))
    }

    /// [`GatewayClient::get_car_sized`], blocking.
    pub fn get_car_sized(&self, cid: &Cid, scope: DagScope, size: u64) -> Result<CarBlocks<'_>, RemoteError> {
        let stream = self.block_on(self.client.get_car_sized(cid, scope, size))??;
        Ok(CarBlocks::new(&self.runtime, stream))
    }

    /// [`GatewayClient::get_path_car`], blocking.
    pub fn get_path_car(&self, root: &Cid, segments: &[&str]) -> Result<CarBlocks<'_>, RemoteError> {
        let stream = self.block_on(self.client.get_path_car(root, segments))??;
        Ok(CarBlocks::new(&self.runtime, stream))
    }
}

/// The blocks of a CAR stream, for blocking code (see [`CarStream`]): from
/// gateways, or from a kubo node's `dag/export`
/// ([`KuboStore::export`](super::KuboStore::export)). Ends after the first
/// error.
pub struct CarBlocks<'a> {
    runtime: &'a Blocking,
    stream: CarStream,
    done: bool,
}

impl<'a> CarBlocks<'a> {
    pub(crate) fn new(runtime: &'a Blocking, stream: CarStream) -> Self {
        CarBlocks { runtime, stream, done: false }
    }

    /// The gateway that is sending the stream.
    pub fn gateway(&self) -> &str {
        self.stream.gateway()
    }

    /// Bytes of the body read so far, blocks dropped as duplicates or
    /// outside the DAG included: what a caller bounds.
    pub fn bytes_read(&self) -> u64 {
        self.stream.bytes_read()
    }
}

impl Iterator for CarBlocks<'_> {
    type Item = Result<Block, RemoteError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.runtime.block_on(self.stream.next()).unwrap_or(Some(Err(RemoteError::InAsyncContext)));
        self.done = !matches!(item, Some(Ok(_)));
        item
    }
}

impl BlockStore for RemoteStore {
    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError> {
        match self.block_on(self.client.get_block(cid))? {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn put(&self, _block: &Block) -> Result<(), StoreError> {
        Err(RemoteError::ReadOnly { gateways: self.describe() }.into())
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        Ok(self.block_on(self.client.has_block(cid))??)
    }

    fn describe(&self) -> String {
        format!("gateways {}", self.client.gateways().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::block::{parse_cid, RAW};
    use crate::store::gateway::test_server::{fixture_blocks, TestGateway, HELLO, ROOT};
    use crate::store::gateway::ClientOptions;
    use std::time::Duration;

    fn store(gateways: &[&TestGateway]) -> RemoteStore {
        let options =
            ClientOptions { timeout: Duration::from_secs(5), backoff: Duration::from_millis(10), ..Default::default() };
        RemoteStore::new(GatewayClient::new(gateways.iter().map(|g| g.url()).collect(), options).unwrap()).unwrap()
    }

    #[test]
    fn reads_verified_blocks_and_refuses_writes() {
        let gateway = TestGateway::start();
        let store = store(&[&gateway]);
        let hello = parse_cid(HELLO).unwrap();
        assert_eq!(store.get(&hello).unwrap().unwrap(), b"hello world\n");
        assert!(store.has(&hello).unwrap());
        let absent = Block::encode(RAW, false, b"absent".to_vec());
        assert_eq!(store.get(absent.cid()).unwrap(), None);
        assert!(!store.has(absent.cid()).unwrap());
        let missing = store.get_required(absent.cid()).unwrap_err().to_string();
        assert!(missing.contains(&absent.cid().to_string()) && missing.contains(&gateway.label()), "{missing}");
        let err = store.put(&absent).unwrap_err();
        assert!(matches!(&err, StoreError::Remote(e) if matches!(**e, RemoteError::ReadOnly { .. })), "{err:?}");
        assert!(err.to_string().contains("read-only"), "{err}");
    }

    #[test]
    fn serves_several_threads_at_once() {
        let gateway = TestGateway::start();
        let store = store(&[&gateway]);
        let blocks = fixture_blocks();
        std::thread::scope(|scope| {
            for chunk in blocks.chunks(3) {
                let store = &store;
                scope.spawn(move || {
                    for block in chunk {
                        assert_eq!(store.get(block.cid()).unwrap().unwrap(), block.data());
                    }
                });
            }
        });
    }

    #[test]
    fn iterates_over_a_car() {
        let gateway = TestGateway::start();
        let store = store(&[&gateway]);
        let blocks: Vec<Block> =
            store.get_car(&parse_cid(ROOT).unwrap(), DagScope::All).unwrap().take(100).map(Result::unwrap).collect();
        let expected: std::collections::HashSet<_> = fixture_blocks().into_iter().map(|b| *b.cid()).collect();
        assert_eq!(blocks.iter().map(|b| *b.cid()).collect::<std::collections::HashSet<_>>(), expected);
    }

    #[tokio::test]
    async fn refuses_to_block_inside_async_code() {
        let gateway = TestGateway::start();
        let store = store(&[&gateway]);
        let err = store.get(&parse_cid(HELLO).unwrap()).unwrap_err();
        assert!(matches!(&err, StoreError::Remote(e) if matches!(**e, RemoteError::InAsyncContext)), "{err:?}");
        // Dropping the store here must not panic either.
        drop(store);
    }
}
