//! Reading a record's fields without verifying anything, for display
//! (`cargo ipfs name inspect`, like kubo's `ipfs name inspect`).
//!
//! Nothing read here is trustworthy: only [`super::verify_record`] says
//! whether a record is good for a name. That is why these types stay inside
//! the crate and carry raw bytes rather than checked values.

use ipld_core::ipld::Ipld;
use thiserror::Error;

use super::record::MAX_RECORD_SIZE;
use super::wire::{Data, Entry};

/// Why bytes could not be read as an IPNS record at all.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("not an IPNS record: {reason}")]
pub(crate) struct UnreadableRecord {
    reason: String,
}

/// What a record says, unverified. The five main fields come from the
/// signed DAG-CBOR data when it can be read, else from the legacy V1
/// protobuf fields; [`RecordFields::from_data`] tells which.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RecordFields {
    pub value: Option<Vec<u8>>,
    pub validity_type: Option<u64>,
    pub validity: Option<Vec<u8>>,
    pub sequence: Option<u64>,
    pub ttl: Option<u64>,
    /// Whether the fields above were read from the `data` field.
    pub from_data: bool,
    pub public_key: Option<Vec<u8>>,
    pub signature_v1: Option<Vec<u8>>,
    pub signature_v2: Option<Vec<u8>>,
    pub data: Option<Vec<u8>>,
    /// The `data` field decoded as DAG-CBOR (any map, including keys the
    /// spec does not name), or why it could not be.
    pub data_map: Option<Result<Ipld, String>>,
}

/// Reads a record's protobuf and, if present, its DAG-CBOR data, checking
/// nothing but the size limit and the wire formats.
pub(crate) fn inspect_record(bytes: &[u8]) -> Result<RecordFields, UnreadableRecord> {
    let unreadable = |reason: String| UnreadableRecord { reason };
    if bytes.len() > MAX_RECORD_SIZE {
        return Err(unreadable(format!("it is {} bytes, over the {MAX_RECORD_SIZE}-byte limit", bytes.len())));
    }
    let entry = Entry::decode(bytes).map_err(|e| unreadable(format!("it is not an IpnsEntry protobuf: {e}")))?;
    if entry.value.is_none() && entry.signature_v1.is_none() && entry.signature_v2.is_none() && entry.data.is_none() {
        return Err(unreadable("it has no value, signature or data field".to_string()));
    }
    let data_map = entry
        .data
        .as_deref()
        .map(|cbor| serde_ipld_dagcbor::from_slice::<Ipld>(cbor).map_err(|e| format!("data is not DAG-CBOR: {e}")));
    let signed = entry.data.as_deref().and_then(|cbor| Data::decode(cbor).ok());
    let mut fields = RecordFields {
        value: entry.value,
        validity_type: entry.validity_type,
        validity: entry.validity,
        sequence: entry.sequence,
        ttl: entry.ttl,
        from_data: signed.is_some(),
        public_key: entry.pub_key,
        signature_v1: entry.signature_v1,
        signature_v2: entry.signature_v2,
        data: entry.data,
        data_map,
    };
    if let Some(data) = signed {
        fields.value = Some(data.value);
        fields.validity_type = Some(data.validity_type);
        fields.validity = Some(data.validity);
        fields.sequence = Some(data.sequence);
        fields.ttl = Some(data.ttl);
    }
    Ok(fields)
}
