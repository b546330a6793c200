//! Tests for the CAR reader and writer, driven by the fixtures under
//! `tests/fixtures/ipfs/` (see the README there for where each one comes from).

use super::*;
use crate::formats::block::{parse_cid, Block, RAW};
use crate::formats::varint;
use bytes::Bytes;
use cid::Cid;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};

fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ipfs")
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixture_root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn json(rel: &str) -> Value {
    serde_json::from_slice(&fixture(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every `.car` under the fixture root, as paths relative to it.
fn car_fixtures() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|ext| ext == "car") {
                out.push(path);
            }
        }
    }
    let root = fixture_root();
    let mut paths = Vec::new();
    walk(&root, &mut paths);
    let mut rels: Vec<String> =
        paths.iter().map(|p| p.strip_prefix(&root).unwrap().to_str().unwrap().replace('\\', "/")).collect();
    rels.sort();
    rels
}

fn read_all(bytes: &[u8]) -> Result<(Vec<Cid>, Vec<Block>), CarError> {
    let mut reader = CarReader::new(bytes)?;
    let roots = reader.roots().to_vec();
    let blocks = reader.by_ref().collect::<Result<Vec<_>, _>>()?;
    Ok((roots, blocks))
}

fn write_all(roots: &[Cid], blocks: &[Block]) -> Vec<u8> {
    let mut writer = CarWriter::new(Vec::new(), roots).unwrap();
    for block in blocks {
        writer.write_block(block).unwrap();
    }
    writer.finish().unwrap()
}

fn cids(values: &Value) -> Vec<Cid> {
    values.as_array().unwrap().iter().map(|v| parse_cid(v.as_str().unwrap()).unwrap()).collect()
}

/// The length of one section on the wire, varint included.
fn section_len(block: &Block) -> usize {
    let body = block.cid().encoded_len() + block.data().len();
    varint::encoded_len(body as u64) + body
}

/// A CAR with the given header bytes followed by `rest`.
fn with_header(header: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint::encode(header.len() as u64, &mut out);
    out.extend_from_slice(header);
    out.extend_from_slice(rest);
    out
}

#[test]
fn every_fixture_decodes_to_the_expected_roots_and_block_count() {
    let expected = json("EXPECTED-decoded.json");
    let expected = expected["cars"].as_object().unwrap();
    let found = car_fixtures();
    let listed: Vec<&String> = expected.keys().collect();
    assert_eq!(found.iter().collect::<Vec<_>>(), listed, "fixture files and EXPECTED-decoded.json disagree");
    for (path, want) in expected {
        assert_eq!(want["version"], 1, "{path}");
        assert_eq!(want["all_block_hashes_verified"], true, "{path}");
        let (roots, blocks) = read_all(&fixture(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(roots, cids(&want["roots"]), "{path}");
        assert_eq!(blocks.len() as u64, want["block_count"].as_u64().unwrap(), "{path}");
    }
}

#[test]
fn carv1_basic_matches_its_description() {
    let car = fixture("ipld-car-spec/carv1-basic.car");
    let want = json("ipld-car-spec/carv1-basic.json");
    let (roots, blocks) = read_all(&car).unwrap();
    let want_roots: Vec<Cid> = want["header"]["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| parse_cid(r["/"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(roots, want_roots);
    assert_eq!(want["header"]["version"], 1);
    let want_blocks = want["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), want_blocks.len());
    let mut offset = encode_header(&roots).len();
    for (block, w) in blocks.iter().zip(want_blocks) {
        let cid = block.cid().to_string();
        assert_eq!(cid, w["cid"]["/"].as_str().unwrap());
        assert_eq!(block.data().len() as u64, w["blockLength"].as_u64().unwrap(), "{cid}");
        assert_eq!(offset as u64, w["offset"].as_u64().unwrap(), "{cid}");
        assert_eq!(section_len(block) as u64, w["length"].as_u64().unwrap(), "{cid}");
        let block_offset = offset + section_len(block) - block.data().len();
        assert_eq!(block_offset as u64, w["blockOffset"].as_u64().unwrap(), "{cid}");
        offset += section_len(block);
    }
    assert_eq!(offset, car.len());
}

#[test]
fn writer_reproduces_every_fixture_byte_for_byte() {
    for path in car_fixtures() {
        let car = fixture(&path);
        let (roots, blocks) = read_all(&car).unwrap();
        assert!(car.starts_with(&encode_header(&roots)), "{path}: header differs");
        assert!(write_all(&roots, &blocks) == car, "{path}: rewritten CAR differs");
    }
}

#[test]
fn missing_block_fixtures_still_decode() {
    // Completeness is checked by whoever walks the DAG; at this layer the
    // blocks that are present are simply valid.
    let expected = json("EXPECTED-decoded.json");
    for path in [
        "gateway-conformance/fixtures/trustless_gateway_car/file-3k-and-3-blocks-missing-block.car",
        "gateway-conformance/tooling/car/_fixtures/file-3k-and-3-blocks-missing-block.car",
    ] {
        let (_, blocks) = read_all(&fixture(path)).unwrap();
        assert_eq!(blocks.len() as u64, expected["cars"][path]["block_count"].as_u64().unwrap(), "{path}");
    }
    // The fixtures' README names the root and the two leaves that are there.
    let path = "gateway-conformance/fixtures/trustless_gateway_car/file-3k-and-3-blocks-missing-block.car";
    let (_, blocks) = read_all(&fixture(path)).unwrap();
    let present: Vec<String> = blocks.iter().map(|b| b.cid().to_string()).collect();
    for cid in [
        "QmYhmPjhFjYFyaoiuNzYv8WGavpSRDwdHWe5B4M5du5Rtk",
        "QmPKt7ptM2ZYSGPUc8PmPT2VBkLDK3iqpG9TBJY7PCE9rF",
        "QmWXY482zQdwecnfBsj78poUUuPXvyw2JAFAEMw4tzTavV",
    ] {
        assert!(present.iter().any(|p| p == cid), "{cid} missing from {present:?}");
    }
}

#[test]
fn flipped_byte_is_a_hash_mismatch_naming_the_cid_and_offset() {
    let mut car = fixture("gateway-conformance/fixtures/gateway-raw-block.car");
    let (_, blocks) = read_all(&car).unwrap();
    let last = blocks.last().unwrap();
    let last_offset = car.len() - section_len(last);
    *car.last_mut().unwrap() ^= 0x01;
    let mut reader = CarReader::new(car.as_slice()).unwrap();
    for _ in 1..blocks.len() {
        reader.next_block().unwrap().unwrap();
    }
    let err = reader.next_block().unwrap_err();
    match &err {
        CarError::Block { offset, source: BlockError::HashMismatch { cid } } => {
            assert_eq!(*offset, last_offset as u64);
            assert_eq!(cid, last.cid());
        }
        other => panic!("expected a hash mismatch, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(&last.cid().to_string()) && message.contains(&last_offset.to_string()), "{message}");
    // The reader stops after an error instead of resynchronising.
    assert!(reader.next_block().unwrap().is_none());
}

#[test]
fn truncation_is_an_error_except_at_section_boundaries() {
    let car = fixture("gateway-conformance/fixtures/path_gateway_unixfs/dir-with-files.car");
    let (roots, blocks) = read_all(&car).unwrap();
    let mut boundaries = vec![encode_header(&roots).len()];
    for block in &blocks {
        boundaries.push(boundaries.last().unwrap() + section_len(block));
    }
    assert_eq!(*boundaries.last().unwrap(), car.len());
    for cut in 0..car.len() {
        let result = read_all(&car[..cut]);
        if cut == 0 {
            assert!(matches!(result, Err(CarError::BadHeader { .. })), "cut {cut}: {result:?}");
        } else if let Some(n) = boundaries.iter().position(|&b| b == cut) {
            let (_, got) = result.unwrap_or_else(|e| panic!("cut {cut}: {e}"));
            assert_eq!(got, blocks[..n], "cut {cut}");
        } else {
            match result {
                Err(CarError::Truncated { offset }) => assert_eq!(offset, cut as u64),
                other => panic!("cut {cut}: expected truncation, got {other:?}"),
            }
        }
    }
    let message = read_all(&car[..100]).unwrap_err().to_string();
    assert!(message.contains("truncated at byte 100") && message.contains("fetch it again"), "{message}");
}

#[test]
fn oversized_lengths_are_refused_before_allocating() {
    // The endless input behind each length would exhaust memory if the
    // reader tried to buffer what the length claims.
    let header = encode_header(&[]);
    for size in [MAX_SECTION_SIZE as u64 + 1, (1 << 63) - 1] {
        let mut prefix = header.clone();
        varint::encode(size, &mut prefix);
        let mut reader = CarReader::new(prefix.as_slice().chain(io::repeat(0))).unwrap();
        match reader.next_block() {
            Err(CarError::SectionTooLarge { offset, size: got }) => {
                assert_eq!(offset, header.len() as u64);
                assert_eq!(got, size);
            }
            other => panic!("size {size}: expected SectionTooLarge, got {other:?}"),
        }
    }
    let mut prefix = Vec::new();
    varint::encode(MAX_HEADER_SIZE as u64 + 1, &mut prefix);
    let result = CarReader::new(prefix.as_slice().chain(io::repeat(0)));
    assert!(matches!(result, Err(CarError::HeaderTooLarge { size }) if size == MAX_HEADER_SIZE as u64 + 1));
}

#[test]
fn bad_varints_are_refused() {
    let header = encode_header(&[]);
    let at = header.len() as u64;
    let cases: [(&[u8], VarintError); 2] =
        [(&[0x80, 0x00], VarintError::NotMinimal), (&[0xff; 9], VarintError::Overflow)];
    for (bytes, want) in cases {
        let car = [header.as_slice(), bytes].concat();
        match read_all(&car) {
            Err(CarError::BadVarint { offset, source }) => {
                assert_eq!((offset, source), (at, want.clone()))
            }
            other => panic!("{bytes:x?}: expected BadVarint, got {other:?}"),
        }
    }
    // A header length that is not minimal is refused the same way.
    let result = read_all(&[0x81, 0x00]);
    assert!(matches!(result, Err(CarError::BadVarint { offset: 0, source: VarintError::NotMinimal })), "{result:?}");
}

#[test]
fn carv2_and_malformed_headers_are_refused() {
    // The CARv2 pragma, from the CARv2 spec: the header {"version": 2}.
    let pragma = [0x0a, 0xa1, 0x67, b'v', b'e', b'r', b's', b'i', b'o', b'n', 0x02];
    let err = read_all(&pragma).unwrap_err();
    assert!(matches!(err, CarError::UnsupportedVersion { version: 2 }), "{err:?}");
    assert!(err.to_string().contains("CARv2 is not"), "{err}");

    let version_only = [0xa1, 0x67, b'v', b'e', b'r', b's', b'i', b'o', b'n', 0x01];
    let text = [0x63, b'c', b'a', b'r'];
    let trailing = [encode_header(&[]).split_off(1), vec![0x00]].concat();
    for header in [&[][..], &[0xff; 4], &text, &version_only, &trailing] {
        let result = read_all(&with_header(header, &[]));
        assert!(matches!(result, Err(CarError::BadHeader { .. })), "{header:x?}: {result:?}");
    }
    assert!(matches!(read_all(&[]), Err(CarError::BadHeader { .. })));
}

#[test]
fn sections_without_a_valid_cid_are_refused() {
    let header = encode_header(&[]);
    let at = header.len() as u64;
    // An empty section, and a CIDv1 whose multihash is cut short.
    for section in [&[0x00][..], &[0x03, 0x01, 0x55, 0x12]] {
        let result = read_all(&[header.as_slice(), section].concat());
        assert!(matches!(result, Err(CarError::BadCid { offset, .. }) if offset == at), "{section:x?}: {result:?}");
    }
}

#[test]
fn writer_round_trips_blocks_with_any_roots() {
    let blocks: Vec<Block> =
        [&b""[..], b"hello\n", &[7u8; 3000]].iter().map(|data| Block::encode(RAW, false, data.to_vec())).collect();
    for roots in [vec![], vec![*blocks[1].cid()], blocks.iter().map(|b| *b.cid()).collect()] {
        let (got_roots, got_blocks) = read_all(&write_all(&roots, &blocks)).unwrap();
        assert_eq!(got_roots, roots);
        assert_eq!(got_blocks, blocks);
    }
}

#[test]
fn writer_refuses_oversized_blocks() {
    let block = Block::encode(RAW, false, vec![0; MAX_BLOCK_SIZE + 1]);
    let mut writer = CarWriter::new(Vec::new(), &[]).unwrap();
    let result = writer.write_block(&block);
    assert!(matches!(result, Err(CarError::Block { source: BlockError::TooLarge { .. }, .. })), "{result:?}");
}

#[test]
fn unsupported_hash_is_refused_naming_the_cid() {
    // blake3 (0x1e) is a real multihash this crate does not implement.
    let cid = Cid::new_v1(RAW, crate::formats::block::Multihash::wrap(0x1e, &[0; 32]).unwrap());
    let header = encode_header(&[cid]);
    let mut car = header.clone();
    varint::encode((cid.encoded_len() + 2) as u64, &mut car);
    car.extend_from_slice(&cid.to_bytes());
    car.extend_from_slice(b"hi");
    match read_all(&car) {
        Err(CarError::Block { offset, source: BlockError::UnsupportedHash { cid: got, code: 0x1e } }) => {
            assert_eq!(offset, header.len() as u64);
            assert_eq!(got, cid);
        }
        other => panic!("expected an unsupported hash, got {other:?}"),
    }
}

#[test]
fn reader_errors_carry_the_offset() {
    /// Fails every read, as a reset connection would.
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "connection reset"))
        }
    }
    let car = fixture("gateway-conformance/tooling/check/_fixtures/hello_ipfs.car");
    // Cut inside the section's data, so that the failure hits the bulk read.
    let cut = car.len() - 4;
    let mut reader = CarReader::new(car[..cut].chain(Broken)).unwrap();
    match reader.next_block() {
        Err(CarError::Io { offset, source }) => {
            assert_eq!(offset, cut as u64);
            assert_eq!(source.kind(), io::ErrorKind::ConnectionReset);
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn the_decoder_gives_the_same_blocks_however_the_input_is_cut() {
    let mut checked = 0;
    for path in car_fixtures() {
        let car = fixture(&path);
        let Ok((roots, blocks)) = read_all(&car) else { continue };
        checked += 1;
        // One byte at a time, then pieces of a few odd sizes.
        for piece in [1, 7, 100, 4099] {
            let mut decoder = CarDecoder::new();
            let mut got = Vec::new();
            for chunk in car.chunks(piece) {
                decoder.feed(chunk, &mut |block| got.push(block)).unwrap();
            }
            decoder.finish().unwrap();
            assert_eq!(decoder.roots().unwrap(), roots.as_slice(), "{path} in pieces of {piece}");
            assert_eq!(got, blocks, "{path} in pieces of {piece}");
            assert_eq!(decoder.offset(), car.len() as u64);
        }
    }
    assert!(checked >= 5, "only {checked} fixtures decoded");
}

#[test]
fn the_decoder_stops_at_the_first_error_and_reports_a_cut_at_finish() {
    let car = fixture("gateway-conformance/fixtures/path_gateway_unixfs/dir-with-files.car");
    let (_, blocks) = read_all(&car).unwrap();
    // Cut inside the last section: every block before it, then a truncation.
    let cut = car.len() - 3;
    let mut decoder = CarDecoder::new();
    let mut got = Vec::new();
    decoder.feed(&car[..cut], &mut |block| got.push(block)).unwrap();
    assert_eq!(got, blocks[..blocks.len() - 1]);
    assert!(matches!(decoder.finish(), Err(CarError::Truncated { offset }) if offset == cut as u64));
    // A flipped byte in the last block: a hash mismatch, then silence.
    let mut bad = car.clone();
    *bad.last_mut().unwrap() ^= 1;
    let mut decoder = CarDecoder::new();
    let err = decoder.feed(&bad, &mut |_| {}).unwrap_err();
    assert!(matches!(err, CarError::Block { source: BlockError::HashMismatch { .. }, .. }), "{err:?}");
    let mut later = 0;
    decoder.feed(&car, &mut |_| later += 1).unwrap();
    assert_eq!(later, 0, "nothing is decoded after an error");
}

#[test]
fn large_blocks_fed_shared_are_kept_in_the_pieces_they_arrived_in() {
    let small = Block::encode(RAW, false, vec![1; 1024]);
    let large = Block::encode(RAW, false, (0..300 * 1024).map(|i| (i % 251) as u8).collect());
    let car = write_all(&[*large.cid()], &[small.clone(), large.clone()]);
    let inputs: Vec<Bytes> = car.chunks(64 * 1024).map(Bytes::copy_from_slice).collect();

    let mut decoder = CarDecoder::new();
    let mut blocks = Vec::new();
    for input in &inputs {
        decoder.feed_shared(input.clone(), &mut |block| blocks.push(block)).unwrap();
    }
    decoder.finish().unwrap();
    assert_eq!(blocks, [small, large.clone()]);
    // The small block is one buffer of its own; the large one is slices of
    // the inputs (but for the few bytes read with its CID), not a copy.
    assert_eq!(blocks[0].pieces().len(), 1);
    let pieces = blocks[1].pieces();
    assert!(pieces.len() >= 5, "{} pieces", pieces.len());
    let within = |p: &[u8]| inputs.iter().any(|i| i.as_ptr_range().contains(&p.as_ptr()));
    assert!(pieces[1..].iter().all(|p| within(p)), "a piece was copied");
    assert_eq!(pieces.concat(), large.data());

    // Fed in tiny chunks, the large block is copied together, not kept as
    // thousands of slices.
    let mut decoder = CarDecoder::new();
    let mut blocks = Vec::new();
    for input in car.chunks(100) {
        decoder.feed_shared(Bytes::copy_from_slice(input), &mut |block| blocks.push(block)).unwrap();
    }
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[1].pieces(), [large.data()]);

    // A flipped byte inside the large block is refused as for any block.
    let mut bad = car.clone();
    let at = car.len() - 1000;
    bad[at] ^= 1;
    let mut decoder = CarDecoder::new();
    let mut got = 0;
    let mut result = Ok(());
    for input in bad.chunks(64 * 1024) {
        result = result.and_then(|()| decoder.feed_shared(Bytes::copy_from_slice(input), &mut |_| got += 1));
    }
    assert!(matches!(result, Err(CarError::Block { source: BlockError::HashMismatch { .. }, .. })), "{result:?}");
    assert_eq!(got, 1, "the small block before it still came");
}
