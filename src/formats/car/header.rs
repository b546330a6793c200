//! The CARv1 header and the prefix of each section.

use cid::Cid;
use serde::{Deserialize, Serialize};

use super::{CarError, MAX_VARINT_LEN};
use crate::formats::varint;

/// The header as it is encoded. Field order does not matter on the wire:
/// `serde_ipld_dagcbor` sorts map keys canonically (length first), which puts
/// `roots` before `version`, as kubo and go-car write them.
#[derive(Serialize)]
struct HeaderOut<'a> {
    roots: &'a [Cid],
    version: u64,
}

/// The header as it is decoded. `roots` is optional here only so that a
/// CARv2 pragma (`{"version": 2}`) is reported as an unsupported version
/// rather than as a missing field.
#[derive(Deserialize)]
struct HeaderIn {
    roots: Option<Vec<Cid>>,
    version: u64,
}

/// Encodes a CARv1 header for `roots`: the varint length followed by the
/// canonical DAG-CBOR map. Empty `roots` are allowed, as go-car v2 and the
/// JavaScript implementation allow them.
pub fn encode_header(roots: &[Cid]) -> Vec<u8> {
    let cbor = serde_ipld_dagcbor::to_vec(&HeaderOut { roots, version: 1 })
        .expect("a list of CIDs and an integer always encode");
    let mut out = Vec::with_capacity(cbor.len() + MAX_VARINT_LEN);
    varint::encode(cbor.len() as u64, &mut out);
    out.extend_from_slice(&cbor);
    out
}

/// What comes before a block's bytes in its section: the section's length
/// and the CID. For writers that send the bytes themselves without a copy.
pub fn section_prefix(cid: &Cid, data_len: usize) -> Vec<u8> {
    let cid = cid.to_bytes();
    let mut prefix = Vec::with_capacity(MAX_VARINT_LEN + cid.len());
    varint::encode((cid.len() + data_len) as u64, &mut prefix);
    prefix.extend_from_slice(&cid);
    prefix
}

/// Decodes a header's DAG-CBOR map into its roots.
pub(super) fn parse_header(bytes: &[u8]) -> Result<Vec<Cid>, CarError> {
    let header: HeaderIn = serde_ipld_dagcbor::from_slice(bytes)
        .map_err(|e| CarError::BadHeader { reason: format!("not a DAG-CBOR map of roots and version: {e}") })?;
    if header.version != 1 {
        return Err(CarError::UnsupportedVersion { version: header.version });
    }
    header.roots.ok_or_else(|| CarError::BadHeader { reason: "the header has no `roots` field".into() })
}
