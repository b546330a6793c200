//! The publisher's operations on a store directory: a new signed version of
//! an index published from here, what the wrapper journaled, and pushes
//! into a kubo node. The command line (`cargo ipfs publish`, `cargo ipfs
//! index init|add|rotate|push`) parses arguments, calls these and prints
//! what they report.
//!
//! Not to be confused with [`crate::index::publish`], which this module
//! calls: that one signs one version over a block store, given the version
//! it builds on and the keys (no local files, no keystore, no records
//! stored). This one decides which version to build on, takes the keys from
//! the keystore, and stores the record and `published.json` once the
//! version is signed.
//!
//! - [`version`]: [`publish_version`], and the rule that no sequence number
//!   is ever signed for two different versions; [`create_index`], checked
//!   first as a [`NewIndex`]; a key [`Rotation`].
//! - [`guard`]: one IPNS name, one index: no record of another index's
//!   name is ever replaced.
//! - [`journal`]: which journaled entries may be published
//!   ([`AllowedRegistries`], [`read_journal`]).
//! - [`mod@push`]: the DAGs under some roots into a kubo node, pinned, in one
//!   streamed `dag/import`.
//! - [`kubo`]: a version, its artifacts and its record into a kubo node
//!   ([`push_version`]), reported in a [`PushReport`].
//! - [`republish`]: the record to put on the network again, renewed
//!   (a fresh version) before it or its version expires.

pub mod guard;
pub mod journal;
pub mod keysets;
pub mod kubo;
pub mod push;
pub mod republish;
pub mod version;

pub use journal::{read_journal, AllowedRegistries, Recorded};
pub use keysets::Rotation;
pub use kubo::{push_index, push_published, push_version, PushReport};
pub use push::{push, PushError, Pushed};
pub use version::{create_index, publish_version, published, refresh_version, NewIndex};

#[cfg(test)]
mod tests;
