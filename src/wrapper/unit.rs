//! One compilation unit as the wrapper keys it: the analyzed invocation,
//! where the crate comes from, the machine paths to normalize, and the
//! cache key over every input (the digests of `--extern` files, OUT_DIR,
//! native libraries, the compiler and linker identities).

use super::args::{Invocation, OutputKind};
use super::digest::Digests;
use super::env::WrapperEnv;
use super::key::{cache_key, named_inputs, KeyInputs};
use super::paths::{normalize_args, PathMap, PathMapError};
use super::source::Source;
use crate::toolchain::{linker_identity, RustcIdentity};
use anyhow::Context;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// OUT_DIR contents beyond these bounds make a crate not cacheable.
const MAX_OUT_DIR_FILES: usize = 10_000;

/// Everything known about a unit once it is keyed.
pub struct Unit {
    /// The invocation.
    pub inv: Invocation,
    /// The file digest cache.
    pub digests: Digests,
    /// Where the crate comes from.
    pub source: Source,
    /// This machine's paths and their placeholders.
    pub map: PathMap,
    /// The `--remap-path-prefix` arguments rustc runs with.
    pub remap: Vec<String>,
    /// The compiler.
    pub rustc: RustcIdentity,
    /// The target triple.
    pub target: String,
    /// The cache key.
    pub key: String,
    /// The `--extern` files' digests by crate name, sorted.
    pub externs: Vec<(String, String)>,
    /// The key's named inputs ([`super::key::named_inputs`]).
    pub inputs: std::collections::BTreeMap<String, String>,
}

/// The machine paths of this unit with their placeholders: CARGO_HOME, the
/// target directory, the sysroot, a vendored `package` directory (with its
/// placeholder), and for a path crate the workspace.
pub fn path_map(
    env: &WrapperEnv,
    inv: &Invocation,
    cargo_home: &Path,
    rustc: &RustcIdentity,
    local: bool,
    package: Option<(PathBuf, String)>,
) -> Result<PathMap, PathMapError> {
    let mut prefixes = vec![(cargo_home.to_path_buf(), "/cargo-home".to_string())];
    prefixes.extend(package);
    if let Some(target) = target_dir(env, &inv.out_dir) {
        prefixes.push((target, "/target".to_string()));
    }
    prefixes.push((rustc.sysroot.clone(), "/rustc-sysroot".to_string()));
    // Cargo compiles a path crate from the workspace root: normalized like
    // the other prefixes, a clone of the project elsewhere shares its hits.
    if local {
        if let Some(cwd) = workspace_dir(env, &prefixes) {
            prefixes.push((cwd, "/workspace".to_string()));
        }
    }
    PathMap::new(prefixes)
}

/// The working directory as the workspace prefix, unless it is the root or
/// already a prefix or under one (a git checkout in CARGO_HOME). A prefix
/// under it, such as cargo's default `<workspace>/target`, is fine: the
/// longest prefix wins.
fn workspace_dir(env: &WrapperEnv, prefixes: &[(PathBuf, String)]) -> Option<PathBuf> {
    let cwd = env.cwd.clone()?;
    let covered = prefixes.iter().any(|(prefix, _)| cwd.starts_with(prefix));
    (cwd.parent().is_some() && cwd.to_str().is_some() && !covered).then_some(cwd)
}

/// The target directory: the nearest ancestor of `out_dir` holding cargo's
/// `CACHEDIR.TAG`, else `CARGO_TARGET_DIR`.
fn target_dir(env: &WrapperEnv, out_dir: &Path) -> Option<PathBuf> {
    out_dir
        .ancestors()
        .take(6)
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
        .or_else(|| env.target_dir.clone())
}

/// Why a unit's inputs cannot be keyed, though no error occurred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unkeyable {
    /// OUT_DIR holds more files than are hashed for a key.
    OutDirTooLarge,
    /// `--target NAME` names a target spec file found through
    /// `RUST_TARGET_PATH`, a file outside the key.
    TargetSpecFile,
}

impl Unkeyable {
    /// The statistics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Unkeyable::OutDirTooLarge => "OUT_DIR too large",
            Unkeyable::TargetSpecFile => "target-spec-file",
        }
    }
}

impl Unit {
    /// Keys a unit: digests every input file and asks for the linker's
    /// identity when the output is linked.
    pub fn prepare(
        env: &WrapperEnv,
        inv: Invocation,
        source: Source,
        map: PathMap,
        rustc: RustcIdentity,
        digests: &Digests,
        identity_dir: &Path,
    ) -> anyhow::Result<Result<Unit, Unkeyable>> {
        let target = inv.target.clone().unwrap_or_else(|| rustc.host.clone());
        // Rustc reads `NAME.json` from RUST_TARGET_PATH for a target name
        // it does not know; such a file would enter the key by name only.
        let spec = |dir: std::path::PathBuf| dir.join(format!("{target}.json")).is_file();
        if env.rust_target_path.as_ref().is_some_and(|path| std::env::split_paths(path).any(spec)) {
            return Ok(Err(Unkeyable::TargetSpecFile));
        }
        let mut externs = Vec::new();
        for ext in &inv.externs {
            if let Some(path) = &ext.path {
                let digest = digests.of(path).with_context(|| format!("cannot hash --extern {}", path.display()))?;
                externs.push((ext.name.clone(), digest));
            }
        }
        externs.sort();
        let Some(out_dir) = out_dir_digests(env, digests, &map)? else { return Ok(Err(Unkeyable::OutDirTooLarge)) };
        let native = native_lib_digests(&inv, digests)?;
        let linker = if inv.is_linked() {
            let program = inv
                .codegen
                .iter()
                .find(|(k, _)| k == "linker")
                .and_then(|(_, v)| v.clone())
                .unwrap_or_else(|| "cc".to_string());
            Some(linker_identity(identity_dir, Path::new(&program))?)
        } else {
            None
        };
        let args = normalize_args(&inv, &map);
        // The linker's variables matter only to a linked output.
        let linker_var = |name: &str| name != "RUSTC_BOOTSTRAP";
        let toolchain_env: Vec<(String, String)> = env
            .toolchain
            .iter()
            .filter(|(name, _)| inv.is_linked() || !linker_var(name))
            .map(|(name, value)| (name.clone(), map.normalize_text(value)))
            .collect();
        let origin = match source.source.strip_prefix("local:") {
            Some(dir) => format!("local:{}", map.normalize_path(Path::new(dir))),
            None => source.source.clone(),
        };
        let mut source_id = format!("{} {} {} {}", source.name, source.version, origin, source.checksum);
        if !source.listed.is_empty() {
            source_id.push_str(&format!(" listed:{}", source.listed));
        }
        let inputs = KeyInputs {
            rustc: &rustc,
            target: &target,
            source: &source_id,
            args: &args,
            externs: &externs,
            out_dir: &out_dir,
            native: &native,
            linker: linker.as_ref(),
            toolchain_env: &toolchain_env,
        };
        let key = cache_key(&inputs);
        let named = named_inputs(&inputs);
        // `CARGO_IPFS_EXPLAIN=DIR` writes every key's inputs there, to find
        // out why two machines (or two builds) do not share a hit.
        if let Some(dir) = &env.explain {
            let explain = serde_json::json!({
                "key": key, "crate": inv.crate_name, "rustc": rustc.verbose_version, "sysroot": rustc.sysroot_digest(&target),
                "target": target, "source": source_id, "args": args, "externs": externs, "out_dir": out_dir,
                "native": native, "linker": linker, "toolchain_env": toolchain_env,
            });
            let _ = std::fs::create_dir_all(dir);
            let name = format!("{}-{}.json", inv.crate_name, &key[..12]);
            let _ = std::fs::write(dir.join(name), serde_json::to_vec_pretty(&explain).unwrap_or_default());
        }
        let remap = map.remap_args();
        Ok(Ok(Unit { inv, digests: digests.clone(), source, map, remap, rustc, target, key, externs, inputs: named }))
    }

    /// The dep-info file rustc writes for this unit.
    pub fn dep_info_path(&self) -> anyhow::Result<PathBuf> {
        let naming = super::args::TargetNaming::for_target(&self.target);
        let (name, _) = self
            .inv
            .expected_outputs(&naming)
            .into_iter()
            .find(|(_, kind)| *kind == OutputKind::DepInfo)
            .context("no dep-info output")?;
        Ok(self.inv.out_dir.join(name))
    }
}

/// The digest of every file in OUT_DIR by relative path; `None` when there
/// are too many to key. A text file that names a machine path (a probe's
/// dep-info, a generated file naming its sources) is digested with the
/// paths normalized (see [`out_dir_digest`]).
fn out_dir_digests(
    env: &WrapperEnv,
    digests: &Digests,
    map: &PathMap,
) -> anyhow::Result<Option<Vec<(String, String)>>> {
    let Some(dir) = env.out_dir.clone() else { return Ok(Some(Vec::new())) };
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else { continue };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                if files.len() >= MAX_OUT_DIR_FILES {
                    return Ok(None);
                }
                let rel = path.strip_prefix(&dir).unwrap_or(&path).to_string_lossy().into_owned();
                files.push((rel, out_dir_digest(&path, digests, map)?));
            }
        }
    }
    files.sort();
    Ok(Some(files))
}

/// Text files at most this large are read for machine paths.
const MAX_NORMALIZED_TEXT: u64 = 1 << 20;

/// The digest of one file of OUT_DIR. A build script's run restored on
/// another machine writes its text files back with that machine's paths
/// (`wrapper::script::outdir`), so a text file that names a machine path
/// is digested as `normalized:` and the sha256 of its text with the paths
/// normalized: the same on every machine, where the raw bytes never are.
/// Two files that differ in anything but a machine path still differ. A
/// unit whose output took such a path in (an `include!` of the file) holds
/// it, and is then never shared (`record`). Any other file: the sha256 of
/// its bytes.
fn out_dir_digest(path: &Path, digests: &Digests, map: &PathMap) -> anyhow::Result<String> {
    let small = std::fs::metadata(path).is_ok_and(|m| m.len() <= MAX_NORMALIZED_TEXT);
    if small {
        if let Ok(text) = std::fs::read_to_string(path) {
            let normalized = map.normalize_text(&text);
            if normalized != text {
                return Ok(format!("normalized:{}", hex::encode(Sha256::digest(normalized.as_bytes()))));
            }
        }
    }
    Ok(digests.of(path)?)
}

/// The native libraries a crate names with `-l` (bundled into an rlib when
/// static, linked into executables), each with the digest of the first file
/// that provides it in the `-L` directories (native or unqualified ones, in
/// order), or `-` when none does (the linker then finds it in the system's
/// directories, which the linker identity covers for libc; other system
/// libraries are linked dynamically or named by their flag only).
fn native_lib_digests(inv: &Invocation, digests: &Digests) -> anyhow::Result<Vec<(String, String)>> {
    let mut native = Vec::new();
    for spec in &inv.libs {
        let (kind, rest) = match spec.split_once('=') {
            Some((kind, rest)) => (kind.split(':').next().unwrap_or(kind), rest),
            None => ("", spec.as_str()),
        };
        let name = rest.split(':').next().unwrap_or(rest);
        let candidates: Vec<String> = match kind {
            "static" => vec![format!("lib{name}.a"), format!("{name}.lib")],
            "framework" | "link-arg" => Vec::new(),
            _ => {
                vec![format!("lib{name}.so"), format!("lib{name}.dylib"), format!("lib{name}.a"), format!("{name}.lib")]
            }
        };
        let found = inv
            .lib_search
            .iter()
            .filter(|(kind, _)| matches!(kind.as_deref(), None | Some("native") | Some("all")))
            .flat_map(|(_, dir)| candidates.iter().map(move |c| dir.join(c)))
            .find(|path| path.is_file());
        let digest = match found {
            Some(path) => digests.of(&path).with_context(|| format!("cannot hash -l {spec} at {}", path.display()))?,
            None => "-".to_string(),
        };
        native.push((spec.clone(), digest));
    }
    Ok(native)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OUT_DIR on a machine whose target directory is `root/target`,
    /// holding `name` with `text` (`{out}` replaced by OUT_DIR's path).
    fn digest_on(root: &Path, name: &str, text: &str) -> String {
        let target = root.join("target");
        let out = target.join("release/build/anyhow-0a1b/out");
        std::fs::create_dir_all(&out).unwrap();
        let file = out.join(name);
        std::fs::write(&file, text.replace("{out}", out.to_str().unwrap())).unwrap();
        let map = PathMap::new([(target, "/target")]).unwrap();
        out_dir_digest(&file, &Digests::new(&root.join("digests")), &map).unwrap()
    }

    #[test]
    fn an_out_dir_text_naming_its_machines_paths_digests_alike_on_every_machine() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let probe = "{out}/anyhow.d: build/probe.rs\n";
        let on_a = digest_on(a.path(), "anyhow.d", probe);
        assert_eq!(on_a, digest_on(b.path(), "anyhow.d", probe), "machine paths only");
        assert!(on_a.starts_with("normalized:"), "{on_a}");
        // Anything else still tells them apart.
        assert_ne!(on_a, digest_on(b.path(), "anyhow.d", "{out}/anyhow.d: build/other.rs\n"));
        // A file without a machine path: its bytes' digest, as before.
        let plain = digest_on(a.path(), "value.rs", "pub const V: u32 = 7;\n");
        assert_eq!(plain, crate::artifact::pack::file_digest(b"pub const V: u32 = 7;\n"));
        assert_eq!(plain, digest_on(b.path(), "value.rs", "pub const V: u32 = 7;\n"));
    }
}
