//! What a restore asks of an artifact under a policy of required
//! attestations: made here, or fetched with the attestations of enough
//! distinct trusted rebuilders, as the fetch that filed it checked them
//! (`ArtifactRef::attested_by`). The wrapper asks it before every restore
//! of a unit or a build-script run, so that an artifact fetched before the
//! policy was set, or attested by rebuilders no longer trusted, is not
//! restored: it compiles.

use super::cache::ArtifactRef;
use crate::index::attested::chosen_rebuilders;
use crate::index::state::IndexState;
use crate::sources::config::{policy, read_config, Flags};
use std::path::Path;

/// The policy as the wrapper applies it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestorePolicy {
    /// How many distinct rebuilders must have attested a fetched artifact.
    pub require: usize,
    /// The trusted rebuilders counted: each one's name and keys.
    pub rebuilders: Vec<(String, Vec<String>)>,
}

impl RestorePolicy {
    /// The policy in force for the store at `store_dir`: the environment
    /// (`CARGO_IPFS_REQUIRE_ATTESTATIONS`, `CARGO_IPFS_REBUILDERS`), then
    /// `config.json`, with the rebuilders' keys from `trust.json`. A policy
    /// that cannot be read or met restores nothing fetched (an `Err`,
    /// which the caller treats as such).
    pub fn load(store_dir: &Path, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let wanted = policy(&Flags::default(), &env, &read_config(store_dir)?)?;
        if wanted.require == 0 {
            return Ok(RestorePolicy::default());
        }
        let trust = IndexState::new(store_dir).trust()?;
        let chosen = chosen_rebuilders(&trust, &wanted.rebuilders, wanted.require)?;
        Ok(RestorePolicy {
            require: wanted.require as usize,
            rebuilders: chosen.into_iter().map(|(name, t)| (name, t.keys)).collect(),
        })
    }

    /// Whether `artifact` may be restored: made here, or attested by at
    /// least `require` distinct rebuilders of the policy (each counted once
    /// however many of its keys attested it).
    pub fn allows(&self, artifact: &ArtifactRef) -> bool {
        if self.require == 0 || artifact.local {
            return true;
        }
        let attesting =
            self.rebuilders.iter().filter(|(_, keys)| keys.iter().any(|k| artifact.attested_by.contains(k))).count();
        attesting >= self.require
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(local: bool, attested_by: &[&str]) -> ArtifactRef {
        ArtifactRef {
            cid: "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4".into(),
            sha256: "0".repeat(64),
            size: 1,
            compile_ms: 0,
            local,
            attested_by: attested_by.iter().map(|k| k.to_string()).collect(),
        }
    }

    #[test]
    fn a_fetched_artifact_needs_its_attestations_and_one_made_here_does_not() {
        let policy = RestorePolicy {
            require: 2,
            rebuilders: vec![("a".into(), vec!["ka".into(), "ka2".into()]), ("b".into(), vec!["kb".into()])],
        };
        assert!(policy.allows(&artifact(true, &[])));
        assert!(policy.allows(&artifact(false, &["ka", "kb"])));
        assert!(!policy.allows(&artifact(false, &[])), "fetched before the policy");
        assert!(!policy.allows(&artifact(false, &["ka", "ka2"])), "one rebuilder's two keys are one rebuilder");
        assert!(!policy.allows(&artifact(false, &["ka", "kc"])), "a rebuilder no longer trusted");
        assert!(RestorePolicy::default().allows(&artifact(false, &[])), "no policy: as before");
    }

    #[test]
    fn the_policy_is_read_from_the_environment_then_config_json_with_keys_from_trust_json() {
        let dir = tempfile::tempdir().unwrap();
        let none = |_: &str| None;
        assert_eq!(RestorePolicy::load(dir.path(), none).unwrap(), RestorePolicy::default());
        std::fs::write(dir.path().join("config.json"), r#"{"require_attestations": 1}"#).unwrap();
        let err = RestorePolicy::load(dir.path(), none).unwrap_err().to_string();
        assert!(err.contains("1 attestation(s) are required but 0 rebuilder(s) are trusted"), "{err}");
        let key = crate::formats::ipns::Keypair::generate().ipns_name().to_string();
        IndexState::new(dir.path())
            .update_trust(|t| {
                t.insert(
                    "r".into(),
                    crate::index::state::IndexTrust {
                        keys: vec![key.clone()],
                        threshold: 1,
                        ipns: key.clone(),
                        kind: crate::index::manifest::IndexKind::Attestations,
                    },
                )
            })
            .unwrap();
        let loaded = RestorePolicy::load(dir.path(), none).unwrap();
        assert_eq!(loaded, RestorePolicy { require: 1, rebuilders: vec![("r".into(), vec![key])] });
        let off = |k: &str| (k == "CARGO_IPFS_REQUIRE_ATTESTATIONS").then(|| "0".to_string());
        assert_eq!(RestorePolicy::load(dir.path(), off).unwrap(), RestorePolicy::default(), "the environment first");
    }
}
