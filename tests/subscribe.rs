//! Subscribers: `cargo ipfs subscribe` trusts, resolves, verifies and
//! records an index, and `cargo ipfs-fetch` then uses it with no flag;
//! with two subscriptions, the fetch looks entries up in each in order, the
//! second filling in what the first lacks; a subscription whose key does
//! not verify changes nothing. `index log` and `index diff` read an index
//! resolved over the network into an empty store.

mod common;

use common::{Machine, Server};

#[test]
fn subscriptions_are_looked_up_in_order_and_history_reads_over_the_network() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Machine::new(&tmp.path().join("a"), "demo", &tmp.path().join("a/store"));
    let key_first = a.ok(&["key", "gen", "first-key"]).trim().to_string();
    let key_second = a.ok(&["key", "gen", "second-key"]).trim().to_string();
    a.ok(&["index", "init", "--name", "first", "--key", "first-key"]);
    a.ok(&["index", "init", "--name", "second", "--key", "second-key"]);
    let out = a.build(true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // `first` holds part of what was recorded, `second` all of it.
    let journal_path = a.store.join("journal.jsonl");
    let journal = std::fs::read_to_string(&journal_path).unwrap();
    let lines: Vec<&str> = journal.lines().collect();
    assert!(lines.len() >= 6, "{journal}");
    std::fs::write(&journal_path, lines[..3].join("\n") + "\n").unwrap();
    a.ok(&["publish", "--name", "first"]);
    std::fs::write(&journal_path, &journal).unwrap();
    a.ok(&["publish", "--name", "second"]);
    let server = Server::start(&a.store);

    let s = Machine::new(&tmp.path().join("s"), "demo", &tmp.path().join("s/store"));
    // A key that did not sign the index: nothing is trusted or subscribed.
    let out = s.cmd(&["subscribe", "first", "--key", &key_second, "--gateway", &server.1]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("cannot subscribe to first"), "{stderr}");
    assert_eq!(s.ok(&["trust", "list", "--json"]).trim(), "[]");
    assert_eq!(s.ok(&["subscribe", "--list"]), "");

    let said = s.ok(&["subscribe", "first", "--key", &key_first, "--gateway", &server.1]);
    assert!(said.contains("subscribed to first") && said.contains("version 2"), "{said}");
    // Only `first`: what it lacks is missing.
    let only_first: serde_json::Value = serde_json::from_str(&s.ok(&["fetch", "--json"])).unwrap();
    assert_eq!(only_first["index"], "first");
    assert!(!only_first["missing"].as_array().unwrap().is_empty(), "{only_first}");
    s.ok(&["subscribe", "second", "--key", &key_second, "--gateway", &server.1]);
    let list = s.ok(&["subscribe", "--list"]);
    assert!(list.starts_with("1. first") && list.contains("2. second"), "{list}");

    let both: serde_json::Value = serde_json::from_str(&s.ok(&["fetch", "--json"])).unwrap();
    assert_eq!(both["index"], "first, second", "{both}");
    let from_first = only_first["fetched"].as_array().unwrap().len() as u64;
    assert_eq!(both["already_local"].as_u64().unwrap(), from_first, "the first index's artifacts were there");
    assert!(!both["fetched"].as_array().unwrap().is_empty(), "{both}");
    assert_eq!(both["missing"], serde_json::json!([]), "the second filled in the rest: {both}");
    let out = s.cmd(&["build", "--offline", "--locked"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stats = s.stats();
    assert_eq!(
        (stats["misses"].as_u64(), stats["runs"]["executed"].as_u64()),
        (Some(0), Some(0)),
        "every unit restored: {stats}"
    );
    assert_eq!(stats["hits"], a.stats()["recorded"], "{stats}");

    // The history of `second`, read over the network into an empty store.
    let t = Machine::new(&tmp.path().join("t"), "demo", &tmp.path().join("t/store"));
    t.ok(&["trust", "add", "second", &key_second]);
    let out = t.cmd(&["index", "log", "second"]).output().unwrap();
    assert!(!out.status.success(), "nothing local to read");
    let log = t.ok(&["index", "log", "second", "--gateway", &server.1]);
    let versions: Vec<&str> = log.lines().filter(|l| l.starts_with("version")).collect();
    assert_eq!(versions.len(), 2, "{log}");
    assert!(versions[0].starts_with("version 2") && versions[1].starts_with("version 1"), "{log}");
    let published: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.store.join("published.json")).unwrap()).unwrap();
    let first_root = published["first"]["head"].as_str().unwrap();
    t.ok(&["trust", "add", "first", &key_first]);
    let diff = t.ok(&["index", "diff", first_root, "second", "--gateway", &server.1]);
    assert!(diff.trim_end().ends_with(&format!("{} added, 0 removed", lines.len() - 3)), "{diff}");
}
