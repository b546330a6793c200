//! The links out of a block, by codec: what DAG traversal needs to know.

use super::block::{Block, DAG_CBOR, DAG_JSON, DAG_PB, RAW};
use super::dagpb::{DagPbError, PbNode};
use cid::Cid;
use ipld_core::ipld::Ipld;
use thiserror::Error;

/// Why a block's links could not be read.
#[derive(Debug, Error)]
pub enum LinksError {
    /// The dag-pb node is malformed.
    #[error("{cid}: {source}")]
    DagPb {
        /// The block.
        cid: Cid,
        /// What was wrong.
        source: DagPbError,
    },
    /// The dag-cbor document is malformed.
    #[error("{cid}: invalid dag-cbor: {reason}")]
    DagCbor {
        /// The block.
        cid: Cid,
        /// What was wrong.
        reason: String,
    },
    /// A codec whose links this crate cannot read.
    #[error("{cid} has codec {codec:#x}; its links cannot be followed (dag-pb, dag-cbor and raw can)")]
    Codec {
        /// The block.
        cid: Cid,
        /// Its codec.
        codec: u64,
    },
}

/// [`links`] of `block`. A raw block has none, and its bytes, which may be
/// held in pieces, are not joined to find that out.
pub fn block_links(block: &Block) -> Result<Vec<Cid>, LinksError> {
    if block.cid().codec() == RAW {
        return Ok(Vec::new());
    }
    links(block.cid(), block.data())
}

/// The CIDs a verified block links to, in order.
pub fn links(cid: &Cid, bytes: &[u8]) -> Result<Vec<Cid>, LinksError> {
    match cid.codec() {
        RAW => Ok(Vec::new()),
        DAG_PB => {
            let node = PbNode::decode(bytes).map_err(|source| LinksError::DagPb { cid: *cid, source })?;
            Ok(node.links.into_iter().map(|l| l.cid).collect())
        }
        DAG_CBOR => {
            let ipld: Ipld = serde_ipld_dagcbor::from_slice(bytes)
                .map_err(|e| LinksError::DagCbor { cid: *cid, reason: e.to_string() })?;
            let mut out = Vec::new();
            collect(&ipld, &mut out);
            Ok(out)
        }
        codec @ DAG_JSON => Err(LinksError::Codec { cid: *cid, codec }),
        codec => Err(LinksError::Codec { cid: *cid, codec }),
    }
}

fn collect(ipld: &Ipld, out: &mut Vec<Cid>) {
    match ipld {
        Ipld::Link(cid) => out.push(*cid),
        Ipld::List(items) => items.iter().for_each(|i| collect(i, out)),
        Ipld::Map(map) => map.values().for_each(|v| collect(v, out)),
        _ => {}
    }
}
