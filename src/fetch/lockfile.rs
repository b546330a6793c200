//! The packages of a `Cargo.lock` that an index can hold: registry packages
//! with a checksum.

use anyhow::Context;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One locked registry package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    /// The package name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its source (`registry+...`).
    pub source: String,
    /// The `.crate` checksum.
    pub checksum: String,
}

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
}

/// Parses a lockfile's text; path and git packages are left out.
pub fn parse(text: &str) -> anyhow::Result<Vec<LockedPackage>> {
    let lock: Lock = toml::from_str(text).context("Cargo.lock is not a valid lockfile")?;
    Ok(lock
        .package
        .into_iter()
        .filter_map(|p| {
            let source = p.source.filter(|s| s.starts_with("registry+") || s.starts_with("sparse+"))?;
            Some(LockedPackage { name: p.name, version: p.version, source, checksum: p.checksum? })
        })
        .collect())
}

/// The workspace lockfile for `manifest` (or the current directory), found
/// by asking cargo where the workspace root is.
pub fn find(manifest: Option<&Path>) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["locate-project", "--workspace", "--message-format", "plain"]);
    if let Some(path) = manifest {
        cmd.arg("--manifest-path").arg(path);
    }
    let out = cmd.output().context("cannot run `cargo locate-project`")?;
    if !out.status.success() {
        anyhow::bail!(
            "cannot find the workspace: {}; run in a cargo project or pass --manifest-path",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let lock = root.with_file_name("Cargo.lock");
    if !lock.is_file() {
        anyhow::bail!("{} has no Cargo.lock; run `cargo generate-lockfile` first", root.display());
    }
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_registry_packages_with_checksums() {
        let text = r#"
version = 4

[[package]]
name = "demo"
version = "0.1.0"

[[package]]
name = "itoa"
version = "1.0.19"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "3bd1574e617a9a6c1f8f8181bd7e841e1f20e4277607ef28945765188d6284d4"

[[package]]
name = "gitdep"
version = "0.1.0"
source = "git+https://example.com/x#abc"
"#;
        let packages = parse(text).unwrap();
        assert_eq!(packages.len(), 1);
        assert_eq!(packages[0].name, "itoa");
        assert!(parse("not toml [[").is_err());
    }
}
