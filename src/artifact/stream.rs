//! Unpacking an artifact as its bytes come, straight into the files of an
//! unpacked copy, in memory that does not grow with the artifact.
//!
//! [`super::pack::unpack`] holds the packed bytes and the archive they
//! decompress to, so an entry that signs gigabytes (a hostile publisher's
//! zstd bomb, or one enormous artifact) would cost gigabytes on every
//! core that files one. Here the UnixFS exporter hands the packed bytes,
//! leaf by leaf, through a channel of [`CHANNEL_DEPTH`] chunks to a thread
//! that decompresses them (with a window of at most 2^[`MAX_WINDOW_LOG`]
//! bytes) and reads the tar archive entry by entry, writing each file to
//! disk while hashing it. Memory per artifact is the channel, the zstd
//! window and a copy buffer: tens of MiB, whatever the sizes signed. The
//! checks are [`super::pack`]'s: one frame and nothing after it, its
//! checksum, a decompressed size within the limit, the metadata entry
//! first, bare unique names, regular files only, at most
//! [`MAX_FILES`] of them, and nothing but zeros
//! after the end of the archive.

use super::pack::{check_name, kind_name, parse_meta, Meta, PackError, MAX_FILES, META_NAME, ZSTD_MAGIC};
use super::read::export_artifact;
use super::unpacked::{Copy, FileInfo, Unpacked};
use crate::store::StoreError;
use anyhow::Context;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};

/// How many chunks of packed bytes may wait between the reader and the
/// unpacking thread (a leaf is at most 1 MiB, a block 2 MiB).
pub const CHANNEL_DEPTH: usize = 4;

/// The largest zstd window accepted, as a power of two (8 MiB). Packs are
/// written at [`ZSTD_LEVEL`](super::pack::ZSTD_LEVEL), whose window is at
/// most 2 MiB; a frame asking for more is not one of ours.
pub const MAX_WINDOW_LOG: u32 = 23;

/// The most bytes the metadata entry (rustc's output and the variables it
/// read) may hold.
pub const MAX_META: u64 = 64 << 20;

/// The sending half: what an exporter's sink calls with each chunk.
pub type Chunks = SyncSender<Vec<u8>>;

/// A channel for [`unpack_stream`]: the sender for the chunks, and the
/// reader over them.
pub fn channel() -> (Chunks, ChunkReader) {
    let (tx, rx) = std::sync::mpsc::sync_channel(CHANNEL_DEPTH);
    (tx, ChunkReader { rx, chunk: Vec::new(), pos: 0 })
}

/// Reads the chunks a [`Chunks`] sender sends, until it is dropped.
pub struct ChunkReader {
    rx: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(chunk) => (self.chunk, self.pos) = (chunk, 0),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Counts the bytes read through it, and keeps the first error of the
/// decompression under it (the tar reader above would report it as its own).
struct Counted<R> {
    inner: R,
    count: u64,
    failed: Option<String>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.count += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.failed.get_or_insert_with(|| e.to_string());
                Err(e)
            }
        }
    }
}

/// Decompresses the pack that `packed` reads and writes its files into
/// `out` (a new, empty directory), refusing it as [`super::pack::unpack`]
/// would, and refusing it once it decompresses to more than `limit` bytes.
/// Returns its metadata and, per file in archive order, what the unpacked
/// copy's manifest records.
pub fn unpack_stream(packed: impl Read, limit: u64, out: &Path) -> anyhow::Result<(Meta, Vec<FileInfo>)> {
    let mut packed = BufReader::new(packed);
    let mut magic = [0u8; 4];
    if packed.read_exact(&mut magic).is_err() || magic != ZSTD_MAGIC {
        return Err(PackError::NotZstd.into());
    }
    let corrupt = |e: std::io::Error| PackError::Corrupt { reason: e.to_string() };
    let mut decoder =
        zstd::stream::read::Decoder::with_buffer(BufReader::new(std::io::Cursor::new(magic).chain(packed)))
            .map_err(corrupt)?
            .single_frame();
    decoder.window_log_max(MAX_WINDOW_LOG).map_err(corrupt)?;
    let mut tar_bytes = Counted { inner: decoder.take(limit.saturating_add(1)), count: 0, failed: None };
    let entries = read_entries(&mut tar_bytes, out);
    // Cut off at the limit, the archive reads as truncated, and a frame
    // that fails reads as a malformed archive: say why.
    if tar_bytes.count > limit {
        return Err(PackError::TooLarge { limit }.into());
    }
    if let Some(reason) = tar_bytes.failed.take() {
        return Err(PackError::Corrupt { reason }.into());
    }
    let (meta, files, end) = entries?;
    // Nothing but the end-of-archive marker's zeros after the last entry.
    let mut rest = [0u8; 8192];
    loop {
        let n = tar_bytes.read(&mut rest).map_err(corrupt)?;
        if n == 0 {
            break;
        }
        if rest[..n].iter().any(|&b| b != 0) {
            return Err(PackError::Tar { reason: "data follows the end-of-archive marker".to_owned() }.into());
        }
    }
    if tar_bytes.count > limit {
        return Err(PackError::TooLarge { limit }.into());
    }
    if tar_bytes.count < end + 1024 {
        return Err(PackError::Tar { reason: "the archive ends without its end-of-archive marker".to_owned() }.into());
    }
    // The frame is whole (its checksum is checked as its end is read), and
    // nothing follows it.
    let mut after = tar_bytes.inner.into_inner().finish();
    let mut extra = 0usize;
    loop {
        let n = after.read(&mut rest).map_err(corrupt)?;
        if n == 0 {
            break;
        }
        extra += n;
    }
    if extra > 0 {
        return Err(PackError::TrailingData { extra }.into());
    }
    Ok((meta, files))
}

/// Reads the archive's entries, writing each file into `out`; returns the
/// metadata, the files, and where the last entry's padded data ends.
fn read_entries(tar_bytes: &mut impl Read, out: &Path) -> anyhow::Result<(Meta, Vec<FileInfo>, u64)> {
    let tar_err = |e: std::io::Error| PackError::Tar { reason: e.to_string() };
    let mut archive = tar::Archive::new(tar_bytes);
    let mut meta = None;
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    let mut end = 0u64;
    let mut buffer = vec![0u8; 1 << 16];
    for entry in archive.entries().map_err(tar_err)? {
        let mut entry = entry.map_err(tar_err)?;
        let name = match String::from_utf8(entry.path_bytes().into_owned()) {
            Ok(name) => name,
            Err(err) => {
                let name = String::from_utf8_lossy(err.as_bytes()).into_owned();
                return Err(PackError::BadName { name, reason: "it is not UTF-8" }.into());
            }
        };
        if meta.is_none() && name != META_NAME {
            return Err(PackError::MissingMeta.into());
        }
        if meta.is_some() {
            if files.len() == MAX_FILES {
                return Err(PackError::TooManyFiles.into());
            }
            if name == META_NAME || seen.contains(&name) {
                return Err(PackError::Duplicate { name }.into());
            }
            check_name(&name)?;
        }
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            return Err(PackError::NotRegular { name, kind: kind_name(kind) }.into());
        }
        let executable = entry.header().mode().map_err(tar_err)? & 0o111 != 0;
        let size = entry.size();
        end = entry.raw_file_position() + size.div_ceil(512) * 512;
        if meta.is_none() {
            if size > MAX_META {
                return Err(PackError::Tar { reason: format!("its metadata entry is {size} bytes") }.into());
            }
            let mut json = Vec::with_capacity(size as usize);
            (&mut entry).take(size).read_to_end(&mut json).map_err(tar_err)?;
            meta = Some(parse_meta(&json)?);
            continue;
        }
        let path = out.join(&name);
        // A full disk says so, with what to do.
        let mut file = std::fs::File::create(&path).map_err(|e| StoreError::io(&path, e))?;
        let mut hasher = Sha256::new();
        let mut written = 0u64;
        loop {
            let n = entry.read(&mut buffer).map_err(tar_err)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            file.write_all(&buffer[..n]).map_err(|e| StoreError::io(&path, e))?;
            written += n as u64;
        }
        if written != size {
            return Err(PackError::Truncated { name, expected: size, found: written }.into());
        }
        seen.insert(name.clone());
        files.push(FileInfo { name, executable, size, sha256: hex::encode(hasher.finalize()) });
    }
    let meta = meta.ok_or(PackError::MissingMeta)?;
    Ok((meta, files, end))
}

/// An artifact as its entry or cache map names it.
#[derive(Debug, Clone, Copy)]
pub struct Packed<'a> {
    /// Its CID.
    pub cid: &'a str,
    /// Its packed size.
    pub size: u64,
    /// The sha256 of its packed bytes.
    pub sha256: &'a str,
    /// The most bytes it may decompress to.
    pub unpacked_limit: u64,
}

/// Why an artifact was not unpacked: its bytes could not be read or are
/// not the ones named (worth reading again, verified), or what they hold
/// is refused (not worth it).
#[derive(Debug)]
pub enum Unfiled {
    /// Reading the blocks failed, or the whole is not the sha256 named.
    Bytes(anyhow::Error),
    /// The bytes are the ones named, and refused for what they hold.
    Content(anyhow::Error),
}

/// Makes the unpacked copy of `packed` from the blocks `get` reads: the
/// bytes streamed through their sha256 into [`unpack_stream`], the copy
/// renamed into place only when the whole matches `packed.sha256` and
/// `check` accepts its metadata and files.
pub fn stream_into_copy(
    unpacked: &Unpacked,
    packed: &Packed,
    get: &mut dyn FnMut(&cid::Cid) -> Result<Vec<u8>, StoreError>,
    check: &mut dyn FnMut(&Meta, &[FileInfo]) -> anyhow::Result<()>,
) -> Result<Copy, Unfiled> {
    let mut bytes_failed = false;
    let made = unpacked.put_with(packed.cid, |out| {
        let (chunks, reader) = channel();
        let limit = packed.unpacked_limit;
        let mut stopped = false;
        let (exported, digest, unpacking) = std::thread::scope(|s| {
            let unpacking = s.spawn(move || unpack_stream(reader, limit, out));
            let mut hasher = Sha256::new();
            let exported = export_artifact(packed.cid, packed.size, get, &mut |chunk| {
                hasher.update(chunk);
                // The unpacking stopped because it refused the pack: its
                // error says why; stop reading.
                chunks.send(chunk.to_vec()).map_err(|_| {
                    stopped = true;
                    StoreError::io(out, std::io::Error::other("unpacking stopped"))
                })
            });
            drop(chunks);
            (exported, hex::encode(hasher.finalize()), unpacking.join())
        });
        let unpacked = unpacking.unwrap_or_else(|_| Err(anyhow::anyhow!("the unpacking thread panicked")));
        if !stopped {
            bytes_failed = true;
            exported?;
            if digest != packed.sha256 {
                anyhow::bail!("artifact {} does not match the sha256 it is named by; refused", packed.cid);
            }
            bytes_failed = false;
        }
        let (meta, files) = unpacked.with_context(|| format!("cannot unpack artifact {}", packed.cid))?;
        check(&meta, &files)?;
        Ok((meta, files))
    });
    made.map_err(|e| if bytes_failed { Unfiled::Bytes(e) } else { Unfiled::Content(e) })
}

#[cfg(test)]
mod tests;
