//! cargo-ipfs-fetch shares compiled Rust dependencies over IPFS.
//!
//! See `docs/ARCHITECTURE.md` for the bird's-eye view. The code map:
//!
//! - [`formats`]: CIDs, dag-pb, UnixFS import and export, CAR, IPNS records.
//!   Pure functions over bytes; no I/O, no clock.
//! - [`store`]: the [`store::BlockStore`] trait and its embedded on-disk and
//!   in-memory implementations; the verifying trustless-gateway client and
//!   its blocking, layered adapters; [`store::dag`], walking a DAG over a
//!   store (CAR export, completeness, paths).
//! - [`buffers`]: large block buffers reused across requests and streams,
//!   and the writer of a streamed HTTP body.
//! - [`index`]: the signed, sharded index: entries, manifests, publishing
//!   and resolving with every subscriber check.
//! - [`keystore`]: the publisher's named Ed25519 keys, owner-only files in
//!   kubo's libp2p-protobuf-cleartext format.
//! - [`wrapper`]: the rustc wrapper (`RUSTC_WRAPPER` mode): argument
//!   analysis, cache keys, packing, restoring and recording.
//! - [`publish`]: the publisher's operations: a new signed version of an
//!   index it publishes (never reusing a sequence number), what the
//!   wrapper journaled, pushes into a kubo node.
//! - [`fetch`]: resolving the trusted index and fetching a lockfile's
//!   artifacts before compilation.
//! - [`pinning`]: the store's pin set (what it keeps and why) and mirrors
//!   that follow a trusted index.
//! - [`gc`]: garbage collection under a size bound and an age, never
//!   touching the pin set; the store's size by kind.
//! - [`server`]: `cargo ipfs serve`, the store over HTTP as a trustless
//!   gateway and the IPNS part of delegated routing v1.
//! - [`cli`]: one file per subcommand of `cargo ipfs`.
//! - [`report`]: an error chain as the user reads it: one line, each cause
//!   once.

// Errors carry the CID they concern (up to ~80 bytes inline) so that every
// message can name the block; they travel on cold paths, so their size does
// not matter.
#![allow(clippy::result_large_err)]

pub mod artifact;
pub mod atomic_file;
pub mod buffers;
pub mod cli;
pub mod failpoint;
pub mod fetch;
pub mod formats;
pub mod gc;
pub mod index;
pub mod keystore;
pub mod pinning;
pub mod publish;
pub mod rebuild;
pub mod report;
pub mod server;
pub mod sources;
pub mod store;
pub mod toolchain;
pub mod vars;
pub mod wrapper;

#[cfg(test)]
mod boundaries;
