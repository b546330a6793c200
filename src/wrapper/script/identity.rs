//! A build script's identity for its runs' pre-key.
//!
//! A script binary that compiles a machine path into itself (libsqlite3-sys
//! prints `cargo:include=` with `env!("CARGO_MANIFEST_DIR")`) is never
//! shared: another machine compiles it again, and its bytes differ by that
//! path. Its runs would never be found there if they were keyed on the
//! binary's bytes. So when the wrapper puts a launcher in place, it writes
//! beside it the script's identity: the cache key of the compilation that
//! made the binary (which covers the package, the compiler, the flags and
//! the dependencies, machine paths normalized) and the values of the
//! variables that compilation read (from its dep-info), normalized. Two
//! binaries with one identity differ at most by the machine paths compiled
//! into them, which a run's capture normalizes and a restore writes back
//! with this machine's. The identity is used only while the real binary is
//! the one it was written for (its sha256 is in the file); otherwise the
//! binary's own digest keys the runs.

use crate::wrapper::args::{OutputKind, TargetNaming};
use crate::wrapper::paths::PathMap;
use crate::wrapper::unit::Unit;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The file beside the launcher.
pub const IDENTITY_FILE: &str = ".cargo-ipfs-identity";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    /// The real binary's sha256 when the identity was written.
    real_sha256: String,
    /// The identity.
    identity: String,
}

/// The identity of a script binary compiled under `unit_key`, whose
/// compilation read the variables `env` (as its dep-info lists them).
pub fn identity(unit_key: &str, env: &[(String, Option<String>)], map: &PathMap) -> String {
    let mut env: Vec<(String, Option<String>)> =
        env.iter().map(|(name, value)| (name.clone(), value.as_deref().map(|v| map.normalize_text(v)))).collect();
    env.sort();
    env.dedup();
    let mut h = Sha256::new();
    let mut feed = |part: &[u8]| {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    };
    feed(b"cargo-ipfs-fetch build-script identity v1");
    feed(unit_key.as_bytes());
    for (name, value) in &env {
        feed(name.as_bytes());
        match value {
            Some(value) => feed(format!("={value}").as_bytes()),
            None => feed(b"(unset)"),
        }
    }
    format!("script:{}", hex::encode(h.finalize()))
}

/// The variables a compilation read, with their values (`None`: unset).
pub type EnvRead = Vec<(String, Option<String>)>;

/// The identity of the build script `unit` compiles (or restored), and
/// the variables its compilation read, from its dep-info; `None` when the
/// dep-info cannot be read (the runs are then keyed on the binary's bytes).
pub fn of_unit(unit: &Unit) -> Option<(String, EnvRead)> {
    let naming = TargetNaming::for_target(&unit.target);
    let (name, _) = unit.inv.expected_outputs(&naming).into_iter().find(|(_, kind)| *kind == OutputKind::DepInfo)?;
    let text = std::fs::read_to_string(unit.inv.out_dir.join(name)).ok()?;
    let env = crate::wrapper::depinfo::parse(&text).ok()?.env;
    Some((identity(&unit.key, &env, &unit.map), env))
}

/// The `real_sha256` written for a script whose compilation is pending
/// ([`super::pending`]): no binary's digest.
pub const PENDING_SHA256: &str = "pending";

/// The identity of the script `real` while its compilation is pending.
pub fn read_pending(real: &Path) -> Option<String> {
    read(real, PENDING_SHA256)
}

/// Binds the identity written for a pending script to the binary since
/// compiled (`real_sha256`): its compilation had the identity's inputs.
pub fn confirm(real: &Path, real_sha256: &str) -> std::io::Result<()> {
    match read_pending(real) {
        Some(identity) => write(real, real_sha256, &identity),
        None => Ok(()),
    }
}

/// Writes `identity` beside the real binary `real`, whose sha256 is `real_sha256`.
pub fn write(real: &Path, real_sha256: &str, identity: &str) -> std::io::Result<()> {
    let written = Written { real_sha256: real_sha256.to_string(), identity: identity.to_string() };
    let path = real.with_file_name(IDENTITY_FILE);
    let bytes = serde_json::to_vec(&written).expect("identities serialize");
    crate::atomic_file::replace(&path, &bytes, crate::atomic_file::Durability::Unsynced)
}

/// The identity written beside `real` while it is still the binary it
/// was written for (`real_sha256` now); `None` otherwise.
pub fn read(real: &Path, real_sha256: &str) -> Option<String> {
    let bytes = std::fs::read(real.with_file_name(IDENTITY_FILE)).ok()?;
    let written: Written = serde_json::from_slice(&bytes).ok()?;
    (written.real_sha256 == real_sha256).then_some(written.identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(home: &str) -> PathMap {
        PathMap::new(vec![(std::path::PathBuf::from(home), "/cargo-home".to_string())]).unwrap()
    }

    #[test]
    fn machine_paths_in_what_the_compilation_read_do_not_change_the_identity() {
        let env = |home: &str| vec![("CARGO_MANIFEST_DIR".to_string(), Some(format!("{home}/registry/src/x-1.0.0")))];
        let a = identity("k1", &env("/home/a/.cargo"), &map("/home/a/.cargo"));
        assert_eq!(a, identity("k1", &env("/b/cargo"), &map("/b/cargo")));
        // Anything else does.
        assert_ne!(a, identity("k2", &env("/home/a/.cargo"), &map("/home/a/.cargo")));
        let mut other = env("/home/a/.cargo");
        other.push(("FOO".into(), Some("1".into())));
        assert_ne!(a, identity("k1", &other, &map("/home/a/.cargo")));
        let set = identity("k1", &other, &map("/home/a/.cargo"));
        let swapped = [other[1].clone(), other[0].clone()];
        assert_eq!(set, identity("k1", &swapped, &map("/home/a/.cargo")), "order does not matter");
        other[1].1 = None;
        let unset = identity("k1", &other, &map("/home/a/.cargo"));
        assert!(unset != a && unset != set);
    }

    #[test]
    fn an_identity_holds_only_for_the_binary_it_was_written_for() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("build_script_build-0123.cargo-ipfs-real");
        assert_eq!(read(&real, "d1"), None);
        write(&real, "d1", "script:abc").unwrap();
        assert_eq!(read(&real, "d1").as_deref(), Some("script:abc"));
        assert_eq!(read(&real, "d2"), None, "another binary since");
    }

    #[test]
    fn a_pending_identity_binds_to_the_binary_compiled_later() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("build_script_build-0123.cargo-ipfs-real");
        write(&real, PENDING_SHA256, "script:abc").unwrap();
        assert_eq!(read_pending(&real).as_deref(), Some("script:abc"));
        assert_eq!(read(&real, "d1"), None, "no binary is the pending one");
        confirm(&real, "d1").unwrap();
        assert_eq!(read(&real, "d1").as_deref(), Some("script:abc"));
        assert_eq!(read_pending(&real), None);
    }
}
