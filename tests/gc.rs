//! Garbage collection on a client's store: what the pin set protects stays
//! (the newest verified version of a trusted index with every artifact its
//! entries name, a user's pin), orphans and unprotected artifacts go, least
//! recently used first, with their unpacked copies and cache-map entries;
//! a dry run removes nothing; what is younger than the grace stays; a
//! build after a collection still succeeds, compiling what went.

mod common;

use common::{walk_files, Machine, Server};
use std::path::Path;

fn block_count(store: &Path) -> usize {
    walk_files(&store.join("blocks")).len()
}

fn gc(m: &Machine, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut all = vec!["gc", "--json"];
    all.extend(args);
    let out = m.cmd(&all).output().unwrap();
    let report =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), report)
}

#[test]
fn gc_keeps_the_pin_set_and_removes_the_rest_least_recently_used_first() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Machine::new(&tmp.path().join("a"), "demo", &tmp.path().join("a/store"));
    let key = a.ok(&["key", "gen", "ci"]).trim().to_string();
    a.ok(&["index", "init", "--name", "demo-index", "--key", "ci"]);
    let out = a.build(true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    a.ok(&["publish", "--name", "demo-index"]);
    let server = Server::start(&a.store);

    let b = Machine::new(&tmp.path().join("b"), "demo", &tmp.path().join("b/store"));
    b.ok(&["trust", "add", "demo-index", &key]);
    let fetched: serde_json::Value = serde_json::from_str(&b.ok(&["fetch", "--gateway", &server.1, "--json"])).unwrap();
    let artifacts = fetched["fetched"].as_array().unwrap().len();
    assert!(artifacts > 3, "{fetched}");
    let sizes = b.stats()["store"].clone();
    assert!(sizes["packed"].as_u64().unwrap() > 0 && sizes["unpacked"].as_u64().unwrap() > 0, "{sizes}");
    assert!(sizes["index"].as_u64().unwrap() > 0, "{sizes}");

    // An unpinned file added by hand is an orphan: kept within the grace, removed after.
    let file = tmp.path().join("note.txt");
    std::fs::write(&file, "not pinned").unwrap();
    b.ok(&["add", "-Q", file.to_str().unwrap()]);
    let (_, young) = gc(&b, &[]);
    assert_eq!(young["orphan_blocks"][0], 0, "younger than the grace: {young}");

    // Trusted: the newest verified version protects every artifact it names.
    let blocks = block_count(&b.store);
    let (status, report) = gc(&b, &["--max-size", "0", "--grace", "1ms"]);
    assert_eq!(status, Some(1), "what is left is protected, so it cannot fit: {report}");
    assert_eq!(report["orphan_blocks"][0], 1, "{report}");
    assert_eq!(report["artifacts"][0], serde_json::json!([]), "{report}");
    assert_eq!(block_count(&b.store), blocks - 1);
    assert!(report["after"]["unpacked"] == 0, "unpacked copies go first: {report}");

    // No longer trusted: only a user's pin protects; a dry run removes nothing.
    let pinned = fetched_cid(&b);
    b.ok(&["pin", "add", &pinned]);
    b.ok(&["trust", "rm", "demo-index"]);
    let blocks = block_count(&b.store);
    // Compiled units and build-script runs alike go, with their maps' entries.
    let mapped = mapped_cids(&b).len();
    assert!(mapped > 3 && mapped <= artifacts, "{mapped} of {artifacts}");
    let (_, dry) = gc(&b, &["--max-size", "0", "--grace", "1ms", "--dry-run"]);
    assert_eq!(dry["artifacts"][0].as_array().unwrap().len(), mapped - 1, "{dry}");
    assert_eq!(block_count(&b.store), blocks, "a dry run removes nothing");
    let (_, report) = gc(&b, &["--max-size", "0", "--grace", "1ms"]);
    let removed = report["artifacts"][0].as_array().unwrap();
    assert_eq!(removed.len(), mapped - 1, "{report}");
    assert_eq!(mapped_cids(&b), [pinned.clone()].into(), "the cache map forgets what went");
    assert!(!removed.iter().any(|c| c == &serde_json::json!(pinned)), "the pinned artifact stays");
    b.ok(&["car", "export", &pinned, "-o", tmp.path().join("pinned.car").to_str().unwrap()]);
    assert!(block_count(&b.store) < blocks);

    // A build afterwards: the pinned artifact hits (its copy made again),
    // the rest compiles; nothing errs.
    b.ok(&["stats", "--zero"]);
    let out = b.cmd(&["build", "--no-fetch", "--offline", "--locked"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stats = b.stats();
    assert_eq!(stats["errors"], serde_json::json!({}), "{stats}");
    assert!(stats["misses"].as_u64().unwrap() > 0 && stats["hits"].as_u64().unwrap() >= 1, "{stats}");

    // By age: a bound far away removes nothing that is in use.
    let (status, report) = gc(&b, &["--max-age", "1000d", "--grace", "1ms"]);
    assert_eq!((status, report["artifacts"][0].as_array().map(Vec::len)), (Some(0), Some(0)), "{report}");

    // A size bound in the configuration: a build starts a collection in
    // the background and returns; a malformed bound starts none.
    let _ = std::fs::remove_file(b.store.join("gc.lock"));
    std::fs::write(b.store.join("config.json"), r#"{"max-size": "lots"}"#).unwrap();
    let out = b.cmd(&["build", "--no-fetch", "--offline", "--locked"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no collection started"), "{stderr}");
    assert!(!b.store.join("gc.lock").exists());
    std::fs::write(b.store.join("config.json"), r#"{"max-size": "1K"}"#).unwrap();
    let out = b.cmd(&["build", "--no-fetch", "--offline", "--locked"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("past max-size 1K; collecting in the background"), "{stderr}");
    let started = std::time::Instant::now();
    while !b.store.join("gc.lock").exists() {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "no collection ran");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The CIDs the cache map and the build-script runs' map name.
fn mapped_cids(m: &Machine) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let json =
        |dir: &str| walk_files(&m.store.join(dir)).into_iter().filter(|f| f.extension().is_some_and(|e| e == "json"));
    for file in json("wrapper/keys") {
        let record: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        for v in record["variants"].as_object().into_iter().flat_map(|o| o.values()) {
            out.insert(v["cid"].as_str().unwrap().to_string());
        }
    }
    for file in json("wrapper/runs") {
        let runs: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        for run in runs.as_array().unwrap() {
            out.insert(run["artifact"]["cid"].as_str().unwrap().to_string());
        }
    }
    out
}

/// The CID of one artifact the fetch filed (from the cache map).
fn fetched_cid(m: &Machine) -> String {
    for file in
        walk_files(&m.store.join("wrapper/keys")).into_iter().filter(|f| f.extension().is_some_and(|e| e == "json"))
    {
        let record: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        if let Some((_, v)) = record["variants"].as_object().and_then(|o| o.iter().next()) {
            return v["cid"].as_str().unwrap().to_string();
        }
    }
    panic!("no artifact in the cache map");
}
