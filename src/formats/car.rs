//! CAR v1 archives: a streaming reader that verifies every block, the push
//! parser beneath it for streams that cannot block, and a writer that
//! produces the same bytes kubo and go-car do.
//!
//! A CARv1 file is a header (a varint length, then the DAG-CBOR map
//! `{"roots": [CID...], "version": 1}`) followed by sections, each a varint
//! length, the CID's bytes and the block's bytes. The decoder holds at most
//! one section in memory (the reader also the blocks of one 64 KiB read), so
//! a multi-gigabyte download costs no more than its largest block, and both
//! hand out only [`Block`]s whose hash matched their CID. Whether the blocks
//! form a complete DAG is not its business: callers walk the DAG and ask for
//! what is missing. CARv2 (an index wrapped around a CARv1 payload) is
//! recognised and refused. The header is small and kept canonical so that a
//! CAR written here hashes the same as one from kubo.

use std::io::{self, Read, Write};

use bytes::Bytes;
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

/// Blocks at least this large, fed through [`CarDecoder::feed_shared`], are
/// kept in the pieces they arrived in rather than copied into one buffer.
const PIECES_FROM: usize = 128 * 1024;

/// Of such a block, input at least this long is kept as a slice; shorter
/// input is copied together with its neighbours, so that a stream of tiny
/// chunks cannot split a block into millions of pieces (at most 2 MiB /
/// 16 KiB slices, with the copied runs between them).
const SLICE_FROM: usize = 16 * 1024;

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

/// What comes before a block's bytes in its section: the section's length
/// and the CID. For writers that send the bytes themselves without a copy.
pub fn section_prefix(cid: &Cid, data_len: usize) -> Vec<u8> {
    let cid = cid.to_bytes();
    let mut prefix = Vec::with_capacity(MAX_VARINT_LEN + cid.len());
    varint::encode((cid.len() + data_len) as u64, &mut prefix);
    prefix.extend_from_slice(&cid);
    prefix
}

/// What a [`CarDecoder`] waits for next.
#[derive(Debug)]
enum State {
    /// The header's length (a varint, collected in `stage`).
    HeaderLen,
    /// The header's bytes.
    Header(usize),
    /// A section's length.
    SectionLen,
    /// The first bytes of a section of the given length, enough for its CID.
    Cid(usize),
    /// The rest of a block's bytes.
    Data { cid: Cid, remaining: usize },
    /// An error was returned; nothing more is read.
    Failed,
}

/// A CARv1 parser fed bytes as they arrive, for streams that cannot block
/// (an HTTP body on an async runtime): [`CarDecoder::feed`] takes whatever
/// arrived and hands on every block completed by it, verified.
///
/// Each block's bytes are copied once, from the input into a buffer of
/// exactly the block's size, allocated when its section's length has been
/// checked against [`MAX_SECTION_SIZE`]; nothing else of the input is kept
/// but the few bytes of a length or CID cut in two. Input handed over as
/// [`Bytes`] ([`CarDecoder::feed_shared`]) is not copied for a large block:
/// the block keeps slices of it (see [`Block::from_pieces`]).
#[derive(Debug)]
pub struct CarDecoder {
    state: State,
    /// A varint, the header, or a section's CID cut across inputs.
    stage: Vec<u8>,
    /// The block being filled.
    data: Vec<u8>,
    /// Or, for a large block fed as [`Bytes`], its pieces so far.
    pieces: Option<Pieces>,
    roots: Option<Vec<Cid>>,
    /// Bytes consumed.
    offset: u64,
    /// Where the section (or header) being read starts.
    start: u64,
}

impl Default for CarDecoder {
    fn default() -> Self {
        CarDecoder::new()
    }
}

impl CarDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        CarDecoder {
            state: State::HeaderLen,
            stage: Vec::new(),
            data: Vec::new(),
            pieces: None,
            roots: None,
            offset: 0,
            start: 0,
        }
    }

    /// The header's roots, once the header has been read.
    pub fn roots(&self) -> Option<&[Cid]> {
        self.roots.as_deref()
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Consumes `input`, handing each block it completes to `emit` after
    /// verifying it. After an error every further call does nothing.
    pub fn feed(&mut self, mut input: &[u8], emit: &mut dyn FnMut(Block)) -> Result<(), CarError> {
        let result = self.consume(&mut input, None, emit);
        self.end_feed(result)
    }

    /// [`CarDecoder::feed`] for input the decoder may keep: a large block
    /// is held as slices of it, hashed and handed on without a copy.
    pub fn feed_shared(&mut self, input: Bytes, emit: &mut dyn FnMut(Block)) -> Result<(), CarError> {
        let result = self.consume(&mut &input[..], Some(&input), emit);
        self.end_feed(result)
    }

    fn end_feed(&mut self, result: Result<(), CarError>) -> Result<(), CarError> {
        if result.is_err() {
            self.state = State::Failed;
            self.stage = Vec::new();
            self.data = Vec::new();
            self.pieces = None;
        }
        result
    }

    /// The input ended: fine at a section boundary after the header, a
    /// truncation anywhere else. After an error from [`CarDecoder::feed`]
    /// it adds nothing (`Ok`): that error is the stream's verdict.
    pub fn finish(&self) -> Result<(), CarError> {
        match self.state {
            State::SectionLen if self.stage.is_empty() => Ok(()),
            State::HeaderLen if self.offset == 0 => Err(CarError::BadHeader { reason: "the input is empty".into() }),
            State::Failed => Ok(()),
            _ => Err(CarError::Truncated { offset: self.offset }),
        }
    }

    /// Decodes `input`, which is the tail of `owner` when there is one.
    fn consume(
        &mut self,
        input: &mut &[u8],
        owner: Option<&Bytes>,
        emit: &mut dyn FnMut(Block),
    ) -> Result<(), CarError> {
        loop {
            match &mut self.state {
                State::Failed => return Ok(()),
                State::HeaderLen | State::SectionLen => {
                    let Some((&byte, rest)) = input.split_first() else { return Ok(()) };
                    *input = rest;
                    if self.stage.is_empty() {
                        self.start = self.offset;
                    }
                    self.stage.push(byte);
                    self.offset += 1;
                    // Nine bytes that all carry a continuation bit reach the
                    // decoder too, which reports them as an overflow.
                    if byte & 0x80 != 0 && self.stage.len() < MAX_VARINT_LEN {
                        continue;
                    }
                    let (len, _) = varint::decode_multiformat(&self.stage)
                        .map_err(|source| CarError::BadVarint { offset: self.start, source })?;
                    self.stage.clear();
                    // Lengths are checked before anything is allocated, so a
                    // corrupt one cannot make the decoder reserve gigabytes.
                    self.state = if matches!(self.state, State::HeaderLen) {
                        if len > MAX_HEADER_SIZE as u64 {
                            return Err(CarError::HeaderTooLarge { size: len });
                        }
                        State::Header(len as usize)
                    } else {
                        if len > MAX_SECTION_SIZE as u64 {
                            return Err(CarError::SectionTooLarge { offset: self.start, size: len });
                        }
                        State::Cid(len as usize)
                    };
                }
                State::Header(len) => {
                    let len = *len;
                    if !self.fill(input, len) {
                        return Ok(());
                    }
                    self.roots = Some(parse_header(&self.stage)?);
                    self.stage.clear();
                    self.state = State::SectionLen;
                }
                State::Cid(len) => {
                    let len = *len;
                    if !self.fill(input, len.min(MAX_CID_SIZE)) {
                        return Ok(());
                    }
                    let mut cursor = self.stage.as_slice();
                    let cid = Cid::read_bytes(&mut cursor)
                        .map_err(|e| CarError::BadCid { offset: self.start, reason: e.to_string() })?;
                    let cid_len = self.stage.len() - cursor.len();
                    let size = len - cid_len;
                    if owner.is_some() && size >= PIECES_FROM {
                        let mut pieces = Pieces::default();
                        pieces.copy(cursor);
                        self.pieces = Some(pieces);
                    } else {
                        self.data = Vec::with_capacity(size);
                        self.data.extend_from_slice(cursor);
                    }
                    self.state = State::Data { cid, remaining: size - cursor.len() };
                    self.stage.clear();
                }
                State::Data { cid, remaining } => {
                    let take = (*remaining).min(input.len());
                    match (&mut self.pieces, owner) {
                        (Some(pieces), Some(owner)) if take >= SLICE_FROM => {
                            let at = owner.len() - input.len();
                            pieces.slice(owner.slice(at..at + take));
                        }
                        (Some(pieces), _) => pieces.copy(&input[..take]),
                        (None, _) => self.data.extend_from_slice(&input[..take]),
                    }
                    *input = &input[take..];
                    self.offset += take as u64;
                    *remaining -= take;
                    if *remaining > 0 {
                        return Ok(());
                    }
                    let cid = *cid;
                    let block = match self.pieces.take() {
                        Some(pieces) => Block::from_pieces(cid, pieces.finish()),
                        None => Block::new(cid, std::mem::take(&mut self.data)),
                    }
                    .map_err(|source| CarError::Block { offset: self.start, source })?;
                    self.state = State::SectionLen;
                    emit(block);
                }
            }
        }
    }

    /// Moves input into `stage` until it holds `want` bytes; whether it does.
    fn fill(&mut self, input: &mut &[u8], want: usize) -> bool {
        let take = want.saturating_sub(self.stage.len()).min(input.len());
        self.stage.extend_from_slice(&input[..take]);
        *input = &input[take..];
        self.offset += take as u64;
        self.stage.len() == want
    }
}

/// A large block's bytes as they arrive: slices of the input, and the
/// input too short to slice copied together between them.
#[derive(Debug, Default)]
struct Pieces {
    done: Vec<Bytes>,
    copied: Vec<u8>,
}

impl Pieces {
    fn slice(&mut self, piece: Bytes) {
        self.end_copied();
        self.done.push(piece);
    }

    fn copy(&mut self, bytes: &[u8]) {
        self.copied.extend_from_slice(bytes);
    }

    fn end_copied(&mut self) {
        if !self.copied.is_empty() {
            self.done.push(Bytes::from(std::mem::take(&mut self.copied)));
        }
    }

    fn finish(mut self) -> Vec<Bytes> {
        self.end_copied();
        self.done
    }
}

/// Decodes a header's DAG-CBOR map into its roots.
fn parse_header(bytes: &[u8]) -> Result<Vec<Cid>, CarError> {
    let header: HeaderIn = serde_ipld_dagcbor::from_slice(bytes)
        .map_err(|e| CarError::BadHeader { reason: format!("not a DAG-CBOR map of roots and version: {e}") })?;
    if header.version != 1 {
        return Err(CarError::UnsupportedVersion { version: header.version });
    }
    header.roots.ok_or_else(|| CarError::BadHeader { reason: "the header has no `roots` field".into() })
}

/// Reads a CARv1 stream one verified block at a time: a [`CarDecoder`] fed
/// from a reader. It reads ahead in chunks of 64 KiB, so it needs no
/// buffering reader and may read past the CAR's end.
pub struct CarReader<R> {
    reader: R,
    decoder: CarDecoder,
    ready: std::collections::VecDeque<Block>,
    /// An error found after the blocks in `ready`, returned after them.
    error: Option<CarError>,
    buf: Box<[u8]>,
    done: bool,
}

impl<R: Read> CarReader<R> {
    /// Reads and checks the header.
    pub fn new(reader: R) -> Result<Self, CarError> {
        let mut car = CarReader {
            reader,
            decoder: CarDecoder::new(),
            ready: Default::default(),
            error: None,
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            done: false,
        };
        while car.decoder.roots().is_none() {
            if let Some(e) = car.error.take() {
                return Err(e);
            }
            if !car.read_more()? {
                car.decoder.finish()?;
                return Err(CarError::Truncated { offset: car.decoder.offset() });
            }
        }
        Ok(car)
    }

    /// The root CIDs named in the header.
    pub fn roots(&self) -> &[Cid] {
        self.decoder.roots().unwrap_or_default()
    }

    /// Reads the next section and verifies its block. Returns `Ok(None)`
    /// when the stream ends cleanly at a section boundary.
    pub fn next_block(&mut self) -> Result<Option<Block>, CarError> {
        let result = self.read_section();
        if !matches!(result, Ok(Some(_))) {
            self.done = true;
        }
        result
    }

    fn read_section(&mut self) -> Result<Option<Block>, CarError> {
        loop {
            if let Some(block) = self.ready.pop_front() {
                return Ok(Some(block));
            }
            if let Some(e) = self.error.take() {
                return Err(e);
            }
            if self.done {
                return Ok(None);
            }
            if !self.read_more()? {
                self.decoder.finish()?;
                return Ok(None);
            }
        }
    }

    /// Feeds the decoder one read; false at the end of the input.
    fn read_more(&mut self) -> Result<bool, CarError> {
        let n = loop {
            match self.reader.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(CarError::Io { offset: self.decoder.offset(), source }),
            }
        };
        if n == 0 {
            return Ok(false);
        }
        let ready = &mut self.ready;
        self.error = self.decoder.feed(&self.buf[..n], &mut |block| ready.push_back(block)).err();
        Ok(true)
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
        self.write_all(&section_prefix(block.cid(), data.len()))?;
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
