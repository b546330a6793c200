//! Build-script runs through the network: machine A records a package
//! whose build script compiles C, publishes the run in its signed index
//! with the compiled units, and serves its store; machine B, with other
//! paths and an empty store, trusts A's key, fetches before its build and
//! builds without running the C compiler. The run is an index entry like
//! any other: signed, verified, and refused when it is not what it signs.

mod common;

use common::cdemo::{ok, CMachine};
use common::Server;
use std::process::Output;

/// `cargo ipfs build` on B, fetching from `gateway` first.
fn build_fetching(m: &CMachine, gateway: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = m.command(common::BIN);
    cmd.args(["build", "--gateway", gateway, "--", "--locked", "--offline"]).envs(env.iter().copied());
    cmd.output().unwrap()
}

#[test]
fn a_published_run_is_fetched_and_restored_on_another_machine_without_its_c_compiler() {
    let tmp = tempfile::tempdir().unwrap();
    let a = CMachine::new(&tmp.path().join("a"), "work/cdemo", &tmp.path().join("store-a"));
    let name = a.ipfs(&["key", "gen", "ci"]).trim().to_string();
    a.ipfs(&["index", "init", "--name", "cdemo", "--key", "ci"]);
    ok(&a.build(true, &[], &[]));
    assert_eq!(a.c_compiles(), 1, "machine A compiles the C file");
    let published = a.ipfs(&["publish", "--name", "cdemo", "--allow-registry", "vendored"]);
    assert!(published.contains("version 2"), "{published}");
    // The signed index holds the run beside the compiled units.
    let shown: serde_json::Value =
        serde_json::from_str(&a.ipfs(&["index", "show", "cdemo", "--crate", "cfix", "--json"])).unwrap();
    let entries = shown.as_array().unwrap_or_else(|| panic!("{shown}"));
    let runs: Vec<&serde_json::Value> = entries.iter().filter(|e| e.get("run").is_some()).collect();
    assert_eq!(runs.len(), 1, "{shown}");
    assert!(entries.len() > runs.len(), "the units are there too: {shown}");
    let declared = runs[0]["run"]["names"]["env"].as_array().unwrap();
    assert!(declared.iter().any(|v| v == "CFIX_VALUE"), "{shown}");
    let server = Server::start(&a.store);

    // Machine B: other paths, an empty store, A's key trusted.
    let b = CMachine::new(&tmp.path().join("b/else"), "projects/deeper/cdemo", &tmp.path().join("store-b"));
    b.ipfs(&["trust", "add", "cdemo", &name]);
    let out = build_fetching(&b, &server.1, &[]);
    ok(&out);
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("build scripts: 1 runs restored"), "{summary}");
    assert_eq!(b.c_compiles(), 0, "machine B runs no C compiler: {summary}");
    assert_eq!(b.run_binary(), "answer=7 value=7\n");
    let stats = b.stats();
    assert_eq!(stats["runs"]["executed"], 0, "{stats}");
    // Every registry unit is restored; the build script, which compiles
    // machine A's path into itself (never shared), waits to be compiled
    // for a run that is restored: nothing compiles.
    assert_eq!(stats["misses"], 0, "{stats}");
    assert_eq!(stats["runs"]["deferred"], 1, "{stats}");
    // The time saved, by the build times A signed in its entries.
    assert!(stats["time_saved_ms"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["runs"]["time_saved_ms"].as_u64().unwrap() > 0, "{stats}");

    // With cargo-ipfs gone (its sidecar names a program no longer there), a
    // plain cargo build with a changed declared variable: the launcher
    // compiles the waiting script itself and runs it.
    let sidecars: Vec<_> = common::walk_files(&b.target.join("debug/build"))
        .into_iter()
        .filter(|f| f.file_name().unwrap() == ".cargo-ipfs-launch")
        .collect();
    assert_eq!(sidecars.len(), 1);
    let sidecar = std::fs::read(&sidecars[0]).unwrap();
    let fields: Vec<&[u8]> = sidecar.split(|b| *b == 0).collect();
    let gone = [fields[0], b"/nonexistent/cargo-ipfs", fields[2], b""].join(&0u8);
    std::fs::write(&sidecars[0], gone).unwrap();
    let out = b.command("cargo").args(["build", "--offline", "--locked"]).env("CFIX_VALUE", "4").output().unwrap();
    ok(&out);
    assert_eq!(b.run_binary(), "answer=4 value=4\n");
    assert_eq!(b.c_compiles(), 1, "the script ran");
    std::fs::write(&sidecars[0], &sidecar).unwrap();

    // What the script declared still holds on B: another value runs it.
    ok(&build_fetching(&b, &server.1, &[("CFIX_VALUE", "9")]));
    assert_eq!(b.run_binary(), "answer=9 value=9\n");
    assert_eq!(b.c_compiles(), 1, "a changed declared variable runs the C compiler");
}
