//! The protobuf wire format, as far as dag-pb, UnixFS, IPNS and libp2p keys
//! need it.
//!
//! These messages are tiny and their byte layout decides CIDs and
//! signatures, so the encoder writes fields exactly in the order the caller
//! gives them (dag-pb puts `Links` before `Data`, which a generated encoder
//! would not do), and the decoder hands back fields one at a time.

use super::varint::{self, VarintError};
use thiserror::Error;

/// Why a protobuf message could not be decoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PbError {
    /// A varint (tag, length or value) was malformed.
    #[error("malformed protobuf: {0}")]
    Varint(#[from] VarintError),
    /// A length-delimited field runs past the end of the message.
    #[error("malformed protobuf: field {field} is truncated")]
    Truncated {
        /// The field number.
        field: u32,
    },
    /// A wire type this decoder does not know (groups are not supported).
    #[error("malformed protobuf: unsupported wire type {0}")]
    WireType(u8),
    /// A field had the wrong wire type or an invalid value.
    #[error("malformed protobuf: field {field}: {what}")]
    Invalid {
        /// The field number.
        field: u32,
        /// What was wrong with it.
        what: &'static str,
    },
}

/// A field value as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2.
    Bytes(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
}

impl<'a> Value<'a> {
    /// The value as a varint, or an error naming `field`.
    pub fn varint(self, field: u32) -> Result<u64, PbError> {
        match self {
            Value::Varint(v) => Ok(v),
            _ => Err(PbError::Invalid { field, what: "expected a varint" }),
        }
    }

    /// The value as bytes, or an error naming `field`.
    pub fn bytes(self, field: u32) -> Result<&'a [u8], PbError> {
        match self {
            Value::Bytes(b) => Ok(b),
            _ => Err(PbError::Invalid { field, what: "expected bytes" }),
        }
    }
}

/// Reads the fields of one message in wire order.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    /// The next field number and value, or `None` at the end.
    pub fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>, PbError> {
        if self.pos >= self.data.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field =
            u32::try_from(key >> 3).map_err(|_| PbError::Invalid { field: 0, what: "field number too large" })?;
        if field == 0 {
            return Err(PbError::Invalid { field, what: "field number 0" });
        }
        let value = match (key & 7) as u8 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(self.take(8, field)?.try_into().expect("8 bytes"))),
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len).map_err(|_| PbError::Truncated { field })?;
                Value::Bytes(self.take(len, field)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(self.take(4, field)?.try_into().expect("4 bytes"))),
            other => return Err(PbError::WireType(other)),
        };
        Ok(Some((field, value)))
    }

    fn varint(&mut self) -> Result<u64, PbError> {
        let (value, len) = varint::decode(&self.data[self.pos..])?;
        self.pos += len;
        Ok(value)
    }

    fn take(&mut self, len: usize, field: u32) -> Result<&'a [u8], PbError> {
        let end = self.pos.checked_add(len).filter(|&end| end <= self.data.len());
        let end = end.ok_or(PbError::Truncated { field })?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }
}

/// Appends fields to a message buffer, in the order they are written.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty message with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Writer { buf: Vec::with_capacity(capacity) }
    }

    /// Writes a varint field.
    pub fn varint(&mut self, field: u32, value: u64) -> &mut Self {
        varint::encode(u64::from(field) << 3, &mut self.buf);
        varint::encode(value, &mut self.buf);
        self
    }

    /// Writes a length-delimited field.
    pub fn bytes(&mut self, field: u32, value: &[u8]) -> &mut Self {
        varint::encode((u64::from(field) << 3) | 2, &mut self.buf);
        varint::encode(value.len() as u64, &mut self.buf);
        self.buf.extend_from_slice(value);
        self
    }

    /// The encoded message.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// The encoded size of a length-delimited field with `len` bytes of payload.
pub fn bytes_field_len(field: u32, len: usize) -> usize {
    varint::encoded_len(u64::from(field) << 3) + varint::encoded_len(len as u64) + len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_fields_in_given_order_and_reads_them_back() {
        let mut w = Writer::new();
        w.bytes(2, b"link").varint(1, 150).bytes(3, b"");
        let msg = w.finish();
        // Field 2 (bytes) "link", field 1 varint 150 as in the protobuf guide, empty field 3.
        assert_eq!(msg, [0x12, 4, b'l', b'i', b'n', b'k', 0x08, 0x96, 0x01, 0x1a, 0]);
        assert_eq!(bytes_field_len(2, 4), 6);
        let mut r = Reader::new(&msg);
        assert_eq!(r.next_field().unwrap(), Some((2, Value::Bytes(b"link"))));
        assert_eq!(r.next_field().unwrap(), Some((1, Value::Varint(150))));
        assert_eq!(r.next_field().unwrap(), Some((3, Value::Bytes(b""))));
        assert_eq!(r.next_field().unwrap(), None);
    }

    #[test]
    fn rejects_truncated_fields_and_groups() {
        assert_eq!(Reader::new(&[0x12, 5, 1]).next_field(), Err(PbError::Truncated { field: 2 }));
        assert_eq!(Reader::new(&[0x0b]).next_field(), Err(PbError::WireType(3)));
        assert!(Reader::new(&[0x00, 1]).next_field().is_err());
        assert!(Reader::new(&[0x08]).next_field().is_err());
    }
}
