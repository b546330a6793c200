use super::watch::Watched;
use super::*;
use std::os::unix::fs::PermissionsExt;

const HOST: &str = "x86_64-unknown-linux-gnu";

/// A sysroot with a standard library and what rustup puts beside it.
fn sysroot(root: &Path) -> PathBuf {
    let lib = root.join("lib/rustlib/x86_64-unknown-linux-gnu/lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(lib.join("libstd-0123.rlib"), b"std").unwrap();
    let bin = root.join("lib/rustlib/x86_64-unknown-linux-gnu/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("rust-lld"), b"lld").unwrap();
    std::fs::write(root.join("lib/rustlib/components"), b"rustc\nrust-std\n").unwrap();
    root.to_path_buf()
}

fn digests(root: &Path) -> BTreeMap<String, String> {
    sysroot::sysroot_digests(root, HOST, &mut Watched::new(Duration::ZERO))
}

/// Replaces `path` by a new file holding `bytes` (a new inode, as an
/// installer writes), then gives it back its modification time, as
/// `touch -r` or an archive extraction would.
fn replace_keeping_mtime(path: &Path, bytes: &[u8]) {
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::File::options().write(true).open(&tmp).unwrap().set_modified(mtime).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn script(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{text}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_sysroot_digest_covers_what_rustc_reads_and_not_rustups_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = sysroot(tmp.path());
    let digest = |root: &Path| digests(root)[HOST].clone();
    let first = digest(&root);
    // Another installation profile: more components listed, manifests,
    // sources, documentation, the llvm tools, another target.
    let rustlib = root.join("lib/rustlib");
    std::fs::write(rustlib.join("components"), b"rustc\nrust-std\nrust-src\nclippy-preview\n").unwrap();
    std::fs::write(rustlib.join("manifest-rust-src"), b"file:lib/rustlib/src/rust/library/core/src/lib.rs").unwrap();
    std::fs::write(rustlib.join("multirust-channel-manifest.toml"), b"[pkg]").unwrap();
    std::fs::create_dir_all(rustlib.join("src/rust/library/core/src")).unwrap();
    std::fs::write(rustlib.join("src/rust/library/core/src/lib.rs"), b"//! core").unwrap();
    std::fs::create_dir_all(rustlib.join("etc")).unwrap();
    std::fs::write(rustlib.join("etc/gdb_load_rust_pretty_printers.py"), b"#").unwrap();
    std::fs::write(rustlib.join(HOST).join("bin/llvm-objdump"), b"llvm").unwrap();
    std::fs::create_dir_all(rustlib.join("wasm32-unknown-unknown/lib")).unwrap();
    std::fs::write(rustlib.join("wasm32-unknown-unknown/lib/libstd-4567.rlib"), b"std").unwrap();
    assert_eq!(digest(&root), first, "the same compiler and standard library");
    let all = digests(&root);
    assert_ne!(all["wasm32-unknown-unknown"], first, "each target its own");
    assert!(!all.contains_key("src") && !all.contains_key("etc"), "{all:?}");
    // What rustc reads: the standard library, a shipped linker.
    let std_rlib = rustlib.join(HOST).join("lib/libstd-0123.rlib");
    std::fs::write(&std_rlib, b"std, rebuilt").unwrap();
    assert_ne!(digest(&root), first);
    std::fs::write(&std_rlib, b"std").unwrap();
    std::fs::write(rustlib.join(HOST).join("bin/rust-lld"), b"lld, other").unwrap();
    assert_ne!(digest(&root), first);
}

#[test]
fn a_standard_library_rebuilt_in_place_under_the_same_names_and_sizes_changes_the_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let root = sysroot(tmp.path());
    let first = digests(&root)[HOST].clone();
    let std_rlib = root.join("lib/rustlib").join(HOST).join("lib/libstd-0123.rlib");
    replace_keeping_mtime(&std_rlib, b"STD");
    assert_ne!(digests(&root)[HOST], first, "same name and size, other bytes");
    replace_keeping_mtime(&std_rlib, b"std");
    assert_eq!(digests(&root)[HOST], first);
}

/// A toolchain at `root` whose `bin/rustc` answers like rustc: its version
/// is the content of its compiler library, as a real driver's is its
/// `librustc_driver`'s, and its sysroot is `root`.
fn fake_toolchain(root: &Path, version: &str) -> PathBuf {
    sysroot(root);
    std::fs::write(root.join("lib/librustc_driver-fake.so"), version).unwrap();
    let rustc = root.join("bin/rustc");
    script(
        &rustc,
        r#"root=$(cd "$(dirname "$0")/.." && pwd)
case "$1" in
  -vV) cat "$root/lib/librustc_driver-fake.so"; echo; echo "host: x86_64-unknown-linux-gnu" ;;
  --print) echo "$root" ;;
  *) exit 1 ;;
esac"#,
    );
    rustc
}

fn identity(dir: &Path, rustc: &Path) -> RustcIdentity {
    rustc_identity_settled(dir, rustc, Duration::ZERO).unwrap()
}

#[test]
fn a_toolchain_changed_behind_an_unchanged_driver_is_identified_again() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("identity");
    let root = tmp.path().join("toolchain");
    let rustc = fake_toolchain(&root, "release: 1.0.0");
    let driver_stamp = watch::stamp_of(&rustc);
    let first = identity(&cache, &rustc);
    assert_eq!(first.release, "1.0.0");
    assert_eq!(identity(&cache, &rustc), first, "cached");
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 2, "one record and its lock");

    // The compiler replaced (an update in place), the driver untouched.
    replace_keeping_mtime(&root.join("lib/librustc_driver-fake.so"), b"release: 1.0.1");
    assert_eq!(identity(&cache, &rustc).release, "1.0.1");
    replace_keeping_mtime(&root.join("lib/librustc_driver-fake.so"), b"release: 1.0.0");
    assert_eq!(identity(&cache, &rustc), first);

    // The standard library rebuilt in place: same names, sizes and times.
    let std_rlib = root.join("lib/rustlib").join(HOST).join("lib/libstd-0123.rlib");
    replace_keeping_mtime(&std_rlib, b"STD");
    let rebuilt = identity(&cache, &rustc);
    assert_ne!(rebuilt.sysroot_digest(HOST), first.sysroot_digest(HOST));
    replace_keeping_mtime(&std_rlib, b"std");
    assert_eq!(identity(&cache, &rustc), first, "the original standard library again");

    // A target added, then removed.
    let wasm = root.join("lib/rustlib/wasm32-unknown-unknown/lib");
    std::fs::create_dir_all(&wasm).unwrap();
    std::fs::write(wasm.join("libstd-4567.rlib"), b"std").unwrap();
    assert!(identity(&cache, &rustc).sysroot_digests.contains_key("wasm32-unknown-unknown"));
    std::fs::remove_dir_all(root.join("lib/rustlib/wasm32-unknown-unknown")).unwrap();
    assert_eq!(identity(&cache, &rustc), first);
    assert_eq!(watch::stamp_of(&rustc), driver_stamp, "the driver kept its stamp throughout");
}

#[test]
fn a_proxy_is_identified_by_the_toolchain_it_selects() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("identity");
    let one = fake_toolchain(&tmp.path().join("one"), "release: 1.0.0");
    fake_toolchain(&tmp.path().join("two"), "release: 2.0.0");
    // Like rustup's proxy: runs the toolchain a file outside it names.
    let selected = tmp.path().join("selected");
    let proxy = tmp.path().join("proxy/rustc");
    script(&proxy, &format!("exec \"$(cat {})/bin/rustc\" \"$@\"", selected.display()));
    std::fs::write(&selected, tmp.path().join("one").as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(identity(&cache, &proxy).release, "1.0.0");
    std::fs::write(&selected, tmp.path().join("two").as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(identity(&cache, &proxy).release, "2.0.0", "the proxy's own file did not change");
    std::fs::write(&selected, tmp.path().join("one").as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(identity(&cache, &proxy), identity(&cache, &one));
}

#[test]
fn an_identity_computed_from_fresh_files_is_not_cached() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("identity");
    let rustc = fake_toolchain(&tmp.path().join("toolchain"), "release: 1.0.0");
    rustc_identity(&cache, &rustc).unwrap();
    let mut records = std::fs::read_dir(&cache).unwrap().flatten();
    assert!(!records.any(|e| e.path().extension().is_some_and(|x| x == "json")), "nothing rested {:?}", watch::SETTLE);
}

#[test]
fn a_linker_input_changed_behind_an_unchanged_driver_is_identified_again() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("identity");
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(lib.join("crt1.o"), b"crt1 version 1").unwrap();
    std::fs::write(lib.join("libc.so.6"), b"libc version 1").unwrap();
    script(&lib.join("ld"), "exit 0");
    // A driver that finds its files in `lib`, as gcc finds them in its
    // configured directories.
    let cc = tmp.path().join("bin/cc");
    script(
        &cc,
        &format!(
            r#"lib={}
case "$1" in
  -v) echo "gcc version 12 (fake)" ;;
  -print-file-name=*) name=${{1#-print-file-name=}}; if [ -e "$lib/$name" ]; then echo "$lib/$name"; else echo "$name"; fi ;;
  -print-prog-name=ld) echo "$lib/ld" ;;
esac"#,
            lib.display()
        ),
    );
    let linker = |cache: &Path| linker_identity_settled(cache, &cc, Duration::ZERO).unwrap();
    let first = linker(&cache);
    let names: Vec<&str> = first.files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["crt1.o", "libc.so.6", "ld"]);
    assert_eq!(linker(&cache), first);
    // A libc6-dev upgrade: the startup object replaced, same size and time.
    replace_keeping_mtime(&lib.join("crt1.o"), b"crt1 version 2");
    assert_ne!(linker(&cache), first);
    replace_keeping_mtime(&lib.join("crt1.o"), b"crt1 version 1");
    assert_eq!(linker(&cache), first);
    // Written in place, the same inode.
    std::fs::write(lib.join("libc.so.6"), b"libc version 2").unwrap();
    assert_ne!(linker(&cache), first);
    std::fs::write(lib.join("libc.so.6"), b"libc version 1").unwrap();
    assert_eq!(linker(&cache), first);
    // The linker proper upgraded.
    script(&lib.join("ld"), "exit 1");
    assert_ne!(linker(&cache), first);
    // A startup object that appears where the driver looks first.
    script(&lib.join("ld"), "exit 0");
    assert_eq!(linker(&cache), first);
    std::fs::write(lib.join("crtn.o"), b"crtn").unwrap();
    assert_ne!(linker(&cache), first);
}
