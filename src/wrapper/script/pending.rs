//! A build script whose compilation waits for its run.
//!
//! On a machine that restores (not records), a registry package's build
//! script that missed is not compiled when cargo asks: the wrapper writes
//! its dep-info only (`--emit=dep-info`, which is what cargo reads of that
//! compilation, and what the script's identity needs), puts the launcher in
//! place, and leaves here how to compile it. When the run is restored, the
//! script is never compiled; when it must run, it is compiled first, with
//! the same compiler, arguments and working directory, and with the
//! variables its compilation read (`env!`, `option_env!`, as its dep-info
//! lists them) as they were. A script that compiles a machine path into
//! itself (libsqlite3-sys's `cargo:include=`) is never shared, so without
//! this every second machine compiled it, although its run is shared.
//!
//! This file uses nothing but `std`: `cargo-ipfs-launch` includes it too,
//! so that a target directory outlives the tool (a plain `cargo build`
//! with no `cargo-ipfs` left still compiles and runs the script).
//!
//! The file `.cargo-ipfs-pending` beside the launcher holds NUL-ended
//! fields: the header, then tagged fields: `R` the compiler, `D` the
//! working directory, `O` the binary's file name, `A` each argument in
//! order, `E` a variable and its value, `U` a variable that was unset.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The file beside the launcher.
pub const PENDING: &str = ".cargo-ipfs-pending";
/// The suffix of the real script binary (`launcher::REAL_SUFFIX`).
pub const REAL_SUFFIX: &str = ".cargo-ipfs-real";
const HEADER: &[u8] = b"cargo-ipfs pending build script v1";

/// How to compile a script later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The compiler cargo named.
    pub rustc: PathBuf,
    /// The working directory of the compilation.
    pub cwd: PathBuf,
    /// The binary's file name in its directory.
    pub output: OsString,
    /// The compiler's arguments, as the wrapper would have run them.
    pub args: Vec<OsString>,
    /// The variables the compilation read: `Some(value)`, or `None` when unset.
    pub env: Vec<(OsString, Option<OsString>)>,
}

#[cfg(unix)]
fn bytes(s: &OsStr) -> &[u8] {
    std::os::unix::ffi::OsStrExt::as_bytes(s)
}

#[cfg(unix)]
fn os(bytes: &[u8]) -> OsString {
    <OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(bytes).to_os_string()
}

#[cfg(not(unix))]
fn bytes(s: &OsStr) -> &[u8] {
    s.to_str().unwrap_or_default().as_bytes()
}

#[cfg(not(unix))]
fn os(bytes: &[u8]) -> OsString {
    OsString::from(String::from_utf8_lossy(bytes).into_owned())
}

impl Pending {
    /// The file's bytes; `None` when a field holds a NUL byte.
    pub fn encode(&self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut field = |part: &[u8]| {
            out.extend_from_slice(part);
            out.push(0);
            !part.contains(&0)
        };
        let mut ok = field(HEADER);
        for (tag, value) in [("R", self.rustc.as_os_str()), ("D", self.cwd.as_os_str()), ("O", &self.output)] {
            ok &= field(tag.as_bytes()) & field(bytes(value));
        }
        for arg in &self.args {
            ok &= field(b"A") & field(bytes(arg));
        }
        for (name, value) in &self.env {
            match value {
                Some(value) => ok &= field(b"E") & field(bytes(name)) & field(bytes(value)),
                None => ok &= field(b"U") & field(bytes(name)),
            }
        }
        ok.then_some(out)
    }

    /// Reads the file's bytes; `None` when they are not such a file.
    pub fn decode(data: &[u8]) -> Option<Pending> {
        let body = data.strip_suffix(&[0])?;
        let mut fields = body.split(|b| *b == 0);
        if fields.next()? != HEADER {
            return None;
        }
        let (mut rustc, mut cwd, mut output) = (None, None, None);
        let (mut args, mut env) = (Vec::new(), Vec::new());
        while let Some(tag) = fields.next() {
            match tag {
                b"R" => rustc = Some(PathBuf::from(os(fields.next()?))),
                b"D" => cwd = Some(PathBuf::from(os(fields.next()?))),
                b"O" => output = Some(os(fields.next()?)),
                b"A" => args.push(os(fields.next()?)),
                b"E" => env.push((os(fields.next()?), Some(os(fields.next()?)))),
                b"U" => env.push((os(fields.next()?), None)),
                _ => return None,
            }
        }
        Some(Pending { rustc: rustc?, cwd: cwd?, output: output?, args, env })
    }
}

/// Whether the script binary `real` waits to be compiled.
pub fn is_pending(real: &Path) -> bool {
    !real.exists() && real.parent().is_some_and(|dir| dir.join(PENDING).is_file())
}

/// The real binary `dir`'s pending script compiles to.
fn real_path(dir: &Path, output: &OsStr) -> PathBuf {
    let mut name = output.to_os_string();
    name.push(REAL_SUFFIX);
    dir.join(name)
}

/// `args` with the value of `--out-dir` replaced by `dir`; `None` unless
/// there is exactly one.
pub fn with_out_dir(args: &[OsString], dir: &Path) -> Option<Vec<OsString>> {
    let mut out = Vec::with_capacity(args.len());
    let mut found = 0;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--out-dir" {
            iter.next()?;
            out.push(arg.clone());
            out.push(dir.as_os_str().to_os_string());
            found += 1;
        } else if bytes(arg).starts_with(b"--out-dir=") {
            let mut replaced = OsString::from("--out-dir=");
            replaced.push(dir);
            out.push(replaced);
            found += 1;
        } else {
            out.push(arg.clone());
        }
    }
    (found == 1).then_some(out)
}

/// Compiles the script `real` waits for, when it does; `Ok(true)` when it
/// was compiled now. The binary is written into a directory of this
/// process and moved into place whole, so that two runs of one script
/// never see half a binary; `marker`, the launcher's variable, is removed
/// from the compiler's environment.
pub fn compile_if_pending(real: &Path, marker: &OsStr) -> Result<bool, String> {
    if !is_pending(real) {
        return Ok(false);
    }
    let dir = real.parent().unwrap_or(Path::new("."));
    let file = dir.join(PENDING);
    let data = std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let pending =
        Pending::decode(&data).ok_or_else(|| format!("{} is not readable; run `cargo clean`", file.display()))?;
    if real_path(dir, &pending.output) != real {
        return Err(format!("{} names another binary; run `cargo clean`", file.display()));
    }
    let work = dir.join(format!(".cargo-ipfs-compile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let result = compile_into(&pending, &work, real, marker);
    let _ = std::fs::remove_dir_all(&work);
    result?;
    let _ = std::fs::remove_file(&file);
    Ok(true)
}

fn compile_into(pending: &Pending, work: &Path, real: &Path, marker: &OsStr) -> Result<(), String> {
    let args = with_out_dir(&pending.args, work).ok_or("the pending compilation names no single --out-dir")?;
    let mut cmd = Command::new(&pending.rustc);
    cmd.args(&args).current_dir(&pending.cwd).env_remove(marker).stdin(Stdio::null());
    for (name, value) in &pending.env {
        match value {
            Some(value) => cmd.env(name, value),
            None => cmd.env_remove(name),
        };
    }
    let out = cmd.output().map_err(|e| format!("cannot run {}: {e}", pending.rustc.display()))?;
    if !out.status.success() {
        // What rustc said goes to stderr: the script's stdout is cargo's.
        let _ = std::io::stderr().write_all(&out.stderr);
        return Err(format!("compiling the build script failed ({})", out.status));
    }
    if real.exists() {
        return Ok(()); // another run of the same script compiled it first
    }
    let built = work.join(&pending.output);
    std::fs::rename(&built, real).map_err(|e| format!("cannot move {} to {}: {e}", built.display(), real.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Pending {
        Pending {
            rustc: "/usr/bin/rustc".into(),
            cwd: "/home/u/.cargo/registry/src/x/pkg-1.0.0".into(),
            output: "build_script_build-0a1b".into(),
            args: vec!["--crate-name".into(), "build_script_build".into(), "--out-dir".into(), "/t/b".into()],
            env: vec![
                ("CARGO_MANIFEST_DIR".into(), Some("/p".into())),
                ("PKG_X".into(), None),
                ("E".into(), Some("".into())),
            ],
        }
    }

    #[test]
    fn round_trips_and_refuses_what_it_cannot_hold() {
        let p = sample();
        let data = p.encode().unwrap();
        assert_eq!(Pending::decode(&data), Some(p.clone()));
        assert_eq!(Pending::decode(&data[..data.len() - 1]), None, "cut short");
        let mut unknown = data.clone();
        unknown.extend_from_slice(b"Z\0x\0");
        assert_eq!(Pending::decode(&unknown), None, "an unknown tag");
        let mut nul = p;
        nul.args.push("a\0b".into());
        assert_eq!(nul.encode(), None);
    }

    #[test]
    fn the_out_dir_is_replaced_once_in_either_form() {
        let dir = Path::new("/w");
        let a: Vec<OsString> = vec!["x".into(), "--out-dir".into(), "/t".into()];
        assert_eq!(with_out_dir(&a, dir).unwrap(), vec![OsString::from("x"), "--out-dir".into(), "/w".into()]);
        let b: Vec<OsString> = vec!["--out-dir=/t".into()];
        assert_eq!(with_out_dir(&b, dir).unwrap(), vec![OsString::from("--out-dir=/w")]);
        let none: Vec<OsString> = vec!["x".into()];
        assert_eq!(with_out_dir(&none, dir), None);
        let two: Vec<OsString> = vec!["--out-dir=/t".into(), "--out-dir".into(), "/u".into()];
        assert_eq!(with_out_dir(&two, dir), None);
    }
}
