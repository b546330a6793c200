//! The signed, sharded index: from cache key to artifact CID.
//!
//! - [`layout`]: where a crate's shard lives (the crates.io sparse layout).
//! - [`entry`]: [`Entry`], one artifact; [`shard`]: the shard file format.
//! - [`attest`]: a rebuilder's signed statements that its rebuild matched
//!   an entry, and the count a client policy asks of them (pure).
//! - [`inputs`]: the named inputs of a key, as entries sign them (pure).
//! - [`manifest`]: [`Manifest`], signatures, trust checks and key rotation.
//!   No I/O; time is a parameter.
//! - [`tree`]: the index as a UnixFS tree in a block store: lookup, update,
//!   versions.
//!
//! The format is specified in `docs/index-format.md`.

pub mod attest;
pub mod attested;
pub mod diff;
pub mod entry;
pub mod inputs;
pub mod layout;
pub mod manifest;
pub mod pins;
pub mod publish;
pub mod resolve;
pub mod run;
pub mod shard;
pub mod state;
pub mod tree;

pub use entry::{Entry, Output, OutputKind};
pub use manifest::{Manifest, ManifestError, TrustedKeys};
pub use tree::{IndexVersion, TreeError};

/// The version of the index format: the manifest, its signing encoding,
/// the shard layout and the entry fields. Signed into every manifest. A
/// client refuses a manifest of a newer version, saying to upgrade, and of
/// one older than [`OLDEST_READABLE_FORMAT`] (see `docs/index-format.md`);
/// raising it is for changes an older client would misread, not for every
/// new field. Format 3 added build-script run entries and the named inputs
/// of each key.
pub const INDEX_FORMAT_VERSION: u32 = 3;

/// The oldest format a client reads: format 2's entries are format 3's
/// without the optional fields (no runs, no named inputs). Format 1 signed
/// no unpacked size and is refused.
pub const OLDEST_READABLE_FORMAT: u32 = 2;

#[cfg(test)]
mod bounds_tests;
#[cfg(test)]
mod keys_tests;
#[cfg(test)]
mod tests;
