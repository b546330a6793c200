use super::*;

fn key(seed: u8) -> Keypair {
    Keypair::from_seed(&[seed; 32])
}

fn manifest(keys: &[&Keypair], threshold: u32, seq: u64) -> Manifest {
    let mut names: Vec<String> = keys.iter().map(|k| k.ipns_name().to_string()).collect();
    names.sort();
    Manifest {
        format: INDEX_FORMAT_VERSION,
        index: "example".into(),
        kind: Default::default(),
        seq,
        created: 1_000,
        expires: 2_000,
        shards: "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354".into(),
        prev: None,
        keys: names,
        threshold,
        root_keys: Vec::new(),
        root_threshold: 0,
        signatures: Vec::new(),
    }
}

fn trust(keys: &[&Keypair], threshold: u32) -> TrustedKeys {
    TrustedKeys { keys: keys.iter().map(|k| k.ipns_name().to_string()).collect(), threshold }
}

#[test]
fn signed_manifest_round_trips_and_verifies() {
    let (a, b) = (key(1), key(2));
    let mut m = manifest(&[&a, &b], 2, 1);
    m.sign(&a);
    m.sign(&b);
    m.sign(&b); // re-signing replaces, never double counts
    let decoded = Manifest::decode(&m.encode()).unwrap();
    assert_eq!(decoded, m);
    check_manifest(&decoded, "example", Some(1), 1_500).unwrap();
    check_trusted(&decoded, &trust(&[&a, &b], 2)).unwrap();
}

#[test]
fn refusals() {
    let (a, b, stranger) = (key(1), key(2), key(3));
    let mut m = manifest(&[&a, &b], 2, 5);
    m.sign(&a);
    let err = check_manifest(&m, "example", None, 1_500).unwrap_err();
    assert!(matches!(err, ManifestError::Threshold { valid: 1, needed: 2, .. }), "{err}");
    m.sign(&b);
    assert!(matches!(check_manifest(&m, "other", None, 1_500), Err(ManifestError::ForeignIndex { .. })));
    assert!(matches!(check_manifest(&m, "example", Some(6), 1_500), Err(ManifestError::Rollback { .. })));
    let err = check_manifest(&m, "example", None, 2_000).unwrap_err();
    assert!(matches!(err, ManifestError::Expired { .. }));
    assert!(err.to_string().contains("`example`"), "{err}");
    let err = check_trusted(&m, &trust(&[&stranger], 1)).unwrap_err();
    assert!(err.to_string().contains("cargo ipfs trust add example"), "{err}");

    // Any change after signing breaks the signatures.
    let mut tampered = m.clone();
    tampered.shards = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4".into();
    assert!(matches!(
        check_manifest(&tampered, "example", None, 1_500),
        Err(ManifestError::Threshold { valid: 0, .. })
    ));

    // A signature by a key outside the set does not count.
    let mut m = manifest(&[&a], 1, 1);
    m.sign(&stranger);
    assert!(check_manifest(&m, "example", None, 1_500).is_err());
}

#[test]
fn malformed_manifests_are_refused() {
    let a = key(1);
    let mut m = manifest(&[&a], 1, 1);
    m.threshold = 2;
    assert!(matches!(Manifest::decode(&m.encode()), Err(ManifestError::Malformed(_))));
    let mut m = manifest(&[&a], 1, 1);
    m.format = INDEX_FORMAT_VERSION + 1;
    assert!(matches!(Manifest::decode(&m.encode()), Err(ManifestError::Format { .. })));
    let mut text = String::from_utf8(manifest(&[&a], 1, 1).encode()).unwrap();
    text.insert_str(1, "\"extra\": true,");
    assert!(matches!(Manifest::decode(text.as_bytes()), Err(ManifestError::Malformed(_))));
    assert!(Manifest::decode(b"not json").is_err());
}

#[test]
fn key_rotation_needs_the_old_threshold() {
    let (old, new) = (key(1), key(2));
    let mut v1 = manifest(&[&old], 1, 1);
    v1.sign(&old);
    // Correct rotation: v2 introduces the new key and is signed by both.
    let mut v2 = manifest(&[&new], 1, 2);
    v2.sign(&new);
    v2.sign(&old);
    let mut v3 = manifest(&[&new], 1, 3);
    v3.sign(&new);
    let trusted = trust(&[&old], 1);
    assert!(check_trusted(&v3, &trusted).is_err(), "v3 alone is not signed by the trusted key");
    let now = check_rotation_chain(&[v1.clone(), v2, v3.clone()], &trusted).unwrap();
    assert_eq!(now, trust(&[&new], 1));

    // Incorrect rotation: signed only by the new key.
    let mut bad = manifest(&[&new], 1, 2);
    bad.sign(&new);
    let err = check_rotation_chain(&[v1, bad, v3], &trusted).unwrap_err();
    assert!(matches!(err, ManifestError::BadRotation { seq: 2, .. }), "{err}");
}
