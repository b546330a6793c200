//! The publisher's operations on a store directory.
//!
//! - [`mod@push`]: the DAGs under some roots into a kubo node, pinned, in one
//!   streamed `dag/import`.

pub mod push;

pub use push::{push, PushError, Pushed};
