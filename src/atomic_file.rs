//! Replacing a file whole: the bytes go to a temporary file beside it,
//! which is then renamed over it, so that a reader sees the old file or
//! the new one and a crash leaves at most a temporary file that nothing
//! reads (it is removed on any error). Every file this crate replaces goes
//! through here, with its durability said by the caller.

use std::fs::File;
use std::io::{self, ErrorKind, Write};
use std::path::Path;

/// Whether the new content must reach the disk before the rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Flushed before the rename: signed state (IPNS records, the trust,
    /// seen and published files), whose loss would lose a publication or
    /// a rollback check.
    Synced,
    /// Not flushed: caches (digests, identities, statistics, the cache
    /// map), where a file lost in a crash reads as absent or malformed and
    /// costs a miss, and where a flush per file would dominate a hit.
    Unsynced,
}

/// How to write the temporary file.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// See [`Durability`].
    pub durability: Durability,
    /// The temporary file's name starts with this.
    pub prefix: &'static str,
    /// The new file's mode (Unix); else tempfile's owner-only `0600`.
    pub mode: Option<u32>,
}

impl Options {
    /// A `.tmp-` file with owner-only permissions.
    pub const fn new(durability: Durability) -> Options {
        Options { durability, prefix: ".tmp-", mode: None }
    }
}

/// Replaces `path` with `bytes`.
pub fn replace(path: &Path, bytes: &[u8], durability: Durability) -> io::Result<()> {
    replace_with(path, Options::new(durability), |file| file.write_all(bytes))
}

/// Replaces `path` with what `write` writes into the temporary file,
/// creating the parent directory when it is missing.
pub fn replace_with<T>(path: &Path, options: Options, write: impl FnOnce(&mut File) -> io::Result<T>) -> io::Result<T> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let temp = || {
        let mut builder = tempfile::Builder::new();
        builder.prefix(options.prefix);
        #[cfg(unix)]
        if let Some(mode) = options.mode {
            builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(mode));
        }
        builder.tempfile_in(dir)
    };
    // The folder usually exists: make it only when it does not.
    let mut tmp = match temp() {
        Ok(tmp) => tmp,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)?;
            temp()?
        }
        Err(e) => return Err(e),
    };
    let value = write(tmp.as_file_mut())?;
    crate::failpoint::hit("file.written");
    if options.durability == Durability::Synced {
        tmp.as_file().sync_data()?;
    }
    // On error the temporary file is removed when `tmp` drops.
    tmp.persist(path).map_err(|e| e.error)?;
    crate::failpoint::hit("file.replaced");
    Ok(value)
}

/// Runs `f` holding an exclusive lock on `lock_path` (created if absent;
/// released when `f` returns, or when the process dies): a
/// read-modify-write of a file that several processes change, such as a
/// cache-map record, done under it loses no one's change.
pub fn locked<R>(lock_path: &Path, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(lock_path)?;
    lock.lock()?;
    let out = f();
    drop(lock);
    out
}

/// Under the lock `lock_path`, reads the JSON file `path` as a `T`, lets
/// `edit` change it, then writes it back, or removes the file when `edit`
/// returns `false` (nothing left in it). A file that is missing or does
/// not read as a `T` is left as it is.
pub fn edit_json<T: serde::Serialize + serde::de::DeserializeOwned>(
    lock_path: &Path,
    path: &Path,
    edit: impl FnOnce(&mut T) -> bool,
) -> io::Result<()> {
    locked(lock_path, || {
        let Ok(bytes) = std::fs::read(path) else { return Ok(()) };
        let Ok(mut value) = serde_json::from_slice::<T>(&bytes) else { return Ok(()) };
        if edit(&mut value) {
            return replace(path, &serde_json::to_vec(&value).map_err(io::Error::other)?, Durability::Unsynced);
        }
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("f");
        replace(&path, b"one", Durability::Synced).unwrap();
        replace(&path, b"two", Durability::Unsynced).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        // A writer that fails leaves the old content and nothing else.
        let err = replace_with(&path, Options::new(Durability::Synced), |f| {
            f.write_all(b"half")?;
            Err::<(), _>(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> =
            std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["f"]);
    }

    #[cfg(unix)]
    #[test]
    fn the_mode_is_the_one_asked_for() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exe");
        replace_with(&path, Options { mode: Some(0o755), ..Options::new(Durability::Unsynced) }, |f| f.write_all(b"x"))
            .unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o755);
        replace(&path, b"y", Durability::Unsynced).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
