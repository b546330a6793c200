//! A crate laid out as a registry package in a CARGO_HOME, compiled by the
//! wrapper the way cargo compiles it, with its `.crate` beside it.

use super::BIN;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A `.crate` file: a gzipped tar of `files` under `top/`.
pub fn dot_crate(top: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("{top}/{name}"), *bytes).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// A crate laid out as a registry package in a CARGO_HOME, compiled by the
/// wrapper the way cargo would compile it.
pub struct FakeCrate {
    pub tmp: tempfile::TempDir,
    pub cargo_home: PathBuf,
    pub src: PathBuf,
    pub out: PathBuf,
}

impl FakeCrate {
    pub fn new(source: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let cargo_home = tmp.path().join("cargo-home");
        let pkg = cargo_home.join("registry/src/index.crates.io-0000000000000000/probe-0.1.0");
        std::fs::create_dir_all(pkg.join("src")).unwrap();
        std::fs::write(pkg.join("src/lib.rs"), source).unwrap();
        let cache = cargo_home.join("registry/cache/index.crates.io-0000000000000000");
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join("probe-0.1.0.crate"), dot_crate("probe-0.1.0", &[("src/lib.rs", source.as_bytes())]))
            .unwrap();
        let out = tmp.path().join("target/debug/deps");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(tmp.path().join("target/CACHEDIR.TAG"), b"Signature: 8a477f597d28d172789f06886806bc55").unwrap();
        FakeCrate { src: pkg.join("src/lib.rs"), tmp, cargo_home, out }
    }

    /// The wrapper running `rustc` on the source `src` (its package
    /// directory two levels up) as cargo would, recording into this store.
    pub fn command(&self, rustc: &Path, src: &Path) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg(rustc)
            .args(["--crate-name", "probe", "--edition=2021", src.to_str().unwrap()])
            .args(["--crate-type", "lib", "--emit=dep-info,metadata,link", "-C", "extra-filename=-0123456789abcdef"])
            .args(["--out-dir", self.out.to_str().unwrap()])
            .env("CARGO_HOME", &self.cargo_home)
            .env("CARGO_IPFS_STORE", self.tmp.path().join("store"))
            .env("CARGO_IPFS_MODE", "record")
            .env("CARGO_MANIFEST_DIR", src.parent().unwrap().parent().unwrap())
            .env("CARGO_PKG_NAME", "probe")
            .env("CARGO_PKG_VERSION", "0.1.0")
            .env_remove("OUT_DIR")
            .env_remove("CARGO_IPFS_LOCAL");
        cmd
    }

    /// Compiles through the wrapper with `extra` arguments and `env`.
    pub fn compile(&self, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(Path::new("rustc"), &self.src);
        cmd.args(extra);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    pub fn counts(&self) -> (u64, u64) {
        let out = Command::new(BIN)
            .args(["stats", "--json"])
            .env("CARGO_IPFS_STORE", self.tmp.path().join("store"))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (v["hits"].as_u64().unwrap(), v["misses"].as_u64().unwrap())
    }

    /// Compiles and says whether it was a hit, checking success.
    pub fn hit(&self, extra: &[&str], env: &[(&str, &str)]) -> bool {
        let before = self.counts();
        let out = self.compile(extra, env);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let after = self.counts();
        assert_eq!(after.0 + after.1, before.0 + before.1 + 1, "one cacheable compilation");
        after.0 > before.0
    }

    /// What `cargo ipfs stats --json` says of this store.
    pub fn stats(&self) -> serde_json::Value {
        let out = Command::new(BIN)
            .args(["stats", "--json"])
            .env("CARGO_IPFS_STORE", self.tmp.path().join("store"))
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn rlib(&self) -> Vec<u8> {
        std::fs::read(self.out.join("libprobe-0123456789abcdef.rlib")).unwrap()
    }
}

pub const PROBE: &str = r#"
pub const VALUE: &str = env!("PROBE_VALUE");
#[cfg(feature = "extra")]
pub fn extra() -> u32 { 1 }
#[cfg(probe_cfg)]
pub fn configured() -> u32 { 2 }
pub fn answer() -> u32 { 42 }
"#;
