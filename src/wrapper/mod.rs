//! The rustc wrapper: cache keys that hold across machines, hits that
//! restore outputs, and never a broken build. It works one compilation
//! unit at a time on the artifact layer ([`crate::artifact`]); the
//! lockfile-wide fetch ([`crate::fetch`]) is its neighbour, not its user.
//!
//! - [`run`]: the entry point and the decision flow of one rustc run.
//! - [`env`](mod@env): the environment, read once per run.
//! - [`args`]: [`args::analyze`] decides whether a rustc command line is a
//!   cacheable compilation and extracts an [`args::Invocation`]; it also
//!   predicts the output file names (pure).
//! - [`source`]: where the crate comes from (registry, path or git).
//! - [`hidden`]: proc-macros that read inputs dep-info does not show; their
//!   dependents are not cached (pure).
//! - [`pristine`]: whether a registry package's extracted sources are its
//!   `.crate`'s, so that a patched one is never keyed by the checksum.
//! - [`unit`](mod@unit): a unit's inputs digested and keyed.
//! - [`key`]: the cache key over every input (pure).
//! - [`paths`]: [`paths::PathMap`], machine paths replaced by placeholders in
//!   keys, dep-info files and diagnostics, and `--remap-path-prefix` for the
//!   artifacts themselves (pure).
//! - [`depinfo`]: rustc's dep-info files: the source files and environment
//!   variables a compilation read (pure).
//! - [`hit`]: restoring a hit, and the on-demand fetch of `install`.
//! - [`record`]: running rustc on a miss and recording its outputs.
//! - [`replay`]: what a hit may place and print, checked before anything
//!   is placed (pure).
//! - [`digest`]: file digests with a cache.
//! - [`local_sources`]: keys of path and git crates, cached locally on request.
//! - [`script`]: build-script runs, restored or recorded through a launcher
//!   put in place of each build script compiled here.
//! - [`stats`]: the counters `cargo ipfs stats` shows.
//! - [`misses`]: misses and recorded units with the named inputs of their
//!   keys, for `cargo ipfs why-miss`.
//! - [`why`]: which named input made a miss (pure).

pub mod args;
pub mod depinfo;
pub mod digest;
pub mod env;
pub mod hidden;
pub mod hit;
pub mod key;
pub mod local_sources;
pub mod misses;
pub mod paths;
pub mod pristine;
pub mod record;
pub mod replay;
pub mod run;
pub mod script;
pub mod source;
pub mod stats;
pub mod unit;
pub mod why;

pub use env::Mode;
pub use run::{is_rustc, wrap_rustc};

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
            ("hidden.rs", include_str!("hidden.rs")),
            ("replay.rs", include_str!("replay.rs")),
            ("replay/tests.rs", include_str!("replay/tests.rs")),
            ("script/directives.rs", include_str!("script/directives.rs")),
            ("why.rs", include_str!("why.rs")),
        ];
        let forbidden = ["std::fs", "std::env", "std::process", "std::net", "std::time", "tokio", "File::"];
        for (name, source) in sources {
            for word in forbidden {
                assert!(!source.contains(word), "{name} uses {word}");
            }
        }
    }
}
