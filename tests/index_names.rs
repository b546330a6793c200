//! One IPNS name, one index, through the real binary: the sequence in which
//! a publisher reused a key for a second index and lost the first.

mod common;

use common::Env;
use std::path::Path;

/// The files of a store's state that a refused command must not change:
/// `published.json`, `trust.json`, the keystore and the IPNS records.
fn state(store: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = common::walk_files(store)
        .into_iter()
        .filter(|f| {
            let rel = f.strip_prefix(store).unwrap().to_string_lossy().into_owned();
            rel.ends_with(".json") && !rel.contains('/')
                || rel.starts_with("keystore/")
                || rel.ends_with(".ipns-record")
        })
        .map(|f| (f.strip_prefix(store).unwrap().to_string_lossy().into_owned(), std::fs::read(&f).unwrap()))
        .collect();
    files.sort();
    files
}

fn entries(env: &Env, ipns: &str) -> String {
    let line = serde_json::json!({
        "name": "serde", "version": "1.0.0",
        "source": "registry+https://github.com/rust-lang/crates.io-index",
        "checksum": "a".repeat(64), "key": "01",
        "cid": "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4",
        "size": 12, "unpacked_size": 3072, "sha256": "b".repeat(64),
        "outputs": [{"name": "libserde.rlib", "kind": "rlib"}],
        "rustc": "1.95.0 59807616e1fa2540724bfbac14d7976d7e4a3860",
        "target": "x86_64-unknown-linux-gnu", "crate_types": ["lib"],
        "built_at": 1_800_000_000u64, "builder": ipns,
    });
    env.write("entries.jsonl", format!("{line}\n").as_bytes()).to_string_lossy().into_owned()
}

#[test]
fn a_key_that_carries_an_index_starts_no_other_and_nothing_is_left_half_made() {
    let env = Env::new();
    let ipns = env.ok(&["key", "gen", "k1"]).trim().to_string();
    env.ok(&["index", "init", "--name", "first", "--key", "k1"]);
    let before = state(&env.store());

    // Twice: the real cause both times, and nothing written.
    for _ in 0..2 {
        let err = env.fails(&["index", "init", "--name", "second", "--key", "k1"]);
        let cause = format!("{ipns} (key `k1`) already carries index `first`");
        for part in [cause.as_str(), "cargo ipfs key gen", "--name first"] {
            assert!(err.contains(part), "{part}: {err}");
        }
        assert_eq!(state(&env.store()), before, "a refused init leaves the store as it was");
    }
    let file = entries(&env, &ipns);
    let err = env.fails(&["index", "add", "--name", "second", &file]);
    assert!(err.contains("`second` is not published from this store"), "{err}");
    assert_eq!(state(&env.store()), before);

    // `first` is intact and resolvable, and takes entries.
    let shown = env.ok(&["index", "show", "first"]);
    assert!(shown.lines().any(|l| l.starts_with("version:") && l.trim_end().ends_with(" 1")), "{shown}");
    assert!(env.ok(&["index", "add", "--name", "first", &file]).contains("version 2"));
    env.ok(&["index", "verify", "first"]);

    // A key name that exists: refused, the key as it was.
    let err = env.fails(&["key", "gen", "k1"]);
    assert!(err.contains("k1"), "{err}");
    let after = state(&env.store());
    let keys =
        |s: &[(String, Vec<u8>)]| s.iter().filter(|(p, _)| p.starts_with("keystore/")).cloned().collect::<Vec<_>>();
    assert_eq!(keys(&after), keys(&before));
}

#[test]
fn a_record_of_another_index_is_not_stored_over_an_indexs_record() {
    // Store B holds key k1 too (imported) and makes index `second` under
    // its name; store A carries `first` there. A's record stays.
    let a = Env::new();
    let ipns = a.ok(&["key", "gen", "k1"]).trim().to_string();
    a.ok(&["index", "init", "--name", "first", "--key", "k1"]);
    let exported = a.path("k1.key");
    a.ok(&["key", "export", "k1", "-o", exported.to_str().unwrap()]);
    let b = Env::new();
    b.ok(&["key", "import", "k1", exported.to_str().unwrap()]);
    b.ok(&["index", "init", "--name", "second", "--key", "k1"]);
    let record =
        common::walk_files(&b.store()).into_iter().find(|f| f.to_string_lossy().ends_with(".ipns-record")).unwrap();
    let before = state(&a.store());
    let err = a.fails(&["name", "put", &ipns, record.to_str().unwrap()]);
    assert!(err.contains("already carries index `first`"), "{err}");
    assert_eq!(state(&a.store()), before);
    a.ok(&["index", "verify", "first"]);
}
