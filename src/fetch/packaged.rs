//! The lockfile a published crate packages, for `cargo ipfs install
//! --locked NAME@VERSION`: cargo builds the tool against the `Cargo.lock`
//! inside its `.crate`, so that lockfile names the artifacts to fetch
//! before they are needed, as `cargo ipfs-fetch` does for a project. The
//! `.crate` is the one cargo downloads into its cache
//! (`$CARGO_HOME/registry/cache/<registry>/NAME-VERSION.crate`), read once
//! it is there whole. Only `Cargo.toml` and `Cargo.lock` are taken out of
//! it, each at most [`MAX_FILE`]: a damaged or hostile `.crate` only costs
//! the prefetch, since every artifact is still checked against the signed
//! index and restored only under its exact key.

use anyhow::{bail, Context};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest `Cargo.toml` or `Cargo.lock` taken out of a `.crate`.
pub const MAX_FILE: u64 = 16 << 20;

/// The crate and exact version `cargo install` builds with its packaged
/// lockfile: `--locked` and one `NAME@VERSION` (or `NAME --version
/// VERSION`) with an exact version; `None` otherwise (cargo then resolves
/// versions itself, or installs from a path or git).
pub fn install_spec(cargo_args: &[String]) -> Option<(String, String)> {
    // `cargo install` options that take a value.
    const VALUED: &[&str] = &[
        "--version",
        "--vers",
        "--root",
        "--index",
        "--registry",
        "--git",
        "--branch",
        "--tag",
        "--rev",
        "--path",
        "--target",
        "--target-dir",
        "--features",
        "-F",
        "--profile",
        "--bin",
        "--example",
        "--config",
        "-j",
        "--jobs",
        "-Z",
        "--color",
        "--message-format",
    ];
    let mut locked = false;
    let mut version = None;
    let mut crates = Vec::new();
    let mut args = cargo_args.iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with('-') => (flag, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        match flag {
            "--locked" => locked = true,
            "--git" | "--path" => return None,
            "--version" | "--vers" => version = inline.or_else(|| args.next().cloned()),
            f if VALUED.contains(&f) => {
                if inline.is_none() {
                    args.next();
                }
            }
            f if f.starts_with('-') => {}
            _ => crates.push(arg.clone()),
        }
    }
    let [spec] = crates.as_slice() else { return None };
    let (name, version) = match spec.split_once('@') {
        Some((name, v)) => (name.to_string(), v.to_string()),
        None => (spec.clone(), version?),
    };
    let exact = version.trim_start_matches('=');
    (locked && is_plain(&name) && is_plain(exact) && exact.contains('.')).then(|| (name, exact.to_string()))
}

/// Whether `s` can be a crate name or an exact version: letters, digits
/// and `-_.+`, nothing that a path or a requirement needs.
pub fn is_plain(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
}

/// The `.crate` of `name` `version` in cargo's download cache, if any.
pub fn cached_crate(cargo_home: &Path, name: &str, version: &str) -> Option<PathBuf> {
    let file = format!("{name}-{version}.crate");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cargo_home.join("registry").join("cache"))
        .ok()?
        .filter_map(|e| Some(e.ok()?.path()))
        .collect();
    dirs.sort();
    dirs.into_iter().map(|dir| dir.join(&file)).find(|path| path.is_file())
}

/// Takes `Cargo.toml` and `Cargo.lock` of `name` `version` out of the
/// `.crate` at `crate_file` into `dest`; the manifest's path.
pub fn extract_lock(crate_file: &Path, name: &str, version: &str, dest: &Path) -> anyhow::Result<PathBuf> {
    let file = std::fs::File::open(crate_file).with_context(|| format!("cannot open {}", crate_file.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let prefix = format!("{name}-{version}/");
    let mut found = 0;
    for entry in archive.entries().context("not a .crate")? {
        let mut entry = entry.context("a damaged .crate")?;
        let path = entry.path().context("a damaged .crate")?.to_string_lossy().into_owned();
        let Some(rel) = path.strip_prefix(&prefix) else { continue };
        if !matches!(rel, "Cargo.toml" | "Cargo.lock") || !entry.header().entry_type().is_file() {
            continue;
        }
        if entry.size() > MAX_FILE {
            bail!("{rel} in {} is over {MAX_FILE} bytes", crate_file.display());
        }
        let mut bytes = Vec::new();
        entry.by_ref().take(MAX_FILE).read_to_end(&mut bytes).context("a damaged .crate")?;
        std::fs::write(dest.join(rel), bytes).with_context(|| format!("cannot write {rel}"))?;
        found += 1;
    }
    if found != 2 {
        bail!("{} packages no Cargo.lock", crate_file.display());
    }
    Ok(dest.join("Cargo.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn only_a_locked_exact_registry_install_has_a_packaged_lockfile_to_read() {
        let spec = |line: &str| install_spec(&args(line));
        let rg = Some(("ripgrep".to_string(), "14.1.1".to_string()));
        assert_eq!(spec("--locked ripgrep@14.1.1 --root /r --force"), rg);
        assert_eq!(spec("--root /r --locked ripgrep --version 14.1.1"), rg);
        assert_eq!(spec("--locked --version=14.1.1 --features a,b ripgrep"), rg);
        assert_eq!(spec("--locked ripgrep@=14.1.1"), rg);
        assert_eq!(spec("ripgrep@14.1.1"), None, "not --locked: cargo resolves versions");
        assert_eq!(spec("--locked ripgrep"), None, "no version");
        assert_eq!(spec("--locked ripgrep@^14"), None, "a requirement");
        assert_eq!(spec("--locked ripgrep@14.1.1 bat@0.24.0"), None, "several crates");
        assert_eq!(spec("--locked --git https://x/y ripgrep@14.1.1"), None);
        assert_eq!(spec("--locked --root ripgrep@1.0.0 tool@2.0.0"), Some(("tool".into(), "2.0.0".into())));
    }

    fn write_crate(path: &Path, files: &[(&str, &[u8])]) {
        let gz = flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        for (name, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, *bytes).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
    }

    #[test]
    fn the_manifest_and_lockfile_come_out_of_a_crate_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let cache = home.join("registry/cache/index.crates.io-0123");
        std::fs::create_dir_all(&cache).unwrap();
        let file = cache.join("tool-1.0.0.crate");
        write_crate(
            &file,
            &[
                ("tool-1.0.0/Cargo.toml", b"[package]\nname = \"tool\"\n"),
                ("tool-1.0.0/Cargo.lock", b"version = 3\n"),
                ("tool-1.0.0/src/main.rs", b"fn main() {}\n"),
                ("other-1.0.0/Cargo.lock", b"not this one\n"),
            ],
        );
        assert_eq!(cached_crate(&home, "tool", "1.0.0"), Some(file.clone()));
        assert_eq!(cached_crate(&home, "tool", "1.0.1"), None);
        let dest = dir.path().join("out");
        std::fs::create_dir_all(&dest).unwrap();
        let manifest = extract_lock(&file, "tool", "1.0.0", &dest).unwrap();
        assert_eq!(manifest, dest.join("Cargo.toml"));
        assert_eq!(std::fs::read(dest.join("Cargo.lock")).unwrap(), b"version = 3\n");
        assert!(!dest.join("src").exists());
        // Without a lockfile, or cut short: refused.
        write_crate(&file, &[("tool-1.0.0/Cargo.toml", b"[package]\n")]);
        assert!(extract_lock(&file, "tool", "1.0.0", &dest).unwrap_err().to_string().contains("no Cargo.lock"));
        let whole = std::fs::read(&file).unwrap();
        std::fs::write(&file, &whole[..whole.len() / 2]).unwrap();
        assert!(extract_lock(&file, "tool", "1.0.0", &dest).is_err());
    }
}
