//! `cargo ipfs get CID -o PATH`: write a file or directory out of the store.
//! The result appears at PATH only when complete (written beside it, then
//! renamed), so an interrupted get leaves nothing half-written there.

use super::cat::CatError;
use super::{Global, Status};
use crate::formats::block::{verify, DAG_PB};
use crate::formats::unixfs::{export_file, list_directory, node_kind, EntryKind, UnixFsData};
use crate::store::{BlockStore, DiskStore};
use anyhow::{bail, Context};
use cid::Cid;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `cargo ipfs get`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The CID of a file or directory, or CID/path/in/a/directory.
    cid: String,
    /// Where to write it [default: ./<CID>].
    #[arg(short = 'o', long, value_name = "PATH")]
    output: Option<PathBuf>,
}

/// Writes the DAG at the CID to the output path.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    let store = global.open_store()?;
    let cid = crate::store::dag::resolve_path(&store, &args.cid)?;
    let output = args.output.unwrap_or_else(|| PathBuf::from(cid.to_string()));
    if output.symlink_metadata().is_ok() {
        bail!("{} already exists; remove it or choose another -o PATH", output.display());
    }
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let staging = tempfile::Builder::new()
        .prefix(".cargo-ipfs-get-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot write in {}", parent.display()))?;
    let tmp = staging.path().join("out");
    write_node(&store, &cid, &tmp, 0)?;
    std::fs::rename(&tmp, &output).with_context(|| format!("cannot move the result to {}", output.display()))?;
    println!("Saving file(s) to {}", output.display());
    Ok(0)
}

fn write_node(store: &DiskStore, cid: &Cid, path: &Path, depth: usize) -> anyhow::Result<()> {
    if depth > 64 {
        bail!("{cid}: directories nest deeper than 64 levels");
    }
    let bytes = store.get_required(cid)?;
    match node_kind(cid, &bytes) {
        Some(EntryKind::Directory) => {
            std::fs::create_dir(path).with_context(|| format!("cannot create {}", path.display()))?;
            let entries = list_directory(cid, &mut |c| store.get_required(c))?;
            for entry in entries {
                if entry.name.contains('/') || entry.name == "." || entry.name == ".." || entry.name.is_empty() {
                    bail!("{cid}: unsafe entry name {:?} refused", entry.name);
                }
                write_node(store, &entry.cid, &path.join(&entry.name), depth + 1)?;
            }
        }
        Some(EntryKind::Symlink) => {
            verify(cid, &bytes)?;
            let node = crate::formats::dagpb::PbNode::decode(&bytes)?;
            let data = UnixFsData::decode(node.data.as_deref().unwrap_or_default())?;
            let target = String::from_utf8(data.data.unwrap_or_default()).context("symlink target is not UTF-8")?;
            #[cfg(unix)]
            std::os::unix::fs::symlink(&target, path).with_context(|| format!("cannot create {}", path.display()))?;
            #[cfg(not(unix))]
            bail!("{}: symlinks are not supported on this platform (target {target})", path.display());
        }
        Some(EntryKind::File) => {
            let mut file = std::io::BufWriter::with_capacity(
                1 << 20,
                std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
            );
            // The root's declared size bounds what is read.
            export_file(cid, u64::MAX, &mut |c| store.get_required(c).map_err(CatError::Store), &mut |b| {
                file.write_all(b).map_err(CatError::Io)
            })
            .with_context(|| format!("cannot write {}", path.display()))?;
            file.flush().with_context(|| format!("cannot write {}", path.display()))?;
        }
        None if cid.codec() == DAG_PB => bail!("{cid} is a dag-pb node that is not UnixFS"),
        None => bail!("{cid} has codec {:#x}, which is not UnixFS", cid.codec()),
    }
    Ok(())
}
