//! Who compiles and who links: the rustc identity and the host linker
//! identity that go into cache keys.
//!
//! Computing them runs programs (`rustc -vV`, `cc -v`) and hashes files
//! (the sysroot's libraries, the C runtime's startup objects, libc, `ld`),
//! which is too slow for every wrapper call. The result is cached in the
//! store (`watch.rs`), named after the program's path and stamp and, for
//! rustc, the sysroot it uses, and trusted only while every file and
//! directory it was computed from keeps its stamp: what changes behind an
//! unchanged program (a libc6-dev upgrade, a sysroot rebuilt in place, a
//! toolchain replaced behind its name) computes it again.

mod sysroot;
mod watch;

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The compiler identity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RustcIdentity {
    /// `rustc -vV` output.
    pub verbose_version: String,
    /// The `release` line, e.g. `1.95.0`.
    pub release: String,
    /// The `commit-hash` line.
    pub commit_hash: String,
    /// The `host` line.
    pub host: String,
    /// Per target installed in the sysroot's `lib/rustlib`, sha256 over the
    /// names and sizes of the files rustc reads when it compiles for that
    /// target (its standard library, and the host's codegen backends and
    /// shipped linkers); see `sysroot_digests`.
    pub sysroot_digests: BTreeMap<String, String>,
    /// The sysroot path on this machine (normalized out of artifacts).
    pub sysroot: PathBuf,
}

impl RustcIdentity {
    /// The sysroot digest for compiling to `target`; `-` when the sysroot
    /// has no standard library for it (a target built with `build-std`).
    pub fn sysroot_digest(&self, target: &str) -> &str {
        self.sysroot_digests.get(target).map_or("-", String::as_str)
    }

    /// The short form written into index entries: `release commit-hash`.
    pub fn short(&self) -> String {
        format!("{} {}", self.release, self.commit_hash)
    }
}

/// The identity of what the system linker puts into a linked output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkerIdentity {
    /// The linker driver's `-v` output (version and configuration).
    pub version: String,
    /// sha256 of each startup object, libc, the compiler runtime and `ld`,
    /// by name (see `LINKED_FILES`).
    pub files: Vec<(String, String)>,
}

/// Finds `program` on PATH unless it is already a path.
pub fn resolve_program(program: &Path) -> PathBuf {
    if program.components().count() > 1 {
        return program.to_path_buf();
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| program.to_path_buf())
}

fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output()?;
    if !out.status.success() {
        anyhow::bail!("{:?} exited with {}", cmd, out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

/// The name a cached identity is filed under: its kind, the program's
/// path and stamp, and what else selects it (`selector`).
fn cache_name(kind: &str, program: &Path, selector: &Path) -> String {
    let mut h = Sha256::new();
    for part in [program.as_os_str(), std::ffi::OsStr::new(&watch::stamp_of(program)), selector.as_os_str()] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_encoded_bytes());
    }
    format!("{kind}-{}", &hex::encode(h.finalize())[..32])
}

/// The sysroot a compiler driver sits in, found without running it: a
/// driver at `<sysroot>/bin/rustc` (after symbolic links) loads its
/// libraries from `<sysroot>/lib`, and rustc takes its sysroot from there.
/// `None` for anything else (a rustup proxy, a script), which must be
/// asked, since what it runs depends on its environment and directory.
fn own_sysroot(rustc: &Path) -> Option<PathBuf> {
    let real = rustc.canonicalize().ok()?;
    let bin = real.parent()?;
    let sysroot = bin.parent()?;
    (bin.file_name()? == "bin" && sysroot.join("lib/rustlib").is_dir()).then(|| sysroot.to_path_buf())
}

fn print_sysroot(rustc: &Path) -> anyhow::Result<PathBuf> {
    Ok(PathBuf::from(output(Command::new(rustc).args(["--print", "sysroot"]))?.trim()))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || a.canonicalize().ok().is_some_and(|a| b.canonicalize().ok().is_some_and(|b| a == b))
}

/// The identity of `rustc` (cached in `dir`). The toolchain's own driver,
/// the program cargo runs, answers from the cache after a `stat` of each
/// file the identity covers; a program outside its sysroot (rustup's
/// `rustc` proxy, which picks a toolchain by `RUSTUP_TOOLCHAIN` and
/// `rust-toolchain.toml`, or a script) is asked for its sysroot first, and
/// the identity is cached per sysroot.
pub fn rustc_identity(dir: &Path, rustc: &Path) -> anyhow::Result<RustcIdentity> {
    rustc_identity_settled(dir, rustc, watch::SETTLE)
}

fn rustc_identity_settled(dir: &Path, rustc: &Path, settle: Duration) -> anyhow::Result<RustcIdentity> {
    let rustc = resolve_program(rustc);
    let selected = match own_sysroot(&rustc) {
        Some(sysroot) => sysroot,
        None => print_sysroot(&rustc)?,
    };
    // `rustc3`: identities cached before the sysroot digest covered content
    // and before they held the stamps of what they cover are not read again.
    watch::cached(dir, &cache_name("rustc3", &rustc, &selected), settle, |watched| {
        watched.add(&rustc);
        sysroot::watch_compiler(&selected, watched);
        // Both questions at once: each is a rustc start-up.
        let (verbose_version, sysroot) = std::thread::scope(|s| {
            let sysroot = s.spawn(|| print_sysroot(&rustc));
            let verbose_version = output(Command::new(&rustc).arg("-vV"));
            (verbose_version, sysroot.join().unwrap_or_else(|_| Err(anyhow::anyhow!("rustc --print sysroot panicked"))))
        });
        let (verbose_version, sysroot) = (verbose_version?, sysroot?);
        if !same_dir(&sysroot, &selected) {
            // Not the sysroot stamped above: compute, but do not cache.
            watched.doubt();
        }
        let field = |name: &str| {
            verbose_version.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string())).unwrap_or_default()
        };
        let host = field("host:");
        Ok(RustcIdentity {
            release: field("release:"),
            commit_hash: field("commit-hash:"),
            sysroot_digests: sysroot::sysroot_digests(&sysroot, &host, watched),
            host,
            verbose_version,
            sysroot,
        })
    })
}

/// What the linker driver is asked for (`-print-file-name`) and hashed:
/// the startup objects, libc (`libc.so` is a linker script naming
/// `libc.so.6` and `libc_nonshared.a`), and the compiler runtime linked
/// into every executable.
const LINKED_FILES: &[&str] = &[
    "crt1.o",
    "Scrt1.o",
    "crti.o",
    "crtn.o",
    "crtbeginS.o",
    "crtendS.o",
    "libc.so.6",
    "libc.so",
    "libc_nonshared.a",
    "libgcc.a",
    "libgcc_s.so.1",
];

/// The identity of the linker driver `linker` (cached in `dir`): its
/// version, and the digests of the startup objects, libc and compiler
/// runtime it links and of the `ld` it runs. Cached while the driver, each
/// file found and the directory holding it keep their stamps (a package
/// upgrade replaces a file, which changes both).
pub fn linker_identity(dir: &Path, linker: &Path) -> anyhow::Result<LinkerIdentity> {
    linker_identity_settled(dir, linker, watch::SETTLE)
}

fn linker_identity_settled(dir: &Path, linker: &Path, settle: Duration) -> anyhow::Result<LinkerIdentity> {
    let linker = resolve_program(linker);
    // `linker2`: identities cached without the stamps of what they cover
    // are not read again.
    watch::cached(dir, &cache_name("linker2", &linker, Path::new("")), settle, |watched| {
        watched.add(&linker);
        let version = output(Command::new(&linker).arg("-v"))?;
        let mut files = Vec::new();
        let mut hash = |name: &str, path: &Path, watched: &mut watch::Watched| {
            if let Some(parent) = path.parent() {
                watched.add(parent);
            }
            watched.add(path);
            if let Ok(digest) = sysroot::file_digest(path) {
                files.push((name.to_string(), digest));
            }
        };
        for name in LINKED_FILES {
            let Ok(found) = output(Command::new(&linker).arg(format!("-print-file-name={name}"))) else { continue };
            let path = PathBuf::from(found.lines().next().unwrap_or_default().trim());
            // The driver echoes the bare name when it does not know the file.
            if path.components().count() > 1 {
                hash(name, &path, watched);
            }
        }
        // The linker proper, which the driver finds by name (`ld`, on PATH
        // unless its own directories hold one).
        if let Ok(found) = output(Command::new(&linker).arg("-print-prog-name=ld")) {
            let ld = resolve_program(Path::new(found.lines().next().unwrap_or_default().trim()));
            if ld.is_file() {
                hash("ld", &ld, watched);
            }
        }
        Ok(LinkerIdentity { version, files })
    })
}

/// The identity of a host tool a build script runs (a C compiler, an
/// archiver): sha256 over the binary found for `program` (on PATH unless it
/// is a path) and what it prints for `--version`, cached like the other
/// identities while the binary keeps its stamp. An error when the program
/// cannot be found or does not answer `--version`: such a tool is unknown,
/// and what it made must not be shared.
pub fn tool_identity(dir: &Path, program: &Path) -> anyhow::Result<String> {
    let program = resolve_program(program);
    if !program.is_file() {
        anyhow::bail!("cannot find {}", program.display());
    }
    watch::cached(dir, &cache_name("tool1", &program, Path::new("")), watch::SETTLE, |watched| {
        watched.add(&program);
        let version = output(Command::new(&program).arg("--version"))?;
        let digest = sysroot::file_digest(&program)?;
        let mut h = Sha256::new();
        for part in [digest.as_bytes(), version.as_bytes()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        Ok(hex::encode(h.finalize()))
    })
}

#[cfg(test)]
mod tests;
