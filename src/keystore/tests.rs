//! Keystore tests against temporary directories.

use super::*;

fn temp_keystore() -> (tempfile::TempDir, Keystore) {
    let tmp = tempfile::tempdir().unwrap();
    let keystore = Keystore::open(&tmp.path().join("store/keystore")).unwrap();
    (tmp, keystore)
}

#[test]
fn gen_list_get_export_import_remove_round_trip() {
    let (_tmp, keystore) = temp_keystore();
    assert!(keystore.list().unwrap().is_empty());
    let b = keystore.gen("b").unwrap();
    let a = keystore.gen("a").unwrap();
    assert_eq!(keystore.list().unwrap(), vec![("a".to_string(), a.ipns_name()), ("b".to_string(), b.ipns_name())]);
    assert_eq!(keystore.get("a").unwrap().to_protobuf(), a.to_protobuf());

    // The file holds exactly kubo's libp2p-protobuf-cleartext bytes.
    let exported = keystore.export("a").unwrap();
    assert_eq!(exported, a.to_protobuf());
    assert_eq!(fs::read(keystore.path("a").unwrap()).unwrap(), exported);

    // The same key under another name has the same IPNS name.
    assert_eq!(keystore.import("a-copy", &exported).unwrap(), a.ipns_name());
    assert_eq!(keystore.get("a-copy").unwrap().ipns_name(), a.ipns_name());

    keystore.remove("a").unwrap();
    let names: Vec<String> = keystore.list().unwrap().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["a-copy", "b"]);
    assert!(matches!(keystore.remove("a"), Err(KeystoreError::NotFound { .. })));
}

#[test]
fn an_existing_key_is_never_replaced() {
    let (_tmp, keystore) = temp_keystore();
    let first = keystore.gen("k").unwrap();
    let err = keystore.gen("k").unwrap_err();
    assert!(matches!(err, KeystoreError::AlreadyExists { .. }), "{err}");
    assert!(err.to_string().contains("k.key already exists"), "{err}");
    let other = Keypair::generate().to_protobuf();
    assert!(matches!(keystore.import("k", &other), Err(KeystoreError::AlreadyExists { .. })));
    assert_eq!(keystore.get("k").unwrap().ipns_name(), first.ipns_name());
}

#[test]
fn a_missing_key_says_how_to_create_it() {
    let (_tmp, keystore) = temp_keystore();
    let err = keystore.get("publisher").unwrap_err().to_string();
    let expected = format!(
        "no key named publisher in {}; create it with `cargo ipfs key gen publisher`",
        keystore.dir().display()
    );
    assert_eq!(err, expected);
    assert!(matches!(keystore.export("publisher"), Err(KeystoreError::NotFound { .. })));
}

#[test]
fn bad_names_are_refused_before_any_file_is_touched() {
    let (_tmp, keystore) = temp_keystore();
    let too_long = "x".repeat(MAX_NAME_LENGTH + 1);
    for name in ["", ".hidden", ".", "..", "../escape", "a/b", "a b", "tab\t", "clé", "a:b", too_long.as_str()] {
        let err = keystore.gen(name).unwrap_err();
        assert!(matches!(err, KeystoreError::BadName { .. }), "{name:?}: {err}");
        assert!(err.to_string().contains("is not a valid key name"), "{err}");
        assert!(matches!(keystore.get(name), Err(KeystoreError::BadName { .. })), "{name:?}");
        assert!(matches!(keystore.import(name, &[]), Err(KeystoreError::BadName { .. })), "{name:?}");
    }
    for name in ["a", "self", "my-key_1.v2", "x".repeat(MAX_NAME_LENGTH).as_str()] {
        check_name(name).unwrap();
    }
    assert!(keystore.list().unwrap().is_empty());
    assert_eq!(fs::read_dir(keystore.dir()).unwrap().count(), 0, "no stray files");
}

#[test]
fn import_refuses_a_key_whose_halves_do_not_match() {
    let (_tmp, keystore) = temp_keystore();
    // Seed of one key followed by the public half of another.
    let a = Keypair::from_seed(&[1; 32]).to_protobuf();
    let b = Keypair::from_seed(&[2; 32]).to_protobuf();
    let mut spliced = a[..36].to_vec();
    spliced.extend_from_slice(&b[36..]);
    let err = keystore.import("spliced", &spliced).unwrap_err();
    assert!(matches!(err, KeystoreError::InvalidImport { reason: KeyError::MismatchedPublicKey, .. }), "{err}");
    assert!(err.to_string().starts_with("cannot import key spliced: the private key's public half"), "{err}");
    assert!(matches!(keystore.import("junk", b"not a key"), Err(KeystoreError::InvalidImport { .. })));
    assert!(keystore.list().unwrap().is_empty());
}

#[test]
fn a_corrupt_key_file_is_named() {
    let (_tmp, keystore) = temp_keystore();
    write_private_file(&keystore.path("broken").unwrap(), b"\x08\x01\x12\x02ab").unwrap();
    let err = keystore.get("broken").unwrap_err();
    assert!(matches!(err, KeystoreError::CorruptKey { .. }), "{err}");
    assert!(err.to_string().contains("broken.key is not a usable libp2p private key"), "{err}");
}

#[test]
fn other_files_in_the_directory_are_ignored() {
    let (_tmp, keystore) = temp_keystore();
    keystore.gen("real").unwrap();
    for other in ["notes.txt", ".tmp-key-abc", ".hidden.key", "README"] {
        write_private_file(&keystore.dir().join(other), b"x").unwrap();
    }
    let names: Vec<String> = keystore.list().unwrap().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["real"]);
}

#[test]
fn write_private_file_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("out.key");
    write_private_file(&path, b"one").unwrap();
    assert!(matches!(write_private_file(&path, b"two"), Err(KeystoreError::AlreadyExists { .. })));
    assert_eq!(fs::read(&path).unwrap(), b"one");
    // No temporary file is left behind.
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[cfg(unix)]
mod unix {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn directory_and_files_are_created_owner_only() {
        let (_tmp, keystore) = temp_keystore();
        keystore.gen("k").unwrap();
        keystore.import("i", &Keypair::generate().to_protobuf()).unwrap();
        // The umask can only take bits away, never add group or other ones.
        assert_eq!(mode(keystore.dir()) & 0o077, 0);
        assert_eq!(mode(keystore.dir()) & 0o700, 0o700);
        for name in ["k", "i"] {
            assert_eq!(mode(&keystore.path(name).unwrap()), 0o600, "{name}");
        }
    }

    #[test]
    fn a_key_file_readable_by_others_is_refused_with_the_fix() {
        let (_tmp, keystore) = temp_keystore();
        keystore.gen("k").unwrap();
        let path = keystore.path("k").unwrap();
        for bad in [0o644, 0o640, 0o604, 0o660, 0o601] {
            chmod(&path, bad);
            let err = keystore.get("k").unwrap_err();
            assert!(matches!(err, KeystoreError::Permissions { .. }), "{bad:o}: {err}");
            let expected = format!(
                "key file {p} has mode {bad:04o} but must be readable by its owner only; run `chmod 600 {p}`",
                p = path.display()
            );
            assert_eq!(err.to_string(), expected);
            assert!(matches!(keystore.list(), Err(KeystoreError::Permissions { .. })));
            assert!(matches!(keystore.export("k"), Err(KeystoreError::Permissions { .. })));
        }
        chmod(&path, 0o400);
        keystore.get("k").unwrap();
    }

    #[test]
    fn a_keystore_directory_open_to_others_is_refused_with_the_fix() {
        let (_tmp, keystore) = temp_keystore();
        chmod(keystore.dir(), 0o755);
        let err = Keystore::open(keystore.dir()).unwrap_err();
        let expected = format!(
            "keystore directory {p} has mode 0755 but must be accessible by its owner only; run `chmod 700 {p}`",
            p = keystore.dir().display()
        );
        assert_eq!(err.to_string(), expected);
        chmod(keystore.dir(), 0o700);
        Keystore::open(keystore.dir()).unwrap();
    }
}
