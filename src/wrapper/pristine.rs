//! Whether a registry package's extracted sources are the `.crate`'s, and
//! whether a vendored package's files are those its checksums list.
//!
//! A registry crate is keyed by its `.crate` file's checksum, but rustc
//! compiles the files cargo extracted under `$CARGO_HOME/registry/src/`,
//! which nothing stops a user from editing (cargo does not fingerprint
//! them). Keyed by the checksum alone, a patched package would hit the
//! pristine crate's artifact, and a recording build would journal the
//! patched one under the registry's name. So before a registry crate is
//! keyed, its package directory is compared with the `.crate`: the same
//! files (cargo's own `.cargo-ok` aside) with the same bytes.
//!
//! A vendored package (`cargo vendor`, or any directory source that
//! replaces a registry) has no `.crate` beside it, but cargo's
//! `.cargo-checksum.json` names the `.crate`'s checksum (`package`) and
//! lists every file with its sha256 (`files`). It is taken as the crate
//! only while its files are exactly the listed ones with the listed
//! content: the usual way of patching a vendored crate, emptying `files`
//! so that cargo stops checking, reads as modified. (Editing a file and
//! its listed checksum together would pass, as it passes cargo: the list is
//! what cargo itself trusts.)
//!
//! Decompressing the `.crate` on every rustc run would cost more than a
//! hit, so a verdict is kept under `<store>/wrapper/pristine/`, named
//! after the package directory, together with a stamp of every file and
//! directory in it: path, size, modification and change times, inode. An
//! edit changes the change time even when it restores the modification
//! time (`touch -r`) or the size, and a replaced file has a new inode, so
//! no edit keeps the stamp; any change of stamp compares again.

use crate::atomic_file::{replace, Durability};
use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The file cargo writes into a package directory once it is extracted.
const CARGO_OK: &str = ".cargo-ok";
/// The file that lists a vendored package's files and checksums.
pub const CARGO_CHECKSUM: &str = ".cargo-checksum.json";
/// Bounds on what a `.crate` may unpack to before it is taken as not
/// matching (a miss, never an error): files, and bytes in all.
const MAX_FILES: usize = 100_000;
const MAX_BYTES: u64 = 1 << 30;

/// Whether `package_dir` holds exactly the files of `crate_file` (whose
/// sha256 is `checksum`), from the verdict kept in `store_dir` while the
/// directory's stamp is unchanged, else by comparing them now.
pub fn is_pristine(store_dir: &Path, package_dir: &Path, crate_file: &Path, checksum: &str) -> bool {
    verdict(store_dir, package_dir, checksum, || matches_crate(package_dir, crate_file))
}

/// Whether a vendored package (`cargo vendor`, or any directory source)
/// holds exactly the files its `.cargo-checksum.json` lists, each with the
/// sha256 listed (`files`), kept like [`is_pristine`]'s verdict. The stamp
/// covers `.cargo-checksum.json` too, and `checksum` is its `package`.
pub fn is_vendored_pristine(
    store_dir: &Path,
    package_dir: &Path,
    files: &BTreeMap<String, String>,
    checksum: &str,
) -> bool {
    verdict(store_dir, package_dir, checksum, || matches_checksums(package_dir, files))
}

/// The kept verdict for `package_dir` while its stamp is unchanged, else
/// `compare`'s, kept.
fn verdict(
    store_dir: &Path,
    package_dir: &Path,
    checksum: &str,
    compare: impl FnOnce() -> std::io::Result<bool>,
) -> bool {
    let Ok(stamp) = stamp(package_dir, checksum) else { return false };
    let verdict_file = verdict_path(store_dir, package_dir);
    match std::fs::read_to_string(&verdict_file) {
        Ok(kept) if kept == format!("pristine {stamp}") => return true,
        Ok(kept) if kept == format!("modified {stamp}") => return false,
        _ => {}
    }
    let pristine = compare().unwrap_or(false);
    let verdict = format!("{} {stamp}", if pristine { "pristine" } else { "modified" });
    // A verdict that cannot be kept is made again next time.
    let _ = replace(&verdict_file, verdict.as_bytes(), Durability::Unsynced);
    pristine
}

fn verdict_path(store_dir: &Path, package_dir: &Path) -> PathBuf {
    let digest = hex::encode(Sha256::digest(package_dir.as_os_str().as_encoded_bytes()));
    store_dir.join("wrapper").join("pristine").join(&digest[..32])
}

/// A digest of the checksum and of every entry under `dir`: its path, kind,
/// size, times and inode.
fn stamp(dir: &Path, checksum: &str) -> std::io::Result<String> {
    let mut lines = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current)? {
            let path = entry?.path();
            let meta = std::fs::symlink_metadata(&path)?;
            let rel = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().into_owned();
            lines.push(format!("{rel}\0{}", describe(&meta)));
            if meta.is_dir() {
                stack.push(path);
            }
        }
    }
    lines.sort();
    let mut h = Sha256::new();
    h.update(checksum.as_bytes());
    for line in lines {
        h.update(line.as_bytes());
        h.update([b'\n']);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(unix)]
fn describe(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{:o} {} {}.{} {}.{} {} {}",
        meta.mode(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
        meta.ino(),
        meta.dev()
    )
}

#[cfg(not(unix))]
fn describe(meta: &std::fs::Metadata) -> String {
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    format!("{:?} {} {:?}", meta.file_type(), meta.len(), mtime)
}

/// Whether the regular files under `dir` (but `.cargo-ok`) are exactly the
/// files of the gzipped tar `crate_file`, byte for byte. The archive holds
/// them under one top directory (`NAME-VERSION/`).
fn matches_crate(dir: &Path, crate_file: &Path) -> std::io::Result<bool> {
    let mut archive = tar::Archive::new(GzDecoder::new(std::fs::File::open(crate_file)?));
    let mut expected = BTreeSet::new();
    let mut total = 0u64;
    let mut buffers = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() || expected.len() >= MAX_FILES {
            return Ok(false);
        }
        let path = entry.path()?.into_owned();
        let mut parts = path.components();
        parts.next();
        let rel = parts.as_path().to_path_buf();
        if rel.as_os_str().is_empty() || rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            return Ok(false);
        }
        let size = entry.size();
        total += size;
        if total > MAX_BYTES || !same_bytes(&mut entry, size, &dir.join(&rel), &mut buffers)? {
            return Ok(false);
        }
        expected.insert(rel);
    }
    // And nothing else on disk but cargo's marker.
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current)? {
            let path = entry?.path();
            let meta = std::fs::symlink_metadata(&path)?;
            let rel = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
            if meta.is_dir() {
                stack.push(path);
            } else if !expected.contains(&rel) && rel != Path::new(CARGO_OK) {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Whether the regular files under `dir` (but `.cargo-checksum.json`) are
/// exactly those `files` lists (paths relative to `dir`, `/`-separated),
/// each with the sha256 listed.
fn matches_checksums(dir: &Path, files: &BTreeMap<String, String>) -> std::io::Result<bool> {
    if files.len() > MAX_FILES {
        return Ok(false);
    }
    let mut found = 0;
    let mut total = 0u64;
    let mut buffer = vec![0u8; 1 << 16];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current)? {
            let path = entry?.path();
            let meta = std::fs::symlink_metadata(&path)?;
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(dir).unwrap_or(&path);
            let Some(rel) = rel.to_str().map(|r| r.replace(std::path::MAIN_SEPARATOR, "/")) else { return Ok(false) };
            if rel == CARGO_CHECKSUM {
                continue;
            }
            let Some(expected) = files.get(&rel) else { return Ok(false) };
            total += meta.len();
            if !meta.is_file() || total > MAX_BYTES {
                return Ok(false);
            }
            let mut hasher = Sha256::new();
            let mut file = std::fs::File::open(&path)?;
            loop {
                match file.read(&mut buffer)? {
                    0 => break,
                    n => hasher.update(&buffer[..n]),
                }
            }
            if hex::encode(hasher.finalize()) != *expected {
                return Ok(false);
            }
            found += 1;
        }
    }
    Ok(found == files.len())
}

/// Whether `path` is a regular file of `size` bytes holding exactly what
/// `reader` reads, compared through `buffers`.
fn same_bytes(
    reader: &mut impl Read,
    size: u64,
    path: &Path,
    (a, b): &mut (Vec<u8>, Vec<u8>),
) -> std::io::Result<bool> {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return Ok(false) };
    if !meta.is_file() || meta.len() != size {
        return Ok(false);
    }
    let mut file = std::fs::File::open(path)?;
    loop {
        let n = read_full(reader, a)?;
        let m = read_full(&mut file, &mut b[..n.max(1)])?;
        if n != m || a[..n] != b[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the reader ends; the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;

    /// A `.crate` of `files` (path, bytes) under `probe-0.1.0/`, and the
    /// package extracted from it with cargo's marker.
    fn package(root: &Path, files: &[(&str, &[u8])]) -> (PathBuf, PathBuf) {
        let crate_file = root.join("probe-0.1.0.crate");
        let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::default()));
        let dir = root.join("src").join("probe-0.1.0");
        for (name, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, format!("probe-0.1.0/{name}"), *bytes).unwrap();
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        std::fs::write(&crate_file, tar.into_inner().unwrap().finish().unwrap()).unwrap();
        std::fs::write(dir.join(CARGO_OK), br#"{"v":1}"#).unwrap();
        (dir, crate_file)
    }

    const FILES: &[(&str, &[u8])] =
        &[("Cargo.toml", b"[package]\nname = \"probe\"\n"), ("src/lib.rs", b"pub fn f() {}\n")];

    #[test]
    fn an_extracted_package_is_pristine_until_edited() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("store");
        let (dir, crate_file) = package(tmp.path(), FILES);
        assert!(is_pristine(&store, &dir, &crate_file, "c1"));
        // The verdict is kept: with the `.crate` gone, the same stamp says so.
        let kept = std::fs::read(&crate_file).unwrap();
        std::fs::remove_file(&crate_file).unwrap();
        assert!(is_pristine(&store, &dir, &crate_file, "c1"));
        std::fs::write(&crate_file, &kept).unwrap();

        // An edit of the same size, its modification time put back as
        // `touch -r` does: the change time differs, so it is compared again.
        let lib = dir.join("src/lib.rs");
        let mtime = std::fs::metadata(&lib).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&lib, b"pub fn g() {}\n").unwrap();
        std::fs::File::options().write(true).open(&lib).unwrap().set_modified(mtime).unwrap();
        assert!(!is_pristine(&store, &dir, &crate_file, "c1"));
        assert!(!is_pristine(&store, &dir, &crate_file, "c1"), "the verdict is kept too");
        // Put back as it was: pristine again.
        std::fs::write(&lib, b"pub fn f() {}\n").unwrap();
        assert!(is_pristine(&store, &dir, &crate_file, "c1"));
    }

    #[test]
    fn added_removed_and_replaced_files_are_not_pristine() {
        for change in ["add", "remove", "link", "cargo-ok"] {
            let tmp = tempfile::tempdir().unwrap();
            let store = tmp.path().join("store");
            let (dir, crate_file) = package(tmp.path(), FILES);
            let lib = dir.join("src/lib.rs");
            match change {
                "add" => std::fs::write(dir.join("src/extra.rs"), b"").unwrap(),
                "remove" => std::fs::remove_file(dir.join("Cargo.toml")).unwrap(),
                "link" => {
                    let real = tmp.path().join("elsewhere.rs");
                    std::fs::write(&real, b"pub fn f() {}\n").unwrap();
                    std::fs::remove_file(&lib).unwrap();
                    #[cfg(unix)]
                    std::os::unix::fs::symlink(&real, &lib).unwrap();
                }
                // Cargo's marker alone may differ or be missing.
                _ => std::fs::remove_file(dir.join(CARGO_OK)).unwrap(),
            }
            assert_eq!(is_pristine(&store, &dir, &crate_file, "c1"), change == "cargo-ok", "{change}");
        }
    }

    #[test]
    fn an_unreadable_crate_is_not_pristine() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("store");
        let (dir, crate_file) = package(tmp.path(), FILES);
        std::fs::write(&crate_file, b"not gzip").unwrap();
        assert!(!is_pristine(&store, &dir, &crate_file, "c2"));
        std::fs::remove_file(&crate_file).unwrap();
        assert!(!is_pristine(&store, &dir, &crate_file, "c3"));
    }
}
