//! `cargo ipfs add`: import files and directories, as `ipfs add` does, with
//! the same CIDs for the same options.

use super::{Global, Status};
use crate::formats::block::Block;
use crate::formats::dagpb::PbNode;
use crate::formats::unixfs::{build_directory, DataType, DirEntry, FileImporter, ImportParams, UnixFsData};
use crate::store::{BlockStore, DiskStore};
use anyhow::{bail, Context};
use std::io::Read;
use std::path::Path;

/// Arguments of `cargo ipfs add`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files or directories to add.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<std::path::PathBuf>,
    /// Add directories recursively.
    #[arg(short = 'r', long)]
    recursive: bool,
    /// Include files whose names start with a dot (with -r).
    #[arg(short = 'H', long)]
    hidden: bool,
    /// Wrap the added paths in a directory.
    #[arg(short = 'w', long)]
    wrap_with_directory: bool,
    /// Import profile (IPIP-499): unixfs-v0-2015 (default) or unixfs-v1-2025.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// CID version, 0 or 1; 1 implies --raw-leaves unless a profile or
    /// --raw-leaves=false says otherwise.
    #[arg(long, value_name = "N")]
    cid_version: Option<u8>,
    /// Use raw blocks for leaves.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    raw_leaves: Option<bool>,
    /// Chunking, as size-N (N bytes per leaf).
    #[arg(long, value_name = "size-N")]
    chunker: Option<String>,
    /// Children per internal node (kubo sets this through its profile).
    #[arg(long, value_name = "N")]
    max_links: Option<usize>,
    /// Compute CIDs without storing anything.
    #[arg(short = 'n', long)]
    only_hash: bool,
    /// Print only CIDs.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Print only the final CID.
    #[arg(short = 'Q', long)]
    quieter: bool,
}

impl Args {
    fn params(&self) -> anyhow::Result<ImportParams> {
        let mut params = match &self.profile {
            Some(name) => ImportParams::profile(name)?,
            None => ImportParams::UNIXFS_V0_2015,
        };
        if let Some(version) = self.cid_version {
            params.cid_version = version;
            if self.profile.is_none() {
                params.raw_leaves = version == 1;
            }
        }
        if let Some(raw) = self.raw_leaves {
            params.raw_leaves = raw;
        }
        if let Some(spec) = &self.chunker {
            params.chunk_size = ImportParams::parse_chunker(spec)?;
        }
        if let Some(links) = self.max_links {
            params.max_links = links;
        }
        params.validate()?;
        Ok(params)
    }
}

/// Where blocks go: the store, or nowhere with --only-hash.
struct Adder<'a> {
    params: ImportParams,
    store: Option<&'a DiskStore>,
    args: &'a Args,
}

impl Adder<'_> {
    fn emit(&self, block: Block) -> anyhow::Result<()> {
        if let Some(store) = self.store {
            store.put(&block)?;
        }
        Ok(())
    }

    fn report(&self, cid: &cid::Cid, name: &str) {
        if self.args.quieter {
            return;
        }
        if self.args.quiet {
            println!("{cid}");
        } else {
            println!("added {cid} {name}");
        }
    }

    fn add_file(&self, path: &Path) -> anyhow::Result<(cid::Cid, u64)> {
        let mut file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut importer = FileImporter::new(self.params)?;
        let mut buf = vec![0u8; 1 << 20];
        let mut emit = |b: Block| self.emit(b);
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
            };
            importer.push(&buf[..n], &mut emit)?;
        }
        let file = importer.finish(&mut emit)?;
        Ok((file.cid, file.tsize))
    }

    fn add_symlink(&self, path: &Path) -> anyhow::Result<(cid::Cid, u64)> {
        let target = std::fs::read_link(path).with_context(|| format!("cannot read link {}", path.display()))?;
        let mut data = UnixFsData::new(DataType::Symlink);
        data.data = Some(target.to_string_lossy().into_owned().into_bytes());
        let block = self.params.dag_pb_block(PbNode { links: vec![], data: Some(data.encode()) }.encode());
        let out = (*block.cid(), block.data().len() as u64);
        self.emit(block)?;
        Ok(out)
    }

    /// Adds `path` under the display name `name`, printing a line per entry.
    fn add_path(&self, path: &Path, name: &str) -> anyhow::Result<DirEntry> {
        let meta = std::fs::symlink_metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        let (cid, tsize) = if meta.file_type().is_symlink() {
            self.add_symlink(path)?
        } else if meta.is_dir() {
            if !self.args.recursive {
                bail!("{} is a directory; add it with -r", path.display());
            }
            let mut children: Vec<_> = std::fs::read_dir(path)
                .with_context(|| format!("cannot list {}", path.display()))?
                .collect::<Result<_, _>>()
                .with_context(|| format!("cannot list {}", path.display()))?;
            children.sort_by_key(|e| e.file_name());
            let mut entries = Vec::new();
            for child in children {
                let child_name = child.file_name().to_string_lossy().into_owned();
                if child_name.starts_with('.') && !self.args.hidden {
                    continue;
                }
                entries.push(self.add_path(&child.path(), &format!("{name}/{child_name}"))?);
            }
            let (block, tsize) =
                build_directory(&self.params, entries).with_context(|| format!("cannot add {}", path.display()))?;
            let cid = *block.cid();
            self.emit(block)?;
            (cid, tsize)
        } else if meta.is_file() {
            self.add_file(path)?
        } else {
            bail!("{} is not a regular file, directory or symlink", path.display());
        };
        self.report(&cid, name);
        let base = name.rsplit('/').next().unwrap_or(name).to_string();
        Ok(DirEntry { name: base, cid, tsize })
    }
}

fn display_name(path: &Path) -> String {
    match path.file_name() {
        Some(name) => name.to_string_lossy().into_owned(),
        None => path.to_string_lossy().trim_end_matches('/').to_string(),
    }
}

/// Adds every path and prints the CIDs.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    let params = args.params()?;
    let store = if args.only_hash { None } else { Some(global.open_store()?) };
    let adder = Adder { params, store: store.as_ref(), args: &args };
    let mut entries = Vec::new();
    for path in &args.paths {
        entries.push(adder.add_path(path, &display_name(path))?);
    }
    let last = if args.wrap_with_directory {
        let (block, _) = build_directory(&params, entries).context("cannot wrap the added paths in a directory")?;
        let cid = *block.cid();
        adder.emit(block)?;
        adder.report(&cid, "");
        cid
    } else {
        entries.last().expect("at least one path").cid
    };
    if args.quieter {
        println!("{last}");
    }
    Ok(0)
}
