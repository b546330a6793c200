//! Where fetching looks: the index name, the gateways and a kubo node, from
//! flags, then `CARGO_IPFS_*` environment variables, then
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
}

/// The settings in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The index name.
    pub index: String,
    /// Gateway base URLs (empty, and no kubo node: the local store only).
    pub gateways: Vec<String>,
    /// A kubo node's RPC API address; when set, fetching reads through the
    /// node and not the gateways.
    pub kubo: Option<String>,
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
    Ok(Settings { index, gateways, kubo })
}

/// The gateways in a comma-separated list, as `CARGO_IPFS_GATEWAYS` holds them.
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
        };
        let env = |k: &str| match k {
            "CARGO_IPFS_INDEX" => Some("from-env".to_string()),
            "CARGO_IPFS_GATEWAYS" => Some("http://a, http://b".to_string()),
            "CARGO_IPFS_KUBO" => Some("http://127.0.0.1:5002".to_string()),
            _ => None,
        };
        let gateways = ["http://flag".to_string()];
        let flags = Flags { index: Some("from-flag"), gateways: &gateways, kubo: Some("http://127.0.0.1:5003") };
        let s = settings(flags, env, &file, &[]).unwrap();
        let expected = Settings {
            index: "from-flag".into(),
            gateways: vec!["http://flag".into()],
            kubo: Some("http://127.0.0.1:5003".into()),
        };
        assert_eq!(s, expected);
        let s = settings(Flags::default(), env, &file, &[]).unwrap();
        let expected = Settings {
            index: "from-env".into(),
            gateways: vec!["http://a".into(), "http://b".into()],
            kubo: Some("http://127.0.0.1:5002".into()),
        };
        assert_eq!(s, expected);
        let s = settings(Flags::default(), |_| None, &file, &[]).unwrap();
        let expected = Settings {
            index: "from-file".into(),
            gateways: vec!["http://file".into()],
            kubo: Some("/ip4/127.0.0.1/tcp/5001".into()),
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
    }
}
