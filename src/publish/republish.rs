//! Keeping a published index resolvable: a record that never lapses.
//!
//! IPNS records held by the DHT and by delegated routing servers are
//! dropped when nobody puts them again (the DHT forgets a record after 48
//! hours), and a record or a version past its validity is refused by every
//! subscriber. [`renew`] gives the record to hand out: the current one
//! while it stays valid for longer than the margin asked, else a fresh
//! version (`index refresh`: the same entries, a new sequence number and
//! expiry) with its fresh record, stored here last as every version is.
//! The caller then puts the record on every routing target. Run on a
//! schedule well inside the version lifetime, this keeps the index
//! resolvable for as long as the publisher runs it.

use super::version::{published, refresh_version};
use crate::formats::ipns::{verify_record, IpnsName};
use crate::index::state::IndexState;
use crate::keystore::Keystore;
use crate::store::DiskStore;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The record to hand out for one index.
#[derive(Debug, Clone)]
pub struct Renewed {
    /// The index's IPNS name.
    pub name: IpnsName,
    /// The record's bytes.
    pub record: Vec<u8>,
    /// The IPNS sequence number (the version's).
    pub seq: u64,
    /// When the record and its version expire (seconds since the Unix epoch).
    pub expires: u64,
    /// Whether a fresh version was signed for it, and why.
    pub refreshed: Option<String>,
}

/// The record of index `index` (published from this store) to hand out at
/// `now`: the stored one if it stays valid for more than `margin`, else a
/// fresh version's. A stored record that is missing, invalid or expired
/// is replaced the same way.
pub fn renew(
    store: &DiskStore,
    local: &IndexState,
    keystore: &Keystore,
    index: &str,
    margin: Duration,
    now: SystemTime,
) -> anyhow::Result<Renewed> {
    let config = published(local, index)?;
    let name = keystore.get(&config.ipns_key)?.ipns_name();
    let stored = store.records()?.get(&name)?;
    let why = match stored.as_deref().map(|bytes| verify_record(&name, bytes, now)) {
        None => Some("no record is stored".to_string()),
        Some(Err(e)) => Some(format!("the stored record is refused ({e})")),
        Some(Ok(record)) => {
            let left = record.validity().duration_since(now).unwrap_or_default();
            (left <= margin).then(|| format!("the version expires in {}s", left.as_secs()))
        }
    };
    if why.is_some() {
        refresh_version(store, local, keystore, index, now)?;
    }
    let record =
        store.records()?.get(&name)?.ok_or_else(|| anyhow::anyhow!("index `{index}`: no record after signing one"))?;
    let parsed = verify_record(&name, &record, now)?;
    let expires = parsed.validity().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Ok(Renewed { name, seq: parsed.sequence(), expires, record, refreshed: why })
}
