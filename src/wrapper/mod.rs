//! The rustc wrapper.

pub mod pack;
