//! The correctness matrix: each input of the cache key changed in turn
//! through the real wrapper, shown to miss (or to be refused as not
//! cacheable, with its statistics reason) and to hit again once the input
//! is back; and a patched registry source, which must never hit the
//! pristine crate's artifact nor be journaled under the registry's name.

mod common;

use common::fake_crate::{FakeCrate, PROBE};
use common::Machine;
use std::path::Path;
use std::process::Command;

fn journal_cids(store: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(store.join("journal.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["cid"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn correctness_matrix_every_key_input_misses() {
    let c = FakeCrate::new(PROBE);
    let env = [("PROBE_VALUE", "one")];
    assert!(!c.hit(&[], &env), "first compilation records");
    let original = c.rlib();
    assert!(c.hit(&[], &env), "same inputs hit");
    assert_eq!(c.rlib(), original, "the hit restores the same bytes");

    /// What changes, the extra arguments, the environment.
    type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        ("a feature", vec!["--cfg", "feature=\"extra\""], env.to_vec()),
        ("a cfg", vec!["--cfg", "probe_cfg"], env.to_vec()),
        ("opt-level", vec!["-C", "opt-level=2"], env.to_vec()),
        ("the target", vec!["--target", "x86_64-unknown-linux-gnu"], env.to_vec()),
        ("an environment variable read with env!", vec![], vec![("PROBE_VALUE", "two")]),
        ("RUSTC_BOOTSTRAP", vec![], vec![("PROBE_VALUE", "one"), ("RUSTC_BOOTSTRAP", "1")]),
        ("a user's --remap-path-prefix", vec!["--remap-path-prefix", "/src=/elsewhere"], env.to_vec()),
    ];
    for (what, extra, env) in &cases {
        assert!(!c.hit(extra, env), "changing {what} must miss");
        assert!(c.hit(extra, env), "{what}: the new variant hits once recorded");
    }
    // Back to the original inputs: the original artifact, not a later one.
    // Hits above placed hard links into the out-dir and misses compiled over
    // them: rustc replaced the links instead of writing through them.
    assert!(c.hit(&[], &env));
    assert_eq!(c.rlib(), original);
}

#[test]
fn dependency_content_out_dir_files_native_libraries_and_rustc_identity_are_in_the_key() {
    let dep = FakeCrate::new("pub fn f() -> u32 { 1 }");
    let c = FakeCrate::new(PROBE);
    let env = [("PROBE_VALUE", "one")];
    let dep_rlib = dep.tmp.path().join("libdep.rlib");
    std::fs::write(&dep_rlib, b"version 1 of a dependency").unwrap();
    let ext = format!("dep={}", dep_rlib.display());
    // rustc only reads --extern files it needs; an unused one still keys.
    assert!(!c.hit(&["--extern", &ext], &env));
    assert!(c.hit(&["--extern", &ext], &env));
    std::fs::write(&dep_rlib, b"version 2 of a dependency").unwrap();
    assert!(!c.hit(&["--extern", &ext], &env), "a changed dependency must miss");

    // A generated file in OUT_DIR.
    let out_dir = c.tmp.path().join("target/debug/build/probe-1/out");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(out_dir.join("generated.rs"), b"// one").unwrap();
    let with_out = [("PROBE_VALUE", "one"), ("OUT_DIR", out_dir.to_str().unwrap())];
    assert!(!c.hit(&[], &with_out));
    assert!(c.hit(&[], &with_out));
    std::fs::write(out_dir.join("generated.rs"), b"// two").unwrap();
    assert!(!c.hit(&[], &with_out), "a changed OUT_DIR file must miss");

    // A native library named by `-l`, found in a `-L` directory.
    let native = c.tmp.path().join("native");
    std::fs::create_dir_all(&native).unwrap();
    std::fs::write(native.join("libnat.so"), b"version 1 of a native library").unwrap();
    let search = format!("native={}", native.display());
    let lib = ["-L", &search, "-l", "dylib=nat"];
    assert!(!c.hit(&lib, &env));
    assert!(c.hit(&lib, &env));
    std::fs::write(native.join("libnat.so"), b"version 2 of a native library").unwrap();
    assert!(!c.hit(&lib, &env), "a changed native library must miss");

    // Another rustc identity: a rustc that reports another version.
    let fake = c.tmp.path().join("bin");
    std::fs::create_dir_all(&fake).unwrap();
    let real = String::from_utf8(Command::new("rustc").args(["--print", "sysroot"]).output().unwrap().stdout).unwrap();
    let real_rustc = Path::new(real.trim()).join("bin/rustc");
    let script = fake.join("rustc");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nif [ \"$1\" = -vV ]; then {} -vV | sed 's/^release: .*/release: 0.0.0-other/'; exit; fi\nexec {} \"$@\"\n", real_rustc.display(), real_rustc.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = c.counts();
    let out = c.command(&script, &c.src).env("PROBE_VALUE", "one").output().unwrap();
    assert!(out.status.success());
    let after = c.counts();
    assert_eq!(after.0, before.0, "another rustc identity must not hit");
}

#[test]
fn a_patched_registry_source_misses_and_is_never_journaled() {
    let c = FakeCrate::new(PROBE);
    let store = c.tmp.path().join("store");
    let env = [("PROBE_VALUE", "one")];
    assert!(!c.hit(&[], &env), "recorded");
    assert!(c.hit(&[], &env));
    let pristine_rlib = c.rlib();
    assert_eq!(journal_cids(&store).len(), 1);

    // The package's source edited in place, as users do while debugging:
    // the `.crate` no longer says what is compiled. A miss, compiled from
    // the patched source, not journaled, and counted with its reason.
    std::fs::write(&c.src, format!("{PROBE}\npub fn patched() -> u32 {{ 7 }}\n")).unwrap();
    let before = c.counts();
    let out = c.compile(&[], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(c.counts(), before, "not cacheable, so neither a hit nor a miss");
    assert_eq!(c.stats()["not_cacheable"]["registry source modified"], 1);
    assert_ne!(c.rlib(), pristine_rlib, "the patched source was compiled");
    assert_eq!(journal_cids(&store).len(), 1, "nothing journaled under the registry's source");

    // With path crates cached here, the patched package is keyed by the
    // content it read, like a path crate, and still never journaled.
    let local = [("PROBE_VALUE", "one"), ("CARGO_IPFS_LOCAL", "1")];
    assert!(!c.hit(&[], &local));
    assert!(c.hit(&[], &local));
    assert_ne!(c.rlib(), pristine_rlib);
    assert_eq!(journal_cids(&store).len(), 1);

    // Put back as the `.crate` has it: the registry artifact hits again.
    std::fs::write(&c.src, PROBE).unwrap();
    assert!(c.hit(&[], &env));
    assert_eq!(c.rlib(), pristine_rlib);
}

#[test]
fn a_registry_source_patched_to_fail_fails_the_build_as_plain_cargo_does() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let a = Machine::new(&tmp.path().join("a"), "work/demo", &store);
    let out = a.build(true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Machine B restores everything, then patches itoa's registry source so
    // that it cannot compile, and builds again into an empty target dir.
    let b = Machine::new(&tmp.path().join("b"), "elsewhere/demo", &store);
    assert!(b.build(false).status.success());
    let itoa = std::fs::read_dir(b.cargo_home.join("registry/src"))
        .unwrap()
        .flat_map(|registry| std::fs::read_dir(registry.unwrap().path()).unwrap())
        .map(|package| package.unwrap().path())
        .find(|package| package.file_name().unwrap().to_string_lossy().starts_with("itoa-"))
        .expect("itoa is extracted");
    let lib = itoa.join("src/lib.rs");
    let pristine = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, format!("compile_error!(\"patched\");\n{pristine}")).unwrap();
    std::fs::remove_dir_all(&b.target).unwrap();
    let out = b.build(false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the pristine itoa was restored over the patched one: {stderr}");
    assert!(stderr.contains("patched"), "{stderr}");

    // Put back: every unit hits again.
    std::fs::write(&lib, pristine).unwrap();
    std::fs::remove_dir_all(&b.target).unwrap();
    b.cmd(&["stats", "--zero"]).output().unwrap();
    let out = b.build(false);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(b.stats()["hits"].as_u64().unwrap() >= 9, "{}", b.stats());
}

#[test]
fn arguments_naming_files_outside_the_key_are_not_cacheable_and_hit_again_without_them() {
    let c = FakeCrate::new(PROBE);
    let env = [("PROBE_VALUE", "one")];
    assert!(!c.hit(&[], &env));
    let reason = |c: &FakeCrate, label: &str| c.stats()["not_cacheable"][label].as_u64().unwrap_or(0);

    // A custom sysroot (the identity is the default one's), even when it is
    // the default one: refused before rustc runs, and rustc still compiles.
    let sysroot = String::from_utf8(Command::new("rustc").args(["--print", "sysroot"]).output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string();
    let out = c.compile(&["--sysroot", &sysroot], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(reason(&c, "file-argument"), 1);

    // A target name that RUST_TARGET_PATH resolves to a spec file.
    let specs = c.tmp.path().join("specs");
    std::fs::create_dir_all(&specs).unwrap();
    std::fs::write(specs.join("my-target.json"), b"{}").unwrap();
    let spec_env = [("PROBE_VALUE", "one"), ("RUST_TARGET_PATH", specs.to_str().unwrap())];
    let before = c.counts();
    let _ = c.compile(&["--target", "my-target"], &spec_env);
    assert_eq!(reason(&c, "target-spec-file"), 1);
    assert_eq!(c.counts(), before, "neither a hit nor a miss");

    // Without them, the recorded artifact hits again.
    assert!(c.hit(&[], &env));
}

#[test]
fn the_linker_environment_keys_linked_outputs_and_a_native_cpu_is_refused() {
    let c = FakeCrate::new(PROBE);
    let env = [("PROBE_VALUE", "one")];
    // A linked output: the linker reads LIBRARY_PATH and records LD_RUN_PATH.
    let linked = ["--crate-type", "cdylib"];
    assert!(!c.hit(&[], &env), "the rlib recorded");
    assert!(!c.hit(&linked, &env));
    assert!(c.hit(&linked, &env));
    let libs = c.tmp.path().join("libs");
    std::fs::create_dir_all(&libs).unwrap();
    for var in ["LIBRARY_PATH", "LD_RUN_PATH"] {
        let with = [env[0], (var, libs.to_str().unwrap())];
        assert!(!c.hit(&linked, &with), "{var} must miss for a linked output");
        assert!(c.hit(&linked, &with), "{var}: the new variant hits once recorded");
        // An rlib is not linked: the variable is not among its inputs.
        assert!(c.hit(&[], &with), "{var} is no input of an rlib");
    }
    assert!(c.hit(&linked, &env), "without them, the first artifact hits again");

    // The building machine's CPU is in no argument: refused.
    let before = c.counts();
    let native = [env[0], ("RUSTC_BOOTSTRAP", "1")];
    let out = c.compile(&["-Z", "tune-cpu=native"], &native);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(c.counts(), before, "neither a hit nor a miss");
    assert_eq!(c.stats()["not_cacheable"]["target-cpu-native"], 1);
    assert!(c.hit(&[], &env), "and the unit hits again without it");
}
