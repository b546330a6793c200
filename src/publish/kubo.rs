//! An index version, its artifacts and its IPNS record into a kubo node (a
//! mirror or a pinning job that runs kubo): pushed pinned
//! ([`super::push()`]), then the record handed over for the node to
//! publish.

use super::push::{push, Pushed};
use crate::formats::block::parse_cid;
use crate::formats::ipns::{verify_record, IpnsName};
use crate::index::state::IndexState;
use crate::index::tree::{all_shards, lookup, IndexVersion};
use crate::store::{BlockStore, DiskStore, KuboError, KuboOptions, KuboStore};
use anyhow::Context;
use cid::Cid;
use std::time::SystemTime;

/// What a push into kubo did.
#[derive(Debug)]
pub struct PushReport {
    /// The node's kubo version.
    pub kubo_version: String,
    /// The node's RPC address, as given.
    pub url: String,
    /// Roots pinned (the version's, and its artifacts'), blocks and bytes
    /// sent, and the artifacts left out because neither side holds them
    /// whole.
    pub pushed: Pushed,
    /// The name whose record the node was handed, if a record was given;
    /// an error when the node refused it, or holds a record of the name
    /// for another index ([`super::guard`]), after the push was done.
    pub record: anyhow::Result<Option<IpnsName>>,
}

/// Pushes the DAG of index version `root` and the `artifacts` from `store`
/// into the kubo node at `addr`, each pinned, then hands it `record` (the
/// IPNS record of a name that points at `root`) to publish. An artifact
/// whose DAG neither this store nor the node holds wholly is left out, and
/// reported.
pub fn push_version(
    store: &dyn BlockStore,
    addr: &str,
    root: &Cid,
    artifacts: &[Cid],
    record: Option<(&IpnsName, &[u8])>,
) -> anyhow::Result<PushReport> {
    let kubo = KuboStore::connect(addr, KuboOptions::default())?;
    let kubo_version = kubo.checked_version()?;
    let mut artifacts: Vec<Cid> = artifacts.iter().filter(|c| *c != root).copied().collect();
    // The earlier manifests too: a subscriber that reads through the node
    // checks every key change since the version it saw last.
    artifacts.extend(manifest_history(store, root));
    artifacts.sort();
    artifacts.dedup();
    let pushed = push(store, &kubo, &[*root], &artifacts)?;
    let record = match record {
        Some((name, bytes)) => check_node_record(store, &kubo, name, root)
            .and_then(|()| Ok(kubo.put_record(name, bytes)?))
            .map(|()| Some(*name)),
        None => Ok(None),
    };
    Ok(PushReport { kubo_version, url: kubo.url().to_string(), pushed, record })
}

/// The manifests before the version at `root` that `store` holds, newest
/// first, at most `index::resolve::MAX_CATCH_UP`: one small block each.
fn manifest_history(store: &dyn BlockStore, root: &Cid) -> Vec<Cid> {
    let mut history = Vec::new();
    let Ok(version) = crate::index::tree::load_version(store, root) else { return history };
    let mut prev = version.manifest.prev;
    while let Some(cid) = prev.as_deref().and_then(|p| parse_cid(p).ok()) {
        if history.len() >= crate::index::resolve::MAX_CATCH_UP {
            break;
        }
        let Ok(manifest) = crate::index::tree::load_manifest(store, &cid) else { break };
        history.push(cid);
        prev = manifest.prev;
    }
    history
}

/// One IPNS name, one index ([`super::guard`]): refuses to hand the node a
/// record of `name` for version `root` when the node's own record of the
/// name is a version of another index. A node with no record takes it.
fn check_node_record(store: &dyn BlockStore, kubo: &KuboStore, name: &IpnsName, root: &Cid) -> anyhow::Result<()> {
    let current = match kubo.get_record(name) {
        Ok(bytes) => super::guard::index_of_record(kubo, name, &bytes),
        // None, or one that no longer verifies (expired): nothing to keep.
        Err(KuboError::NoRecord { .. } | KuboError::BadRecord { .. }) => None,
        Err(e) => return Err(e).context("cannot read the node's record of the index to check it names this index"),
    };
    // Only an index version has an index to keep apart.
    let Ok(ours) = crate::index::tree::load_version(store, root) else { return Ok(()) };
    super::guard::check_replaces(name, None, current.as_deref(), &ours.manifest.index)
}

/// Pushes the version the stored record of `name` points at now (a new one
/// or not: a push that failed before is made again by publishing again),
/// with `artifacts` and the record.
pub fn push_published(
    store: &DiskStore,
    addr: &str,
    name: &IpnsName,
    artifacts: &[Cid],
    now: SystemTime,
) -> anyhow::Result<PushReport> {
    let record = store.records()?.get(name)?.context("the published IPNS record is missing from the store")?;
    let verified = verify_record(name, &record, now)?;
    let root = parse_cid(verified.value().trim_start_matches("/ipfs/"))?;
    push_version(store, addr, &root, artifacts, Some((name, &record)))
}

/// Pushes `version`, opened as `target` (a trusted index name, or a root
/// CID), with every artifact it names. A name brings its stored record
/// along; a bare root has none to give. Artifacts this store lacks are left
/// out by the push's walk.
pub fn push_index(
    store: &DiskStore,
    local: &IndexState,
    addr: &str,
    target: &str,
    version: &IndexVersion,
) -> anyhow::Result<PushReport> {
    let artifacts = artifacts_of(store, &version.shards)?;
    let record = match local.trust()?.get(target) {
        Some(t) => {
            let name: IpnsName = t.ipns.parse()?;
            store.records()?.get(&name)?.map(|bytes| (name, bytes))
        }
        None => None,
    };
    push_version(store, addr, &version.root, &artifacts, record.as_ref().map(|(n, b)| (n, b.as_slice())))
}

/// The CIDs of every artifact a version names.
fn artifacts_of(store: &dyn BlockStore, shards: &Cid) -> anyhow::Result<Vec<Cid>> {
    let mut cids = Vec::new();
    for (krate, _) in all_shards(store, shards)? {
        for entry in lookup(store, shards, &krate)? {
            cids.push(parse_cid(&entry.cid)?);
        }
    }
    Ok(cids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::ipns::{create_record, Keypair};
    use crate::store::gateway::test_server::{fixture_blocks, HELLO, MULTIBLOCK, ROOT};
    use crate::store::kubo::replay::KuboReplay;
    use std::time::Duration;

    #[test]
    fn a_version_and_its_artifacts_are_pushed_pinned_with_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        for block in fixture_blocks() {
            store.put(&block).unwrap();
        }
        let node = KuboReplay::start();
        let key = Keypair::generate();
        let name = key.ipns_name();
        let until = SystemTime::now() + Duration::from_secs(3600);
        let record = create_record(&key, &format!("/ipfs/{ROOT}"), 1, until, Duration::from_secs(60)).unwrap();
        let [root, multiblock, hello] = [ROOT, MULTIBLOCK, HELLO].map(|c| parse_cid(c).unwrap());
        let report =
            push_version(&store, node.url(), &root, &[multiblock, hello, root], Some((&name, &record))).unwrap();
        assert_eq!(node.pins(), [root, multiblock, hello].into());
        assert!(fixture_blocks().iter().all(|b| node.holds(b.cid())));
        assert_eq!(node.record(&name).unwrap(), record);
        assert_eq!((report.kubo_version.as_str(), report.url.as_str()), ("0.41.0", node.url()));
        assert_eq!(report.pushed.pinned, 3);
        assert_eq!(report.pushed.blocks, fixture_blocks().len() as u64);
        assert_eq!(report.record.unwrap(), Some(name));
        // The node's repository already holds all of it: nothing is sent again.
        let imports = || node.seen().iter().filter(|s| s.path == "/api/v0/dag/import").count();
        assert_eq!(imports(), 1);
        let report = push_version(&store, node.url(), &root, &[hello], None).unwrap();
        assert_eq!(imports(), 2);
        assert_eq!(report.pushed, Pushed { pinned: 2, ..Pushed::default() });
        assert_eq!(report.record.unwrap(), None);
        // An artifact neither here nor there is left out; the rest is pinned.
        let absent =
            crate::formats::block::Block::encode(crate::formats::block::RAW, false, b"not in any store".to_vec());
        let report = push_version(&store, node.url(), &root, &[*absent.cid(), hello], None).unwrap();
        assert!(!node.pins().contains(absent.cid()));
        assert_eq!(imports(), 3);
        assert_eq!(report.pushed.incomplete, [*absent.cid()]);
        let err = push_version(&store, "localhost:5001", &root, &[], None).unwrap_err().to_string();
        assert!(err.contains("localhost:5001"), "{err}");
    }

    #[test]
    fn a_record_the_node_refuses_is_reported_after_the_push() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        for block in fixture_blocks() {
            store.put(&block).unwrap();
        }
        let node = KuboReplay::start();
        let (key, other) = (Keypair::generate(), Keypair::generate());
        let until = SystemTime::now() + Duration::from_secs(3600);
        let record = create_record(&key, &format!("/ipfs/{ROOT}"), 1, until, Duration::from_secs(60)).unwrap();
        let root = parse_cid(ROOT).unwrap();
        // A record signed by another key than the name's is not sent.
        let report = push_version(&store, node.url(), &root, &[], Some((&other.ipns_name(), &record))).unwrap();
        assert_eq!(report.pushed.pinned, 1);
        let refused = report.record.unwrap_err();
        assert!(matches!(refused.downcast_ref(), Some(KuboError::BadRecord { .. })), "{refused:?}");
        assert_eq!(node.pins(), [root].into());
    }
}
