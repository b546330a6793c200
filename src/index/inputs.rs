//! The named inputs of a key, as entries sign them (see
//! `docs/index-format.md`, "Key inputs"): how a value is shown, and a
//! run's declared state as named inputs. Pure.

use super::run::InputState;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The longest value a named input shows as is.
pub const SHORT_VALUE: usize = 100;

/// A value as a named input shows it: itself when at most
/// [`SHORT_VALUE`] characters on one line, else [`digest_of`] it.
pub fn short_value(value: &str) -> String {
    if value.chars().count() <= SHORT_VALUE && !value.contains('\n') {
        value.to_string()
    } else {
        digest_of(&[value])
    }
}

/// A named input's digest of some parts: `sha256:` and the first 16 hex
/// digits of the sha256 over the parts, each length-prefixed.
pub fn digest_of(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    format!("sha256:{}", &hex::encode(h.finalize())[..16])
}

/// The state of a run's declared inputs as named inputs: `declared
/// variable NAME` (the value as a JSON string, or `unset`), `declared file
/// PATH` and `tool NAME`.
pub fn declared(state: &InputState) -> BTreeMap<String, String> {
    let mut named = BTreeMap::new();
    for (name, value) in &state.env {
        let shown = match value {
            Some(value) => short_value(&serde_json::to_string(value).expect("strings serialize")),
            None => "unset".to_string(),
        };
        named.insert(format!("declared variable {name}"), shown);
    }
    for (path, digest) in &state.files {
        named.insert(format!("declared file {path}"), short_value(digest));
    }
    for (tool, identity) in &state.tools {
        named.insert(format!("tool {tool}"), short_value(identity));
    }
    named
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_show_as_is_and_long_ones_as_digests() {
        assert_eq!(short_value("x86_64-unknown-linux-gnu"), "x86_64-unknown-linux-gnu");
        let long = "a".repeat(SHORT_VALUE + 1);
        assert_eq!(short_value(&long).len(), "sha256:".len() + 16);
        assert_ne!(short_value(&long), short_value(&"a".repeat(SHORT_VALUE + 2)));
        assert_ne!(digest_of(&["ab", "c"]), digest_of(&["a", "bc"]));
        assert!(short_value("a\nb").starts_with("sha256:"));
    }

    #[test]
    fn declared_state_tells_unset_from_empty() {
        let state = InputState {
            env: vec![("A".into(), None), ("B".into(), Some(String::new())), ("C".into(), Some("9".into()))],
            files: vec![("/vendor/x".into(), "missing".into())],
            tools: vec![("cc".into(), "cc 00".into())],
        };
        let named = declared(&state);
        assert_eq!(named["declared variable A"], "unset");
        assert_eq!(named["declared variable B"], "\"\"");
        assert_eq!(named["declared variable C"], "\"9\"");
        assert_eq!(named["declared file /vendor/x"], "missing");
        assert_eq!(named["tool cc"], "cc 00");
    }
}
