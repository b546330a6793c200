//! The publisher's operations on a real store directory: which version a
//! new one builds on, and what the journal may publish.

use super::*;
use crate::artifact::cache::Cache;
use crate::formats::block::{Block, RAW};
use crate::formats::ipns::{verify_record, IpnsName};
use crate::index::entry::tests::sample;
use crate::index::publish::NewVersion;
use crate::index::state::{IndexState, Published};
use crate::index::tree::lookup;
use crate::index::Entry;
use crate::keystore::Keystore;
use crate::store::{BlockStore, DiskStore};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// A store directory that publishes index `idx`, signed by keystore key `k`.
struct Publisher {
    _dir: tempfile::TempDir,
    store: DiskStore,
    local: IndexState,
    keystore: Keystore,
    name: IpnsName,
}

impl Publisher {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        let local = IndexState::new(dir.path());
        let keystore = Keystore::open(&dir.path().join("keystore")).unwrap();
        let name = keystore.gen("k").unwrap().ipns_name();
        let config = Published {
            keys: vec!["k".into()],
            ipns_key: "k".into(),
            threshold: 1,
            root_keys: Vec::new(),
            root_threshold: 0,
            lifetime_secs: 30 * 86_400,
            head: String::new(),
            kind: Default::default(),
        };
        local.update_published(|p| p.insert("idx".into(), config)).unwrap();
        Publisher { _dir: dir, store, local, keystore, name }
    }

    fn publish(&self, entries: &[Entry]) -> Option<NewVersion> {
        let mut changes: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
        for e in entries {
            changes.entry(e.name.clone()).or_default().push(e.clone());
        }
        publish_version(&self.store, &self.local, &self.keystore, "idx", &changes, None, SystemTime::now()).unwrap()
    }

    /// The stored record, verified: its sequence number and root.
    fn record(&self) -> (u64, String) {
        let bytes = self.store.records().unwrap().get(&self.name).unwrap().unwrap();
        let record = verify_record(&self.name, &bytes, SystemTime::now()).unwrap();
        (record.sequence(), record.value().trim_start_matches("/ipfs/").to_string())
    }

    /// Replaces the stored records by `record` alone, as restoring the
    /// store's records from an older backup does (a record is otherwise
    /// only ever replaced by a better one).
    fn restore_record(&self, record: &[u8]) {
        std::fs::remove_dir_all(self.store.root().join("ipns")).unwrap();
        self.store.records().unwrap().put(&self.name, record, SystemTime::now()).unwrap();
    }

    fn head(&self) -> String {
        self.local.published().unwrap()["idx"].head.clone()
    }
}

/// Publishes v1 (serde) and v2 (tokio added).
fn two_versions(p: &Publisher) -> (NewVersion, NewVersion) {
    let v1 = p.publish(&[sample("serde", "1.0.0", "01")]).unwrap();
    let v2 = p.publish(&[sample("tokio", "1.0.0", "02")]).unwrap();
    assert_eq!((v1.version.manifest.seq, v2.version.manifest.seq), (1, 2));
    assert_eq!(p.record(), (2, v2.version.root.to_string()));
    (v1, v2)
}

/// Asserts `v3` is version 3 built on `v2`, with `v2`'s entries, and is
/// what the record and `published.json` name now.
fn assert_builds_on(p: &Publisher, v2: &NewVersion, v3: &NewVersion) {
    let m = &v3.version.manifest;
    assert_eq!(m.seq, 3, "sequences 1 and 2 were signed already, for v1 and v2");
    assert_eq!(m.prev, Some(v2.version.manifest_cid.to_string()));
    assert_eq!(lookup(&p.store, &v3.version.shards, "tokio").unwrap().len(), 1, "v2's entries are kept");
    assert_eq!(lookup(&p.store, &v3.version.shards, "serde").unwrap().len(), 1);
    assert_eq!(p.record(), (3, v3.version.root.to_string()));
    assert_eq!(p.head(), v3.version.root.to_string());
}

#[test]
fn a_record_restored_from_an_older_backup_is_built_over_not_signed_again() {
    let p = Publisher::new();
    let (v1, v2) = two_versions(&p);
    p.restore_record(&v1.record);
    assert_eq!(p.record(), (1, v1.version.root.to_string()));
    let v3 = p.publish(&[sample("anyhow", "1.0.0", "03")]).unwrap();
    assert_builds_on(&p, &v2, &v3);
}

#[test]
fn a_lost_record_is_built_over_from_the_head() {
    let p = Publisher::new();
    let (_, v2) = two_versions(&p);
    std::fs::remove_dir_all(p.store.root().join("ipns")).unwrap();
    let v3 = p.publish(&[sample("anyhow", "1.0.0", "03")]).unwrap();
    assert_builds_on(&p, &v2, &v3);
}

#[test]
fn a_head_older_than_the_record_gives_way_to_the_record() {
    let p = Publisher::new();
    let (v1, v2) = two_versions(&p);
    // `published.json` restored from a backup, the records not.
    p.local.update_published(|f| f.get_mut("idx").unwrap().head = v1.version.root.to_string()).unwrap();
    let v3 = p.publish(&[sample("anyhow", "1.0.0", "03")]).unwrap();
    assert_builds_on(&p, &v2, &v3);
    // Nothing new: no version, and the record stays.
    assert!(p.publish(&[sample("anyhow", "1.0.0", "03")]).is_none());
    assert_eq!(p.record(), (3, v3.version.root.to_string()));
}

#[test]
fn only_an_index_published_here_gets_a_version() {
    let p = Publisher::new();
    let err =
        publish_version::<Entry>(&p.store, &p.local, &p.keystore, "other", &BTreeMap::new(), None, SystemTime::now())
            .unwrap_err()
            .to_string();
    assert!(err.contains("index `other` is not published from this store"), "{err}");
}

#[test]
fn a_rotation_is_signed_by_both_key_sets_and_recorded() {
    let p = Publisher::new();
    p.publish(&[]).unwrap();
    let new = p.keystore.gen("k2").unwrap().ipns_name().to_string();
    let rotation = Rotation::new(vec!["k2".into()], 1).unwrap();
    let v2 = publish_version::<Entry>(
        &p.store,
        &p.local,
        &p.keystore,
        "idx",
        &BTreeMap::new(),
        Some(&rotation),
        SystemTime::now(),
    )
    .unwrap()
    .unwrap();
    assert_eq!((v2.version.manifest.keys.clone(), v2.version.manifest.signatures.len()), (vec![new], 2));
    let config = &p.local.published().unwrap()["idx"];
    assert_eq!((config.keys.clone(), config.ipns_key.as_str()), (vec!["k2".to_string()], "k"));
}

/// A journaled entry of `name` from `source`, whose artifact is `cid`.
fn journaled(name: &str, key: &str, source: &str, cid: &Block) -> Entry {
    Entry { source: source.into(), cid: cid.cid().to_string(), builder: String::new(), ..sample(name, "1.0.0", key) }
}

#[test]
fn the_journal_publishes_crates_io_and_only_the_registries_allowed() {
    let p = Publisher::new();
    let cache = Cache::new(p.store.root());
    let artifact = |bytes: &[u8]| {
        let block = Block::encode(RAW, false, bytes.to_vec());
        p.store.put(&block).unwrap();
        block
    };
    let (a, b) = (artifact(b"serde's rlib"), artifact(b"private's rlib"));
    let other = "registry+local:registry.example.com-0123456789abcdef";
    cache.journal(&journaled("serde", "01", crate::index::entry::CRATES_IO_SOURCE, &a)).unwrap();
    cache.journal(&journaled("private", "02", other, &b)).unwrap();
    cache.journal(&journaled("git-dep", "03", "local:/home/me/project", &a)).unwrap();
    // Skipped: an artifact not in the store, an invalid entry, a torn line.
    let absent = Block::encode(RAW, false, b"not stored".to_vec());
    cache.journal(&journaled("gone", "04", crate::index::entry::CRATES_IO_SOURCE, &absent)).unwrap();
    cache.journal(&Entry { sha256: "x".into(), ..journaled("bad", "05", other, &a) }).unwrap();
    std::fs::write(
        cache.journal_path(),
        [std::fs::read(cache.journal_path()).unwrap(), b"{\"name\":".to_vec()].concat(),
    )
    .unwrap();

    let builder = p.name.to_string();
    let recorded = read_journal(&p.store, &cache, &builder, &AllowedRegistries::default()).unwrap();
    assert_eq!((recorded.kept, recorded.held_back, recorded.skipped), (1, 2, 3));
    assert_eq!(recorded.changes.keys().collect::<Vec<_>>(), ["serde"]);
    assert_eq!(recorded.changes["serde"][0].builder, builder, "an entry without a builder gets the index's name");
    assert_eq!(recorded.artifacts, [*a.cid()]);

    let allowed = AllowedRegistries::new(vec!["registry.example.com".into()]).unwrap();
    let recorded = read_journal(&p.store, &cache, &builder, &allowed).unwrap();
    assert_eq!((recorded.kept, recorded.held_back, recorded.skipped), (2, 1, 3));
    assert_eq!(recorded.changes.keys().collect::<Vec<_>>(), ["private", "serde"]);
    assert_eq!(recorded.artifacts, [*a.cid(), *b.cid()]);

    // What was kept publishes, once.
    let new = p.publish(&recorded.changes.values().flatten().cloned().collect::<Vec<_>>()).unwrap();
    assert_eq!(new.added, 2);
    assert!(p.publish(&recorded.changes.values().flatten().cloned().collect::<Vec<_>>()).is_none());

    let err = AllowedRegistries::new(vec!["https://registry.example.com/".into()]).unwrap_err().to_string();
    assert!(err.contains("is not a host name"), "{err}");
}

#[test]
fn an_index_is_created_checked_with_a_first_version_its_keys_trusted() {
    let p = Publisher::new();
    let lifetime = Duration::from_secs(86_400);
    let keys = || vec!["k".to_string()];
    let refused = |name: &str, threshold| {
        NewIndex::new(&p.local, name.into(), keys(), threshold, lifetime).unwrap_err().to_string()
    };
    assert!(refused("no/slash", 1).contains("invalid index name"));
    assert!(refused("idx", 1).contains("index `idx` already exists in this store"));
    assert!(refused("fresh", 2).contains("--threshold 2 must be between 1 and the number of keys (1)"));
    assert!(refused("fresh", 0).contains("--threshold 0"));
    assert!(Rotation::new(keys(), 2).is_err());

    // Key `k`'s name is index `idx`'s: refused, nothing written.
    let index = NewIndex::new(&p.local, "fresh".into(), keys(), 1, lifetime).unwrap();
    let err = create_index(&p.store, &p.local, &p.keystore, &index, SystemTime::now()).unwrap_err().to_string();
    assert!(err.contains("already carries index `idx`"), "{err}");
    assert!(!p.local.published().unwrap().contains_key("fresh"));
    assert!(!p.local.trust().unwrap().contains_key("fresh"));

    let name = p.keystore.gen("k2").unwrap().ipns_name();
    let index = NewIndex::new(&p.local, "fresh".into(), vec!["k2".into()], 1, lifetime).unwrap();
    let (first, ipns) = create_index(&p.store, &p.local, &p.keystore, &index, SystemTime::now()).unwrap();
    assert_eq!((first.version.manifest.seq, first.added, ipns), (1, 0, name));
    let config = &p.local.published().unwrap()["fresh"];
    assert_eq!((config.head.clone(), config.lifetime_secs), (first.version.root.to_string(), 86_400));
    let trust = &p.local.trust().unwrap()["fresh"];
    assert_eq!((trust.keys.clone(), trust.ipns.clone()), (vec![name.to_string()], name.to_string()));
}

#[test]
fn a_node_whose_record_names_another_index_keeps_it() {
    use crate::index::publish::{publish, PublishParams};
    use crate::store::kubo::replay::KuboReplay;
    let p = Publisher::new();
    let node = KuboReplay::start();
    // A version of index `other` under the same name, handed to the node.
    let key = p.keystore.get("k").unwrap();
    let params = PublishParams {
        index: "other",
        signers: std::slice::from_ref(&key),
        ipns_key: &key,
        keys: vec![p.name.to_string()],
        threshold: 1,
        lifetime: Duration::from_secs(3600),
        ttl: Duration::from_secs(60),
        now: SystemTime::now(),
        refresh: false,
        root_keys: Vec::new(),
        root_threshold: 0,
    };
    let other = publish::<Entry>(&p.store, None, &BTreeMap::new(), &params).unwrap().unwrap();
    let report = push_version(&p.store, node.url(), &other.version.root, &[], Some((&p.name, &other.record))).unwrap();
    assert_eq!(report.record.unwrap(), Some(p.name));
    // This store's index `idx`, published under the same name: the node
    // keeps the record of `other`, and says why.
    p.publish(&[]).unwrap();
    let report = push_published(&p.store, node.url(), &p.name, &[], SystemTime::now()).unwrap();
    let err = report.record.unwrap_err().to_string();
    assert!(err.contains("already carries index `other`"), "{err}");
    assert_eq!(node.record(&p.name).unwrap(), other.record);
}

#[test]
fn a_refresh_signs_the_same_entries_with_a_new_expiry_and_keeps_subscribers_going() {
    use crate::index::manifest::check_manifest;
    let p = Publisher::new();
    let lifetime = 30 * 86_400; // the fixture's
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let at = |secs: u64| t0 + Duration::from_secs(secs);
    let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let mut changes: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    changes.insert("serde".into(), vec![sample("serde", "1.0.0", "01")]);
    let v1 = publish_version(&p.store, &p.local, &p.keystore, "idx", &changes, None, t0).unwrap().unwrap();
    // Nothing changed: publishing again is a no-op, a refresh is not.
    assert!(publish_version(&p.store, &p.local, &p.keystore, "idx", &changes, None, at(10)).unwrap().is_none());
    let v2 = refresh_version(&p.store, &p.local, &p.keystore, "idx", at(lifetime / 2)).unwrap();
    assert_eq!(v2.version.manifest.seq, 2);
    assert_eq!(v2.version.shards, v1.version.shards, "the same entries");
    assert_eq!(v2.version.manifest.expires, secs(at(lifetime / 2)) + lifetime);
    assert_eq!(p.record().0, 2, "the record points at the refreshed version");
    // Past the first version's expiry: it is refused, the refreshed one is not.
    let later = secs(at(lifetime + 1));
    let err = check_manifest(&v1.version.manifest, "idx", None, later).unwrap_err().to_string();
    assert!(err.contains("expired"), "{err}");
    check_manifest(&v2.version.manifest, "idx", Some(1), later).unwrap();
}

#[test]
fn a_push_brings_the_earlier_manifests_for_subscribers_that_check_key_changes() {
    use crate::store::kubo::replay::KuboReplay;
    let p = Publisher::new();
    let v1 = p.publish(&[sample("serde", "1.0.0", "01")]).unwrap();
    let v2 = p.publish(&[sample("tokio", "1.0.0", "02")]).unwrap();
    let v3 = p.publish(&[sample("rand", "0.8.5", "03")]).unwrap();
    let node = KuboReplay::start();
    push_published(&p.store, node.url(), &p.name, &[], SystemTime::now()).unwrap();
    for old in [&v1, &v2] {
        assert!(node.holds(&old.version.manifest_cid), "manifest of version {}", old.version.manifest.seq);
        assert!(!node.holds(&old.version.root), "not the old versions themselves");
    }
    assert!(node.holds(&v3.version.root));
}
