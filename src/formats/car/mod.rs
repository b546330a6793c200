//! CAR v1 archives: a streaming reader that verifies every block, the push
//! parser beneath it for streams that cannot block, and a writer that
//! produces the same bytes kubo and go-car do.
//!
//! A CARv1 file is a header (a varint length, then the DAG-CBOR map
//! `{"roots": [CID...], "version": 1}`) followed by sections, each a varint
//! length, the CID's bytes and the block's bytes. The decoder holds at most
//! one section in memory (the reader also the blocks of one 64 KiB read), so
//! a multi-gigabyte download costs no more than its largest block, and both
//! hand out only [`Block`](crate::formats::block::Block)s whose hash matched
//! their CID. Whether the blocks form a complete DAG is not its business:
//! callers walk the DAG and ask for what is missing. CARv2 (an index wrapped
//! around a CARv1 payload) is recognised and refused. The header is small
//! and kept canonical so that a CAR written here hashes the same as one from
//! kubo.
//!
//! The files: `header.rs` (the header and a section's prefix), `decoder.rs`
//! ([`CarDecoder`], the push parser), `reader.rs` ([`CarReader`], the
//! decoder fed from a [`std::io::Read`]) and `writer.rs` ([`CarWriter`]).
//! This file holds the limits and [`CarError`], which they share.

mod decoder;
mod header;
mod reader;
mod writer;

pub use decoder::CarDecoder;
pub use header::{encode_header, section_prefix};
pub use reader::CarReader;
pub use writer::CarWriter;

use std::io;

use thiserror::Error;

use super::block::{BlockError, MAX_BLOCK_SIZE};
use super::varint::VarintError;

/// The largest header accepted. Real headers hold a root or two and are under
/// a hundred bytes; the bound only stops a corrupt length from allocating.
pub const MAX_HEADER_SIZE: usize = 1024 * 1024;

/// The longest CID a section may start with: a 64-byte digest plus its four
/// varints (version, codec, hash code, digest length), rounded up.
pub const MAX_CID_SIZE: usize = 128;

/// The largest section accepted: one block of [`MAX_BLOCK_SIZE`] and its CID.
pub const MAX_SECTION_SIZE: usize = MAX_BLOCK_SIZE + MAX_CID_SIZE;

/// The longest multiformats varint (see
/// [`crate::formats::varint::decode_multiformat`]).
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

#[cfg(test)]
mod tests;
