//! An artifact that a hostile publisher or gateway made, met by the real
//! wrapper on a hit: its files, status and output are checked before
//! anything is placed, and a refused one costs a compilation, never the
//! build nor another unit's output.
//!
//! The unpacked copy that a hit places files from is edited here; a copy is
//! made from a pack's files and metadata as they are (the fetch checks only
//! the pack's digest and its names against the signed entry), so an edited
//! copy is what a hostile pack becomes.

mod common;

use common::fake_crate::{FakeCrate, PROBE};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const ENV: [(&str, &str); 1] = [("PROBE_VALUE", "one")];
/// As cargo runs rustc.
const JSON: [&str; 1] = ["--error-format=json"];

/// The one unpacked copy in the crate's store.
fn the_copy(c: &FakeCrate) -> PathBuf {
    let unpacked = c.tmp.path().join("store/wrapper/unpacked");
    let copies: Vec<PathBuf> = std::fs::read_dir(&unpacked)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    copies.into_iter().next().unwrap()
}

fn edit_manifest(copy: &Path, edit: impl FnOnce(&mut Value)) {
    let path = copy.join("manifest.json");
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut manifest);
    std::fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
}

/// Adds a file to a copy: in `out/` and in the manifest.
fn add_file(copy: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(copy.join("out").join(name), bytes).unwrap();
    edit_manifest(copy, |m| {
        let sha256 = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(bytes));
        let file = json!({"name": name, "executable": false, "size": bytes.len(), "sha256": sha256});
        m["files"].as_array_mut().unwrap().push(file);
    });
}

#[test]
fn a_hostile_artifact_is_refused_before_anything_is_placed_and_the_build_compiles() {
    let c = FakeCrate::new(PROBE);
    assert!(!c.hit(&JSON, &ENV), "the first compilation records");
    let original = c.rlib();
    assert!(c.hit(&JSON, &ENV), "and hits");
    // Another unit's output in the shared deps directory: the project's own.
    let own = c.out.join("libmine-0123456789abcdef.rlib");
    std::fs::write(&own, b"the project's own library").unwrap();
    let own_path = own.to_str().unwrap().to_owned();
    let rlib_path = c.out.join("libprobe-0123456789abcdef.rlib").to_str().unwrap().to_owned();

    type Forge = Box<dyn Fn(&Path)>;
    let forgeries: Vec<(&str, Forge)> = vec![
        (
            "a file this invocation does not write",
            Box::new(|copy| add_file(copy, "libmine-0123456789abcdef.rlib", b"hostile")),
        ),
        (
            "an output missing",
            Box::new(|copy| {
                edit_manifest(copy, |m| {
                    m["files"].as_array_mut().unwrap().retain(|f| f["name"] != "libprobe-0123456789abcdef.rmeta")
                })
            }),
        ),
        ("a failure status", Box::new(|copy| edit_manifest(copy, |m| m["meta"]["status"] = json!(101)))),
        (
            "an artifact notification for another unit",
            Box::new(move |copy| {
                let line = json!({"$message_type": "artifact", "artifact": own_path, "emit": "link"}).to_string();
                edit_manifest(copy, |m| m["meta"]["stderr"] = json!(line + "\n"));
            }),
        ),
        (
            "a terminal sequence that is not a colour",
            Box::new(|copy| {
                let line = json!({"$message_type": "diagnostic", "message": "unused", "code": null, "level": "warning",
                    "spans": [], "children": [], "rendered": "warning: \u{1b}]52;c;Y3VybCB4fHNo\u{7}unused\n"});
                edit_manifest(copy, |m| m["meta"]["stderr"] = json!(line.to_string() + "\n"));
            }),
        ),
        (
            "an error diagnostic",
            Box::new(move |copy| {
                let line = json!({"$message_type": "diagnostic", "message": "forged", "code": null, "level": "error",
                    "spans": [], "children": [], "rendered": "error: forged\n"});
                edit_manifest(copy, |m| m["meta"]["stderr"] = json!(line.to_string() + "\n"));
            }),
        ),
    ];
    for (what, forge) in &forgeries {
        forge(&the_copy(&c));
        std::fs::write(&rlib_path, b"left by an earlier build").unwrap();
        let out = c.compile(&JSON, &ENV);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{what}: {stderr}");
        assert!(stderr.contains("cannot restore"), "{what}: refused, and said so: {stderr}");
        assert!(!stderr.contains("Y3VybCB4fHNo") && !stderr.contains("forged"), "{what}: nothing replayed: {stderr}");
        assert_eq!(std::fs::read(&own).unwrap(), b"the project's own library", "{what}: another unit's output kept");
        assert!(!c.tmp.path().join("target/debug/libmine-0123456789abcdef.rlib").exists(), "{what}");
        assert_eq!(c.rlib(), original, "{what}: rustc compiled the unit");
        // The refused copy is thrown away, and the recording made a good one.
        assert!(c.hit(&JSON, &ENV), "{what}: the honest artifact hits again");
        assert_eq!(c.rlib(), original, "{what}");
    }
}
