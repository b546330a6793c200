//! [`CarDecoder`]: the push parser, fed bytes as they arrive.

use bytes::Bytes;
use cid::Cid;

use super::header::parse_header;
use super::{CarError, MAX_CID_SIZE, MAX_HEADER_SIZE, MAX_SECTION_SIZE, MAX_VARINT_LEN};
use crate::formats::block::Block;
use crate::formats::varint;

/// Blocks at least this large, fed through [`CarDecoder::feed_shared`], are
/// kept in the pieces they arrived in rather than copied into one buffer.
const PIECES_FROM: usize = 128 * 1024;

/// Of such a block, input at least this long is kept as a slice; shorter
/// input is copied together with its neighbours, so that a stream of tiny
/// chunks cannot split a block into millions of pieces (at most 2 MiB /
/// 16 KiB slices, with the copied runs between them).
const SLICE_FROM: usize = 16 * 1024;

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
