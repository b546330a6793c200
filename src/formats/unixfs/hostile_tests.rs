//! Hostile DAGs: a few blocks that link to each other a thousand times per
//! level, which would cost billions of reads if walked naively. Each must be
//! refused after a bounded number of reads, with an error saying why.

use super::*;
use crate::formats::block::{Block, DAG_PB, IDENTITY, RAW};
use crate::formats::dagpb::{PbLink, PbNode};
use cid::multihash::Multihash;
use cid::Cid;
use std::collections::HashMap;

/// How many links each level repeats: three levels are a billion paths.
const FAN: usize = 1000;

/// A file node linking `child` (of `child_size` bytes) `FAN` times, with
/// sizes that agree.
fn file_node(child: Cid, child_size: u64) -> (Block, u64) {
    let mut data = UnixFsData::new(DataType::File);
    data.blocksizes = vec![child_size; FAN];
    data.filesize = Some(child_size * FAN as u64);
    let links = (0..FAN).map(|_| PbLink { cid: child, name: Some(String::new()), tsize: Some(child_size) }).collect();
    let block = Block::encode(DAG_PB, false, PbNode { links, data: Some(data.encode()) }.encode());
    (block, child_size * FAN as u64)
}

/// Three levels of file nodes over `leaf`; returns the root, the blocks
/// and the file size.
fn diamond_file(leaf: Cid, leaf_size: u64, extra: Vec<Block>) -> (Cid, HashMap<Cid, Vec<u8>>, u64) {
    let mut blocks: HashMap<Cid, Vec<u8>> = extra.into_iter().map(Block::into_parts).collect();
    let (mut cid, mut size) = (leaf, leaf_size);
    for _ in 0..3 {
        let (block, total) = file_node(cid, size);
        (cid, size) = (*block.cid(), total);
        let (c, bytes) = block.into_parts();
        blocks.insert(c, bytes);
    }
    (cid, blocks, size)
}

fn exporting(root: Cid, limit: u64, blocks: &HashMap<Cid, Vec<u8>>) -> (ReadError<&'static str>, u64) {
    let mut reads = 0u64;
    let err = export_file(
        &root,
        limit,
        &mut |c| {
            reads += 1;
            blocks.get(c).cloned().ok_or("missing")
        },
        &mut |_| Ok(()),
    )
    .unwrap_err();
    (err, reads)
}

#[test]
fn the_exporter_refuses_a_diamond_of_empty_leaves_after_a_few_reads() {
    let leaf = Block::encode(RAW, false, Vec::new());
    let (root, blocks, size) = diamond_file(*leaf.cid(), 0, vec![leaf]);
    assert_eq!((size, blocks.len()), (0, 4));
    let (err, reads) = exporting(root, u64::MAX, &blocks);
    assert!(matches!(err, ReadError::TooManyNodes { cid, size: 0, .. } if cid == root), "{err}");
    assert!(err.to_string().contains("over and over"), "{err}");
    assert!(reads <= BASE_NODES + 1, "{reads} reads");
}

#[test]
fn identity_leaves_count_against_the_budget() {
    // Leaves whose bytes are in their CID are never read from the store,
    // yet every visit counts.
    let leaf = Cid::new_v1(RAW, Multihash::wrap(IDENTITY, b"").unwrap());
    let (root, blocks, _) = diamond_file(leaf, 0, Vec::new());
    let (err, reads) = exporting(root, u64::MAX, &blocks);
    assert!(matches!(err, ReadError::TooManyNodes { .. }), "{err}");
    assert!(reads <= 4, "{reads} store reads");
}

#[test]
fn the_exporter_bounds_a_diamond_by_its_size() {
    // One byte per leaf: the root declares a billion bytes.
    let leaf = Block::encode(RAW, false, b"x".to_vec());
    let (root, blocks, size) = diamond_file(*leaf.cid(), 1, vec![leaf]);
    assert_eq!(size, 1_000_000_000);
    // Over the caller's limit (an artifact's signed size): refused before
    // any leaf is read.
    let (err, reads) = exporting(root, 1 << 20, &blocks);
    assert!(matches!(err, ReadError::TooLarge { limit, .. } if limit == 1 << 20), "{err}");
    assert_eq!(reads, 1);
}

#[test]
fn a_root_that_declares_more_than_its_blocks_hold_buys_no_more_nodes_than_it_declares() {
    // Empty leaves under a root that claims a thousand bytes: the claim
    // pays for 2,064 nodes, not for the billion paths.
    let leaf = Block::encode(RAW, false, Vec::new());
    let (root, mut blocks, _) = diamond_file(*leaf.cid(), 0, vec![leaf]);
    let (top, _) = file_node(root, 0);
    let mut data = UnixFsData::new(DataType::File);
    data.blocksizes = vec![0; FAN];
    data.filesize = Some(1000);
    let node = PbNode::decode(top.data()).unwrap();
    let lying = Block::encode(DAG_PB, false, PbNode { links: node.links, data: Some(data.encode()) }.encode());
    let (cid, bytes) = lying.into_parts();
    blocks.insert(cid, bytes);
    let (err, reads) = exporting(cid, u64::MAX, &blocks);
    assert!(matches!(err, ReadError::TooManyNodes { size: 1000, .. }), "{err}");
    assert!(reads <= node_budget(1000) + 1, "{reads} reads");
}

#[test]
fn the_exporter_still_reads_a_file_that_repeats_a_block() {
    // A real file of repeated chunks names one leaf many times.
    let p = ImportParams { cid_version: 1, raw_leaves: true, chunk_size: 1024, max_links: 174 };
    let (file, blocks) = import_bytes(p, &vec![0u8; 1024 * 500]).unwrap();
    let blocks: HashMap<Cid, Vec<u8>> = blocks.into_iter().map(Block::into_parts).collect();
    assert!(blocks.len() < 10, "the leaves are one block");
    let mut out = 0;
    let n = export_file::<&str>(&file.cid, 1024 * 500, &mut |c| blocks.get(c).cloned().ok_or("missing"), &mut |b| {
        out += b.len();
        Ok(())
    })
    .unwrap();
    assert_eq!((n, out), (1024 * 500, 1024 * 500));
}

/// A HAMT shard whose 256 buckets all lead to `child`.
fn shard_over(child: Cid) -> Block {
    let mut data = UnixFsData::new(DataType::HamtShard);
    data.fanout = Some(256);
    data.hash_type = Some(0x22);
    let links = (0..256).map(|i| PbLink { cid: child, name: Some(format!("{i:02X}")), tsize: Some(1) }).collect();
    Block::encode(DAG_PB, false, PbNode { links, data: Some(data.encode()) }.encode())
}

#[test]
fn the_hamt_lister_refuses_a_diamond_of_shards_after_a_few_reads() {
    let file = Block::encode(RAW, false, b"x".to_vec());
    let mut data = UnixFsData::new(DataType::HamtShard);
    data.fanout = Some(256);
    data.hash_type = Some(0x22);
    let bottom_node = PbNode {
        links: vec![PbLink { cid: *file.cid(), name: Some("00name".into()), tsize: Some(1) }],
        data: Some(data.encode()),
    };
    let mut block = Block::encode(DAG_PB, false, bottom_node.encode());
    let mut blocks = HashMap::new();
    // Four levels of 256 links: four billion paths to one entry.
    for _ in 0..4 {
        let next = shard_over(*block.cid());
        let (cid, bytes) = block.into_parts();
        blocks.insert(cid, bytes);
        block = next;
    }
    let root = *block.cid();
    let (cid, bytes) = block.into_parts();
    blocks.insert(cid, bytes);
    let mut reads = 0;
    let err = list_directory::<&str>(&root, &mut |c| {
        reads += 1;
        blocks.get(c).cloned().ok_or("missing")
    })
    .unwrap_err();
    assert!(matches!(err, ReadError::RepeatedShard { dir, .. } if dir == root), "{err}");
    assert!(err.to_string().contains("twice"), "{err}");
    assert!(reads <= 5, "{reads} reads");
    // The one-block listing reads the root only, and finds no entry in it.
    let mut reads = 0;
    let own = list_directory_block::<&str>(&root, &mut |c| {
        reads += 1;
        blocks.get(c).cloned().ok_or("missing")
    })
    .unwrap();
    assert_eq!((own.len(), reads), (0, 1));
}
