//! A full disk, for real: each scenario runs with its store on a small tmpfs
//! mounted in a mount namespace of its own (`unshare -rm`), so that writes
//! fail with ENOSPC exactly as on a full disk. The target directory and the
//! project stay on the ordinary disk, as they would on a machine whose cache
//! disk filled up.
//!
//! What must hold: no half-written block, temporary file or cache-map entry
//! is left behind; the build succeeds (compiling what could not be stored);
//! the user reads once what happened and what to do; and once there is
//! room again, nothing is lost: the fetch completes, every unit is restored,
//! every recorded unit is published.

mod common;

use common::Machine;
use std::path::Path;
use std::process::{Command, Stdio};

/// Whether this machine lets a process mount a tmpfs in a namespace of its
/// own. CI must: there the test fails instead of skipping.
fn namespaces_work() -> bool {
    let probe = tempfile::tempdir().unwrap();
    let ok = Command::new("unshare")
        .args(["-rm", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(probe.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok || std::env::var_os("CI").is_none(), "CI needs `unshare -rm` and tmpfs mounts for the full-disk tests");
    if !ok {
        eprintln!("skipped: `unshare -rm` cannot mount a tmpfs here");
    }
    ok
}

/// Runs `script` under bash with `m`'s environment, a tmpfs of `kib` KiB
/// mounted on `m.store`, and `$BIN` and `$OUT` (a directory on the ordinary
/// disk for what the test reads afterwards) set. `remount N` in the script
/// resizes the store's disk to N KiB.
fn with_small_disk(m: &Machine, kib: u64, out: &Path, script: &str) {
    std::fs::create_dir_all(&m.store).unwrap();
    std::fs::create_dir_all(out).unwrap();
    let prelude = format!(
        "set -u\nmount -t tmpfs -o size={kib}k tmpfs \"$CARGO_IPFS_STORE\" || exit 90\n\
         remount() {{ mount -o remount,size=\"$1\"k \"$CARGO_IPFS_STORE\"; }}\n"
    );
    let status = m
        .command("unshare")
        .args(["-rm", "bash", "-c", &format!("{prelude}{script}")])
        .env("BIN", common::BIN)
        .env("OUT", out)
        .status()
        .unwrap();
    assert!(status.success(), "the script stopped with {status}: see {}", out.display());
}

fn read(out: &Path, name: &str) -> String {
    std::fs::read_to_string(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn json(out: &Path, name: &str) -> serde_json::Value {
    serde_json::from_str(&read(out, name)).unwrap_or_else(|e| panic!("{name}: {e}: {}", read(out, name)))
}

/// The exit code a script step wrote to `OUT/NAME.rc`.
fn rc(out: &Path, name: &str) -> i32 {
    read(out, &format!("{name}.rc")).trim().parse().unwrap()
}

/// Saves a step's exit code, stdout and stderr under `OUT/NAME.*`.
fn step(name: &str, command: &str) -> String {
    format!("{command} >\"$OUT/{name}.out\" 2>\"$OUT/{name}.err\"; echo $? >\"$OUT/{name}.rc\"\n")
}

/// What a store left behind: temporary files, and `block verify`'s verdict.
fn check_store(name: &str) -> String {
    format!(
        "find \"$CARGO_IPFS_STORE\" -name '.tmp-*' >\"$OUT/{name}.leftovers\"\n{}",
        step(&format!("{name}-verify"), "\"$BIN\" block verify")
    )
}

fn assert_clean(out: &Path, name: &str) {
    assert_eq!(read(out, &format!("{name}.leftovers")), "", "no temporary file is left in the store");
    assert_eq!(rc(out, &format!("{name}-verify")), 0, "{}", read(out, &format!("{name}-verify.err")));
    assert!(read(out, &format!("{name}-verify.out")).contains(" 0 corrupt"), "no half-written block");
}

#[test]
fn a_full_disk_loses_nothing_and_breaks_no_build() {
    if !namespaces_work() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();

    // Machine A, the pinning CI job, on an ordinary disk: records, publishes
    // and serves.
    let common::Publisher { machine: a, name: a_name, recorded, .. } =
        common::Publisher::new(&tmp.path().join("a"), "demo");
    let (mut server, url) = common::spawn_serve(&a.store, &[], Stdio::null());

    // Fetching into a store whose disk fills up part of the way through
    // (the artifacts take about 12 MiB).
    let d = Machine::new(&tmp.path().join("d"), "demo", &tmp.path().join("d/store"));
    let out = tmp.path().join("d-out");
    let mut script = String::new();
    script += &step("trust", &format!("\"$BIN\" trust add demo-index {a_name}"));
    script += &step("fetch", &format!("\"$BIN\" fetch --gateway {url} --json"));
    script += &check_store("fetched");
    script += &step("build", "\"$BIN\" build --offline --locked");
    script += &step("run", "\"$CARGO_TARGET_DIR/debug/demo\"");
    // Room again: the same commands complete what was left.
    script += "remount 65536\n";
    script += &step("refetch", &format!("\"$BIN\" fetch --gateway {url} --json"));
    script += "rm -rf \"$CARGO_TARGET_DIR\"\n";
    script += &step("rebuild", "\"$BIN\" build --offline --locked");
    script += &step("rerun", "\"$CARGO_TARGET_DIR/debug/demo\"");
    script += &check_store("refetched");
    with_small_disk(&d, 4096, &out, &script);

    assert_eq!(rc(&out, "trust"), 0, "{}", read(&out, "trust.err"));
    assert_eq!(rc(&out, "fetch"), 0, "{}", read(&out, "fetch.err"));
    let summary = json(&out, "fetch.out");
    let why = summary["store_full"].as_str().unwrap_or_else(|| panic!("the disk filled up: {summary}"));
    assert!(why.contains("no space left on the disk of the store") && why.contains("CARGO_IPFS_STORE"), "{why}");
    assert!(!summary["failed"].as_array().unwrap().is_empty(), "{summary}");
    let fetched = summary["fetched"].as_array().unwrap().len() as u64;
    // Said once, not once per artifact.
    let err = read(&out, "fetch.err");
    assert!(err.matches("no space left").count() <= 1, "{err}");
    assert_clean(&out, "fetched");
    assert_eq!(rc(&out, "build"), 0, "the build compiles what is missing: {}", read(&out, "build.err"));
    assert_eq!(read(&out, "run.out"), "Point { x: 3, y: 4 } 12\n");

    assert_eq!(rc(&out, "refetch"), 0, "{}", read(&out, "refetch.err"));
    let summary = json(&out, "refetch.out");
    assert!(summary["store_full"].is_null() && summary["failed"].as_array().unwrap().is_empty(), "{summary}");
    let refetched = summary["fetched"].as_array().unwrap().len() as u64;
    let already = summary["already_local"].as_u64().unwrap();
    // Every unit and build-script run A recorded.
    let runs = a.stats()["runs"]["recorded"].as_u64().unwrap();
    assert_eq!(refetched + already, recorded + runs, "{summary}");
    // What was said to be fetched before the disk filled up is kept. An
    // artifact whose filing was under way when the disk filled may be kept
    // too (whole and verified, but reported failed), so this is no equality.
    assert!(already >= fetched, "what was said to be fetched before the disk filled up is kept: {summary}");
    assert_eq!(rc(&out, "rebuild"), 0, "{}", read(&out, "rebuild.err"));
    assert!(read(&out, "rebuild.err").contains(&format!("{recorded} restored")), "{}", read(&out, "rebuild.err"));
    assert_eq!(read(&out, "rerun.out"), "Point { x: 3, y: 4 } 12\n");
    assert_clean(&out, "refetched");
    let _ = server.kill();
    let _ = server.wait();

    // Recording into a store whose disk is nearly full, then publishing into
    // a full one: the build succeeds; once there is room, a second build
    // records what the first could not, and publishing finds every unit.
    let r = Machine::new(&tmp.path().join("r"), "demo", &tmp.path().join("r/store"));
    let out = tmp.path().join("r-out");
    let mut script = String::new();
    script += &step("key", "\"$BIN\" key gen ci");
    script += &step("init", "\"$BIN\" index init --name mine --key ci");
    script += &step("record", "\"$BIN\" build --record --offline --locked");
    script += &step("run", "\"$CARGO_TARGET_DIR/debug/demo\"");
    script += &check_store("recorded");
    script +=
        "cp \"$CARGO_IPFS_STORE/journal.jsonl\" \"$OUT/journal.jsonl\" 2>/dev/null || : >\"$OUT/journal.jsonl\"\n";
    script += "remount 65536\nrm -rf \"$CARGO_TARGET_DIR\"\n";
    script += &step("rerecord", "\"$BIN\" build --record --offline --locked");
    // Fill the disk to the last byte, then publish.
    script += "dd if=/dev/zero of=\"$CARGO_IPFS_STORE/filler\" bs=64k 2>/dev/null\n";
    script += &step("publish-full", "\"$BIN\" publish --name mine");
    script += &step("show-full", "\"$BIN\" index show mine");
    script += "rm \"$CARGO_IPFS_STORE/filler\"\n";
    script += &step("publish", "\"$BIN\" publish --name mine");
    script += &check_store("published");
    with_small_disk(&r, 1024, &out, &script);

    assert_eq!(rc(&out, "init"), 0, "{}", read(&out, "init.err"));
    assert_eq!(rc(&out, "record"), 0, "a full store costs only the cache: {}", read(&out, "record.err"));
    assert_eq!(read(&out, "run.out"), "Point { x: 3, y: 4 } 12\n");
    assert_clean(&out, "recorded");
    let journal = read(&out, "journal.jsonl");
    let whole = journal.lines().filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()).count() as u64;
    let artifacts = recorded + runs;
    assert!(whole < artifacts, "the disk filled up before everything was recorded: {whole} of {artifacts}");
    assert_eq!(rc(&out, "rerecord"), 0, "{}", read(&out, "rerecord.err"));
    assert_ne!(rc(&out, "publish-full"), 0, "publishing into a full disk fails");
    let err = read(&out, "publish-full.err");
    assert!(err.starts_with("error: ") && err.contains("no space left"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(rc(&out, "show-full"), 0, "the version before is intact: {}", read(&out, "show-full.err"));
    assert!(read(&out, "show-full.out").contains("version:   1"), "{}", read(&out, "show-full.out"));
    assert_eq!(rc(&out, "publish"), 0, "{}", read(&out, "publish.err"));
    let published = read(&out, "publish.out");
    assert!(
        published.contains("version 2") && published.contains(&format!("({artifacts} new of {artifacts} journaled")),
        "every recorded unit and run is published once there is room: {published}"
    );
    assert_clean(&out, "published");
}
