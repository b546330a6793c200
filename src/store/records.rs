//! IPNS records kept beside the blocks: `<store>/ipns/<k51 name>.ipns-record`.
//!
//! A record is verified against its name before it is stored, and replaces
//! the stored one only if it is better by the IPNS selection rules (higher
//! sequence, then later validity), so a stale or forged record can never
//! displace a good one.

use crate::formats::ipns::{better, verify_record, IpnsError, IpnsName};
use std::cmp::Ordering;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use thiserror::Error;

/// Why a record could not be stored or read.
#[derive(Debug, Error)]
pub enum RecordError {
    /// The record does not verify.
    #[error(transparent)]
    Invalid(#[from] IpnsError),
    /// The record file could not be read or written.
    #[error("IPNS record store I/O error at {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// What [`RecordStore::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The record is now the stored one.
    Stored,
    /// The stored record is as good or better; it was kept.
    Kept,
}

/// A directory of IPNS records, one per name.
#[derive(Debug, Clone)]
pub struct RecordStore {
    dir: PathBuf,
}

impl RecordStore {
    /// Opens (creating if needed) the record directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, RecordError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| RecordError::Io { path: dir.clone(), source })?;
        Ok(RecordStore { dir })
    }

    fn path(&self, name: &IpnsName) -> PathBuf {
        self.dir.join(format!("{name}.ipns-record"))
    }

    /// The stored record bytes for `name`, unverified (callers verify with
    /// the time of use).
    pub fn get(&self, name: &IpnsName) -> Result<Option<Vec<u8>>, RecordError> {
        let path = self.path(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(source) => Err(RecordError::Io { path, source }),
        }
    }

    /// The names of the stored records, sorted.
    pub fn names(&self) -> Result<Vec<IpnsName>, RecordError> {
        let io = |source| RecordError::Io { path: self.dir.clone(), source };
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io)? {
            let file = entry.map_err(io)?.file_name();
            let parsed =
                file.to_str().and_then(|f| f.strip_suffix(".ipns-record")).and_then(|n| n.parse::<IpnsName>().ok());
            names.extend(parsed);
        }
        names.sort_by_key(|n: &IpnsName| n.to_string());
        Ok(names)
    }

    /// The stored records that expire within `within` of `now`, with the
    /// time they have left (`None`: expired or no longer valid): what a
    /// server should warn its operator about.
    pub fn expiring(
        &self,
        now: SystemTime,
        within: Duration,
    ) -> Result<Vec<(IpnsName, Option<Duration>)>, RecordError> {
        let mut out = Vec::new();
        for name in self.names()? {
            let Some(bytes) = self.get(&name)? else { continue };
            let left = verify_record(&name, &bytes, now).ok().and_then(|r| r.validity().duration_since(now).ok());
            if left.is_none_or(|left| left <= within) {
                out.push((name, left));
            }
        }
        Ok(out)
    }

    /// Verifies `bytes` as a record of `name` and stores it if it is better
    /// than the stored one (a stored record that no longer verifies is
    /// always replaced).
    pub fn put(&self, name: &IpnsName, bytes: &[u8], now: SystemTime) -> Result<PutOutcome, RecordError> {
        let new = verify_record(name, bytes, now)?;
        if let Some(old_bytes) = self.get(name)? {
            if let Ok(old) = verify_record(name, &old_bytes, now) {
                if better(&new, &old) != Ordering::Greater {
                    return Ok(PutOutcome::Kept);
                }
            }
        }
        let path = self.path(name);
        crate::atomic_file::replace(&path, bytes, crate::atomic_file::Durability::Synced)
            .map_err(|source| RecordError::Io { path, source })?;
        Ok(PutOutcome::Stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::ipns::{create_record, Keypair};
    use std::time::Duration;

    #[test]
    fn keeps_the_best_valid_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::open(dir.path()).unwrap();
        let key = Keypair::from_seed(&[7; 32]);
        let name = key.ipns_name();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let until = now + Duration::from_secs(3600);
        let ttl = Duration::from_secs(60);
        let v2 = create_record(&key, "/ipfs/bafkqaaa", 2, until, ttl).unwrap();
        let v1 = create_record(&key, "/ipfs/bafkqaaa", 1, until, ttl).unwrap();
        assert_eq!(store.put(&name, &v2, now).unwrap(), PutOutcome::Stored);
        assert_eq!(store.put(&name, &v1, now).unwrap(), PutOutcome::Kept, "a lower sequence never wins");
        assert_eq!(store.get(&name).unwrap().unwrap(), v2);

        // Expiring within the hour it has left, not within a minute.
        assert_eq!(store.names().unwrap(), [name]);
        assert_eq!(store.expiring(now, Duration::from_secs(60)).unwrap(), []);
        assert_eq!(store.expiring(now, Duration::from_secs(3600)).unwrap(), [(name, Some(Duration::from_secs(3600)))]);
        assert_eq!(store.expiring(until + Duration::from_secs(1), Duration::ZERO).unwrap(), [(name, None)]);

        let other = Keypair::from_seed(&[8; 32]);
        let forged = create_record(&other, "/ipfs/bafkqaaa", 9, until, ttl).unwrap();
        assert!(matches!(store.put(&name, &forged, now), Err(RecordError::Invalid(_))));
        assert_eq!(store.get(&name).unwrap().unwrap(), v2);
    }
}
