//! Crates compiled from a vendor directory (`cargo vendor`): recognized by
//! the checksum cargo records in `.cargo-checksum.json`, verified against
//! their files, so that projects that vendor share hits across clones; a
//! patched vendored crate misses and is never journaled.

mod common;

use common::fake_crate::{FakeCrate, PROBE};
use serde_json::json;
use std::path::{Path, PathBuf};

const ENV: [(&str, &str); 1] = [("PROBE_VALUE", "one")];

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(bytes))
}

/// `probe` vendored into `project/vendor/probe`, as `cargo vendor` writes
/// it; returns its `src/lib.rs`.
fn vendor(project: &Path, source: &str) -> PathBuf {
    let dir = project.join("vendor/probe");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), source).unwrap();
    std::fs::write(dir.join("Cargo.toml"), "[package]\nname = \"probe\"\nversion = \"0.1.0\"\n").unwrap();
    let files = json!({"src/lib.rs": sha256(source.as_bytes()), "Cargo.toml": sha256(std::fs::read(dir.join("Cargo.toml")).unwrap().as_slice())});
    let checksums = json!({"files": files, "package": sha256(b"the .crate file")});
    std::fs::write(dir.join(".cargo-checksum.json"), checksums.to_string()).unwrap();
    dir.join("src/lib.rs")
}

/// Compiles `src` through the wrapper; whether it hit.
fn hit(c: &FakeCrate, src: &Path) -> bool {
    let before = c.stats()["hits"].as_u64().unwrap();
    let out = c.command(Path::new("rustc"), src).envs(ENV).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    c.stats()["hits"].as_u64().unwrap() > before
}

fn journal(c: &FakeCrate) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(c.tmp.path().join("store/journal.jsonl")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_vendored_crate_hits_across_clones_while_its_files_are_the_listed_ones() {
    let c = FakeCrate::new(PROBE);
    let a = vendor(&c.tmp.path().join("project-a"), PROBE);
    assert!(!hit(&c, &a), "the first compilation records");
    let entries = journal(&c);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["source"], "vendored");
    assert_eq!(entries[0]["checksum"], sha256(b"the .crate file"));
    assert!(hit(&c, &a));
    // A clone of the project at another path shares the hit.
    let b = vendor(&c.tmp.path().join("elsewhere/project-b"), PROBE);
    assert!(hit(&c, &b), "another clone hits");

    // Patched the way vendored crates are patched: the file edited and the
    // list of files emptied so that cargo stops checking them.
    let dir = b.parent().unwrap().parent().unwrap().to_path_buf();
    let checksums = dir.join(".cargo-checksum.json");
    let listed = std::fs::read(&checksums).unwrap();
    std::fs::write(&b, format!("{PROBE}\npub fn patched() {{}}\n")).unwrap();
    let mut emptied: serde_json::Value = serde_json::from_slice(&listed).unwrap();
    emptied["files"] = json!({});
    std::fs::write(&checksums, emptied.to_string()).unwrap();
    assert!(!hit(&c, &b), "a patched vendored crate misses");
    // Edited without touching the list.
    std::fs::write(&checksums, &listed).unwrap();
    assert!(!hit(&c, &b), "a file that differs from its listed checksum misses");
    // A file added beside the listed ones.
    std::fs::write(&b, PROBE).unwrap();
    std::fs::write(dir.join("src/extra.rs"), "// more").unwrap();
    assert!(!hit(&c, &b), "a file not listed misses");
    assert_eq!(c.stats()["not_cacheable"]["registry source modified"], 3);
    assert_eq!(journal(&c).len(), 1, "nothing patched is journaled");
    std::fs::remove_file(dir.join("src/extra.rs")).unwrap();
    assert!(hit(&c, &b), "the files restored, the crate hits again");
    // Patched, with the list written anew for the patch (the package
    // checksum kept): another key, never the unpatched artifact.
    let patched = format!("{PROBE}\npub fn patched() {{}}\n");
    std::fs::write(&b, &patched).unwrap();
    let mut relisted: serde_json::Value = serde_json::from_slice(&listed).unwrap();
    relisted["files"]["src/lib.rs"] = json!(sha256(patched.as_bytes()));
    std::fs::write(&checksums, relisted.to_string()).unwrap();
    assert!(!hit(&c, &b), "a patch listed anew misses");
    std::fs::write(&b, PROBE).unwrap();
    std::fs::write(&checksums, &listed).unwrap();
    assert!(hit(&c, &b), "and the crate as vendored hits again");

    // A vendored git dependency has no package checksum: no registry crate.
    let mut git: serde_json::Value = serde_json::from_slice(&listed).unwrap();
    git["package"] = serde_json::Value::Null;
    std::fs::write(&checksums, git.to_string()).unwrap();
    assert!(!hit(&c, &b));
    assert_eq!(c.stats()["not_cacheable"]["not a registry crate"], 1);
}
