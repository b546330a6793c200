//! Where fetching looks: the index name and the gateways, from flags, then
//! `CARGO_IPFS_*` environment variables, then `<store>/config.json`.

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
}

/// The settings in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The index name.
    pub index: String,
    /// Gateway base URLs (empty: the local store only).
    pub gateways: Vec<String>,
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

/// Resolves the settings: `flag_*` first, then `CARGO_IPFS_INDEX` and
/// `CARGO_IPFS_GATEWAYS` (comma-separated), then the config file; with no
/// index named anywhere, the only trusted index if there is exactly one.
pub fn settings(
    flag_index: Option<&str>,
    flag_gateways: &[String],
    env: impl Fn(&str) -> Option<String>,
    file: &ConfigFile,
    trusted: &[String],
) -> anyhow::Result<Settings> {
    let index = match flag_index.map(str::to_string).or_else(|| env("CARGO_IPFS_INDEX")).or_else(|| file.index.clone())
    {
        Some(index) => index,
        None => match trusted {
            [only] => only.clone(),
            [] => bail!("no index is trusted here; add one with `cargo ipfs trust add NAME KEY...`"),
            _ => bail!("several indexes are trusted ({}); choose one with --index NAME", trusted.join(", ")),
        },
    };
    let gateways = if !flag_gateways.is_empty() {
        flag_gateways.to_vec()
    } else if let Some(list) = env("CARGO_IPFS_GATEWAYS") {
        list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
    } else {
        file.gateways.clone()
    };
    Ok(Settings { index, gateways })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_environment_beat_file() {
        let file = ConfigFile { index: Some("from-file".into()), gateways: vec!["http://file".into()] };
        let env = |k: &str| match k {
            "CARGO_IPFS_INDEX" => Some("from-env".to_string()),
            "CARGO_IPFS_GATEWAYS" => Some("http://a, http://b".to_string()),
            _ => None,
        };
        let s = settings(Some("from-flag"), &["http://flag".into()], env, &file, &[]).unwrap();
        assert_eq!(s, Settings { index: "from-flag".into(), gateways: vec!["http://flag".into()] });
        let s = settings(None, &[], env, &file, &[]).unwrap();
        assert_eq!(s, Settings { index: "from-env".into(), gateways: vec!["http://a".into(), "http://b".into()] });
        let s = settings(None, &[], |_| None, &file, &[]).unwrap();
        assert_eq!(s, Settings { index: "from-file".into(), gateways: vec!["http://file".into()] });
        let s = settings(None, &[], |_| None, &ConfigFile::default(), &["only".into()]).unwrap();
        assert_eq!(s.index, "only");
        assert!(settings(None, &[], |_| None, &ConfigFile::default(), &[]).is_err());
        assert!(settings(None, &[], |_| None, &ConfigFile::default(), &["a".into(), "b".into()]).is_err());
    }
}
