//! Builds sharing one store at once: several projects at other paths and
//! two builds of the same project (other target directories), some
//! recording, some restoring what a publisher's index holds, while a `gc`
//! and a `fetch` run on the same store. Every build succeeds, every binary
//! prints what the publisher's does, and the store's stats show no error.
//!
//! `CONCURRENT_BUILDS` sets how many builds run (3 here; the benchmark
//! script runs 8, ten times over: `scripts/bench-concurrency.sh`).

mod common;

use common::{Machine, Server};
use std::process::{Child, Stdio};

fn spawn(m: &Machine, args: &[&str], gateway: &str) -> Child {
    let mut cmd = m.cmd(args);
    cmd.env("CARGO_IPFS_GATEWAYS", gateway).env("CARGO_NET_OFFLINE", "true");
    cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
}

#[test]
fn builds_a_gc_and_a_fetch_share_one_store_at_once() {
    let builds: usize = std::env::var("CONCURRENT_BUILDS").ok().and_then(|n| n.parse().ok()).unwrap_or(3).max(2);
    let tmp = tempfile::tempdir().unwrap();
    let a = Machine::new(&tmp.path().join("a"), "demo", &tmp.path().join("a/store"));
    let key = a.ok(&["key", "gen", "ci"]).trim().to_string();
    a.ok(&["index", "init", "--name", "demo-index", "--key", "ci"]);
    let out = a.build(true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    a.ok(&["publish", "--name", "demo-index"]);
    let expected = a.run_binary();
    let server = Server::start(&a.store);

    let shared = tmp.path().join("shared-store");
    let machines: Vec<Machine> = (0..builds)
        .map(|i| {
            // The last two build the same project, each into its own target directory.
            let project = if i + 1 == builds { format!("p{}/demo", builds - 2) } else { format!("p{i}/demo") };
            let mut m = Machine::new(&tmp.path().join(format!("m{i}")), &project, &shared);
            if i + 1 == builds {
                m.project = tmp.path().join(format!("m{}", builds - 2)).join(&project);
            }
            m
        })
        .collect();
    machines[0].ok(&["trust", "add", "demo-index", &key]);

    let mut children: Vec<(usize, Child)> = machines
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let args: &[&str] = if i % 2 == 0 { &["build", "--locked"] } else { &["build", "--record", "--locked"] };
            (i, spawn(m, args, &server.1))
        })
        .collect();
    let fetch = spawn(&machines[0], &["fetch", "--quiet"], &server.1);
    let gc = spawn(&machines[0], &["gc", "--max-size", "1K"], &server.1);
    children.push((usize::MAX, fetch));
    children.push((usize::MAX - 1, gc));
    for (i, child) in children {
        let out = child.wait_with_output().unwrap();
        // The gc cannot fit the store under 1K (what it holds is pinned or
        // in use): it exits 1, having removed nothing a build needed.
        if i == usize::MAX - 1 {
            assert!(out.status.code().is_some_and(|c| c <= 1), "gc: {}", String::from_utf8_lossy(&out.stderr));
            continue;
        }
        assert!(out.status.success(), "{i}: {}", String::from_utf8_lossy(&out.stderr));
    }
    for m in &machines {
        assert_eq!(m.run_binary(), expected, "every build's binary is the publisher's");
    }
    let stats = machines[0].stats();
    assert_eq!(stats["errors"], serde_json::json!({}), "{stats}");
    assert!(stats["hits"].as_u64().unwrap() > 0, "{stats}");
}
