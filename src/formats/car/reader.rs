//! [`CarReader`]: a [`CarDecoder`] fed from a blocking reader.

use std::io::{self, Read};

use cid::Cid;

use super::{CarDecoder, CarError};
use crate::formats::block::Block;

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
