//! The cache key: one digest over every input that can change what rustc
//! writes. Pure: the caller gathers the inputs (see [`super::run`]).
//!
//! Machine paths never enter the key: arguments arrive normalized
//! (CARGO_HOME, the target directory and the sysroot replaced by
//! placeholders), `--extern` dependencies enter by content digest, files in
//! OUT_DIR by relative path and content digest, native libraries named by
//! `-l` by the digest of the file found in the `-L` directories.

use crate::toolchain::{LinkerIdentity, RustcIdentity};
use sha2::{Digest, Sha256};

/// The version of the cache key's derivation: the inputs it covers and
/// how they are encoded. Raised when either changes, so that a key made
/// the new way never equals one made the old way; stored packs and index
/// entries stay readable, they just stop being hits.
pub const CACHE_KEY_VERSION: u32 = 1;

/// Everything the key covers.
#[derive(Debug, Clone)]
pub struct KeyInputs<'a> {
    /// The compiler.
    pub rustc: &'a RustcIdentity,
    /// The target triple (the host's when not cross-compiling).
    pub target: &'a str,
    /// The crate's source identity: name, version and registry checksum.
    pub source: &'a str,
    /// The rustc arguments, normalized.
    pub args: &'a [String],
    /// `--extern` dependencies: name and content digest, sorted.
    pub externs: &'a [(String, String)],
    /// Files under OUT_DIR: relative path and content digest, sorted.
    pub out_dir: &'a [(String, String)],
    /// Native libraries named by `-l`: the flag's value and the digest of
    /// the file it finds in the `-L` directories (`-` when none there).
    pub native: &'a [(String, String)],
    /// The linker, when the output is linked by the system linker.
    pub linker: Option<&'a LinkerIdentity>,
    /// Environment variables the compiler or linker read that are set
    /// (`RUSTC_BOOTSTRAP`; `LIBRARY_PATH`, `LD_RUN_PATH` for linked
    /// outputs), values normalized; none set adds nothing to the key.
    pub toolchain_env: &'a [(String, String)],
}

/// A length-prefixed field, so that no two different inputs hash alike.
fn field(h: &mut Sha256, name: &str, value: &[u8]) {
    h.update((name.len() as u64).to_le_bytes());
    h.update(name.as_bytes());
    h.update((value.len() as u64).to_le_bytes());
    h.update(value);
}

/// The cache key, as 64 hex digits.
pub fn cache_key(inputs: &KeyInputs) -> String {
    let mut h = Sha256::new();
    field(&mut h, "domain", b"cargo-ipfs-fetch cache key");
    field(&mut h, "format", &CACHE_KEY_VERSION.to_le_bytes());
    field(&mut h, "rustc", inputs.rustc.verbose_version.as_bytes());
    field(&mut h, "sysroot", inputs.rustc.sysroot_digest(inputs.target).as_bytes());
    field(&mut h, "target", inputs.target.as_bytes());
    field(&mut h, "source", inputs.source.as_bytes());
    field(&mut h, "args", &(inputs.args.len() as u64).to_le_bytes());
    for arg in inputs.args {
        field(&mut h, "arg", arg.as_bytes());
    }
    field(&mut h, "externs", &(inputs.externs.len() as u64).to_le_bytes());
    for (name, digest) in inputs.externs {
        field(&mut h, name, digest.as_bytes());
    }
    field(&mut h, "out_dir", &(inputs.out_dir.len() as u64).to_le_bytes());
    for (path, digest) in inputs.out_dir {
        field(&mut h, path, digest.as_bytes());
    }
    field(&mut h, "native", &(inputs.native.len() as u64).to_le_bytes());
    for (lib, digest) in inputs.native {
        field(&mut h, lib, digest.as_bytes());
    }
    match inputs.linker {
        Some(linker) => {
            field(&mut h, "linker", linker.version.as_bytes());
            for (name, digest) in &linker.files {
                field(&mut h, name, digest.as_bytes());
            }
        }
        None => field(&mut h, "linker", b"(not linked)"),
    }
    if !inputs.toolchain_env.is_empty() {
        field(&mut h, "toolchain env", &(inputs.toolchain_env.len() as u64).to_le_bytes());
        for (name, value) in inputs.toolchain_env {
            field(&mut h, name, value.as_bytes());
        }
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn rustc(version: &str) -> RustcIdentity {
        RustcIdentity {
            verbose_version: format!("rustc {version}"),
            release: version.into(),
            commit_hash: "abc".into(),
            host: "x86_64-unknown-linux-gnu".into(),
            sysroot_digests: [("t".to_string(), "00".to_string())].into(),
            sysroot: PathBuf::from("/sysroot"),
        }
    }

    #[test]
    fn every_input_changes_the_key() {
        let r1 = rustc("1.95.0");
        let r2 = rustc("1.96.0");
        let args = vec!["--crate-name".to_string(), "foo".into()];
        let externs = vec![("bar".to_string(), "d1".to_string())];
        let out = vec![("gen.rs".to_string(), "d2".to_string())];
        let linker = LinkerIdentity { version: "gcc 12".into(), files: vec![("crt1.o".into(), "d3".into())] };
        let base = KeyInputs {
            rustc: &r1,
            target: "t",
            source: "foo 1.0.0 sum",
            args: &args,
            externs: &externs,
            out_dir: &out,
            native: &[],
            linker: None,
            toolchain_env: &[],
        };
        let key = cache_key(&base);
        assert_eq!(key.len(), 64);
        assert_eq!(key, cache_key(&base.clone()), "deterministic");

        let args2 = vec!["--crate-name".to_string(), "foo".into(), "--cfg".into(), "x".into()];
        let externs2 = vec![("bar".to_string(), "d9".to_string())];
        let out2 = vec![("gen.rs".to_string(), "d9".to_string())];
        let native = vec![("static=z".to_string(), "d4".to_string())];
        let linker2 = LinkerIdentity { version: "gcc 13".into(), files: linker.files.clone() };
        let bootstrap = vec![("RUSTC_BOOTSTRAP".to_string(), "1".to_string())];
        let variants = [
            KeyInputs { rustc: &r2, ..base.clone() },
            KeyInputs { target: "u", ..base.clone() },
            KeyInputs { source: "foo 1.0.1 sum", ..base.clone() },
            KeyInputs { args: &args2, ..base.clone() },
            KeyInputs { externs: &externs2, ..base.clone() },
            KeyInputs { out_dir: &out2, ..base.clone() },
            KeyInputs { native: &native, ..base.clone() },
            KeyInputs { linker: Some(&linker), ..base.clone() },
            KeyInputs { toolchain_env: &bootstrap, ..base.clone() },
        ];
        let mut seen = std::collections::BTreeSet::from([key]);
        for v in &variants {
            assert!(seen.insert(cache_key(v)), "{v:?} collides");
        }
        let with_linker = cache_key(&KeyInputs { linker: Some(&linker), ..base.clone() });
        assert_ne!(with_linker, cache_key(&KeyInputs { linker: Some(&linker2), ..base }));
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let r = rustc("1.95.0");
        let a = vec!["ab".to_string(), "c".into()];
        let b = vec!["a".to_string(), "bc".into()];
        let k = |args: &[String]| {
            cache_key(&KeyInputs {
                rustc: &r,
                target: "t",
                source: "s",
                args,
                externs: &[],
                out_dir: &[],
                native: &[],
                linker: None,
                toolchain_env: &[],
            })
        };
        assert_ne!(k(&a), k(&b));
    }
}
