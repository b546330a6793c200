//! [`CarWriter`]: a CARv1 stream as kubo and go-car write it.

use std::io::Write;

use cid::Cid;

use super::{encode_header, section_prefix, CarError};
use crate::formats::block::{Block, BlockError, MAX_BLOCK_SIZE};

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
