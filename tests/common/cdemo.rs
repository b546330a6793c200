//! The `cdemo` fixture on a "machine": a project whose vendored dependency
//! `cfix` compiles C through `cc` in its build script, with a logging C
//! compiler shim.

use super::{copy_dir, seeded_cargo_home, walk_files, BIN};
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A machine for the `cdemo` fixture: its own CARGO_HOME, target
/// directory, project path and C compiler log. The C compiler is a shim
/// named `cc` first on PATH (the same script on every machine), which logs
/// every call and runs the system's.
pub struct CMachine {
    pub root: PathBuf,
    pub cargo_home: PathBuf,
    pub target: PathBuf,
    pub project: PathBuf,
    pub store: PathBuf,
}

impl CMachine {
    pub fn new(root: &Path, project_path: &str, store: &Path) -> Self {
        let project = root.join(project_path);
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/projects/cdemo"), &project);
        write_checksums(&project.join("vendor/cfix"));
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let real_cc = String::from_utf8(Command::new("sh").args(["-c", "command -v cc"]).output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_string();
        assert!(!real_cc.is_empty(), "these tests need a C compiler named cc");
        let shim = bin.join("cc");
        std::fs::write(&shim, format!("#!/bin/sh\nprintf '%s\\n' \"$*\" >> \"$CC_SHIM_LOG\"\nexec {real_cc} \"$@\"\n"))
            .unwrap();
        std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(&shim).unwrap().permissions(), 0o755);
        std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        CMachine {
            root: root.to_path_buf(),
            cargo_home: seeded_cargo_home(&root.join("cargo-home")),
            target: root.join("target"),
            project,
            store: store.to_path_buf(),
        }
    }

    pub fn command(&self, program: &str) -> Command {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![self.root.join("bin")];
        dirs.extend(std::env::split_paths(&path));
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.project)
            .env("PATH", std::env::join_paths(dirs).unwrap())
            .env("CC_SHIM_LOG", self.root.join("cc.log"))
            .env("CARGO_HOME", &self.cargo_home)
            .env("CARGO_TARGET_DIR", &self.target)
            .env("CARGO_IPFS_STORE", &self.store)
            .env_remove("CFIX_VALUE")
            .env_remove("CC")
            .env_remove("CFLAGS")
            .env_remove("RUSTC_WRAPPER")
            .env_remove("CARGO_BUILD_RUSTC_WRAPPER");
        cmd
    }

    /// `cargo ipfs build` (recording when asked) with `args` and `env`.
    pub fn build(&self, record: bool, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(BIN);
        cmd.args(["build", "--no-fetch"]);
        if record {
            cmd.arg("--record");
        }
        cmd.args(["--offline", "--locked"]).args(args).envs(env.iter().copied());
        cmd.output().unwrap()
    }

    /// `cargo ipfs ARGS` here, asserting success; its stdout.
    pub fn ipfs(&self, args: &[&str]) -> String {
        let out = self.command(BIN).args(args).output().unwrap();
        ok(&out);
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn stats(&self) -> serde_json::Value {
        let out = self.command(BIN).args(["stats", "--json"]).output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn zero(&self) {
        assert!(self.command(BIN).args(["stats", "--zero"]).output().unwrap().status.success());
    }

    pub fn run_binary(&self) -> String {
        let out = Command::new(self.target.join("debug/cdemo")).output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }

    /// How many times the C compiler compiled `answer.c`, and forget.
    pub fn c_compiles(&self) -> usize {
        let log = self.root.join("cc.log");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        text.lines().filter(|l| l.contains("answer.c")).count()
    }
}

/// `.cargo-checksum.json` as `cargo vendor` writes it, for the package
/// `DIRNAME-0.1.0` (its checksum made up).
pub fn write_checksums(dir: &Path) {
    let mut files = serde_json::Map::new();
    for file in walk_files(dir) {
        let rel = file.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
        if rel != ".cargo-checksum.json" {
            let digest = format!("{:x}", sha2::Sha256::digest(std::fs::read(&file).unwrap()));
            files.insert(rel, digest.into());
        }
    }
    let name = dir.file_name().unwrap().to_string_lossy();
    let package = format!("{:x}", sha2::Sha256::digest(format!("{name}-0.1.0.crate")));
    let json = serde_json::json!({"files": files, "package": package});
    std::fs::write(dir.join(".cargo-checksum.json"), json.to_string()).unwrap();
}

pub fn ok(out: &Output) {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Whether `haystack` holds `needle`.
pub fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}
