//! `cargo-ipfs-launch`: what cargo runs in place of a build script whose
//! binary the wrapper compiled or restored.
//!
//! The wrapper moves the real script binary aside and copies this program
//! to the script's path, with the real binary's modification time (cargo
//! compares the times of the script binary and of its last run's output),
//! beside a sidecar file naming the real binary and the `cargo-ipfs` that
//! caches the runs (see `cargo_ipfs_fetch::wrapper::script::launcher`).
//!
//! This program only execs: `cargo-ipfs` with the variable the sidecar
//! names set to the real binary's path when that `cargo-ipfs` is still
//! there, else the real binary itself (compiling it first when its
//! compilation waited for its run, `pending.rs`), so that a target
//! directory outlives the tool. It uses nothing but `std`, and the sidecar names the
//! variable, so that this small program links nothing of the library. It is a native
//! program, not a shell script, because cargo passes variables whose names
//! a shell drops (`DEP_<LINKS>_<KEY>` keeps the key as the script printed
//! it, `:` included); `exec` keeps the environment byte for byte, the
//! working directory, and every file descriptor (cargo's jobserver).

#[path = "../wrapper/script/pending.rs"]
#[allow(dead_code)]
mod pending;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The sidecar file in the script's directory.
const SIDECAR: &str = ".cargo-ipfs-launch";

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let argv0 = args.next().map(PathBuf::from).unwrap_or_default();
    let rest: Vec<OsString> = args.collect();
    let invoked = if argv0.parent().is_some_and(|p| !p.as_os_str().is_empty()) {
        argv0
    } else {
        std::env::current_exe().unwrap_or(argv0)
    };
    let dir = invoked.parent().map(Path::to_path_buf).unwrap_or_default();
    let Some((real, tool, marker)) = read_sidecar(&dir.join(SIDECAR)) else {
        // Without the sidecar, the one real binary in the directory runs.
        if let Some(real) = lone_real(&dir) {
            let err = exec(Command::new(&real).args(&rest));
            eprintln!("cargo-ipfs-launch: cannot run {}: {err}", real.display());
        } else {
            let sidecar = dir.join(SIDECAR);
            eprintln!("cargo-ipfs-launch: cannot read {}; run `cargo clean` for this package", sidecar.display());
        }
        return ExitCode::from(127);
    };
    let real = dir.join(real);
    if tool.is_file() {
        let mut cmd = Command::new(&tool);
        cmd.args(&rest).env(&marker, &real);
        let err = exec(&mut cmd);
        eprintln!("cargo-ipfs-launch: cannot run {} ({err}); running the build script itself", tool.display());
    }
    // A script whose compilation waited for its run: compiled now.
    if let Err(e) = pending::compile_if_pending(&real, &marker) {
        eprintln!("cargo-ipfs-launch: {e}");
        return ExitCode::from(101);
    }
    let mut cmd = Command::new(&real);
    cmd.args(&rest).env_remove(&marker);
    let err = exec(&mut cmd);
    eprintln!("cargo-ipfs-launch: cannot run {}: {err}", real.display());
    ExitCode::from(127)
}

/// The real binary's file name, the `cargo-ipfs` path and the variable
/// that tells it the real binary: three fields, each ended by a NUL byte.
fn read_sidecar(path: &Path) -> Option<(OsString, PathBuf, OsString)> {
    let bytes = std::fs::read(path).ok()?;
    let mut fields = bytes.split(|b| *b == 0);
    let real = fields.next().filter(|f| !f.is_empty())?;
    let tool = fields.next().filter(|f| !f.is_empty())?;
    let marker = fields.next().filter(|f| !f.is_empty())?;
    Some((os(real), PathBuf::from(os(tool)), os(marker)))
}

/// The only file in `dir` whose name ends in `.cargo-ipfs-real`.
fn lone_real(dir: &Path) -> Option<PathBuf> {
    let mut found = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().ends_with(".cargo-ipfs-real")));
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

#[cfg(unix)]
fn os(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(bytes).to_os_string()
}

#[cfg(not(unix))]
fn os(bytes: &[u8]) -> OsString {
    OsString::from(String::from_utf8_lossy(bytes).into_owned())
}

/// Replaces this process; returns only on failure.
#[cfg(unix)]
fn exec(cmd: &mut Command) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    cmd.exec()
}

/// Runs the command and exits with its status (no `exec` here).
#[cfg(not(unix))]
fn exec(cmd: &mut Command) -> std::io::Error {
    match cmd.status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(err) => err,
    }
}
