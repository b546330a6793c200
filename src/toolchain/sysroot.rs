//! What rustc reads from its sysroot, as a digest per target.
//!
//! The digest enters cache keys on every machine, so it rests on content:
//! the name, size and sha256 of each file. Names and sizes alone would let
//! a standard library rebuilt in place under the same names (a custom
//! sysroot, a toolchain replaced behind its name) give the old key. The
//! hashing (about 180 MB for a rustup toolchain's host target) happens
//! once per toolchain and store: the result is cached under the stamps of
//! every file and directory read (see `super::watch`).

use super::watch::Watched;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// At most this many threads hash the sysroot's files: the hashing is
/// bound by memory bandwidth past a few cores, and the wrappers of a
/// build's first jobs run meanwhile.
const MAX_HASH_THREADS: usize = 4;

/// Stamps the compiler's own libraries beside the sysroot's `lib/rustlib`
/// (`librustc_driver-*.so`, LLVM): they are the compiler, which `rustc -vV`
/// names by release and commit, and an update in place replaces them while
/// the `rustc` driver may keep its stamp.
pub(super) fn watch_compiler(sysroot: &Path, watched: &mut Watched) {
    let lib = sysroot.join("lib");
    watched.add(&lib);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    for file in files {
        watched.add(&file);
    }
}

/// Per target under `lib/rustlib/`, sha256 over the names, sizes and
/// content digests of what rustc reads from the sysroot when it compiles
/// for that target: the target's libraries (`lib/`), and the host's codegen
/// backends and the linkers it ships (`bin/`, but the `llvm-*` tools of the
/// `llvm-tools` component). Not rustup's own files beside them
/// (`components`, `manifest-*`, `multirust-*`), which differ between
/// installation profiles, nor sources and documentation (`src`, `doc`,
/// `etc`), nor other targets' libraries: a CI with the minimal profile and
/// a developer with `rust-src` and a wasm target share hits. Every file and
/// directory read is stamped into `watched`.
pub(super) fn sysroot_digests(sysroot: &Path, host: &str, watched: &mut Watched) -> BTreeMap<String, String> {
    let rustlib = sysroot.join("lib/rustlib");
    watched.add(&rustlib);
    let mut host_tools = Vec::new();
    for part in ["codegen-backends", "bin"] {
        list_files(&rustlib.join(host).join(part), sysroot, &mut host_tools, watched);
    }
    let mut targets = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&rustlib).into_iter().flatten().flatten().map(|e| e.path()).collect();
    entries.sort();
    for target in entries {
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !target.is_dir() || ["src", "doc", "etc"].contains(&name.as_str()) {
            continue;
        }
        watched.add(&target);
        let mut files = host_tools.clone();
        list_files(&target.join("lib"), sysroot, &mut files, watched);
        files
            .retain(|file| !Path::new(&file.rel).file_name().is_some_and(|f| f.to_string_lossy().starts_with("llvm-")));
        files.sort_by(|a, b| a.rel.cmp(&b.rel));
        files.dedup_by(|a, b| a.rel == b.rel);
        targets.push((name, files));
    }
    let mut unique: Vec<PathBuf> = targets.iter().flat_map(|(_, files)| files.iter().map(|f| f.path.clone())).collect();
    unique.sort();
    unique.dedup();
    let contents = hash_all(&unique);
    targets
        .into_iter()
        .map(|(name, files)| {
            let mut h = Sha256::new();
            for file in &files {
                let content = contents.get(&file.path).map_or("unreadable", String::as_str);
                h.update(format!("{}\t{}\t{content}\n", file.rel, file.size));
            }
            (name, hex::encode(h.finalize()))
        })
        .collect()
}

#[derive(Clone)]
struct File {
    rel: String,
    path: PathBuf,
    size: u64,
}

fn list_files(dir: &Path, base: &Path, out: &mut Vec<File>, watched: &mut Watched) {
    watched.add(dir);
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if meta.is_dir() {
            list_files(&path, base, out, watched);
        } else {
            // Stamped before it is hashed.
            watched.add(&path);
            let rel = path.strip_prefix(base).unwrap_or(&path).to_string_lossy().into_owned();
            out.push(File { rel, path, size: meta.len() });
        }
    }
}

/// sha256 of each file's content, on a few threads; an unreadable file is
/// left out (and named `unreadable` in the digest).
fn hash_all(files: &[PathBuf]) -> BTreeMap<PathBuf, String> {
    let next = AtomicUsize::new(0);
    let out = Mutex::new(BTreeMap::new());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_HASH_THREADS);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = vec![0u8; 1 << 20];
                while let Some(path) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if let Ok(digest) = hash_file(path, &mut buf) {
                        out.lock().expect("digests").insert(path.clone(), digest);
                    }
                }
            });
        }
    });
    out.into_inner().expect("digests")
}

fn hash_file(path: &Path, buf: &mut [u8]) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    loop {
        let n = file.read(buf)?;
        if n == 0 {
            return Ok(hex::encode(h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// sha256 of one file's content, hex.
pub(super) fn file_digest(path: &Path) -> std::io::Result<String> {
    hash_file(path, &mut vec![0u8; 1 << 16])
}
