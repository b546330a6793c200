//! A publisher and three rebuilders: r1 rebuilds the whole demo project
//! and attests every artifact that matched, r2 attests itoa alone, r3 (whom
//! the client does not trust) the whole project. Each publishes its
//! statements as its own attestation index, mirrored beside the publisher's
//! index on one server. A client requiring two attestations fetches only
//! itoa, says why for every other crate, restores nothing else even when it
//! was fetched before the policy, and its build still succeeds by
//! compiling the rest.

mod common;

use common::{copy_dir, Machine, Publisher, Server};
use std::path::Path;

/// A rebuilder: its own machine and key, trusting the publisher; runs
/// `attest` (for `spec`, or the whole project) and mirrors its store onto
/// the server's. Returns its key.
fn rebuilder(root: &Path, name: &str, publisher: &Publisher, url: &str, spec: Option<&str>) -> String {
    let m = Machine::new(&root.join(name), "rebuild/demo", &root.join(name).join("store"));
    m.ok(&["trust", "add", "demo-index", &publisher.name]);
    let key = m.ok(&["key", "gen", name]).trim().to_string();
    m.ok(&["index", "init", "--name", name, "--key", name, "--attestations"]);
    let mut args = vec!["attest", "--as", name, "--gateway", url, "--json"];
    if let Some(spec) = spec {
        args.extend(["--crate", spec]);
    }
    let out = m.cmd(&args).env("CARGO_NET_OFFLINE", "true").output().unwrap();
    assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    let done: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(done["statements"].as_u64().unwrap() >= 1, "{done}");
    assert_eq!(done["version"], 2, "the first version is empty, the statements make the second: {done}");
    for part in ["blocks", "ipns"] {
        copy_dir(&m.store.join(part), &publisher.machine.store.join(part));
    }
    key
}

fn fetched_names(summary: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> =
        summary["fetched"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_string()).collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn a_client_requiring_two_attestations_uses_only_what_two_trusted_rebuilders_confirmed() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Publisher::new(&tmp.path().join("a"), "demo");
    let server = Server::start(&a.machine.store);
    let url = server.1.clone();
    let k1 = rebuilder(tmp.path(), "r1", &a, &url, None);
    let k2 = rebuilder(tmp.path(), "r2", &a, &url, Some("itoa@1.0.19"));
    let _k3 = rebuilder(tmp.path(), "r3", &a, &url, None);

    let trust = |m: &Machine| {
        m.ok(&["trust", "add", "demo-index", &a.name]);
        m.ok(&["trust", "add", "r1", &k1, "--rebuilder"]);
        m.ok(&["trust", "add", "r2", &k2, "--rebuilder"]);
    };

    // A fresh client fetches itoa alone, and says why for the others.
    let c1 = Machine::new(&tmp.path().join("c1"), "x/demo", &tmp.path().join("c1/store"));
    trust(&c1);
    let out = c1.cmd(&["fetch", "--gateway", &url, "--json", "--require-attestations", "2"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(fetched_names(&summary), ["itoa"], "{summary}");
    let unattested = summary["unattested"].to_string();
    assert!(
        unattested.contains("serde 1.0.229")
            && unattested.contains("1 of 2 required attestations (by r1; r2: no statement)"),
        "{unattested}"
    );
    assert!(!unattested.contains("itoa"), "{unattested}");
    // Without the policy, everything the publisher signed would come.
    let out = c1.cmd(&["fetch", "--gateway", &url, "--json", "--require-attestations", "0"]).output().unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(fetched_names(&summary).contains(&"serde".to_string()), "{summary}");

    // `index show` lists each entry's attestations.
    let shown = c1.ok(&["index", "show", "demo-index", "--crate", "itoa"]);
    assert!(shown.contains("attested by 2 (r1, r2)"), "{shown}");
    let shown = c1.ok(&["index", "show", "demo-index", "--crate", "serde"]);
    assert!(shown.contains("attested by 1 (r1); r2: no statement"), "{shown}");

    // A client that fetched everything before it asked for attestations:
    // its build under the policy restores itoa alone and compiles the rest.
    let c2 = Machine::new(&tmp.path().join("c2"), "y/z/demo", &tmp.path().join("c2/store"));
    trust(&c2);
    c2.ok(&["fetch", "--gateway", &url]);
    std::fs::write(c2.store.join("config.json"), r#"{"require_attestations": 2}"#).unwrap();
    let out = c2.cmd(&["build", "--gateway", &url, "--locked"]).env("CARGO_NET_OFFLINE", "true").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("serde_derive 1.0.229: not fetched, 1 of 2 required attestations"), "{stderr}");
    let stats = c2.stats();
    assert_eq!(stats["hits"], 1, "itoa's one unit alone is restored: {stats}");
    assert!(stats["misses"].as_u64().unwrap() >= 5, "the others compile: {stats}");
    assert_eq!(c2.run_binary(), a.machine.run_binary());
}
