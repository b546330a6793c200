//! Tests of the analysis on real command lines, and the helpers and
//! fixtures that the tests of the other `args` files and of `paths` share.

use super::*;

/// Splits a command line at spaces; `'...'` quotes an argument.
pub(crate) fn split(line: &str) -> Vec<OsString> {
    let mut args = Vec::new();
    let mut current: Option<String> = None;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                current.get_or_insert_with(String::new);
            }
            ' ' if !quoted => args.extend(current.take()),
            c => current.get_or_insert_with(String::new).push(c),
        }
    }
    args.extend(current);
    args.into_iter().map(OsString::from).collect()
}

pub(crate) fn cacheable(line: &str) -> Invocation {
    match analyze(&split(line)) {
        Analysis::Cacheable(inv) => inv,
        Analysis::NotCacheable(why) => panic!("{line}: not cacheable: {why}"),
    }
}

// Real command lines from `cargo build` and `cargo test` (cargo 1.95.0)
// on a package depending on itoa and paste, logged by a RUSTC_WRAPPER
// script. CARGO_HOME is shortened to `/c`, the target directory to `/t`.
const R: &str = "/c/registry/src/index.crates.io-1949cf8c6b5b557f";
const JSON: &str = "--error-format=json --json=diagnostic-rendered-ansi,artifacts,future-incompat";

pub(crate) fn itoa_lib() -> String {
    format!(
        "--crate-name itoa --edition=2021 {R}/itoa-1.0.19/src/lib.rs {JSON} --crate-type lib \
         --emit=dep-info,metadata,link -C embed-bitcode=no -C debuginfo=2 --check-cfg 'cfg(docsrs,test)' \
         --check-cfg 'cfg(feature, values(\"no-panic\"))' -C metadata=a9c1468c251272ca \
         -C extra-filename=-6c1e270c698fa6a6 --out-dir /t/debug/deps -L dependency=/t/debug/deps --cap-lints allow"
    )
}

fn paste_proc_macro() -> String {
    format!(
        "--crate-name paste --edition=2018 {R}/paste-1.0.15/src/lib.rs {JSON} --crate-type proc-macro \
         --emit=dep-info,link -C prefer-dynamic -C embed-bitcode=no --check-cfg 'cfg(docsrs,test)' \
         --check-cfg 'cfg(feature, values())' -C metadata=0b3a49489f2512d4 -C extra-filename=-1f46112c5ce27040 \
         --out-dir /t/debug/deps -L dependency=/t/debug/deps --extern proc_macro --cap-lints allow \
         --check-cfg 'cfg(no_literal_fromstr)' --check-cfg 'cfg(feature, values(\"protocol_feature_paste\"))'"
    )
}

fn paste_build_script() -> String {
    format!(
        "--crate-name build_script_build --edition=2018 {R}/paste-1.0.15/build.rs {JSON} --crate-type bin \
         --emit=dep-info,link -C embed-bitcode=no --check-cfg 'cfg(docsrs,test)' \
         --check-cfg 'cfg(feature, values())' -C metadata=0f1dc8795ae17029 -C extra-filename=-3dcca4d54cf01214 \
         --out-dir /t/debug/build/paste-3dcca4d54cf01214 -L dependency=/t/debug/deps --cap-lints allow"
    )
}

/// The workspace's own lib: cargo adds `-C incremental`, a build script's
/// `-L native`, `-l static` and `--cfg`, and the `[lints]` table.
const DEMO_LIB: &str = "--crate-name demo --edition=2024 src/lib.rs --error-format=json \
    --json=diagnostic-rendered-ansi,artifacts,future-incompat --crate-type lib --emit=dep-info,metadata,link \
    -C embed-bitcode=no -C debuginfo=2 --forbid=unsafe_code --warn=missing_docs --check-cfg 'cfg(docsrs,test)' \
    --check-cfg 'cfg(feature, values())' -C metadata=a172994a945f1c21 -C extra-filename=-5e21635b2f268fe1 \
    --out-dir /t/debug/deps -C incremental=/t/debug/incremental -L dependency=/t/debug/deps \
    --extern itoa=/t/debug/deps/libitoa-6c1e270c698fa6a6.rmeta \
    --extern paste=/t/debug/deps/libpaste-1f46112c5ce27040.so -L native=/t/debug/build/demo-7144df01b6689c94/out \
    -l static=nat --cfg has_nat --check-cfg 'cfg(has_nat)'";

/// `cargo test` of the workspace's bin, with `-C incremental` removed
/// (cargo adds it to workspace members only) to reach the `--test` rules.
const DEMO_TEST: &str = "--crate-name demo --edition=2024 src/main.rs --error-format=json \
    --json=diagnostic-rendered-ansi,artifacts,future-incompat --emit=dep-info,link -C embed-bitcode=no \
    -C debuginfo=2 --forbid=unsafe_code --warn=missing_docs --test --check-cfg 'cfg(docsrs,test)' \
    --check-cfg 'cfg(feature, values())' -C metadata=8b3c23e5815036b5 -C extra-filename=-71d9da223d41c70e \
    --out-dir /t/debug/deps -L dependency=/t/debug/deps --extern demo=/t/debug/deps/libdemo-5e21635b2f268fe1.rlib \
    --extern itoa=/t/debug/deps/libitoa-6c1e270c698fa6a6.rlib \
    --extern paste=/t/debug/deps/libpaste-1f46112c5ce27040.so -L native=/t/debug/build/demo-7144df01b6689c94/out \
    --cfg has_nat --check-cfg 'cfg(has_nat)'";

/// Cargo's target-info probe, run before any build.
pub(super) const PROBE: &str =
    "- --crate-name ___ --print=file-names --crate-type bin --crate-type rlib --crate-type dylib \
    --crate-type cdylib --crate-type staticlib --crate-type proc-macro --print=sysroot --print=split-debuginfo \
    --print=crate-name --print=cfg -Wwarnings";

/// A minimal cacheable command line.
pub(super) const BASE: &str = "--crate-name a --crate-type lib --out-dir /o a.rs";

/// Pairs of spellings rustc reads the same way.
pub(crate) const SAME_MEANING: &[(&str, &str)] = &[
    ("--crate-name a", "--crate-name=a"),
    ("--crate-type lib", "--crate-type=lib"),
    ("--edition 2021", "--edition=2021"),
    ("--emit dep-info,link", "--emit=dep-info,link"),
    ("-C opt-level=3", "-Copt-level=3"),
    ("-C opt-level=3", "--codegen opt-level=3"),
    ("-C opt-level=3", "--codegen=opt-level=3"),
    ("-C opt-level=3", "-C opt_level=3"),
    ("-L dependency=/t/deps", "-Ldependency=/t/deps"),
    ("-L /t/deps", "-L/t/deps"),
    ("-l static=nat", "-lstatic=nat"),
    ("--extern itoa=/t/libitoa.rlib", "--extern=itoa=/t/libitoa.rlib"),
    ("--cfg feature=\"std\"", "--cfg=feature=\"std\""),
    ("--check-cfg cfg(x)", "--check-cfg=cfg(x)"),
    ("--target x86_64-unknown-linux-gnu", "--target=x86_64-unknown-linux-gnu"),
    ("--cap-lints allow", "--cap-lints=allow"),
    ("--error-format json", "--error-format=json"),
    ("--json artifacts", "--json=artifacts"),
    ("-A dead_code", "--allow=dead_code"),
    ("-W missing_docs", "--warn missing_docs"),
    ("-D warnings", "-Dwarnings"),
    ("-F unsafe_code", "--forbid=unsafe_code"),
    ("-Z threads=2", "-Zthreads=2"),
    ("-g -O", "-gO"),
];

pub(super) fn linux() -> TargetNaming {
    TargetNaming::for_target("x86_64-unknown-linux-gnu")
}

pub(super) fn outputs(inv: &Invocation, naming: &TargetNaming) -> Vec<(String, OutputKind)> {
    inv.expected_outputs(naming)
}

pub(super) fn names(list: &[(&str, OutputKind)]) -> Vec<(String, OutputKind)> {
    list.iter().map(|(n, k)| (n.to_string(), *k)).collect()
}

#[test]
fn real_registry_lib() {
    let inv = cacheable(&itoa_lib());
    assert_eq!(inv.crate_name, "itoa");
    assert_eq!(inv.crate_types, ["lib"]);
    assert_eq!(inv.input, PathBuf::from(format!("{R}/itoa-1.0.19/src/lib.rs")));
    assert_eq!(inv.emit, ["dep-info", "metadata", "link"]);
    assert_eq!(inv.out_dir, PathBuf::from("/t/debug/deps"));
    assert_eq!(inv.extra_filename, "-6c1e270c698fa6a6");
    assert_eq!(inv.edition.as_deref(), Some("2021"));
    assert_eq!(inv.error_format.as_deref(), Some("json"));
    assert_eq!(inv.json, ["diagnostic-rendered-ansi", "artifacts", "future-incompat"]);
    assert_eq!(inv.check_cfgs, ["cfg(docsrs,test)", "cfg(feature, values(\"no-panic\"))"]);
    assert_eq!(inv.cap_lints.as_deref(), Some("allow"));
    assert_eq!(inv.lib_search, [(Some("dependency".to_string()), PathBuf::from("/t/debug/deps"))]);
    assert_eq!(inv.codegen_value("debuginfo"), Some(Some("2")));
    assert_eq!(inv.codegen_value("opt-level"), None);
    assert_eq!(inv.args.len(), 27);
    assert!(!inv.is_linked());
    assert_eq!(
        outputs(&inv, &linux()),
        names(&[
            ("libitoa-6c1e270c698fa6a6.rlib", OutputKind::Rlib),
            ("libitoa-6c1e270c698fa6a6.rmeta", OutputKind::Rmeta),
            ("itoa-6c1e270c698fa6a6.d", OutputKind::DepInfo),
        ])
    );
}

#[test]
fn real_check_build_writes_metadata_only() {
    let inv = cacheable(&itoa_lib().replace("dep-info,metadata,link", "dep-info,metadata"));
    assert!(!inv.is_linked());
    assert_eq!(
        outputs(&inv, &linux()),
        names(&[
            ("libitoa-6c1e270c698fa6a6.rmeta", OutputKind::Rmeta),
            ("itoa-6c1e270c698fa6a6.d", OutputKind::DepInfo),
        ])
    );
}

#[test]
fn real_proc_macro_and_build_script() {
    let inv = cacheable(&paste_proc_macro());
    assert_eq!(inv.externs, [Extern { name: "proc_macro".into(), path: None, modifiers: vec![] }]);
    assert_eq!(inv.codegen[0], ("prefer-dynamic".to_string(), None));
    assert!(inv.is_linked());
    assert_eq!(
        outputs(&inv, &linux()),
        names(&[
            ("libpaste-1f46112c5ce27040.so", OutputKind::ProcMacro),
            ("paste-1f46112c5ce27040.d", OutputKind::DepInfo),
        ])
    );

    let inv = cacheable(&paste_build_script());
    assert!(inv.is_linked());
    assert_eq!(
        outputs(&inv, &linux()),
        names(&[
            ("build_script_build-3dcca4d54cf01214", OutputKind::Bin),
            ("build_script_build-3dcca4d54cf01214.d", OutputKind::DepInfo),
        ])
    );
}

#[test]
fn real_workspace_lib_is_incremental() {
    assert!(cacheable(DEMO_LIB).incremental);
    assert!(cacheable(&DEMO_LIB.replace("-C incremental=/t/debug/incremental", "-Cincremental=/t/i")).incremental);
    let inv = cacheable(&DEMO_LIB.replace("-C incremental=/t/debug/incremental ", ""));
    assert!(!inv.incremental);
    assert_eq!(
        inv.externs,
        [
            Extern {
                name: "itoa".into(),
                path: Some("/t/debug/deps/libitoa-6c1e270c698fa6a6.rmeta".into()),
                modifiers: vec![]
            },
            Extern {
                name: "paste".into(),
                path: Some("/t/debug/deps/libpaste-1f46112c5ce27040.so".into()),
                modifiers: vec![]
            },
        ]
    );
    assert_eq!(inv.libs, ["static=nat"]);
    assert_eq!(inv.cfgs, ["has_nat"]);
    assert_eq!(inv.lib_search[1], (Some("native".into()), PathBuf::from("/t/debug/build/demo-7144df01b6689c94/out")));
}

#[test]
fn real_test_harness() {
    let inv = cacheable(DEMO_TEST);
    assert!(inv.test);
    assert!(inv.crate_types.is_empty());
    assert!(inv.is_linked());
    assert_eq!(
        outputs(&inv, &TargetNaming::for_target("x86_64-pc-windows-msvc")),
        names(&[("demo-71d9da223d41c70e.exe", OutputKind::Bin), ("demo-71d9da223d41c70e.d", OutputKind::DepInfo)])
    );
}

#[test]
fn non_utf8_is_not_cacheable() {
    #[cfg(unix)]
    let bad = {
        use std::os::unix::ffi::OsStringExt;
        OsString::from_vec(vec![b'a', 0xff, b'.', b'r', b's'])
    };
    #[cfg(windows)]
    let bad = {
        use std::os::windows::ffi::OsStringExt;
        OsString::from_wide(&[0xd800])
    };
    let mut args = split(BASE);
    args.push(bad);
    assert_eq!(analyze(&args), Analysis::NotCacheable(NotCacheable::NonUtf8));
}

#[test]
fn labels_are_stable_and_distinct() {
    use NotCacheable::*;
    let all = [
        NonUtf8,
        Print,
        ArgFile,
        UnknownFlag("x".into()),
        MissingValue("x".into()),
        Duplicate("x".into()),
        OutputFile,
        EmitPath,
        EmitKind("x".into()),
        Incremental,
        ProfileGuided,
        TargetCpuNative,
        TargetSpecFile,
        UnstableFlag("x".into()),
        CrateType("x".into()),
        NoCrateType,
        NoCrateName,
        NoInput,
        SeveralInputs,
        Stdin,
        NoOutDir,
    ];
    let mut labels: Vec<&str> = all.iter().map(NotCacheable::as_str).collect();
    assert!(labels.iter().all(|l| l.bytes().all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit())));
    labels.sort();
    labels.dedup();
    assert_eq!(labels.len(), all.len());
    assert_eq!(UnknownFlag("--bogus".into()).to_string(), "unknown flag `--bogus`");
}
