//! Pinning beyond this store: every CID an index version references (its
//! root, which holds the manifest and the shards, and each artifact) pinned
//! on named services, as `cargo ipfs pin remote add` runs it.
//!
//! Three kinds of service, configured by name in `<store>/pin-services.json`
//! ([`Services`]):
//!
//! - [`kubo`]: a kubo node's RPC API, `pin/add` recursive;
//! - [`psa`]: a remote pinning service through the IPFS Pinning Service API
//!   1.0 (`POST /pins`, polled from `queued` through `pinning` to `pinned`
//!   or `failed`; what is there already is listed page by page first);
//! - [`cluster`]: an IPFS Cluster through its REST API (`POST /pins/{cid}`
//!   with a name, the mode and the replication factors, polled through
//!   `GET /pins/{cid}` until enough peers hold it).
//!
//! A service's access token comes from an environment variable or a file,
//! never from a command-line flag (where other users of the machine could
//! read it). Requests are retried with backoff and jitter ([`http`]).
//! Pinning is idempotent: what a service holds already is found and
//! counted, not pinned again.

pub mod cluster;
pub mod http;
pub mod kubo;
pub mod psa;
pub mod run;
#[cfg(feature = "stand-ins")]
#[doc(hidden)]
pub mod standin;

use crate::formats::block::parse_cid;
use crate::index::tree::{all_shards, lookup, read_version};
use crate::store::BlockStore;
use anyhow::Context;
use cid::Cid;
use http::{RemoteError, Retry};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The API a service speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    /// A kubo node's RPC API.
    Kubo,
    /// The IPFS Pinning Service API 1.0.
    PinningService,
    /// IPFS Cluster's REST API.
    Cluster,
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Api::Kubo => "kubo",
            Api::PinningService => "pinning-service",
            Api::Cluster => "cluster",
        })
    }
}

/// One configured service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// The API it speaks.
    pub api: Api,
    /// Its endpoint: the API's base URL (`https://pinning.example/psa`,
    /// `http://127.0.0.1:9094`), or kubo's RPC address.
    pub endpoint: String,
    /// The environment variable holding the access token (by default
    /// `CARGO_IPFS_PIN_TOKEN_<NAME>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// A file holding the access token (read at each run; it wins over the
    /// variable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// For a cluster with basic authentication: the user (the token is the
    /// password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_user: Option<String>,
    /// For a cluster: the fewest peers that must hold each pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_min: Option<i32>,
    /// For a cluster: the most peers that may hold each pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_max: Option<i32>,
}

/// `<store>/pin-services.json`: services by name.
pub type Services = BTreeMap<String, Service>;

/// A service's credentials.
#[derive(Clone)]
pub enum Credentials {
    /// None: a kubo node, or a cluster without authentication.
    None,
    /// A bearer token, and where it came from.
    Bearer {
        /// The token.
        token: String,
        /// Its source, for errors.
        from: String,
    },
    /// Basic authentication, and where the password came from.
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: String,
        /// Its source, for errors.
        from: String,
    },
}

impl Credentials {
    /// Where the secret came from, for an error that asks for a new one.
    pub fn source(&self) -> String {
        match self {
            Credentials::None => "the service's configuration (no token is set)".into(),
            Credentials::Bearer { from, .. } | Credentials::Basic { from, .. } => from.clone(),
        }
    }
}

/// The variable a service's token is read from by default.
pub fn default_token_env(name: &str) -> String {
    let upper: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("{}{upper}", crate::vars::PIN_TOKEN_PREFIX)
}

impl Service {
    /// The service's credentials: the token file if set, else the variable;
    /// `None` when neither holds a token.
    pub fn credentials(&self, name: &str, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Credentials> {
        let (token, from) = match &self.token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read the access token of service `{name}` from {}", path.display())
                })?;
                (Some(text.trim().to_string()), format!("the file {}", path.display()))
            }
            None => {
                let var = self.token_env.clone().unwrap_or_else(|| default_token_env(name));
                (env(&var).map(|t| t.trim().to_string()), format!("the environment variable {var}"))
            }
        };
        let token = token.filter(|t| !t.is_empty());
        Ok(match (token, &self.basic_user) {
            (None, _) => Credentials::None,
            (Some(password), Some(user)) => Credentials::Basic { user: user.clone(), password, from },
            (Some(token), None) => Credentials::Bearer { token, from },
        })
    }
}

/// One CID to pin, with the name it is pinned under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The root of the DAG.
    pub cid: Cid,
    /// A name for people looking at the service's pins.
    pub name: String,
}

/// How one CID fared on one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "kebab-case")]
pub enum Outcome {
    /// The service held it already.
    Already,
    /// Pinned by this run.
    Pinned,
    /// The service failed to pin it, and why.
    Failed(String),
    /// Still in progress when the wait ended (its last status).
    Pending(String),
}

/// The labels every pin made here carries (the Pinning Service API's
/// `meta`), by which a later run finds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    /// The index name.
    pub index: String,
    /// The version's sequence number.
    pub seq: u64,
}

impl Labels {
    /// As `meta`.
    pub fn meta(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app".to_string(), "cargo-ipfs-fetch".to_string()),
            ("index".to_string(), self.index.clone()),
            ("seq".to_string(), self.seq.to_string()),
        ])
    }

    /// The part of `meta` that finds every pin of the index.
    pub fn filter(&self) -> BTreeMap<String, String> {
        BTreeMap::from([("app".to_string(), "cargo-ipfs-fetch".to_string()), ("index".to_string(), self.index.clone())])
    }
}

/// What a run may wait for and how it retries.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// How it retries a request.
    pub retry: Retry,
    /// How long it waits in all for a service to pin what it asked.
    pub wait: Duration,
    /// The first pause between status checks (it doubles up to 5 s).
    pub poll: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Pace { retry: Retry::default(), wait: Duration::from_secs(30 * 60), poll: Duration::from_millis(250) }
    }
}

/// A service that pins.
pub trait Target {
    /// The service, for messages: `name (api at endpoint)`.
    fn describe(&self) -> String;
    /// Pins each of `wanted`, calling `progress` as each settles; one
    /// [`Outcome`] per CID, in order. An error (a refused token, a service
    /// out of reach) ends the service's run.
    fn pin_all(
        &self,
        wanted: &[Wanted],
        labels: &Labels,
        progress: &mut dyn FnMut(&Wanted, &Outcome),
    ) -> Result<Vec<Outcome>, RemoteError>;
}

/// Opens the service `name` for pinning.
pub fn open(name: &str, service: &Service, pace: Pace) -> anyhow::Result<Box<dyn Target>> {
    let credentials = service.credentials(name, |k| std::env::var(k).ok())?;
    Ok(match service.api {
        Api::Kubo => Box::new(kubo::KuboTarget::connect(name, &service.endpoint, pace)?),
        Api::PinningService => {
            if matches!(credentials, Credentials::None) {
                anyhow::bail!(
                    "service `{name}` needs an access token: set {} or give the service a --token-file (never on the command line)",
                    service.token_env.clone().unwrap_or_else(|| default_token_env(name))
                );
            }
            Box::new(psa::PinningService::new(name, &service.endpoint, credentials, pace)?)
        }
        Api::Cluster => Box::new(cluster::Cluster::new(name, service, credentials, pace)?),
    })
}

/// What an index version references, as CIDs to pin: its root first (the
/// manifest and shards below it), then every artifact, or with `since` (the
/// shards of an older version) only the artifacts added after it. Read
/// from `store`, where the version must be whole.
pub fn references(
    store: &dyn BlockStore,
    index: &str,
    root: &Cid,
    since: Option<&Cid>,
) -> anyhow::Result<(Vec<Wanted>, u64)> {
    let version = read_version(store, root).with_context(|| {
        format!("cannot read version {root} of index `{index}` from the store; pin what this store holds (publish, mirror or fetch it first)")
    })?;
    let seq = version.manifest.seq;
    let mut wanted = vec![Wanted { cid: *root, name: format!("cargo-ipfs {index} v{seq}") }];
    let entries = match since {
        Some(previous) => crate::index::diff::diff(store, previous, &version.shards)?.0,
        None => {
            let mut entries = Vec::new();
            for (krate, _) in all_shards(store, &version.shards)? {
                entries.extend(lookup(store, &version.shards, &krate)?);
            }
            entries
        }
    };
    let mut seen = BTreeSet::new();
    for entry in entries {
        let cid = parse_cid(&entry.cid)?;
        if seen.insert(cid) {
            let short: String = entry.key.chars().take(12).collect();
            wanted.push(Wanted { cid, name: format!("cargo-ipfs {index} {} {} {short}", entry.name, entry.version) });
        }
    }
    Ok((wanted, seq))
}

/// Reads `<store>/pin-services.json` (absent: none).
pub fn read_services(store_dir: &Path) -> anyhow::Result<Services> {
    let path = store_dir.join("pin-services.json");
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is malformed; fix it or remove the service with `cargo ipfs pin remote service rm`",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Services::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes `<store>/pin-services.json` whole (a temporary file renamed).
pub fn write_services(store_dir: &Path, services: &Services) -> anyhow::Result<()> {
    let path = store_dir.join("pin-services.json");
    let bytes = serde_json::to_vec_pretty(services)?;
    crate::atomic_file::replace(&path, &bytes, crate::atomic_file::Durability::Synced)
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_the_file_then_the_variable_never_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let mut service = Service {
            api: Api::PinningService,
            endpoint: "http://127.0.0.1:1/".into(),
            token_env: None,
            token_file: None,
            basic_user: None,
            replication_min: None,
            replication_max: None,
        };
        let env = |k: &str| (k == "CARGO_IPFS_PIN_TOKEN_MY_SVC").then(|| "from-env\n".to_string());
        let Credentials::Bearer { token, from } = service.credentials("my-svc", env).unwrap() else { panic!() };
        assert_eq!(
            (token.as_str(), from.as_str()),
            ("from-env", "the environment variable CARGO_IPFS_PIN_TOKEN_MY_SVC")
        );
        assert!(matches!(service.credentials("other", env).unwrap(), Credentials::None));
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").unwrap();
        service.token_file = Some(file);
        let Credentials::Bearer { token, .. } = service.credentials("my-svc", env).unwrap() else { panic!() };
        assert_eq!(token, "from-file");
        service.basic_user = Some("admin".into());
        let Credentials::Basic { user, password, .. } = service.credentials("my-svc", env).unwrap() else { panic!() };
        assert_eq!((user.as_str(), password.as_str()), ("admin", "from-file"));
        service.token_file = Some(dir.path().join("absent"));
        let err = service.credentials("my-svc", env).err().unwrap().to_string();
        assert!(err.contains("cannot read the access token of service `my-svc`"), "{err}");
    }
}
