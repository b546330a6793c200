//! Who compiles and who links: the rustc identity and the host linker
//! identity that go into cache keys.
//!
//! Computing them runs programs (`rustc -vV`, `cc -v`) and hashes files
//! (the sysroot's libraries, the C runtime's startup objects, libc), which
//! is too slow for every wrapper call. The result is kept in a small file
//! named after the program's path, size and modification time, so it is
//! recomputed exactly when the program changes.

use crate::atomic_file::Durability;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The compiler identity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RustcIdentity {
    /// `rustc -vV` output.
    pub verbose_version: String,
    /// The `release` line, e.g. `1.95.0`.
    pub release: String,
    /// The `commit-hash` line.
    pub commit_hash: String,
    /// The `host` line.
    pub host: String,
    /// Per target installed in the sysroot's `lib/rustlib`, sha256 over the
    /// names and sizes of the files rustc reads when it compiles for that
    /// target (its standard library, and the host's codegen backends and
    /// shipped linkers); see `sysroot_digests`.
    pub sysroot_digests: BTreeMap<String, String>,
    /// The sysroot path on this machine (normalized out of artifacts).
    pub sysroot: PathBuf,
}

impl RustcIdentity {
    /// The sysroot digest for compiling to `target`; `-` when the sysroot
    /// has no standard library for it (a target built with `build-std`).
    pub fn sysroot_digest(&self, target: &str) -> &str {
        self.sysroot_digests.get(target).map_or("-", String::as_str)
    }

    /// The short form written into index entries: `release commit-hash`.
    pub fn short(&self) -> String {
        format!("{} {}", self.release, self.commit_hash)
    }
}

/// The identity of what the system linker puts into a linked output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkerIdentity {
    /// The linker driver's `-v` output (version and configuration).
    pub version: String,
    /// sha256 of each startup object and of libc, by name.
    pub files: Vec<(String, String)>,
}

fn cache_file(dir: &Path, kind: &str, program: &Path) -> Option<PathBuf> {
    let meta = std::fs::metadata(program).ok()?;
    let mtime = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
    let mut h = Sha256::new();
    h.update(program.as_os_str().as_encoded_bytes());
    h.update(meta.len().to_le_bytes());
    h.update(mtime.to_le_bytes());
    Some(dir.join(format!("{kind}-{}.json", &hex::encode(h.finalize())[..32])))
}

fn cached<T: serde::Serialize + serde::de::DeserializeOwned>(
    dir: &Path,
    kind: &str,
    program: &Path,
    compute: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let file = cache_file(dir, kind, program);
    if let Some(bytes) = file.as_ref().and_then(|f| std::fs::read(f).ok()) {
        if let Ok(value) = serde_json::from_slice(&bytes) {
            return Ok(value);
        }
    }
    let value = compute()?;
    if let Some(file) = file {
        let _ = std::fs::create_dir_all(dir);
        let _ = crate::atomic_file::replace(&file, &serde_json::to_vec(&value)?, Durability::Unsynced);
    }
    Ok(value)
}

/// Finds `program` on PATH unless it is already a path.
pub fn resolve_program(program: &Path) -> PathBuf {
    if program.components().count() > 1 {
        return program.to_path_buf();
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| program.to_path_buf())
}

fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output()?;
    if !out.status.success() {
        anyhow::bail!("{:?} exited with {}", cmd, out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

/// The identity of `rustc` (cached in `dir`).
pub fn rustc_identity(dir: &Path, rustc: &Path) -> anyhow::Result<RustcIdentity> {
    let rustc = resolve_program(rustc);
    // `rustc2`: identities cached before the sysroot digest left out
    // rustup's files are not read again.
    cached(dir, "rustc2", &rustc, || {
        // Both questions at once: each is a rustc start-up.
        let (verbose_version, sysroot) = std::thread::scope(|s| {
            let sysroot = s.spawn(|| output(Command::new(&rustc).args(["--print", "sysroot"])));
            let verbose_version = output(Command::new(&rustc).arg("-vV"));
            (verbose_version, sysroot.join().unwrap_or_else(|_| Err(anyhow::anyhow!("rustc --print sysroot panicked"))))
        });
        let verbose_version = verbose_version?;
        let sysroot = PathBuf::from(sysroot?.trim());
        let field = |name: &str| {
            verbose_version.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string())).unwrap_or_default()
        };
        let host = field("host:");
        Ok(RustcIdentity {
            release: field("release:"),
            commit_hash: field("commit-hash:"),
            sysroot_digests: sysroot_digests(&sysroot, &host),
            host,
            verbose_version,
            sysroot,
        })
    })
}

/// Per target under `lib/rustlib/`, sha256 over the names and sizes of
/// what rustc reads from the sysroot when it compiles for that target: the
/// target's libraries (`lib/`), and the host's codegen backends and the
/// linkers it ships (`bin/`, but the `llvm-*` tools of the `llvm-tools`
/// component). Not rustup's own files beside them (`components`,
/// `manifest-*`, `multirust-*`), which differ between installation
/// profiles, nor sources and documentation (`src`, `doc`, `etc`), nor other
/// targets' libraries: a CI with the minimal profile and a developer with
/// `rust-src` and a wasm target share hits.
fn sysroot_digests(sysroot: &Path, host: &str) -> BTreeMap<String, String> {
    let rustlib = sysroot.join("lib/rustlib");
    let mut host_tools = Vec::new();
    for part in ["codegen-backends", "bin"] {
        list_files(&rustlib.join(host).join(part), sysroot, &mut host_tools);
    }
    let mut digests = BTreeMap::new();
    for target in std::fs::read_dir(&rustlib).into_iter().flatten().flatten() {
        let name = target.file_name().to_string_lossy().into_owned();
        if !target.path().is_dir() || ["src", "doc", "etc"].contains(&name.as_str()) {
            continue;
        }
        let mut files = host_tools.clone();
        list_files(&target.path().join("lib"), sysroot, &mut files);
        files
            .retain(|(file, _)| !Path::new(file).file_name().is_some_and(|f| f.to_string_lossy().starts_with("llvm-")));
        files.sort();
        files.dedup();
        let mut h = Sha256::new();
        for (file, size) in &files {
            h.update(format!("{file}\t{size}\n"));
        }
        digests.insert(name, hex::encode(h.finalize()));
    }
    digests
}

fn list_files(dir: &Path, base: &Path, out: &mut Vec<(String, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            list_files(&path, base, out);
        } else {
            let rel = path.strip_prefix(base).unwrap_or(&path).to_string_lossy().into_owned();
            out.push((rel, meta.len()));
        }
    }
}

/// The identity of the linker driver `linker` (cached in `dir`): its
/// version and the digests of the startup objects and libc it links.
pub fn linker_identity(dir: &Path, linker: &Path) -> anyhow::Result<LinkerIdentity> {
    let linker = resolve_program(linker);
    cached(dir, "linker", &linker, || {
        let version = output(Command::new(&linker).arg("-v"))?;
        let mut files = Vec::new();
        for name in [
            "crt1.o",
            "Scrt1.o",
            "crti.o",
            "crtn.o",
            "crtbeginS.o",
            "crtendS.o",
            "libc.so.6",
            "libc.so",
            "libgcc_s.so.1",
        ] {
            let Ok(found) = output(Command::new(&linker).arg(format!("-print-file-name={name}"))) else { continue };
            let path = PathBuf::from(found.lines().next().unwrap_or_default().trim());
            // The driver echoes the bare name when it does not know the file.
            if path.components().count() > 1 {
                if let Ok(bytes) = std::fs::read(&path) {
                    files.push((name.to_string(), hex::encode(Sha256::digest(&bytes))));
                }
            }
        }
        Ok(LinkerIdentity { version, files })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_sysroot_digest_covers_what_rustc_reads_and_not_rustups_files() {
        const HOST: &str = "x86_64-unknown-linux-gnu";
        let tmp = tempfile::tempdir().unwrap();
        let root = sysroot(tmp.path());
        let digest = |root: &Path| sysroot_digests(root, HOST)[HOST].clone();
        let first = digest(&root);
        // Another installation profile: more components listed, manifests,
        // sources, documentation, the llvm tools, another target.
        let rustlib = root.join("lib/rustlib");
        std::fs::write(rustlib.join("components"), b"rustc\nrust-std\nrust-src\nclippy-preview\n").unwrap();
        std::fs::write(rustlib.join("manifest-rust-src"), b"file:lib/rustlib/src/rust/library/core/src/lib.rs")
            .unwrap();
        std::fs::write(rustlib.join("multirust-channel-manifest.toml"), b"[pkg]").unwrap();
        std::fs::create_dir_all(rustlib.join("src/rust/library/core/src")).unwrap();
        std::fs::write(rustlib.join("src/rust/library/core/src/lib.rs"), b"//! core").unwrap();
        std::fs::create_dir_all(rustlib.join("etc")).unwrap();
        std::fs::write(rustlib.join("etc/gdb_load_rust_pretty_printers.py"), b"#").unwrap();
        std::fs::write(rustlib.join(HOST).join("bin/llvm-objdump"), b"llvm").unwrap();
        std::fs::create_dir_all(rustlib.join("wasm32-unknown-unknown/lib")).unwrap();
        std::fs::write(rustlib.join("wasm32-unknown-unknown/lib/libstd-4567.rlib"), b"std").unwrap();
        assert_eq!(digest(&root), first, "the same compiler and standard library");
        let all = sysroot_digests(&root, HOST);
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
}
