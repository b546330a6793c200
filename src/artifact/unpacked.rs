//! Unpacked artifacts: the output files of each artifact kept ready to be
//! placed into a target directory, so that a cache hit costs a few links and
//! small writes instead of a decompression.
//!
//! An artifact travels as a zstd-compressed tar (see [`super::pack`]) in the
//! block store; that form is the one addressed, signed and served. Next to
//! it, `<store>/wrapper/unpacked/<cid>/` holds `manifest.json` (the
//! artifact's [`Meta`] and, per file, its size, mode and sha256) and the
//! files themselves under `out/`. A copy is written in a
//! temporary directory and renamed into place, so it is whole or absent; one
//! whose files are missing or of the wrong size is thrown away and made
//! again from the verified blocks. Copies are made when an artifact is
//! recorded or fetched, or on the first hit that lacks one.
//!
//! Placing a file ([`place`]): a hard link where the store and the target
//! directory share a file system, else a copy (which file systems with
//! copy-on-write turn into a reflink). rustc replaces `.rlib`, proc-macro
//! and executable outputs by writing a new file, so they are linked; it
//! rewrites `.rmeta` files in place, so those are always copied. The files
//! keep their usual modes: rustc refuses to replace an output it cannot
//! write, even though it replaces rather than writes it. Placed
//! files get the current modification time, since cargo compares the
//! times of a unit's outputs with its dependencies' outputs.

use super::pack::{file_digest, Meta, PackedFile};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One file of an unpacked artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Its bare name, as in the artifact.
    pub name: String,
    /// Whether it is executable.
    pub executable: bool,
    /// Its size in bytes.
    pub size: u64,
    /// Its sha256 (hex), so that placing it needs no hashing.
    pub sha256: String,
}

/// `manifest.json` of an unpacked artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// What a hit replays besides the files.
    pub meta: Meta,
    /// The files, in artifact order.
    pub files: Vec<FileInfo>,
}

/// An unpacked artifact found whole.
#[derive(Debug, Clone)]
pub struct Copy {
    /// Its directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

impl Copy {
    /// The path of one of its files.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join("out").join(name)
    }
}

/// The unpacked artifacts of a store directory.
#[derive(Debug, Clone)]
pub struct Unpacked {
    dir: PathBuf,
}

impl Unpacked {
    /// The unpacked artifacts of the store at `store_dir`.
    pub fn new(store_dir: &Path) -> Self {
        Unpacked { dir: store_dir.join("wrapper").join("unpacked") }
    }

    fn path(&self, cid: &str) -> PathBuf {
        self.dir.join(cid)
    }

    /// The copy of `cid`, if it is there and whole (every file present with
    /// its recorded size). A damaged copy is removed, and reads as absent.
    pub fn get(&self, cid: &str) -> Option<Copy> {
        let dir = self.path(cid);
        let bytes = match std::fs::read(dir.join("manifest.json")) {
            Ok(bytes) => bytes,
            Err(err) => {
                if err.kind() == std::io::ErrorKind::NotFound {
                    self.discard(cid);
                }
                return None;
            }
        };
        let whole = serde_json::from_slice::<Manifest>(&bytes).ok().filter(|manifest| {
            manifest.files.iter().all(|f| {
                super::pack::check_name(&f.name).is_ok()
                    && std::fs::symlink_metadata(dir.join("out").join(&f.name))
                        .is_ok_and(|m| m.is_file() && m.len() == f.size)
            })
        });
        match whole {
            Some(manifest) => Some(Copy { dir, manifest }),
            None => {
                self.discard(cid);
                None
            }
        }
    }

    /// Writes the copy of `cid` from its unpacked contents, unless a whole
    /// one is there already, and returns it.
    pub fn put(&self, cid: &str, meta: &Meta, files: &[PackedFile]) -> std::io::Result<Copy> {
        if let Some(copy) = self.get(cid) {
            return Ok(copy);
        }
        std::fs::create_dir_all(&self.dir)?;
        let tmp = tempfile::Builder::new().prefix(".tmp-").tempdir_in(&self.dir)?;
        let out = tmp.path().join("out");
        std::fs::create_dir(&out)?;
        let mut infos = Vec::with_capacity(files.len());
        for file in files {
            super::pack::check_name(&file.name).map_err(std::io::Error::other)?;
            let path = out.join(&file.name);
            std::fs::write(&path, &file.bytes)?;
            set_mode(&path, if file.executable { 0o755 } else { 0o644 })?;
            infos.push(FileInfo {
                name: file.name.clone(),
                executable: file.executable,
                size: file.bytes.len() as u64,
                sha256: file_digest(&file.bytes),
            });
        }
        let manifest = Manifest { meta: meta.clone(), files: infos };
        std::fs::write(tmp.path().join("manifest.json"), serde_json::to_vec(&manifest).expect("manifests serialize"))?;
        let dest = self.path(cid);
        let kept = tmp.keep();
        match std::fs::rename(&kept, &dest) {
            Ok(()) => Ok(Copy { dir: dest, manifest }),
            Err(err) => {
                let _ = std::fs::remove_dir_all(&kept);
                // Another process put the same artifact first: use theirs.
                self.get(cid).ok_or(err)
            }
        }
    }

    /// Removes the copy of `cid` (moved aside first, so that no reader sees
    /// it half removed).
    pub fn discard(&self, cid: &str) {
        let dir = self.path(cid);
        if !dir.exists() {
            return;
        }
        let aside = self.dir.join(format!(".trash-{cid}-{}", std::process::id()));
        if std::fs::rename(&dir, &aside).is_ok() {
            let _ = std::fs::remove_dir_all(&aside);
        }
    }
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let mut perms = std::fs::metadata(path)?.permissions();
        perms.set_readonly(mode & 0o200 == 0);
        std::fs::set_permissions(path, perms)
    }
}

/// How a file was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// As a hard link to the unpacked copy.
    Linked,
    /// As a copy.
    Copied,
}

/// Puts `src` (a file of an unpacked copy) at `dest`, replacing what is
/// there in one rename: linked when `link` and the file systems allow it,
/// copied otherwise. The result has the current modification time and is
/// writable by its owner when it is a copy.
pub fn place(src: &Path, dest: &Path, link: bool, executable: bool) -> std::io::Result<Placed> {
    let dir = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".cargo-ipfs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    if link && std::fs::hard_link(src, &tmp).is_ok() {
        let touched = std::fs::File::open(&tmp).and_then(|f| f.set_modified(std::time::SystemTime::now()));
        if touched.is_ok() {
            return match std::fs::rename(&tmp, dest) {
                Ok(()) => Ok(Placed::Linked),
                Err(err) => {
                    let _ = std::fs::remove_file(&tmp);
                    Err(err)
                }
            };
        }
        // Not ours to touch (a store shared between users): copy instead.
        let _ = std::fs::remove_file(&tmp);
    }
    let copied = std::fs::copy(src, &tmp)
        .and_then(|_| set_mode(&tmp, if executable { 0o755 } else { 0o644 }))
        .and_then(|()| std::fs::File::open(&tmp)?.set_modified(std::time::SystemTime::now()))
        .and_then(|()| std::fs::rename(&tmp, dest));
    match copied {
        Ok(()) => Ok(Placed::Copied),
        Err(err) => {
            let _ = std::fs::remove_file(&tmp);
            Err(err)
        }
    }
}

/// Whether an output may be placed as a link: everything rustc replaces
/// rather than rewrites in place (not `.rmeta`), and not dep-info, which is
/// rewritten for this machine anyway.
pub fn linkable(name: &str) -> bool {
    !(name.ends_with(".rmeta") || name.ends_with(".d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Meta, Vec<PackedFile>) {
        let meta = Meta { stdout: String::new(), stderr: "warning".into(), status: 0, env_deps: vec![], format: 1 };
        let files = vec![
            PackedFile { name: "libx.rlib".into(), executable: false, bytes: b"rlib bytes".as_slice().into() },
            PackedFile { name: "x".into(), executable: true, bytes: b"\x7fELF".as_slice().into() },
        ];
        (meta, files)
    }

    #[test]
    fn a_copy_is_whole_or_made_again() {
        let store = tempfile::tempdir().unwrap();
        let unpacked = Unpacked::new(store.path());
        let (meta, files) = sample();
        assert!(unpacked.get("bafyx").is_none());
        let copy = unpacked.put("bafyx", &meta, &files).unwrap();
        assert_eq!(copy.manifest.meta, meta);
        assert_eq!(copy.manifest.files[0].sha256, file_digest(b"rlib bytes"));
        assert_eq!(std::fs::read(copy.file("libx.rlib")).unwrap(), b"rlib bytes");
        assert!(unpacked.get("bafyx").is_some());
        // A putting twice keeps the first copy.
        unpacked.put("bafyx", &meta, &files).unwrap();
        // A truncated file makes the copy read as absent, and it is removed.
        let path = copy.file("libx.rlib");
        std::fs::write(&path, b"short").unwrap();
        assert!(unpacked.get("bafyx").is_none());
        assert!(!copy.dir.exists());
        // A missing manifest also reads as absent.
        let copy = unpacked.put("bafyx", &meta, &files).unwrap();
        std::fs::remove_file(copy.dir.join("manifest.json")).unwrap();
        assert!(unpacked.get("bafyx").is_none());
        let copy = unpacked.put("bafyx", &meta, &files).unwrap();
        assert_eq!(std::fs::read(copy.file("x")).unwrap(), b"\x7fELF");
    }

    #[cfg(unix)]
    #[test]
    fn placing_links_or_copies_and_never_shares_a_rewritable_file() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let store = tempfile::tempdir().unwrap();
        let target = tempfile::tempdir().unwrap();
        let (meta, files) = sample();
        let copy = Unpacked::new(store.path()).put("bafyx", &meta, &files).unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::open(copy.file("libx.rlib")).unwrap().set_modified(old).unwrap();

        let dest = target.path().join("libx.rlib");
        std::fs::write(&dest, b"stale output").unwrap();
        assert_eq!(place(&copy.file("libx.rlib"), &dest, true, false).unwrap(), Placed::Linked);
        let (src_meta, dest_meta) =
            (std::fs::metadata(copy.file("libx.rlib")).unwrap(), std::fs::metadata(&dest).unwrap());
        assert_eq!(src_meta.ino(), dest_meta.ino());
        assert!(dest_meta.modified().unwrap() > old + std::time::Duration::from_secs(3000));
        assert_eq!(std::fs::read(&dest).unwrap(), b"rlib bytes");

        let rmeta = target.path().join("libx.rmeta");
        assert_eq!(place(&copy.file("libx.rlib"), &rmeta, false, false).unwrap(), Placed::Copied);
        let rmeta_meta = std::fs::metadata(&rmeta).unwrap();
        assert_ne!(rmeta_meta.ino(), src_meta.ino());
        assert_eq!(rmeta_meta.permissions().mode() & 0o777, 0o644);
        // Writing the copy in place leaves the unpacked file alone.
        std::fs::write(&rmeta, b"rewritten").unwrap();
        assert_eq!(std::fs::read(copy.file("libx.rlib")).unwrap(), b"rlib bytes");

        let exe = target.path().join("x");
        place(&copy.file("x"), &exe, false, true).unwrap();
        assert_eq!(std::fs::metadata(&exe).unwrap().permissions().mode() & 0o777, 0o755);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(target.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }

    #[test]
    fn rewritable_outputs_are_never_linked() {
        assert!(linkable("libserde-0123.rlib"));
        assert!(linkable("libserde_derive-0123.so"));
        assert!(linkable("build_script_build-0123"));
        assert!(!linkable("libserde-0123.rmeta"));
        assert!(!linkable("serde-0123.d"));
    }
}
