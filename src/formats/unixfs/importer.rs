//! The UnixFS file importer: fixed-size chunks, kubo's balanced layout.
//!
//! Bytes are pushed in as they arrive and blocks come out through a callback
//! as soon as they are complete, so memory holds one chunk plus one pending
//! link list per tree level, whatever the file size.
//!
//! The balanced layout fills a node with `max_links` children before it
//! starts the next one; all leaves sit at the same depth. Building it bottom
//! up (a full level becomes a node one level higher; at the end each partial
//! level is closed upwards) gives exactly the trees go-unixfs builds top down,
//! including the lone-leaf chains of a file with `max_links^k + 1` chunks.

use super::data::{DataType, UnixFsData};
use crate::formats::block::{Block, DAG_PB, RAW};
use crate::formats::dagpb::{PbLink, PbNode};
use cid::Cid;
use thiserror::Error;

/// The largest chunk kubo accepts (`chunker size-N`); blocks stay under the
/// 2 MiB transfer limit with room for framing.
pub const MAX_CHUNK_SIZE: usize = 1024 * 1024;

/// How a file becomes blocks. Two parameter sets are named profiles from
/// IPIP-499: [`ImportParams::UNIXFS_V0_2015`] (kubo's default) and
/// [`ImportParams::UNIXFS_V1_2025`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportParams {
    /// CID version of dag-pb nodes (0 or 1).
    pub cid_version: u8,
    /// Whether leaves are raw blocks (CIDv1 `raw`) instead of dag-pb nodes.
    pub raw_leaves: bool,
    /// Bytes per leaf.
    pub chunk_size: usize,
    /// Children per internal node.
    pub max_links: usize,
}

/// Why import parameters were refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ParamsError {
    /// The CID version is not 0 or 1.
    #[error("CID version {0} is not supported; use 0 or 1")]
    CidVersion(u8),
    /// The chunk size is zero or too large.
    #[error("chunk size {0} is out of range; use 1 to {MAX_CHUNK_SIZE} bytes")]
    ChunkSize(usize),
    /// Fewer than two links per node cannot make a tree.
    #[error("max links {0} is out of range; use 2 to 8192")]
    MaxLinks(usize),
    /// An unknown profile or chunker name.
    #[error("unknown {what} `{name}`; {hint}")]
    Unknown {
        /// What kind of name.
        what: &'static str,
        /// The name given.
        name: String,
        /// The names that exist.
        hint: &'static str,
    },
}

impl ImportParams {
    /// IPIP-499 `unixfs-v0-2015`: kubo's default import.
    pub const UNIXFS_V0_2015: ImportParams =
        ImportParams { cid_version: 0, raw_leaves: false, chunk_size: 262_144, max_links: 174 };
    /// IPIP-499 `unixfs-v1-2025`: CIDv1, raw leaves, 1 MiB chunks, 1024 links.
    pub const UNIXFS_V1_2025: ImportParams =
        ImportParams { cid_version: 1, raw_leaves: true, chunk_size: 1_048_576, max_links: 1024 };

    /// The names [`ImportParams::profile`] accepts.
    pub const PROFILE_NAMES: &'static str = "unixfs-v0-2015, unixfs-v1-2025";

    /// Looks up a named profile.
    pub fn profile(name: &str) -> Result<Self, ParamsError> {
        match name {
            "unixfs-v0-2015" => Ok(Self::UNIXFS_V0_2015),
            "unixfs-v1-2025" => Ok(Self::UNIXFS_V1_2025),
            _ => Err(ParamsError::Unknown {
                what: "import profile",
                name: name.into(),
                hint: "use unixfs-v0-2015 or unixfs-v1-2025",
            }),
        }
    }

    /// Parses kubo's `--chunker` syntax; only `size-N` is supported.
    pub fn parse_chunker(spec: &str) -> Result<usize, ParamsError> {
        let unknown = || ParamsError::Unknown {
            what: "chunker",
            name: spec.into(),
            hint: "use size-N with N in bytes, for example size-262144",
        };
        let digits = spec.strip_prefix("size-").ok_or_else(unknown)?;
        digits.parse().map_err(|_| unknown())
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.cid_version > 1 {
            return Err(ParamsError::CidVersion(self.cid_version));
        }
        if self.chunk_size == 0 || self.chunk_size > MAX_CHUNK_SIZE {
            return Err(ParamsError::ChunkSize(self.chunk_size));
        }
        if !(2..=8192).contains(&self.max_links) {
            return Err(ParamsError::MaxLinks(self.max_links));
        }
        Ok(())
    }

    /// Builds a dag-pb block with this profile's CID version.
    pub fn dag_pb_block(&self, bytes: Vec<u8>) -> Block {
        Block::encode(DAG_PB, self.cid_version == 0, bytes)
    }
}

/// What the importer produced for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportedFile {
    /// The root CID.
    pub cid: Cid,
    /// The file's length in bytes.
    pub size: u64,
    /// The cumulative size of every block in the DAG (a link's `Tsize`).
    pub tsize: u64,
}

/// A child on its way into a parent node.
#[derive(Debug, Clone, Copy)]
struct Child {
    cid: Cid,
    filesize: u64,
    tsize: u64,
}

/// Streams one file into UnixFS blocks.
#[derive(Debug)]
pub struct FileImporter {
    params: ImportParams,
    chunk: Vec<u8>,
    levels: Vec<Vec<Child>>,
    size: u64,
}

impl FileImporter {
    /// Starts a file with validated parameters.
    pub fn new(params: ImportParams) -> Result<Self, ParamsError> {
        params.validate()?;
        Ok(FileImporter { params, chunk: Vec::with_capacity(params.chunk_size), levels: vec![Vec::new()], size: 0 })
    }

    /// Adds bytes; every block completed on the way goes to `emit`.
    pub fn push<E>(&mut self, mut data: &[u8], emit: &mut impl FnMut(Block) -> Result<(), E>) -> Result<(), E> {
        while !data.is_empty() {
            let room = self.params.chunk_size - self.chunk.len();
            let take = room.min(data.len());
            self.chunk.extend_from_slice(&data[..take]);
            data = &data[take..];
            self.size += take as u64;
            if self.chunk.len() == self.params.chunk_size {
                self.flush_leaf(emit)?;
            }
        }
        Ok(())
    }

    /// Closes the file: emits the last leaf and the internal nodes up to the
    /// root, and returns the root.
    pub fn finish<E>(mut self, emit: &mut impl FnMut(Block) -> Result<(), E>) -> Result<ImportedFile, E> {
        // An empty file still has one (empty) leaf, and a partial chunk is a leaf.
        if !self.chunk.is_empty() || self.levels[0].is_empty() && self.levels.len() == 1 {
            self.flush_leaf(emit)?;
        }
        let mut level = 0;
        loop {
            let top = self.levels[level + 1..].iter().all(Vec::is_empty);
            let children = std::mem::take(&mut self.levels[level]);
            if top && children.len() == 1 {
                let root = children[0];
                return Ok(ImportedFile { cid: root.cid, size: self.size, tsize: root.tsize });
            }
            if !children.is_empty() {
                let parent = self.build_node(&children, emit)?;
                self.push_child(level + 1, parent, emit)?;
            }
            level += 1;
        }
    }

    fn flush_leaf<E>(&mut self, emit: &mut impl FnMut(Block) -> Result<(), E>) -> Result<(), E> {
        let bytes = std::mem::replace(&mut self.chunk, Vec::with_capacity(self.params.chunk_size));
        let filesize = bytes.len() as u64;
        let block = if self.params.raw_leaves {
            Block::encode(RAW, false, bytes)
        } else {
            self.params.dag_pb_block(encode_file_leaf(&bytes))
        };
        let child = Child { cid: *block.cid(), filesize, tsize: block.data().len() as u64 };
        emit(block)?;
        self.push_child(0, child, emit)
    }

    /// Adds a finished child at `level`; a level that fills up becomes a
    /// node one level higher.
    fn push_child<E>(
        &mut self,
        level: usize,
        child: Child,
        emit: &mut impl FnMut(Block) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.levels.len() <= level {
            self.levels.push(Vec::new());
        }
        self.levels[level].push(child);
        if self.levels[level].len() == self.params.max_links {
            let children = std::mem::take(&mut self.levels[level]);
            let parent = self.build_node(&children, emit)?;
            self.push_child(level + 1, parent, emit)?;
        }
        Ok(())
    }

    fn build_node<E>(&self, children: &[Child], emit: &mut impl FnMut(Block) -> Result<(), E>) -> Result<Child, E> {
        let mut data = UnixFsData::new(DataType::File);
        data.blocksizes = children.iter().map(|c| c.filesize).collect();
        let filesize = data.blocksizes.iter().sum();
        data.filesize = Some(filesize);
        let links =
            children.iter().map(|c| PbLink { cid: c.cid, name: Some(String::new()), tsize: Some(c.tsize) }).collect();
        let block = self.params.dag_pb_block(PbNode { links, data: Some(data.encode()) }.encode());
        let tsize = block.data().len() as u64 + children.iter().map(|c| c.tsize).sum::<u64>();
        let child = Child { cid: *block.cid(), filesize, tsize };
        emit(block)?;
        Ok(child)
    }
}

/// Encodes a dag-pb leaf `{Data: UnixFS{Type: File, Data: chunk, filesize}}`
/// in one pass: the same bytes as building [`UnixFsData`] and [`PbNode`]
/// and encoding them, without copying the chunk three times.
fn encode_file_leaf(chunk: &[u8]) -> Vec<u8> {
    use crate::formats::{pb, varint};
    let len = chunk.len() as u64;
    let data_field = if chunk.is_empty() { 0 } else { pb::bytes_field_len(2, chunk.len()) };
    let inner_len = 2 + data_field + 1 + varint::encoded_len(len);
    let mut out = Vec::with_capacity(pb::bytes_field_len(1, inner_len));
    out.push(0x0a);
    varint::encode(inner_len as u64, &mut out);
    out.extend_from_slice(&[0x08, DataType::File as u8]);
    if !chunk.is_empty() {
        out.push(0x12);
        varint::encode(len, &mut out);
        out.extend_from_slice(chunk);
    }
    out.push(0x18);
    varint::encode(len, &mut out);
    out
}

/// Imports a whole in-memory file, returning its root and all its blocks.
pub fn import_bytes(params: ImportParams, bytes: &[u8]) -> Result<(ImportedFile, Vec<Block>), ParamsError> {
    let mut blocks = Vec::new();
    let mut importer = FileImporter::new(params)?;
    let mut collect = |b: Block| -> Result<(), std::convert::Infallible> {
        blocks.push(b);
        Ok(())
    };
    let Ok(()) = importer.push(bytes, &mut collect);
    let Ok(file) = importer.finish(&mut collect);
    Ok((file, blocks))
}
