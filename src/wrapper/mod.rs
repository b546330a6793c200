//! The rustc wrapper: what cargo asks rustc to do, and how to key and replay it.
//!
//! - [`args`]: [`args::analyze`] decides whether a rustc command line is a
//!   cacheable compilation and extracts an [`args::Invocation`]; it also
//!   predicts the output file names.
//! - [`depinfo`]: rustc's dep-info files: the source files and environment
//!   variables a compilation read.
//! - [`paths`]: [`paths::PathMap`], machine paths replaced by placeholders in
//!   keys, dep-info files and diagnostics, and `--remap-path-prefix` for the
//!   artifacts themselves.
//!
//! These three are pure: no file system, no processes, no environment, no
//! clock. Callers read files and variables and pass the values in.

pub mod args;
pub mod depinfo;
pub mod paths;

#[cfg(test)]
mod tests {
    /// The pure modules stay pure: their source names none of the APIs that
    /// reach outside the process's memory.
    #[test]
    fn pure_modules_do_no_io() {
        let sources = [
            ("args.rs", include_str!("args.rs")),
            ("depinfo.rs", include_str!("depinfo.rs")),
            ("paths.rs", include_str!("paths.rs")),
        ];
        let forbidden = ["std::fs", "std::env", "std::process", "std::net", "std::time", "tokio", "File::"];
        for (name, source) in sources {
            for word in forbidden {
                assert!(!source.contains(word), "{name} uses {word}");
            }
        }
    }
}
