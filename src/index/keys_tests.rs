//! Root and online keys, through publish and resolve: what a stolen online
//! key cannot do, what the root can, an index that migrates to the split,
//! and a revoked key refused by a subscriber that saw the revocation and by
//! one that catches up over several versions.

use super::entry::tests::sample;
use super::publish::{publish, NewVersion, PublishParams};
use super::resolve::{resolve_record, ResolveError};
use super::state::Seen;
use super::tests::{at, changes, key, params, trust_of, T0};
use crate::formats::ipns::Keypair;
use crate::store::{BlockStore, MemoryStore};

/// `params` naming `root` (threshold 1) as the root key set.
fn rooted<'a>(
    signers: &'a [Keypair],
    ipns: &'a Keypair,
    keys: &[&Keypair],
    root: &Keypair,
    now: u64,
) -> PublishParams<'a> {
    PublishParams {
        root_keys: vec![root.ipns_name().to_string()],
        root_threshold: 1,
        ..params(signers, ipns, keys, 1, now)
    }
}

/// The first version of a split index: online key `online`, root `root`.
fn split_index(store: &dyn BlockStore, online: &Keypair, root: &Keypair) -> NewVersion {
    let signers = [online.clone(), root.clone()];
    publish(store, None, &changes(&[sample("serde", "1.0.0", "01")]), &rooted(&signers, online, &[online], root, T0))
        .unwrap()
        .unwrap()
}

fn seen(v: &NewVersion) -> Seen {
    Seen { seq: v.version.manifest.seq, root: v.version.root.to_string() }
}

#[test]
fn a_stolen_online_key_cannot_change_the_keys_and_the_root_can() {
    let store = MemoryStore::new();
    let (online, root, thief) = (key(1), key(2), key(3));
    let v1 = split_index(&store, &online, &root);
    // The online key adds the thief's key, or hands the index over: refused,
    // and the message names the signer that does not count.
    let stolen = [online.clone(), thief.clone()];
    for keys in [vec![&online, &thief], vec![&thief]] {
        let p = rooted(&stolen, &online, &keys, &root, T0 + 10);
        let err = publish(&store, Some(&v1.version), &changes(&[]), &p).unwrap_err().to_string();
        assert!(err.contains("without 1 signature(s) of the previous root keys"), "{err}");
        assert!(err.contains(&online.ipns_name().to_string()), "names the online signer: {err}");
    }
    // Nor can it replace the root.
    let p = rooted(&stolen, &online, &[&online], &thief, T0 + 10);
    assert!(publish(&store, Some(&v1.version), &changes(&[]), &p).is_err());
    // The root can: a new online key, which subscribers then follow.
    let (new_online, signers) = (key(4), [key(4), root.clone()]);
    let v2 =
        publish(&store, Some(&v1.version), &changes(&[]), &rooted(&signers, &online, &[&new_online], &root, T0 + 10))
            .unwrap()
            .unwrap();
    let trust = trust_of(&[&online], 1, &online);
    let resolved = resolve_record(&store, Some(&v2.record), "example", &trust, Some(&seen(&v1)), at(T0 + 20)).unwrap();
    assert_eq!(resolved.rotated.unwrap().keys, vec![new_online.ipns_name().to_string()]);
}

#[test]
fn an_index_migrates_to_a_root_and_its_subscribers_follow_without_trusting_anew() {
    let store = MemoryStore::new();
    let (old, root) = (key(1), key(2));
    let signers = [old.clone()];
    let v1 =
        publish(&store, None, &changes(&[sample("serde", "1.0.0", "01")]), &params(&signers, &old, &[&old], 1, T0))
            .unwrap()
            .unwrap();
    // The migration: signed by the old keys (the root before the split) and
    // by the new root, which must show it holds its key.
    let without_root = [old.clone()];
    let p = rooted(&without_root, &old, &[&old], &root, T0 + 10);
    let err = publish(&store, Some(&v1.version), &changes(&[]), &p).unwrap_err().to_string();
    assert!(err.contains("a root key set must sign the version that introduces it"), "{err}");
    let both = [old.clone(), root.clone()];
    let v2 = publish(&store, Some(&v1.version), &changes(&[]), &rooted(&both, &old, &[&old], &root, T0 + 10))
        .unwrap()
        .unwrap();
    assert_eq!(v2.version.manifest.root_keys, vec![root.ipns_name().to_string()]);
    // Subscribers of the old key read on, trusting nothing new.
    let trust = trust_of(&[&old], 1, &old);
    resolve_record(&store, Some(&v2.record), "example", &trust, Some(&seen(&v1)), at(T0 + 20)).unwrap();
    // From now on the old key alone no longer changes keys.
    let thief = key(3);
    let old_only = [old.clone()];
    let p = rooted(&old_only, &old, &[&thief], &root, T0 + 30);
    assert!(publish(&store, Some(&v2.version), &changes(&[]), &p).is_err());
}

#[test]
fn a_revoked_key_is_refused_by_a_subscriber_that_saw_the_revocation_and_by_one_that_catches_up() {
    let store = MemoryStore::new();
    let (a, k, root) = (key(1), key(5), key(2));
    // v1: online keys a and k (either signs), root `root`.
    let signers = [a.clone(), k.clone(), root.clone()];
    let v1 = publish(
        &store,
        None,
        &changes(&[sample("serde", "1.0.0", "01")]),
        &PublishParams {
            root_keys: vec![root.ipns_name().to_string()],
            root_threshold: 1,
            ..params(&signers, &a, &[&a, &k], 1, T0)
        },
    )
    .unwrap()
    .unwrap();
    // v2: the root removes k. v3: an ordinary version signed by a.
    let v2 = publish(
        &store,
        Some(&v1.version),
        &changes(&[]),
        &rooted(&[a.clone(), root.clone()], &a, &[&a], &root, T0 + 10),
    )
    .unwrap()
    .unwrap();
    let v3 = publish(
        &store,
        Some(&v2.version),
        &changes(&[sample("tokio", "1.0.0", "02")]),
        &rooted(std::slice::from_ref(&a), &a, &[&a], &root, T0 + 20),
    )
    .unwrap()
    .unwrap();
    // v4, made by whoever holds k: the IPNS key (a) signs records, so the
    // thief is taken to have a's record key but only k's manifest key:
    // naming the old keys back is a key change the root did not sign;
    // naming the current ones, k's signature does not count.
    let forged_back = forge(&store, &v3, &[&a, &k], &k, &a, T0 + 30);
    let forged_same = forge(&store, &v3, &[&a], &k, &a, T0 + 30);
    let trust = trust_of(&[&a, &k], 1, &a);
    // A subscriber that saw v2 (and so trusts a alone since) ...
    let after = trust_of(&[&a], 1, &a);
    for forged in [&forged_back, &forged_same] {
        let err = resolve_record(&store, Some(&forged.record), "example", &after, Some(&seen(&v3)), at(T0 + 40))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&k.ipns_name().to_string()), "names the revoked key: {err}");
    }
    // ... and one that last saw v1 and still trusts a and k, catching up
    // over v2 and v3 to the forged v4: refused too.
    for forged in [&forged_back, &forged_same] {
        let err =
            resolve_record(&store, Some(&forged.record), "example", &trust, Some(&seen(&v1)), at(T0 + 40)).unwrap_err();
        assert!(matches!(err, ResolveError::Manifest(_)), "{err}");
        assert!(err.to_string().contains(&k.ipns_name().to_string()), "names the revoked key: {err}");
    }
    // The genuine v3 is fine for both, and the first learns the new keys.
    let caught_up = resolve_record(&store, Some(&v3.record), "example", &trust, Some(&seen(&v1)), at(T0 + 40)).unwrap();
    assert_eq!(caught_up.rotated.unwrap().keys, vec![a.ipns_name().to_string()]);
}

/// A version after `prev` naming `keys` as online keys, its manifest signed
/// by `signer` alone, its record by `record_key`.
fn forge(
    store: &dyn BlockStore,
    prev: &NewVersion,
    keys: &[&Keypair],
    signer: &Keypair,
    record_key: &Keypair,
    now: u64,
) -> NewVersion {
    use super::manifest::check_signed;
    use super::tree::write_version;
    use crate::formats::ipns::create_record;
    let mut m = prev.version.manifest.clone();
    m.seq += 1;
    m.created = now;
    m.expires = now + 86_400;
    m.prev = Some(prev.version.manifest_cid.to_string());
    let mut names: Vec<String> = keys.iter().map(|k| k.ipns_name().to_string()).collect();
    names.sort();
    m.keys = names;
    m.signatures.clear();
    m.sign(signer);
    assert!(check_signed(&m, Some(&prev.version.manifest)).is_err(), "a publisher would refuse it");
    let version = write_version(store, &prev.version.shards, &m).unwrap();
    let validity = at(m.expires);
    let record = create_record(
        record_key,
        &format!("/ipfs/{}", version.root),
        m.seq,
        validity,
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    NewVersion { version, record, added: 0 }
}

#[test]
fn a_version_whose_history_since_the_one_seen_is_withheld_is_refused() {
    use super::tree::write_version;
    use crate::formats::block::{Block, RAW};
    use crate::formats::ipns::create_record;
    let store = MemoryStore::new();
    let a = key(1);
    let signers = [a.clone()];
    let v1 = publish(&store, None, &changes(&[sample("serde", "1.0.0", "01")]), &params(&signers, &a, &[&a], 1, T0))
        .unwrap()
        .unwrap();
    // Version 3, correctly signed, whose previous version no source has.
    let absent = Block::encode(RAW, false, b"version 2's manifest, withheld".to_vec());
    let mut m = v1.version.manifest.clone();
    (m.seq, m.created, m.expires, m.prev) = (3, T0 + 20, T0 + 86_400, Some(absent.cid().to_string()));
    m.signatures.clear();
    m.sign(&a);
    let version = write_version(&store, &v1.version.shards, &m).unwrap();
    let record =
        create_record(&a, &format!("/ipfs/{}", version.root), 3, at(T0 + 86_400), std::time::Duration::from_secs(60))
            .unwrap();
    let trust = trust_of(&[&a], 1, &a);
    let err = resolve_record(&store, Some(&record), "example", &trust, Some(&seen(&v1)), at(T0 + 30)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("cannot check the key changes since version 1 (version 2 is not available)")
            && text.contains("try another source"),
        "{text}"
    );
    // A subscriber that never saw a version has nothing to check since.
    resolve_record(&store, Some(&record), "example", &trust, None, at(T0 + 30)).unwrap();
}
