//! Known-answer and property tests for the importer, directories and the
//! exporter. Expected CIDs come from the public fixtures under
//! `tests/fixtures/ipfs/` (see its README.txt), never from this code.

use super::*;
use crate::formats::block::{Block, DAG_PB, RAW};
use crate::formats::dagpb::{PbLink, PbNode};
use cid::Cid;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ipfs").join(rel)
}

fn params(cid_version: u8, raw_leaves: bool, chunk_size: usize, max_links: usize) -> ImportParams {
    ImportParams { cid_version, raw_leaves, chunk_size, max_links }
}

fn cid_of(params: ImportParams, bytes: &[u8]) -> String {
    import_bytes(params, bytes).unwrap().0.cid.to_string()
}

/// Imports a directory tree from disk the way `ipfs add -r` does, returning
/// the root entry; every block lands in `blocks`.
fn import_tree(params: ImportParams, path: &Path, blocks: &mut HashMap<Cid, Vec<u8>>) -> DirEntry {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    if path.is_dir() {
        let entries =
            std::fs::read_dir(path).unwrap().map(|e| import_tree(params, &e.unwrap().path(), blocks)).collect();
        let (block, tsize) = build_directory(&params, entries).unwrap();
        let cid = *block.cid();
        blocks.insert(cid, block.data().to_vec());
        DirEntry { name, cid, tsize }
    } else {
        let (file, file_blocks) = import_bytes(params, &std::fs::read(path).unwrap()).unwrap();
        for b in file_blocks {
            let (cid, data) = b.into_parts();
            blocks.insert(cid, data);
        }
        DirEntry { name, cid: file.cid, tsize: file.tsize }
    }
}

fn wrap(params: ImportParams, entries: Vec<DirEntry>) -> String {
    build_directory(&params, entries).unwrap().0.cid().to_string()
}

#[test]
fn kubo_default_profile_vectors() {
    let text = std::fs::read_to_string(fixture("kubo-v0-vectors.txt")).unwrap();
    let mut checked = 0;
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (input, expected) = line.split_once('\t').unwrap();
        let bytes = match input.split_once(':') {
            None if input == "empty" => Vec::new(),
            Some(("byte", hex)) => hex::decode(hex).unwrap(),
            Some(("text", text)) => text.as_bytes().to_vec(),
            Some(("zeros", n)) => vec![0; n.parse().unwrap()],
            _ => panic!("unknown vector input {input}"),
        };
        assert_eq!(cid_of(ImportParams::UNIXFS_V0_2015, &bytes), expected, "input {input}");
        checked += 1;
    }
    assert_eq!(checked, 5);
}

#[test]
fn single_block_files_from_gateway_fixtures() {
    let v1 = params(1, true, 262_144, 174);
    assert_eq!(cid_of(v1, b"hello world\n"), "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4");
    assert_eq!(cid_of(v1, b"hello\n"), "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am");
    assert_eq!(cid_of(ImportParams::UNIXFS_V0_2015, b"hello\n"), "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN");
}

#[test]
fn multiblock_file_with_explicit_empty_link_names() {
    let bytes = std::fs::read(fixture("derived/multiblock-1026B.txt")).unwrap();
    let (file, blocks) = import_bytes(params(1, true, 256, 174), &bytes).unwrap();
    assert_eq!(file.cid.to_string(), "bafybeigcisqd7m5nf3qmuvjdbakl5bdnh4ocrmacaqkpuh77qjvggmt2sa");
    let root = blocks.last().unwrap();
    assert_eq!(root.data().len(), 245, "root block size listed in the fixtures README");
    let leaves: Vec<String> = blocks[..5].iter().map(|b| b.cid().to_string()).collect();
    assert_eq!(leaves[0], "bafkreie5noke3mb7hqxukzcy73nl23k6lxszxi5w3dtmuwz62wnvkpsscm");
    assert_eq!(leaves[4], "bafkreifst3pqztuvj57lycamoi7z34b4emf7gawxs74nwrc2c7jncmpaqm");
}

#[test]
fn small_chunks_with_dag_pb_leaves_and_a_directory() {
    // issue-54.car: `ipfs add -Qr --chunker=size-5 dir-54`, CIDv0.
    let p = params(0, false, 5, 174);
    let (a, _) = import_bytes(p, b"abc123\n").unwrap();
    let (b, _) = import_bytes(p, b"xyz456\n").unwrap();
    assert_eq!(a.cid.to_string(), "QmZgfvZtoFdbJy4JmpPHc1NCXyA7Snim2L8e6zKspiUzhu");
    assert_eq!(b.cid.to_string(), "Qmf4EqZZpFPcy6oKsc84dGS5EpPdXYZ1hq39Gemadu6hfW");
    let sub = |file: ImportedFile| {
        let (block, tsize) =
            build_directory(&p, vec![DirEntry { name: "hello.txt".into(), cid: file.cid, tsize: file.tsize }]).unwrap();
        (*block.cid(), tsize)
    };
    let (sub1, t1) = sub(a);
    let (sub2, t2) = sub(b);
    let root = wrap(
        p,
        vec![
            DirEntry { name: "sub2".into(), cid: sub2, tsize: t2 },
            DirEntry { name: "sub1".into(), cid: sub1, tsize: t1 },
        ],
    );
    assert_eq!(root, "QmT5W42oo38Bi4mL2aktaMyqu7tqj7xWCuZhmoTfo7XtiU");
}

#[test]
fn directory_tree_matches_ipfs_car_fixture() {
    let mut blocks = HashMap::new();
    let root = import_tree(
        ImportParams::UNIXFS_V1_2025,
        &fixture("gateway-conformance/tooling/car/_fixtures/dir"),
        &mut blocks,
    );
    assert_eq!(root.cid.to_string(), "bafybeidlbwbu73tbjr3atntjz4lq5ego5w2uyof35vvwcnheaftzi3rndu");
    let mut get = |cid: &Cid| blocks.get(cid).cloned().ok_or("missing");
    let listing = list_directory(&root.cid, &mut get).unwrap();
    let names: Vec<&str> = listing.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["a-file.txt", "b-file.txt", "subdir"]);
    assert_eq!(listing[2].cid.to_string(), "bafybeiaq6e55xratife7s5cmzjcmwy4adzzlk74sbdpfcq72gus6cweeeq");
}

#[test]
fn wrapped_directories_from_gateway_fixtures() {
    let p = params(1, true, 262_144, 174);
    let one = |name: &str, cid: Cid, tsize: u64| {
        let (block, tsize) = build_directory(&p, vec![DirEntry { name: name.into(), cid, tsize }]).unwrap();
        (*block.cid(), tsize)
    };
    let (file, _) = import_bytes(p, b"hello\n").unwrap();
    let (root4, t4) = one("index.html", file.cid, file.tsize);
    let (root3, t3) = one("root4", root4, t4);
    let (root2, t2) = one("root3", root3, t3);
    let (top, _) = one("root2", root2, t2);
    assert_eq!(root2.to_string(), "bafybeih2w7hjocxjg6g2ku25hvmd53zj7og4txpby3vsusfefw5rrg5sii");
    assert_eq!(top.to_string(), "bafybeib3ffl2teiqdncv3mkz4r23b5ctrwkzrrhctdbne6iboayxuxk5ui");

    let (ascii, _) = import_bytes(p, b"hello application/vnd.ipld.raw\n").unwrap();
    let (dir, tdir) = one("ascii.txt", ascii.cid, ascii.tsize);
    assert_eq!(dir.to_string(), "bafybeifaqksygmsbnqe76kwvxoqxtkzcwssq5jkhuo65ldtqiunr3bxlra");
    assert_eq!(one("dir", dir, tdir).0.to_string(), "bafybeie72edlprgtlwwctzljf6gkn2wnlrddqjbkxo3jomh4n7omwblxly");
}

#[test]
fn empty_directory_in_both_versions() {
    assert_eq!(wrap(ImportParams::UNIXFS_V0_2015, vec![]), "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn");
    assert_eq!(
        wrap(ImportParams::UNIXFS_V1_2025, vec![]),
        "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354"
    );
}

#[test]
fn directory_builder_refuses_bad_names() {
    let cid = *Block::encode(RAW, false, b"x".to_vec()).cid();
    let entry = |name: &str| DirEntry { name: name.into(), cid, tsize: 1 };
    let p = ImportParams::UNIXFS_V1_2025;
    for bad in ["", "a/b", ".", ".."] {
        assert_eq!(build_directory(&p, vec![entry(bad)]).unwrap_err(), DirError::BadName(bad.into()));
    }
    assert_eq!(build_directory(&p, vec![entry("a"), entry("a")]).unwrap_err(), DirError::DuplicateName("a".into()));
    let many: Vec<DirEntry> = (0..8000).map(|i| entry(&format!("entry-number-{i:08}"))).collect();
    assert!(matches!(build_directory(&p, many), Err(DirError::TooLarge { .. })));
}

/// go-unixfs's balanced builder, written top-down as it is upstream: the
/// first leaf is the root; each round wraps the root in a new node one level
/// deeper and fills the remaining slots with subtrees of the level below.
fn reference_balanced(p: ImportParams, data: &[u8]) -> Cid {
    struct Node {
        cid: Cid,
        filesize: u64,
        tsize: u64,
    }
    fn leaf(chunks: &mut std::slice::Chunks<u8>) -> Node {
        let bytes = chunks.next().unwrap_or(&[]).to_vec();
        let block = Block::encode(RAW, false, bytes);
        Node { cid: *block.cid(), filesize: block.data().len() as u64, tsize: block.data().len() as u64 }
    }
    fn commit(p: ImportParams, children: Vec<Node>) -> Node {
        let mut data = UnixFsData::new(DataType::File);
        data.blocksizes = children.iter().map(|c| c.filesize).collect();
        data.filesize = Some(data.blocksizes.iter().sum());
        let links =
            children.iter().map(|c| PbLink { cid: c.cid, name: Some(String::new()), tsize: Some(c.tsize) }).collect();
        let block = Block::encode(DAG_PB, p.cid_version == 0, PbNode { links, data: Some(data.encode()) }.encode());
        Node {
            cid: *block.cid(),
            filesize: data.filesize.unwrap(),
            tsize: block.data().len() as u64 + children.iter().map(|c| c.tsize).sum::<u64>(),
        }
    }
    fn fill(
        p: ImportParams,
        mut children: Vec<Node>,
        depth: usize,
        chunks: &mut std::iter::Peekable<std::slice::Chunks<u8>>,
    ) -> Node {
        while children.len() < p.max_links && chunks.peek().is_some() {
            let child = if depth == 1 {
                let mut one = chunks.next().unwrap().chunks(usize::MAX);
                leaf(&mut one)
            } else {
                fill(p, Vec::new(), depth - 1, chunks)
            };
            children.push(child);
        }
        commit(p, children)
    }
    let mut chunks = data.chunks(p.chunk_size).peekable();
    let mut root = {
        let mut first = chunks.next().unwrap_or(&[]).chunks(usize::MAX);
        leaf(&mut first)
    };
    let mut depth = 1;
    while chunks.peek().is_some() {
        root = fill(p, vec![root], depth, &mut chunks);
        depth += 1;
    }
    root.cid
}

#[test]
fn streaming_layout_equals_go_unixfs_top_down_layout() {
    for max_links in [2, 3, 4] {
        for cid_version in [0, 1] {
            let p = params(cid_version, true, 1, max_links);
            for len in 0..=70usize {
                let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let (file, _) = import_bytes(p, &data).unwrap();
                assert_eq!(file.cid, reference_balanced(p, &data), "len {len} max_links {max_links} v{cid_version}");
            }
        }
    }
}

fn round_trip(p: ImportParams, len: usize) {
    let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
    let (file, blocks) = import_bytes(p, &data).unwrap();
    assert_eq!(file.size, len as u64);
    let total: u64 = blocks.iter().map(|b| b.data().len() as u64).sum();
    assert_eq!(file.tsize, total, "tsize counts every block once");
    let store: HashMap<Cid, Vec<u8>> = blocks.into_iter().map(Block::into_parts).collect();
    let mut out = Vec::new();
    let n = export_file::<&str>(&file.cid, u64::MAX, &mut |c| store.get(c).cloned().ok_or("missing"), &mut |b| {
        out.extend_from_slice(b);
        Ok(())
    })
    .unwrap();
    assert_eq!(n, len as u64);
    assert!(out == data, "round trip of {len} bytes with {p:?}");
}

#[test]
fn import_export_round_trips_around_chunk_and_link_boundaries() {
    for raw_leaves in [true, false] {
        let p = params(1, raw_leaves, 4, 3);
        for len in [0, 1, 3, 4, 5, 11, 12, 13, 35, 36, 37, 107, 108, 109, 325] {
            round_trip(p, len);
        }
    }
    let chunk = ImportParams::UNIXFS_V0_2015.chunk_size;
    for len in [chunk - 1, chunk, chunk + 1, 3 * chunk + 17] {
        round_trip(ImportParams::UNIXFS_V0_2015, len);
        round_trip(ImportParams::UNIXFS_V1_2025, len);
    }
}

#[test]
fn exporter_refuses_corrupt_blocks_and_lying_sizes() {
    let p = params(1, true, 4, 3);
    let (file, blocks) = import_bytes(p, b"0123456789").unwrap();
    let mut store: HashMap<Cid, Vec<u8>> = blocks.into_iter().map(Block::into_parts).collect();
    let leaf = *store.keys().find(|c| c.codec() == RAW).unwrap();
    store.get_mut(&leaf).unwrap()[0] ^= 1;
    let mut sink = |_: &[u8]| Ok::<(), &str>(());
    let err = export_file(&file.cid, u64::MAX, &mut |c| store.get(c).cloned().ok_or("missing"), &mut sink).unwrap_err();
    assert!(matches!(err, ReadError::Block(crate::formats::block::BlockError::HashMismatch { cid }) if cid == leaf));

    // A node whose blocksizes claim more than its child holds.
    let child = Block::encode(RAW, false, b"abc".to_vec());
    let mut data = UnixFsData::new(DataType::File);
    data.blocksizes = vec![4];
    data.filesize = Some(4);
    let node = PbNode {
        links: vec![PbLink { cid: *child.cid(), name: Some(String::new()), tsize: Some(3) }],
        data: Some(data.encode()),
    };
    let root = Block::encode(DAG_PB, false, node.encode());
    let store: HashMap<Cid, Vec<u8>> = [child, root.clone()].into_iter().map(Block::into_parts).collect();
    let err =
        export_file(root.cid(), u64::MAX, &mut |c| store.get(c).cloned().ok_or("missing"), &mut sink).unwrap_err();
    assert!(matches!(err, ReadError::SizeMismatch { expected: 4, actual: 3, .. }), "{err}");

    let missing = export_file(&file.cid, u64::MAX, &mut |_| Err("block not found"), &mut sink).unwrap_err();
    assert_eq!(missing.to_string(), "block not found");

    // Blocks vouched for by the caller are not hashed again, but their sizes
    // are still checked.
    let err = export_verified_file(root.cid(), u64::MAX, &mut |c| store.get(c).cloned().ok_or("missing"), &mut sink)
        .unwrap_err();
    assert!(matches!(err, ReadError::SizeMismatch { expected: 4, actual: 3, .. }), "{err}");
}

#[test]
fn verified_export_gives_the_same_bytes() {
    let p = params(1, false, 4, 3);
    let data: Vec<u8> = (0..200u8).collect();
    let (file, blocks) = import_bytes(p, &data).unwrap();
    let store: HashMap<Cid, Vec<u8>> = blocks.into_iter().map(Block::into_parts).collect();
    let mut out = Vec::new();
    let n = export_verified_file(
        &file.cid,
        u64::MAX,
        &mut |c| store.get(c).cloned().ok_or("missing"),
        &mut |b: &[u8]| {
            out.extend_from_slice(b);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(n, 200);
    assert_eq!(out, data);
}

#[test]
fn exporter_refuses_directories() {
    let (dir, _) = build_directory(&ImportParams::UNIXFS_V1_2025, vec![]).unwrap();
    let bytes = dir.data().to_vec();
    let err = export_file::<&str>(dir.cid(), u64::MAX, &mut |_| Ok(bytes.clone()), &mut |_| Ok(())).unwrap_err();
    assert!(matches!(err, ReadError::NotAFile { kind: "directory", .. }), "{err}");
}

#[test]
fn params_validation_and_names() {
    assert_eq!(ImportParams::profile("unixfs-v1-2025").unwrap(), ImportParams::UNIXFS_V1_2025);
    assert!(ImportParams::profile("nope").unwrap_err().to_string().contains("unixfs-v0-2015"));
    assert_eq!(ImportParams::parse_chunker("size-1024").unwrap(), 1024);
    assert!(ImportParams::parse_chunker("rabin-1-2-3").is_err());
    assert!(FileImporter::new(params(2, true, 4, 3)).is_err());
    assert!(FileImporter::new(params(1, true, 0, 3)).is_err());
    assert!(FileImporter::new(params(1, true, MAX_CHUNK_SIZE + 1, 3)).is_err());
    assert!(FileImporter::new(params(1, true, 4, 1)).is_err());
}

#[test]
fn one_pass_leaf_encoding_equals_the_generic_encoding() {
    for len in [0usize, 1, 127, 128, 300, 16_384, 262_144] {
        let chunk: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut data = UnixFsData::new(DataType::File);
        data.filesize = Some(len as u64);
        if len > 0 {
            data.data = Some(chunk.clone());
        }
        let generic = PbNode { links: vec![], data: Some(data.encode()) }.encode();
        let (file, blocks) = import_bytes(params(0, false, 262_144, 174), &chunk).unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].data(), generic.as_slice(), "len {len}");
        assert_eq!(file.cid, *blocks[0].cid());
    }
}

#[test]
fn lists_a_hamt_sharded_directory_from_the_gateway_fixture() {
    // single-layer-hamt-with-multi-block-files.car: a HAMT directory of 1000
    // files; the fixtures README gives 111.txt's CID.
    let bytes = std::fs::read(fixture(
        "gateway-conformance/fixtures/trustless_gateway_car/single-layer-hamt-with-multi-block-files.car",
    ))
    .unwrap();
    let mut car = crate::formats::car::CarReader::new(bytes.as_slice()).unwrap();
    let root = car.roots()[0];
    let mut blocks = HashMap::new();
    while let Some(block) = car.next_block().unwrap() {
        let (cid, data) = block.into_parts();
        blocks.insert(cid, data);
    }
    let mut get = |cid: &Cid| blocks.get(cid).cloned().ok_or("missing");
    let entries = list_directory(&root, &mut get).unwrap();
    assert_eq!(entries.len(), 1000);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "entries come back sorted like kubo's");
    let file = entries.iter().find(|e| e.name == "111.txt").unwrap();
    assert_eq!(file.cid.to_string(), "bafybeigcisqd7m5nf3qmuvjdbakl5bdnh4ocrmacaqkpuh77qjvggmt2sa");
}
