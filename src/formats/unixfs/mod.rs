//! UnixFS on dag-pb: the `Data` message, the file importer, the directory
//! builder and reader, and the file exporter.
//!
//! The importer reproduces kubo's CIDs for a given import profile (IPIP-499);
//! see [`ImportParams`]. Nothing here touches the disk: blocks go out through a
//! callback and come in through a lookup function.

mod data;
mod dir;
mod exporter;
mod importer;
mod read;

pub use data::{DataType, UnixFsData, UnixFsError};
pub use dir::{
    build_directory, build_directory_with_limit, list_directory, list_directory_block, node_kind, DirEntry, DirError,
    EntryKind, MAX_LIST_ENTRIES, MAX_LIST_SHARDS, MAX_PLAIN_DIRECTORY_BLOCK,
};
pub use exporter::{export_file, export_verified_file, node_budget, BASE_NODES, MAX_DEPTH};
pub use importer::{import_bytes, FileImporter, ImportParams, ImportedFile, ParamsError, MAX_CHUNK_SIZE};
pub use read::ReadError;

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod tests;
