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
    /// sha256 over the names and sizes of every file in the sysroot's
    /// `lib/rustlib` (the standard library a crate links against).
    pub sysroot_digest: String,
    /// The sysroot path on this machine (normalized out of artifacts).
    pub sysroot: PathBuf,
}

impl RustcIdentity {
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
    cached(dir, "rustc", &rustc, || {
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
        let mut files = Vec::new();
        list_files(&sysroot.join("lib/rustlib"), &sysroot, &mut files);
        files.sort();
        let mut h = Sha256::new();
        for (name, size) in &files {
            h.update(format!("{name}\t{size}\n"));
        }
        Ok(RustcIdentity {
            release: field("release:"),
            commit_hash: field("commit-hash:"),
            host: field("host:"),
            verbose_version,
            sysroot_digest: hex::encode(h.finalize()),
            sysroot,
        })
    })
}

fn list_files(dir: &Path, base: &Path, out: &mut Vec<(String, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            // Documentation and sources do not reach artifacts.
            let name = entry.file_name();
            if name != "src" && name != "doc" && name != "etc" {
                list_files(&path, base, out);
            }
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
