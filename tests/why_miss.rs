//! `cargo ipfs why-miss` across machines: machine A records the `cdemo`
//! fixture (a vendored package whose build script compiles C), publishes
//! it in a signed index and serves its store; machine B, with other paths,
//! misses in each way a user meets, and `why-miss` names the cause from the
//! named key inputs the signed entries carry: an index that lacks the
//! crate, another feature, a changed variable the build script declared,
//! another toolchain.

mod common;

use common::cdemo::{ok, CMachine};
use common::toolchain::LinkedToolchain;
use common::Server;
use std::process::Command;

/// `cargo ipfs build` on `m` from an empty target directory, fetching from
/// `gateway` first, with `args` for cargo and `env`.
fn build(m: &CMachine, gateway: &str, args: &[&str], env: &[(&str, &str)], adjust: impl FnOnce(&mut Command)) {
    let _ = std::fs::remove_dir_all(&m.target);
    let mut cmd = m.command(common::BIN);
    cmd.args(["build", "--gateway", gateway, "--", "--locked", "--offline"]).args(args).envs(env.iter().copied());
    adjust(&mut cmd);
    ok(&cmd.output().unwrap());
}

/// `why-miss cfix --json`: per noted miss, newest first, its kind, crate
/// types and explanation lines.
fn why_miss(m: &CMachine) -> Vec<(String, Vec<String>, Vec<String>)> {
    let json: serde_json::Value = serde_json::from_str(&m.ipfs(&["why-miss", "cfix", "--json"])).unwrap();
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array().map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect()).unwrap_or_default()
    };
    json.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let kind = e["miss"]["kind"].as_str().unwrap().to_string();
            (kind, strings(&e["miss"]["crate_types"]), strings(&e["explanation"]))
        })
        .collect()
}

/// The explanation of the newest miss of `kind` (and crate types).
fn newest(m: &CMachine, kind: &str, crate_types: &[&str]) -> Vec<String> {
    let all = why_miss(m);
    let found =
        all.iter().find(|(k, types, _)| k == kind && types.iter().map(String::as_str).eq(crate_types.iter().copied()));
    found.unwrap_or_else(|| panic!("no {kind} {crate_types:?} miss noted: {all:?}")).2.clone()
}

fn names(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.trim_start().starts_with(needle))
}

#[test]
fn why_miss_names_the_lacking_entry_the_feature_the_declared_variable_and_the_toolchain() {
    let tmp = tempfile::tempdir().unwrap();
    let a = CMachine::new(&tmp.path().join("a"), "work/cdemo", &tmp.path().join("store-a"));
    let full = a.ipfs(&["key", "gen", "ci"]).trim().to_string();
    let empty = a.ipfs(&["key", "gen", "other"]).trim().to_string();
    a.ipfs(&["index", "init", "--name", "cdemo", "--key", "ci"]);
    a.ipfs(&["index", "init", "--name", "empty", "--key", "other"]);
    ok(&a.build(true, &[], &[]));
    a.ipfs(&["publish", "--name", "cdemo", "--allow-registry", "vendored"]);
    let server = Server::start(&a.store);
    let gateway = server.1.as_str();
    let b = CMachine::new(&tmp.path().join("b/else"), "projects/deeper/cdemo", &tmp.path().join("store-b"));

    // An index that lacks the crate.
    b.ipfs(&["trust", "add", "empty", &empty]);
    build(&b, gateway, &[], &[], |_| {});
    let lines = newest(&b, "compilation", &["lib"]);
    assert!(
        lines.iter().any(|l| l.starts_with("not in the index: index empty holds no compilation (lib) of cfix")),
        "{lines:?}"
    );

    // Another feature: the unit's features and the run's CARGO_FEATURE_*.
    b.ipfs(&["trust", "rm", "empty"]);
    b.ipfs(&["trust", "add", "cdemo", &full]);
    build(&b, gateway, &["--features", "extra"], &[], |_| {});
    let lines = newest(&b, "compilation", &["lib"]);
    assert!(lines.iter().any(|l| l.trim_start() == r#"features: ["extra"] here, [] in the index"#), "{lines:?}");
    assert!(!names(&lines, "rustc"), "nothing else differs: {lines:?}");
    let lines = newest(&b, "run", &[]);
    assert!(names(&lines, "CARGO_FEATURE_"), "{lines:?}");

    // A variable the build script declared: the run names it.
    build(&b, gateway, &[], &[("CFIX_VALUE", "9")], |_| {});
    let lines = newest(&b, "run", &[]);
    assert!(
        lines.iter().any(|l| l.trim_start() == r#"declared variable CFIX_VALUE: "9" here, unset in the index"#),
        "{lines:?}"
    );

    // Another toolchain: a copy of the installed one with a file of its
    // standard library changed, as a toolchain replaced behind its name.
    let Some(toolchain) = LinkedToolchain::new("why-miss") else { return };
    toolchain.replace(&toolchain.unread_std_file(), b"another standard library file");
    build(&b, gateway, &[], &[("RUSTUP_TOOLCHAIN", toolchain.name.as_str())], |cmd| {
        cmd.env_remove("CARGO").env_remove("RUSTC");
    });
    let lines = newest(&b, "compilation", &["lib"]);
    assert!(names(&lines, "sysroot:"), "{lines:?}");
    assert!(!names(&lines, "features:"), "{lines:?}");
}
