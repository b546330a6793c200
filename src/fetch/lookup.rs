//! Looking a crate up in the index: from the local store when every block
//! on the way is there, else one path CAR request for the directories on
//! the way and the shard.

use crate::index::tree::{lookup, TreeError};
use crate::index::Entry;
use crate::sources::Sources;
use crate::store::{BlockStore, DiskStore};

/// The entries of crate `name` in the index whose shards directory is
/// `shards`. Read from the local store when every block on the way is
/// there; else one CAR request brings the directories on the way and the
/// shard (each block verified against its CID) and the lookup reads them
/// locally, fetching block by block only what did not come, for example the
/// directory that shows a crate is absent.
pub(super) fn look_up_entries(
    store: &DiskStore,
    reader: &dyn BlockStore,
    sources: Option<&Sources>,
    shards: &cid::Cid,
    name: &str,
) -> Result<Vec<Entry>, TreeError> {
    let local = lookup(store, shards, name);
    let Some(sources) = sources else { return local };
    // A block missing (or quarantined just now): ask the sources.
    if !matches!(local, Err(TreeError::Store(_) | TreeError::Read(_))) {
        return local;
    }
    let path = crate::index::layout::shard_path(name)?;
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    if let Some(Ok(mut blocks)) = sources.get_path(shards, &segments) {
        // A shard is at most `MAX_FILE_SIZE`; a stream far beyond that is not
        // followed further.
        let limit = crate::index::tree::MAX_FILE_SIZE + (4 << 20);
        while let Some(Ok(block)) = blocks.next() {
            if blocks.bytes_read() > limit {
                // No honest gateway sends that much: the lookup goes on
                // block by block, from the other gateways.
                sources.avoid(blocks.gateway(), &format!("sent over {limit} bytes for the index entries of {name}"));
                break;
            }
            store.put(&block)?;
        }
    }
    lookup(reader, shards, name)
}
