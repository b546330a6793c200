//! The UnixFS `Data` protobuf message carried in a dag-pb node's data field.

use crate::formats::pb::{PbError, Reader, Writer};
use thiserror::Error;

/// The kind of UnixFS node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// Raw bytes (old importers' leaves).
    Raw = 0,
    /// A plain directory.
    Directory = 1,
    /// A file or a piece of one.
    File = 2,
    /// Metadata (unused).
    Metadata = 3,
    /// A symbolic link; the data is the target.
    Symlink = 4,
    /// A HAMT-sharded directory node.
    HamtShard = 5,
}

/// Why a UnixFS `Data` message was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum UnixFsError {
    /// The protobuf is malformed.
    #[error("invalid UnixFS data: {0}")]
    Protobuf(#[from] PbError),
    /// The `Type` field is missing or unknown.
    #[error("invalid UnixFS data: missing or unknown node type")]
    BadType,
    /// A HAMT link name shorter than the bucket index.
    #[error("invalid HAMT shard: link name {0:?} is shorter than its bucket index")]
    BadHamtName(String),
    /// A dag-pb node without a data field where UnixFS needs one.
    #[error("not a UnixFS node: the dag-pb node has no data field")]
    NotUnixFs,
}

/// A decoded UnixFS `Data` message (mode and mtime are ignored on read and
/// never written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixFsData {
    /// The node kind.
    pub kind: DataType,
    /// Inline bytes (file content, symlink target).
    pub data: Option<Vec<u8>>,
    /// The total size of the file below this node.
    pub filesize: Option<u64>,
    /// The size of each child's file content, one per link.
    pub blocksizes: Vec<u64>,
    /// The hash function of a HAMT shard.
    pub hash_type: Option<u64>,
    /// The fanout of a HAMT shard.
    pub fanout: Option<u64>,
}

impl UnixFsData {
    /// A message of `kind` with no other fields.
    pub fn new(kind: DataType) -> Self {
        UnixFsData { kind, data: None, filesize: None, blocksizes: Vec::new(), hash_type: None, fanout: None }
    }

    /// Encodes fields in field-number order, `blocksizes` unpacked, as
    /// go-unixfs does.
    pub fn encode(&self) -> Vec<u8> {
        let inline = self.data.as_ref().map_or(0, Vec::len);
        let mut w = Writer::with_capacity(16 + inline + self.blocksizes.len() * 6);
        w.varint(1, self.kind as u64);
        if let Some(data) = &self.data {
            w.bytes(2, data);
        }
        if let Some(size) = self.filesize {
            w.varint(3, size);
        }
        for &size in &self.blocksizes {
            w.varint(4, size);
        }
        if let Some(hash_type) = self.hash_type {
            w.varint(5, hash_type);
        }
        if let Some(fanout) = self.fanout {
            w.varint(6, fanout);
        }
        w.finish()
    }

    /// Decodes a message; unknown fields (mode, mtime) are skipped.
    pub fn decode(bytes: &[u8]) -> Result<Self, UnixFsError> {
        let mut reader = Reader::new(bytes);
        let mut kind = None;
        let mut out = UnixFsData::new(DataType::Raw);
        while let Some((field, value)) = reader.next_field()? {
            match field {
                1 => {
                    kind = Some(match value.varint(1)? {
                        0 => DataType::Raw,
                        1 => DataType::Directory,
                        2 => DataType::File,
                        3 => DataType::Metadata,
                        4 => DataType::Symlink,
                        5 => DataType::HamtShard,
                        _ => return Err(UnixFsError::BadType),
                    })
                }
                2 => out.data = Some(value.bytes(2)?.to_vec()),
                3 => out.filesize = Some(value.varint(3)?),
                4 => match value {
                    crate::formats::pb::Value::Bytes(packed) => {
                        // Accept the packed form too; some encoders write it.
                        let mut rest = packed;
                        while !rest.is_empty() {
                            let (v, n) = crate::formats::varint::decode(rest).map_err(PbError::from)?;
                            out.blocksizes.push(v);
                            rest = &rest[n..];
                        }
                    }
                    other => out.blocksizes.push(other.varint(4)?),
                },
                5 => out.hash_type = Some(value.varint(5)?),
                6 => out.fanout = Some(value.varint(6)?),
                _ => {}
            }
        }
        out.kind = kind.ok_or(UnixFsError::BadType)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_go_unixfs_file_node() {
        // The root of "abc123\n" at size-5 chunks, from issue-54.car:
        // Type=File, filesize=7, blocksizes=[5, 2].
        let bytes = [0x08, 0x02, 0x18, 0x07, 0x20, 0x05, 0x20, 0x02];
        let data = UnixFsData::decode(&bytes).unwrap();
        assert_eq!(data.kind, DataType::File);
        assert_eq!(data.filesize, Some(7));
        assert_eq!(data.blocksizes, vec![5, 2]);
        assert_eq!(data.encode(), bytes);
    }

    #[test]
    fn refuses_missing_or_unknown_type() {
        assert_eq!(UnixFsData::decode(&[0x18, 0x01]), Err(UnixFsError::BadType));
        assert_eq!(UnixFsData::decode(&[0x08, 0x09]), Err(UnixFsError::BadType));
    }
}
