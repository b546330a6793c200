//! The body of a streamed HTTP request or response, written by a blocking
//! thread in chunks.

use super::POOL;
use axum::body::Bytes;
use std::io::{self, Write};
use tokio::sync::mpsc;

/// A writer, for a blocking thread, that collects what it is given and sends
/// it on a bounded channel in chunks of about `chunk` bytes: the body of a
/// streamed request or response, which an async task drains. A send waits
/// while the channel is full; once the receiver is gone, writes fail with
/// `closed` (as [`io::ErrorKind::BrokenPipe`]).
pub struct ChunkWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
    chunk: usize,
    closed: &'static str,
}

impl ChunkWriter {
    /// A writer into `tx`.
    pub fn new(tx: mpsc::Sender<io::Result<Bytes>>, chunk: usize, closed: &'static str) -> Self {
        ChunkWriter { tx, buf: Vec::with_capacity(chunk), chunk, closed }
    }

    /// Sends `bytes` on: a large block as its own chunk, after what was
    /// collected before it, without a copy (its buffer comes back to the
    /// pool once sent); a small one collected.
    pub fn send(&mut self, bytes: Vec<u8>) -> io::Result<()> {
        if bytes.len() < self.chunk / 2 {
            return self.write_all(&bytes);
        }
        self.flush()?;
        self.send_chunk(POOL.chunk(bytes))
    }

    fn send_chunk(&mut self, chunk: Bytes) -> io::Result<()> {
        self.tx.blocking_send(Ok(chunk)).map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, self.closed))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= self.chunk {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(self.chunk)));
        self.send_chunk(chunk)
    }
}
