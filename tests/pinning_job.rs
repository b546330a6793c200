//! The pinning job (`scripts/pinning-job.sh`) on a list of three small
//! crates and one that cannot be built: it builds the three in record mode,
//! reports and skips the fourth, publishes one signed version, pins it on a
//! pinning service (the stand-in on loopback) and prints the IPNS name, the
//! root and a summary; run again on the same list, it publishes nothing
//! and pins nothing new.

mod common;

use cargo_ipfs_fetch::pinning::remote::standin::psa::PinningServiceStandIn;
use common::{Machine, BIN};
use std::path::Path;

fn locked_version(name: &str) -> String {
    let lock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/projects/demo/Cargo.lock"))
            .unwrap();
    let at = lock.find(&format!("name = \"{name}\"\nversion = \"")).unwrap() + name.len() + 21;
    lock[at..].split('"').next().unwrap().to_string()
}

#[test]
fn the_pinning_job_publishes_once_and_pins() {
    let tmp = tempfile::tempdir().unwrap();
    let m = Machine::new(&tmp.path().join("a"), "demo", &tmp.path().join("a/store"));
    let ipns = m.ok(&["key", "gen", "ci"]).trim().to_string();
    m.ok(&["index", "init", "--name", "job-index", "--key", "ci"]);
    let service = PinningServiceStandIn::start("job-token");
    m.ok(&[
        "pin",
        "remote",
        "service",
        "add",
        "psa",
        service.url(),
        "--api",
        "pinning-service",
        "--token-env",
        "JOB_TOKEN",
    ]);
    let mut list = String::from("[index]\nname = \"job-index\"\n[toolchain]\nchannel = \"1.0.0-absent\"\n");
    for name in ["itoa", "unicode-ident", "proc-macro2"] {
        list += &format!(
            "[[crate]]\nname = \"{name}\"\nversion = \"{}\"\nkind = \"lib\"\nprofiles = [\"dev\"]\n",
            locked_version(name)
        );
    }
    list += "[[crate]]\nname = \"itoa\"\nversion = \"0.0.99\"\nkind = \"lib\"\n";
    let list_path = tmp.path().join("crates.toml");
    std::fs::write(&list_path, list).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pinning-job.sh");
    let job = || {
        m.command("bash")
            .arg(&script)
            .arg(&list_path)
            .env("CARGO_IPFS", BIN)
            .env("PINNING_TOOLCHAIN", "")
            .env("PINNING_WORK", tmp.path().join("work"))
            .env("CARGO_NET_OFFLINE", "true")
            .env("JOB_TOKEN", "job-token")
            .output()
            .unwrap()
    };

    let out = job();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "one crate failed: {stdout}\n{stderr}");
    assert!(stderr.contains("FAILED itoa 0.0.99"), "{stderr}");
    assert!(stdout.contains("crates built:   3 of 4 builds"), "{stdout}");
    assert!(stdout.contains(&format!("IPNS name:      /ipns/{ipns}")), "{stdout}");
    assert!(stdout.contains("version 2 at "), "one new version: {stdout}");
    let published: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.store.join("published.json")).unwrap()).unwrap();
    let root = published["job-index"]["head"].as_str().unwrap().to_string();
    assert!(stdout.contains(&format!("root CID:       {root}")), "{stdout}");
    assert!(stdout.contains("pins:           pinned"), "{stdout}");
    let units: usize = stdout.lines().find_map(|l| l.strip_prefix("units recorded: ")).unwrap().trim().parse().unwrap();
    assert!(units >= 3, "{stdout}");
    let pins = service.pins();
    assert!(pins.iter().any(|p| p.pin.cid == root), "the root is pinned");
    assert_eq!(pins.len(), units + 1, "the root and every unit recorded");

    // The same list again: nothing new is built into the index, nothing published, nothing pinned again.
    let posts = service.exchanges().iter().filter(|e| e.method == "POST").count();
    let out = job();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("nothing new to publish"), "{stdout}");
    assert!(stdout.contains("units recorded: 0") && stdout.contains("new blocks:     0"), "{stdout}");
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.store.join("published.json")).unwrap()).unwrap();
    assert_eq!(again["job-index"]["head"], published["job-index"]["head"]);
    assert_eq!(service.exchanges().iter().filter(|e| e.method == "POST").count(), posts);
}
