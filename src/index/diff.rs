//! The entries added and removed between two versions. Subtrees with the same
//! CID are skipped unread, so the cost follows the size of the change.

use super::entry::{decode_shard, Entry};
use super::tree::{is_shard, read_file, TreeError};
use crate::formats::unixfs::list_directory;
use crate::store::BlockStore;
use cid::Cid;
use std::collections::{BTreeMap, BTreeSet};

/// Entries in `new` but not `old`, and in `old` but not `new` (by cache key).
pub fn diff(store: &dyn BlockStore, old: &Cid, new: &Cid) -> Result<(Vec<Entry>, Vec<Entry>), TreeError> {
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    diff_dir(store, Some(old), Some(new), &mut Vec::new(), &mut added, &mut removed)?;
    Ok((added, removed))
}

fn listing(store: &dyn BlockStore, dir: Option<&Cid>) -> Result<BTreeMap<String, Cid>, TreeError> {
    Ok(match dir {
        Some(cid) => {
            list_directory(cid, &mut |c| store.get_required(c))?.into_iter().map(|e| (e.name, e.cid)).collect()
        }
        None => BTreeMap::new(),
    })
}

fn shard(store: &dyn BlockStore, name: &str, cid: Option<&Cid>) -> Result<Vec<Entry>, TreeError> {
    match cid {
        Some(cid) => decode_shard(name, &read_file(store, cid)?)
            .map_err(|source| TreeError::Shard { krate: name.to_string(), source }),
        None => Ok(Vec::new()),
    }
}

fn diff_dir(
    store: &dyn BlockStore,
    old: Option<&Cid>,
    new: Option<&Cid>,
    parents: &mut Vec<String>,
    added: &mut Vec<Entry>,
    removed: &mut Vec<Entry>,
) -> Result<(), TreeError> {
    if old == new || parents.len() > 2 {
        return Ok(());
    }
    let (a, b) = (listing(store, old)?, listing(store, new)?);
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for name in names {
        let (x, y) = (a.get(name), b.get(name));
        if x == y {
            continue;
        }
        if is_shard(parents, name) {
            let before = shard(store, name, x)?;
            let after = shard(store, name, y)?;
            let keys_before: BTreeSet<&str> = before.iter().map(|e| e.key.as_str()).collect();
            let keys_after: BTreeSet<&str> = after.iter().map(|e| e.key.as_str()).collect();
            added.extend(after.iter().filter(|e| !keys_before.contains(e.key.as_str())).cloned());
            removed.extend(before.iter().filter(|e| !keys_after.contains(e.key.as_str())).cloned());
        } else {
            parents.push(name.clone());
            diff_dir(store, x, y, parents, added, removed)?;
            parents.pop();
        }
    }
    Ok(())
}
