//! `cargo ipfs pin ls|add|rm`: the store's pin set, every root it keeps and
//! why (see [`crate::pinning`]).

use super::{parse_cid_arg, Global, Status};
use crate::index::state::IndexState;
use crate::pinning::{kept, Why};
use crate::store::dag::missing_blocks;
use anyhow::bail;
use std::time::{SystemTime, UNIX_EPOCH};

/// `cargo ipfs pin` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List every root the store keeps, and why.
    Ls {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Pin a DAG that is whole in the store.
    Add {
        /// Its root CID.
        cid: String,
        /// A name to remember it by.
        #[arg(long)]
        name: Option<String>,
    },
    /// Remove a pin made with `pin add`.
    Rm {
        /// Its root CID.
        cid: String,
    },
    /// Pin an index on kubo nodes, pinning services and IPFS Clusters.
    #[command(subcommand)]
    Remote(super::pin_remote::Command),
}

/// Runs a pin subcommand.
pub fn exec(global: &Global, cmd: Command) -> anyhow::Result<Status> {
    let store_dir = global.store_dir()?;
    let local = IndexState::new(&store_dir);
    match cmd {
        Command::Ls { json } => {
            let set = kept(&store_dir)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&set)?);
            } else {
                for k in &set {
                    println!("{}  {}", k.cid, k.why);
                }
            }
        }
        Command::Add { cid, name } => {
            let root = parse_cid_arg(&cid)?;
            let store = global.open_store()?;
            let missing = missing_blocks(&store, &root)?;
            if let Some(first) = missing.first() {
                bail!(
                    "{root} is not whole in this store ({} blocks missing, {first} first); bring it in first (`cargo ipfs car import`, `cargo ipfs get`)",
                    missing.len()
                );
            }
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let added = local.update_pins(|pins| pins.add_user(&root.to_string(), name, now))?;
            println!("{root} {}", if added { "pinned" } else { "was pinned already" });
        }
        Command::Rm { cid } => {
            let root = parse_cid_arg(&cid)?.to_string();
            if !local.update_pins(|pins| pins.remove_user(&root))? {
                let others: Vec<String> =
                    kept(&store_dir)?.into_iter().filter(|k| k.cid == root).map(|k| k.why.to_string()).collect();
                if others.is_empty() {
                    bail!("{root} is not pinned");
                }
                bail!("{root} has no pin of yours to remove; it is kept as: {}", others.join("; "));
            }
            let still: Vec<Why> = kept(&store_dir)?.into_iter().filter(|k| k.cid == root).map(|k| k.why).collect();
            match still.first() {
                None => println!("{root} unpinned"),
                Some(why) => println!("{root} unpinned by you; still kept as: {why}"),
            }
        }
        Command::Remote(remote) => return super::pin_remote::exec(global, remote),
    }
    Ok(0)
}
