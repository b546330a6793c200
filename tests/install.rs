//! `cargo ipfs install` across machines: the pinning job records the
//! installation of a registry crate with an executable (`tinytool`, whose
//! dependency's build script probes the compiler with a file that fails to
//! compile, as proc-macro2 and thiserror do), publishes and serves its
//! store; machine B (other CARGO_HOME, other paths, an empty store) installs
//! it compiling nothing, the probe gone with the build-script run restored;
//! `--build-from-source` compiles the crate's own code there.

mod common;

use common::cdemo::{ok, write_checksums};
use common::{copy_dir, Server, BIN};
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A machine whose crates.io is a directory source holding the fixture
/// packages (`tests/fixtures/registry`), with its own CARGO_HOME and store.
struct Machine {
    root: PathBuf,
    cargo_home: PathBuf,
    store: PathBuf,
}

impl Machine {
    fn new(root: &Path) -> Self {
        let (cargo_home, vendor) = (root.join("cargo-home"), root.join("vendor"));
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registry");
        for package in ["tinytool", "tooldep"] {
            copy_dir(&fixtures.join(package), &vendor.join(package));
            write_checksums(&vendor.join(package));
        }
        std::fs::create_dir_all(&cargo_home).unwrap();
        let config = format!(
            "[source.crates-io]\nreplace-with = \"fixtures\"\n[source.fixtures]\ndirectory = \"{}\"\n",
            vendor.display()
        );
        std::fs::write(cargo_home.join("config.toml"), config).unwrap();
        Machine { root: root.to_path_buf(), cargo_home, store: root.join("store") }
    }

    /// `cargo ipfs ARGS` here; cargo builds where it chooses (no target
    /// directory set, as for a user's `cargo install`).
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(&self.root)
            .env("CARGO_HOME", &self.cargo_home)
            .env("CARGO_IPFS_STORE", &self.store)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .env_remove("RUSTC_WRAPPER")
            .env_remove("CARGO_BUILD_RUSTC_WRAPPER");
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        ok(&out);
        String::from_utf8(out.stdout).unwrap()
    }

    /// `cargo ipfs install OPTIONS tinytool --root ROOT --force`.
    fn install(&self, options: &[&str], root: &str) -> Output {
        let root = self.root.join(root);
        let args = ["tinytool", "--offline", "--root", root.to_str().unwrap(), "--force"];
        let out = self.cmd(&["install"]).args(options).args(args).output().unwrap();
        ok(&out);
        out
    }

    fn stats(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["stats", "--json"])).unwrap()
    }

    fn zero(&self) {
        self.ok(&["stats", "--zero"]);
    }

    fn run_tool(&self, root: &str) -> String {
        let out = Command::new(self.root.join(root).join("bin/tinytool")).output().unwrap();
        ok(&out);
        String::from_utf8(out.stdout).unwrap()
    }
}

/// The reasons `stats` counted compilations as not cacheable, by name.
fn not_cacheable(stats: &serde_json::Value) -> Vec<String> {
    stats["not_cacheable"].as_object().unwrap().keys().cloned().collect()
}

#[test]
fn an_installed_tool_compiles_nothing_on_a_second_machine_and_builds_from_source_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    // The pinning job: records the installation, publishes, serves.
    let a = Machine::new(&tmp.path().join("a"));
    let name = a.ok(&["key", "gen", "ci"]).trim().to_string();
    a.ok(&["index", "init", "--name", "tools", "--key", "ci"]);
    a.install(&["--record"], "root");
    assert_eq!(a.run_tool("root"), "fallback\n", "the probe failed, the fallback is compiled in");
    let stats = a.stats();
    // tooldep, its build script, tinytool; the probe is never cached.
    assert_eq!((stats["misses"].as_u64(), stats["recorded"].as_u64()), (Some(3), Some(3)), "{stats}");
    assert_eq!(stats["not_cacheable"]["build-script probe"], 1, "{stats}");
    let published = a.ok(&["publish", "--name", "tools", "--allow-registry", "vendored"]);
    assert!(published.contains("4 new"), "three units and the run: {published}");
    let server = Server::start(&a.store);

    // Machine B: other paths, an empty store, A's key trusted.
    let b = Machine::new(&tmp.path().join("b/somewhere/else"));
    b.ok(&["trust", "add", "tools", &name]);
    let out = b.install(&["--gateway", &server.1], "root");
    let summary = String::from_utf8_lossy(&out.stderr);
    assert_eq!(b.run_tool("root"), "fallback\n");
    let stats = b.stats();
    assert_eq!(stats["misses"], 0, "no registry crate compiles on B: {summary}\n{stats}");
    assert_eq!(stats["hits"], 3, "{stats}");
    assert_eq!(stats["runs"]["restored"], 1, "{stats}");
    assert_eq!(stats["runs"]["executed"], 0, "the build script does not run, so it probes nothing: {stats}");
    // Nothing but cargo's questions to rustc (`-vV`, `--print`): no probe.
    assert_eq!(not_cacheable(&stats), ["print"], "{stats}");
    assert!(summary.contains("3 restored, 0 compiled"), "{summary}");

    // `--build-from-source`: the crate's own executable compiles here;
    // its dependency and that one's build-script run are still restored.
    b.zero();
    let out = b.install(&["--build-from-source", "--gateway", &server.1], "root-from-source");
    assert_eq!(b.run_tool("root-from-source"), "fallback\n");
    let stats = b.stats();
    assert_eq!(stats["not_cacheable"]["built from source"], 1, "{stats}");
    assert_eq!((stats["hits"].as_u64(), stats["misses"].as_u64()), (Some(2), Some(0)), "{stats}");
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("built from source"), "{summary}");

    // Machine C: `--locked tinytool@0.1.0`, whose `.crate` is in cargo's
    // cache: what its packaged Cargo.lock names is fetched while cargo runs.
    let c = Machine::new(&tmp.path().join("c"));
    c.ok(&["trust", "add", "tools", &name]);
    let checksum = hex::encode(sha2::Sha256::digest(b"tooldep-0.1.0.crate"));
    let lock = format!(
        "version = 3\n\n[[package]]\nname = \"tinytool\"\nversion = \"0.1.0\"\ndependencies = [\"tooldep\"]\n\n\
         [[package]]\nname = \"tooldep\"\nversion = \"0.1.0\"\n\
         source = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{checksum}\"\n"
    );
    let manifest =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registry/tinytool/Cargo.toml"))
            .unwrap();
    let cache = c.cargo_home.join("registry/cache/fixtures");
    std::fs::create_dir_all(&cache).unwrap();
    let files: [(&str, &[u8]); 2] = [("Cargo.toml", &manifest), ("Cargo.lock", lock.as_bytes())];
    std::fs::write(cache.join("tinytool-0.1.0.crate"), common::fake_crate::dot_crate("tinytool-0.1.0", &files))
        .unwrap();
    let root = c.root.join("root");
    let out = c
        .cmd(&["install", "--gateway", &server.1, "--locked", "tinytool@0.1.0", "--offline", "--force", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    ok(&out);
    let summary = String::from_utf8_lossy(&out.stderr);
    let line = summary.lines().find(|l| l.contains("prefetched")).unwrap_or_else(|| panic!("{summary}"));
    // tooldep's library, its build script and its run, fetched by the
    // prefetch or found local when a wrapper was first.
    let numbers: Vec<u64> = line.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse().ok()).collect();
    assert!(line.contains("tinytool's packaged Cargo.lock") && numbers[0] + numbers[1] >= 3, "{line}");
    assert_eq!(c.stats()["misses"], 0, "{summary}");
    assert_eq!(c.run_tool("root"), "fallback\n");
}
