//! `cargo ipfs cat CID`: stream a file's bytes to standard output.

use super::{Global, Status};
use crate::formats::unixfs::export_file;
use crate::store::{BlockStore, StoreError};
use anyhow::Context;
use std::io::Write;

/// Arguments of `cargo ipfs cat`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file's CID, or CID/path/in/a/directory (optionally after /ipfs/).
    cid: String,
}

/// Writes the file to stdout, verifying every block.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    let store = global.open_store()?;
    let cid = crate::store::dag::resolve_path(&store, &args.cid)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    // The root's declared size bounds what is read.
    export_file(&cid, u64::MAX, &mut |c| store.get_required(c).map_err(CatError::Store), &mut |bytes| {
        out.write_all(bytes).map_err(CatError::Io)
    })
    .with_context(|| format!("cannot read {cid}"))?;
    out.flush().context("cannot write to standard output")?;
    Ok(0)
}

/// The two things that fail while streaming: the store and stdout.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CatError {
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Io(std::io::Error),
}
