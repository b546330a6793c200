//! What an index reader does before it trusts a version, and how the index
//! format's version changes what it reads: a root is read no further than
//! its own block and its manifest until the manifest's signatures are
//! checked, and versions of an older format are refused by readers and
//! not carried over by publishers.

use super::entry::tests::sample;
use super::manifest::{check_manifest, Manifest, ManifestError};
use super::publish::publish;
use super::resolve::{resolve_record, ResolveError};
use super::tests::{at, changes, key, params, trust_of, DAY, T0};
use super::tree::{lookup, IndexVersion, MANIFEST_FILE, PARAMS, SHARDS_DIR};
use super::{INDEX_FORMAT_VERSION, OLDEST_READABLE_FORMAT};
use crate::formats::block::{Block, DAG_PB};
use crate::formats::dagpb::{PbLink, PbNode};
use crate::formats::ipns::create_record;
use crate::formats::unixfs::{import_bytes, DataType, UnixFsData};
use crate::store::{BlockStore, Counting, MemoryStore};
use std::time::Duration;

fn shard_block(links: Vec<PbLink>) -> Block {
    let mut data = UnixFsData::new(DataType::HamtShard);
    data.fanout = Some(256);
    data.hash_type = Some(0x22);
    Block::encode(DAG_PB, false, PbNode { links, data: Some(data.encode()) }.encode())
}

#[test]
fn the_manifest_signature_is_checked_before_anything_under_the_root_is_walked() {
    let store = Counting::new(MemoryStore::new());
    let k = key(1);
    let signers = [k.clone()];
    let v1 = publish(&store, None, &changes(&[sample("serde", "1.0.0", "01")]), &params(&signers, &k, &[&k], 1, T0))
        .unwrap()
        .unwrap()
        .version;
    // A manifest altered after signing: its signature no longer holds.
    let forged = Manifest { seq: 7, ..v1.manifest.clone() };
    let (manifest, blocks) = import_bytes(PARAMS, &forged.encode()).unwrap();
    for block in &blocks {
        store.put(block).unwrap();
    }
    // A HAMT of shards that link to each other 256 times per level.
    let mut diamond = shard_block(Vec::new());
    store.put(&diamond).unwrap();
    for _ in 0..4 {
        let cid = *diamond.cid();
        diamond =
            shard_block((0..256).map(|i| PbLink { cid, name: Some(format!("{i:02X}")), tsize: Some(1) }).collect());
        store.put(&diamond).unwrap();
    }
    // The root: a HAMT shard holding the manifest and the shards in its own
    // block, and every other bucket leading into the diamond.
    let mut links = vec![
        PbLink { cid: manifest.cid, name: Some(format!("00{MANIFEST_FILE}")), tsize: Some(manifest.tsize) },
        PbLink { cid: v1.shards, name: Some(format!("01{SHARDS_DIR}")), tsize: Some(1) },
    ];
    links.extend((2..256).map(|i| PbLink { cid: *diamond.cid(), name: Some(format!("{i:02X}")), tsize: Some(1) }));
    let root = shard_block(links);
    store.put(&root).unwrap();
    // Only the IPNS key is needed to point subscribers at it.
    let record = create_record(&k, &format!("/ipfs/{}", root.cid()), 7, at(T0) + DAY, Duration::from_secs(60)).unwrap();

    let before = store.gets();
    let err = resolve_record(&store, Some(&record), "example", &trust_of(&[&k], 1, &k), None, at(T0 + 1)).unwrap_err();
    assert!(matches!(err, ResolveError::Manifest(ManifestError::Threshold { seq: 7, .. })), "{err}");
    // The root's block and the manifest's, and nothing of the diamond.
    let reads = store.gets() - before;
    assert!(reads <= 2, "{reads} blocks read before the signature was checked");
}

/// A signed manifest of `format`.
fn manifest_of_format(format: u32) -> Manifest {
    let k = key(1);
    let mut m = Manifest {
        format,
        index: "example".into(),
        kind: Default::default(),
        seq: 1,
        created: T0,
        expires: T0 + 86_400,
        shards: "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354".into(),
        prev: None,
        keys: vec![k.ipns_name().to_string()],
        threshold: 1,
        root_keys: Vec::new(),
        root_threshold: 0,
        signatures: Vec::new(),
    };
    m.sign(&k);
    m
}

#[test]
fn a_version_of_an_older_index_format_is_refused_with_what_to_do() {
    let old = manifest_of_format(OLDEST_READABLE_FORMAT - 1);
    // It still decodes (for `prev` links and rotations), but is not used.
    assert_eq!(Manifest::decode(&old.encode()).unwrap(), old);
    let err = check_manifest(&old, "example", None, T0 + 1).unwrap_err();
    assert!(matches!(err, ManifestError::OldFormat { .. }), "{err}");
    assert!(err.to_string().contains("publish a new version"), "{err}");
    // A newer one does not even decode, and says to upgrade.
    let err = Manifest::decode(&manifest_of_format(INDEX_FORMAT_VERSION + 1).encode()).unwrap_err();
    assert!(err.to_string().contains("upgrade cargo-ipfs-fetch"), "{err}");
    check_manifest(&manifest_of_format(INDEX_FORMAT_VERSION), "example", None, T0 + 1).unwrap();
    // Format 2 has format 3's entries without the optional fields: read.
    check_manifest(&manifest_of_format(OLDEST_READABLE_FORMAT), "example", None, T0 + 1).unwrap();
}

#[test]
fn a_publisher_building_on_an_older_format_carries_no_entry_over() {
    builds_on_format(OLDEST_READABLE_FORMAT - 1, false);
}

#[test]
fn a_publisher_building_on_the_oldest_readable_format_keeps_its_entries() {
    builds_on_format(OLDEST_READABLE_FORMAT, true);
}

fn builds_on_format(format: u32, kept: bool) {
    let store = MemoryStore::new();
    let k = key(1);
    let signers = [k.clone()];
    let v1 = publish(&store, None, &changes(&[sample("serde", "1.0.0", "01")]), &params(&signers, &k, &[&k], 1, T0))
        .unwrap()
        .unwrap()
        .version;
    // The same version as an older build would have signed it.
    let old = IndexVersion { manifest: Manifest { format, ..v1.manifest.clone() }, ..v1 };
    let new = publish(
        &store,
        Some(&old),
        &changes(&[sample("tokio", "1.0.0", "02")]),
        &params(&signers, &k, &[&k], 1, T0 + 10),
    )
    .unwrap()
    .unwrap()
    .version;
    assert_eq!(new.manifest.format, INDEX_FORMAT_VERSION);
    assert_eq!(new.manifest.seq, 2);
    assert_eq!(new.manifest.prev, Some(old.manifest_cid.to_string()));
    assert_eq!(lookup(&store, &new.shards, "serde").unwrap().len(), usize::from(kept), "format {format}");
    assert_eq!(lookup(&store, &new.shards, "tokio").unwrap().len(), 1);
}

#[test]
fn listing_every_shard_reads_a_directory_linked_many_times_once() {
    use crate::formats::unixfs::{build_directory, DirEntry};
    let store = Counting::new(MemoryStore::new());
    let k = key(1);
    let signers = [k.clone()];
    let v1 = publish(&store, None, &changes(&[sample("serde", "1.0.0", "01")]), &params(&signers, &k, &[&k], 1, T0))
        .unwrap()
        .unwrap()
        .version;
    // `se` holds `rd`; a hostile shards directory links `se` under a
    // thousand names.
    let se = super::tree::find(&store, &v1.shards, "se").unwrap().unwrap();
    let entries = (0..1000).map(|i| DirEntry { name: format!("{i:03}"), ..se.clone() }).collect();
    let (dir, _) = build_directory(&PARAMS, entries).unwrap();
    store.put(&dir).unwrap();
    let before = store.gets();
    let shards = super::tree::all_shards(&store, dir.cid()).unwrap();
    assert!(shards.is_empty(), "no shard is where its name puts it: {shards:?}");
    let reads = store.gets() - before;
    assert!(reads <= 3, "{reads} directories read");
}
