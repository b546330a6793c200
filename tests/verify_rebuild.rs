//! `cargo ipfs verify --rebuild` across machines: machine A (the pinning
//! job) records the demo project and publishes it; machine B, with other
//! paths, rebuilds the lockfile from nothing and confirms every artifact A
//! signed. An index that re-signs one entry with another artifact's CID
//! and digest is flagged: exit status 1, the crate and the files named.

mod common;

use common::{Machine, Publisher, Server};
use std::process::Output;

fn verify(b: &Machine, args: &[&str]) -> (Output, serde_json::Value) {
    let out = b.cmd(&["verify", "--rebuild", "--json"]).args(args).env("CARGO_NET_OFFLINE", "true").output().unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (out, report)
}

fn names(list: &serde_json::Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_rebuild_elsewhere_confirms_what_was_signed_and_flags_a_swapped_artifact() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Publisher::new(&tmp.path().join("a"), "demo");
    let server = Server::start(&a.machine.store);
    let b = Machine::new(&tmp.path().join("b/else"), "projects/deeper/demo", &tmp.path().join("b/store"));
    b.ok(&["trust", "add", "demo-index", &a.name]);

    let (out, report) = verify(&b, &["--gateway", &server.1]);
    assert!(out.status.success(), "{report}");
    assert_eq!(names(&report["mismatched"]), Vec::<String>::new(), "{report}");
    let matched = report["matched"].as_array().unwrap();
    assert!(matched.len() as u64 >= a.recorded, "every unit A recorded, runs too: {report}");
    assert!(matched.iter().any(|c| c["kind"] == "run"), "build-script runs are compared too: {report}");

    // Another index of A's re-signs itoa's entry with serde_core's artifact.
    let journal = std::fs::read_to_string(a.machine.store.join("journal.jsonl")).unwrap();
    let mut entries: Vec<serde_json::Value> = journal.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let unit = |name: &str| {
        entries
            .iter()
            .position(|e| e["name"] == name && e.get("run").is_none() && e["crate_types"] == serde_json::json!(["lib"]))
            .unwrap()
    };
    let (itoa, other) = (unit("itoa"), unit("serde_core"));
    for field in ["cid", "sha256", "size", "unpacked_size", "outputs"] {
        entries[itoa][field] = entries[other][field].clone();
    }
    let version = entries[itoa]["version"].as_str().unwrap().to_string();
    let lines: String = entries.iter().map(|e| format!("{e}\n")).collect();
    let file = tmp.path().join("swapped.jsonl");
    std::fs::write(&file, lines).unwrap();
    let other_key = a.machine.ok(&["key", "gen", "other"]).trim().to_string();
    a.machine.ok(&["index", "init", "--name", "swapped", "--key", "other"]);
    a.machine.ok(&["index", "add", "--name", "swapped", file.to_str().unwrap()]);
    b.ok(&["trust", "add", "swapped", &other_key]);

    let spec = format!("itoa@{version}");
    let (out, report) = verify(&b, &["--index", "swapped", "--gateway", &server.1, "--crate", &spec]);
    assert_eq!(out.status.code(), Some(1), "a mismatch fails: {report}");
    assert_eq!(names(&report["mismatched"]), ["itoa"], "{report}");
    let differences = report["mismatched"][0]["differences"].to_string();
    assert!(
        differences.contains("libitoa-") && differences.contains("libserde_core-"),
        "the files named: {differences}"
    );
}
