//! The environment variables cargo-ipfs reads and sets, each named once,
//! and the store directory they resolve to.
//!
//! `cargo ipfs build` and `install` hand the wrapper its settings through
//! these variables; the wrapper reads them once per run (see
//! `crate::wrapper::env`), and a command reads them where its flags leave
//! a setting open.

use std::path::PathBuf;

/// The store directory (else `$CARGO_HOME/ipfs`).
pub const STORE: &str = "CARGO_IPFS_STORE";
/// The wrapper's mode: `off`, `read` (the default) or `record`.
pub const MODE: &str = "CARGO_IPFS_MODE";
/// `1`, `true` or `yes`: also cache path and git crates, in this store only.
pub const LOCAL: &str = "CARGO_IPFS_LOCAL";
/// The index a fetch reads (else the config file, else the only trusted one).
pub const INDEX: &str = "CARGO_IPFS_INDEX";
/// Trustless gateways, comma-separated.
pub const GATEWAYS: &str = "CARGO_IPFS_GATEWAYS";
/// A kubo node's RPC API to read through (and publish into) instead of gateways.
pub const KUBO: &str = "CARGO_IPFS_KUBO";
/// How many distinct trusted rebuilders must attest an entry before it is
/// fetched or restored (else the config file's `require_attestations`).
pub const REQUIRE_ATTESTATIONS: &str = "CARGO_IPFS_REQUIRE_ATTESTATIONS";
/// The trusted rebuilders whose attestations count, comma-separated.
pub const REBUILDERS: &str = "CARGO_IPFS_REBUILDERS";
/// The shards directory of a verified index version, which `install` hands
/// the wrapper so that a miss can be fetched on demand.
pub const INDEX_SHARDS: &str = "CARGO_IPFS_INDEX_SHARDS";
/// The policy of required attestations a fetch resolved (JSON: the
/// rebuilders' verified attestation indexes), which `build` and `install`
/// hand the wrapper so that what it fetches on demand is counted too.
pub const ATTESTING: &str = "CARGO_IPFS_ATTESTING";
/// More proc-macro crates whose dependents are not cacheable, comma-separated
/// (see `crate::wrapper::hidden`).
pub const HIDDEN_INPUT_MACROS: &str = "CARGO_IPFS_HIDDEN_INPUT_MACROS";
/// A directory to write every cache key's inputs into (why two builds do not share).
pub const EXPLAIN: &str = "CARGO_IPFS_EXPLAIN";
/// Who built the artifacts recorded, written into their entries.
pub const BUILDER: &str = "CARGO_IPFS_BUILDER";
/// Set by the build-script launcher when it runs cargo-ipfs in place of a
/// build script: the path of the real script binary. Removed from the
/// script's own environment (its probes run the wrapper again).
pub const BUILD_SCRIPT: &str = "CARGO_IPFS_BUILD_SCRIPT";
/// `0`, `false` or `no`: build scripts compiled through the wrapper get no
/// launcher, so their runs are never cached.
pub const BUILD_SCRIPT_CACHE: &str = "CARGO_IPFS_BUILD_SCRIPT_CACHE";
/// `1`: the packages cargo names primary (the crate `cargo ipfs install
/// --build-from-source` installs) compile here, never restored.
pub const BUILD_FROM_SOURCE: &str = "CARGO_IPFS_BUILD_FROM_SOURCE";
/// The log filter of `serve`.
pub const LOG: &str = "CARGO_IPFS_LOG";
/// The start of the variable a pinning service's access token is read
/// from by default: `CARGO_IPFS_PIN_TOKEN_<NAME>`.
pub const PIN_TOKEN_PREFIX: &str = "CARGO_IPFS_PIN_TOKEN_";
/// The crash harness's point to die at, `NAME#K[@N]` (builds with the
/// `failpoints` feature only; see `crate::failpoint`).
pub const FAILPOINT: &str = "CARGO_IPFS_FAILPOINT";
/// A path whose numbered siblings (`P.1`, `P.2`, …) count the processes
/// reaching the chosen crash point, so that only the N-th dies.
pub const FAILPOINT_ONCE: &str = "CARGO_IPFS_FAILPOINT_ONCE";
/// A file every crash point reached is appended to, as `NAME K`.
pub const FAILPOINT_LOG: &str = "CARGO_IPFS_FAILPOINT_LOG";
/// The compiler cargo runs (and a fetch asks for its identity).
pub const RUSTC: &str = "RUSTC";
/// Cargo's configuration form of [`RUSTC`] (`build.rustc`).
pub const CARGO_BUILD_RUSTC: &str = "CARGO_BUILD_RUSTC";
/// The wrapper cargo runs rustc through.
pub const RUSTC_WRAPPER: &str = "RUSTC_WRAPPER";
/// Cargo's configuration form of [`RUSTC_WRAPPER`].
pub const CARGO_BUILD_RUSTC_WRAPPER: &str = "CARGO_BUILD_RUSTC_WRAPPER";
/// Cargo's target directory, read by the wrapper to normalize its path.
pub const CARGO_TARGET_DIR: &str = "CARGO_TARGET_DIR";
/// Cargo's target directory, the configuration's spelling.
pub const CARGO_BUILD_TARGET_DIR: &str = "CARGO_BUILD_TARGET_DIR";

/// The store directory: `flag` (`--store`, which clap also fills from
/// [`STORE`]), else [`STORE`], else `$CARGO_HOME/ipfs`; `None` when none of
/// them can be found.
pub fn store_dir(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| std::env::var_os(STORE).filter(|d| !d.is_empty()).map(PathBuf::from))
        .or_else(|| home::cargo_home().ok().map(|home| home.join("ipfs")))
}
