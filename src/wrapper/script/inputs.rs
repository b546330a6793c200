//! The inputs of a build-script run, in two parts as in
//! [`super::super::local_sources`]: the pre-key, from what cargo hands
//! every run (the script binary, the package, the compiler, the variables
//! cargo sets), and the inputs the run declared, known only once it has
//! run (variables, files, and the C compiler and archiver when it used
//! `cc`), whose state now is compared with the state recorded.

use super::directives::Declared;
use super::Run;
use crate::index::inputs::{digest_of, short_value};
pub use crate::index::run::{InputNames, InputState};
use crate::wrapper::digest::Digests;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The variables cargo sets for every build script that enter the
/// pre-key (with the prefixes of [`CARGO_PREFIXES`]). `NUM_JOBS` and the
/// jobserver's are left out: they change how fast, not what.
const CARGO_VARS: &[&str] = &[
    "TARGET",
    "HOST",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
    "OUT_DIR",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_TRIM_PATHS_SCOPE",
    "CARGO_TRIM_PATHS_REMAP",
    "RUSTC_LINKER",
    "ZERO_AR_DATE",
];

/// Prefixes of the variables cargo sets per package and per dependency.
const CARGO_PREFIXES: &[&str] = &["CARGO_FEATURE_", "CARGO_CFG_", "CARGO_PKG_", "DEP_", "CARGO_DEP_"];

/// A declared directory holding more files than this is not digested:
/// the run is not cached. The bound of `OUT_DIR` files a key hashes.
pub const MAX_TREE_FILES: usize = 10_000;

/// Length-prefixed parts into a hasher.
fn feed(h: &mut Sha256, parts: &[&[u8]]) {
    for part in parts {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
}

/// The pre-key of a run: everything cargo hands it that can change what it
/// writes, and its named inputs (`script`, `rustc`, `package`, each of
/// `CARGO_VARS` set, and per prefix of `CARGO_PREFIXES` the variables
/// with it as `NAME=value` lines; see `docs/index-format.md`, "Key
/// inputs"). `Err` names why the run cannot be keyed.
pub fn pre_key(run: &Run, script: &str, rustc: &str) -> Result<(String, BTreeMap<String, String>), String> {
    let mut h = Sha256::new();
    let source = &run.source;
    feed(&mut h, &[b"cargo-ipfs-fetch build-script run v1", script.as_bytes(), rustc.as_bytes()]);
    feed(&mut h, &[source.name.as_bytes(), source.version.as_bytes(), source.source.as_bytes()]);
    feed(&mut h, &[source.checksum.as_bytes()]);
    let mut vars: Vec<(String, String)> = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if !CARGO_VARS.contains(&name) && !CARGO_PREFIXES.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let value = value.into_string().map_err(|_| format!("{name} is not UTF-8"))?;
        let mut keyed = run.map.normalize_text(&value);
        // A dependency's metadata that names a path (its headers, its
        // libraries) is keyed by what is there too.
        if name.starts_with("DEP_") && Path::new(&value).is_absolute() && Path::new(&value).exists() {
            keyed.push_str(" content=");
            keyed.push_str(&path_state(Path::new(&value), &run.digests)?);
        }
        vars.push((name.to_string(), keyed));
    }
    vars.sort();
    for (name, value) in &vars {
        feed(&mut h, &[name.as_bytes(), value.as_bytes()]);
    }
    Ok((hex::encode(h.finalize()), named_pre_key(run, script, rustc, &vars)))
}

/// The named inputs of a pre-key, from the parts it hashes.
fn named_pre_key(run: &Run, script: &str, rustc: &str, vars: &[(String, String)]) -> BTreeMap<String, String> {
    let source = &run.source;
    let mut named = BTreeMap::new();
    named.insert("script".to_string(), short_value(script));
    named.insert("rustc".to_string(), short_value(rustc));
    let package = format!("{} {} {} {}", source.name, source.version, source.source, source.checksum);
    named.insert("package".to_string(), short_value(&package));
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, value) in vars {
        match CARGO_PREFIXES.iter().find(|p| name.starts_with(*p)) {
            Some(prefix) => groups.entry(prefix).or_default().extend([&name[prefix.len()..], value.as_str()]),
            None => {
                named.insert(name.clone(), short_value(value));
            }
        }
    }
    for (prefix, parts) in groups {
        let lines: Vec<String> = parts.chunks(2).map(|p| format!("{}={}", p[0], p[1])).collect();
        let text = lines.join(" ");
        // Unambiguous only when no part holds the separators: else digested.
        let plain = parts.iter().all(|p| !p.contains([' ', '=', '\n']));
        let value = if plain { short_value(&text) } else { digest_of(&parts) };
        named.insert(format!("{prefix}*"), value);
    }
    named
}

/// The full key: the pre-key and the state of the declared inputs.
pub fn full_key(pre_key: &str, state: &InputState) -> String {
    let mut h = Sha256::new();
    feed(&mut h, &[b"cargo-ipfs-fetch build-script inputs v1", pre_key.as_bytes()]);
    feed(&mut h, &[&serde_json::to_vec(state).expect("states serialize")]);
    hex::encode(h.finalize())
}

/// The names of the inputs a run declared: its variables, its files
/// (resolved against the package directory, normalized), and the C
/// compiler, C++ compiler and archiver when it used `cc`. `Err` names why
/// the run cannot be cached.
pub fn names(run: &Run, declared: &Declared) -> Result<InputNames, String> {
    if declared.always_rerun {
        return Err("declares rerun-if-changed= (always rerun)".into());
    }
    if let Some(tool) = declared.unknown_tool() {
        return Err(tool.into());
    }
    let mut files = Vec::new();
    for file in &declared.files {
        let path = run.package_dir.join(file);
        if path.starts_with(&run.out_dir) {
            return Err("declares a file in OUT_DIR".into());
        }
        files.push(run.map.normalize_path(&path));
    }
    let mut tools = Vec::new();
    if declared.uses_c_compiler() {
        tools.extend(["cc".to_string(), "ar".to_string()]);
        if declared.uses_cxx() {
            tools.push("c++".into());
        }
    }
    Ok(InputNames { env: declared.env.clone(), files, tools })
}

/// The state of `names` now. `Err` names why it cannot be taken.
pub fn state(run: &Run, names: &InputNames) -> Result<InputState, String> {
    let env = names
        .env
        .iter()
        .map(|name| (name.clone(), std::env::var_os(name).map(|v| run.map.normalize_text(&v.to_string_lossy()))))
        .collect();
    let mut files = Vec::new();
    for file in &names.files {
        let path = PathBuf::from(run.map.expand_text(file));
        files.push((file.clone(), path_state(&path, &run.digests)?));
    }
    let mut tools = Vec::new();
    for tool in &names.tools {
        let (var, default) = match tool.as_str() {
            "cc" => ("CC", "cc"),
            "c++" => ("CXX", "c++"),
            _ => ("AR", "ar"),
        };
        let command = tool_command(var, default, &run.target, &run.host)?;
        let program = command.split_whitespace().next().unwrap_or(default);
        let unknown = |e: anyhow::Error| format!("unknown {tool} ({e})");
        let mut identity = crate::toolchain::tool_identity(&run.identity_dir, Path::new(program)).map_err(unknown)?;
        if tool != "ar" {
            // The C library and startup files the compiler would link
            // with: they come with the system headers it compiles against.
            let system = crate::toolchain::linker_identity(&run.identity_dir, Path::new(program)).map_err(unknown)?;
            let system = serde_json::to_vec(&system).expect("identities serialize");
            identity = format!("{identity} {}", hex::encode(&Sha256::digest(&system)[..16]));
        }
        tools.push((tool.clone(), format!("{} {identity}", run.map.normalize_text(&command))));
    }
    Ok(InputState { env, files, tools })
}

/// The command `cc` runs for tool variable `base`: `BASE_<target>`,
/// `BASE_<target with _>`, `HOST_BASE` (or `TARGET_BASE` when
/// cross-compiling), `BASE`, else the default (only when not
/// cross-compiling: a cross compiler's name depends on rules not
/// followed here).
fn tool_command(base: &str, default: &str, target: &str, host: &str) -> Result<String, String> {
    let kind = if target == host { "HOST" } else { "TARGET" };
    let names =
        [format!("{base}_{target}"), format!("{base}_{}", target.replace(['-', '.'], "_")), format!("{kind}_{base}")];
    for name in names.iter().map(String::as_str).chain([base]) {
        if let Some(value) = std::env::var_os(name).filter(|v| !v.is_empty()) {
            return value.into_string().map_err(|_| format!("{name} is not UTF-8"));
        }
    }
    if target != host {
        return Err(format!("cross-compiling without {base} set"));
    }
    Ok(default.to_string())
}

/// A file's digest, a directory's tree digest (relative paths and
/// digests), or `missing`.
fn path_state(path: &Path, digests: &Digests) -> Result<String, String> {
    let Ok(meta) = std::fs::metadata(path) else { return Ok("missing".into()) };
    if meta.is_file() {
        return digests.of(path).map_err(|e| format!("cannot hash {} ({e})", path.display()));
    }
    let mut files = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot list {} ({e})", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| e.to_string())?;
            let child = entry.path();
            if child.is_dir() {
                stack.push(child);
                continue;
            }
            if files.len() >= MAX_TREE_FILES {
                return Err(format!("{} holds more than {MAX_TREE_FILES} files", path.display()));
            }
            let rel = child.strip_prefix(path).unwrap_or(&child).to_string_lossy().into_owned();
            let digest = digests.of(&child).unwrap_or_else(|_| "unreadable".into());
            files.push((rel, digest));
        }
    }
    files.sort();
    let mut h = Sha256::new();
    for (rel, digest) in &files {
        feed(&mut h, &[rel.as_bytes(), digest.as_bytes()]);
    }
    Ok(format!("tree:{}", hex::encode(h.finalize())))
}
