//! Artifacts: the outputs of one rustc run, packed into deterministic bytes.
//!
//! An artifact is a zstd frame holding a tar archive. The first tar entry is
//! [`META_NAME`], the JSON form of [`Meta`] (what a cache hit replays besides
//! the files: rustc's output, its exit status and the environment variables
//! the crate read); then one entry per output file, sorted by name. Artifacts
//! are addressed by their CID, so the same inputs must give the same bytes on
//! every machine and every run. Hence every header field that could carry
//! local state is fixed: GNU tar headers, regular files only, mtime 0, uid and
//! gid 0, empty user and group names, mode `0o644` or `0o755`, names longer
//! than the header's 100 bytes in a GNU long-name entry. The frame is
//! compressed in one call at level [`ZSTD_LEVEL`] with no worker threads,
//! the content size and a content checksum in the frame header, and no
//! dictionary id.
//!
//! The compressed bytes depend on the libzstd that compressed them (zstd
//! promises a stable format, not a stable compressor). `zstd-sys` builds the
//! libzstd bundled with it, pinned by `Cargo.lock`, so builds of one version
//! of this crate agree; a libzstd upgrade may change artifact bytes and must
//! be treated like a format change.
//!
//! [`unpack`] trusts nothing: the artifact may come from anyone. It bounds
//! the decompressed size (a small frame can expand to gigabytes), and refuses
//! what could do harm when restored or betrays corruption: entries other than
//! regular files, names that are not bare file names, duplicates, a missing
//! or malformed metadata entry or one of another format version, a truncated
//! frame or entry, bytes after the frame or after the tar's end marker. It
//! does not insist on canonical headers: the CID and the digest in the signed
//! index entry already pin the exact bytes.
//!
//! This module is pure: no file system, no processes, no clock.

use bytes::Bytes;
use std::collections::HashSet;
use std::io::Read;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// The version of the pack format (the tar layout, the metadata file, the
/// compression). Raised only when a pack's bytes change meaning; a pack of
/// another version is refused as unreadable, which costs a miss.
pub const PACK_VERSION: u32 = 1;

/// The name of the metadata entry, always the first in the archive.
pub const META_NAME: &str = ".cargo-ipfs-meta.json";

/// The zstd compression level of every artifact. Changing it changes every
/// artifact's bytes, and so needs a new [`PACK_VERSION`].
pub const ZSTD_LEVEL: i32 = 3;

/// The four bytes every zstd frame starts with (0xFD2FB528, little-endian).
pub(crate) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The longest file name accepted, in bytes: `NAME_MAX` on Linux and the
/// BSDs, and no real output comes near it.
pub const MAX_NAME_LEN: usize = 255;

/// The most files an artifact holds. A compilation writes at most one file
/// per crate type and emit kind (seven in all); a hit restores exactly
/// those, so a pack with more is refused before its entries are read.
pub const MAX_FILES: usize = 64;

/// The size of a tar block; entries are padded to it.
const BLOCK: u64 = 512;

/// One output file of a rustc run.
#[derive(Clone, PartialEq, Eq)]
pub struct PackedFile {
    /// A bare file name: no directories (see [`check_name`]).
    pub name: String,
    /// Whether the file is executable (mode `0o755` rather than `0o644`).
    pub executable: bool,
    /// The file's content; unpacked files share the decompressed archive.
    pub bytes: Bytes,
}

// Outputs run to megabytes; printing every byte in a failed assertion helps
// nobody.
impl std::fmt::Debug for PackedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedFile")
            .field("name", &self.name)
            .field("executable", &self.executable)
            .field("len", &self.bytes.len())
            .field("sha256", &file_digest(&self.bytes))
            .finish()
    }
}

/// What a cache hit replays besides the files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// rustc's standard output, with machine paths already normalized.
    pub stdout: String,
    /// rustc's standard error (its diagnostics), with machine paths already
    /// normalized.
    pub stderr: String,
    /// rustc's exit code.
    pub status: i32,
    /// The environment variables the crate read (rustc's dep-info `env-dep`
    /// lines), with the value each had, `None` for unset. Kept in the order
    /// given, which the caller must make deterministic.
    pub env_deps: Vec<(String, Option<String>)>,
    /// The artifact format; [`PACK_VERSION`] when written here.
    pub format: u32,
}

/// Why an artifact was refused. Entry names are printed escaped, since they
/// come from untrusted bytes.
#[derive(Debug, Error)]
pub enum PackError {
    /// The bytes do not start with the zstd magic number.
    #[error("the artifact is not a zstd frame; it is corrupt or not an artifact")]
    NotZstd,
    /// The zstd frame is malformed, truncated or fails its checksum.
    #[error("the artifact's zstd frame is corrupt or truncated ({reason}); fetch it again")]
    Corrupt {
        /// What zstd reported.
        reason: String,
    },
    /// Bytes follow the zstd frame.
    #[error("the artifact has {extra} bytes after its zstd frame; it is corrupt")]
    TrailingData {
        /// How many bytes follow the frame.
        extra: usize,
    },
    /// The artifact decompresses to more than the caller allowed.
    #[error("the artifact decompresses to more than {limit} bytes; refusing it (raise the limit if it is genuine)")]
    TooLarge {
        /// The caller's bound on the decompressed size.
        limit: u64,
    },
    /// The archive holds more files than [`MAX_FILES`] (a build-script run's
    /// pack: than its own bound).
    #[error("the artifact holds more files than its kind ever has, so it is refused")]
    TooManyFiles,
    /// The tar archive inside is malformed.
    #[error("the artifact's tar archive is malformed: {reason}")]
    Tar {
        /// What was wrong.
        reason: String,
    },
    /// An entry is a link, a directory, a device or anything else that is not
    /// a regular file.
    #[error("entry {name:?} of the artifact is a {kind}, not a regular file")]
    NotRegular {
        /// The entry's name.
        name: String,
        /// What kind of entry it is.
        kind: String,
    },
    /// An entry's name is not a bare file name.
    #[error("entry name {name:?} is not a bare file name: {reason}")]
    BadName {
        /// The name (lossily decoded if it was not UTF-8).
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two entries have the same name.
    #[error("entry {name:?} appears twice in the artifact")]
    Duplicate {
        /// The repeated name.
        name: String,
    },
    /// An entry's data ends before the size its header gives.
    #[error(
        "entry {name:?} of the artifact is truncated: its header says {expected} bytes, the archive holds {found}"
    )]
    Truncated {
        /// The entry's name.
        name: String,
        /// The size in the header.
        expected: u64,
        /// The bytes present.
        found: u64,
    },
    /// The first entry is not the metadata entry.
    #[error("the artifact does not start with a {META_NAME:?} entry; it was not written by cargo-ipfs")]
    MissingMeta,
    /// The metadata entry is not a valid [`Meta`].
    #[error("entry {META_NAME:?} of the artifact is malformed: {source}")]
    BadMeta {
        /// What the JSON parser reported.
        #[source]
        source: serde_json::Error,
    },
    /// The artifact was written in another format version.
    #[error("the artifact is in format version {found}, but this cargo-ipfs reads version {expected}; it is a miss")]
    FormatVersion {
        /// The version in the artifact.
        found: u32,
        /// [`PACK_VERSION`].
        expected: u32,
    },
}

/// The sha256 of `bytes`, as 64 lower-case hex digits.
pub fn file_digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks that `name` can be an output file's name in an artifact: a
/// non-empty bare file name of at most [`MAX_NAME_LEN`] bytes with no
/// separator, no NUL, not `.` or `..`, and not [`META_NAME`]. Callers packing names from outside use it to filter
/// them first, since [`pack`] panics on a bad name.
pub fn check_name(name: &str) -> Result<(), PackError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name == "." || name == ".." {
        "it names a directory"
    } else if name.contains(['/', '\\']) {
        "it contains a path separator"
    } else if name.len() > MAX_NAME_LEN {
        "it is longer than 255 bytes"
    } else if name.contains('\0') {
        "it contains a NUL byte"
    } else if name == META_NAME {
        "it is reserved for the metadata entry"
    } else {
        return Ok(());
    };
    Err(PackError::BadName { name: name.to_owned(), reason })
}

/// Packs `meta` and `files` into an artifact. The order of `files` does not
/// matter: the same set always gives the same bytes.
///
/// # Panics
///
/// If a name fails [`check_name`] or two files share a name. Output names
/// come from one directory listing, so neither happens unless the caller has
/// a bug; an archive that [`unpack`] would refuse must never be published.
pub fn pack(meta: &Meta, files: &[PackedFile]) -> Vec<u8> {
    let mut sorted: Vec<&PackedFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for file in &sorted {
        if let Err(err) = check_name(&file.name) {
            panic!("pack: {err}");
        }
    }
    if let Some(pair) = sorted.windows(2).find(|pair| pair[0].name == pair[1].name) {
        panic!("pack: the file name {:?} is given twice", pair[0].name);
    }

    let json = serde_json::to_vec_pretty(meta).expect("a Meta always serializes to JSON");
    let mut builder = tar::Builder::new(Vec::new());
    append(&mut builder, META_NAME, false, &json);
    for file in sorted {
        append(&mut builder, &file.name, file.executable, &file.bytes);
    }
    let tar = builder.into_inner().expect("writing to a Vec cannot fail");
    compress(&tar)
}

/// Appends one regular file with a header that holds nothing but its name,
/// size and executable bit.
pub(super) fn append(builder: &mut tar::Builder<Vec<u8>>, name: &str, executable: bool, bytes: &[u8]) {
    // A zeroed GNU header: empty user and group names, device numbers 0.
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(if executable { 0o755 } else { 0o644 });
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_size(bytes.len() as u64);
    // Sets the name (in a GNU long-name entry first if it is too long for the
    // header, itself with fixed fields) and the checksum.
    builder.append_data(&mut header, name, bytes).expect("checked names fit a tar header and a Vec accepts any write");
}

/// Compresses `tar` into one zstd frame with every parameter that shapes the
/// output fixed.
pub(super) fn compress(tar: &[u8]) -> Vec<u8> {
    use zstd::zstd_safe::CParameter;
    let mut compressor = zstd::bulk::Compressor::new(ZSTD_LEVEL).expect("zstd accepts level 3");
    // Worker threads would change the output, as would a dictionary id.
    for param in [
        CParameter::NbWorkers(0),
        CParameter::ContentSizeFlag(true),
        CParameter::ChecksumFlag(true),
        CParameter::DictIdFlag(false),
    ] {
        compressor.set_parameter(param).expect("zstd accepts the fixed parameters");
    }
    compressor.compress(tar).expect("compressing into a buffer of the compress bound cannot fail")
}

/// The size of the archive a pack decompresses to, as its frame header
/// declares it (every pack [`pack`] writes does); what an index entry signs
/// as its `unpacked_size`. `None` for bytes that are not a frame declaring
/// its size.
pub fn unpacked_size(packed: &[u8]) -> Option<u64> {
    if !packed.starts_with(&ZSTD_MAGIC) {
        return None;
    }
    zstd::zstd_safe::get_frame_content_size(packed).ok().flatten()
}

/// Unpacks an artifact, refusing it if it decompresses to more than `limit`
/// bytes or is anything [`pack`] would not have written that could do harm
/// (see the module docs). Files come back in archive order, which for an
/// artifact from [`pack`] is sorted by name. Memory peaks at about
/// `limit`: the decompressed tar, which the files are slices of.
pub fn unpack(bytes: &[u8], limit: u64) -> Result<(Meta, Vec<PackedFile>), PackError> {
    let tar = decompress(bytes, limit)?;
    read_tar(Bytes::from(tar))
}

/// Decompresses exactly one zstd frame of at most `limit` bytes.
pub(super) fn decompress(bytes: &[u8], limit: u64) -> Result<Vec<u8>, PackError> {
    use zstd::zstd_safe;
    if !bytes.starts_with(&ZSTD_MAGIC) {
        return Err(PackError::NotZstd);
    }
    let corrupt = |reason: String| PackError::Corrupt { reason };
    // Walks the block headers without decompressing: a truncated frame fails
    // here, and a second frame or garbage after this one shows as a shorter
    // length.
    let frame_len = zstd_safe::find_frame_compressed_size(bytes)
        .map_err(|code| corrupt(zstd_safe::get_error_name(code).to_owned()))?;
    if frame_len != bytes.len() {
        return Err(PackError::TrailingData { extra: bytes.len() - frame_len });
    }
    // The size in the frame header is the attacker's word, so it only serves
    // to refuse early and to allocate once; the bounded read enforces the
    // limit.
    let declared = zstd_safe::get_frame_content_size(bytes).map_err(|_| corrupt("bad frame header".to_owned()))?;
    if let Some(size) = declared {
        if size > limit {
            return Err(PackError::TooLarge { limit });
        }
        let capacity = usize::try_from(size).map_err(|_| PackError::TooLarge { limit })?;
        // In one call, straight into a buffer of the declared size, which the
        // frame cannot write past and must fill.
        let out = zstd::bulk::decompress(bytes, capacity).map_err(|e| corrupt(e.to_string()))?;
        if out.len() as u64 != size {
            return Err(corrupt(format!("it holds {} bytes, not the {size} its header declares", out.len())));
        }
        return Ok(out);
    }
    let mut out = Vec::new();
    // The decoder refuses windows over 128 MiB (zstd's default), which
    // bounds its own memory whatever the frame asks for.
    let decoder = zstd::stream::read::Decoder::with_buffer(bytes).map_err(|e| corrupt(e.to_string()))?.single_frame();
    decoder.take(limit.saturating_add(1)).read_to_end(&mut out).map_err(|e| corrupt(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(PackError::TooLarge { limit });
    }
    Ok(out)
}

/// Reads the tar archive of an artifact.
fn read_tar(tar: Bytes) -> Result<(Meta, Vec<PackedFile>), PackError> {
    let (json, files) = read_entries(tar, MAX_FILES, check_name)?;
    Ok((parse_meta(&json)?, files))
}

/// Reads the entries of an archive whose first entry is [`META_NAME`]:
/// that entry's bytes, then at most `max_files` regular files whose names
/// pass `check` (the run pack's names are relative paths).
pub(super) fn read_entries(
    tar: Bytes,
    max_files: usize,
    check: fn(&str) -> Result<(), PackError>,
) -> Result<(Bytes, Vec<PackedFile>), PackError> {
    let tar_err = |e: std::io::Error| PackError::Tar { reason: e.to_string() };
    // Seeking past each entry's data rather than reading it: the files are
    // slices of `tar`, not copies.
    let mut archive = tar::Archive::new(std::io::Cursor::new(&tar[..]));
    let mut meta = None;
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    // Where the last entry's padded data ends.
    let mut end = 0;
    for entry in archive.entries_with_seek().map_err(tar_err)? {
        let entry = entry.map_err(tar_err)?;
        let name = match String::from_utf8(entry.path_bytes().into_owned()) {
            Ok(name) => name,
            Err(err) => {
                let name = String::from_utf8_lossy(err.as_bytes()).into_owned();
                return Err(PackError::BadName { name, reason: "it is not UTF-8" });
            }
        };
        if meta.is_none() && name != META_NAME {
            return Err(PackError::MissingMeta);
        }
        if meta.is_some() {
            if files.len() == max_files {
                return Err(PackError::TooManyFiles);
            }
            if name == META_NAME || seen.contains(&name) {
                return Err(PackError::Duplicate { name });
            }
            check(&name)?;
        }
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            return Err(PackError::NotRegular { name, kind: kind_name(kind) });
        }
        let executable = entry.header().mode().map_err(tar_err)? & 0o111 != 0;
        let size = entry.size();
        let start = entry.raw_file_position();
        // What the header claims is checked against what the archive holds.
        let there = (tar.len() as u64).saturating_sub(start);
        if there < size {
            return Err(PackError::Truncated { name, expected: size, found: there });
        }
        let bytes = tar.slice(start as usize..(start + size) as usize);
        end = start + size.div_ceil(BLOCK) * BLOCK;
        if meta.is_none() {
            meta = Some(bytes);
        } else {
            seen.insert(name.clone());
            files.push(PackedFile { name, executable, bytes });
        }
    }
    let meta = meta.ok_or(PackError::MissingMeta)?;
    // The tar reader stops at the first zero block; anything but the two zero
    // blocks of the end marker after the last entry is hidden data.
    let tail = usize::try_from(end).ok().and_then(|end| tar.get(end..)).unwrap_or_default();
    if tail.len() < 2 * BLOCK as usize {
        return Err(PackError::Tar { reason: "the archive ends without its end-of-archive marker".to_owned() });
    }
    if tail.iter().any(|&b| b != 0) {
        return Err(PackError::Tar { reason: "data follows the end-of-archive marker".to_owned() });
    }
    Ok((meta, files))
}

/// Parses the metadata entry, checking its format version before its fields
/// so that an artifact from another version says so rather than naming a
/// field it does not know.
pub(crate) fn parse_meta(json: &[u8]) -> Result<Meta, PackError> {
    #[derive(Deserialize)]
    struct Version {
        format: u32,
    }
    let bad = |source| PackError::BadMeta { source };
    let Version { format } = serde_json::from_slice(json).map_err(bad)?;
    if format != PACK_VERSION {
        return Err(PackError::FormatVersion { found: format, expected: PACK_VERSION });
    }
    serde_json::from_slice(json).map_err(bad)
}

/// A word for an entry type, for messages.
pub(crate) fn kind_name(kind: tar::EntryType) -> String {
    use tar::EntryType as T;
    let word = match kind {
        T::Link => "hard link",
        T::Symlink => "symbolic link",
        T::Directory => "directory",
        T::Char => "character device",
        T::Block => "block device",
        T::Fifo => "fifo",
        T::Continuous => "contiguous file",
        T::GNUSparse => "sparse file",
        other => return format!("entry of type {:?}", char::from(other.as_byte())),
    };
    word.to_owned()
}

#[cfg(test)]
mod tests;
