//! Runs the real `cargo-ipfs` and `cargo-ipfs-fetch` binaries against
//! temporary stores. Expected CIDs come from the public fixtures under
//! `tests/fixtures/ipfs/` (provenance in its README.txt).

mod common;

use common::{s, walk_files, Env};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ipfs").join(rel)
}

#[test]
fn add_only_hash_prints_kubo_cids() {
    let env = Env::new();
    let file = env.write("hello.txt", b"hello world");
    // kubo's default import of "hello world" (tests/fixtures/ipfs/kubo-v0-vectors.txt).
    assert_eq!(
        env.ok(&["add", "--only-hash", "-Q", s(&file)]).trim(),
        "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"
    );
    let file = env.write("hello-nl.txt", b"hello world\n");
    assert_eq!(
        env.ok(&["add", "-n", "-Q", "--cid-version", "1", s(&file)]).trim(),
        "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
    );
    assert!(
        !env.store().join("blocks").exists() || std::fs::read_dir(env.store().join("blocks")).unwrap().count() == 0
    );
}

#[test]
fn add_chunker_and_profile_options() {
    let env = Env::new();
    let multi = fixture("derived/multiblock-1026B.txt");
    let out = env.ok(&["add", "-n", "--cid-version=1", "--chunker=size-256", s(&multi)]);
    assert_eq!(out, "added bafybeigcisqd7m5nf3qmuvjdbakl5bdnh4ocrmacaqkpuh77qjvggmt2sa multiblock-1026B.txt\n");
    let out = env.ok(&["add", "-n", "-Q", "--cid-version=0", "--chunker=size-5", s(&env.write("a", b"abc123\n"))]);
    assert_eq!(out.trim(), "QmZgfvZtoFdbJy4JmpPHc1NCXyA7Snim2L8e6zKspiUzhu");
    assert!(env.fails(&["add", "-n", "--profile", "nope", s(&multi)]).contains("unknown import profile `nope`"));
    assert!(env.fails(&["add", "-n", "--chunker", "rabin", s(&multi)]).contains("unknown chunker"));
}

#[test]
fn add_directory_recursively() {
    let env = Env::new();
    let dir = fixture("gateway-conformance/tooling/car/_fixtures/dir");
    let out = env.ok(&["add", "-r", "--profile", "unixfs-v1-2025", s(&dir)]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.last().unwrap(), &"added bafybeidlbwbu73tbjr3atntjz4lq5ego5w2uyof35vvwcnheaftzi3rndu dir");
    assert!(
        lines.contains(&"added bafkreihdhgb5vyuqu7jssreyo3h567obewtqq37fi5hr2w4um5icacry7m dir/subdir/leaf.txt"),
        "{out}"
    );
    assert!(lines.contains(&"added bafybeiaq6e55xratife7s5cmzjcmwy4adzzlk74sbdpfcq72gus6cweeeq dir/subdir"), "{out}");
    assert!(env.fails(&["add", s(&dir)]).contains("is a directory; add it with -r"));

    // Hidden files are skipped unless -H, as with kubo.
    env.write("tree/.hidden", b"x");
    env.write("tree/seen", b"y");
    let without = env.ok(&["add", "-r", "-Q", s(&env.path("tree"))]);
    let with = env.ok(&["add", "-r", "-H", "-Q", s(&env.path("tree"))]);
    assert_ne!(without, with);
}

#[test]
fn wrap_with_directory_matches_gateway_fixture() {
    let env = Env::new();
    let file = env.write("dir/ascii.txt", b"hello application/vnd.ipld.raw\n");
    let out = env.ok(&["add", "-Q", "-w", "-r", "--cid-version", "1", s(file.parent().unwrap())]);
    assert_eq!(out.trim(), "bafybeie72edlprgtlwwctzljf6gkn2wnlrddqjbkxo3jomh4n7omwblxly");
}

#[test]
fn add_cat_get_round_trip() {
    let env = Env::new();
    let data: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
    let file = env.write("big.bin", &data);
    let cid = env.ok(&["add", "-Q", s(&file)]).trim().to_string();
    let out = env.cmd(&["cat", &cid]).output().unwrap();
    assert!(out.status.success());
    assert!(out.stdout == data, "cat returns the same bytes");

    env.ok(&["get", &cid, "-o", s(&env.path("copy.bin"))]);
    assert!(std::fs::read(env.path("copy.bin")).unwrap() == data);
    assert!(env.fails(&["get", &cid, "-o", s(&env.path("copy.bin"))]).contains("already exists"));

    env.write("tree/a.txt", b"alpha");
    env.write("tree/sub/b.txt", b"beta");
    let root = env.ok(&["add", "-r", "-Q", "--cid-version", "1", s(&env.path("tree"))]).trim().to_string();
    env.ok(&["get", &format!("/ipfs/{root}"), "-o", s(&env.path("out"))]);
    assert_eq!(std::fs::read(env.path("out/a.txt")).unwrap(), b"alpha");
    assert_eq!(std::fs::read(env.path("out/sub/b.txt")).unwrap(), b"beta");
}

#[test]
fn block_put_get_stat() {
    let env = Env::new();
    let file = env.write("block", b"hello world\n");
    let cid = env.ok(&["block", "put", s(&file)]).trim().to_string();
    assert_eq!(cid, "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4");
    assert_eq!(env.ok(&["block", "get", &cid]), "hello world\n");
    assert_eq!(env.ok(&["block", "stat", &cid]), format!("Key: {cid}\nSize: 12\n"));
    assert!(env.fails(&["block", "put", "--cid-codec", "nope", s(&file)]).contains("unknown --cid-codec"));
}

#[test]
fn clear_errors_for_bad_input() {
    let env = Env::new();
    let err = env.fails(&["cat", "not-a-cid"]);
    assert!(err.starts_with("error: ") && err.contains("`not-a-cid` is not a CID"), "{err}");
    let err = env.fails(&["cat", "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"]);
    assert!(err.contains("is not in the store"), "{err}");
    let err = env.fails(&["add", s(&env.path("missing.txt"))]);
    assert!(err.contains("missing.txt"), "{err}");
    let out = env.cmd(&["add"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn corrupt_block_on_disk_is_reported_not_returned() {
    let env = Env::new();
    let file = env.write("f", b"some precious bytes");
    let cid = env.ok(&["add", "-Q", "--cid-version", "1", s(&file)]).trim().to_string();
    let blocks: Vec<PathBuf> = walk_files(&env.store().join("blocks"));
    assert_eq!(blocks.len(), 1);
    std::fs::write(&blocks[0], b"some precious bytez").unwrap();
    let err = env.fails(&["cat", &cid]);
    assert!(err.contains(&cid) && err.contains("corrupt") && err.contains("quarantine"), "{err}");
    // Adding the file again repairs the store.
    env.ok(&["add", "-Q", "--cid-version", "1", s(&file)]);
    assert_eq!(env.ok(&["cat", &cid]), "some precious bytes");
}

#[test]
fn car_import_export_round_trip() {
    let env = Env::new();
    let car = fixture("gateway-conformance/fixtures/path_gateway_unixfs/dir-with-files.car");
    let out = env.ok(&["car", "import", s(&car)]);
    assert!(out.contains("root bafybeihchr7vmgjaasntayyatmp5sv6xza57iy2h4xj7g46bpjij6yhrmy: complete"), "{out}");
    let text = env.ok(&["cat", "/ipfs/bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"]);
    assert_eq!(text, "hello world\n");

    env.ok(&[
        "car",
        "export",
        "bafybeihchr7vmgjaasntayyatmp5sv6xza57iy2h4xj7g46bpjij6yhrmy",
        "-o",
        s(&env.path("out.car")),
    ]);
    let other = Env::new();
    let out = other.ok(&["car", "import", s(&env.path("out.car"))]);
    assert!(out.contains(": complete"), "{out}");
    let multi = other.ok(&["cat", "bafybeigcisqd7m5nf3qmuvjdbakl5bdnh4ocrmacaqkpuh77qjvggmt2sa"]);
    assert_eq!(multi.as_bytes(), std::fs::read(fixture("derived/multiblock-1026B.txt")).unwrap());
}

#[test]
fn car_import_reports_incomplete_dag() {
    let env = Env::new();
    let car = fixture("gateway-conformance/fixtures/trustless_gateway_car/file-3k-and-3-blocks-missing-block.car");
    let out = env.cmd(&["car", "import", s(&car)]).output().unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("incomplete, 1 block(s) missing"), "{stdout}");
    assert!(stderr.contains("are incomplete"), "{stderr}");
    // The present leaves were stored.
    env.ok(&["block", "stat", "QmPKt7ptM2ZYSGPUc8PmPT2VBkLDK3iqpG9TBJY7PCE9rF"]);
}

#[test]
fn car_import_refuses_corrupt_file_and_keeps_what_verified() {
    let env = Env::new();
    let mut bytes = std::fs::read(fixture("gateway-conformance/fixtures/gateway-raw-block.car")).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x20;
    let bad = env.write("bad.car", &bytes);
    let err = env.fails(&["car", "import", s(&bad)]);
    assert!(err.contains("bad.car"), "{err}");
    let truncated = env.write(
        "cut.car",
        &std::fs::read(fixture("gateway-conformance/fixtures/gateway-raw-block.car")).unwrap()[..100],
    );
    let err = env.fails(&["car", "import", s(&truncated)]);
    assert!(err.contains("cut.car") && err.contains("truncated"), "{err}");
}

#[test]
fn concurrent_processes_share_one_store() {
    let env = Env::new();
    let shared: Vec<u8> = (0..600_000u32).map(|i| (i % 241) as u8).collect();
    let shared_path = env.write("shared.bin", &shared);
    let mut children = Vec::new();
    for i in 0..6u32 {
        let own: Vec<u8> = (0..300_000u32).map(|j| ((j * (i + 3)) % 253) as u8).collect();
        let own_path = env.write(&format!("own-{i}.bin"), &own);
        let child = env
            .cmd(&["add", "-q", "--chunker=size-4096", s(&shared_path), s(&own_path)])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        children.push((child, own));
    }
    let mut shared_cids = Vec::new();
    for (child, own) in children {
        let out: Output = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let cids: Vec<&str> = text.lines().collect();
        shared_cids.push(cids[0].to_string());
        assert!(env.cmd(&["cat", cids[1]]).output().unwrap().stdout == own);
    }
    shared_cids.dedup();
    assert_eq!(shared_cids.len(), 1, "every process computed the same CID");
    assert!(env.cmd(&["cat", &shared_cids[0]]).output().unwrap().stdout == shared);
    assert!(walk_files(&env.store().join("blocks")).iter().all(|p| !p
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with(".tmp")));
}

#[test]
fn runs_as_a_cargo_subcommand() {
    let env = Env::new();
    let file = env.write("x", b"hello world");
    let out = env.ok(&["ipfs", "add", "-n", "-Q", s(&file)]);
    assert_eq!(out.trim(), "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD");
    // `cargo ipfs-fetch` is `cargo ipfs fetch`: with nothing trusted in this
    // store it says what to do, in one line.
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-ipfs-fetch"))
        .arg("ipfs-fetch")
        .current_dir(env.path(""))
        .env("CARGO_IPFS_STORE", env.store())
        .env_remove("CARGO_IPFS_INDEX")
        .env_remove("CARGO_IPFS_GATEWAYS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no index is trusted here") && err.contains("cargo ipfs trust add"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let help = Command::new(env!("CARGO_BIN_EXE_cargo-ipfs-fetch")).args(["ipfs-fetch", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("--gateway"));
}

#[test]
fn fetch_through_a_hung_kubo_node_gives_up_after_the_timeout_and_says_so() {
    use cargo_ipfs_fetch::store::kubo::replay::{Faults, KuboReplay};
    let env = Env::new();
    let name = env.ok(&["key", "gen", "publisher"]).trim().to_string();
    env.ok(&["trust", "add", "some-index", &name]);
    let node = KuboReplay::start();
    node.set_faults(Faults { hang: Some(std::time::Duration::from_secs(20)), ..Faults::default() });
    let out = env.run(&["fetch", "--kubo", node.url(), "--timeout", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "no record anywhere: {stderr}");
    assert!(stderr.contains("did not finish routing/get within 1s") && stderr.contains("--timeout"), "{stderr}");
    assert!(stderr.contains(&format!("no IPNS record for {name} is available")), "{stderr}");
    assert!(node.seen().iter().any(|s| s.path == "/api/v0/routing/get" && s.param("timeout") == Some("1000ms")));
}

#[test]
fn a_reader_that_goes_away_ends_a_command_quietly() {
    let env = Env::new();
    env.ok(&["key", "gen", "ci"]);
    env.ok(&["index", "init", "--name", "mine", "--key", "ci"]);
    for args in [&["index", "show", "mine"][..], &["key", "list"], &["stats"]] {
        // A pipe whose reader is gone before the command writes, as with
        // `cargo ipfs index show mine | head -0`.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = env.cmd(args).stdout(writer).stderr(std::process::Stdio::piped()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
    }
}

/// `install` and `build` run cargo as `CARGO` names it, with this binary as
/// the rustc wrapper; `--record` is what a pinning job runs. A stand-in
/// cargo writes down what it was given.
#[test]
fn install_and_build_record_only_when_asked() {
    let env = Env::new();
    let log = env.path("cargo.log");
    let cargo = env.write(
        "cargo",
        format!("#!/bin/sh\necho \"$1 mode=$CARGO_IPFS_MODE wrapper=$RUSTC_WRAPPER args=$*\" >> {}\n", s(&log))
            .as_bytes(),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_cargo-ipfs"))
            .args(args)
            .current_dir(env.path(""))
            .env("CARGO", &cargo)
            .env("CARGO_IPFS_STORE", env.store())
            .env_remove("CARGO_IPFS_GATEWAYS")
            .env_remove("CARGO_IPFS_KUBO")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["install", "--record", "--offline", "ripgrep@14.1.1"]);
    run(&["install", "--offline", "ripgrep@14.1.1"]);
    run(&["build", "--record", "--no-fetch", "--locked"]);
    let lines: Vec<String> = std::fs::read_to_string(&log).unwrap().lines().map(str::to_string).collect();
    let me = env!("CARGO_BIN_EXE_cargo-ipfs");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with(&format!("install mode=record wrapper={me} ")), "{lines:?}");
    assert!(lines[0].contains("ripgrep@14.1.1") && lines[0].contains("--offline"), "{lines:?}");
    assert!(lines[1].starts_with("install mode=read "), "{lines:?}");
    assert!(lines[2].starts_with("build mode=record ") && lines[2].ends_with("--locked"), "{lines:?}");
}

#[test]
fn verify_rebuild_refuses_a_crate_that_is_no_name_before_it_builds_anything() {
    let env = Env::new();
    for bad in ["../etc", "serde@^1", "a b@1.0.0"] {
        let err = env.fails(&["verify", "--rebuild", "--crate", bad]);
        assert!(err.contains(&format!("--crate {bad:?} is not NAME or NAME@VERSION")), "{err}");
    }
}

#[test]
fn doctor_says_what_is_wrong_and_what_to_do() {
    let env = common::Env::new();
    let out = env.run(&["doctor", "--offline", "--json"]);
    let checks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let level = |checks: &serde_json::Value, name: &str| {
        checks.as_array().unwrap().iter().find(|c| c["check"] == name).map(|c| c["level"].as_str().unwrap().to_string())
    };
    assert_eq!(level(&checks, "store").as_deref(), Some("ok"), "{checks}");
    assert_eq!(level(&checks, "toolchain").as_deref(), Some("ok"), "{checks}");
    assert_eq!(level(&checks, "trusted keys").as_deref(), Some("warn"), "nothing trusted yet: {checks}");
    assert!(out.status.success(), "warnings alone pass");

    // A malformed configuration fails, named; a gateway that does not answer warns.
    env.write("store/config.json", b"{\"gateways\": [\"http://127.0.0.1:9\"]");
    let out = env.run(&["doctor", "--offline"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL  config.json") && text.contains("malformed"), "{text}");
    env.write("store/config.json", b"{\"gateways\": [\"http://127.0.0.1:9\"]}");
    let out = env.run(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("WARN  gateway http://127.0.0.1:9: does not answer"), "{text}");
}
