//! Leaving a build script's compilation for when its run needs it
//! ([`super::pending`]): its dep-info written now (what cargo reads of the
//! compilation, and what the script's identity is made of), the launcher
//! in place, and how to compile it kept beside.

use super::launcher::install_pending;
use super::pending::{Pending, PENDING};
use crate::wrapper::unit::Unit;
use anyhow::{ensure, Context};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};

/// `args` with the emitted kinds cut to the dep-info; `None` unless one
/// `--emit=` argument names it.
fn dep_info_only(args: &[OsString]) -> Option<Vec<OsString>> {
    let mut found = 0;
    let out = args
        .iter()
        .map(|arg| match arg.to_str().and_then(|a| a.strip_prefix("--emit=")) {
            Some(kinds) if kinds.split(',').any(|k| k == "dep-info") => {
                found += 1;
                OsString::from("--emit=dep-info")
            }
            _ => arg.clone(),
        })
        .collect();
    (found == 1 && !args.iter().any(|a| a == "--emit")).then_some(out)
}

/// Defers the compilation of the build script `script` that `unit`
/// compiles with `rustc` and `all` (the arguments as the wrapper runs
/// them). `Err` leaves nothing pending: the caller compiles.
pub fn defer(rustc: &Path, all: &[OsString], unit: &Unit, script: &Path) -> anyhow::Result<()> {
    let args = dep_info_only(all).context("the compilation does not emit its dep-info as cargo asks")?;
    // Its output is not cargo's to read: a notice of the dep-info alone.
    let out = Command::new(rustc)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", rustc.display()))?;
    ensure!(out.status.success(), "writing the dep-info failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    let (identity, env) = super::identity::of_unit(unit).context("cannot read the dep-info just written")?;
    let dir = script.parent().context("the script has no directory")?;
    let pending = Pending {
        rustc: rustc.to_path_buf(),
        cwd: std::env::current_dir().context("cannot read the working directory")?,
        output: script.file_name().context("the script has no file name")?.to_os_string(),
        args: all.to_vec(),
        env: env.into_iter().map(|(name, value)| (name.into(), value.map(Into::into))).collect(),
    };
    let bytes = pending.encode().context("an argument holds a NUL byte")?;
    let file = dir.join(PENDING);
    crate::atomic_file::replace(&file, &bytes, crate::atomic_file::Durability::Unsynced)
        .with_context(|| format!("cannot write {}", file.display()))?;
    if let Err(e) = install_pending(script, &identity) {
        let _ = std::fs::remove_file(&file);
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_dep_info_is_emitted() {
        let args: Vec<OsString> = ["--crate-name", "build_script_build", "--emit=dep-info,link", "-C", "debuginfo=2"]
            .iter()
            .map(OsString::from)
            .collect();
        let cut = dep_info_only(&args).unwrap();
        assert_eq!(cut[2], "--emit=dep-info");
        assert_eq!(cut.len(), args.len());
        let no_dep_info: Vec<OsString> = vec!["--emit=link".into()];
        assert_eq!(dep_info_only(&no_dep_info), None);
        let split: Vec<OsString> = vec!["--emit".into(), "dep-info,link".into()];
        assert_eq!(dep_info_only(&split), None);
    }
}
