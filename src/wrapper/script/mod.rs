//! Build-script runs cached like compilations.
//!
//! Cargo runs a package's build script after compiling it, and the script
//! may compile C (through the `cc` crate), probe rustc, and write files
//! into `OUT_DIR`. When the wrapper compiled or restored the script's
//! binary, a launcher stands in its place ([`launcher`]) and runs
//! `cargo-ipfs` in build-script mode ([`run_build_script`]), which
//! restores a recorded run or runs the real script (and, in record mode,
//! records it).
//!
//! A run is keyed in two steps ([`inputs`]): the pre-key covers what
//! cargo hands every run (the script binary's content, the verified
//! package, the compiler, `TARGET`, `HOST`, the profile, the features,
//! the `cfg`s, the flags, `DEP_*` metadata with the content of the paths
//! it names, machine paths normalized); it leads to the runs recorded
//! under it ([`crate::artifact::runs`]), each with the inputs it declared (`rerun-if-*`,
//! read from its output by [`directives`]) and, when it used `cc`, the C
//! compiler's and archiver's identity; the first whose inputs are in the
//! same state is restored ([`outdir`]). A run declaring nothing depends on
//! its package, which the pre-key already pins by its checksum.
//!
//! Only runs of verified registry packages (or vendored ones) are cached;
//! anything else runs the real script. Any problem runs the real script:
//! the cache never fails a build.

pub mod directives;
pub mod identity;
pub mod inputs;
pub mod launcher;
pub mod outdir;
pub mod pending;

mod child;
pub(crate) mod defer;
mod flow;
mod remote;

use super::digest::Digests;
use super::env::{Mode, WrapperEnv};
use super::paths::PathMap;
use super::source::{registry_source, vendored_source, Registry, Source, VENDORED_SOURCE};
use super::stats::{self, Event};
use crate::vars;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// One build-script run as cargo asked for it.
pub struct Run {
    /// The real script binary.
    pub real: PathBuf,
    /// `OUT_DIR`.
    pub out_dir: PathBuf,
    /// `CARGO_MANIFEST_DIR`, the directory the script runs in.
    pub package_dir: PathBuf,
    /// `TARGET`.
    pub target: String,
    /// `HOST`.
    pub host: String,
    /// This machine's paths and their placeholders: CARGO_HOME, the target
    /// directory, `OUT_DIR`, the sysroot, a vendored package.
    pub map: PathMap,
    /// The package.
    pub source: Source,
    /// The file digest cache.
    pub digests: Digests,
    /// Where tool identities are cached.
    pub identity_dir: PathBuf,
    /// The store directory.
    pub store_dir: PathBuf,
    /// The rustc identity as keyed.
    pub rustc: String,
    /// The rustc identity as index entries name it (`release commit-hash`).
    pub rustc_short: String,
    /// The IPNS name a journaled run names as its builder (empty: the index's).
    pub builder: String,
}

/// Runs in place of a build script: `args` are `[cargo-ipfs, script
/// args...]`, and [`vars::BUILD_SCRIPT`] names the real script binary.
pub fn run_build_script(args: Vec<OsString>) -> ExitCode {
    let real = PathBuf::from(std::env::var_os(vars::BUILD_SCRIPT).unwrap_or_default());
    let script_args = args.get(1..).unwrap_or_default();
    let env = WrapperEnv::read();
    let Some(store_dir) = env.store_dir.clone().filter(|_| env.mode != Mode::Off && built_by_us()) else {
        // A build without the wrapper (a later plain `cargo build` in the
        // same target directory): the script runs as it always did.
        return child::exec_real(&real, script_args);
    };
    match flow::run(&env, &store_dir, &real, script_args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cargo-ipfs: build-script cache error ({}); running the build script", crate::report::Chain(&e));
            let _ = stats::record(&store_dir, &Event::Error("build script".into()));
            child::exec_real(&real, script_args)
        }
    }
}

/// Whether cargo runs this build through this program as its rustc
/// wrapper (cargo hands `RUSTC_WRAPPER` to build scripts).
fn built_by_us() -> bool {
    let Some(wrapper) = std::env::var_os(vars::RUSTC_WRAPPER) else { return false };
    let same = |a: &Path, b: &Path| a.canonicalize().ok().zip(b.canonicalize().ok()).is_some_and(|(a, b)| a == b);
    // `RUSTC_WRAPPER=cargo-ipfs` names it on PATH.
    let wrapper = crate::toolchain::resolve_program(Path::new(&wrapper));
    std::env::current_exe().is_ok_and(|me| same(&me, &wrapper))
}

impl Run {
    /// The run cargo asked for; `Ok(Err(reason))` when it cannot be cached.
    fn setup(env: &WrapperEnv, store_dir: &Path, real: &Path) -> anyhow::Result<Result<Run, String>> {
        use anyhow::Context;
        let var = |name: &str| std::env::var(name).ok();
        let (Some(out_dir), Some(package_dir), Some(target), Some(host)) =
            (env.out_dir.clone(), env.manifest_dir.clone(), var("TARGET"), var("HOST"))
        else {
            return Ok(Err("not run by cargo".into()));
        };
        let cargo_home = env.cargo_home.clone().context("cannot find CARGO_HOME")?;
        let digests = Digests::new(store_dir);
        let source = match registry_source(env, &cargo_home, &digests, store_dir)? {
            Registry::No => vendored_source(env, store_dir),
            known => known,
        };
        let source = match source {
            Registry::Crate(source) => source,
            Registry::Modified => return Ok(Err("registry source modified".into())),
            Registry::No => return Ok(Err("not a registry crate".into())),
        };
        let identity_dir = store_dir.join("wrapper").join("identity");
        let rustc_path = var(vars::RUSTC).unwrap_or_else(|| "rustc".into());
        let rustc = crate::toolchain::rustc_identity(&identity_dir, Path::new(&rustc_path))?;
        let mut prefixes = vec![
            (cargo_home, "/cargo-home".to_string()),
            (out_dir.clone(), "/out-dir".to_string()),
            (rustc.sysroot.clone(), "/rustc-sysroot".to_string()),
        ];
        let target_dir = out_dir.ancestors().take(8).find(|dir| dir.join("CACHEDIR.TAG").is_file());
        if let Some(dir) = target_dir.map(Path::to_path_buf).or_else(|| env.target_dir.clone()) {
            prefixes.push((dir, "/target".to_string()));
        }
        if source.source == VENDORED_SOURCE {
            prefixes.push((package_dir.clone(), format!("/vendor/{}-{}", source.name, source.version)));
        }
        let map = PathMap::new(prefixes)?;
        let rustc_short = rustc.short();
        let rustc = format!("{}\n{}", rustc.verbose_version, rustc.sysroot_digest(&target));
        let builder = env.builder.clone();
        let (real, store_dir) = (real.to_path_buf(), store_dir.to_path_buf());
        Ok(Ok(Run {
            real,
            out_dir,
            package_dir,
            target,
            host,
            map,
            source,
            digests,
            identity_dir,
            store_dir,
            rustc,
            rustc_short,
            builder,
        }))
    }
}
