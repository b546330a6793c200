//! The sources a fetch reads what the local store lacks from: trustless
//! gateways (raced), or a kubo node's RPC API. Either way each artifact
//! comes as one CAR stream (a gateway's `format=car`, kubo's `dag/export`),
//! each block verified as it arrives, and the IPNS record is verified
//! against its name. [`config`] says which sources are configured.

pub mod config;

use crate::formats::block::Block;
use crate::formats::ipns::IpnsName;
use crate::store::gateway::{ClientOptions, DagScope, Url};
use crate::store::{BlockStore, CarBlocks, GatewayClient, KuboOptions, KuboStore, RemoteStore, StoreError};
use anyhow::Context;
use cid::Cid;
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
    /// default time a request may go without an answer.
    pub fn open(gateways: &[String], kubo: Option<&str>, timeout: Option<Duration>) -> anyhow::Result<Option<Sources>> {
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
        let mut options = ClientOptions::default();
        if let Some(timeout) = timeout {
            options.timeout = timeout;
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

    /// Every block of the DAG under `root`, in one stream.
    pub fn get_dag(&self, root: &Cid) -> anyhow::Result<CarBlocks<'_>> {
        Ok(match self {
            Sources::Gateways(gateways) => gateways.get_car(root, DagScope::All)?,
            Sources::Kubo(kubo) => kubo.export(root)?,
        })
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
