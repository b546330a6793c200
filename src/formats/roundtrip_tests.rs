//! Round-trip properties over many generated inputs, each run from a fixed
//! seed (printed on failure) so that a failing case can be replayed:
//! CAR write then read gives back the roots and blocks; UnixFS import then
//! export gives back the bytes, under both profiles and odd chunk sizes;
//! an IPNS record created then verified gives back its value, sequence,
//! validity and TTL, and one flipped byte anywhere makes it fail or read
//! back unchanged, never as another record.

use super::block::{Block, RAW};
use super::car::{CarReader, CarWriter};
use super::ipns::{create_record, verify_record, Keypair};
use super::unixfs::{export_file, import_bytes, ImportParams};
use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

/// xorshift64*: a small generator, enough to spread cases.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        // Runs of repeated bytes too, as real files have.
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let byte = self.next() as u8;
            let run = if self.below(4) == 0 { self.below(300) as usize + 1 } else { 1 };
            out.extend(std::iter::repeat_n(byte, run.min(len - out.len())));
        }
        out
    }
}

#[test]
fn car_write_then_read_gives_back_roots_and_blocks() {
    for seed in 1..=60u64 {
        let mut g = Gen(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let blocks: Vec<Block> = (0..g.below(12) + 1)
            .map(|i| {
                let len = g.below(5000) as usize;
                let mut data = g.bytes(len);
                data.extend_from_slice(&i.to_le_bytes()); // distinct blocks
                Block::encode(RAW, false, data)
            })
            .collect();
        let roots: Vec<_> = blocks.iter().take(g.below(3) as usize + 1).map(|b| *b.cid()).collect();
        let mut writer = CarWriter::new(Vec::new(), &roots).unwrap();
        for b in &blocks {
            writer.write_block(b).unwrap();
        }
        let car = writer.finish().unwrap();
        let mut reader = CarReader::new(car.as_slice()).unwrap();
        assert_eq!(reader.roots(), roots.as_slice(), "seed {seed}");
        let mut read = Vec::new();
        while let Some(block) = reader.next_block().unwrap() {
            read.push(block);
        }
        assert_eq!(read, blocks, "seed {seed}");
        // Cut anywhere inside, the CAR never reads back as a whole one.
        let cut = 1 + g.below(car.len() as u64 - 1) as usize;
        let whole = CarReader::new(&car[..cut]).and_then(|mut r| {
            let mut n = 0;
            while r.next_block()?.is_some() {
                n += 1;
            }
            Ok(n)
        });
        assert!(whole.map_or(true, |n| n < blocks.len()), "seed {seed}: a CAR cut at {cut} read whole");
    }
}

#[test]
fn unixfs_import_then_export_gives_back_the_bytes() {
    for seed in 1..=40u64 {
        let mut g = Gen(seed.wrapping_mul(0xbf58_476d_1ce4_e5b9));
        let len = match g.below(4) {
            0 => g.below(64) as usize,
            1 => g.below(300_000) as usize,
            _ => g.below(3_000_000) as usize,
        };
        let data = g.bytes(len);
        let mut params = if g.below(2) == 0 { ImportParams::UNIXFS_V0_2015 } else { ImportParams::UNIXFS_V1_2025 };
        if g.below(2) == 0 {
            params.chunk_size = 1 + g.below(100_000) as usize;
            params.max_links = 2 + g.below(200) as usize;
        }
        let (file, blocks) = import_bytes(params, &data).unwrap();
        assert_eq!(file.size, data.len() as u64, "seed {seed}");
        let by_cid: HashMap<_, _> = blocks.iter().map(|b| (*b.cid(), b.data().to_vec())).collect();
        let mut out = Vec::new();
        let mut get = |cid: &cid::Cid| by_cid.get(cid).cloned().ok_or("missing");
        export_file(&file.cid, u64::MAX, &mut get, &mut |chunk| {
            out.extend_from_slice(chunk);
            Ok(())
        })
        .unwrap();
        assert!(out == data, "seed {seed}: {} bytes exported for {} imported ({params:?})", out.len(), data.len());
        // The same bytes and parameters give the same CID.
        assert_eq!(import_bytes(params, &data).unwrap().0.cid, file.cid, "seed {seed}");
    }
}

#[test]
fn an_ipns_record_created_then_verified_gives_back_what_was_signed() {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    for seed in 1..=40u64 {
        let mut g = Gen(seed.wrapping_mul(0x94d0_49bb_1331_11eb));
        let mut key_seed = [0u8; 32];
        key_seed.iter_mut().for_each(|b| *b = g.next() as u8);
        let keypair = Keypair::from_seed(&key_seed);
        let value = format!("/ipfs/bafkqa{}", "a".repeat(g.below(40) as usize));
        let sequence = g.next() >> g.below(64);
        let validity = now + Duration::from_secs(1 + g.below(10_000_000));
        let ttl = Duration::from_nanos(g.below(1 << 40));
        let bytes = create_record(&keypair, &value, sequence, validity, ttl).unwrap();
        let record = verify_record(&keypair.ipns_name(), &bytes, now).unwrap();
        assert_eq!(
            (record.value(), record.sequence(), record.validity(), record.ttl()),
            (value.as_str(), sequence, validity, ttl),
            "seed {seed}"
        );
        // One byte flipped: refused, or (a byte no signature covers) the same record.
        let mut flipped = bytes.clone();
        let at = g.below(bytes.len() as u64) as usize;
        flipped[at] ^= 1 << g.below(8);
        if let Ok(other) = verify_record(&keypair.ipns_name(), &flipped, now) {
            assert_eq!(
                (other.value(), other.sequence(), other.validity()),
                (value.as_str(), sequence, validity),
                "seed {seed}: byte {at}"
            );
        }
    }
}
