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

/// The workspace lockfile for `manifest` (or the current directory): beside
/// the manifest when no workspace can enclose it (see [`standalone_lock`]),
/// else where cargo says the workspace root is.
pub fn find(manifest: Option<&Path>) -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().ok();
    if let Some(lock) = standalone_lock(manifest, cwd.as_deref()) {
        return Ok(lock);
    }
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

/// The lockfile of a package that is its own workspace root, found without
/// starting cargo (which costs tens of milliseconds before the first
/// lookup): the manifest given, or the nearest `Cargo.toml` from `cwd` up,
/// either has a `[workspace]` table, or has no `package.workspace` key and
/// no `Cargo.toml` above it has a `[workspace]` table or a
/// `package.workspace` key. Its `Cargo.lock` must be beside it. `None`
/// whenever that is not certain (a manifest that does not parse, a
/// workspace above that may or may not include it): then cargo decides.
pub fn standalone_lock(manifest: Option<&Path>, cwd: Option<&Path>) -> Option<PathBuf> {
    let manifest = match manifest {
        Some(path) => path.to_path_buf(),
        None => cwd?.ancestors().map(|d| d.join("Cargo.toml")).find(|p| p.is_file())?,
    };
    // Cargo refuses a manifest by another name; let it say so.
    if manifest.file_name()? != "Cargo.toml" {
        return None;
    }
    let manifest = std::path::absolute(manifest).ok()?;
    let table = |path: &Path| -> Option<toml::Table> { std::fs::read_to_string(path).ok()?.parse().ok() };
    let own = table(&manifest)?;
    let lock = manifest.with_file_name("Cargo.lock");
    if !lock.is_file() {
        return None;
    }
    if own.contains_key("workspace") {
        return Some(lock);
    }
    if own.get("package").and_then(|p| p.get("workspace")).is_some() {
        return None;
    }
    // Any manifest above that is or names a workspace root (or cannot be
    // read) may enclose this one: cargo decides.
    let names_root = |t: &toml::Table| t.get("package").and_then(|p| p.get("workspace")).is_some();
    for dir in manifest.parent()?.ancestors().skip(1) {
        let above = dir.join("Cargo.toml");
        if above.exists() && table(&above).is_none_or(|t| t.contains_key("workspace") || names_root(&t)) {
            return None;
        }
    }
    Some(lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standalone_package_s_lock_is_found_without_cargo_and_a_workspace_above_defers_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        let package = "[package]\nname = \"p\"\nversion = \"0.1.0\"\n";
        // A standalone package, given or found from a directory inside it.
        write("solo/Cargo.toml", package);
        write("solo/Cargo.lock", "version = 4\n");
        write("solo/src/main.rs", "fn main() {}\n");
        let solo = dir.path().join("solo");
        assert_eq!(standalone_lock(Some(&solo.join("Cargo.toml")), None), Some(solo.join("Cargo.lock")));
        assert_eq!(standalone_lock(None, Some(&solo.join("src"))), Some(solo.join("Cargo.lock")));
        // Without its lockfile: cargo's turn (it will say what is wrong).
        write("nolock/Cargo.toml", package);
        assert_eq!(standalone_lock(Some(&dir.path().join("nolock/Cargo.toml")), None), None);
        // A workspace root is its own root.
        write("ws/Cargo.toml", "[workspace]\nmembers = [\"m\"]\n");
        write("ws/Cargo.lock", "version = 4\n");
        let ws = dir.path().join("ws");
        assert_eq!(standalone_lock(Some(&ws.join("Cargo.toml")), None), Some(ws.join("Cargo.lock")));
        // A package under a workspace, even with a stray lockfile of its own,
        // and one that names its root: cargo decides.
        write("ws/m/Cargo.toml", package);
        write("ws/m/Cargo.lock", "version = 4\n");
        assert_eq!(standalone_lock(Some(&ws.join("m/Cargo.toml")), None), None);
        write("named/Cargo.toml", &format!("{package}workspace = \"..\"\n"));
        write("named/Cargo.lock", "version = 4\n");
        assert_eq!(standalone_lock(Some(&dir.path().join("named/Cargo.toml")), None), None);
        // Under a package that names a workspace root elsewhere: cargo
        // decides (it may be a member of that workspace).
        write("elsewhere/Cargo.toml", &format!("{package}workspace = \"../ws\"\n"));
        write("elsewhere/sub/Cargo.toml", package);
        write("elsewhere/sub/Cargo.lock", "version = 4\n");
        assert_eq!(standalone_lock(Some(&dir.path().join("elsewhere/sub/Cargo.toml")), None), None);
        // A manifest by another name: cargo refuses it, and says so.
        write("odd/other.toml", package);
        write("odd/Cargo.lock", "version = 4\n");
        assert_eq!(standalone_lock(Some(&dir.path().join("odd/other.toml")), None), None);
        // A manifest that does not parse: cargo decides.
        write("bad/Cargo.toml", "[package\n");
        write("bad/Cargo.lock", "version = 4\n");
        assert_eq!(standalone_lock(Some(&dir.path().join("bad/Cargo.toml")), None), None);
    }

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
