//! `republish` keeps an index resolvable across several version
//! lifetimes: each round renews what would expire and puts the record on a
//! delegated routing endpoint (`serve` on loopback, holding the version's
//! blocks as a pinning target would), and a subscriber reading only that
//! endpoint gets a valid, verified version after every lifetime; without
//! it, the index lapses.

mod common;

use common::{copy_dir, Machine, Server};
use std::time::Duration;

#[test]
fn republish_keeps_an_index_resolvable_across_lifetimes() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Machine::new(&tmp.path().join("a"), "demo", &tmp.path().join("a/store"));
    let key = a.ok(&["key", "gen", "ci"]).trim().to_string();
    a.ok(&["index", "init", "--name", "demo-index", "--key", "ci", "--lifetime", "10s"]);
    let routing_store = tmp.path().join("routing");
    let routing = Server::start(&routing_store);
    let s = Machine::new(&tmp.path().join("s"), "demo", &tmp.path().join("s/store"));
    s.ok(&["trust", "add", "demo-index", &key]);

    let mut seqs = Vec::new();
    for round in 0..3 {
        let out = a.ok(&["republish", "--to", &routing.1, "--renew-before", "6s", "--json"]);
        let outcome: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(outcome["sent"][0]["error"], serde_json::Value::Null, "{outcome}");
        // The first round finds the version valid long enough (it leaves 4 s
        // for the setup on a busy machine); later ones, 5 s on, sign a fresh
        // one.
        assert_eq!(outcome["refreshed"].is_null(), round == 0, "{outcome}");
        copy_dir(&a.store.join("blocks"), &routing_store.join("blocks"));
        let out = s.cmd(&["fetch", "--gateway", &routing.1, "--json"]).output().unwrap();
        assert!(out.status.success(), "round {round}: {}", String::from_utf8_lossy(&out.stderr));
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["version"], outcome["seq"], "the subscriber resolved the record just put");
        seqs.push(outcome["seq"].as_u64().unwrap());
        std::thread::sleep(Duration::from_secs(5));
    }
    assert_eq!(seqs, [1, 2, 3]);

    // Left alone past its lifetime, the index lapses.
    std::thread::sleep(Duration::from_secs(6));
    let out = s.cmd(&["fetch", "--gateway", &routing.1]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("expire"), "{stderr}");
}

#[test]
fn serve_warns_of_a_record_near_its_expiry() {
    use std::io::{BufRead, BufReader};
    let env = common::Env::new();
    let name = env.ok(&["key", "gen", "ci"]).trim().to_string();
    env.ok(&["index", "init", "--name", "short", "--key", "ci", "--lifetime", "2h"]);
    let (mut child, _url) = common::spawn_serve(&env.store(), &[], std::process::Stdio::piped());
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().take(50) {
            let Ok(line) = line else { break };
            if line.contains("expires in") {
                let _ = tx.send(line);
                break;
            }
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(20));
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("a warning within 20 s");
    assert!(line.contains(&name) && line.contains("cargo ipfs republish"), "{line}");
}
