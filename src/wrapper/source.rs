//! Where the crate being compiled comes from: a registry crate, named by
//! its `.crate` file's checksum anywhere (extracted by cargo, or vendored
//! with the checksum in `.cargo-checksum.json`), or a path or git crate,
//! named by its manifest directory and cached only in this store.

use super::digest::Digests;
use super::env::WrapperEnv;
use anyhow::Context;
use std::path::Path;

/// Where the crate comes from.
#[derive(Debug, Clone)]
pub struct Source {
    /// The package name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// `registry+URL` as in Cargo.lock (crates.io), `registry+local:DIR`
    /// for another registry (DIR is its folder under
    /// `$CARGO_HOME/registry/src/`, `HOST-HASH`), or a local description.
    pub source: String,
    /// The `.crate` file's sha256; empty for a path or git crate.
    pub checksum: String,
    /// For a vendored package: the sha256 of the files and digests its
    /// `.cargo-checksum.json` lists, in the key beside `checksum`, which a
    /// patch whose list was written anew leaves as it was. Empty otherwise.
    pub listed: String,
    /// A registry crate, which its `.crate` checksum identifies anywhere:
    /// journaled when recorded (`publish` sends only crates.io's unless
    /// told otherwise). Path and git crates are only ever cached locally.
    pub registry: bool,
}

impl Source {
    /// Whether this is a path or git crate, cached only in this store.
    pub fn is_local(&self) -> bool {
        self.checksum.is_empty()
    }
}

/// What the registry says of the crate being compiled.
#[derive(Debug, Clone)]
pub enum Registry {
    /// A registry crate whose package directory holds exactly its `.crate`.
    Crate(Source),
    /// A registry crate whose extracted sources were changed: the `.crate`
    /// does not say what is compiled, so it is no registry crate here.
    Modified,
    /// Not a registry crate.
    No,
}

/// A registry crate's identity: its package directory sits at
/// `$CARGO_HOME/registry/src/<registry>/<name>-<version>`, and the `.crate`
/// file cargo verified against the lockfile checksum at
/// `$CARGO_HOME/registry/cache/<registry>/<name>-<version>.crate`. The
/// package directory must hold exactly the `.crate`'s files
/// ([`super::pristine`]).
pub fn registry_source(
    env: &WrapperEnv,
    cargo_home: &Path,
    digests: &Digests,
    store_dir: &Path,
) -> anyhow::Result<Registry> {
    let Some(manifest_dir) = &env.manifest_dir else { return Ok(Registry::No) };
    let Ok(rel) = manifest_dir.strip_prefix(cargo_home.join("registry").join("src")) else { return Ok(Registry::No) };
    let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned());
    let (Some(registry), Some(package)) = (parts.next(), parts.next()) else { return Ok(Registry::No) };
    let name = env.pkg_name.clone().unwrap_or_default();
    let version = env.pkg_version.clone().unwrap_or_default();
    if package != format!("{name}-{version}") {
        return Ok(Registry::No);
    }
    let crate_file = cargo_home.join("registry").join("cache").join(&registry).join(format!("{package}.crate"));
    if !crate_file.is_file() {
        return Ok(Registry::No);
    }
    let checksum = digests.of(&crate_file).with_context(|| format!("cannot hash {}", crate_file.display()))?;
    let package_dir = cargo_home.join("registry").join("src").join(&registry).join(&package);
    if !super::pristine::is_pristine(store_dir, &package_dir, &crate_file, &checksum) {
        return Ok(Registry::Modified);
    }
    let crates_io = registry.starts_with("index.crates.io-") || registry.starts_with("github.com-");
    let source = if crates_io {
        crate::index::entry::CRATES_IO_SOURCE.to_string()
    } else {
        format!("registry+local:{registry}")
    };
    Ok(Registry::Crate(Source { name, version, source, checksum, listed: String::new(), registry: true }))
}

pub use crate::index::entry::VENDORED_SOURCE;

/// `.cargo-checksum.json`.
#[derive(serde::Deserialize)]
struct Checksums {
    files: std::collections::BTreeMap<String, String>,
    package: Option<String>,
}

/// A vendored crate's identity (`cargo vendor`, or any directory source):
/// its package directory holds `.cargo-checksum.json`, whose `package` is
/// the `.crate`'s checksum (absent for a git dependency, which is then no
/// registry crate). The directory must hold exactly the files listed
/// there, with their listed digests ([`super::pristine`]).
pub fn vendored_source(env: &WrapperEnv, store_dir: &Path) -> Registry {
    let Some(package_dir) = &env.manifest_dir else { return Registry::No };
    let Ok(bytes) = std::fs::read(package_dir.join(super::pristine::CARGO_CHECKSUM)) else { return Registry::No };
    let Ok(Checksums { files, package: Some(checksum) }) = serde_json::from_slice::<Checksums>(&bytes) else {
        return Registry::No;
    };
    let (Some(name), Some(version)) = (env.pkg_name.clone(), env.pkg_version.clone()) else { return Registry::No };
    let is_sha256 = checksum.len() == 64 && checksum.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !is_sha256 || !super::pristine::is_vendored_pristine(store_dir, package_dir, &files, &checksum) {
        return Registry::Modified;
    }
    let listed = {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for (path, digest) in &files {
            for part in [path, digest] {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part.as_bytes());
            }
        }
        hex::encode(h.finalize())
    };
    Registry::Crate(Source { name, version, source: VENDORED_SOURCE.to_string(), checksum, listed, registry: true })
}

/// A path or git crate, cached only with `CARGO_IPFS_LOCAL` (see
/// [`super::local_sources`]): named by its manifest directory (normalized with the
/// other paths before it enters the key), never journaled.
pub fn local_source(env: &WrapperEnv) -> Option<Source> {
    let dir = env.manifest_dir.as_ref()?;
    Some(Source {
        name: env.pkg_name.clone()?,
        version: env.pkg_version.clone()?,
        source: format!("local:{}", dir.display()),
        checksum: String::new(),
        listed: String::new(),
        registry: false,
    })
}
