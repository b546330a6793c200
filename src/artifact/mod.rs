//! Artifacts: the compiled outputs of one rustc run as they are stored,
//! shared and restored. Below both the rustc wrapper (one unit at a time)
//! and `fetch` (a whole lockfile at once), which use this layer and never
//! each other.
//!
//! - [`pack`]: the pack format, a deterministic tar in one zstd frame (pure).
//! - [`read`]: an artifact's bytes out of a store, bounded by the size its
//!   entry names.
//! - [`unpacked`]: each artifact's files kept ready under the store, and
//!   placing them into a target directory.
//! - [`cache`]: the local map from cache key to artifact, and the journal
//!   that `publish` reads.
//! - [`download`]: one artifact from the configured sources into the store,
//!   checked against its signed entry, unpacked and filed in the map.
//! - [`run_pack`], [`runs`]: build-script runs packed, and filed under
//!   their pre-keys.
//! - [`stream`]: unpacking as the bytes come, in memory that does not grow
//!   with the artifact.

pub mod cache;
pub mod download;
pub mod pack;
pub mod policy;
pub mod read;
pub mod run_pack;
pub mod runs;
pub mod stream;
pub mod unpacked;

/// The largest artifact unpacked (its decompressed size), so that a corrupt
/// or hostile pack cannot fill memory.
pub const MAX_ARTIFACT: u64 = 4 << 30;
