//! `cargo ipfs trust add|list|rm`: the publisher keys a subscriber trusts,
//! per index name.

use super::{Global, Status};
use crate::formats::ipns::IpnsName;
use crate::index::manifest::IndexKind;
use crate::index::state::{IndexState, IndexTrust};
use anyhow::{bail, Context};

/// `cargo ipfs trust` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Trust publisher KEYs (IPNS names, k51... or 12D3KooW...) for index NAME.
    Add {
        /// The index name.
        name: String,
        /// The publisher keys.
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        /// How many of the keys must sign each version.
        #[arg(long, default_value_t = 1)]
        threshold: u32,
        /// The IPNS name the index is published under [default: the first KEY].
        #[arg(long, value_name = "NAME")]
        ipns: Option<String>,
        /// NAME is a rebuilder's attestation index (`cargo ipfs attest`),
        /// whose statements a policy of required attestations counts.
        #[arg(long)]
        rebuilder: bool,
    },
    /// List trusted indexes.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop trusting index NAME.
    Rm {
        /// The index name.
        name: String,
    },
}

fn ed25519_name(text: &str) -> anyhow::Result<String> {
    let name: IpnsName = text.parse()?;
    match name.inline_public_key() {
        Some(Ok(_)) => Ok(name.to_string()),
        _ => bail!("{text} does not embed an Ed25519 public key; publisher keys must be Ed25519 IPNS names"),
    }
}

/// Trusts `keys` (IPNS names of Ed25519 keys) for index `name`, replacing
/// what was trusted for it; returns the trust added.
pub(super) fn add(
    local: &IndexState,
    name: &str,
    keys: &[String],
    threshold: u32,
    ipns: Option<String>,
    kind: IndexKind,
) -> anyhow::Result<IndexTrust> {
    crate::index::layout::shard_path(name)
        .map_err(|_| anyhow::anyhow!("invalid index name {name:?}: use 1 to 64 ASCII letters, digits, '-' or '_'"))?;
    let mut keys = keys.iter().map(|k| ed25519_name(k)).collect::<anyhow::Result<Vec<_>>>()?;
    let Some(first) = keys.first().cloned() else { bail!("give at least one publisher key") };
    let ipns = match ipns {
        Some(n) => n.parse::<IpnsName>()?.to_string(),
        None => first,
    };
    keys.sort();
    keys.dedup();
    if threshold == 0 || threshold as usize > keys.len() {
        bail!("--threshold {threshold} must be between 1 and the number of keys ({})", keys.len());
    }
    let trust = IndexTrust { keys, threshold, ipns, kind };
    local.update_trust(|t| t.insert(name.to_string(), trust.clone()))?;
    Ok(trust)
}

/// Runs a trust subcommand.
pub fn exec(global: &Global, cmd: Command) -> anyhow::Result<Status> {
    let local = IndexState::new(global.store_dir()?);
    match cmd {
        Command::Add { name, keys, threshold, ipns, rebuilder } => {
            let kind = if rebuilder { IndexKind::Attestations } else { IndexKind::Artifacts };
            let trust = add(&local, &name, &keys, threshold, ipns, kind)?;
            let what = if rebuilder { "rebuilder" } else { "index" };
            println!(
                "trusting {} key(s) for {what} {name} (threshold {threshold}), published at /ipns/{}",
                trust.keys.len(),
                trust.ipns
            );
        }
        Command::List { json } => {
            let trust = local.trust()?;
            let seen = local.seen()?;
            if json {
                let out: Vec<_> = trust
                    .iter()
                    .map(|(name, t)| {
                        serde_json::json!({
                            "index": name, "keys": t.keys, "threshold": t.threshold, "ipns": t.ipns,
                            "rebuilder": t.kind == IndexKind::Attestations,
                            "last_seen_seq": seen.get(name).map(|s| s.seq),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                for (name, t) in &trust {
                    let last =
                        seen.get(name).map_or("never resolved".to_string(), |s| format!("last seen version {}", s.seq));
                    let rebuilder = if t.kind == IndexKind::Attestations { " (rebuilder)" } else { "" };
                    println!("{name}{rebuilder}: {} of {} key(s), /ipns/{}, {last}", t.threshold, t.keys.len(), t.ipns);
                    for key in &t.keys {
                        println!("  {key}");
                    }
                }
            }
        }
        Command::Rm { name } => {
            let removed = local.update_trust(|t| t.remove(&name))?;
            removed
                .with_context(|| format!("index {name} is not trusted here; `cargo ipfs trust list` shows what is"))?;
            println!("no longer trusting index {name}");
        }
    }
    Ok(0)
}
