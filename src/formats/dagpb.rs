//! dag-pb nodes (`PBNode` and `PBLink`), encoded as the dag-pb spec and
//! go-merkledag do.
//!
//! Two details decide CIDs here. Links are written before `Data`, although
//! `Data` has the lower field number. And a link's `Name` is written when it
//! is present even if empty: kubo's file nodes carry an explicit empty name,
//! and leaving it out gives a different CID. [`PbLink::name`] is therefore an
//! `Option`.

use super::pb::{self, PbError, Reader, Value, Writer};
use cid::Cid;
use thiserror::Error;

/// Why bytes are not a valid dag-pb node.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DagPbError {
    /// The protobuf framing is broken.
    #[error("invalid dag-pb node: {0}")]
    Protobuf(#[from] PbError),
    /// A link's hash is not a CID.
    #[error("invalid dag-pb node: link {index} has a malformed CID")]
    BadLinkCid {
        /// The link's position.
        index: usize,
    },
    /// A link has no hash.
    #[error("invalid dag-pb node: link {index} has no hash")]
    MissingHash {
        /// The link's position.
        index: usize,
    },
    /// A link name is not UTF-8.
    #[error("invalid dag-pb node: link {index} has a name that is not UTF-8")]
    BadName {
        /// The link's position.
        index: usize,
    },
    /// Fields out of the spec's order or repeated.
    #[error("invalid dag-pb node: {0}")]
    Layout(&'static str),
}

/// One link of a dag-pb node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbLink {
    /// The CID linked to.
    pub cid: Cid,
    /// The link name; `Some("")` is written, `None` is not.
    pub name: Option<String>,
    /// The cumulative size of the linked DAG (`Tsize`).
    pub tsize: Option<u64>,
}

/// A dag-pb node: links and optional data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PbNode {
    /// The links, in the order they are stored.
    pub links: Vec<PbLink>,
    /// The data field (for UnixFS, an encoded `Data` message).
    pub data: Option<Vec<u8>>,
}

impl PbLink {
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(64);
        w.bytes(1, &self.cid.to_bytes());
        if let Some(name) = &self.name {
            w.bytes(2, name.as_bytes());
        }
        if let Some(tsize) = self.tsize {
            w.varint(3, tsize);
        }
        w.finish()
    }

    fn decode(bytes: &[u8], index: usize) -> Result<Self, DagPbError> {
        let mut reader = Reader::new(bytes);
        let (mut cid, mut name, mut tsize) = (None, None, None);
        let mut last = 0;
        while let Some((field, value)) = reader.next_field()? {
            if field <= last {
                return Err(DagPbError::Layout("link fields are out of order or repeated"));
            }
            last = field;
            match field {
                1 => {
                    let raw = value.bytes(1)?;
                    cid = Some(Cid::try_from(raw).map_err(|_| DagPbError::BadLinkCid { index })?);
                }
                2 => {
                    let raw = value.bytes(2)?;
                    let text = std::str::from_utf8(raw).map_err(|_| DagPbError::BadName { index })?;
                    name = Some(text.to_string());
                }
                3 => tsize = Some(value.varint(3)?),
                _ => return Err(DagPbError::Layout("unknown field in link")),
            }
        }
        let cid = cid.ok_or(DagPbError::MissingHash { index })?;
        Ok(PbLink { cid, name, tsize })
    }
}

impl PbNode {
    /// Encodes the node in canonical dag-pb form.
    pub fn encode(&self) -> Vec<u8> {
        let data_len = self.data.as_ref().map_or(0, |d| d.len() + 8);
        let mut w = Writer::with_capacity(self.links.len() * 48 + data_len);
        for link in &self.links {
            w.bytes(2, &link.encode());
        }
        if let Some(data) = &self.data {
            w.bytes(1, data);
        }
        w.finish()
    }

    /// Decodes a node, refusing fields in a non-canonical order.
    pub fn decode(bytes: &[u8]) -> Result<Self, DagPbError> {
        let mut reader = Reader::new(bytes);
        let mut node = PbNode::default();
        while let Some((field, value)) = reader.next_field()? {
            match (field, value) {
                (2, Value::Bytes(link)) => {
                    if node.data.is_some() {
                        return Err(DagPbError::Layout("a link follows the data field"));
                    }
                    node.links.push(PbLink::decode(link, node.links.len())?);
                }
                (1, Value::Bytes(data)) => {
                    if node.data.is_some() {
                        return Err(DagPbError::Layout("the data field is repeated"));
                    }
                    node.data = Some(data.to_vec());
                }
                (1 | 2, _) => return Err(PbError::Invalid { field, what: "expected bytes" }.into()),
                _ => return Err(DagPbError::Layout("unknown field in node")),
            }
        }
        Ok(node)
    }
}

/// The encoded size of a link with the given parts, used to decide when a
/// directory block would grow past a limit before building it.
pub fn link_encoded_len(cid: &Cid, name: &str, tsize: u64) -> usize {
    let inner = pb::bytes_field_len(1, cid.encoded_len())
        + pb::bytes_field_len(2, name.len())
        + 1
        + super::varint::encoded_len(tsize);
    pb::bytes_field_len(2, inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::block::parse_cid;

    #[test]
    fn empty_directory_node_has_its_known_cid() {
        // The empty UnixFS directory: data = {Type: Directory}.
        let node = PbNode { links: vec![], data: Some(vec![0x08, 0x01]) };
        let bytes = node.encode();
        assert_eq!(bytes, [0x0a, 0x02, 0x08, 0x01]);
        let block = crate::formats::block::Block::encode(crate::formats::block::DAG_PB, true, bytes);
        assert_eq!(block.cid().to_string(), "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn");
    }

    #[test]
    fn round_trips_links_with_empty_and_absent_names() {
        let cid = parse_cid("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4").unwrap();
        let node = PbNode {
            links: vec![
                PbLink { cid, name: Some(String::new()), tsize: Some(12) },
                PbLink { cid, name: None, tsize: None },
                PbLink { cid, name: Some("hello.txt".into()), tsize: Some(12) },
            ],
            data: Some(vec![8, 2]),
        };
        let bytes = node.encode();
        assert_eq!(PbNode::decode(&bytes).unwrap(), node);
        assert_eq!(link_encoded_len(&cid, "hello.txt", 12), node.links[2].encode().len() + 2);
    }

    #[test]
    fn refuses_data_before_links_and_bad_cids() {
        let cid = parse_cid("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4").unwrap();
        let link = PbLink { cid, name: None, tsize: None }.encode();
        let mut w = Writer::new();
        w.bytes(1, b"data").bytes(2, &link);
        assert!(matches!(PbNode::decode(&w.finish()), Err(DagPbError::Layout(_))));
        let mut w = Writer::new();
        w.bytes(2, &Writer::new().bytes(1, b"nope").clone().finish());
        assert_eq!(PbNode::decode(&w.finish()), Err(DagPbError::BadLinkCid { index: 0 }));
    }
}
