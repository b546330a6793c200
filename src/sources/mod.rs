//! The sources a fetch reads what the local store lacks from: trustless
//! gateways (raced), or a kubo node's RPC API. Either way each artifact
//! comes as one CAR stream (a gateway's `format=car`, kubo's `dag/export`),
//! each block verified as it arrives, and the IPNS record is verified
//! against its name. [`config`] says which sources are configured.
//!
//! A gateway found slow or failing is skipped for a while, by this process
//! and by the others that share the store (the wrappers of one
//! `cargo ipfs install`), and one that lost a race while behind its pace is
//! asked last: see `store/gateway/health.rs`.

pub mod config;

use crate::formats::block::Block;
use crate::formats::ipns::IpnsName;
use crate::store::gateway::{ClientOptions, DagScope, Url};
use crate::store::{BlockStore, CarBlocks, GatewayClient, KuboOptions, KuboStore, RemoteStore, StoreError};
use anyhow::Context;
use cid::Cid;
use std::path::Path;
use std::time::Duration;

/// The sources of a fetch: gateways, or a kubo node.
#[derive(Debug)]
pub enum Sources {
    /// Trustless gateways and delegated routing endpoints.
    Gateways(RemoteStore),
    /// A kubo node, which looks on the IPFS network for what it lacks.
    Kubo(Box<KuboStore>),
}

impl Sources {
    /// The kubo node at `kubo` if one is given, else the `gateways`; `None`
    /// when neither is (the local store only). `timeout` replaces the
    /// default time a request may go without an answer (and may wait for
    /// the answer to begin). Gateways found failing are remembered under
    /// the store directory `store_dir` when one is given, for the other
    /// processes of the same build.
    pub fn open(
        gateways: &[String],
        kubo: Option<&str>,
        timeout: Option<Duration>,
        store_dir: Option<&Path>,
    ) -> anyhow::Result<Option<Sources>> {
        if let Some(addr) = kubo {
            let mut options = KuboOptions::default();
            if let Some(timeout) = timeout {
                options.timeout = timeout;
            }
            return Ok(Some(Sources::Kubo(Box::new(KuboStore::connect(addr, options)?))));
        }
        if gateways.is_empty() {
            return Ok(None);
        }
        let urls = gateways
            .iter()
            .map(|g| Url::parse(g).with_context(|| format!("invalid gateway URL {g:?}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut options = ClientOptions {
            remember: store_dir.map(|dir| dir.join(crate::store::gateway::HEALTH_DIR)),
            ..ClientOptions::default()
        };
        if let Some(timeout) = timeout {
            // The user's own wait for an answer: it may begin that late too.
            options.timeout = timeout;
            options.first_byte = timeout;
        }
        Ok(Some(Sources::Gateways(RemoteStore::new(GatewayClient::new(urls, options)?)?)))
    }

    /// The IPNS record of `name`, verified against it.
    pub fn get_record(&self, name: &IpnsName) -> anyhow::Result<Vec<u8>> {
        Ok(match self {
            Sources::Gateways(gateways) => gateways.get_record(name)?,
            Sources::Kubo(kubo) => kubo.get_record(name)?,
        })
    }

    /// Every block of the DAG under `root`, a file of `size` bytes, in one
    /// stream. From gateways, the stream is raced: a gateway behind the
    /// pace ([`HEDGE_RATE`](crate::store::gateway::HEDGE_RATE)) has the
    /// next one asked beside it, one that fails has the next asked instead,
    /// and the first to send the whole DAG wins.
    pub fn get_dag(&self, root: &Cid, size: u64) -> anyhow::Result<CarBlocks<'_>> {
        Ok(match self {
            Sources::Gateways(gateways) => gateways.get_car_sized(root, DagScope::All, size)?,
            Sources::Kubo(kubo) => kubo.export(root, Some(size))?,
        })
    }

    /// Every block of the DAG under `root` whose size is not known
    /// beforehand (an index version's tree), in one stream from the first
    /// source that answers; the caller stores them and reads what is still
    /// missing block by block.
    pub fn get_tree(&self, root: &Cid) -> anyhow::Result<CarBlocks<'_>> {
        Ok(match self {
            Sources::Gateways(gateways) => gateways.get_car(root, DagScope::All)?,
            Sources::Kubo(kubo) => kubo.export(root, None)?,
        })
    }

    /// How many streams of one DAG are worth asking for before reading
    /// block by block: one per gateway (each failure skips its gateway), or
    /// one from a kubo node.
    pub fn attempts(&self) -> usize {
        match self {
            Sources::Gateways(gateways) => gateways.client().gateways().len(),
            Sources::Kubo(_) => 1,
        }
    }

    /// Remembers the source `name` (as [`CarBlocks::gateway`] names it) as
    /// failing, for a caller that refused what it sent.
    pub fn avoid(&self, name: &str, reason: &str) {
        if let Sources::Gateways(gateways) = self {
            gateways.client().avoid(name, reason);
        }
    }

    /// Whether every source is remembered as failing lately, so that
    /// asking would reach none of them.
    pub fn all_avoided(&self) -> bool {
        match self {
            Sources::Gateways(gateways) => gateways.client().all_avoided(),
            Sources::Kubo(_) => false,
        }
    }

    /// The blocks on the way from `root` along `segments` (UnixFS directory
    /// entries) and of what they name, in one stream; `None` where the
    /// remote cannot send that (kubo exports whole DAGs only), and the
    /// caller reads block by block.
    pub fn get_path(&self, root: &Cid, segments: &[&str]) -> Option<anyhow::Result<CarBlocks<'_>>> {
        match self {
            Sources::Gateways(gateways) => Some(gateways.get_path_car(root, segments).map_err(Into::into)),
            Sources::Kubo(_) => None,
        }
    }

    fn store(&self) -> &dyn BlockStore {
        match self {
            Sources::Gateways(gateways) => gateways,
            Sources::Kubo(kubo) => kubo.as_ref(),
        }
    }
}

impl BlockStore for Sources {
    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError> {
        self.store().get(cid)
    }

    fn put(&self, block: &Block) -> Result<(), StoreError> {
        self.store().put(block)
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        self.store().has(cid)
    }

    fn describe(&self) -> String {
        self.store().describe()
    }
}
