//! Running the real build script: replacing this process when nothing is
//! cached, or as a child whose output is kept for a record.

use super::super::paths::PathMap;
use super::super::record::tee;
use crate::vars;
use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

/// What a run of the real script did.
pub struct Output {
    /// Its exit code (1 for a death by signal).
    pub status: i32,
    /// Its standard output, kept whole (cargo reads it only at the end).
    pub stdout: Vec<u8>,
    /// Its standard error, passed on as it came and kept.
    pub stderr: Vec<u8>,
}

/// The real script, with the launcher's marker removed from its
/// environment (its probes run this program as their rustc wrapper).
fn command(real: &Path, args: &[OsString]) -> Command {
    let mut cmd = Command::new(real);
    cmd.args(args).env_remove(vars::BUILD_SCRIPT);
    cmd
}

/// Compiles the real script first when its compilation is pending
/// ([`super::pending`]), binding its identity to the binary; `Ok(true)`
/// when it was compiled now.
pub fn ready(real: &Path) -> Result<bool, String> {
    let compiled = super::pending::compile_if_pending(real, vars::BUILD_SCRIPT.as_ref())?;
    if compiled {
        if let Ok(bytes) = std::fs::read(real) {
            let _ = super::identity::confirm(real, &crate::artifact::pack::file_digest(&bytes));
        }
    }
    Ok(compiled)
}

/// Replaces this process with the real script (or runs it and exits with
/// its status where there is no `exec`).
pub fn exec_real(real: &Path, args: &[OsString]) -> ExitCode {
    if let Err(e) = ready(real) {
        eprintln!("cargo-ipfs: {e}");
        return ExitCode::FAILURE;
    }
    let mut cmd = command(real, args);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = cmd.exec();
        eprintln!("cargo-ipfs: cannot run the build script {}: {err}", real.display());
        ExitCode::FAILURE
    }
    #[cfg(not(unix))]
    match cmd.status() {
        Ok(status) => super::super::run::exit_code(status.code().unwrap_or(1)),
        Err(err) => {
            eprintln!("cargo-ipfs: cannot run the build script {}: {err}", real.display());
            ExitCode::FAILURE
        }
    }
}

/// `-ffile-prefix-map=PATH=PLACEHOLDER` for every machine path, the
/// longest last (the C compilers try the last given first), so that what
/// a C compiler writes (debug info, `__FILE__`) names no machine path.
/// `None` when a path holds white space, which `CFLAGS` cannot carry.
pub fn prefix_map_flags(map: &PathMap) -> Option<String> {
    let flags: Vec<String> = map
        .remap_args()
        .iter()
        .filter_map(|arg| arg.strip_prefix("--remap-path-prefix=").map(|pair| format!("-ffile-prefix-map={pair}")))
        .collect();
    (!flags.iter().any(|f| f.contains(char::is_whitespace))).then(|| flags.join(" "))
}

/// The environment additions that carry `flags` to the C and C++
/// compilers `cc` runs: appended to `CFLAGS` and `CXXFLAGS`, which `cc`
/// passes last.
pub fn flag_env(flags: &str) -> Vec<(OsString, OsString)> {
    ["CFLAGS", "CXXFLAGS"]
        .iter()
        .map(|name| {
            let mut value = std::env::var_os(name).unwrap_or_default();
            if !value.is_empty() {
                value.push(" ");
            }
            value.push(flags);
            (OsString::from(name), value)
        })
        .collect()
}

/// Runs the real script with `extra` variables set, keeping its output.
pub fn run(real: &Path, args: &[OsString], extra: &[(OsString, OsString)]) -> std::io::Result<Output> {
    ready(real).map_err(std::io::Error::other)?;
    let mut cmd = command(real, args);
    for (name, value) in extra {
        cmd.env(name, value);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let (stdout, stderr) = std::thread::scope(|s| {
        let handle = s.spawn(move || {
            let mut all = Vec::new();
            out.read_to_end(&mut all).map(|_| all)
        });
        let stderr = tee(&mut err, &mut std::io::stderr());
        (handle.join().expect("stdout thread"), stderr)
    });
    let status = child.wait()?.code().unwrap_or(1);
    Ok(Output { status, stdout: stdout?, stderr: stderr? })
}
