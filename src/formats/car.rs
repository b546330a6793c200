//! CAR v1 archives: a streaming reader that verifies every block, and a
//! writer that produces the same bytes kubo and go-car do.
//!
//! A CARv1 file is a header (a varint length, then the DAG-CBOR map
//! `{"roots": [CID...], "version": 1}`) followed by sections, each a varint
//! length, the CID's bytes and the block's bytes. The reader holds at most one
//! section in memory, so a multi-gigabyte download costs no more than its
//! largest block, and it hands out only [`Block`]s whose hash matched their
//! CID. Whether the blocks form a complete DAG is not its business: callers
//! walk the DAG and ask for what is missing. CARv2 (an index wrapped around a
//! CARv1 payload) is recognised and refused. The header is small and kept
//! canonical so that a CAR written here hashes the same as one from kubo.

use std::io::{self, Read, Write};

use cid::Cid;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::block::{Block, BlockError, MAX_BLOCK_SIZE};
use super::varint::{self, VarintError};

/// The largest header accepted. Real headers hold a root or two and are under
/// a hundred bytes; the bound only stops a corrupt length from allocating.
pub const MAX_HEADER_SIZE: usize = 1024 * 1024;

/// The longest CID a section may start with: a 64-byte digest plus its four
/// varints (version, codec, hash code, digest length), rounded up.
pub const MAX_CID_SIZE: usize = 128;

/// The largest section accepted: one block of [`MAX_BLOCK_SIZE`] and its CID.
pub const MAX_SECTION_SIZE: usize = MAX_BLOCK_SIZE + MAX_CID_SIZE;

/// The longest multiformats varint (see [`varint::decode_multiformat`]).
const MAX_VARINT_LEN: usize = 9;

/// Why a CAR stream could not be read or written. Offsets count bytes from
/// the start of the stream.
#[derive(Debug, Error)]
pub enum CarError {
    /// The underlying reader or writer failed.
    #[error("I/O error at byte {offset} of the CAR stream: {source}")]
    Io {
        /// Bytes read or written before the failure.
        offset: u64,
        /// The error from the reader or writer.
        #[source]
        source: io::Error,
    },
    /// The input ended inside the header or a section.
    #[error("the CAR file is truncated at byte {offset}: it was cut off, for example during download; fetch it again")]
    Truncated {
        /// Where the input ended.
        offset: u64,
    },
    /// The header is missing, is not DAG-CBOR or lacks its fields.
    #[error("the CAR header is malformed ({reason}); the input is not a CARv1 file or is corrupt")]
    BadHeader {
        /// What was wrong with it.
        reason: String,
    },
    /// The header's length is over [`MAX_HEADER_SIZE`].
    #[error("the CAR header claims {size} bytes, over the {MAX_HEADER_SIZE}-byte limit; the input is not a CARv1 file or is corrupt")]
    HeaderTooLarge {
        /// The length the header claimed.
        size: u64,
    },
    /// The header names a version other than 1.
    #[error(
        "the CAR file is version {version}, but only CARv1 is supported (CARv2 is not); export or request it as CARv1"
    )]
    UnsupportedVersion {
        /// The version in the header.
        version: u64,
    },
    /// A length prefix is not a valid multiformats varint.
    #[error("malformed length at byte {offset} of the CAR file: {source}")]
    BadVarint {
        /// Where the varint starts.
        offset: u64,
        /// What was wrong with it.
        #[source]
        source: VarintError,
    },
    /// A section claims more bytes than one block and its CID can take.
    #[error("the CAR section at byte {offset} claims {size} bytes, over the {MAX_SECTION_SIZE}-byte limit for a block and its CID; the file is corrupt")]
    SectionTooLarge {
        /// Where the section starts.
        offset: u64,
        /// The length it claimed.
        size: u64,
    },
    /// A section does not start with a CID.
    #[error("the CAR section at byte {offset} does not start with a valid CID ({reason}); the file is corrupt")]
    BadCid {
        /// Where the section starts.
        offset: u64,
        /// What was wrong with it.
        reason: String,
    },
    /// A block failed verification: its hash does not match its CID, the
    /// hash function is unsupported, or it is too large.
    #[error("the CAR section at byte {offset} holds a bad block: {source}")]
    Block {
        /// Where the section starts.
        offset: u64,
        /// Why the block was refused; it names the CID.
        #[source]
        source: BlockError,
    },
}

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

/// Reads a CARv1 stream one verified block at a time.
///
/// Varints are read a byte at a time, so wrap files and sockets in a
/// [`std::io::BufReader`]. After the end of the stream or an error, every
/// further call returns `Ok(None)`.
pub struct CarReader<R> {
    reader: R,
    roots: Vec<Cid>,
    offset: u64,
    done: bool,
}

impl<R: Read> CarReader<R> {
    /// Reads and checks the header.
    pub fn new(reader: R) -> Result<Self, CarError> {
        let mut car = CarReader { reader, roots: Vec::new(), offset: 0, done: false };
        let Some(len) = car.read_varint()? else {
            return Err(CarError::BadHeader { reason: "the input is empty".into() });
        };
        if len > MAX_HEADER_SIZE as u64 {
            return Err(CarError::HeaderTooLarge { size: len });
        }
        let bytes = car.read_exact(len as usize)?;
        let header: HeaderIn = serde_ipld_dagcbor::from_slice(&bytes)
            .map_err(|e| CarError::BadHeader { reason: format!("not a DAG-CBOR map of roots and version: {e}") })?;
        if header.version != 1 {
            return Err(CarError::UnsupportedVersion { version: header.version });
        }
        car.roots =
            header.roots.ok_or_else(|| CarError::BadHeader { reason: "the header has no `roots` field".into() })?;
        Ok(car)
    }

    /// The root CIDs named in the header.
    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// Reads the next section and verifies its block. Returns `Ok(None)`
    /// when the stream ends cleanly at a section boundary.
    pub fn next_block(&mut self) -> Result<Option<Block>, CarError> {
        if self.done {
            return Ok(None);
        }
        let result = self.read_section();
        if !matches!(result, Ok(Some(_))) {
            self.done = true;
        }
        result
    }

    fn read_section(&mut self) -> Result<Option<Block>, CarError> {
        let start = self.offset;
        let Some(len) = self.read_varint()? else {
            return Ok(None);
        };
        // Checked before anything is allocated, so a corrupt length cannot
        // make the reader reserve gigabytes.
        if len > MAX_SECTION_SIZE as u64 {
            return Err(CarError::SectionTooLarge { offset: start, size: len });
        }
        let mut bytes = self.read_exact(len as usize)?;
        let mut cursor = bytes.as_slice();
        let cid =
            Cid::read_bytes(&mut cursor).map_err(|e| CarError::BadCid { offset: start, reason: e.to_string() })?;
        let cid_len = bytes.len() - cursor.len();
        // Shifting the data down reuses the section's buffer instead of
        // copying the block into a second one.
        bytes.drain(..cid_len);
        Block::new(cid, bytes).map(Some).map_err(|source| CarError::Block { offset: start, source })
    }

    /// Reads one multiformats varint. `Ok(None)` means the input ended
    /// before its first byte; an end after that is a truncation.
    fn read_varint(&mut self) -> Result<Option<u64>, CarError> {
        let start = self.offset;
        let mut buf = [0u8; MAX_VARINT_LEN];
        let mut len = 0;
        while len < MAX_VARINT_LEN {
            match self.reader.read_exact(&mut buf[len..=len]) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return if len == 0 { Ok(None) } else { Err(CarError::Truncated { offset: self.offset }) };
                }
                Err(source) => return Err(CarError::Io { offset: self.offset, source }),
            }
            self.offset += 1;
            len += 1;
            if buf[len - 1] & 0x80 == 0 {
                break;
            }
        }
        // Nine bytes that all carry a continuation bit reach the decoder too,
        // which reports them as an overflow.
        let (value, _) =
            varint::decode_multiformat(&buf[..len]).map_err(|source| CarError::BadVarint { offset: start, source })?;
        Ok(Some(value))
    }

    /// Reads exactly `len` bytes, naming the offset where the input ended if
    /// it is shorter. The caller has already bounded `len`.
    fn read_exact(&mut self, len: usize) -> Result<Vec<u8>, CarError> {
        let mut bytes = Vec::with_capacity(len);
        let result = (&mut self.reader).take(len as u64).read_to_end(&mut bytes);
        // On error `read_to_end` keeps what it read, so the offset is exact.
        self.offset += bytes.len() as u64;
        if let Err(source) = result {
            return Err(CarError::Io { offset: self.offset, source });
        }
        if bytes.len() < len {
            return Err(CarError::Truncated { offset: self.offset });
        }
        Ok(bytes)
    }
}

impl<R: Read> Iterator for CarReader<R> {
    type Item = Result<Block, CarError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_block().transpose()
    }
}

/// Writes a CARv1 stream: the header on creation, then one section per block.
///
/// Each section is written with two `write_all` calls; wrap files and
/// sockets in a [`std::io::BufWriter`].
pub struct CarWriter<W: Write> {
    writer: W,
    offset: u64,
}

impl<W: Write> CarWriter<W> {
    /// Writes the header for `roots` and returns the writer.
    pub fn new(writer: W, roots: &[Cid]) -> Result<Self, CarError> {
        let mut car = CarWriter { writer, offset: 0 };
        car.write_all(&encode_header(roots))?;
        Ok(car)
    }

    /// Appends `block` as one section. Blocks over [`MAX_BLOCK_SIZE`] are
    /// refused, since no reader (this one included) would accept them.
    pub fn write_block(&mut self, block: &Block) -> Result<(), CarError> {
        let data = block.data();
        if data.len() > MAX_BLOCK_SIZE {
            let source = BlockError::TooLarge { cid: *block.cid(), size: data.len() };
            return Err(CarError::Block { offset: self.offset, source });
        }
        let cid = block.cid().to_bytes();
        let mut prefix = Vec::with_capacity(MAX_VARINT_LEN + cid.len());
        varint::encode((cid.len() + data.len()) as u64, &mut prefix);
        prefix.extend_from_slice(&cid);
        self.write_all(&prefix)?;
        self.write_all(data)
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> Result<W, CarError> {
        self.writer.flush().map_err(|source| CarError::Io { offset: self.offset, source })?;
        Ok(self.writer)
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), CarError> {
        self.writer.write_all(bytes).map_err(|source| CarError::Io { offset: self.offset, source })?;
        self.offset += bytes.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
