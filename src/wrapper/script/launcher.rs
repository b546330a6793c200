//! The launcher in place of a build-script binary.
//!
//! Cargo runs a package's build script from the binary its compilation
//! wrote (`build/<pkg>-<hash>/build_script_build-<hash>`, and the hard
//! link `build-script-build` it makes after the compilation). When the
//! wrapper compiled or restored that binary, it moves it to
//! `<binary>.cargo-ipfs-real` and puts a copy of `cargo-ipfs-launch` (built
//! beside `cargo-ipfs`) in its place, with the real binary's modification
//! time: cargo decides whether to compile or run the script again from
//! times alone, and reads no content. Beside them, the sidecar
//! `.cargo-ipfs-launch` names the real binary, this `cargo-ipfs` and the
//! variable that tells it the real binary ([`crate::vars::BUILD_SCRIPT`]); the
//! launcher runs `cargo-ipfs` in build-script mode ([`super`]), or the
//! real binary itself when that `cargo-ipfs` is gone. What is recorded and
//! shared is always the real binary: it is recorded before the launcher
//! is put in place, and a hit restores the real binary first.
//!
//! Unix only: elsewhere no launcher is installed.

use crate::wrapper::args::Invocation;
use crate::wrapper::digest::Digests;
use std::path::{Path, PathBuf};

/// The suffix of the real script binary.
pub const REAL_SUFFIX: &str = super::pending::REAL_SUFFIX;
/// The sidecar file in the script's directory.
pub const SIDECAR: &str = ".cargo-ipfs-launch";
/// The launcher program, built beside `cargo-ipfs`.
pub const LAUNCHER: &str = "cargo-ipfs-launch";

/// Whether `inv` compiles a build script cargo will run: crate
/// `build_script_*`, one `bin` crate type, linked, into a directory under
/// cargo's `build/`. `bin_name_set` is whether `CARGO_BIN_NAME` is set:
/// cargo sets it for `[[bin]]` targets only, which may carry such a name.
pub fn is_build_script(inv: &Invocation, bin_name_set: bool) -> bool {
    inv.crate_name.starts_with("build_script_")
        && inv.crate_types == ["bin"]
        && !inv.test
        && !bin_name_set
        && inv.emit.iter().any(|e| e == "link")
        && inv.out_dir.ancestors().skip(1).take(3).any(|dir| dir.file_name().is_some_and(|n| n == "build"))
}

/// The script binary rustc writes for `inv`.
pub fn script_path(inv: &Invocation) -> PathBuf {
    inv.out_dir.join(format!("{}{}", inv.crate_name, inv.extra_filename))
}

/// Puts the launcher in place of `script`. On an error, the real binary is
/// back at `script`.
#[cfg(unix)]
pub fn install(script: &Path, identity: Option<&str>, digests: &Digests) -> anyhow::Result<()> {
    use anyhow::Context;
    let mtime = std::fs::metadata(script)?.modified()?;
    let real = place(script, mtime, true)?;
    // An earlier deferral's instructions are void: the binary is here.
    let _ = std::fs::remove_file(real.with_file_name(super::pending::PENDING));
    // Without it, the runs are keyed on the binary's bytes.
    let _ = std::fs::remove_file(real.with_file_name(super::identity::IDENTITY_FILE));
    if let Some(identity) = identity {
        let sha256 = digests.of(&real).context("cannot hash the build script")?;
        super::identity::write(&real, &sha256, identity).context("cannot write the build script's identity")?;
    }
    Ok(())
}

/// Puts the launcher at `script`, whose compilation is pending
/// ([`super::pending`]): no real binary yet, the launcher's time now, and
/// the script's `identity` written for when it is compiled.
#[cfg(unix)]
pub fn install_pending(script: &Path, identity: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    // A binary compiled for this script before (cargo compiles a vendored
    // package's script again in the same directory when it changes) must
    // never run in place of the new one: it goes first.
    let dir = script.parent().context("the script has no directory")?;
    let name = script.file_name().context("the script has no file name")?;
    let stale = dir.join(format!("{}{REAL_SUFFIX}", name.to_string_lossy()));
    match std::fs::remove_file(&stale) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("cannot remove the earlier build script {}", stale.display()))
        }
        _ => {}
    }
    let real = place(script, std::time::SystemTime::now(), false)?;
    super::identity::write(&real, super::identity::PENDING_SHA256, identity)
        .context("cannot write the build script's identity")
}

/// Writes the sidecar and puts a copy of the launcher at `script` with
/// the time `mtime`, moving the binary there to the real binary's path
/// when `move_real`; the real binary's path.
#[cfg(unix)]
fn place(script: &Path, mtime: std::time::SystemTime, move_real: bool) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    use std::os::unix::ffi::OsStrExt;
    let me = std::env::current_exe().context("cannot find this program's path")?;
    let launcher = me.with_file_name(LAUNCHER);
    anyhow::ensure!(launcher.is_file(), "{} is missing; reinstall cargo-ipfs", launcher.display());
    let dir = script.parent().context("the script has no directory")?;
    let name = script.file_name().context("the script has no file name")?;
    let real_name = format!("{}{REAL_SUFFIX}", name.to_string_lossy());
    let real = dir.join(&real_name);
    let mut sidecar = real_name.as_bytes().to_vec();
    sidecar.push(0);
    sidecar.extend_from_slice(me.as_os_str().as_bytes());
    sidecar.push(0);
    sidecar.extend_from_slice(crate::vars::BUILD_SCRIPT.as_bytes());
    sidecar.push(0);
    crate::atomic_file::replace(&dir.join(SIDECAR), &sidecar, crate::atomic_file::Durability::Unsynced)?;
    // A copy, not a link: each launcher carries its own script's time.
    let tmp = dir.join(format!(".cargo-ipfs-launcher-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let placed = std::fs::copy(&launcher, &tmp)
        .and_then(|_| std::fs::File::options().write(true).open(&tmp)?.set_modified(mtime))
        .and_then(|()| if move_real { std::fs::rename(script, &real) } else { Ok(()) });
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).context("cannot put the launcher in place");
    }
    if let Err(e) = std::fs::rename(&tmp, script) {
        if move_real {
            let _ = std::fs::rename(&real, script);
        }
        let _ = std::fs::remove_file(&tmp);
        return Err(e).context("cannot put the launcher in place");
    }
    Ok(real)
}

/// No launcher outside Unix.
#[cfg(not(unix))]
pub fn install(_script: &Path, _identity: Option<&str>, _digests: &Digests) -> anyhow::Result<()> {
    Ok(())
}

/// No launcher outside Unix: nothing waits.
#[cfg(not(unix))]
pub fn install_pending(_script: &Path, _identity: &str) -> anyhow::Result<()> {
    anyhow::bail!("no launcher outside Unix")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wrapper::args::{analyze, Analysis};

    fn inv(args: &str) -> Invocation {
        let args: Vec<std::ffi::OsString> = args.split(' ').map(Into::into).collect();
        match analyze(&args) {
            Analysis::Cacheable(inv) => inv,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn build_scripts_are_told_from_binaries() {
        let script = "--crate-name build_script_build --edition=2021 build.rs --crate-type bin \
                      --emit=dep-info,link -C extra-filename=-0a1b --out-dir /t/debug/build/cfix-0a1b";
        let i = inv(script);
        assert!(is_build_script(&i, false));
        assert_eq!(script_path(&i), Path::new("/t/debug/build/cfix-0a1b/build_script_build-0a1b"));
        assert!(!is_build_script(&i, true), "a [[bin]] named like a build script");
        let bin = script.replace("/t/debug/build/cfix-0a1b", "/t/debug/deps");
        assert!(!is_build_script(&inv(&bin), false));
        let lib = script.replace("--crate-type bin", "--crate-type lib");
        assert!(!is_build_script(&inv(&lib), false));
    }
}
