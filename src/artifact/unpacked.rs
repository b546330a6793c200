//! Unpacked artifacts: the output files of each artifact kept ready to be
//! placed into a target directory, so that a cache hit costs a few copies
//! (reflinks where the file system has them) instead of a decompression.
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
//! Placing a file ([`place`]) is a copy, never a hard link (see there); on
//! file systems with copy-on-write the copy is a reflink. The files keep
//! their usual modes: rustc refuses to replace an output it cannot write,
//! even though it replaces rather than writes it. Placed files get the
//! current modification time, since cargo compares the times of a unit's
//! outputs with its dependencies' outputs. What a hit may place is checked
//! by the wrapper first (`crate::wrapper::replay`).

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

    /// The directory of the copies.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the copy of `cid` lives. Only a CID in its canonical text form
    /// names a directory, so that no string from an entry or a cache file
    /// (`/ipfs/...`, `../...`) can lead outside the unpacked copies.
    fn path(&self, cid: &str) -> std::io::Result<PathBuf> {
        let canonical = cid::Cid::try_from(cid).is_ok_and(|parsed| parsed.to_string() == cid);
        if !canonical {
            let why = format!("{cid:?} is not a CID in its canonical form; no unpacked copy is named by it");
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, why));
        }
        Ok(self.dir.join(cid))
    }

    /// The copy of `cid`, if it is there and whole (every file present with
    /// its recorded size). A damaged copy is removed, and reads as absent.
    pub fn get(&self, cid: &str) -> Option<Copy> {
        let dir = self.path(cid).ok()?;
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
    pub fn put(&self, cid: &str, meta: &Meta, files: &[PackedFile]) -> anyhow::Result<Copy> {
        self.put_with(cid, |out| {
            let mut infos = Vec::with_capacity(files.len());
            for file in files {
                super::pack::check_name(&file.name)?;
                let path = out.join(&file.name);
                std::fs::write(&path, &file.bytes).map_err(|e| crate::store::StoreError::io(&path, e))?;
                infos.push(FileInfo {
                    name: file.name.clone(),
                    executable: file.executable,
                    size: file.bytes.len() as u64,
                    sha256: file_digest(&file.bytes),
                });
            }
            Ok((meta.clone(), infos))
        })
    }

    /// Writes the copy of `cid` unless a whole one is there already, and
    /// returns it: `fill` writes the files into the (new, empty) directory
    /// it is given and returns the metadata and what it wrote; the copy is
    /// renamed into place only when `fill` succeeds, else nothing is left.
    pub fn put_with(
        &self,
        cid: &str,
        fill: impl FnOnce(&Path) -> anyhow::Result<(Meta, Vec<FileInfo>)>,
    ) -> anyhow::Result<Copy> {
        self.path(cid)?;
        if let Some(copy) = self.get(cid) {
            return Ok(copy);
        }
        // A full disk says so, with what to do.
        let io = |e| crate::store::StoreError::io(&self.dir, e);
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let tmp = tempfile::Builder::new().prefix(".tmp-").tempdir_in(&self.dir).map_err(io)?;
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).map_err(io)?;
        let (meta, files) = fill(&out)?;
        for file in &files {
            set_mode(&out.join(&file.name), if file.executable { 0o755 } else { 0o644 }).map_err(io)?;
        }
        let manifest = Manifest { meta, files };
        let json = serde_json::to_vec(&manifest).expect("manifests serialize");
        std::fs::write(tmp.path().join("manifest.json"), json).map_err(io)?;
        let dest = self.path(cid)?;
        let kept = tmp.keep();
        crate::failpoint::hit("unpacked.filled");
        match std::fs::rename(&kept, &dest) {
            Ok(()) => Ok(Copy { dir: dest, manifest }),
            Err(err) => {
                let _ = std::fs::remove_dir_all(&kept);
                // Another process put the same artifact first: use theirs.
                self.get(cid).ok_or_else(|| err.into())
            }
        }
    }

    /// Removes the copy of `cid` (moved aside first, so that no reader sees
    /// it half removed).
    pub fn discard(&self, cid: &str) {
        let Ok(dir) = self.path(cid) else { return };
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

/// Puts a copy of `src` (a file of an unpacked copy) at `dest`, replacing
/// what is there in one rename, with the current modification time, mode
/// `0755` when `executable` else `0644`.
///
/// Never a hard link: a linker that rewrites its output in place (mold
/// reuses the inode) would write through a link into the store's copy,
/// and the next hit would place those bytes and file their digest as the
/// artifact's. The copy is made by `std::fs::copy`, which on Linux is
/// `copy_file_range`: in the kernel, and a reflink where the file system
/// has them.
pub fn place(src: &Path, dest: &Path, executable: bool) -> std::io::Result<()> {
    let dir = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".cargo-ipfs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let copied = std::fs::copy(src, &tmp)
        .and_then(|_| set_mode(&tmp, if executable { 0o755 } else { 0o644 }))
        .and_then(|()| std::fs::File::open(&tmp)?.set_modified(std::time::SystemTime::now()))
        .and_then(|()| std::fs::rename(&tmp, dest));
    if copied.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    copied
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CID in its canonical form, as artifacts are named.
    fn cid() -> String {
        crate::formats::block::Block::encode(crate::formats::block::RAW, false, b"artifact".to_vec()).cid().to_string()
    }

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
        let bafyx = cid();
        let bafyx = bafyx.as_str();
        assert!(unpacked.get(bafyx).is_none());
        let copy = unpacked.put(bafyx, &meta, &files).unwrap();
        assert_eq!(copy.manifest.meta, meta);
        assert_eq!(copy.manifest.files[0].sha256, file_digest(b"rlib bytes"));
        assert_eq!(std::fs::read(copy.file("libx.rlib")).unwrap(), b"rlib bytes");
        assert!(unpacked.get(bafyx).is_some());
        // A putting twice keeps the first copy.
        unpacked.put(bafyx, &meta, &files).unwrap();
        // A truncated file makes the copy read as absent, and it is removed.
        let path = copy.file("libx.rlib");
        std::fs::write(&path, b"short").unwrap();
        assert!(unpacked.get(bafyx).is_none());
        assert!(!copy.dir.exists());
        // A missing manifest also reads as absent.
        let copy = unpacked.put(bafyx, &meta, &files).unwrap();
        std::fs::remove_file(copy.dir.join("manifest.json")).unwrap();
        assert!(unpacked.get(bafyx).is_none());
        let copy = unpacked.put(bafyx, &meta, &files).unwrap();
        assert_eq!(std::fs::read(copy.file("x")).unwrap(), b"\x7fELF");
    }

    #[cfg(unix)]
    #[test]
    fn placing_copies_so_that_no_write_to_an_output_reaches_the_store() {
        use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
        let store = tempfile::tempdir().unwrap();
        let target = tempfile::tempdir().unwrap();
        let (meta, files) = sample();
        let unpacked = Unpacked::new(store.path());
        let copy = unpacked.put(&cid(), &meta, &files).unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::open(copy.file("libx.rlib")).unwrap().set_modified(old).unwrap();

        let dest = target.path().join("libx.rlib");
        std::fs::write(&dest, b"stale output").unwrap();
        place(&copy.file("libx.rlib"), &dest, false).unwrap();
        let (src_meta, dest_meta) =
            (std::fs::metadata(copy.file("libx.rlib")).unwrap(), std::fs::metadata(&dest).unwrap());
        assert_ne!(src_meta.ino(), dest_meta.ino());
        assert!(dest_meta.modified().unwrap() > old + std::time::Duration::from_secs(3000));
        assert_eq!(dest_meta.permissions().mode() & 0o777, 0o644);
        assert_eq!(std::fs::read(&dest).unwrap(), b"rlib bytes");

        // A linker that rewrites its output in place, same size (mold
        // reuses the inode): the store's copy keeps its bytes, and the next
        // hit places them again.
        std::fs::OpenOptions::new().write(true).open(&dest).unwrap().write_all_at(b"RLIB", 0).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"RLIB bytes");
        let again = unpacked.get(&cid()).unwrap();
        assert_eq!(std::fs::read(again.file("libx.rlib")).unwrap(), b"rlib bytes");
        place(&again.file("libx.rlib"), &dest, false).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"rlib bytes");

        let exe = target.path().join("x");
        place(&copy.file("x"), &exe, true).unwrap();
        place(&copy.file("x"), &exe, true).unwrap();
        assert_eq!(std::fs::metadata(&exe).unwrap().permissions().mode() & 0o777, 0o755);
        // Placed twice over the same outputs, and no temporary file is left.
        let mut names: Vec<_> = std::fs::read_dir(target.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["libx.rlib", "x"]);
    }

    #[test]
    fn only_a_canonical_cid_names_a_copy() {
        let store = tempfile::tempdir().unwrap();
        let unpacked = Unpacked::new(store.path());
        let (meta, files) = sample();
        let good = cid();
        for bad in [format!("/ipfs/{good}"), format!(" {good}"), "../escape".into(), "/tmp/x".into(), String::new()] {
            let err = unpacked.put(&bad, &meta, &files).unwrap_err();
            assert!(err.to_string().contains("canonical"), "{err}");
            assert!(unpacked.get(&bad).is_none());
        }
        assert!(!store.path().join("wrapper").join("escape").exists());
        assert!(unpacked.put(&good, &meta, &files).is_ok());
    }
}
