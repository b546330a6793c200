//! The cache of identities, checked against what they were computed from.
//!
//! An identity covers more than the program that answers for it: the
//! compiler's libraries and sysroot, the linker's startup objects, libc and
//! `ld`. Each of these can change while the program's own file keeps its
//! stamp (a libc6-dev upgrade changes `crt1.o` but not `cc`; a sysroot
//! rebuilt in place; a toolchain replaced behind the same name). So a
//! cached identity keeps the stamp of every file and directory it was
//! computed from, and is used only while each of them is unchanged: a
//! `stat` per file on each use, tens of microseconds, where computing it
//! again costs rustc runs and hashing the standard library.

use crate::atomic_file::Durability;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long a file must have stayed unchanged before an identity computed
/// from it is cached: a change within the file system's timestamp
/// granularity (a few milliseconds) could leave its stamp as it was, so a
/// fresher file is read again on the next use rather than trusted.
pub(super) const SETTLE: Duration = Duration::from_secs(2);

/// The stamps of what an identity is being computed from. A file is
/// stamped before it is read, so a change while it is read shows on the
/// next use as another stamp.
#[derive(Debug)]
pub(super) struct Watched {
    stamps: Vec<(PathBuf, String)>,
    unsettled: bool,
    settle: Duration,
}

impl Watched {
    /// Stamps nothing yet; a file changed within `settle` leaves the
    /// identity uncached ([`SETTLE`] but in tests).
    pub(super) fn new(settle: Duration) -> Self {
        Watched { stamps: Vec::new(), unsettled: false, settle }
    }

    /// Stamps `path` (a file or a directory, whose stamp changes when an
    /// entry is added, removed or renamed); a missing path is stamped as
    /// absent, so that its appearance is a change too.
    pub(super) fn add(&mut self, path: &Path) {
        let stamp = match std::fs::metadata(path) {
            Ok(meta) => {
                if !settled(&meta, self.settle) {
                    self.unsettled = true;
                }
                stamp(&meta)
            }
            Err(_) => ABSENT.to_string(),
        };
        self.stamps.push((path.to_path_buf(), stamp));
    }

    /// Leaves the identity uncached: what it was computed from is in doubt.
    pub(super) fn doubt(&mut self) {
        self.unsettled = true;
    }
}

const ABSENT: &str = "absent";

/// What no edit, copy or replacement of a file keeps: size, modification
/// time, and on Unix the change time (which `touch -r` and every write
/// set), inode and device.
fn stamp(meta: &std::fs::Metadata) -> String {
    let mtime =
        meta.modified().ok().and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        format!("{} {} {}.{} {} {}", meta.len(), mtime, meta.ctime(), meta.ctime_nsec(), meta.ino(), meta.dev())
    }
    #[cfg(not(unix))]
    format!("{} {}", meta.len(), mtime)
}

/// The stamp of `path` now (`absent` when it cannot be read).
pub(super) fn stamp_of(path: &Path) -> String {
    std::fs::metadata(path).map_or_else(|_| ABSENT.to_string(), |meta| stamp(&meta))
}

fn settled(meta: &std::fs::Metadata, settle: Duration) -> bool {
    let old = |t: SystemTime| t.elapsed().is_ok_and(|age| age >= settle);
    #[cfg(unix)]
    let changed = {
        use std::os::unix::fs::MetadataExt;
        let nanos = u32::try_from(meta.ctime_nsec()).unwrap_or(0);
        u64::try_from(meta.ctime()).ok().map(|secs| SystemTime::UNIX_EPOCH + Duration::new(secs, nanos))
    };
    #[cfg(not(unix))]
    let changed = meta.modified().ok();
    meta.modified().is_ok_and(old) && changed.is_some_and(old)
}

/// A cached identity and the stamps it holds under, as lines: the value
/// as JSON, then `stamp<TAB>path` for each file (a line format, since
/// reading it is most of the cost of every wrapper call).
fn encode<T: Serialize>(value: &T, stamps: &[(PathBuf, String)]) -> Option<Vec<u8>> {
    let mut out = serde_json::to_vec(value).ok()?;
    for (path, stamp) in stamps {
        let path = path.as_os_str().as_encoded_bytes();
        // A name with a line break cannot be written down: not cached.
        if path.contains(&b'\n') {
            return None;
        }
        out.push(b'\n');
        out.extend_from_slice(stamp.as_bytes());
        out.push(b'\t');
        out.extend_from_slice(path);
    }
    Some(out)
}

fn read_valid<T: DeserializeOwned>(file: &Path) -> Option<T> {
    let bytes = std::fs::read(file).ok()?;
    let mut lines = bytes.split(|&b| b == b'\n');
    let value = serde_json::from_slice(lines.next()?).ok()?;
    for line in lines {
        let tab = line.iter().position(|&b| b == b'\t')?;
        let stamp = std::str::from_utf8(&line[..tab]).ok()?;
        #[cfg(unix)]
        let path = std::os::unix::ffi::OsStrExt::from_bytes(&line[tab + 1..]);
        #[cfg(not(unix))]
        let path = std::ffi::OsStr::new(std::str::from_utf8(&line[tab + 1..]).ok()?);
        if stamp_of(Path::new::<std::ffi::OsStr>(path)) != stamp {
            return None;
        }
    }
    Some(value)
}

/// The value cached as `name` in `dir` while every file and directory it
/// was computed from has its stamp; else `compute` (which stamps what it
/// reads into the `Watched` it is given), cached unless something it read
/// had changed within `settle` ([`SETTLE`] but in tests). Processes that miss together compute one
/// at a time under a lock, so that the wrappers of a build's first jobs do
/// not all hash the standard library: the later ones find the first one's
/// result. Caching is best effort: a store it cannot write to costs time,
/// not the identity.
pub(super) fn cached<T: Serialize + DeserializeOwned>(
    dir: &Path,
    name: &str,
    settle: Duration,
    compute: impl FnOnce(&mut Watched) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let file = dir.join(format!("{name}.json"));
    if let Some(value) = read_valid(&file) {
        return Ok(value);
    }
    let _ = std::fs::create_dir_all(dir);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(format!("{name}.lock")))
        .ok()
        .filter(|lock| lock.lock().is_ok());
    if lock.is_some() {
        if let Some(value) = read_valid(&file) {
            return Ok(value);
        }
    }
    let mut watched = Watched::new(settle);
    let value = compute(&mut watched)?;
    if !watched.unsettled {
        if let Some(bytes) = encode(&value, &watched.stamps) {
            let _ = crate::atomic_file::replace(&file, &bytes, Durability::Unsynced);
        }
    }
    Ok(value)
}
