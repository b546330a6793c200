//! A trusted publisher turned hostile: its signed index names, for every
//! crate of a real project, an artifact made to do harm (another unit's
//! output, a failure status, a forged artifact notification, a terminal
//! sequence, an output missing), and for every build-script run a pack
//! that is not what its entry signs (digest, size, unpacked size); and two hostile gateways listed before
//! the one that serves the index (one sends unrelated blocks, one
//! trickles). A developer who trusts that publisher builds through
//! `cargo ipfs build`: the build succeeds by compiling, no hostile artifact
//! or run is restored, and the project's binary is right.
//!
//! `HOSTILE_BENCH=1` prints the time of that build and of the same build
//! with no cache configured (`scripts/bench-hostile.sh` reads it).

mod common;

use cargo_ipfs_fetch::artifact::pack::{file_digest, pack, unpack, unpacked_size, PackedFile};
use cargo_ipfs_fetch::artifact::read::read_artifact;
use cargo_ipfs_fetch::formats::unixfs::{import_bytes, ImportParams};
use cargo_ipfs_fetch::store::{BlockStore, DiskStore};
use common::hostile_gateway::{HostileGateway, Hostility};
use common::Machine;
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::Instant;

/// `cargo-ipfs serve` on 127.0.0.1:0, killed on drop.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a zstd bomb expands to: more than the memory a fetch may use.
const BOMB: usize = 600 << 20;

/// Replaces the artifact of `entry` in `store` by a hostile one of `kind`;
/// `sibling` is another unit's output name. With `bomb`, the file of kind 0
/// is [`BOMB`] zeros (a pack of under a MiB).
#[allow(clippy::result_large_err)]
fn make_hostile(store: &DiskStore, entry: &mut Value, kind: usize, sibling: &str, bomb: bool) {
    let cid = entry["cid"].as_str().unwrap().to_owned();
    let bytes = read_artifact(&cid, entry["size"].as_u64().unwrap(), &mut |c| store.get_required(c)).unwrap();
    let (mut meta, mut files) = unpack(&bytes, 1 << 30).unwrap();
    match kind {
        // Another unit's output, as the signed entry names it.
        0 => {
            let bytes = if bomb { vec![0; BOMB] } else { b"hostile".to_vec() };
            files.push(PackedFile { name: sibling.to_owned(), executable: false, bytes: bytes.into() })
        }
        1 => meta.status = 101,
        2 => {
            let forged = json!({"$message_type": "artifact", "artifact": format!("/target/debug/deps/{sibling}"), "emit": "link"});
            meta.stderr = format!("{forged}\n");
        }
        3 => {
            let forged = json!({"$message_type": "diagnostic", "message": "m", "code": null, "level": "warning",
                "spans": [], "children": [], "rendered": "\u{1b}]52;c;aG9zdGlsZQ==\u{7}warning\n"});
            // And raw, for a compilation in the human error format.
            meta.stderr = format!("{forged}\n\u{1b}]0;aG9zdGlsZQ==\u{7}\n");
        }
        _ => {
            files.retain(|f| !f.name.ends_with(".rmeta"));
            if files.len() > 1 {
                files.remove(0);
            }
        }
    }
    let packed = pack(&meta, &files);
    let (file, blocks) = import_bytes(ImportParams::UNIXFS_V1_2025, &packed).unwrap();
    for block in &blocks {
        store.put(block).unwrap();
    }
    entry["cid"] = json!(file.cid.to_string());
    entry["size"] = json!(packed.len());
    entry["sha256"] = json!(file_digest(&packed));
    entry["unpacked_size"] = json!(unpacked_size(&packed).unwrap());
    let kinds: Vec<Value> = entry["outputs"].as_array().unwrap().clone();
    let kind_of = |name: &str| kinds.iter().find(|o| o["name"] == name).map_or(json!("rlib"), |o| o["kind"].clone());
    entry["outputs"] = files.iter().map(|f| json!({"name": f.name, "kind": kind_of(&f.name)})).collect();
}

#[test]
fn a_hostile_publisher_costs_compilations_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let h = Machine::new(&tmp.path().join("h"), "ci/demo", &tmp.path().join("h/store"));
    let name = h.ok(&["key", "gen", "ci"]).trim().to_string();
    h.ok(&["index", "init", "--name", "demo-index", "--key", "ci"]);
    let out = h.build(true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Every journaled artifact replaced by a hostile one before publishing.
    let journal_path = h.store.join("journal.jsonl");
    let journaled: Vec<Value> =
        std::fs::read_to_string(&journal_path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // Build-script runs are signed with sizes or digests that lie: each is
    // refused when it is checked, and the script runs.
    let (mut runs, mut entries): (Vec<Value>, Vec<Value>) = journaled.into_iter().partition(|e| e.get("run").is_some());
    assert!(entries.len() >= 9 && runs.len() >= 3, "{} units, {} runs", entries.len(), runs.len());
    for (i, run) in runs.iter_mut().enumerate() {
        match i % 3 {
            0 => run["sha256"] = json!("0".repeat(64)),
            1 => run["unpacked_size"] = json!(16),
            _ => run["size"] = json!(run["size"].as_u64().unwrap() + 1),
        }
    }
    let store = DiskStore::open(&h.store).unwrap();
    let names: Vec<String> = entries.iter().map(|e| e["outputs"][0]["name"].as_str().unwrap().to_owned()).collect();
    let kinds: Vec<usize> = (0..names.len()).map(|i| i % 5).collect();
    let bomb = kinds.iter().position(|&k| k == 0).expect("an artifact of kind 0");
    for (i, entry) in entries.iter_mut().enumerate() {
        make_hostile(&store, entry, kinds[i], &names[(i + 1) % names.len()], i == bomb);
    }
    let journal: String = entries.iter().chain(&runs).map(|e| format!("{e}\n")).collect();
    std::fs::write(&journal_path, journal).unwrap();
    let published = h.ok(&["publish", "--name", "demo-index"]);
    assert!(published.contains("version 2"), "{published}");
    let (child, url) = common::spawn_serve(&h.store, &[], Stdio::null());
    let _server = Server(child);

    // Two hostile gateways before the one that serves the index.
    let junk = HostileGateway::start(Hostility::Junk);
    let slow = HostileGateway::start(Hostility::Slow);

    // The developer trusts the publisher's key.
    let b = Machine::new(&tmp.path().join("b"), "src/demo", &tmp.path().join("b/store"));
    b.ok(&["trust", "add", "demo-index", &name]);
    let started = Instant::now();
    let gateways = ["--gateway", &junk.url, "--gateway", &slow.url, "--gateway", &url];
    let out = b.cmd(&["build"]).args(gateways).arg("--locked").output().unwrap();
    let hostile_ms = started.elapsed().as_millis();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("aG9zdGlsZQ=="), "no forged sequence reaches the terminal: {stderr}");
    let stats = b.stats();
    assert_eq!(stats["hits"], 0, "no hostile artifact is restored: {stats}");
    assert_eq!(stats["runs"]["restored"], 0, "no hostile run is restored: {stats}");
    assert!(stats["runs"]["executed"].as_u64().unwrap() >= 3, "{stats}");
    assert!(stats["errors"]["restore"].as_u64().unwrap() >= 1, "refused restores are counted: {stats}");
    assert_eq!(b.run_binary(), "Point { x: 3, y: 4 } 12\n");
    let leftovers =
        common::walk_files(&b.target).into_iter().filter(|p| std::fs::read(p).is_ok_and(|bytes| bytes == b"hostile"));
    assert_eq!(leftovers.count(), 0, "no hostile file in the target directory");
    let large = common::walk_files(&b.target).into_iter().filter(|p| p.metadata().unwrap().len() >= BOMB as u64);
    assert_eq!(large.count(), 0, "nor the bomb");

    if std::env::var_os("HOSTILE_BENCH").is_some() {
        // The same build with no cache configured, on a machine of its own.
        let p = Machine::new(&tmp.path().join("p"), "plain/demo", &tmp.path().join("p/store"));
        let started = Instant::now();
        let out = p.command("cargo").args(["build", "--offline", "--locked"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let plain_ms = started.elapsed().as_millis();
        // The tool's own peak memory: the fetch of that index by a third
        // machine, under GNU time (its rustc children would count too in
        // the build).
        let c = Machine::new(&tmp.path().join("c"), "mem/demo", &tmp.path().join("c/store"));
        c.ok(&["trust", "add", "demo-index", &name]);
        let out = c
            .command("/usr/bin/time")
            .args(["-f", "peak-kib %M", common::BIN, "fetch", "--gateway", &url])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let peak = stderr.lines().find_map(|l| l.strip_prefix("peak-kib ")).unwrap_or("?").to_owned();
        let ratio = hostile_ms as f64 / plain_ms as f64;
        println!(
            "hostile-bench: hostile {hostile_ms} ms, plain {plain_ms} ms, ratio {ratio:.2}, fetch peak {peak} KiB"
        );
    }
}
