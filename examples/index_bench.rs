//! The index benchmark behind `scripts/bench-index.sh`: builds an index of
//! N entries (default 1,000,000) on a disk store, then measures looking up
//! 300 crates (time and blocks read) and publishing a version that changes
//! one crate (time and blocks written).
//!
//!     cargo run --release --example index_bench -- [ENTRIES] [ENTRIES_PER_CRATE]

use cargo_ipfs_fetch::formats::ipns::Keypair;
use cargo_ipfs_fetch::index::publish::{publish, PublishParams};
use cargo_ipfs_fetch::index::tree::lookup;
use cargo_ipfs_fetch::index::{Entry, Output, OutputKind};
use cargo_ipfs_fetch::store::{Counting, DiskStore};
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

/// A deterministic pseudo-random crate name of 6 to 14 letters.
fn name(i: u64) -> String {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let len = 6 + (x % 9) as usize;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (b'a' + ((x >> 33) % 26) as u8) as char
        })
        .collect()
}

fn entry(krate: &str, n: u64, builder: &str) -> Entry {
    let digest = format!("{:064x}", (n as u128) * 0x1_0000_0001 + 7);
    Entry {
        name: krate.to_string(),
        version: format!("1.{}.{}", n / 10, n % 10),
        source: "registry+https://github.com/rust-lang/crates.io-index".into(),
        checksum: digest.clone(),
        key: format!("{:064x}", n),
        cid: "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4".into(),
        size: 100_000 + n,
        unpacked_size: 400_000 + n,
        sha256: digest,
        outputs: vec![Output { name: format!("lib{krate}.rlib"), kind: OutputKind::Rlib }],
        rustc: "1.95.0 59807616e1fa2540724bfbac14d7976d7e4a3860".into(),
        target: "x86_64-unknown-linux-gnu".into(),
        profile: BTreeMap::from([("opt-level".into(), "0".into()), ("debuginfo".into(), "2".into())]),
        features: vec!["default".into(), "std".into()],
        crate_types: vec!["lib".into()],
        deps: BTreeMap::new(),
        built_at: 1_800_000_000,
        build_ms: 0,
        builder: builder.to_string(),
        inputs: Default::default(),
        run: None,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let total: u64 = args.next().map_or(1_000_000, |a| a.parse().expect("ENTRIES"));
    let per_crate: u64 = args.next().map_or(10, |a| a.parse().expect("ENTRIES_PER_CRATE"));
    let crates = total / per_crate;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Counting::new(DiskStore::open(dir.path()).expect("store"));
    let key = Keypair::from_seed(&[42; 32]);
    let builder = key.ipns_name().to_string();
    let signers = [key.clone()];
    let params = |now: u64| PublishParams {
        index: "bench",
        signers: &signers,
        ipns_key: &key,
        keys: vec![builder.clone()],
        threshold: 1,
        lifetime: Duration::from_secs(86_400),
        ttl: Duration::from_secs(300),
        now: SystemTime::UNIX_EPOCH + Duration::from_secs(now),
        refresh: false,
        root_keys: Vec::new(),
        root_threshold: 0,
    };

    let mut changes: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    let mut n = 0;
    for c in 0..crates {
        let krate = name(c);
        let list = changes.entry(krate.clone()).or_default();
        for _ in 0..per_crate {
            list.push(entry(&krate, n, &builder));
            n += 1;
        }
    }
    let distinct = changes.len();
    let started = Instant::now();
    let v1 = publish(&store, None, &changes, &params(1_800_000_000)).expect("build").expect("new version");
    let build = started.elapsed();
    let build_puts = store.puts();

    let names: Vec<&String> = changes.keys().step_by((distinct / 300).max(1)).take(300).collect();
    store.reset();
    let started = Instant::now();
    let mut found = 0;
    for krate in &names {
        found += lookup(&store, &v1.version.shards, krate).expect("lookup").len();
    }
    let look = started.elapsed();
    let reads = store.gets();

    let one = BTreeMap::from([(names[0].clone(), vec![entry(names[0], u64::MAX / 2, &builder)])]);
    store.reset();
    let started = Instant::now();
    let v2 = publish(&store, Some(&v1.version), &one, &params(1_800_000_100)).expect("update").expect("new version");
    let update = started.elapsed();

    println!("| measure | value |");
    println!("|---|---|");
    println!("| entries / crates | {n} / {distinct} |");
    println!("| build the index (one version) | {:.1} s, {build_puts} blocks written |", build.as_secs_f64());
    println!(
        "| look up {} crates ({found} entries) | {:.1} ms, {reads} blocks read ({:.2} per crate) |",
        names.len(),
        look.as_secs_f64() * 1e3,
        reads as f64 / names.len() as f64
    );
    println!(
        "| publish a version changing one crate | {:.1} ms, {} blocks read, {} blocks written (seq {}) |",
        update.as_secs_f64() * 1e3,
        store.gets(),
        store.puts(),
        v2.version.manifest.seq
    );
}
