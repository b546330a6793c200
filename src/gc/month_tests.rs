//! A month of daily builds simulated on one store under a size bound, with
//! a collection after each day's build: five toolchains (a new one each
//! week), forty crates of which three take a new version each day, every
//! fifth with a build-script run. File times are set to the simulated
//! clock, the way hits and restores move them.

use super::*;
use crate::artifact::cache::ArtifactRef;
use crate::artifact::pack::{Meta, PackedFile, PACK_VERSION};
use crate::artifact::runs::Candidate;
use crate::formats::block::{Block, RAW};
use crate::index::state::IndexState;
use crate::store::BlockStore;
use sha2::{Digest, Sha256};

const DAY: Duration = Duration::from_secs(86_400);
const CRATES: usize = 40;
const SIZE: usize = 24 * 1024;
const BOUND: u64 = 3 << 20;

struct Sim {
    dir: tempfile::TempDir,
    store: DiskStore,
    cache: Cache,
    runs: Runs,
    unpacked: Unpacked,
}

fn sha(parts: &[&str]) -> String {
    hex::encode(Sha256::digest(parts.join("\0")))
}

fn set_times(path: &Path, at: SystemTime) {
    let times = std::fs::FileTimes::new().set_accessed(at).set_modified(at);
    std::fs::File::options().write(true).open(path).unwrap().set_times(times).unwrap();
}

impl Sim {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        Sim {
            store: DiskStore::open(path).unwrap(),
            cache: Cache::new(path),
            runs: Runs::new(path),
            unpacked: Unpacked::new(path),
            dir,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn has(&self, cid: &str) -> bool {
        self.store.has(&parse_cid(cid).unwrap()).unwrap()
    }

    /// The artifact a compilation of `key` makes, its blocks stored.
    fn compile(&self, key: &str) -> ArtifactRef {
        let mut bytes = Vec::with_capacity(SIZE);
        while bytes.len() < SIZE {
            bytes.extend_from_slice(&Sha256::digest(format!("{key}{}", bytes.len())));
        }
        let block = Block::encode(RAW, false, bytes);
        self.store.put(&block).unwrap();
        let cid = block.cid().to_string();
        ArtifactRef { cid, sha256: "0".repeat(64), size: SIZE as u64, compile_ms: 1, local: true, attested_by: vec![] }
    }

    /// The copy a hit reads, made again when collected, its manifest read at `at`.
    fn use_copy(&self, cid: &str, at: SystemTime) {
        if self.unpacked.get(cid).is_none() {
            let meta = Meta {
                stdout: String::new(),
                stderr: String::new(),
                status: 0,
                env_deps: vec![],
                format: PACK_VERSION,
            };
            let file = PackedFile { name: "lib.rlib".into(), executable: false, bytes: vec![1u8; SIZE].into() };
            self.unpacked.put(cid, &meta, &[file]).unwrap();
        }
        set_times(&self.unpacked.dir().join(cid).join("manifest.json"), at);
    }

    /// A compilation of `key` at `at`: whether it hit.
    fn unit(&self, key: &str, at: SystemTime) -> bool {
        let known = self.cache.get(key).and_then(|r| r.variants.into_values().next());
        if let Some(artifact) = known.filter(|a| self.has(&a.cid)) {
            self.use_copy(&artifact.cid, at);
            return true;
        }
        let artifact = self.compile(key);
        self.cache.put(key, &[], "env", artifact.clone()).unwrap();
        set_times(&self.path().join("wrapper/keys").join(&key[..2]).join(format!("{key}.json")), at);
        self.use_copy(&artifact.cid, at);
        false
    }

    /// A build-script run under `pre_key` at `at`: whether it was restored.
    fn run(&self, pre_key: &str, at: SystemTime) -> bool {
        let file = self.path().join("wrapper/runs").join(&pre_key[..2]).join(format!("{pre_key}.json"));
        let restored = self.runs.candidates(pre_key).iter().any(|c| self.has(&c.artifact.cid));
        if !restored {
            let artifact = self.compile(pre_key);
            let candidate = Candidate {
                names: Default::default(),
                state: Default::default(),
                key: pre_key.to_string(),
                artifact,
                bound_to: None,
            };
            self.runs.add(pre_key, candidate).unwrap();
        }
        // What `Runs::touch` does on a restore, on the simulated clock.
        set_times(&file, at);
        restored
    }

    /// Every artifact the maps name has its blocks: a collection never
    /// leaves a map pointing at what it removed.
    fn maps_are_whole(&self) {
        let inventory = scan::Inventory::scan(self.path(), &self.store).unwrap();
        for cid in inventory.artifacts.keys() {
            assert!(self.has(cid), "a map names {cid}, whose block is gone");
        }
    }
}

#[test]
fn a_month_of_builds_stays_under_the_bound_keeps_what_is_protected_and_what_is_in_use() {
    let sim = Sim::new();
    let start = SystemTime::now() - 40 * DAY;
    let mut versions = [0u32; CRATES];
    let mut seen = std::collections::HashSet::new();
    let (mut pinned, mut journaled) = (String::new(), String::new());
    let mut compiled = 0u64;
    let mut today = Vec::new();
    for day in 0..30u32 {
        let toolchain = format!("1.{}.0", 80 + day / 7);
        for j in 0..3 {
            versions[(day as usize * 3 + j) % CRATES] += 1;
        }
        let at = start + day * DAY;
        let (mut hits, mut new) = (0, 0);
        today.clear();
        for (i, version) in versions.iter().enumerate() {
            let (name, version) = (format!("crate{i}"), version.to_string());
            let key = sha(&[&toolchain, &name, &version]);
            new += u32::from(seen.insert(key.clone()));
            hits += u32::from(sim.unit(&key, at));
            today.extend(sim.cache.get(&key).unwrap().variants.into_values().map(|a| a.cid));
            if i % 5 == 0 {
                let pre_key = sha(&["run", &toolchain, &name, &version]);
                new += u32::from(seen.insert(pre_key.clone()));
                hits += u32::from(sim.run(&pre_key, at));
            }
        }
        compiled += u64::from(new);
        let units = CRATES as u32 + CRATES as u32 / 5;
        assert_eq!(hits, units - new, "day {day}: all but the new units hit (nothing in use was collected)");

        if day == 0 {
            // A user pins one artifact; one is journaled (recorded, not yet published).
            let first = |i: usize| sim.cache.get(&sha(&[&toolchain, &format!("crate{i}"), "0"])).unwrap();
            pinned = first(5).variants.into_values().next().unwrap().cid;
            let state = IndexState::new(sim.path());
            state.update_pins(|p| p.add_user(&pinned, None, 0)).unwrap();
            journaled = first(6).variants.into_values().next().unwrap().cid;
            let (template, _) = crate::artifact::download::tests::artifact(&sim.store);
            sim.cache.journal(&crate::index::Entry { cid: journaled.clone(), ..template }).unwrap();
        }

        let grace = Duration::from_secs(600);
        let options = Options { max_size: Some(BOUND), max_age: None, grace, dry_run: false };
        let report = collect(sim.path(), options, at + Duration::from_secs(3600)).unwrap();
        assert!(report.fits, "day {day}: {report:?}");
        let size = store_sizes(sim.path()).unwrap().total();
        assert!(size <= BOUND, "day {day}: {size} bytes over the bound");
        assert!(sim.has(&pinned) && sim.has(&journaled), "day {day}: a protected artifact went");
        sim.maps_are_whole();
    }
    assert!(compiled * SIZE as u64 > 2 * BOUND, "the month made {compiled} artifacts: too few to test the bound");

    // Used within the grace (a build restoring right now): kept even when
    // nothing else would be.
    let now = start + 29 * DAY + Duration::from_secs(60);
    let options = Options { max_size: Some(0), max_age: None, grace: Duration::from_secs(600), dry_run: false };
    let report = collect(sim.path(), options, now).unwrap();
    assert!(!report.fits, "{report:?}");
    for cid in &today {
        assert!(sim.has(cid) && !report.artifacts.0.contains(cid), "{cid}, in use, was collected");
    }
    assert!(!today.is_empty());
}
