//! The formats: CIDs and blocks, protobuf, dag-pb, UnixFS, CAR and IPNS.
//!
//! Everything under this module is a pure function over bytes. It does no
//! file or network I/O and reads no clock: callers feed blocks in, store what
//! comes out, and pass the current time where validity matters. That keeps
//! the code that decides CIDs and signatures testable with vectors alone.
//! A test in `src/boundaries.rs` reads this module's source to keep it so.

pub mod block;
pub mod car;
pub mod dagpb;
pub mod ipns;
pub mod links;
pub mod pb;
pub mod unixfs;
pub mod varint;

#[cfg(test)]
mod roundtrip_tests;
