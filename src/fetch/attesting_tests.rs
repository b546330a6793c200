//! A policy of required attestations over real store directories: a
//! publisher's index and a rebuilder's attestation index, resolved with
//! every check. An expired or rolled-back attestation index counts for
//! nothing, and an attestation index is never taken for an artifact index.

use super::*;
use crate::index::attest::Statement;
use crate::index::entry::tests::sample;
use crate::index::Entry;
use crate::keystore::Keystore;
use crate::publish::{create_index, publish_version, NewIndex};
use crate::sources::config::{Policy, Settings};
use std::collections::BTreeMap;

const DAY: Duration = Duration::from_secs(86_400);

struct World {
    dir: tempfile::TempDir,
    store: DiskStore,
    local: IndexState,
    keystore: Keystore,
    entry: Entry,
    now: SystemTime,
}

impl World {
    /// Index `pub` with one entry, and rebuilder index `r` (key `rk`) with
    /// no statement yet; both trusted here, as `create_index` does.
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        let local = IndexState::new(dir.path());
        let keystore = Keystore::open(&dir.path().join("keystore")).unwrap();
        keystore.gen("pk").unwrap();
        keystore.gen("rk").unwrap();
        let now = SystemTime::now();
        let new = NewIndex::new(&local, "pub".into(), vec!["pk".into()], 1, DAY).unwrap();
        create_index(&store, &local, &keystore, &new, now).unwrap();
        let new = NewIndex::new(&local, "r".into(), vec!["rk".into()], 1, DAY).unwrap().attestations();
        create_index(&store, &local, &keystore, &new, now).unwrap();
        let entry = sample("serde", "1.0.0", &"ab".repeat(32));
        let changes = BTreeMap::from([("serde".to_string(), vec![entry.clone()])]);
        publish_version(&store, &local, &keystore, "pub", &changes, None, now).unwrap().unwrap();
        World { dir, store, local, keystore, entry, now }
    }

    /// The rebuilder signs a statement of `entry` and publishes it.
    fn attest(&self, entry: &Entry, at: SystemTime) {
        let ipns = self.local.trust().unwrap()["pub"].ipns.clone();
        let statement = Statement::sign_for(entry, "pub", &ipns, 1, &self.keystore.get("rk").unwrap());
        let changes = BTreeMap::from([(entry.name.clone(), vec![statement])]);
        publish_version(&self.store, &self.local, &self.keystore, "r", &changes, None, at).unwrap().unwrap();
    }

    /// The policy requiring one attestation, resolved at `now` (offline:
    /// the local store and its records), and the tally of the entry.
    fn tally(&self, now: SystemTime) -> Tally {
        let trust = self.local.trust().unwrap();
        let settings =
            Settings { index: "pub".into(), policy: Policy { require: 1, rebuilders: vec![] }, ..Settings::default() };
        let head = resolve_index(self.dir.path(), &trust, settings, true, None, self.now).unwrap();
        let attesting = attesting(self.dir.path(), &trust, &head, true, None, now).unwrap().unwrap();
        attesting.tally_all(&self.store, "serde", std::slice::from_ref(&self.entry)).unwrap().remove(0)
    }
}

use crate::index::attest::Tally;

#[test]
fn an_attested_entry_counts_and_an_unattested_one_does_not() {
    let w = World::new();
    assert_eq!(w.tally(w.now).describe(1), "0 of 1 required attestations (r: no statement)");
    w.attest(&w.entry, w.now);
    assert_eq!(w.tally(w.now).by, ["r"]);
    // Another artifact under the same key is not the one attested.
    let other = Entry { sha256: "c".repeat(64), ..w.entry.clone() };
    let t = w.tally(w.now);
    let trust = w.local.trust().unwrap();
    let rebuilder = crate::index::attest::Rebuilder {
        name: "r",
        keys: &trust["r"].keys,
        statements: &[Statement::sign_for(&other, "pub", &trust["pub"].ipns, 1, &w.keystore.get("rk").unwrap())],
    };
    let swapped = crate::index::attest::tally(&w.entry, "pub", &trust["pub"].ipns, &trust["pub"].keys, &[rebuilder]);
    assert!(t.by.len() == 1 && swapped.by.is_empty());
}

#[test]
fn an_expired_attestation_index_counts_for_nothing() {
    let w = World::new();
    w.attest(&w.entry, w.now);
    let later = w.now + 2 * DAY;
    let t = w.tally(later);
    assert!(t.by.is_empty(), "{t:?}");
    let (name, why) = &t.not[0];
    assert_eq!(name, "r");
    assert!(why.contains("its index was refused") && why.contains("expired"), "{why}");
}

#[test]
fn a_rolled_back_attestation_index_counts_for_nothing() {
    let w = World::new();
    // Version 2 holds no statement of this entry; version 3 attests it,
    // and is seen. A source that serves version 2 again is refused.
    let ipns = w.keystore.get("rk").unwrap().ipns_name();
    let records = w.store.records().unwrap();
    let v2 = records.get(&ipns).unwrap().unwrap();
    w.attest(&w.entry, w.now + Duration::from_secs(1));
    assert_eq!(w.tally(w.now).by, ["r"], "version 3 seen");
    let path = w.dir.path().join("ipns").join(format!("{ipns}.ipns-record"));
    assert!(path.exists(), "records are kept at {}", path.display());
    std::fs::write(&path, &v2).unwrap();
    let t = w.tally(w.now);
    assert!(t.by.is_empty(), "{t:?}");
    assert!(t.not[0].1.contains("refusing a rollback"), "{:?}", t.not);
}

#[test]
fn an_attestation_index_is_never_read_as_an_artifact_index_nor_the_reverse() {
    let w = World::new();
    let mut trust = w.local.trust().unwrap();
    let as_index = |trust: &TrustFile, index: &str| {
        let settings = Settings { index: index.into(), ..Settings::default() };
        resolve_index(w.dir.path(), trust, settings, true, None, w.now).map(|_| ()).unwrap_err().to_string()
    };
    trust.get_mut("r").unwrap().kind = IndexKind::Artifacts;
    let err = as_index(&trust, "r");
    assert!(
        err.contains("is an attestation index (a rebuilder's), but it is trusted here as an artifact index"),
        "{err}"
    );
    trust.get_mut("pub").unwrap().kind = IndexKind::Attestations;
    let err = as_index(&trust, "pub");
    assert!(
        err.contains("is an artifact index (a publisher's), but it is trusted here as an attestation index"),
        "{err}"
    );
    // The default index is the only trusted artifact index: rebuilders are
    // never fetched from.
    let trust = w.local.trust().unwrap();
    let chosen = settings(w.dir.path(), &trust, config::Flags::default()).unwrap();
    assert_eq!(chosen.index, "pub");
}
