//! The cache key: one digest over every input that can change what rustc
//! writes. Pure: the caller gathers the inputs (see [`super::run`]).
//!
//! Machine paths never enter the key: arguments arrive normalized
//! (CARGO_HOME, the target directory and the sysroot replaced by
//! placeholders), `--extern` dependencies enter by content digest, files in
//! OUT_DIR by relative path and content digest, native libraries named by
//! `-l` by the digest of the file found in the `-L` directories.

use crate::index::inputs::{digest_of, short_value};
use crate::toolchain::{LinkerIdentity, RustcIdentity};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

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

/// The named inputs of a key (see `docs/index-format.md`, "Key inputs"):
/// what a miss is compared with, input by input, to say which one
/// differed. From the same [`KeyInputs`] [`cache_key`] hashes, so that
/// every input that changes the key changes one of them.
pub fn named_inputs(inputs: &KeyInputs) -> BTreeMap<String, String> {
    let mut named = BTreeMap::new();
    let mut put = |name: &str, value: String| named.insert(name.to_string(), value);
    let rustc = &inputs.rustc.verbose_version;
    put("rustc", short_value(rustc.lines().next().unwrap_or_default()));
    put("rustc-vV", digest_of(&[rustc]));
    put("sysroot", digest_of(&[inputs.rustc.sysroot_digest(inputs.target)]));
    put("target", short_value(inputs.target));
    put("source", short_value(inputs.source));
    // The features, readable, in their order; the other arguments with a
    // mark where each feature was (no argument holds a NUL), digested:
    // together, the arguments.
    let mut features = Vec::new();
    let mut args = Vec::new();
    for arg in inputs.args {
        match arg.strip_prefix("--cfg=feature=\"").and_then(|f| f.strip_suffix('"')) {
            Some(feature) => {
                features.push(feature);
                args.push("\0feature");
            }
            None => args.push(arg.as_str()),
        }
    }
    put("features", short_value(&serde_json::to_string(&features).expect("strings serialize")));
    put("args", digest_of(&args));
    for (name, digest) in inputs.externs {
        put(&format!("extern:{name}"), digest_of(&[digest]));
    }
    let pairs = |list: &[(String, String)]| -> String {
        let flat: Vec<&str> = list.iter().flat_map(|(a, b)| [a.as_str(), b.as_str()]).collect();
        digest_of(&flat)
    };
    put("out_dir", if inputs.out_dir.is_empty() { "(empty)".into() } else { pairs(inputs.out_dir) });
    put("native", if inputs.native.is_empty() { "(none)".into() } else { pairs(inputs.native) });
    let linker = match inputs.linker {
        Some(linker) => {
            let mut parts = vec![linker.version.as_str()];
            parts.extend(linker.files.iter().flat_map(|(a, b)| [a.as_str(), b.as_str()]));
            digest_of(&parts)
        }
        None => "(not linked)".into(),
    };
    put("linker", linker);
    put("toolchain-env", if inputs.toolchain_env.is_empty() { "(none)".into() } else { pairs(inputs.toolchain_env) });
    named
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
        assert_ne!(with_linker, cache_key(&KeyInputs { linker: Some(&linker2), ..base.clone() }));
        // Each input that changes the key changes a named input.
        let named = named_inputs(&base);
        for v in &variants {
            assert_ne!(named_inputs(v), named, "{v:?} changes no named input");
        }
        let with_linker = named_inputs(&KeyInputs { linker: Some(&linker), ..base.clone() });
        assert_ne!(with_linker, named_inputs(&KeyInputs { linker: Some(&linker2), ..base }));
    }

    #[test]
    fn named_inputs_show_features_and_tell_every_argument_list_apart() {
        let r = rustc("1.95.0");
        let externs = [("dep".to_string(), "d1".to_string())];
        let named = |args: &[String]| {
            named_inputs(&KeyInputs {
                rustc: &r,
                target: "t",
                source: "s",
                args,
                externs: &externs,
                out_dir: &[],
                native: &[],
                linker: None,
                toolchain_env: &[],
            })
        };
        let a = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let one = named(&a(&["--cfg=feature=\"extra\"", "--cfg=feature=\"std\""]));
        assert_eq!(one["features"], r#"["extra","std"]"#);
        assert_eq!(one["rustc"], "rustc 1.95.0");
        assert!(one["extern:dep"].starts_with("sha256:") && one["extern:dep"].len() == 23, "{one:?}");
        assert_eq!(named(&[])["features"], "[]");
        // Each list of arguments (a different key) has different named inputs.
        let lists = [
            a(&["--cfg=feature=\"a\"", "--cfg=feature=\"b\""]),
            a(&["--cfg=feature=\"b\"", "--cfg=feature=\"a\""]),
            a(&["--cfg=feature", "--cfg=feature=\"a\""]),
            a(&["--cfg=feature=\"a\"", "--cfg=feature"]),
            a(&["--cfg=feature=\"a\"", "x"]),
            a(&["x", "--cfg=feature=\"a\""]),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for list in &lists {
            assert!(seen.insert(named(list)), "{list:?}");
        }
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
