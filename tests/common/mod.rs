//! Helpers shared by the integration tests that build real projects: a
//! "machine" is a CARGO_HOME, a target directory, a project path and a store.
#![allow(dead_code)]

pub mod cdemo;
pub mod fake_crate;
pub mod hostile_gateway;
pub mod toolchain;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_cargo-ipfs");

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A CARGO_HOME holding the registry index and `.crate` files this machine
/// already has, so builds run offline.
pub fn seeded_cargo_home(dir: &Path) -> PathBuf {
    let real = home::cargo_home().unwrap();
    for part in ["index", "cache"] {
        let from = real.join("registry").join(part);
        if from.is_dir() {
            copy_dir(&from, &dir.join("registry").join(part));
        }
    }
    dir.to_path_buf()
}

pub struct Machine {
    pub cargo_home: PathBuf,
    pub target: PathBuf,
    pub project: PathBuf,
    pub store: PathBuf,
}

impl Machine {
    pub fn new(root: &Path, project_path: &str, store: &Path) -> Self {
        let project = root.join(project_path);
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/projects/demo"), &project);
        Machine {
            cargo_home: seeded_cargo_home(&root.join("cargo-home")),
            target: root.join("target"),
            project,
            store: store.to_path_buf(),
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(BIN);
        cmd.args(args);
        cmd
    }

    /// `program` in this machine's project directory and environment.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.project)
            .env("CARGO_HOME", &self.cargo_home)
            .env("CARGO_TARGET_DIR", &self.target)
            .env("CARGO_IPFS_STORE", &self.store)
            .env("CARGO_IPFS_EXPLAIN", self.cargo_home.parent().unwrap().join("explain"))
            .env_remove("RUSTC_WRAPPER")
            .env_remove("CARGO_BUILD_RUSTC_WRAPPER");
        cmd
    }

    /// Runs the real binary with `args`, asserting success; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn build(&self, record: bool) -> Output {
        let mut args = vec!["build"];
        if record {
            args.push("--record");
        }
        args.extend(["--offline", "--locked"]);
        let out = self.cmd(&args).output().unwrap();
        if !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("offline") {
            // The registry copy lacked a crate: fetch it, then build again.
            let fetched = Command::new("cargo")
                .arg("fetch")
                .current_dir(&self.project)
                .env("CARGO_HOME", &self.cargo_home)
                .status()
                .unwrap();
            assert!(fetched.success());
            return self.cmd(&args).output().unwrap();
        }
        out
    }

    pub fn stats(&self) -> serde_json::Value {
        let out = self.cmd(&["stats", "--json"]).output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn run_binary(&self) -> String {
        let out = Command::new(self.target.join("debug/demo")).output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }
}

/// A pinning CI job's machine after its first publication: the demo project
/// recorded, and index `demo-index` published under key `ci`.
pub struct Publisher {
    pub machine: Machine,
    /// The IPNS name of the index.
    pub name: String,
    /// How many units the build recorded.
    pub recorded: u64,
    /// What `publish` printed.
    pub published: String,
}

impl Publisher {
    pub fn new(root: &Path, project_path: &str) -> Self {
        let machine = Machine::new(root, project_path, &root.join("store"));
        let name = machine.ok(&["key", "gen", "ci"]).trim().to_string();
        machine.ok(&["index", "init", "--name", "demo-index", "--key", "ci"]);
        let out = machine.build(true);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let recorded = machine.stats()["recorded"].as_u64().unwrap();
        assert!(recorded >= 9);
        let published = machine.ok(&["publish", "--name", "demo-index"]);
        Publisher { machine, name, recorded, published }
    }
}

/// A temporary directory with a store in it, and helpers that run the real
/// `cargo-ipfs` binary there.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env { dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn store(&self) -> PathBuf {
        self.path("store")
    }

    pub fn keystore(&self) -> PathBuf {
        self.path("store/keystore")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(self.dir.path()).env("CARGO_IPFS_STORE", self.store());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and asserts success, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and asserts failure with one `error:` line on stderr, returning it.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "one-line error expected, got {err:?}");
        assert!(err.starts_with("error: ") && !err.contains("panicked"), "{err}");
        err
    }

    /// Writes a file under the directory, creating folders.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

/// `cargo-ipfs serve` over a store (the child and its URL), killed on drop.
pub struct Server(pub Child, pub String);

impl Server {
    /// Serves `store` as [`spawn_serve`] does.
    pub fn start(store: &Path) -> Self {
        let (child, url) = spawn_serve(store, &[], Stdio::null());
        Server(child, url)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A path as a `&str` argument.
pub fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Every file below `dir`, recursively.
pub fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Starts `cargo-ipfs serve --listen 127.0.0.1:0 ARGS` over `store` and
/// returns the child and its base URL, read from the first stdout line
/// within 20 s (the child is killed if none comes).
pub fn spawn_serve(store: &Path, args: &[&str], stderr: Stdio) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("CARGO_IPFS_STORE", store)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            panic!("the server printed no address within 20 s");
        }
    };
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("first line: {line:?}")).to_string();
    (child, url)
}
