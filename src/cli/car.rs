//! `cargo ipfs car export|import`: move DAGs in and out as CAR v1 files.

use super::{parse_cid_arg, Global, Status};
use crate::formats::car::{CarReader, CarWriter};
use crate::store::dag::{missing_blocks, walk, WalkError};
use crate::store::BlockStore;
use anyhow::{bail, Context};
use std::io::Write;
use std::path::PathBuf;

/// `cargo ipfs car` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write every block under CID to a CAR file.
    Export {
        /// The root CID.
        cid: String,
        /// The CAR file to write; `-` for standard output.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Verify and store every block of a CAR file, then check that each root's
    /// DAG is complete.
    Import {
        /// The CAR file to read.
        file: PathBuf,
    },
}

/// Runs a car subcommand.
pub fn exec(global: &Global, cmd: Command) -> anyhow::Result<Status> {
    let store = global.open_store()?;
    match cmd {
        Command::Export { cid, output } => {
            let root = parse_cid_arg(&cid)?;
            if output.as_os_str() == "-" {
                let stdout = std::io::stdout();
                export(&store, &root, std::io::BufWriter::new(stdout.lock()))?;
            } else {
                use crate::atomic_file::{replace_with, Durability, Options};
                let options = Options { mode: Some(0o644), ..Options::new(Durability::Unsynced) };
                // An export error is kept aside so that it reaches the user
                // whole, not as an I/O error.
                let mut failed = None;
                replace_with(&output, options, |file| match export(&store, &root, std::io::BufWriter::new(file)) {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        failed = Some(e);
                        Err(std::io::Error::other("export failed"))
                    }
                })
                .map_err(|e| match failed.take() {
                    Some(export_error) => export_error,
                    None => anyhow::Error::new(e).context(format!("cannot write {}", output.display())),
                })?;
            }
            Ok(0)
        }
        Command::Import { file } => {
            let reader = std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
            let mut car = CarReader::new(reader).with_context(|| format!("cannot read {}", file.display()))?;
            let roots = car.roots().to_vec();
            let mut count = 0u64;
            while let Some(block) = car.next_block().with_context(|| format!("cannot read {}", file.display()))? {
                store.put(&block)?;
                count += 1;
            }
            println!("imported {count} blocks from {}", file.display());
            let mut incomplete = 0;
            for root in &roots {
                let missing = missing_blocks(&store, root)?;
                if missing.is_empty() {
                    println!("root {root}: complete");
                } else {
                    incomplete += 1;
                    let list: Vec<String> = missing.iter().map(ToString::to_string).collect();
                    println!("root {root}: incomplete, {} block(s) missing: {}", missing.len(), list.join(", "));
                }
            }
            if incomplete > 0 {
                bail!("{incomplete} of {} root(s) in {} are incomplete; the blocks that were present are stored, fetch the missing ones from another source", roots.len(), file.display());
            }
            Ok(0)
        }
    }
}

fn export<W: Write>(store: &dyn BlockStore, root: &cid::Cid, out: W) -> anyhow::Result<W> {
    let mut car = CarWriter::new(out, &[*root]).context("cannot write the CAR header")?;
    let mut write_err = None;
    let result = walk(store, root, &mut |block| {
        car.write_block(&block).map_err(|e| {
            write_err = Some(e.to_string());
            WalkError::Missing { root: *root, missing: *block.cid() }
        })
    });
    if let Some(e) = write_err {
        bail!("cannot write the CAR file: {e}");
    }
    result.with_context(|| format!("cannot export {root}"))?;
    let mut out = car.finish().context("cannot finish the CAR file")?;
    out.flush().context("cannot write the CAR file")?;
    Ok(out)
}
