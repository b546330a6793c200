//! A publisher, a mirror and clients, each with its own store, over
//! `cargo ipfs serve` on loopback: the mirror follows three index versions
//! and ends with exactly the union of their blocks, catches up on two
//! versions published while it was down, and redoes nothing on a round
//! with nothing new; a client pointed at the mirror alone resolves,
//! verifies, fetches and builds with every unit restored; a block
//! tampered with on the mirror is refused by the next client.

mod common;

use common::{copy_dir, walk_files, Machine, Server};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The names of the block files of a store.
fn blocks(store: &Path) -> BTreeSet<String> {
    walk_files(&store.join("blocks"))
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains(".tmp"))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The sequence numbers of the versions `m` pins as a mirror.
fn mirrored(m: &Machine) -> Vec<u64> {
    let set: serde_json::Value = serde_json::from_str(&m.ok(&["pin", "ls", "--json"])).unwrap();
    let mut seqs: Vec<u64> = set
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["reason"] == "mirror")
        .map(|k| k["seq"].as_u64().unwrap())
        .collect();
    seqs.sort();
    seqs
}

/// Waits (at most 60 s) until the following mirror has pinned `seq`.
fn wait_for(m: &Machine, follower: &mut Child, seq: u64) {
    let start = Instant::now();
    while !mirrored(m).contains(&seq) {
        assert!(follower.try_wait().unwrap().is_none(), "the mirror stopped");
        assert!(start.elapsed() < Duration::from_secs(60), "version {seq} was not mirrored in 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn rounds(out: &str) -> Vec<serde_json::Value> {
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_mirror_follows_catches_up_and_serves_clients_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Machine::new(&tmp.path().join("a"), "demo", &tmp.path().join("a/store"));
    let key = a.ok(&["key", "gen", "ci"]).trim().to_string();
    a.ok(&["index", "init", "--name", "demo-index", "--key", "ci"]);
    let publisher = Server::start(&a.store);

    // The mirror follows from the first (empty) version on.
    let m = Machine::new(&tmp.path().join("m"), "m/demo", &tmp.path().join("m/store"));
    m.ok(&["trust", "add", "demo-index", &key]);
    let mut follower = m
        .cmd(&["mirror", "demo-index", "--follow", "--interval", "200ms", "--gateway", &publisher.1])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&m, &mut follower, 1);

    // Version 2: part of what the build recorded; version 3: all of it.
    let out = a.build(true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let journal_path = a.store.join("journal.jsonl");
    let journal = std::fs::read_to_string(&journal_path).unwrap();
    let lines: Vec<&str> = journal.lines().collect();
    assert!(lines.len() >= 6, "{journal}");
    std::fs::write(&journal_path, lines[..3].join("\n") + "\n").unwrap();
    a.ok(&["publish", "--name", "demo-index"]);
    wait_for(&m, &mut follower, 2);
    let record_of_2 = tmp.path().join("record-of-2");
    copy_dir(&a.store.join("ipns"), &record_of_2);
    std::fs::write(&journal_path, &journal).unwrap();
    a.ok(&["publish", "--name", "demo-index"]);
    wait_for(&m, &mut follower, 3);
    follower.kill().unwrap();
    follower.wait().unwrap();
    assert_eq!(mirrored(&m), [3], "the newest version alone stays pinned");
    assert_eq!(blocks(&m.store), blocks(&a.store), "the mirror holds exactly the union of the three versions");

    // Two versions while the mirror is down: the next round catches up on
    // both, in order; one more round has nothing to do.
    a.ok(&["index", "refresh", "--name", "demo-index"]);
    a.ok(&["index", "refresh", "--name", "demo-index"]);
    let once = |m: &Machine| {
        rounds(&m.ok(&["mirror", "demo-index", "--gateway", &publisher.1, "--json", "--keep-versions", "2"]))
    };
    let caught_up = once(&m);
    let seqs: Vec<u64> =
        caught_up[0]["versions"].as_array().unwrap().iter().map(|v| v["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [4, 5], "{caught_up:?}");
    assert_eq!(caught_up[0]["versions"][0]["fetched"], 0, "a refresh adds no artifact");
    assert_eq!(mirrored(&m), [4, 5]);
    assert_eq!(blocks(&m.store), blocks(&a.store));
    let again = once(&m);
    assert_eq!(again[0]["head"], 5);
    assert_eq!(again[0]["versions"], serde_json::json!([]), "nothing is redone");

    // The publisher's server sends version 2's record again (a stale or
    // hostile source): the round refuses it, and the mirror goes on
    // serving version 5's record.
    let served = std::fs::read_dir(m.store.join("ipns")).unwrap().count();
    let before: Vec<Vec<u8>> = walk_files(&m.store.join("ipns")).iter().map(|p| std::fs::read(p).unwrap()).collect();
    copy_dir(&record_of_2, &a.store.join("ipns"));
    let out = m.cmd(&["mirror", "demo-index", "--gateway", &publisher.1]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("refusing a rollback"), "{stderr}");
    let after: Vec<Vec<u8>> = walk_files(&m.store.join("ipns")).iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert_eq!((served, after), (1, before), "the mirror's record is untouched");

    // A client that knows only the mirror.
    drop(publisher);
    let mirror = Server::start(&m.store);
    let c = Machine::new(&tmp.path().join("c"), "x/y/demo", &tmp.path().join("c/store"));
    c.ok(&["trust", "add", "demo-index", &key]);
    let out = c.cmd(&["build", "--gateway", &mirror.1, "--locked"]).env("CARGO_NET_OFFLINE", "true").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let recorded = a.stats()["recorded"].as_u64().unwrap();
    let stats = c.stats();
    assert_eq!(stats["hits"].as_u64().unwrap(), recorded, "every unit restored from the mirror: {stats}");
    assert_eq!(stats["misses"], 0, "{stats}");
    assert_eq!(c.run_binary(), a.run_binary());
    // The client keeps the version it verified; the publisher its journal.
    let kept: serde_json::Value = serde_json::from_str(&c.ok(&["pin", "ls", "--json"])).unwrap();
    assert!(kept.as_array().unwrap().iter().any(|k| k["reason"] == "trusted" && k["seq"] == 5), "{kept}");
    let kept: serde_json::Value = serde_json::from_str(&a.ok(&["pin", "ls", "--json"])).unwrap();
    let journaled = kept.as_array().unwrap().iter().filter(|k| k["reason"] == "journaled").count();
    assert_eq!(journaled, lines.len(), "{kept}");

    // A block tampered with on the mirror's disk: the next client refuses it.
    let largest =
        walk_files(&m.store.join("blocks")).into_iter().max_by_key(|p| std::fs::metadata(p).unwrap().len()).unwrap();
    let mut bytes = std::fs::read(&largest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&largest, &bytes).unwrap();
    let d = Machine::new(&tmp.path().join("d"), "demo", &tmp.path().join("d/store"));
    d.ok(&["trust", "add", "demo-index", &key]);
    let out = d.cmd(&["fetch", "--gateway", &mirror.1, "--json"]).output().unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["failed"].as_array().map(Vec::len), Some(1), "one artifact refused: {summary} {stderr}");
    let name = largest.file_name().unwrap().to_string_lossy().into_owned();
    assert!(!blocks(&d.store).contains(&name), "the tampered block never reached the client's store");
    let verify = d.cmd(&["block", "verify"]).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
}

#[test]
fn the_pin_set_lists_user_pins_and_refuses_what_is_not_whole_or_not_the_users() {
    let env = common::Env::new();
    let file = env.write("hello.txt", b"hello pins\n");
    let cid = env.ok(&["add", "-Q", common::s(&file)]).trim().to_string();
    assert_eq!(env.ok(&["pin", "ls"]), "", "a new store keeps nothing");
    assert_eq!(env.ok(&["pin", "add", &cid, "--name", "greeting"]).trim(), format!("{cid} pinned"));
    assert_eq!(env.ok(&["pin", "add", &cid]).trim(), format!("{cid} was pinned already"));
    let set: serde_json::Value = serde_json::from_str(&env.ok(&["pin", "ls", "--json"])).unwrap();
    assert_eq!(set, serde_json::json!([{"cid": cid, "reason": "user", "name": "greeting"}]));
    assert!(env.ok(&["pin", "ls"]).contains("pinned by the user (greeting)"));
    // A CID whose blocks are not here cannot be pinned.
    let absent = env.ok(&["add", "-n", "-Q", common::s(&env.write("other.txt", b"not stored\n"))]).trim().to_string();
    let err = env.fails(&["pin", "add", &absent]);
    assert!(err.contains("is not whole in this store") && err.contains("bring it in first"), "{err}");
    assert_eq!(env.ok(&["pin", "rm", &cid]).trim(), format!("{cid} unpinned"));
    assert!(env.fails(&["pin", "rm", &cid]).contains("is not pinned"));
    // A mirror verifies what it serves: an index nobody trusts is refused.
    let err = env.fails(&["mirror", "unknown-index", "--gateway", "http://127.0.0.1:9"]);
    assert!(err.contains("index `unknown-index` is not trusted here") && err.contains("cargo ipfs trust add"), "{err}");
}
