//! One artifact from the configured sources into the store: every block
//! verified against its CID on the way in, the whole checked against the
//! size and sha256 its signed entry names, unpacked for the wrapper and
//! filed in the cache map. `fetch` does this for a lockfile's artifacts in
//! parallel; the wrapper for one unit on demand (`cargo ipfs install`).

use super::cache::{env_digest, ArtifactRef, Cache};
use super::pack::Meta;
use super::read::{dag_budget, export_artifact};
use super::stream::{stream_into_copy, Packed, Unfiled};
use super::unpacked::{Copy, Unpacked};
use super::MAX_ARTIFACT;
use crate::index::Entry;
use crate::sources::Sources;
use crate::store::{BlockStore, DiskStore, StoreError};
use anyhow::{bail, Context};
use std::time::Instant;

/// The part of an entry's key that the cache map files it under: the key
/// without the suffix that names the environment values it was built with.
pub fn base_key(entry: &Entry) -> &str {
    &entry.key[..entry.key.len().min(64)]
}

/// Where artifacts come from and go to: the local store, a reader over it
/// (the store itself, or the store in front of the sources), the sources
/// for whole-artifact streams, and the cache map they are filed in.
#[derive(Clone, Copy)]
pub struct Downloader<'a> {
    /// The local store every block is written to.
    pub store: &'a DiskStore,
    /// Reads through the local store, fetching a missing block from the
    /// sources when there are any.
    pub reader: &'a dyn BlockStore,
    /// The sources, for one CAR stream per artifact; `None` offline.
    pub sources: Option<&'a Sources>,
    /// The cache map the artifact is filed in.
    pub cache: &'a Cache,
}

impl Downloader<'_> {
    /// Fetches one artifact and files it in the cache map, unpacked, and
    /// returns the milliseconds from `started` to its first byte; `None`
    /// when it was already there.
    pub fn fetch(&self, entry: &Entry, started: Instant) -> anyhow::Result<Option<u64>> {
        let Some(first_byte) = self.download(entry, started)? else { return Ok(None) };
        self.file(entry)?;
        Ok(Some(first_byte))
    }

    /// Brings every block of one artifact into the store, each verified
    /// against its CID, and returns the milliseconds from `started` to its
    /// first byte; `None` when the cache map has the artifact already.
    pub fn download(&self, entry: &Entry, started: Instant) -> anyhow::Result<Option<u64>> {
        let store = self.store;
        let key = base_key(entry);
        if self.cache.get(key).is_some_and(|r| r.variants.values().any(|a| a.cid == entry.cid)) {
            return Ok(None);
        }
        let cid = crate::formats::block::parse_cid(&entry.cid)?;
        check_sizes(entry)?;
        let mut first_byte = None;
        let mut first = || *first_byte.get_or_insert_with(|| started.elapsed().as_millis() as u64);
        // One CAR stream per artifact, raced across the gateways (a slow one
        // has the next asked beside it); the client verifies its blocks as
        // they arrive, and each goes straight to the store. A stream that
        // ends complete has brought the whole DAG (the client checks that
        // too). A stream that failed because a gateway is slow or failing
        // leaves that gateway remembered, and the next request skips it: so
        // a stream is asked for at most once per gateway.
        let mut complete = false;
        if let Some(sources) = self.sources {
            if !store.has(&cid)? {
                for _ in 0..sources.attempts() {
                    let Ok(mut blocks) = sources.get_dag(&cid, entry.size) else { break };
                    // A stream larger than its entry says (duplicates and
                    // blocks outside the DAG included) is not followed
                    // further: the signed size and the framing `dag_budget`
                    // allows.
                    let limit = dag_budget(entry.size);
                    let mut blamed = false;
                    complete = true;
                    while let Some(block) = blocks.next() {
                        let block = match block {
                            Ok(block) => block,
                            Err(e) => {
                                blamed = e.blames().is_some();
                                complete = false;
                                break;
                            }
                        };
                        first();
                        if blocks.bytes_read() > limit {
                            let why = format!("sent over {limit} bytes for artifact {cid} of {} bytes", entry.size);
                            sources.avoid(blocks.gateway(), &why);
                            (blamed, complete) = (true, false);
                            break;
                        }
                        store.put(&block)?;
                    }
                    // A stream that broke off without the gateway's fault is
                    // completed block by block below, from the same gateways.
                    if complete || !blamed {
                        break;
                    }
                }
            }
        }
        if !complete {
            // Offline, or the stream broke: read the file through the store,
            // which reads local blocks verified and fetches the missing ones
            // one by one.
            let mut get = |c: &cid::Cid| {
                let block = self.reader.get_required(c)?;
                first();
                Ok(block)
            };
            export_artifact(&entry.cid, entry.size, &mut get, &mut |_| Ok(()))
                .with_context(|| format!("cannot fetch artifact {cid}"))?;
            // Blocks read through a layered store are already local; make sure.
            if !store.has(&cid)? {
                bail!("artifact {cid} did not reach the local store");
            }
        }
        Ok(Some(first()))
    }

    /// Unpacks an artifact from the store for the wrapper and files it in
    /// the cache map under the environment values it was built with.
    ///
    /// The packed bytes stream from the store through a hash and the
    /// decompression straight into the files of the unpacked copy
    /// ([`super::stream`]), which is renamed into place only once the whole
    /// matches the entry's sha256, is no larger than its signed
    /// `unpacked_size`, and holds the outputs the entry names: memory stays
    /// small whatever the entry signs.
    pub fn file(&self, entry: &Entry) -> anyhow::Result<()> {
        let store = self.store;
        check_sizes(entry)?;
        let unpacked = Unpacked::new(store.root());
        // Every block was verified against its CID on its way into the
        // store, and the CID is the one the signed entry names. The blocks
        // are read back without hashing each again, since the whole is
        // checked against the entry's sha256 before anything is filed. If
        // that read fails or the digest differs, they are read again through
        // `reader`, verified: a block that rotted on disk since is
        // quarantined and fetched again.
        let mut unverified = |c: &cid::Cid| {
            store.get_unverified(c)?.ok_or_else(|| StoreError::NotFound { cid: *c, store: store.describe() })
        };
        let copy = match unpack_checked(&unpacked, entry, &mut unverified) {
            Ok(copy) => copy,
            Err(Unfiled::Content(e)) => return Err(e),
            Err(Unfiled::Bytes(_)) => match unpack_checked(&unpacked, entry, &mut |c| self.reader.get_required(c)) {
                Ok(copy) => copy,
                Err(Unfiled::Bytes(e) | Unfiled::Content(e)) => return Err(e),
            },
        };
        let meta = &copy.manifest.meta;
        let mut names: Vec<String> = meta.env_deps.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        names.dedup();
        let env = env_digest(&names, |n| meta.env_deps.iter().find(|(k, _)| k == n).and_then(|(_, v)| v.clone()));
        let artifact =
            ArtifactRef { cid: entry.cid.clone(), sha256: entry.sha256.clone(), size: entry.size, compile_ms: 0 };
        self.cache.put(base_key(entry), &names, &env, artifact).map_err(|e| StoreError::io(store.root(), e))?;
        Ok(())
    }
}

/// Makes the unpacked copy of `entry`'s artifact from the blocks `get`
/// reads, checked against the entry, or takes the one already there once
/// it matches the entry's outputs.
fn unpack_checked(
    unpacked: &Unpacked,
    entry: &Entry,
    get: &mut dyn FnMut(&cid::Cid) -> Result<Vec<u8>, StoreError>,
) -> Result<Copy, Unfiled> {
    if let Some(copy) = unpacked.get(&entry.cid) {
        let names = copy.manifest.files.iter().map(|f| f.name.as_str());
        matches_entry(entry, &copy.manifest.meta, names).map_err(Unfiled::Content)?;
        return Ok(copy);
    }
    let packed =
        Packed { cid: &entry.cid, size: entry.size, sha256: &entry.sha256, unpacked_limit: entry.unpacked_size };
    stream_into_copy(unpacked, &packed, get, &mut |meta, files| {
        matches_entry(entry, meta, files.iter().map(|f| f.name.as_str()))
    })
}

/// Refuses an artifact whose files are not the outputs its signed entry
/// names, or whose stored status is not a success: the entry is what was
/// signed, and the wrapper restores only successful compilations.
fn matches_entry<'a>(entry: &Entry, meta: &Meta, files: impl Iterator<Item = &'a str>) -> anyhow::Result<()> {
    let what = || format!("artifact {} of {} {}", entry.cid, entry.name, entry.version);
    if meta.status != 0 {
        bail!("{} stores exit status {}, not a success; refused", what(), meta.status);
    }
    let mut held: Vec<&str> = files.collect();
    let mut named: Vec<&str> = entry.outputs.iter().map(|o| o.name.as_str()).collect();
    held.sort_unstable();
    named.sort_unstable();
    if held != named {
        bail!("{} holds the files {held:?} where its signed entry names {named:?}; refused", what());
    }
    Ok(())
}

/// Refuses an entry whose signed sizes are over [`MAX_ARTIFACT`] before
/// anything is read or set aside for it.
fn check_sizes(entry: &Entry) -> anyhow::Result<()> {
    if entry.size > MAX_ARTIFACT || entry.unpacked_size > MAX_ARTIFACT {
        bail!(
            "artifact {} of {} {}: its entry names {} bytes packed and {} unpacked, over the {MAX_ARTIFACT}-byte limit; refused",
            entry.cid,
            entry.name,
            entry.version,
            entry.size,
            entry.unpacked_size
        );
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
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
            builder: String::new(),
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
        let slow = TestGateway::serving(
            blocks.clone(),
            Faults { trickle: Some(Duration::from_millis(1)), ..Faults::default() },
        );
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
}
