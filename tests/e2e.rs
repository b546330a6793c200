//! End to end, two "machines" (separate CARGO_HOME paths, stores, target
//! directories and project paths) with `cargo ipfs serve` between them on
//! loopback: A records a real project and publishes a signed index; B trusts
//! A's key, resolves A's index by IPNS name over HTTP, fetches and builds
//! with every recorded dependency restored. Then the refusals: a tampered
//! artifact, an untrusted key, a stale index; each time B's build still
//! succeeds by compiling. And the same through a kubo node's RPC API: A
//! pushes into it, and another machine fetches through it.

mod common;

use cargo_ipfs_fetch::formats::ipns::IpnsName;
use cargo_ipfs_fetch::store::kubo::replay::{Faults, KuboReplay};
use common::Machine;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// `cargo-ipfs serve` on 127.0.0.1:0, killed on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(store: &Path) -> Server {
        let (child, url) = common::spawn_serve(store, &[], Stdio::null());
        Server { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fetch_json(m: &Machine, gateway: &str) -> (bool, serde_json::Value, String) {
    fetch_json_with(m, gateway, &[])
}

fn fetch_json_with(m: &Machine, gateway: &str, extra: &[&str]) -> (bool, serde_json::Value, String) {
    let mut args = vec!["fetch", "--gateway", gateway, "--json"];
    args.extend_from_slice(extra);
    let out = m.cmd(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.success(), json, stderr)
}

#[test]
fn publish_serve_resolve_fetch_build_and_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();

    // Machine A: the pinning CI job.
    let common::Publisher { machine: a, name: a_name, recorded, published } =
        common::Publisher::new(&tmp.path().join("a"), "ci/demo");
    assert!(published.contains("version 2"), "{published}");
    assert!(a.ok(&["publish", "--name", "demo-index"]).contains("nothing new"), "publishing twice changes nothing");
    let v2_record = std::fs::read(a.store.join(format!("ipns/{a_name}.ipns-record"))).unwrap();
    let server = Server::start(&a.store);

    // Machine B: a developer who trusts A's key.
    let b = Machine::new(&tmp.path().join("b/home"), "src/github/demo", &tmp.path().join("b/store"));
    b.ok(&["trust", "add", "demo-index", &a_name]);
    let (success, summary, stderr) = fetch_json(&b, &server.url);
    assert!(success, "{stderr}");
    assert_eq!(summary["version"], 2);
    let fetched = summary["fetched"].as_array().unwrap().len() as u64;
    // Every unit and every build-script run A recorded (a run's files are
    // kept packed, not unpacked, until a launcher restores it).
    let runs = summary["runs"].as_u64().unwrap();
    assert_eq!(runs, a.stats()["runs"]["recorded"].as_u64().unwrap(), "{summary}");
    assert!(runs >= 3, "proc-macro2, quote and serde run build scripts: {summary}");
    let artifacts = recorded + runs;
    assert_eq!(fetched, artifacts, "every recorded artifact is fetched: {summary}");
    assert!(summary["failed"].as_array().unwrap().is_empty(), "{summary}");
    // Fetch left every artifact unpacked, so the hits below only place files.
    let unpacked = std::fs::read_dir(b.store.join("wrapper/unpacked")).unwrap();
    let copies = unpacked.filter(|e| e.as_ref().unwrap().path().join("manifest.json").is_file()).count() as u64;
    assert_eq!(copies, recorded, "{summary}");
    assert!(summary["download_ms"].as_u64().unwrap() <= summary["total_ms"].as_u64().unwrap(), "{summary}");
    let out = b.cmd(&["build", "--offline", "--locked"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stats = b.stats();
    assert_eq!(stats["hits"].as_u64().unwrap(), recorded, "every cacheable dependency restored: {stats}");
    assert_eq!(b.run_binary(), "Point { x: 3, y: 4 } 12\n");

    // For scripts, `--quiet` says nothing; for people at a terminal, a bar
    // counts crates and MiB instead of a line per artifact.
    let out = b.cmd(&["fetch", "--gateway", &server.url, "--quiet"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    let t = Machine::new(&tmp.path().join("t"), "tty/demo", &tmp.path().join("t/store"));
    t.ok(&["trust", "add", "demo-index", &a_name]);
    let fetch = format!("{} fetch --gateway {}", common::BIN, server.url);
    let out = t.command("script").args(["-qfec", &fetch, "/dev/null"]).env("TERM", "xterm").output().unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains(" crates, ") && screen.contains(" MiB"), "{screen}");
    assert!(!screen.contains("cargo-ipfs: fetched ") && screen.contains("0 failed"), "{screen}");

    // Through kubo: A pushes the version, the artifacts and the record into
    // a node (publishing again adds nothing, and pushes); machine F reads
    // the record and every artifact through the node's RPC API.
    let node = KuboReplay::start();
    let pushed = a.ok(&["publish", "--name", "demo-index", "--kubo", node.url()]);
    // The version, the manifest of version 1 (for subscribers checking key
    // changes since a version they saw), and the artifacts.
    assert!(pushed.contains("nothing new") && pushed.contains(&format!("{} roots pinned", artifacts + 2)), "{pushed}");
    let name: IpnsName = a_name.parse().unwrap();
    assert_eq!(node.record(&name).unwrap(), v2_record, "the node has the record to publish");
    let f = Machine::new(&tmp.path().join("f"), "kubo/demo", &tmp.path().join("f/store"));
    f.ok(&["trust", "add", "demo-index", &a_name]);
    let out = f.cmd(&["fetch", "--kubo", node.url(), "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["version"], 2);
    assert_eq!(summary["fetched"].as_array().unwrap().len() as u64, artifacts, "{summary}");
    let exports = node.seen().iter().filter(|s| s.path == "/api/v0/dag/export").count() as u64;
    assert_eq!(exports, artifacts, "one dag/export per artifact");
    assert!(node.seen().iter().any(|s| s.path == "/api/v0/routing/get"));
    let out = f.cmd(&["build", "--offline", "--locked"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(f.stats()["hits"].as_u64().unwrap(), recorded, "{}", f.stats());
    assert_eq!(f.run_binary(), "Point { x: 3, y: 4 } 12\n");
    // A block that rotted in the node: machine G refuses that artifact, by
    // stream and block by block, and its build compiles that crate.
    let journal = std::fs::read_to_string(a.store.join("journal.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    let rotten = first["cid"].as_str().unwrap().parse().unwrap();
    node.set_faults(Faults { corrupt: Some(rotten), ..Faults::default() });
    let g = Machine::new(&tmp.path().join("g"), "rot/demo", &tmp.path().join("g/store"));
    g.ok(&["trust", "add", "demo-index", &a_name]);
    let out = g.cmd(&["build", "--kubo", node.url(), "--locked"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("fetched {} artifact(s)", artifacts - 1)) && stderr.contains("1 failed"),
        "{stderr}"
    );
    assert_eq!(g.stats()["hits"].as_u64().unwrap(), recorded - 1, "{}", g.stats());
    assert_eq!(g.run_binary(), "Point { x: 3, y: 4 } 12\n");
    drop(node);

    // Untrusted key: machine C trusts another key for the same name.
    let c = Machine::new(&tmp.path().join("c"), "demo", &tmp.path().join("c/store"));
    let other = c.ok(&["key", "gen", "someone-else"]).trim().to_string();
    c.ok(&["trust", "add", "demo-index", &other, "--ipns", &a_name]);
    let (success, _, stderr) = fetch_json(&c, &server.url);
    assert!(!success && stderr.contains("of your trusted key(s)"), "{stderr}");
    let out = c.cmd(&["build", "--gateway", &server.url, "--locked"]).output().unwrap();
    assert!(out.status.success(), "the build compiles instead: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(c.stats()["hits"], 0);

    // Tampered artifact: flip a byte in one of A's stored artifact blocks.
    // Machine D fetches: that artifact is refused, the others arrive, and the
    // build succeeds by compiling the refused crate.
    let journal = std::fs::read_to_string(a.store.join("journal.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    let cid = first["cid"].as_str().unwrap();
    let root_block = {
        let out = Command::new(common::BIN)
            .args(["car", "export", cid, "-o", "-"])
            .env("CARGO_IPFS_STORE", &a.store)
            .output()
            .unwrap();
        assert!(out.status.success());
        out.stdout
    };
    assert!(!root_block.is_empty());
    let blocks = common::walk_files(&a.store.join("blocks"));
    let victim = blocks
        .iter()
        .find(|p| {
            let bytes = std::fs::read(p).unwrap();
            bytes.len() > 64 && root_block.windows(64).any(|w| w == &bytes[bytes.len() - 64..])
        })
        .expect("a block of the first artifact")
        .clone();
    let mut bytes = std::fs::read(&victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&victim, bytes).unwrap();
    let d = Machine::new(&tmp.path().join("d"), "p/demo", &tmp.path().join("d/store"));
    d.ok(&["trust", "add", "demo-index", &a_name]);
    // One worker: it looks everything up, then downloads.
    let (success, summary, stderr) = fetch_json_with(&d, &server.url, &["--jobs", "1"]);
    assert!(success, "{stderr}");
    assert_eq!(summary["failed"].as_array().unwrap().len(), 1, "the tampered artifact is refused: {summary}");
    let out = d.cmd(&["build", "--offline", "--locked"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stats = d.stats();
    assert_eq!(stats["hits"].as_u64().unwrap(), recorded - 1, "{stats}");
    assert_eq!(d.run_binary(), "Point { x: 3, y: 4 } 12\n");

    // Stale index: A publishes version 3 with one more entry; B sees it; then
    // the server (a stale mirror) serves the old version-2 record again.
    let mut entry = first.clone();
    entry["version"] = "9.9.9".into();
    entry["key"] = "ab".repeat(32).into();
    let extra = tmp.path().join("extra.jsonl");
    std::fs::write(&extra, format!("{entry}\n")).unwrap();
    a.ok(&["index", "add", "--name", "demo-index", extra.to_str().unwrap()]);
    let (success, summary, stderr) = fetch_json(&b, &server.url);
    assert!(success, "{stderr}");
    assert_eq!(summary["version"], 3);
    std::fs::write(a.store.join(format!("ipns/{a_name}.ipns-record")), &v2_record).unwrap();
    std::fs::write(b.store.join(format!("ipns/{a_name}.ipns-record")), &v2_record).unwrap();
    let (success, _, stderr) = fetch_json(&b, &server.url);
    assert!(!success && stderr.contains("refusing a rollback"), "{stderr}");
    std::fs::remove_dir_all(&b.target).unwrap();
    let out = b.cmd(&["build", "--gateway", &server.url, "--locked"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains("not fetching"), "{stderr}");

    // `cargo ipfs install`: no lockfile to prefetch from, so the wrappers
    // fetch each miss on demand from the verified index (the server now
    // serves version 2 again, which a new machine accepts).
    let e = Machine::new(&tmp.path().join("e"), "checkout/demo", &tmp.path().join("e/store"));
    e.ok(&["trust", "add", "demo-index", &a_name]);
    let project = e.project.to_str().unwrap().to_string();
    let root = tmp.path().join("e/installed");
    let out = e
        .cmd(&[
            "install",
            "--gateway",
            &server.url,
            "--",
            "--path",
            &project,
            "--debug",
            "--locked",
            "--offline",
            "--root",
        ])
        .arg(&root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("fetching on demand"), "{stderr}");
    // The artifact tampered with above is refused again and compiled.
    let stats = e.stats();
    assert_eq!(stats["hits"].as_u64().unwrap(), recorded - 1, "{stats}");
    assert_eq!(stats["errors"]["fetch"], 1, "{stats}");
    let installed = Command::new(root.join("bin/demo")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&installed.stdout), "Point { x: 3, y: 4 } 12\n");

    eprintln!("e2e took {:.0} s", started.elapsed().as_secs_f64());
}
