//! Build-script runs cached through the launcher: a vendored package whose
//! build script compiles C through `cc` is recorded on one machine and
//! restored on another with other paths, without running its C compiler;
//! changing what the script declared runs it again; a build-script probe
//! never reaches the cache; the target directory keeps working without
//! the tool.

mod common;

use common::cdemo::{holds, ok, write_checksums, CMachine};
use common::{copy_dir, s, walk_files, Machine, BIN};
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn a_c_build_script_run_is_restored_on_another_machine_without_its_c_compiler() {
    let tmp = tempfile::tempdir().unwrap();
    let a = CMachine::new(&tmp.path().join("a"), "work/cdemo", &tmp.path().join("store-a"));
    ok(&a.build(true, &[], &[]));
    assert_eq!(a.run_binary(), "answer=7 value=7\n");
    assert_eq!(a.c_compiles(), 1, "machine A compiles the C file");
    let stats = a.stats();
    assert_eq!(stats["runs"]["recorded"], 1, "{stats}");
    // The run is journaled as an index entry; and the rlib that bundles the
    // script's static library names no machine path either, so it may go
    // to other machines too.
    let journal = std::fs::read_to_string(a.store.join("journal.jsonl")).unwrap();
    let runs = journal.lines().filter(|l| l.contains("\"name\":\"cfix\"") && l.contains("\"run\":{")).count();
    assert_eq!(runs, 1, "{journal}");
    assert!(journal.contains("\"name\":\"libcfix-"), "{journal}");
    // What the C compiler wrote names no path of machine A: the prefix
    // maps went through CFLAGS.
    let out_dirs: Vec<PathBuf> = walk_files(&a.target.join("debug/build"))
        .into_iter()
        .filter(|f| f.components().any(|c| c.as_os_str() == "out"))
        .collect();
    let objects: Vec<&PathBuf> =
        out_dirs.iter().filter(|f| f.extension().is_some_and(|e| e == "o" || e == "a")).collect();
    assert!(!objects.is_empty(), "{out_dirs:?}");
    for file in &objects {
        let bytes = std::fs::read(file).unwrap();
        assert!(!holds(&bytes, s(tmp.path())), "{} holds a machine path", file.display());
    }

    // The launcher carries the real binary's time: cargo compares times.
    let script_dirs = walk_files(&a.target.join("debug/build"));
    let real = script_dirs.iter().find(|f| f.to_string_lossy().ends_with(".cargo-ipfs-real")).expect("a launcher");
    let launcher = PathBuf::from(real.to_string_lossy().trim_end_matches(".cargo-ipfs-real"));
    let mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    assert_eq!(mtime(&launcher), mtime(real));
    assert_ne!(std::fs::read(&launcher).unwrap(), std::fs::read(real).unwrap());

    // A declared variable changes on A: the run is recorded too (OUT_DIR
    // emptied first), and restored when it comes back.
    ok(&a.build(true, &[], &[("CFIX_VALUE", "8")]));
    assert_eq!((a.run_binary(), a.c_compiles()), ("answer=8 value=8\n".to_string(), 1));
    assert_eq!(a.stats()["runs"]["recorded"], 2);
    ok(&a.build(true, &[], &[]));
    assert_eq!((a.run_binary(), a.c_compiles()), ("answer=7 value=7\n".to_string(), 0));

    // Machine B: other paths, a copy of A's store, reading only.
    let b = CMachine::new(&tmp.path().join("b/else"), "projects/deeper/cdemo", &tmp.path().join("store-b"));
    copy_dir(&a.store, &b.store);
    b.zero();
    let out = b.build(false, &[], &[]);
    ok(&out);
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("build scripts: 1 runs restored"), "{summary}");
    assert_eq!(b.c_compiles(), 0, "machine B runs no C compiler");
    assert_eq!(b.run_binary(), "answer=7 value=7\n");
    let stats = b.stats();
    assert_eq!((stats["runs"]["restored"].as_u64(), stats["runs"]["executed"].as_u64()), (Some(1), Some(0)), "{stats}");
    // Every registry unit is restored, and the build script, which compiles
    // machine A's path into itself (never shared), is not compiled at all:
    // its compilation waits for a run that is restored.
    assert_eq!(stats["misses"], 0, "{stats}");
    assert_eq!(stats["runs"]["deferred"], 1, "{stats}");
    assert!(stats["errors"].as_object().unwrap().is_empty(), "{stats}");
    let pending: Vec<PathBuf> = walk_files(&b.target.join("debug/build"))
        .into_iter()
        .filter(|f| f.file_name().unwrap() == ".cargo-ipfs-pending")
        .collect();
    assert_eq!(pending.len(), 1, "the script waits to be compiled");

    // A plain cargo build, no wrapper, a declared variable changed: the
    // launcher compiles the script first, on this machine, with this
    // machine's paths.
    let out = b.command("cargo").args(["build", "--offline", "--locked"]).env("CFIX_SHOW_DIR", "1").output().unwrap();
    ok(&out);
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(warnings.contains(&format!("built from {}", b.project.join("vendor/cfix").display())), "{warnings}");
    assert!(!warnings.contains(s(&a.root)), "machine A's path: {warnings}");
    assert_eq!((b.run_binary(), b.c_compiles()), ("answer=7 value=7\n".to_string(), 1));
    assert!(!pending[0].exists(), "compiled once, no longer pending");

    // A declared variable changes: the script runs again, with the new value.
    ok(&b.build(false, &[], &[("CFIX_VALUE", "9")]));
    assert_eq!(b.run_binary(), "answer=9 value=9\n");
    assert_eq!(b.c_compiles(), 1, "a changed declared variable runs the C compiler");
    // Another feature: another pre-key, another run.
    ok(&b.build(false, &["--features", "extra"], &[]));
    assert_eq!(b.run_binary(), "answer=107 value=7\n");
    assert_eq!(b.c_compiles(), 1);
    // Back to what A recorded: restored again.
    ok(&b.build(false, &[], &[]));
    assert_eq!(b.run_binary(), "answer=7 value=7\n");
    assert_eq!(b.c_compiles(), 0, "the recorded run is restored again");
    // A declared file changes (vendored anew, its listed digest with it).
    let c_file = b.project.join("vendor/cfix/csrc/answer.c");
    let source = std::fs::read_to_string(&c_file).unwrap();
    std::fs::write(&c_file, source.replace("CFIX_VALUE + 100", "CFIX_VALUE + 200") + "\n").unwrap();
    write_checksums(&b.project.join("vendor/cfix"));
    ok(&b.build(false, &["--features", "extra"], &[]));
    assert_eq!(b.run_binary(), "answer=207 value=7\n");
    assert_eq!(b.c_compiles(), 1, "a changed declared file runs the C compiler");

    // The build script itself changes: cargo compiles it again in the same
    // directory, where the binary compiled before still lies. Its
    // compilation waits again, and the new script is the one that runs.
    let script = b.project.join("vendor/cfix/build.rs");
    let original = std::fs::read_to_string(&script).unwrap();
    std::fs::write(&script, original.replace(r#"unwrap_or_else(|_| "7".into())"#, r#"unwrap_or_else(|_| "6".into())"#))
        .unwrap();
    write_checksums(&b.project.join("vendor/cfix"));
    ok(&b.build(false, &["--features", "extra"], &[]));
    assert_eq!(b.run_binary(), "answer=206 value=6\n", "the changed script ran, not the one compiled before");
    assert_eq!(b.c_compiles(), 1);
    std::fs::write(&script, &original).unwrap();
    write_checksums(&b.project.join("vendor/cfix"));
    // Both feature sets' scripts compiled again through the wrapper (a
    // plain cargo build would compile them without a launcher), the
    // default one with the C file as A had it: A's run is restored.
    ok(&b.build(false, &["--features", "extra"], &[]));
    assert_eq!((b.run_binary(), b.c_compiles()), ("answer=207 value=7\n".to_string(), 1));
    std::fs::write(&c_file, &source).unwrap();
    write_checksums(&b.project.join("vendor/cfix"));
    ok(&b.build(false, &[], &[]));
    assert_eq!((b.run_binary(), b.c_compiles()), ("answer=7 value=7\n".to_string(), 0));

    // A later plain cargo build in the same target directory, no wrapper:
    // the launcher runs the script itself.
    let out = b.command("cargo").args(["build", "--offline", "--locked"]).env("CFIX_VALUE", "5").output().unwrap();
    ok(&out);
    assert_eq!(b.run_binary(), "answer=5 value=5\n");
    assert_eq!(b.c_compiles(), 1);
    // Plain cargo with `RUSTC_WRAPPER=cargo-ipfs` found on PATH, the C file
    // as A had it: the launcher's run is restored again.
    std::fs::write(&c_file, &source).unwrap();
    write_checksums(&b.project.join("vendor/cfix"));
    let bin_dir = Path::new(BIN).parent().unwrap();
    let mut cmd = b.command("cargo");
    let path = cmd.get_envs().find(|(k, _)| *k == "PATH").and_then(|(_, v)| v).unwrap().to_owned();
    let path =
        std::env::join_paths(std::iter::once(bin_dir.to_path_buf()).chain(std::env::split_paths(&path))).unwrap();
    let out =
        cmd.args(["build", "--offline", "--locked"]).env("PATH", path).env("RUSTC_WRAPPER", "cargo-ipfs").output();
    ok(&out.unwrap());
    assert_eq!(b.run_binary(), "answer=7 value=7\n");
    assert_eq!(b.c_compiles(), 0, "the run is restored: {}", b.stats());

    // Any file of the vendored package changes, one the script does not
    // declare, its checksum list written anew: another package, so another
    // script and another run, never A's (from a fresh target directory, as
    // cargo itself reruns nothing for an undeclared file).
    std::fs::write(b.project.join("vendor/cfix/NOTES.txt"), "patched\n").unwrap();
    write_checksums(&b.project.join("vendor/cfix"));
    std::fs::remove_dir_all(&b.target).unwrap();
    ok(&b.build(false, &[], &[]));
    assert_eq!((b.run_binary(), b.c_compiles()), ("answer=7 value=7\n".to_string(), 1), "{}", b.stats());
}

#[test]
fn a_run_that_asks_pkg_config_is_not_cached_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let a = CMachine::new(&tmp.path().join("a"), "cdemo", &tmp.path().join("store"));
    ok(&a.build(true, &[], &[("CFIX_ASK_PKGCONFIG", "1")]));
    assert_eq!(a.run_binary(), "answer=7 value=7\n");
    let stats = a.stats();
    assert_eq!(stats["runs"]["not_cached"]["uses pkg-config"], 1, "{stats}");
    assert_eq!(stats["runs"]["recorded"], 0, "{stats}");
    assert!(!a.store.join("runs-journal.jsonl").exists());
    let shown = a.command(BIN).arg("stats").output().unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("uses pkg-config: 1"), "{shown}");
    assert!(shown.contains("build-script runs: 0 restored, 1 executed (0 recorded)"), "{shown}");
}

#[test]
fn two_builds_with_jobs_share_one_store() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let a = CMachine::new(&tmp.path().join("a"), "p/cdemo", &store);
    let b = CMachine::new(&tmp.path().join("b"), "q/r/cdemo", &store);
    let spawn = |m: &CMachine| {
        let mut cmd = m.command(BIN);
        cmd.args(["build", "--no-fetch", "--record", "--offline", "--locked", "-j", "2"]);
        cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap()
    };
    let (ca, cb) = (spawn(&a), spawn(&b));
    ok(&ca.wait_with_output().unwrap());
    ok(&cb.wait_with_output().unwrap());
    assert_eq!(a.run_binary(), "answer=7 value=7\n");
    assert_eq!(b.run_binary(), "answer=7 value=7\n");
    // A third build from the shared store restores the run.
    let c = CMachine::new(&tmp.path().join("c"), "cdemo", &store);
    c.zero();
    ok(&c.build(false, &["-j", "2"], &[]));
    assert_eq!(c.c_compiles(), 0);
    assert_eq!(c.stats()["runs"]["restored"], 1);
    assert_eq!(c.run_binary(), "answer=7 value=7\n");

    // A recorded run that cannot be read back (its size misnamed) runs the
    // script instead, and says so in the stats.
    for file in
        walk_files(&store.join("wrapper/runs")).into_iter().filter(|f| f.extension().is_some_and(|e| e == "json"))
    {
        let mut candidates: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        for candidate in candidates.as_array_mut().unwrap() {
            candidate["artifact"]["size"] = 7.into();
        }
        std::fs::write(&file, candidates.to_string()).unwrap();
    }
    let d = CMachine::new(&tmp.path().join("d"), "cdemo", &store);
    d.zero();
    ok(&d.build(false, &[], &[]));
    assert_eq!(d.run_binary(), "answer=7 value=7\n");
    assert_eq!(d.c_compiles(), 1);
    let stats = d.stats();
    assert_eq!(stats["errors"]["restore run"], 1, "{stats}");
    assert_eq!(stats["runs"]["executed"], 1, "{stats}");
}

#[test]
fn probes_of_build_scripts_are_never_cached_and_vanish_on_a_second_machine() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let a = Machine::new(&tmp.path().join("a"), "w/demo", &store);
    let out = a.build(true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let first = a.stats();
    // proc-macro2's build script probes rustc through the wrapper.
    assert!(first["not_cacheable"]["build-script probe"].as_u64().unwrap_or(0) >= 1, "{first}");
    assert_eq!(first["misses"], first["recorded"], "nothing but probes fails: {first}");
    let journal = std::fs::read_to_string(store.join("journal.jsonl")).unwrap();
    assert!(!journal.contains("procmacro2_build_probe"), "no probe is journaled");

    let b = Machine::new(&tmp.path().join("b"), "x/y/demo", &store);
    b.cmd(&["stats", "--zero"]).output().unwrap();
    let out = b.build(false);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stats = b.stats();
    assert_eq!(stats["misses"], 0, "{stats}");
    assert!(stats["not_cacheable"].get("build-script probe").is_none(), "no probe runs on B: {stats}");
    assert_eq!(stats["runs"]["executed"], 0, "{stats}");
    assert!(stats["runs"]["restored"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(b.run_binary(), a.run_binary());
}

/// The launcher keeps the environment byte for byte (a `DEP_*` name with
/// `:` included, which a shell would drop) and takes its marker out of the
/// script's environment, whether `cargo-ipfs` is gone or runs a build that
/// is not its own.
#[test]
fn the_launcher_passes_the_environment_through_and_hides_its_marker() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("build/pkg-0123");
    std::fs::create_dir_all(&dir).unwrap();
    // The "script": a copy of env(1), which prints its environment.
    std::fs::copy("/usr/bin/env", dir.join("build_script_build-0123.cargo-ipfs-real")).unwrap();
    let launcher = dir.join("build-script-build");
    std::fs::copy(env!("CARGO_BIN_EXE_cargo-ipfs-launch"), &launcher).unwrap();
    for tool in [tmp.path().join("gone/cargo-ipfs"), PathBuf::from(BIN)] {
        let sidecar = format!("build_script_build-0123.cargo-ipfs-real\0{}\0CARGO_IPFS_BUILD_SCRIPT\0", tool.display());
        std::fs::write(dir.join(".cargo-ipfs-launch"), sidecar).unwrap();
        let out = Command::new(&launcher)
            .env("DEP_TAURI_CORE:WINDOW__PATH", "/x y")
            .env("CARGO_IPFS_BUILD_SCRIPT", "stale")
            .env_remove("RUSTC_WRAPPER")
            .output()
            .unwrap();
        ok(&out);
        let env = String::from_utf8(out.stdout).unwrap();
        assert!(env.lines().any(|l| l == "DEP_TAURI_CORE:WINDOW__PATH=/x y"), "{env}");
        assert!(!env.contains("CARGO_IPFS_BUILD_SCRIPT"), "{env}");
    }
    // Without its sidecar, the one real binary runs.
    std::fs::remove_file(dir.join(".cargo-ipfs-launch")).unwrap();
    ok(&Command::new(&launcher).output().unwrap());
}
