//! The rustc wrapper through the real binary: a real project recorded on one
//! "machine" and restored on another with different paths; a correctness
//! matrix where each key input changes in turn; reproducible artifacts; and
//! a cache that fails without failing the build.

mod common;

use common::fake_crate::{FakeCrate, PROBE};
use common::{Machine, BIN};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn journal_cids(store: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(store.join("journal.jsonl")).unwrap_or_default();
    let mut out: Vec<(String, String)> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| {
            (format!("{} {}", v["name"].as_str().unwrap(), v["crate_types"]), v["cid"].as_str().unwrap().to_string())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn recorded_build_is_restored_on_another_machine_with_other_paths() {
    // WRAPPER_TEST_KEEP=DIR keeps the machines (and CARGO_IPFS_EXPLAIN files) for a look.
    let guard = tempfile::tempdir().unwrap();
    let root = match std::env::var_os("WRAPPER_TEST_KEEP") {
        Some(keep) => PathBuf::from(keep),
        None => guard.path().to_path_buf(),
    };
    struct Root<'a>(&'a Path);
    impl Root<'_> {
        fn path(&self) -> &Path {
            self.0
        }
    }
    let tmp = Root(&root);
    let store = tmp.path().join("store");
    let a = Machine::new(&tmp.path().join("a"), "work/demo", &store);
    let out = a.build(true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = a.run_binary();
    assert_eq!(expected, "Point { x: 3, y: 4 } 12\n");
    let first = a.stats();
    // Every registry unit is cacheable and recorded; the only misses not
    // recorded are compilations that fail on purpose (proc-macro2's build
    // script probes rustc features through the wrapper).
    let (misses, recorded) = (first["misses"].as_u64().unwrap(), first["recorded"].as_u64().unwrap());
    assert!(recorded >= 9, "demo's registry units are recorded: {first}");
    assert!(misses - recorded <= 2, "{first}");
    assert_eq!(first["hits"], 0);

    // Machine B: another CARGO_HOME, target directory and project path.
    let b = Machine::new(&tmp.path().join("b/elsewhere"), "projects/deeper/demo", &store);
    b.cmd(&["stats", "--zero"]).output().unwrap();
    let out = b.build(false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("E0460") && !stderr.contains("E0514"), "{stderr}");
    let stats = b.stats();
    assert_eq!(stats["hits"].as_u64().unwrap(), recorded, "every recorded unit hits: {stats}");
    assert_eq!(stats["misses"].as_u64().unwrap(), misses - recorded, "only the failing probes miss: {stats}");
    assert!(stats["errors"].as_object().unwrap().is_empty(), "{stats}");
    assert_eq!(b.run_binary(), expected);

    // Machine C records into its own store on yet other paths: the registry
    // crates' artifacts are byte-identical, so their CIDs are too.
    let store_c = tmp.path().join("store-c");
    let c = Machine::new(&tmp.path().join("c"), "x/y/demo", &store_c);
    let out = c.build(true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (ca, cc) = (journal_cids(&store), journal_cids(&store_c));
    assert!(!ca.is_empty());
    assert_eq!(ca, cc, "artifact CIDs differ between machines");
}

#[test]
fn a_broken_cache_never_breaks_the_build() {
    let c = FakeCrate::new(PROBE);
    let env = [("PROBE_VALUE", "one")];
    assert!(!c.hit(&[], &env));
    let original = c.rlib();
    // A damaged unpacked copy is made again from the stored blocks.
    let unpacked = c.tmp.path().join("store/wrapper/unpacked");
    let copies: Vec<PathBuf> = std::fs::read_dir(&unpacked).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    let rlib_copy = copies[0].join("out/libprobe-0123456789abcdef.rlib");
    std::fs::write(&rlib_copy, b"truncated").unwrap();
    assert!(c.hit(&[], &env));
    assert_eq!(c.rlib(), original);
    assert_eq!(std::fs::read(&rlib_copy).unwrap(), original);

    // No room for unpacked copies (here: their folder cannot be made): the
    // hit restores from the verified blocks in memory instead.
    std::fs::remove_dir_all(&unpacked).unwrap();
    std::fs::write(&unpacked, b"in the way").unwrap();
    std::fs::remove_file(c.out.join("libprobe-0123456789abcdef.rlib")).unwrap();
    assert!(c.hit(&[], &env));
    assert_eq!(c.rlib(), original);
    std::fs::remove_file(&unpacked).unwrap();

    // Corrupt every stored block and drop the unpacked copy: the hit fails
    // verification, rustc runs.
    let blocks = c.tmp.path().join("store/blocks");
    for shard in std::fs::read_dir(&blocks).unwrap() {
        for block in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let path = block.unwrap().path();
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[0] ^= 0xff;
            std::fs::write(&path, bytes).unwrap();
        }
    }
    let out = c.compile(&[], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("compiling normally"));
    assert!(!c.rlib().is_empty());

    // An unusable store directory: still compiles.
    let file_store = c.tmp.path().join("not-a-dir");
    std::fs::write(&file_store, b"").unwrap();
    let mut cmd = c.command(Path::new("rustc"), &c.src);
    cmd.env("CARGO_IPFS_STORE", &file_store).env("PROBE_VALUE", "one");
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // A compile error is rustc's, with rustc's status, and is not recorded.
    let bad = FakeCrate::new("pub fn broken( {");
    let out = bad.compile(&[], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("error"));
}

/// Compiles a path crate (its package directory outside any registry)
/// through the wrapper, checking success.
fn compile_path_crate(c: &FakeCrate, src: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = c.command(Path::new("rustc"), src);
    cmd.env("PROBE_VALUE", "one");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn path_crates_are_cached_locally_only_when_asked_and_never_journaled() {
    let c = FakeCrate::new(PROBE);
    let project = c.tmp.path().join("project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    let src = project.join("src/lib.rs");
    std::fs::write(&src, PROBE).unwrap();
    let stats = || c.counts();

    // Without CARGO_IPFS_LOCAL a path crate is not cacheable.
    let before = stats();
    compile_path_crate(&c, &src, &[]);
    assert_eq!(stats(), before, "not cacheable by default");

    let local = [("CARGO_IPFS_LOCAL", "1")];
    let before = stats();
    compile_path_crate(&c, &src, &local);
    assert_eq!(stats(), (before.0, before.1 + 1), "first compilation records");
    let original = c.rlib();
    compile_path_crate(&c, &src, &local);
    assert_eq!(stats(), (before.0 + 1, before.1 + 1), "unchanged sources hit");
    assert_eq!(c.rlib(), original);

    // An edited source misses; restoring it hits the original bytes.
    std::fs::write(&src, format!("{PROBE}\npub fn added() {{}}\n")).unwrap();
    compile_path_crate(&c, &src, &local);
    assert_eq!(stats(), (before.0 + 1, before.1 + 2), "an edited source must miss");
    assert_ne!(c.rlib(), original);
    std::fs::write(&src, PROBE).unwrap();
    compile_path_crate(&c, &src, &local);
    assert_eq!(stats(), (before.0 + 2, before.1 + 2));
    assert_eq!(c.rlib(), original);

    // A file pulled in with include_str! is a source too.
    std::fs::write(project.join("src/data.txt"), "one").unwrap();
    std::fs::write(&src, format!("{PROBE}\npub const DATA: &str = include_str!(\"data.txt\");\n")).unwrap();
    compile_path_crate(&c, &src, &local);
    compile_path_crate(&c, &src, &local);
    assert_eq!(stats(), (before.0 + 3, before.1 + 3));
    std::fs::write(project.join("src/data.txt"), "two").unwrap();
    compile_path_crate(&c, &src, &local);
    assert_eq!(stats(), (before.0 + 3, before.1 + 4), "an edited included file must miss");

    // Nothing of it goes to the journal that publishing reads.
    assert!(journal_cids(&c.tmp.path().join("store")).is_empty());
}

#[test]
fn incremental_path_crates_hit_from_a_clone_elsewhere_and_registry_crates_do_not_cache_incremental() {
    let c = FakeCrate::new(PROBE);
    let store = c.tmp.path().join("store");
    let not_cacheable = |reason: &str| {
        let out = Command::new(BIN).args(["stats", "--json"]).env("CARGO_IPFS_STORE", &store).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["not_cacheable"][reason].as_u64().unwrap_or(0)
    };
    let incremental = c.tmp.path().join("target/debug/incremental");
    let inc_arg = format!("incremental={}", incremental.display());

    // A registry crate compiled incrementally is not cached: such outputs
    // may be published, and they depend on the session's history.
    let before = (c.counts(), not_cacheable("incremental"));
    let out = c.compile(&["-C", &inc_arg], &[("PROBE_VALUE", "one")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!((c.counts(), not_cacheable("incremental")), (before.0, before.1 + 1));

    // A path crate, compiled as cargo compiles a workspace member: from the
    // workspace root, with a relative source path, incrementally.
    let compile_in = |project: &Path| {
        let mut cmd = c.command(Path::new("rustc"), Path::new("src/lib.rs"));
        cmd.args(["-C", &inc_arg])
            .current_dir(project)
            .env("CARGO_MANIFEST_DIR", project)
            .env("CARGO_IPFS_LOCAL", "1")
            .env("PROBE_VALUE", "one");
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    // Here the target directory is inside the project, cargo's default.
    let here = c.tmp.path().to_path_buf();
    assert!(c.out.starts_with(&here));
    std::fs::create_dir_all(here.join("src")).unwrap();
    std::fs::write(here.join("src/lib.rs"), PROBE).unwrap();
    let before = c.counts();
    compile_in(&here);
    assert_eq!(c.counts(), (before.0, before.1 + 1), "first compilation records");
    let original = c.rlib();
    assert!(std::fs::read_dir(&incremental).unwrap().next().is_some(), "rustc kept its session");
    // The artifact names the project as /workspace, not as this path.
    let here_text = here.to_str().unwrap().as_bytes();
    assert!(!original.windows(here_text.len()).any(|w| w == here_text), "the project path leaked into the rlib");

    // The same sources at another path hit, with the same bytes.
    let there = c.tmp.path().join("clones/somewhere/else/project");
    std::fs::create_dir_all(there.join("src")).unwrap();
    std::fs::write(there.join("src/lib.rs"), PROBE).unwrap();
    std::fs::remove_file(c.out.join("libprobe-0123456789abcdef.rlib")).unwrap();
    compile_in(&there);
    assert_eq!(c.counts(), (before.0 + 1, before.1 + 1), "a clone elsewhere hits");
    assert_eq!(c.rlib(), original);

    // An edit there misses and compiles over the session rustc kept.
    std::fs::write(there.join("src/lib.rs"), format!("{PROBE}\npub fn added() {{}}\n")).unwrap();
    compile_in(&there);
    assert_eq!(c.counts(), (before.0 + 1, before.1 + 2), "an edited clone must miss");
    assert_ne!(c.rlib(), original);
    assert!(journal_cids(&store).is_empty(), "path crates are never journaled");
}

/// A script standing in for rustc: runs the real one, then `after` (a shell
/// command) if it succeeded.
fn rustc_then(dir: &Path, after: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let real = String::from_utf8(Command::new("rustc").args(["--print", "sysroot"]).output().unwrap().stdout).unwrap();
    let real_rustc = Path::new(real.trim()).join("bin/rustc");
    std::fs::create_dir_all(dir).unwrap();
    let script = dir.join("rustc");
    std::fs::write(&script, format!("#!/bin/sh\n{} \"$@\" || exit $?\n{after}\n", real_rustc.display())).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn unreadable_dep_info_or_native_library_only_costs_the_cache() {
    // A path crate whose dep-info is gone once rustc is done: its sources
    // are unknown, so it is not recorded; the build goes on.
    let c = FakeCrate::new(PROBE);
    let project = c.tmp.path().join("project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(project.join("src/lib.rs"), PROBE).unwrap();
    let rustc = rustc_then(&c.tmp.path().join("bin"), &format!("rm -f {}/*.d", c.out.display()));
    let compile = || {
        let out = c
            .command(&rustc, Path::new("src/lib.rs"))
            .current_dir(&project)
            .env("CARGO_MANIFEST_DIR", &project)
            .env("CARGO_IPFS_LOCAL", "1")
            .env("PROBE_VALUE", "one")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(c.out.join("libprobe-0123456789abcdef.rlib").is_file());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let stderr = compile();
    assert!(stderr.contains("cannot record probe") && stderr.contains(".d"), "{stderr}");
    let stats = c.stats();
    assert_eq!((stats["misses"].as_u64(), stats["recorded"].as_u64()), (Some(1), Some(0)), "{stats}");
    assert_eq!(stats["errors"]["record"], 1, "{stats}");
    compile();
    assert_eq!(c.stats()["hits"], 0, "nothing was filed, so nothing hits");

    // A native library that is there but cannot be read: no key, rustc runs
    // as cargo asked (an rlib does not open a dylib it names).
    let c = FakeCrate::new(PROBE);
    let native = c.tmp.path().join("native");
    std::fs::create_dir_all(&native).unwrap();
    // A regular file whose every read fails (EIO at address 0).
    std::os::unix::fs::symlink("/proc/self/mem", native.join("libnat.so")).unwrap();
    let search = format!("native={}", native.display());
    let out = c.compile(&["-L", &search, "-l", "dylib=nat"], &[("PROBE_VALUE", "one")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("-l dylib=nat") && stderr.contains("compiling normally"), "{stderr}");
    let stats = c.stats();
    assert_eq!(stats["errors"]["key"], 1, "{stats}");
    assert_eq!((stats["hits"].as_u64(), stats["misses"].as_u64()), (Some(0), Some(0)), "{stats}");
    assert!(!c.rlib().is_empty());
}

#[test]
fn a_crate_of_another_registry_is_journaled_under_that_registry() {
    let c = FakeCrate::new(PROBE);
    let registry = "registry.example.com-0123456789abcdef";
    let home = &c.cargo_home;
    let pkg = home.join("registry/src").join(registry).join("probe-0.1.0");
    common::copy_dir(&home.join("registry/src/index.crates.io-0000000000000000/probe-0.1.0"), &pkg);
    std::fs::create_dir_all(home.join("registry/cache").join(registry)).unwrap();
    std::fs::copy(
        home.join("registry/cache/index.crates.io-0000000000000000/probe-0.1.0.crate"),
        home.join("registry/cache").join(registry).join("probe-0.1.0.crate"),
    )
    .unwrap();
    let out = c.command(Path::new("rustc"), &pkg.join("src/lib.rs")).env("PROBE_VALUE", "x").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let journal = std::fs::read_to_string(c.tmp.path().join("store/journal.jsonl")).unwrap();
    let sources: Vec<String> = journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["source"].as_str().unwrap().to_string())
        .collect();
    // Journaled, for `publish --allow-registry registry.example.com` to send;
    // never under crates.io's name.
    assert_eq!(sources, [format!("registry+local:{registry}")]);
}
