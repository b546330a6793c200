use super::*;
use crate::artifact::pack::{file_digest, pack, Meta, PackedFile};
use crate::artifact::read::read_artifact;
use crate::formats::block::Block;
use crate::formats::unixfs::{import_bytes, ImportParams};
use crate::store::gateway::test_server::{junk_blocks, Faults, TestGateway};
use crate::store::gateway::{ClientOptions, GatewayClient, HEALTH_DIR};
use crate::store::{Layered, RemoteStore};
use std::time::Duration;

/// An artifact in `store` and the entry that names it.
pub(crate) fn artifact(store: &DiskStore) -> (Entry, Vec<u8>) {
    let (entry, rlib, _) = artifact_of(store, vec![7; 300_000]);
    (entry, rlib)
}

/// An artifact whose one file holds `rlib`, in `store`: the entry that
/// names it, the file, and the artifact's blocks.
fn artifact_of(store: &DiskStore, rlib: Vec<u8>) -> (Entry, Vec<u8>, Vec<Block>) {
    let meta = Meta {
        stdout: String::new(),
        stderr: String::new(),
        status: 0,
        env_deps: vec![("PROBE".into(), Some("1".into()))],
        format: crate::artifact::pack::PACK_VERSION,
    };
    let files = vec![PackedFile { name: "libx-0.rlib".into(), executable: false, bytes: rlib.into() }];
    let packed = pack(&meta, &files);
    let (file, blocks) = import_bytes(ImportParams::UNIXFS_V1_2025, &packed).unwrap();
    for block in &blocks {
        store.put(block).unwrap();
    }
    let entry = Entry {
        name: "x".into(),
        version: "0.1.0".into(),
        source: "registry+https://github.com/rust-lang/crates.io-index".into(),
        checksum: "c".repeat(64),
        key: "ab".repeat(32),
        cid: file.cid.to_string(),
        size: packed.len() as u64,
        unpacked_size: crate::artifact::pack::unpacked_size(&packed).unwrap(),
        sha256: file_digest(&packed),
        outputs: vec![crate::index::Output { name: "libx-0.rlib".into(), kind: crate::index::OutputKind::Rlib }],
        rustc: "1.0.0".into(),
        target: "t".into(),
        profile: Default::default(),
        features: vec![],
        crate_types: vec!["lib".into()],
        deps: Default::default(),
        built_at: 0,
        build_ms: 0,
        builder: String::new(),
        inputs: Default::default(),
        run: None,
    };
    (entry, files[0].bytes.to_vec(), blocks)
}

fn local<'a>(store: &'a DiskStore, reader: &'a dyn BlockStore, cache: &'a Cache) -> Downloader<'a> {
    Downloader { store, reader, sources: None, cache }
}

#[test]
fn an_artifact_of_another_size_than_named_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(dir.path()).unwrap();
    let (entry, _) = artifact(&store);
    let mut get = |c: &cid::Cid| store.get_required(c);
    let bytes = read_artifact(&entry.cid, entry.size, &mut get).unwrap();
    assert_eq!(file_digest(&bytes), entry.sha256);
    for size in [entry.size - 1, entry.size + 1, 0] {
        let e = read_artifact(&entry.cid, size, &mut get).unwrap_err();
        assert!(format!("{e:#}").contains(&entry.cid), "{e:#}");
    }
}

#[test]
fn an_artifact_is_filed_unpacked_only_when_its_entry_matches() {
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(dir.path()).unwrap();
    let cache = Cache::new(dir.path());
    let (entry, rlib) = artifact(&store);
    let downloader = local(&store, &store, &cache);

    // An entry whose sha256 disagrees with the bytes its CID names.
    let lying = Entry { sha256: "0".repeat(64), ..entry.clone() };
    let err = downloader.fetch(&lying, Instant::now()).unwrap_err();
    assert!(format!("{err:#}").contains("does not match the sha256"), "{err:#}");
    assert!(cache.get(base_key(&entry)).is_none(), "nothing filed");
    // And one whose size disagrees.
    let short = Entry { size: entry.size - 1, ..entry.clone() };
    assert!(downloader.fetch(&short, Instant::now()).is_err());
    assert!(cache.get(base_key(&entry)).is_none());
    // And one that names other outputs than the pack holds.
    let mut other = entry.clone();
    other.outputs[0].name = "libmine-0.rlib".into();
    let err = downloader.fetch(&other, Instant::now()).unwrap_err();
    assert!(format!("{err:#}").contains("where its signed entry names"), "{err:#}");
    assert!(cache.get(base_key(&entry)).is_none());
    assert!(Unpacked::new(dir.path()).get(&entry.cid).is_none(), "no copy made");

    assert!(downloader.fetch(&entry, Instant::now()).unwrap().is_some());
    let record = cache.get(base_key(&entry)).unwrap();
    assert_eq!(record.variants.values().next().unwrap().size, entry.size);
    assert_eq!(record.env_names, ["PROBE"]);
    let copy = Unpacked::new(dir.path()).get(&entry.cid).unwrap();
    assert_eq!(std::fs::read(copy.file("libx-0.rlib")).unwrap(), rlib);
    // A second time, it is already there.
    assert!(downloader.fetch(&entry, Instant::now()).unwrap().is_none());
}

#[test]
fn an_artifact_of_a_failed_compilation_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(dir.path()).unwrap();
    let (entry, rlib) = artifact(&store);
    let files = [PackedFile { name: "libx-0.rlib".into(), executable: false, bytes: rlib.into() }];
    let meta = |status| Meta {
        stdout: String::new(),
        stderr: String::new(),
        status,
        env_deps: vec![],
        format: crate::artifact::pack::PACK_VERSION,
    };
    matches_entry(&entry, &meta(0), files.iter().map(|f| f.name.as_str())).unwrap();
    let err = matches_entry(&entry, &meta(101), files.iter().map(|f| f.name.as_str())).unwrap_err();
    assert!(format!("{err:#}").contains("exit status 101"), "{err:#}");
}

#[test]
fn a_block_that_rotted_after_the_download_is_fetched_again_before_unpacking() {
    let (good_dir, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let good = DiskStore::open(good_dir.path()).unwrap();
    let (entry, rlib) = artifact(&good);
    let store = DiskStore::open(dir.path()).unwrap();
    artifact(&store);
    let cid = crate::formats::block::parse_cid(&entry.cid).unwrap();
    let path = store.block_path(&cid);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let cache = Cache::new(dir.path());

    // With nowhere to fetch a good copy from: refused, nothing filed, and
    // the rotten block is out of the way.
    let err = local(&store, &store, &cache).file(&entry).unwrap_err();
    assert!(format!("{err:#}").contains("quarantine"), "{err:#}");
    assert!(cache.get(base_key(&entry)).is_none());
    assert!(!store.has(&cid).unwrap());

    // Rotten again, with a source of good blocks behind the store: the
    // block comes again, verified, and the artifact is filed.
    std::fs::write(&path, &bytes).unwrap();
    let layered = Layered::new(store.clone(), good);
    local(&store, &layered, &cache).file(&entry).unwrap();
    assert!(cache.get(base_key(&entry)).is_some());
    assert!(store.get(&cid).unwrap().is_some(), "repaired in place");
    let copy = Unpacked::new(dir.path()).get(&entry.cid).unwrap();
    assert_eq!(std::fs::read(copy.file("libx-0.rlib")).unwrap(), rlib);
}

/// Bytes zstd cannot shrink, so that the artifact spans several blocks.
fn incompressible(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// An artifact of about `len` bytes (its entry and blocks), made in a
/// store of its own.
fn served_artifact(len: usize) -> (Entry, Vec<Block>) {
    let dir = tempfile::tempdir().unwrap();
    let (entry, _, blocks) = artifact_of(&DiskStore::open(dir.path()).unwrap(), incompressible(len));
    (entry, blocks)
}

fn gateways(gateways: &[&TestGateway], options: ClientOptions) -> Sources {
    let urls = gateways.iter().map(|g| g.url()).collect();
    Sources::Gateways(RemoteStore::new(GatewayClient::new(urls, options).unwrap()).unwrap())
}

/// Fetches `entry` through `sources` into `store`, as the wrapper's
/// on-demand path does.
fn fetch_through(store: &DiskStore, sources: Sources, entry: &Entry) -> anyhow::Result<Option<u64>> {
    let cache = Cache::new(store.root());
    let layered = Layered::new(store.clone(), sources);
    let downloader = Downloader { store, reader: &layered, sources: Some(layered.remote()), cache: &cache };
    downloader.fetch(entry, Instant::now())
}

#[test]
fn junk_a_gateway_sends_around_an_artifact_never_reaches_the_store() {
    let (entry, blocks) = served_artifact(2_500_000);
    assert!(blocks.len() > 2, "a file node and its leaves");
    let junk = TestGateway::serving(blocks.clone(), Faults { junk: Some(4), ..Faults::default() });
    let options = ClientOptions { timeout: Duration::from_secs(10), ..ClientOptions::default() };
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(dir.path()).unwrap();
    assert!(fetch_through(&store, gateways(&[&junk], options), &entry).unwrap().is_some());
    for block in &blocks {
        assert!(store.has(block.cid()).unwrap(), "{}", block.cid());
    }
    for block in junk_blocks(12) {
        assert!(!store.has(block.cid()).unwrap(), "junk {} was stored", block.cid());
    }
    assert_eq!(junk.requests(), 1, "one CAR, nothing block by block");
}

#[test]
fn an_artifact_a_gateway_is_too_slow_for_comes_from_the_next() {
    let (entry, blocks) = served_artifact(100_000);
    // Slow for its size (16 bytes a millisecond at most, so over 6 s),
    // but inside the minimum rate's allowance (the idle timeout, 30 s,
    // plus the bytes at 64 KiB/s) until long after the pace of its size
    // (half a second, then its bytes at 256 KiB/s) has passed.
    let options = ClientOptions {
        timeout: Duration::from_secs(30),
        first_byte: Duration::from_millis(500),
        ..ClientOptions::default()
    };
    let slow =
        TestGateway::serving(blocks.clone(), Faults { trickle: Some(Duration::from_millis(1)), ..Faults::default() });
    let good = TestGateway::serving(blocks.clone(), Faults::default());
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(dir.path()).unwrap();
    assert!(fetch_through(&store, gateways(&[&slow, &good], options), &entry).unwrap().is_some());
    assert_eq!(slow.requests(), 1, "one CAR request, given up");
    assert_eq!(good.requests(), 1, "the whole artifact in one CAR from the next gateway");
    assert!(Cache::new(dir.path()).get(base_key(&entry)).is_some());
}

#[test]
fn a_gateway_that_failed_one_wrapper_is_not_asked_by_the_next() {
    let (entry, blocks) = served_artifact(2_500_000);
    let hanging =
        TestGateway::serving(blocks.clone(), Faults { hang: Some(Duration::from_secs(120)), ..Faults::default() });
    let good = TestGateway::serving(blocks.clone(), Faults::default());
    let urls = [hanging.url().to_string(), good.url().to_string()];
    let shared = tempfile::tempdir().unwrap();
    let timeout = Some(Duration::from_millis(500));

    // Two wrappers of one build: each opens its own sources, and each
    // fetches into the store (two stores here, so that the second has
    // something to fetch).
    for _ in 0..2 {
        let sources = Sources::open(&urls, None, timeout, Some(shared.path())).unwrap().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        assert!(fetch_through(&store, sources, &entry).unwrap().is_some());
    }
    assert_eq!(hanging.requests(), 1, "only the first wrapper asked the hanging gateway");
    assert_eq!(good.requests(), 2);
    assert!(shared.path().join(HEALTH_DIR).is_dir());

    // With it alone, the next wrapper asks nothing and fails at once:
    // the unit compiles.
    let sources = Sources::open(&urls[..1], None, timeout, Some(shared.path())).unwrap().unwrap();
    assert!(sources.all_avoided());
    let dir = tempfile::tempdir().unwrap();
    let err = fetch_through(&DiskStore::open(dir.path()).unwrap(), sources, &entry).unwrap_err();
    assert!(format!("{err:#}").contains(&hanging.label()), "{err:#}");
    assert_eq!(hanging.requests(), 1);
}

#[test]
fn a_pack_that_expands_past_its_signed_unpacked_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(dir.path()).unwrap();
    let cache = Cache::new(dir.path());
    let (entry, _) = artifact(&store);
    let downloader = local(&store, &store, &cache);
    let short = Entry { unpacked_size: entry.unpacked_size - 1, ..entry.clone() };
    let err = downloader.fetch(&short, Instant::now()).unwrap_err();
    assert!(format!("{err:#}").contains("decompresses to more than"), "{err:#}");
    assert!(cache.get(base_key(&entry)).is_none(), "nothing filed");
    // Over the one cap, refused before anything is read.
    let huge = Entry { unpacked_size: MAX_ARTIFACT + 1, ..entry.clone() };
    let err = downloader.fetch(&huge, Instant::now()).unwrap_err();
    assert!(format!("{err:#}").contains("over the"), "{err:#}");
    assert!(downloader.fetch(&entry, Instant::now()).unwrap().is_some());
}

#[test]
fn a_download_longer_than_the_signed_size_is_cut_off() {
    use crate::store::gateway::test_server::TestGateway;
    // Four leaves of 1 MiB that do not compress.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let bytes: Vec<u8> = (0..4 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let (file, blocks) = import_bytes(ImportParams::UNIXFS_V1_2025, &bytes).unwrap();
    let gateway = TestGateway::start();
    for block in &blocks {
        gateway.put(block);
    }
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(dir.path()).unwrap();
    let cache = Cache::new(dir.path());
    let sources = Sources::open(&[gateway.url().to_string()], None, None, None).unwrap();
    let downloader = Downloader { store: &store, reader: &store, sources: sources.as_ref(), cache: &cache };
    // An entry that signs half the size the gateway sends.
    let (entry, _) = artifact(&DiskStore::open(tempfile::tempdir().unwrap().path()).unwrap());
    let entry = Entry { cid: file.cid.to_string(), size: bytes.len() as u64 / 2, ..entry };
    assert!(downloader.download(&entry, Instant::now()).is_err());
    let stored: u64 = blocks.iter().filter(|b| store.has(b.cid()).unwrap()).map(|b| b.len() as u64).sum();
    assert!(stored <= dag_budget(entry.size), "{stored} bytes stored for an entry of {}", entry.size);
    assert!(gateway.requests() >= 1, "the stream was asked for");
}
