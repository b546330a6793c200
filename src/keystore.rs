//! The publisher's keystore: named Ed25519 keys that sign IPNS records.
//!
//! A keystore is a directory, `<store>/keystore`, holding one file per key,
//! `<name>.key`, in the format kubo's `ipfs key export
//! --format=libp2p-protobuf-cleartext` writes and `ipfs key import` reads
//! (the libp2p `PrivateKey` protobuf), so keys move between kubo and this
//! tool unchanged.
//!
//! The files hold secrets in the clear, so on unix the directory is created
//! with mode 0700 and key files with mode 0600, and a directory or key file
//! that group or other users can access is refused with the `chmod` that
//! fixes it, as ssh does. Files are written whole to a temporary file in the
//! same directory and linked into place without replacing anything, so a
//! crash never leaves a half-written key and two writers cannot clobber one
//! another's key.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::formats::ipns::{IpnsName, KeyError, Keypair};

/// The longest key name accepted.
pub const MAX_NAME_LENGTH: usize = 64;

/// A key file larger than this is not a key (an Ed25519 key is 68 bytes; a
/// 4096-bit RSA key, which kubo can also export, is under 2.5 KiB).
const MAX_KEY_FILE_SIZE: u64 = 16 * 1024;

/// Why a keystore operation failed. Each variant names the file, directory
/// or key concerned.
#[derive(Debug, Error)]
pub enum KeystoreError {
    /// The key name is empty, too long, or has characters outside the set.
    #[error("`{name}` is not a valid key name: {reason}; use 1 to {MAX_NAME_LENGTH} letters, digits, '.', '_' or '-', not starting with '.'")]
    BadName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No key file exists for the name.
    #[error("no key named {name} in {}; create it with `cargo ipfs key gen {name}`", dir.display())]
    NotFound {
        /// The key name.
        name: String,
        /// The keystore directory.
        dir: PathBuf,
    },
    /// A file already exists where a key was to be written.
    #[error("{} already exists; choose another name or remove it first", path.display())]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// A key file or the keystore directory is open to group or other users.
    #[error("{kind} {} has mode {mode:04o} but must be {need}; run `chmod {fix:o} {}`", path.display(), path.display())]
    Permissions {
        /// "key file" or "keystore directory".
        kind: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// What the mode must allow, in words.
        need: &'static str,
        /// The mode that fixes it.
        fix: u32,
    },
    /// A key file is not a usable libp2p private key.
    #[error("key file {} is not a usable libp2p private key: {reason}", path.display())]
    CorruptKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong with its contents.
        reason: KeyError,
    },
    /// Bytes given to import are not a usable libp2p private key.
    #[error("cannot import key {name}: {reason}; give a file written by `ipfs key export` or `cargo ipfs key export` (libp2p-protobuf-cleartext)")]
    InvalidImport {
        /// The name the key was to be imported as.
        name: String,
        /// What is wrong with the bytes.
        reason: KeyError,
    },
    /// A file system operation failed.
    #[error("cannot {action} {}: {error}", path.display())]
    Io {
        /// What was being done ("read", "create", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        error: io::Error,
    },
}

// The causes above are fields, not `source`s, on purpose: each message
// already includes its cause, and `anyhow` would print a source again.

impl KeystoreError {
    fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Self + 'a {
        move |error| KeystoreError::Io { action, path: path.to_path_buf(), error }
    }
}

/// A directory of named keys. See the module documentation.
#[derive(Debug, Clone)]
pub struct Keystore {
    dir: PathBuf,
}

impl Keystore {
    /// Opens the keystore at `dir`, creating it (mode 0700, its parents
    /// with the default mode) if it does not exist. An existing directory
    /// that group or other users can access is refused.
    pub fn open(dir: &Path) -> Result<Self, KeystoreError> {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(KeystoreError::io("create", parent))?;
        }
        match owner_only::create_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(KeystoreError::io("create", dir)(e)),
        }
        let metadata = fs::metadata(dir).map_err(KeystoreError::io("read", dir))?;
        if !metadata.is_dir() {
            let error = io::Error::other("it is not a directory");
            return Err(KeystoreError::Io { action: "use the keystore", path: dir.to_path_buf(), error });
        }
        owner_only::check(dir, &metadata, owner_only::DIR)?;
        Ok(Keystore { dir: dir.to_path_buf() })
    }

    /// The keystore directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds (or would hold) the key `name`.
    pub fn path(&self, name: &str) -> Result<PathBuf, KeystoreError> {
        check_name(name)?;
        Ok(self.dir.join(format!("{name}.key")))
    }

    /// Generates a new random key named `name`. An existing key of that name
    /// is never replaced.
    pub fn gen(&self, name: &str) -> Result<Keypair, KeystoreError> {
        let path = self.path(name)?;
        let keypair = Keypair::generate();
        write_private_file(&path, &keypair.to_protobuf())?;
        Ok(keypair)
    }

    /// Reads the key `name`.
    pub fn get(&self, name: &str) -> Result<Keypair, KeystoreError> {
        let path = self.path(name)?;
        read_key_file(&path).map_err(|e| match e {
            KeystoreError::Io { error, .. } if error.kind() == io::ErrorKind::NotFound => {
                KeystoreError::NotFound { name: name.to_string(), dir: self.dir.clone() }
            }
            other => other,
        })
    }

    /// Every key, as its name and IPNS name, sorted by name. Files that are
    /// not `<valid name>.key` (temporary files, notes) are ignored; a key
    /// file that cannot be read or is open to other users is an error.
    pub fn list(&self) -> Result<Vec<(String, IpnsName)>, KeystoreError> {
        let mut keys = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(KeystoreError::io("read", &self.dir))? {
            let entry = entry.map_err(KeystoreError::io("read", &self.dir))?;
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str().and_then(|f| f.strip_suffix(".key")) else { continue };
            if check_name(name).is_err() {
                continue;
            }
            let keypair = read_key_file(&entry.path())?;
            keys.push((name.to_string(), keypair.ipns_name()));
        }
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(keys)
    }

    /// Deletes the key `name`. Whatever it signed stays valid until it
    /// expires, and nothing can sign for its name again unless the key was
    /// exported.
    pub fn remove(&self, name: &str) -> Result<(), KeystoreError> {
        let path = self.path(name)?;
        fs::remove_file(&path).map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => KeystoreError::NotFound { name: name.to_string(), dir: self.dir.clone() },
            _ => KeystoreError::Io { action: "remove", path: path.clone(), error },
        })
    }

    /// The key `name` in kubo's libp2p-protobuf-cleartext format, for
    /// `ipfs key import`. The bytes are the secret key: keep them private.
    pub fn export(&self, name: &str) -> Result<Vec<u8>, KeystoreError> {
        Ok(self.get(name)?.to_protobuf())
    }

    /// Stores a key given in kubo's libp2p-protobuf-cleartext format (as
    /// `ipfs key export` writes it) under `name`, and returns its IPNS name.
    /// The key is checked first; an existing key of that name is never
    /// replaced.
    pub fn import(&self, name: &str, bytes: &[u8]) -> Result<IpnsName, KeystoreError> {
        let path = self.path(name)?;
        let keypair = Keypair::from_protobuf(bytes)
            .map_err(|reason| KeystoreError::InvalidImport { name: name.to_string(), reason })?;
        write_private_file(&path, &keypair.to_protobuf())?;
        Ok(keypair.ipns_name())
    }
}

/// Checks a key name: 1 to [`MAX_NAME_LENGTH`] characters from
/// `[A-Za-z0-9._-]`, not starting with '.' (so that it is never hidden,
/// never `.` or `..`, and never a temporary file's name).
pub fn check_name(name: &str) -> Result<(), KeystoreError> {
    let bad = |reason| Err(KeystoreError::BadName { name: name.to_string(), reason });
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_NAME_LENGTH {
        return bad("it is too long");
    }
    if name.starts_with('.') {
        return bad("it starts with '.'");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        return bad("it has a character outside the allowed set");
    }
    Ok(())
}

/// Writes `bytes` to a new file at `path` that only its owner can read
/// (mode 0600 on unix): a temporary file in the same directory, flushed to
/// disk, then linked into place. An existing file at `path` is never
/// replaced ([`KeystoreError::AlreadyExists`]).
pub fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), KeystoreError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // tempfile creates its files with mode 0600 on unix; the explicit
    // permissions say so, whatever a later version's default is.
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-key-");
    owner_only::file_permissions(&mut builder);
    let mut tmp = builder.tempfile_in(dir).map_err(KeystoreError::io("create a file in", dir))?;
    tmp.write_all(bytes).and_then(|()| tmp.as_file().sync_all()).map_err(KeystoreError::io("write", tmp.path()))?;
    tmp.persist_noclobber(path).map_err(|e| match e.error.kind() {
        io::ErrorKind::AlreadyExists => KeystoreError::AlreadyExists { path: path.to_path_buf() },
        _ => KeystoreError::Io { action: "create", path: path.to_path_buf(), error: e.error },
    })?;
    // Make the new name durable too; a failure here loses nothing written.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Reads and decodes a key file, refusing it if other users can read it.
/// The mode is checked on the open file, so it is the file that is read.
fn read_key_file(path: &Path) -> Result<Keypair, KeystoreError> {
    let file = File::open(path).map_err(KeystoreError::io("read", path))?;
    let metadata = file.metadata().map_err(KeystoreError::io("read", path))?;
    if !metadata.is_file() {
        let error = io::Error::other("it is not a regular file");
        return Err(KeystoreError::Io { action: "read the key file", path: path.to_path_buf(), error });
    }
    owner_only::check(path, &metadata, owner_only::FILE)?;
    let mut bytes = Vec::new();
    file.take(MAX_KEY_FILE_SIZE + 1).read_to_end(&mut bytes).map_err(KeystoreError::io("read", path))?;
    if bytes.len() as u64 > MAX_KEY_FILE_SIZE {
        let reason = KeyError::BadLength { what: "key file", len: bytes.len(), expected: "at most 16384" };
        return Err(KeystoreError::CorruptKey { path: path.to_path_buf(), reason });
    }
    Keypair::from_protobuf(&bytes).map_err(|reason| KeystoreError::CorruptKey { path: path.to_path_buf(), reason })
}

/// Owner-only permissions: the only platform-specific code in the keystore.
/// On other platforms files get the default permissions of their directory
/// and nothing is checked.
mod owner_only {
    use std::fs::Metadata;
    use std::io;
    use std::path::Path;

    use super::KeystoreError;

    /// What a kind of path must allow, and the mode that fixes it.
    pub struct Rule {
        kind: &'static str,
        need: &'static str,
        fix: u32,
    }

    pub const DIR: Rule = Rule { kind: "keystore directory", need: "accessible by its owner only", fix: 0o700 };
    pub const FILE: Rule = Rule { kind: "key file", need: "readable by its owner only", fix: 0o600 };

    #[cfg(unix)]
    pub fn create_dir(dir: &Path) -> io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).create(dir)
    }

    #[cfg(not(unix))]
    pub fn create_dir(dir: &Path) -> io::Result<()> {
        std::fs::create_dir(dir)
    }

    #[cfg(unix)]
    pub fn file_permissions(builder: &mut tempfile::Builder) {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o600));
    }

    #[cfg(not(unix))]
    pub fn file_permissions(_builder: &mut tempfile::Builder) {}

    /// Refuses `path` if group or other users have any access to it.
    #[cfg(unix)]
    pub fn check(path: &Path, metadata: &Metadata, rule: Rule) -> Result<(), KeystoreError> {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o7777;
        if mode & 0o077 == 0 {
            return Ok(());
        }
        Err(KeystoreError::Permissions {
            kind: rule.kind,
            path: path.to_path_buf(),
            mode,
            need: rule.need,
            fix: rule.fix,
        })
    }

    #[cfg(not(unix))]
    pub fn check(_path: &Path, _metadata: &Metadata, _rule: Rule) -> Result<(), KeystoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
