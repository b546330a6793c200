//! Everything the wrapper reads from its environment, read once at the
//! start of a run: the wrapper's own settings (`CARGO_IPFS_*`, see
//! [`crate::vars`]) and what cargo tells rustc about the unit (the package,
//! its manifest directory, `OUT_DIR`). The variables a crate reads while it
//! compiles are only known from its dep-info, so [`WrapperEnv::value`]
//! reads them by name when asked.

use crate::vars;
use std::path::PathBuf;

/// How the wrapper behaves (`CARGO_IPFS_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run rustc, touch nothing.
    Off,
    /// Restore hits, compile misses.
    Read,
    /// Restore hits, compile and record misses.
    Record,
}

impl Mode {
    /// The mode a value of `CARGO_IPFS_MODE` names (default `read`).
    pub fn parse(value: Option<&str>) -> Mode {
        match value {
            Some("off") => Mode::Off,
            Some("record") => Mode::Record,
            _ => Mode::Read,
        }
    }
}

/// The wrapper's environment.
#[derive(Debug, Clone)]
pub struct WrapperEnv {
    /// `CARGO_IPFS_MODE`.
    pub mode: Mode,
    /// The store directory (see [`vars::store_dir`]); `None` when there is
    /// no CARGO_HOME to put it in.
    pub store_dir: Option<PathBuf>,
    /// `CARGO_HOME`, or where cargo puts it.
    pub cargo_home: Option<PathBuf>,
    /// `CARGO_IPFS_LOCAL`: path and git crates are cached in this store.
    pub local: bool,
    /// `CARGO_MANIFEST_DIR`: the package's directory.
    pub manifest_dir: Option<PathBuf>,
    /// `CARGO_PKG_NAME`.
    pub pkg_name: Option<String>,
    /// `CARGO_PKG_VERSION`.
    pub pkg_version: Option<String>,
    /// `OUT_DIR`: the build script's output directory.
    pub out_dir: Option<PathBuf>,
    /// `CARGO_TARGET_DIR`.
    pub target_dir: Option<PathBuf>,
    /// The working directory cargo runs rustc in (the workspace root for a
    /// path crate).
    pub cwd: Option<PathBuf>,
    /// `CARGO_IPFS_EXPLAIN`: where to write each key's inputs.
    pub explain: Option<PathBuf>,
    /// `CARGO_IPFS_BUILDER`: who records, written into entries.
    pub builder: String,
    /// `CARGO_IPFS_INDEX_SHARDS`: a verified index to fetch misses from.
    pub index_shards: Option<String>,
    /// `CARGO_IPFS_ATTESTING`: the policy of required attestations a
    /// fetch resolved (JSON), for what is fetched on demand.
    pub attesting: Option<String>,
    /// `CARGO_IPFS_GATEWAYS`, comma-separated as given.
    pub gateways: String,
    /// `CARGO_IPFS_KUBO`, when not blank.
    pub kubo: Option<String>,
    /// `RUST_TARGET_PATH`: where rustc finds target spec files by name.
    pub rust_target_path: Option<std::ffi::OsString>,
    /// The variables of [`TOOLCHAIN_VARS`] that are set, by name.
    pub toolchain: Vec<(String, String)>,
    /// `CARGO_IPFS_HIDDEN_INPUT_MACROS`, split at commas.
    pub hidden_input_macros: Vec<String>,
    /// Whether build scripts compiled here get a launcher, so that their
    /// runs are cached: not when `CARGO_IPFS_BUILD_SCRIPT_CACHE` is `0`,
    /// `false` or `no`, nor when `CARGO_BIN_NAME` is set (cargo sets it
    /// for `[[bin]]` targets, never for build scripts).
    pub script_launcher: bool,
    /// `CARGO_IPFS_BUILD_FROM_SOURCE` set and `CARGO_PRIMARY_PACKAGE` too
    /// (cargo sets it for every unit of the packages the command names:
    /// the crate `cargo install` installs): this unit compiles here.
    pub from_source: bool,
}

/// Variables the compiler or the linker read, which change what they write
/// without appearing in the arguments: `RUSTC_BOOTSTRAP` lets a stable
/// compiler accept unstable features; `LIBRARY_PATH` and `LD_RUN_PATH` are
/// where the system linker finds libraries and what run path it records.
pub const TOOLCHAIN_VARS: &[&str] = &["RUSTC_BOOTSTRAP", "LIBRARY_PATH", "LD_RUN_PATH"];

impl WrapperEnv {
    /// Reads the process's environment.
    pub fn read() -> WrapperEnv {
        let var = |name: &str| std::env::var(name).ok();
        let path = |name: &str| std::env::var_os(name).map(PathBuf::from);
        WrapperEnv {
            mode: Mode::parse(var(vars::MODE).as_deref()),
            store_dir: vars::store_dir(None),
            cargo_home: home::cargo_home().ok(),
            local: matches!(var(vars::LOCAL).as_deref(), Some("1" | "true" | "yes")),
            manifest_dir: path("CARGO_MANIFEST_DIR"),
            pkg_name: var("CARGO_PKG_NAME"),
            pkg_version: var("CARGO_PKG_VERSION"),
            out_dir: path("OUT_DIR"),
            target_dir: path(vars::CARGO_TARGET_DIR),
            cwd: std::env::current_dir().ok(),
            explain: path(vars::EXPLAIN),
            builder: var(vars::BUILDER).unwrap_or_default(),
            index_shards: var(vars::INDEX_SHARDS),
            attesting: var(vars::ATTESTING),
            gateways: var(vars::GATEWAYS).unwrap_or_default(),
            kubo: var(vars::KUBO).filter(|k| !k.trim().is_empty()),
            rust_target_path: std::env::var_os("RUST_TARGET_PATH"),
            toolchain: TOOLCHAIN_VARS.iter().filter_map(|name| Some((name.to_string(), var(name)?))).collect(),
            hidden_input_macros: crate::sources::config::gateway_list(
                &var(vars::HIDDEN_INPUT_MACROS).unwrap_or_default(),
            ),
            script_launcher: !matches!(var(vars::BUILD_SCRIPT_CACHE).as_deref(), Some("0" | "false" | "no"))
                && var("CARGO_BIN_NAME").is_none(),
            from_source: var(vars::BUILD_FROM_SOURCE).is_some_and(|v| v == "1")
                && var("CARGO_PRIMARY_PACKAGE").is_some(),
        }
    }

    /// The value of a variable the crate reads (from its dep-info).
    pub fn value(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}
