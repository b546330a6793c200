//! Runs the real `cargo-ipfs` binary's `key` and `name inspect` subcommands
//! against temporary stores. Expected names come from public fixtures: the
//! gateway-conformance IPNS records under `tests/fixtures/ipfs/` and the
//! libp2p spec's key vector in `tests/fixtures/libp2p-key-vectors.txt`.

mod common;

use common::{s, Env};

use std::path::{Path, PathBuf};

use cargo_ipfs_fetch::formats::ipns::IpnsName;
use serde_json::Value as Json;

fn json(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn key_gen_list_export_import_rm_round_trip() {
    let env = Env::new();
    let name = env.ok(&["key", "gen", "publisher"]).trim().to_string();
    assert!(name.starts_with("k51"), "{name}");
    let peer_id = name.parse::<IpnsName>().unwrap().to_base58();
    assert_eq!(env.ok(&["key", "list"]), format!("publisher {name} {peer_id}\n"));

    let exported = env.path("publisher.key");
    env.ok(&["key", "export", "publisher", "-o", s(&exported)]);
    assert_eq!(std::fs::read(&exported).unwrap().len(), 68, "Ed25519 libp2p-protobuf-cleartext");
    assert!(env.fails(&["key", "export", "publisher", "-o", s(&exported)]).contains("already exists"));

    // Imported under another name, the same key has the same IPNS name.
    assert_eq!(env.ok(&["key", "import", "copy", s(&exported)]).trim(), name);
    let listed = json(&env.ok(&["key", "list", "--json"]));
    let expected: Json = serde_json::json!([
        { "name": "copy", "ipns_base36": name, "peer_id": peer_id },
        { "name": "publisher", "ipns_base36": name, "peer_id": peer_id },
    ]);
    assert_eq!(listed, expected);

    assert!(env.fails(&["key", "gen", "copy"]).contains("copy.key already exists"));
    assert!(env.fails(&["key", "import", "copy", s(&exported)]).contains("already exists"));
    assert!(env.fails(&["key", "gen", ".hidden"]).contains("`.hidden` is not a valid key name"));

    env.ok(&["key", "rm", "publisher"]);
    assert_eq!(env.ok(&["key", "list"]), format!("copy {name} {peer_id}\n"));
    let err = env.fails(&["key", "export", "publisher", "-o", s(&env.path("again.key"))]);
    let expected = format!(
        "error: no key named publisher in {}; create it with `cargo ipfs key gen publisher`\n",
        env.keystore().display()
    );
    assert_eq!(err, expected);
    assert!(env.fails(&["key", "rm", "publisher"]).contains("no key named publisher"));
}

#[test]
fn import_refuses_what_is_not_an_ed25519_key() {
    let env = Env::new();
    std::fs::write(env.path("junk"), b"not a key").unwrap();
    let err = env.fails(&["key", "import", "junk", s(&env.path("junk"))]);
    assert!(err.starts_with("error: cannot import key junk: "), "{err}");
    // A key whose public half is not its seed's (two keys pieced together).
    env.ok(&["key", "gen", "a"]);
    env.ok(&["key", "gen", "b"]);
    env.ok(&["key", "export", "a", "-o", s(&env.path("a.key"))]);
    env.ok(&["key", "export", "b", "-o", s(&env.path("b.key"))]);
    let mut spliced = std::fs::read(env.path("a.key")).unwrap()[..36].to_vec();
    spliced.extend_from_slice(&std::fs::read(env.path("b.key")).unwrap()[36..]);
    std::fs::write(env.path("spliced.key"), &spliced).unwrap();
    let err = env.fails(&["key", "import", "spliced", s(&env.path("spliced.key"))]);
    assert!(err.contains("public half does not match its seed"), "{err}");
    assert_eq!(env.ok(&["key", "list"]).lines().count(), 2);
}

#[cfg(unix)]
#[test]
fn files_are_owner_only_and_a_readable_key_file_is_refused_with_the_chmod_hint() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let chmod = |path: &Path, mode| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();

    let env = Env::new();
    env.ok(&["key", "gen", "k"]);
    env.ok(&["key", "export", "k", "-o", s(&env.path("k.key"))]);
    let key_file = env.keystore().join("k.key");
    assert_eq!(mode(&key_file), 0o600);
    assert_eq!(mode(&env.path("k.key")), 0o600);
    assert_eq!(mode(&env.keystore()) & 0o077, 0);

    chmod(&key_file, 0o644);
    let expected = format!(
        "error: key file {p} has mode 0644 but must be readable by its owner only; run `chmod 600 {p}`\n",
        p = key_file.display()
    );
    assert_eq!(env.fails(&["key", "list"]), expected);
    assert_eq!(env.fails(&["key", "export", "k", "-o", s(&env.path("k2.key"))]), expected);
    chmod(&key_file, 0o600);
    env.ok(&["key", "list"]);

    chmod(&env.keystore(), 0o755);
    let err = env.fails(&["key", "list"]);
    assert!(err.contains(&format!("run `chmod 700 {}`", env.keystore().display())), "{err}");
}

/// The libp2p spec's Ed25519 key, imported as kubo's export format, has the
/// peer id and name its published public key gives.
#[test]
fn libp2p_spec_key_vector_imports_with_its_published_identity() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libp2p-key-vectors.txt"))
            .unwrap();
    let field = |key: &str| {
        let prefix = format!("{key}: ");
        text.lines().find_map(|line| line.strip_prefix(prefix.as_str())).unwrap_or_else(|| panic!("no {key}"))
    };
    let private = hex::decode(field("ed25519_private_key")).unwrap();
    let public = hex::decode(field("ed25519_public_key")).unwrap();
    let (peer_id, ipns_base36) = (field("peer_id"), field("ipns_base36"));
    // The derived identity in the fixture inlines the published public key.
    let name: IpnsName = peer_id.parse().unwrap();
    assert_eq!(name.peer_id().digest(), public.as_slice());
    assert_eq!(name.to_string(), ipns_base36);

    let env = Env::new();
    std::fs::write(env.path("spec.key"), &private).unwrap();
    assert_eq!(env.ok(&["key", "import", "spec", s(&env.path("spec.key"))]).trim(), ipns_base36);
    assert_eq!(env.ok(&["key", "list"]), format!("spec {ipns_base36} {peer_id}\n"));
    let listed = json(&env.ok(&["key", "list", "--json"]));
    assert_eq!(listed[0]["peer_id"], peer_id);
    // Exported again, the bytes are the spec's, byte for byte.
    env.ok(&["key", "export", "spec", "-o", s(&env.path("again.key"))]);
    assert_eq!(std::fs::read(env.path("again.key")).unwrap(), private);
}

fn record(suffix: &str) -> (String, PathBuf) {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ipfs/gateway-conformance/fixtures/ipns_records");
    let path = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("no fixture ending {suffix}"));
    let file = path.file_name().unwrap().to_str().unwrap();
    (file.split('_').next().unwrap().to_string(), path)
}

#[test]
fn name_inspect_verifies_the_gateway_conformance_records() {
    let env = Env::new();
    for (suffix, valid) in [
        ("_v1-v2.ipns-record", true),
        ("_v2.ipns-record", true),
        ("_v1.ipns-record", false),
        ("_v1-v2-broken-signature-v2.ipns-record", false),
    ] {
        let (name, path) = record(suffix);
        let out = env.run(&["name", "inspect", "--verify", &name, s(&path)]);
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(if valid { 0 } else { 1 }), "{suffix}: {stdout}");
        assert!(out.stderr.is_empty(), "{suffix}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains(&format!("\nValid: {valid}\n")), "{suffix}: {stdout}");
        assert_eq!(stdout.contains("\nReason: "), !valid, "{suffix}: {stdout}");
        assert!(stdout.starts_with("Value:         \"/ipfs/bafkqa"), "{suffix}: {stdout}");

        let out = env.run(&["name", "inspect", "--json", "--verify", &name, s(&path)]);
        assert_eq!(out.status.code(), Some(if valid { 0 } else { 1 }), "{suffix}");
        let report = json(&String::from_utf8(out.stdout).unwrap());
        assert_eq!(report["valid"], valid, "{suffix}: {report}");
        assert_eq!(report["verified_name"], name.as_str());
        assert_eq!(report["reason"].is_string(), !valid, "{suffix}: {report}");
        assert_eq!(report["validity"], "2123-08-14T12:17:03.694052Z");
        assert_eq!(report["ttl"], 1_800_000_000_000u64);
    }

    // Each reason names the failed check.
    let (name, path) = record("_v1.ipns-record");
    let out = env.run(&["name", "inspect", "--json", "--verify", &name, s(&path)]);
    let report = json(&String::from_utf8(out.stdout).unwrap());
    assert!(report["reason"].as_str().unwrap().contains("has no signatureV2"), "{report}");
    assert_eq!((report["fields_from"].as_str(), report["data"].is_null()), (Some("v1"), true));
    let (name, path) = record("_v1-v2-broken-signature-v2.ipns-record");
    let out = env.run(&["name", "inspect", "--json", "--verify", &name, s(&path)]);
    let report = json(&String::from_utf8(out.stdout).unwrap());
    assert!(report["reason"].as_str().unwrap().contains("does not verify"), "{report}");
    assert_eq!(report["data"]["TTL"], 1_800_000_000_000u64, "{report}");

    // A valid record under another name is not valid.
    let (other, _) = record("_v2.ipns-record");
    let (_, path) = record("_v1-v2.ipns-record");
    assert_eq!(env.run(&["name", "inspect", "--verify", &other, s(&path)]).status.code(), Some(1));
}

#[test]
fn name_inspect_without_verify_reads_and_refuses_what_is_not_a_record() {
    let env = Env::new();
    let (_, path) = record("_v1.ipns-record");
    let out = env.ok(&["name", "inspect", s(&path)]);
    assert!(out.contains("Signature V2:  absent\n"), "{out}");
    assert!(out.contains("This record was not validated"), "{out}");
    let report = json(&env.ok(&["name", "inspect", "--json", s(&path)]));
    assert!(report["valid"].is_null() && report["reason"].is_null(), "{report}");

    std::fs::write(env.path("junk"), b"\x0bnot a record").unwrap();
    let err = env.fails(&["name", "inspect", s(&env.path("junk"))]);
    assert!(err.contains("junk: not an IPNS record: it is not an IpnsEntry protobuf"), "{err}");
    std::fs::write(env.path("big"), vec![0u8; 10 * 1024 + 1]).unwrap();
    assert!(env.fails(&["name", "inspect", s(&env.path("big"))]).contains("larger than 10240 bytes"));
    let err = env.fails(&["name", "inspect", "--verify", "example.com", s(&path)]);
    assert!(err.contains("is not an IPNS name"), "{err}");
}

#[test]
fn root_and_online_keys_through_the_binary_with_the_root_kept_offline() {
    let env = Env::new();
    env.ok(&["key", "gen", "ci"]);
    // A failed init makes no key: here the root threshold cannot be met.
    env.fails(&["index", "init", "--name", "idx", "--key", "ci", "--root-key", "root", "--root-threshold", "2"]);
    env.fails(&[
        "index",
        "init",
        "--name",
        "idx",
        "--key",
        "ci",
        "--key",
        "other",
        "--root-key",
        "root",
        "--key",
        "nope/",
    ]);
    let listed = env.ok(&["key", "list"]);
    assert!(!listed.contains("root") && !listed.contains("other"), "no half-made key: {listed}");
    // `init` generates the keys it is given that do not exist yet.
    let out = env.ok(&["index", "init", "--name", "idx", "--key", "ci", "--root-key", "root"]);
    assert!(out.contains("generated key root: k51") && out.contains("keep the root keys offline"), "{out}");
    let root_name = out.lines().find_map(|l| l.strip_prefix("generated key root: ")).unwrap().to_string();
    let shown = env.ok(&["index", "show", "idx"]);
    assert!(shown.contains("root keys: 1 of 1") && shown.contains(&root_name), "{shown}");
    // The root goes offline: exported to a file, removed from the keystore.
    let file = env.path("root.key");
    env.ok(&["key", "export", "root", "-o", file.to_str().unwrap()]);
    env.ok(&["key", "rm", "root"]);
    // The pinning job goes on with its online key alone ...
    env.ok(&["index", "refresh", "--name", "idx"]);
    // ... but cannot change the keys (a stolen online key could not either).
    env.ok(&["key", "gen", "ci2"]);
    let err = env.fails(&["index", "rotate", "--name", "idx", "--key", "ci2"]);
    assert!(err.contains("takes 1 of the root keys") && err.contains("cargo ipfs key import"), "{err}");
    // With the root imported for the occasion, the change goes through: ci
    // is revoked, ci2 signs from now on.
    env.ok(&["key", "import", "root", file.to_str().unwrap()]);
    let out = env.ok(&["index", "rotate", "--name", "idx", "--key", "ci2"]);
    assert!(out.contains("signed by the new key set"), "{out}");
    env.ok(&["key", "rm", "root"]);
    env.ok(&["index", "refresh", "--name", "idx"]);
    let shown = env.ok(&["index", "show", "idx"]);
    assert!(shown.contains("version:   4") && shown.contains(&root_name), "{shown}");
    env.ok(&["index", "verify", "idx"]);
}
