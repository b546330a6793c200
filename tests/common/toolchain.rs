//! A second toolchain that needs no download: a copy of the installed one
//! (hard links, one file replaced where a test says so) registered with
//! `rustup toolchain link` under a name of its own and unlinked on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn rustup_works() -> bool {
    Command::new("rustup").arg("--version").output().is_ok_and(|out| out.status.success())
}

/// The installed default toolchain's sysroot and `rustc -vV`.
pub fn installed() -> (PathBuf, String) {
    let ask = |args: &[&str]| {
        let out = Command::new("rustc").args(args).env_remove("RUSTC").env_remove("RUSTUP_TOOLCHAIN").output().unwrap();
        assert!(out.status.success(), "rustc {args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    (PathBuf::from(ask(&["--print", "sysroot"]).trim()), ask(&["-vV"]))
}

pub fn field(verbose_version: &str, name: &str) -> String {
    verbose_version.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_default().trim().to_string()
}

/// Hard-links `from` to `to` (a copy across file systems), recursively.
pub fn link_tree(from: &Path, to: &Path) {
    let meta = std::fs::metadata(from).unwrap();
    if meta.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            link_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).unwrap();
    }
}

/// A copy of the installed toolchain registered with rustup; unlinked when
/// dropped, even when the test fails.
pub struct LinkedToolchain {
    pub name: String,
    pub dir: PathBuf,
    pub host: String,
    _tmp: tempfile::TempDir,
}

impl LinkedToolchain {
    /// What rustc needs of the installed toolchain, hard-linked: the
    /// driver, cargo, the compiler's libraries, the host's `lib/rustlib`.
    /// `None` (with the reason printed) when rustup is absent.
    pub fn new(tag: &str) -> Option<Self> {
        if !rustup_works() {
            eprintln!("skipped: rustup is not installed, so no toolchain can be linked");
            return None;
        }
        let (sysroot, verbose_version) = installed();
        let host = field(&verbose_version, "host:");
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("toolchain");
        for program in ["rustc", "cargo"] {
            std::fs::create_dir_all(dir.join("bin")).unwrap();
            link_tree(&sysroot.join("bin").join(program), &dir.join("bin").join(program));
        }
        std::fs::create_dir_all(dir.join("lib/rustlib")).unwrap();
        for entry in std::fs::read_dir(sysroot.join("lib")).unwrap() {
            let entry = entry.unwrap();
            if entry.path().is_file() {
                link_tree(&entry.path(), &dir.join("lib").join(entry.file_name()));
            }
        }
        link_tree(&sysroot.join("lib/rustlib").join(&host), &dir.join("lib/rustlib").join(&host));
        let name = format!("cargo-ipfs-test-{tag}-{}", std::process::id());
        let out = Command::new("rustup").args(["toolchain", "link", &name]).arg(&dir).output().unwrap();
        assert!(out.status.success(), "rustup toolchain link: {}", String::from_utf8_lossy(&out.stderr));
        Some(LinkedToolchain { name, dir, host, _tmp: tmp })
    }

    /// Replaces a file of the copy by a new one holding `bytes`: never
    /// written through, since it is a link to the installed toolchain's.
    pub fn replace(&self, path: &Path, bytes: &[u8]) {
        assert!(path.starts_with(&self.dir));
        std::fs::remove_file(path).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// A file of the host's standard library directory that compiling a
    /// library does not read (a sanitizer runtime, else `libtest`), so it
    /// can change without breaking the build.
    pub fn unread_std_file(&self) -> PathBuf {
        let lib = self.dir.join("lib/rustlib").join(&self.host).join("lib");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&lib).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let name = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
        files
            .iter()
            .find(|p| name(p).ends_with("san.a"))
            .or_else(|| files.iter().find(|p| name(p).starts_with("libtest-") && name(p).ends_with(".rlib")))
            .expect("a sanitizer runtime or libtest in the standard library")
            .clone()
    }
}

impl Drop for LinkedToolchain {
    fn drop(&mut self) {
        let out = Command::new("rustup").args(["toolchain", "uninstall", &self.name]).output();
        if !out.as_ref().is_ok_and(|o| o.status.success()) {
            eprintln!("could not unlink toolchain {}: {out:?}", self.name);
        }
    }
}
