//! One IPNS name, one index.
//!
//! Subscribers follow an index by its IPNS name: a record of that name
//! that pointed at another index's version would end their index (each
//! refuses a manifest for another name). So nothing that publishes
//! replaces a record whose current value is a version of another index:
//! publishing a version (`publish`, `index add`, `index rotate`), creating
//! an index on a key whose name carries one (`index init`), storing a
//! record by hand (`name put`), handing a record to a kubo node (`index
//! push --kubo`). An index is never renamed either: the same check refuses
//! a version of a new name over an old one.

use crate::formats::block::parse_cid;
use crate::formats::ipns::{verify_record, IpnsName};
use crate::index::tree::load_version;
use crate::store::BlockStore;
use std::time::SystemTime;

/// The index whose version the record `bytes` of `name` points at, when
/// `blocks` holds that version's manifest; `None` for a record that does
/// not verify, or points at anything else. An expired record still names
/// its index.
pub fn index_of_record(blocks: &dyn BlockStore, name: &IpnsName, bytes: &[u8]) -> Option<String> {
    // Verified at the epoch: the signature holds, its end of validity is
    // not what counts here.
    let record = verify_record(name, bytes, SystemTime::UNIX_EPOCH).ok()?;
    let root = parse_cid(record.value().strip_prefix("/ipfs/")?).ok()?;
    load_version(blocks, &root).ok().map(|version| version.manifest.index)
}

/// Refuses to let a record of `name` for index `index` replace one whose
/// value names `current`, another index. `key` is the keystore key of the
/// name, when known, for the message.
pub fn check_replaces(name: &IpnsName, key: Option<&str>, current: Option<&str>, index: &str) -> anyhow::Result<()> {
    match current {
        Some(other) if other != index => {
            let whose = key.map(|k| format!(" (key `{k}`)")).unwrap_or_default();
            anyhow::bail!(
                "the IPNS name {name}{whose} already carries index `{other}`, and one IPNS name carries one index: \
                 publishing `{index}` there would end `{other}` for its subscribers. Create a key for `{index}` \
                 with `cargo ipfs key gen NAME`, or publish to `{other}` with `--name {other}`"
            )
        }
        _ => Ok(()),
    }
}

/// [`check_replaces`] for the record of `name` stored in `blocks`'s
/// record store, read by the caller as `stored`.
pub fn check_stored(
    blocks: &dyn BlockStore,
    name: &IpnsName,
    key: Option<&str>,
    stored: Option<&[u8]>,
    index: &str,
) -> anyhow::Result<()> {
    let current = stored.and_then(|bytes| index_of_record(blocks, name, bytes));
    check_replaces(name, key, current.as_deref(), index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::ipns::Keypair;

    #[test]
    fn only_another_index_is_refused_and_the_message_says_what_to_do() {
        let name = Keypair::from_seed(&[3; 32]).ipns_name();
        assert!(check_replaces(&name, Some("k1"), None, "second").is_ok());
        assert!(check_replaces(&name, Some("k1"), Some("second"), "second").is_ok());
        let err = check_replaces(&name, Some("k1"), Some("first"), "second").unwrap_err().to_string();
        for part in ["already carries index `first`", "key `k1`", "cargo ipfs key gen", "--name first"] {
            assert!(err.contains(part), "{part}: {err}");
        }
    }
}
