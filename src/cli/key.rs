//! `cargo ipfs key gen|list|rm|export|import`: the publisher's keys, as
//! `ipfs key` manages kubo's. Keys move between the two with `export` and
//! `import` unchanged (kubo's libp2p-protobuf-cleartext format).

use super::{Global, Status};
use crate::keystore::write_private_file;
use anyhow::{bail, Context};
use std::io::Read;
use std::path::PathBuf;

/// A file to import larger than this is not a key (see the keystore).
const MAX_IMPORT_SIZE: u64 = 16 * 1024;

/// `cargo ipfs key` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a new Ed25519 key and print its IPNS name.
    Gen {
        /// The key's name: letters, digits, '.', '_' or '-'.
        name: String,
    },
    /// List keys: name, IPNS name (k51...) and peer id (12D3KooW...).
    List {
        /// Print a JSON array of {name, ipns_base36, peer_id}.
        #[arg(long)]
        json: bool,
    },
    /// Delete a key. Its name cannot be published to again unless the key
    /// was exported.
    Rm {
        /// The key's name.
        name: String,
    },
    /// Write a key to a new file (mode 0600) that `ipfs key import` reads.
    Export {
        /// The key's name.
        name: String,
        /// The file to create; it must not exist [default: ./<NAME>.key].
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Import a key written by `ipfs key export` (libp2p-protobuf-cleartext)
    /// and print its IPNS name.
    Import {
        /// The name to store it under.
        name: String,
        /// The exported key file.
        file: PathBuf,
    },
}

/// Runs a key subcommand.
pub fn exec(global: &Global, cmd: Command) -> anyhow::Result<Status> {
    let keystore = global.open_keystore()?;
    match cmd {
        Command::Gen { name } => {
            let keypair = keystore.gen(&name)?;
            println!("{}", keypair.ipns_name());
        }
        Command::List { json } => {
            let keys = keystore.list()?;
            if json {
                let array: Vec<serde_json::Value> = keys
                    .iter()
                    .map(|(name, ipns)| {
                        serde_json::json!({
                            "name": name,
                            "ipns_base36": ipns.to_string(),
                            "peer_id": ipns.to_base58(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(array));
            } else {
                for (name, ipns) in keys {
                    println!("{name} {ipns} {}", ipns.to_base58());
                }
            }
        }
        Command::Rm { name } => {
            // A key file that cannot be read (corrupt, or open to others)
            // can still be removed; its name is shown when it can be.
            let ipns = keystore.get(&name).map(|k| format!(" {}", k.ipns_name())).unwrap_or_default();
            keystore.remove(&name)?;
            println!("removed {name}{ipns}");
        }
        Command::Export { name, output } => {
            let bytes = keystore.export(&name)?;
            let output = output.unwrap_or_else(|| PathBuf::from(format!("{name}.key")));
            write_private_file(&output, &bytes)?;
        }
        Command::Import { name, file } => {
            let mut bytes = Vec::new();
            std::fs::File::open(&file)
                .and_then(|f| f.take(MAX_IMPORT_SIZE + 1).read_to_end(&mut bytes))
                .with_context(|| format!("cannot read {}", file.display()))?;
            if bytes.len() as u64 > MAX_IMPORT_SIZE {
                bail!("{} is over {MAX_IMPORT_SIZE} bytes, too large to be a key", file.display());
            }
            println!("{}", keystore.import(&name, &bytes)?);
        }
    }
    Ok(0)
}
