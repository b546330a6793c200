//! The two wire forms inside an IPNS record: the `IpnsEntry` protobuf and the
//! DAG-CBOR document in its `data` field.
//!
//! Nothing here checks signatures or meaning; [`super::record`] does. The
//! CBOR map is written by hand because its bytes are what gets signed: five
//! keys in DAG-CBOR order (shorter key first, then bytewise) with minimal
//! integer heads, which is short enough to read and to check against kubo's
//! bytes. Reading goes through `serde_ipld_dagcbor`, which also skips keys
//! this crate does not know (the spec lets publishers add them).

use serde::Deserialize;

use crate::formats::pb::{PbError, Reader, Writer};

/// `IpnsEntry` field numbers, from the IPNS record spec.
mod field {
    pub const VALUE: u32 = 1;
    pub const SIGNATURE_V1: u32 = 2;
    pub const VALIDITY_TYPE: u32 = 3;
    pub const VALIDITY: u32 = 4;
    pub const SEQUENCE: u32 = 5;
    pub const TTL: u32 = 6;
    pub const PUB_KEY: u32 = 7;
    pub const SIGNATURE_V2: u32 = 8;
    pub const DATA: u32 = 9;
}

/// The `IpnsEntry` protobuf with every field optional, as on the wire.
/// Fields 1 to 6 are the legacy V1 copies of what `data` holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Entry {
    pub value: Option<Vec<u8>>,
    pub signature_v1: Option<Vec<u8>>,
    pub validity_type: Option<u64>,
    pub validity: Option<Vec<u8>>,
    pub sequence: Option<u64>,
    pub ttl: Option<u64>,
    pub pub_key: Option<Vec<u8>>,
    pub signature_v2: Option<Vec<u8>>,
    pub data: Option<Vec<u8>>,
}

impl Entry {
    /// Reads the protobuf. Unknown fields are skipped; a repeated field
    /// keeps its last value, as protobuf readers do.
    pub fn decode(bytes: &[u8]) -> Result<Self, PbError> {
        let mut entry = Entry::default();
        let mut reader = Reader::new(bytes);
        while let Some((number, value)) = reader.next_field()? {
            match number {
                field::VALUE => entry.value = Some(value.bytes(number)?.to_vec()),
                field::SIGNATURE_V1 => entry.signature_v1 = Some(value.bytes(number)?.to_vec()),
                field::VALIDITY_TYPE => entry.validity_type = Some(value.varint(number)?),
                field::VALIDITY => entry.validity = Some(value.bytes(number)?.to_vec()),
                field::SEQUENCE => entry.sequence = Some(value.varint(number)?),
                field::TTL => entry.ttl = Some(value.varint(number)?),
                field::PUB_KEY => entry.pub_key = Some(value.bytes(number)?.to_vec()),
                field::SIGNATURE_V2 => entry.signature_v2 = Some(value.bytes(number)?.to_vec()),
                field::DATA => entry.data = Some(value.bytes(number)?.to_vec()),
                _ => {}
            }
        }
        Ok(entry)
    }

    /// Writes the present fields in field-number order, as Go's protobuf
    /// encoder (and so kubo) does.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        let bytes_fields = [(field::VALUE, &self.value), (field::SIGNATURE_V1, &self.signature_v1)];
        for (number, value) in bytes_fields {
            if let Some(value) = value {
                w.bytes(number, value);
            }
        }
        if let Some(validity_type) = self.validity_type {
            w.varint(field::VALIDITY_TYPE, validity_type);
        }
        if let Some(validity) = &self.validity {
            w.bytes(field::VALIDITY, validity);
        }
        if let Some(sequence) = self.sequence {
            w.varint(field::SEQUENCE, sequence);
        }
        if let Some(ttl) = self.ttl {
            w.varint(field::TTL, ttl);
        }
        let tail =
            [(field::PUB_KEY, &self.pub_key), (field::SIGNATURE_V2, &self.signature_v2), (field::DATA, &self.data)];
        for (number, value) in tail {
            if let Some(value) = value {
                w.bytes(number, value);
            }
        }
        w.finish()
    }
}

/// The five fields of the signed DAG-CBOR document, in their wire types:
/// `Value` and `Validity` are byte strings, the rest unsigned integers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Data {
    #[serde(rename = "Value", with = "serde_bytes")]
    pub value: Vec<u8>,
    #[serde(rename = "Validity", with = "serde_bytes")]
    pub validity: Vec<u8>,
    #[serde(rename = "ValidityType")]
    pub validity_type: u64,
    #[serde(rename = "Sequence")]
    pub sequence: u64,
    #[serde(rename = "TTL")]
    pub ttl: u64,
}

impl Data {
    /// Reads the document; the five keys are required, others are ignored.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        // The decoder's Display is its Debug form; unwrap the common
        // message case ("missing field `TTL`") so users read plain text.
        serde_ipld_dagcbor::from_slice(bytes).map_err(|e| match e {
            serde_ipld_dagcbor::DecodeError::Msg(message) => message,
            other => other.to_string(),
        })
    }

    /// Writes the canonical DAG-CBOR map:
    /// `{TTL, Value, Sequence, Validity, ValidityType}`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.value.len() + self.validity.len());
        cbor_head(&mut out, MAP, 5);
        cbor_text(&mut out, "TTL");
        cbor_head(&mut out, UNSIGNED, self.ttl);
        cbor_text(&mut out, "Value");
        cbor_bytes(&mut out, &self.value);
        cbor_text(&mut out, "Sequence");
        cbor_head(&mut out, UNSIGNED, self.sequence);
        cbor_text(&mut out, "Validity");
        cbor_bytes(&mut out, &self.validity);
        cbor_text(&mut out, "ValidityType");
        cbor_head(&mut out, UNSIGNED, self.validity_type);
        out
    }
}

const UNSIGNED: u8 = 0;
const BYTES: u8 = 2;
const TEXT: u8 = 3;
const MAP: u8 = 5;

/// A CBOR head in its shortest form, as DAG-CBOR requires.
fn cbor_head(out: &mut Vec<u8>, major: u8, value: u64) {
    let major = major << 5;
    match value {
        0..=23 => out.push(major | value as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, value as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(value as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(value as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&value.to_be_bytes());
        }
    }
}

fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    cbor_head(out, BYTES, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    cbor_head(out, TEXT, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbor_heads_are_minimal() {
        let cases: [(u64, &[u8]); 6] = [
            (0, &[0x00]),
            (23, &[0x17]),
            (24, &[0x18, 24]),
            (256, &[0x19, 1, 0]),
            (65_536, &[0x1a, 0, 1, 0, 0]),
            (1 << 32, &[0x1b, 0, 0, 0, 1, 0, 0, 0, 0]),
        ];
        for (value, expected) in cases {
            let mut out = Vec::new();
            cbor_head(&mut out, UNSIGNED, value);
            assert_eq!(out, expected, "{value}");
        }
    }

    #[test]
    fn data_round_trips_and_ignores_unknown_keys() {
        let data = Data {
            value: b"/ipfs/bafkqaaa".to_vec(),
            validity: b"2123-01-01T00:00:00Z".to_vec(),
            validity_type: 0,
            sequence: 300,
            ttl: 1 << 40,
        };
        let encoded = data.encode();
        assert_eq!(Data::decode(&encoded).unwrap(), data);
        // Add a sixth key, `_x: [1]`, which must be skipped.
        let mut extended = encoded.clone();
        extended[0] = 0xa6;
        extended.extend_from_slice(&[0x62, b'_', b'x', 0x81, 0x01]);
        assert_eq!(Data::decode(&extended).unwrap(), data);
        // A missing key is an error that names it.
        let mut short = encoded;
        short[0] = 0xa4;
        let err = Data::decode(&short).unwrap_err();
        assert_eq!(err, "missing field `ValidityType`");
    }

    #[test]
    fn entry_round_trips() {
        let entry = Entry {
            value: Some(b"/ipfs/x".to_vec()),
            validity_type: Some(0),
            sequence: Some(0),
            signature_v2: Some(vec![1; 64]),
            data: Some(vec![0xa0]),
            ..Entry::default()
        };
        assert_eq!(Entry::decode(&entry.encode()).unwrap(), entry);
    }
}
