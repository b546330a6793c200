//! Where a crate's shard lives: the crates.io sparse-index layout.
//!
//! `a` → `1/a`, `ab` → `2/ab`, `abc` → `3/a/abc`, `serde` → `se/rd/serde`.
//! Names are lower-cased, so `Serde` and `serde` share a shard, as on
//! crates.io where they cannot coexist.

use thiserror::Error;

/// A crate name that cannot be a crates.io package name.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("invalid crate name {0:?}: use 1 to 64 ASCII letters, digits, '-' or '_'")]
pub struct BadCrateName(pub String);

/// The path components of a crate's shard file, from the shards directory.
pub fn shard_path(name: &str) -> Result<Vec<String>, BadCrateName> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(BadCrateName(name.to_string()));
    }
    let lower = name.to_ascii_lowercase();
    Ok(match lower.len() {
        1 => vec!["1".into(), lower],
        2 => vec!["2".into(), lower],
        3 => vec!["3".into(), lower[..1].to_string(), lower],
        _ => vec![lower[..2].to_string(), lower[2..4].to_string(), lower],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_sparse_index_layout() {
        // Examples from the cargo book's "Index Format" section.
        assert_eq!(shard_path("a").unwrap(), ["1", "a"]);
        assert_eq!(shard_path("ab").unwrap(), ["2", "ab"]);
        assert_eq!(shard_path("abc").unwrap(), ["3", "a", "abc"]);
        assert_eq!(shard_path("cargo").unwrap(), ["ca", "rg", "cargo"]);
        assert_eq!(shard_path("Serde_JSON").unwrap(), ["se", "rd", "serde_json"]);
    }

    #[test]
    fn refuses_names_that_could_escape_the_tree() {
        for bad in ["", "../x", "a/b", ".", "é", &"x".repeat(65)] {
            assert!(shard_path(bad).is_err(), "{bad:?}");
        }
    }
}
