//! Unsigned LEB128 varints, in the two dialects this crate meets.
//!
//! Protobuf allows up to ten bytes and non-minimal encodings; the
//! multiformats spec (CAR section lengths, CIDs, multicodecs) caps a varint at
//! nine bytes and requires the minimal encoding. Both live here so that every
//! parser reports the same errors.

use thiserror::Error;

/// Why a varint could not be read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum VarintError {
    /// The input ended in the middle of the varint.
    #[error("varint is truncated")]
    Truncated,
    /// The varint is longer than its dialect allows or overflows 64 bits.
    #[error("varint is too long")]
    Overflow,
    /// A multiformats varint used more bytes than needed.
    #[error("varint is not minimally encoded")]
    NotMinimal,
}

/// Appends `value` as a varint.
pub fn encode(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The number of bytes [`encode`] writes for `value`.
pub fn encoded_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Reads a protobuf varint (at most ten bytes) from the start of `data`,
/// returning the value and the number of bytes it took.
pub fn decode(data: &[u8]) -> Result<(u64, usize), VarintError> {
    decode_bounded(data, 10)
}

/// Reads a multiformats unsigned varint: at most nine bytes, minimal.
pub fn decode_multiformat(data: &[u8]) -> Result<(u64, usize), VarintError> {
    let (value, len) = decode_bounded(data, 9)?;
    if len > 1 && data[len - 1] == 0 {
        return Err(VarintError::NotMinimal);
    }
    Ok((value, len))
}

fn decode_bounded(data: &[u8], max_len: usize) -> Result<(u64, usize), VarintError> {
    let mut value: u64 = 0;
    for (i, &byte) in data.iter().enumerate() {
        if i >= max_len {
            return Err(VarintError::Overflow);
        }
        let low = u64::from(byte & 0x7f);
        if i == 9 && low > 1 {
            return Err(VarintError::Overflow);
        }
        value |= low << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    if data.len() >= max_len {
        Err(VarintError::Overflow)
    } else {
        Err(VarintError::Truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_boundaries() {
        for value in [0, 1, 127, 128, 255, 300, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let mut buf = Vec::new();
            encode(value, &mut buf);
            assert_eq!(buf.len(), encoded_len(value), "length of {value}");
            assert_eq!(decode(&buf), Ok((value, buf.len())));
        }
    }

    #[test]
    fn known_encodings() {
        // From the protobuf encoding guide: 150 is 0x96 0x01, 300 is 0xac 0x02.
        let mut buf = Vec::new();
        encode(150, &mut buf);
        assert_eq!(buf, [0x96, 0x01]);
        assert_eq!(decode(&[0xac, 0x02]), Ok((300, 2)));
    }

    #[test]
    fn rejects_truncated_and_overlong() {
        assert_eq!(decode(&[0x80]), Err(VarintError::Truncated));
        assert_eq!(decode(&[]), Err(VarintError::Truncated));
        assert_eq!(decode(&[0xff; 11]), Err(VarintError::Overflow));
        assert_eq!(decode_multiformat(&[0xff; 10]), Err(VarintError::Overflow));
        assert_eq!(decode_multiformat(&[0x81, 0x00]), Err(VarintError::NotMinimal));
        assert_eq!(decode(&[0x81, 0x00]), Ok((1, 2)));
    }
}
