//! Where fetching looks (the index name, the gateways and a kubo node) and
//! what it asks of an artifact before using it (the attestations of trusted
//! rebuilders), from flags, then `CARGO_IPFS_*` environment variables, then
//! `<store>/config.json`.

use crate::vars;
use anyhow::{bail, Context};
use serde::Deserialize;
use std::path::Path;

/// `<store>/config.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The index to fetch from.
    #[serde(default)]
    pub index: Option<String>,
    /// Trustless gateways (and delegated routing endpoints) to fetch from.
    #[serde(default)]
    pub gateways: Vec<String>,
    /// A kubo node's RPC API to fetch through instead of the gateways.
    #[serde(default)]
    pub kubo: Option<String>,
    /// More proc-macro crates whose dependents the wrapper does not cache
    /// (see `crate::wrapper::hidden`).
    #[serde(default)]
    pub hidden_input_macros: Vec<String>,
    /// The trusted rebuilders whose attestations count (names in
    /// `trust.json`); empty: every rebuilder trusted there.
    #[serde(default)]
    pub rebuilders: Vec<String>,
    /// How many distinct trusted rebuilders must attest an entry before
    /// it is fetched or restored (0: none).
    #[serde(default)]
    pub require_attestations: Option<u32>,
    /// The indexes subscribed to (`cargo ipfs subscribe`), looked up in
    /// this order when no index is named.
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
    /// The store's size bound (`"50G"`): past it, a build or a fetch starts
    /// `cargo ipfs gc --max-size` in the background.
    #[serde(default, rename = "max-size", alias = "max_size")]
    pub max_size: Option<String>,
}

/// An index followed by name, with where to read it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// The trusted index.
    pub index: String,
    /// Gateways to read it from (empty: the other settings').
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    /// A kubo node to read it through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubo: Option<String>,
}

/// Adds `subscription` to `<store>/config.json` (replacing one of the same
/// index, in its place), keeping every other setting as written.
pub fn save_subscription(store_dir: &Path, subscription: &Subscription) -> anyhow::Result<()> {
    edit_subscriptions(store_dir, |list| match list.iter_mut().find(|s| s.index == subscription.index) {
        Some(old) => *old = subscription.clone(),
        None => list.push(subscription.clone()),
    })
}

/// Removes the subscription to `index`; whether there was one.
pub fn remove_subscription(store_dir: &Path, index: &str) -> anyhow::Result<bool> {
    let mut removed = false;
    edit_subscriptions(store_dir, |list| {
        let before = list.len();
        list.retain(|s| s.index != index);
        removed = list.len() != before;
    })?;
    Ok(removed)
}

fn edit_subscriptions(store_dir: &Path, edit: impl FnOnce(&mut Vec<Subscription>)) -> anyhow::Result<()> {
    read_config(store_dir)?; // refuses to edit a malformed file
    let path = store_dir.join("config.json");
    let mut value: serde_json::Value = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({}),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut list: Vec<Subscription> = serde_json::from_value(value["subscriptions"].take()).unwrap_or_default();
    edit(&mut list);
    value["subscriptions"] = serde_json::to_value(&list)?;
    std::fs::create_dir_all(store_dir).with_context(|| format!("cannot create {}", store_dir.display()))?;
    let bytes = serde_json::to_vec_pretty(&value)?;
    crate::atomic_file::replace(&path, &bytes, crate::atomic_file::Durability::Synced)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// What an entry needs beside the publisher's signature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// How many distinct trusted rebuilders must attest it (0: none).
    pub require: u32,
    /// The rebuilders whose attestations count, by their trusted name;
    /// empty: every rebuilder trusted here.
    pub rebuilders: Vec<String>,
}

/// The settings in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// The index name.
    pub index: String,
    /// Gateway base URLs (empty, and no kubo node: the local store only).
    pub gateways: Vec<String>,
    /// A kubo node's RPC API address; when set, fetching reads through the
    /// node and not the gateways.
    pub kubo: Option<String>,
    /// The attestations required.
    pub policy: Policy,
}

/// What the flags say.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags<'a> {
    /// `--index`.
    pub index: Option<&'a str>,
    /// `--gateway`, repeated.
    pub gateways: &'a [String],
    /// `--kubo`.
    pub kubo: Option<&'a str>,
    /// `--rebuilder`, repeated.
    pub rebuilders: &'a [String],
    /// `--require-attestations`.
    pub require_attestations: Option<u32>,
}

/// Reads `<store>/config.json` (absent is empty).
pub fn read_config(store_dir: &Path) -> anyhow::Result<ConfigFile> {
    let path = store_dir.join("config.json");
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).with_context(|| format!("{} is malformed; fix or remove it", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Resolves the settings, each on its own: the flag first, then
/// `CARGO_IPFS_INDEX`, `CARGO_IPFS_GATEWAYS` (comma-separated) and
/// `CARGO_IPFS_KUBO`, then the config file; with no index named anywhere,
/// the only trusted index if there is exactly one.
pub fn settings(
    flags: Flags,
    env: impl Fn(&str) -> Option<String>,
    file: &ConfigFile,
    trusted: &[String],
) -> anyhow::Result<Settings> {
    let index = match flags.index.map(str::to_string).or_else(|| env(vars::INDEX)).or_else(|| file.index.clone()) {
        Some(index) => index,
        None => match trusted {
            [only] => only.clone(),
            [] => bail!("no index is trusted here; add one with `cargo ipfs trust add NAME KEY...`"),
            _ => bail!("several indexes are trusted ({}); choose one with --index NAME", trusted.join(", ")),
        },
    };
    let gateways = if !flags.gateways.is_empty() {
        flags.gateways.to_vec()
    } else if let Some(list) = env(vars::GATEWAYS) {
        gateway_list(&list)
    } else {
        file.gateways.clone()
    };
    let kubo = flags
        .kubo
        .map(str::to_string)
        .or_else(|| env(vars::KUBO))
        .or_else(|| file.kubo.clone())
        .filter(|k| !k.trim().is_empty());
    Ok(Settings { index, gateways, kubo, policy: policy(&flags, &env, file)? })
}

/// The policy: `--require-attestations`, else
/// `CARGO_IPFS_REQUIRE_ATTESTATIONS`, else the file; the rebuilders each
/// the same way (`CARGO_IPFS_REBUILDERS` comma-separated).
pub fn policy(flags: &Flags, env: &impl Fn(&str) -> Option<String>, file: &ConfigFile) -> anyhow::Result<Policy> {
    let require = match flags.require_attestations {
        Some(n) => n,
        None => match env(vars::REQUIRE_ATTESTATIONS).filter(|v| !v.trim().is_empty()) {
            Some(text) => text.trim().parse().with_context(|| {
                format!(
                    "{}={text:?} is not a number of attestations; set it to 0, 1, 2, ...",
                    vars::REQUIRE_ATTESTATIONS
                )
            })?,
            None => file.require_attestations.unwrap_or(0),
        },
    };
    let rebuilders = if !flags.rebuilders.is_empty() {
        flags.rebuilders.to_vec()
    } else if let Some(list) = env(vars::REBUILDERS) {
        gateway_list(&list)
    } else {
        file.rebuilders.clone()
    };
    Ok(Policy { require, rebuilders })
}

/// The items of a comma-separated list, as `CARGO_IPFS_GATEWAYS` and
/// `CARGO_IPFS_REBUILDERS` hold them.
pub fn gateway_list(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_environment_beat_file() {
        let file = ConfigFile {
            index: Some("from-file".into()),
            gateways: vec!["http://file".into()],
            kubo: Some("/ip4/127.0.0.1/tcp/5001".into()),
            hidden_input_macros: vec![],
            rebuilders: vec!["file-r".into()],
            require_attestations: Some(1),
            subscriptions: vec![],
            max_size: None,
        };
        let env = |k: &str| match k {
            "CARGO_IPFS_INDEX" => Some("from-env".to_string()),
            "CARGO_IPFS_GATEWAYS" => Some("http://a, http://b".to_string()),
            "CARGO_IPFS_KUBO" => Some("http://127.0.0.1:5002".to_string()),
            "CARGO_IPFS_REBUILDERS" => Some("env-a,env-b".to_string()),
            "CARGO_IPFS_REQUIRE_ATTESTATIONS" => Some("2".to_string()),
            _ => None,
        };
        let gateways = ["http://flag".to_string()];
        let rebuilders = ["flag-r".to_string()];
        let flags = Flags {
            index: Some("from-flag"),
            gateways: &gateways,
            kubo: Some("http://127.0.0.1:5003"),
            rebuilders: &rebuilders,
            require_attestations: Some(3),
        };
        let s = settings(flags, env, &file, &[]).unwrap();
        let expected = Settings {
            index: "from-flag".into(),
            gateways: vec!["http://flag".into()],
            kubo: Some("http://127.0.0.1:5003".into()),
            policy: Policy { require: 3, rebuilders: vec!["flag-r".into()] },
        };
        assert_eq!(s, expected);
        let s = settings(Flags::default(), env, &file, &[]).unwrap();
        let expected = Settings {
            index: "from-env".into(),
            gateways: vec!["http://a".into(), "http://b".into()],
            kubo: Some("http://127.0.0.1:5002".into()),
            policy: Policy { require: 2, rebuilders: vec!["env-a".into(), "env-b".into()] },
        };
        assert_eq!(s, expected);
        let s = settings(Flags::default(), |_| None, &file, &[]).unwrap();
        let expected = Settings {
            index: "from-file".into(),
            gateways: vec!["http://file".into()],
            kubo: Some("/ip4/127.0.0.1/tcp/5001".into()),
            policy: Policy { require: 1, rebuilders: vec!["file-r".into()] },
        };
        assert_eq!(s, expected);
        // Each setting on its own: a flag for one leaves the others to the
        // environment and the file.
        let s = settings(Flags { index: Some("from-flag"), ..Flags::default() }, |_| None, &file, &[]).unwrap();
        assert_eq!((s.index.as_str(), s.kubo.as_deref()), ("from-flag", Some("/ip4/127.0.0.1/tcp/5001")));
        let s = settings(Flags::default(), |_| None, &ConfigFile::default(), &["only".into()]).unwrap();
        assert_eq!((s.index.as_str(), s.kubo), ("only", None));
        assert!(settings(Flags::default(), |_| None, &ConfigFile::default(), &[]).is_err());
        assert!(settings(Flags::default(), |_| None, &ConfigFile::default(), &["a".into(), "b".into()]).is_err());
        assert_eq!(s_policy(&ConfigFile::default()), Policy::default(), "nothing required unless asked");
        let bad = |k: &str| (k == "CARGO_IPFS_REQUIRE_ATTESTATIONS").then(|| "two".to_string());
        let err = settings(Flags::default(), bad, &file, &[]).unwrap_err().to_string();
        assert!(err.contains("CARGO_IPFS_REQUIRE_ATTESTATIONS=\"two\" is not a number"), "{err}");
    }

    #[test]
    fn subscriptions_are_kept_in_order_beside_the_other_settings() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), r#"{"gateways": ["http://g"], "require_attestations": 1}"#)
            .unwrap();
        let a = Subscription { index: "a".into(), gateways: vec!["http://a".into()], kubo: None };
        let b = Subscription { index: "b".into(), ..Subscription::default() };
        save_subscription(dir.path(), &a).unwrap();
        save_subscription(dir.path(), &b).unwrap();
        let a2 = Subscription { gateways: vec!["http://a2".into()], ..a.clone() };
        save_subscription(dir.path(), &a2).unwrap();
        let file = read_config(dir.path()).unwrap();
        assert_eq!(file.subscriptions, [a2, b.clone()], "replaced in its place");
        assert_eq!((file.gateways, file.require_attestations), (vec!["http://g".to_string()], Some(1)));
        assert!(remove_subscription(dir.path(), "a").unwrap());
        assert!(!remove_subscription(dir.path(), "a").unwrap());
        assert_eq!(read_config(dir.path()).unwrap().subscriptions, [b]);
        std::fs::write(dir.path().join("config.json"), "{").unwrap();
        assert!(save_subscription(dir.path(), &a).is_err(), "a malformed file is not overwritten");
        assert_eq!(std::fs::read(dir.path().join("config.json")).unwrap(), b"{");
    }

    fn s_policy(file: &ConfigFile) -> Policy {
        policy(&Flags::default(), &|_: &str| None, file).unwrap()
    }
}
