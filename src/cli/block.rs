//! `cargo ipfs block get|put|stat|verify`: raw blocks, as `ipfs block` does,
//! and a sweep of the whole store, as `ipfs repo verify` does.

use super::{parse_cid_arg, Global, Status};
use crate::formats::block::{Block, DAG_CBOR, DAG_JSON, DAG_PB, MAX_BLOCK_SIZE, RAW};
use crate::store::BlockStore;
use anyhow::{bail, Context};
use std::io::{Read, Write};
use std::path::PathBuf;

/// `cargo ipfs block` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write a block's raw bytes to standard output.
    Get {
        /// The block's CID.
        cid: String,
    },
    /// Store a block read from FILE (or standard input) and print its CID.
    Put {
        /// The file holding the block's bytes; `-` or nothing for stdin.
        file: Option<PathBuf>,
        /// The codec of the CID: raw, dag-pb, dag-cbor or dag-json.
        #[arg(long, default_value = "raw")]
        cid_codec: String,
    },
    /// Print a block's CID and size.
    Stat {
        /// The block's CID.
        cid: String,
    },
    /// Hash every block in the store; move each that fails to the
    /// quarantine (the next fetch or put repairs it). Exits 1 if any failed.
    Verify,
}

fn codec(name: &str) -> anyhow::Result<u64> {
    Ok(match name {
        "raw" => RAW,
        "dag-pb" | "protobuf" => DAG_PB,
        "dag-cbor" | "cbor" => DAG_CBOR,
        "dag-json" => DAG_JSON,
        other => bail!("unknown --cid-codec `{other}`; use raw, dag-pb, dag-cbor or dag-json"),
    })
}

/// Runs a block subcommand.
pub fn exec(global: &Global, cmd: Command) -> anyhow::Result<Status> {
    let store = global.open_store()?;
    match cmd {
        Command::Get { cid } => {
            let cid = parse_cid_arg(&cid)?;
            let bytes = store.get_required(&cid)?;
            std::io::stdout().lock().write_all(&bytes).context("cannot write to standard output")?;
        }
        Command::Put { file, cid_codec } => {
            let codec = codec(&cid_codec)?;
            let mut bytes = Vec::new();
            let limit = MAX_BLOCK_SIZE as u64 + 1;
            match file.as_deref().filter(|p| p.as_os_str() != "-") {
                Some(path) => std::fs::File::open(path)
                    .and_then(|f| f.take(limit).read_to_end(&mut bytes))
                    .with_context(|| format!("cannot read {}", path.display()))?,
                None => {
                    std::io::stdin().lock().take(limit).read_to_end(&mut bytes).context("cannot read standard input")?
                }
            };
            if bytes.len() > MAX_BLOCK_SIZE {
                bail!("the block is over the {MAX_BLOCK_SIZE}-byte limit; use `cargo ipfs add` for large files");
            }
            let block = Block::encode(codec, false, bytes);
            store.put(&block)?;
            println!("{}", block.cid());
        }
        Command::Stat { cid } => {
            let cid = parse_cid_arg(&cid)?;
            let bytes = store.get_required(&cid)?;
            println!("Key: {cid}\nSize: {}", bytes.len());
        }
        Command::Verify => {
            let report = store.verify_all()?;
            for corrupt in &report.corrupt {
                eprintln!("cargo-ipfs: {corrupt}");
            }
            println!(
                "{} blocks ({} bytes) verified, {} corrupt{}",
                report.checked - report.unsupported,
                report.bytes,
                report.corrupt.len(),
                if report.corrupt.is_empty() { "" } else { " (moved to the quarantine)" }
            );
            if report.unsupported > 0 {
                println!("{} blocks use a hash function this build cannot check; left as they are", report.unsupported);
            }
            return Ok(if report.corrupt.is_empty() { 0 } else { 1 });
        }
    }
    Ok(0)
}
