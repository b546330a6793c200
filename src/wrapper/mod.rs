//! The rustc wrapper: cache keys that hold across machines, hits that
//! restore outputs, and never a broken build.
//!
//! - [`args`]: [`args::analyze`] decides whether a rustc command line is a
//!   cacheable compilation and extracts an [`args::Invocation`]; it also
//!   predicts the output file names (pure).
//! - [`depinfo`]: rustc's dep-info files: the source files and environment
//!   variables a compilation read (pure).
//! - [`paths`]: [`paths::PathMap`], machine paths replaced by placeholders in
//!   keys, dep-info files and diagnostics, and `--remap-path-prefix` for the
//!   artifacts themselves (pure).
//! - [`pack`]: deterministic packing of outputs, tar + zstd (pure).
//! - [`key`]: the cache key over every input (pure).
//! - [`identity`]: rustc and linker identities, cached on disk.
//! - [`digest`]: file digests with a cache.
//! - [`local`]: keys of path and git crates, cached locally on request.
//! - [`cache`]: the local key → artifact map and the journal.
//! - [`stats`]: the counters `cargo ipfs stats` shows.
//! - [`unpacked`]: artifacts kept unpacked, so that a hit is a few links.
//! - [`run`]: the hot path that ties them together.

pub mod args;
pub mod cache;
pub mod depinfo;
pub mod digest;
pub mod identity;
pub mod key;
pub mod local;
pub mod pack;
pub mod paths;
pub mod run;
pub mod stats;
pub mod unpacked;

#[cfg(test)]
mod tests {
    /// The pure modules stay pure: their source names none of the APIs that
    /// reach outside the process's memory.
    #[test]
    fn pure_modules_do_no_io() {
        let sources = [
            ("args/mod.rs", include_str!("args/mod.rs")),
            ("args/flags.rs", include_str!("args/flags.rs")),
            ("args/rules.rs", include_str!("args/rules.rs")),
            ("args/naming.rs", include_str!("args/naming.rs")),
            ("args/tests.rs", include_str!("args/tests.rs")),
            ("depinfo.rs", include_str!("depinfo.rs")),
            ("paths.rs", include_str!("paths.rs")),
            ("key.rs", include_str!("key.rs")),
        ];
        let forbidden = ["std::fs", "std::env", "std::process", "std::net", "std::time", "tokio", "File::"];
        for (name, source) in sources {
            for word in forbidden {
                assert!(!source.contains(word), "{name} uses {word}");
            }
        }
    }
}
