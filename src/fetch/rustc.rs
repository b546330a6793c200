//! Which rustc a build started here would run, so that a fetch selects the
//! artifacts of the compiler the build will key on.
//!
//! Cargo runs `RUSTC`, else `build.rustc` (`CARGO_BUILD_RUSTC`, then the
//! `.cargo/config.toml` files from the current directory up, then
//! `$CARGO_HOME/config.toml`), else `rustc` from PATH. Cargo's own
//! configuration API is unstable, so the files are read here, for this one
//! key. The toolchain rustup picks (`cargo +name`, which sets
//! `RUSTUP_TOOLCHAIN`, or a `rust-toolchain.toml`) needs nothing here:
//! the program found is run in the same directory and environment as cargo
//! would be, and rustup's proxy picks the same toolchain
//! (`toolchain::rustc_identity` asks a proxy which one).

use crate::vars;
use anyhow::Context;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The rustc program a build in `cwd` would run, given cargo's home and
/// the environment (`env`).
pub(super) fn rustc_program(
    cwd: &Path,
    cargo_home: Option<&Path>,
    env: impl Fn(&str) -> Option<OsString>,
) -> anyhow::Result<PathBuf> {
    let set = |name: &str| env(name).filter(|value| !value.is_empty());
    if let Some(rustc) = set(vars::RUSTC) {
        return Ok(rustc.into());
    }
    if let Some(rustc) = set(vars::CARGO_BUILD_RUSTC) {
        return Ok(program(Path::new(&rustc), cwd));
    }
    for file in config_files(cwd, cargo_home) {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read cargo's configuration {}", file.display())),
        };
        let table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("{} is not valid TOML; fix it (cargo refuses it too)", file.display()))?;
        let Some(value) = table.get("build").and_then(|build| build.get("rustc")) else { continue };
        let rustc = value.as_str().with_context(|| {
            format!("`build.rustc` in {} is not a string; make it the path or name of a rustc", file.display())
        })?;
        // Relative to the directory holding `.cargo/`, as cargo reads it.
        let base = file.parent().and_then(Path::parent).unwrap_or(cwd);
        return Ok(program(Path::new(rustc), base));
    }
    Ok(PathBuf::from("rustc"))
}

/// A program as configured: a bare name is found on PATH when run, a
/// relative path is relative to `base`.
fn program(value: &Path, base: &Path) -> PathBuf {
    if value.components().count() > 1 && value.is_relative() {
        base.join(value)
    } else {
        value.to_path_buf()
    }
}

/// Cargo's configuration files, the ones that win first: `.cargo/config`
/// (which cargo prefers when both exist) or `.cargo/config.toml` in `cwd`
/// and each directory above, then in cargo's home if not among them.
fn config_files(cwd: &Path, cargo_home: Option<&Path>) -> Vec<PathBuf> {
    let pick = |dir: &Path| ["config", "config.toml"].iter().map(|name| dir.join(name)).find(|file| file.is_file());
    let mut files: Vec<PathBuf> = cwd.ancestors().filter_map(|dir| pick(&dir.join(".cargo"))).collect();
    if let Some(file) = cargo_home.and_then(pick) {
        if !files.contains(&file) {
            files.push(file);
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_rustc_cargo_would_run_is_found_in_its_order() {
        let tmp = tempfile::tempdir().unwrap();
        let (home, project) = (tmp.path().join("home"), tmp.path().join("ws/project"));
        std::fs::create_dir_all(&project).unwrap();
        let no_env = |_: &str| None;
        let find = |env: &dyn Fn(&str) -> Option<OsString>| rustc_program(&project, Some(&home), env).unwrap();
        assert_eq!(find(&no_env), Path::new("rustc"));
        write(&home.join("config.toml"), "[build]\nrustc = \"home-rustc\"\n");
        assert_eq!(find(&no_env), Path::new("home-rustc"), "a bare name, found on PATH");
        write(&tmp.path().join("ws/.cargo/config.toml"), "[build]\nrustc = \"tools/rustc\"\n");
        assert_eq!(find(&no_env), tmp.path().join("ws/tools/rustc"), "relative to the directory of .cargo");
        write(&project.join(".cargo/config.toml"), "[build]\njobs = 2\n");
        assert_eq!(find(&no_env), tmp.path().join("ws/tools/rustc"), "a file without the key passes");
        write(&project.join(".cargo/config.toml"), "[build]\nrustc = \"/opt/rust/bin/rustc\"\n");
        assert_eq!(find(&no_env), Path::new("/opt/rust/bin/rustc"), "the nearest file wins");
        let build_rustc = |name: &str| (name == vars::CARGO_BUILD_RUSTC).then(|| OsString::from("env-rustc"));
        assert_eq!(find(&build_rustc), Path::new("env-rustc"));
        let both = |name: &str| match name {
            n if n == vars::RUSTC => Some(OsString::from("/usr/bin/rustc")),
            _ => build_rustc(name),
        };
        assert_eq!(find(&both), Path::new("/usr/bin/rustc"), "RUSTC before all");
    }

    #[test]
    fn a_broken_configuration_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join(".cargo/config.toml"), "[build\n");
        let err = rustc_program(tmp.path(), None, |_| None).unwrap_err();
        assert!(format!("{err:#}").contains("config.toml is not valid TOML"), "{err:#}");
        write(&tmp.path().join(".cargo/config.toml"), "[build]\nrustc = 1\n");
        let err = rustc_program(tmp.path(), None, |_| None).unwrap_err();
        assert!(format!("{err:#}").contains("`build.rustc`"), "{err:#}");
    }
}
