//! The index as a UnixFS tree in a block store.
//!
//! A version is a directory `{manifest.json, index/}`; `index/` holds the
//! shards in the sparse-index layout. A lookup reads one block per level on
//! the path to a crate's shard. An update rebuilds only the directories on
//! the paths of changed shards, each once however many of its shards
//! changed; every other block is shared with the previous version.

use super::entry::{Entry, EntryError};
use super::layout::{shard_path, BadCrateName};
use super::manifest::{Manifest, ManifestError};
use super::shard::{decode_shard, encode_shard, merge, read_shard, ReadShard, ShardItem};
use crate::formats::block::Block;
use crate::formats::unixfs::{
    build_directory, build_directory_with_limit, export_file, import_bytes, list_directory, list_directory_block,
    DirEntry, DirError, ImportParams, ReadError,
};
use crate::store::{BlockStore, StoreError};
use cid::Cid;
use std::collections::{BTreeMap, HashSet};
use thiserror::Error;

/// The manifest's file name in a version's root directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The shards directory's name in a version's root directory.
pub const SHARDS_DIR: &str = "index";
/// How index files and directories are imported.
pub const PARAMS: ImportParams = ImportParams::UNIXFS_V1_2025;
/// The largest manifest or shard file read (a shard of 64 MiB would hold
/// about 100,000 entries of one crate).
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;
/// The largest manifest read. A manifest is read before its signatures are
/// checked, so anyone who can point a reader at a root (the IPNS key alone
/// suffices) chooses it; a real one of 256 keys and signatures is under
/// 64 KiB.
pub const MAX_MANIFEST_SIZE: u64 = 1024 * 1024;
/// The largest directory node the index writes (crates.io's densest
/// four-letter prefixes hold a few thousand names; this allows ~16,000).
pub const MAX_DIRECTORY: usize = 1024 * 1024;

/// Why the index tree could not be read or written.
#[derive(Debug, Error)]
pub enum TreeError {
    /// The store failed or lacks a block.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A UnixFS node could not be read.
    #[error(transparent)]
    Read(#[from] ReadError<StoreError>),
    /// A directory could not be built.
    #[error(transparent)]
    Dir(#[from] DirError),
    /// A shard file is invalid.
    #[error("shard of `{krate}`: {source}")]
    Shard {
        /// The crate.
        krate: String,
        /// What is wrong.
        source: EntryError,
    },
    /// The manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A crate name that cannot be in the index.
    #[error(transparent)]
    CrateName(#[from] BadCrateName),
    /// The root directory lacks a part.
    #[error("index version {root} has no `{what}`; it is not an index root")]
    NotAnIndex {
        /// The root.
        root: Cid,
        /// The missing part.
        what: &'static str,
    },
    /// The shards directory is not the one the manifest signed.
    #[error("index version {root}: the shards directory is {found} but the manifest signed {signed}; the index was tampered with")]
    ShardsMismatch {
        /// The root.
        root: Cid,
        /// The CID in the tree.
        found: Cid,
        /// The CID in the manifest.
        signed: String,
    },
}

/// One stored index version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexVersion {
    /// The root directory.
    pub root: Cid,
    /// The manifest file.
    pub manifest_cid: Cid,
    /// The shards directory.
    pub shards: Cid,
    /// The parsed manifest (signatures not yet checked against any trust).
    pub manifest: Manifest,
}

/// Reads a whole index file of at most [`MAX_FILE_SIZE`] bytes, verifying
/// every block (and reading at most the nodes its size pays for).
pub fn read_file(store: &dyn BlockStore, cid: &Cid) -> Result<Vec<u8>, TreeError> {
    read_file_limited(store, cid, MAX_FILE_SIZE)
}

fn read_file_limited(store: &dyn BlockStore, cid: &Cid, limit: u64) -> Result<Vec<u8>, TreeError> {
    let mut out = Vec::new();
    export_file(cid, limit, &mut |c| store.get_required(c), &mut |bytes| {
        out.extend_from_slice(bytes);
        Ok(())
    })?;
    Ok(out)
}

/// Stores `bytes` as a UnixFS file and returns its directory entry.
fn write_file(store: &dyn BlockStore, name: &str, bytes: &[u8]) -> Result<DirEntry, TreeError> {
    let (file, blocks) = import_bytes(PARAMS, bytes).expect("PARAMS are valid");
    for block in &blocks {
        store.put(block)?;
    }
    Ok(DirEntry { name: name.to_string(), cid: file.cid, tsize: file.tsize })
}

pub(crate) fn find(store: &dyn BlockStore, dir: &Cid, name: &str) -> Result<Option<DirEntry>, TreeError> {
    Ok(list_directory(dir, &mut |c| store.get_required(c))?.into_iter().find(|e| e.name == name))
}

/// Loads the version at `root`, checking that the manifest signed this
/// shards directory (signatures are checked by the caller).
pub fn load_version(store: &dyn BlockStore, root: &Cid) -> Result<IndexVersion, TreeError> {
    let version = read_version(store, root)?;
    check_shards(&version)?;
    Ok(version)
}

/// Reads the version at `root` as far as its manifest and no further: the
/// root's own block (a directory whose `manifest.json` and `index` are in
/// that block; nothing below it is read) and the manifest, of at most
/// [`MAX_MANIFEST_SIZE`] bytes. Neither signatures nor the shards link are
/// checked: a subscriber checks the signatures first, then
/// [`check_shards`], so that a root it has no reason to trust costs at
/// most these reads.
pub fn read_version(store: &dyn BlockStore, root: &Cid) -> Result<IndexVersion, TreeError> {
    let entries = list_directory_block(root, &mut |c| store.get_required(c))?;
    let get = |what: &'static str| {
        entries.iter().find(|e| e.name == what).map(|e| e.cid).ok_or(TreeError::NotAnIndex { root: *root, what })
    };
    let manifest_cid = get(MANIFEST_FILE)?;
    let shards = get(SHARDS_DIR)?;
    let manifest = load_manifest(store, &manifest_cid)?;
    Ok(IndexVersion { root: *root, manifest_cid, shards, manifest })
}

/// Checks that the root's shards directory is the one its manifest signed.
pub fn check_shards(version: &IndexVersion) -> Result<(), TreeError> {
    if crate::formats::block::parse_cid(&version.manifest.shards).ok() != Some(version.shards) {
        return Err(TreeError::ShardsMismatch {
            root: version.root,
            found: version.shards,
            signed: version.manifest.shards.clone(),
        });
    }
    Ok(())
}

/// Reads a manifest file on its own (for walking `prev` links), of at most
/// [`MAX_MANIFEST_SIZE`] bytes.
pub fn load_manifest(store: &dyn BlockStore, cid: &Cid) -> Result<Manifest, TreeError> {
    Ok(Manifest::decode(&read_file_limited(store, cid, MAX_MANIFEST_SIZE)?)?)
}

/// The entries of crate `name` this build understands, empty when the
/// index has none. An entry it cannot fully understand is left out (see
/// [`read_shard`]) with one warning line on stderr, and is never used.
pub fn lookup(store: &dyn BlockStore, shards: &Cid, name: &str) -> Result<Vec<Entry>, TreeError> {
    lookup_items(store, shards, name)
}

/// The lines of crate `name` this build understands, of an index of any
/// kind (see [`lookup`]).
pub fn lookup_items<T: ShardItem>(store: &dyn BlockStore, shards: &Cid, name: &str) -> Result<Vec<T>, TreeError> {
    let shard = lookup_shard::<T>(store, shards, name)?;
    if let Some((line, why)) = shard.skipped.first() {
        eprintln!(
            "cargo-ipfs: {} entr{} of {name} in the index left out (line {line}: {why}); \
             a newer cargo-ipfs-fetch may understand them",
            shard.skipped.len(),
            if shard.skipped.len() == 1 { "y" } else { "ies" }
        );
    }
    Ok(shard.entries)
}

/// The shard of crate `name` as a reader takes it (empty when the index
/// has none): the entries understood, and the lines left out.
pub fn lookup_shard<T: ShardItem>(store: &dyn BlockStore, shards: &Cid, name: &str) -> Result<ReadShard<T>, TreeError> {
    let path = shard_path(name)?;
    let mut dir = *shards;
    for (i, part) in path.iter().enumerate() {
        let Some(entry) = find(store, &dir, part)? else { return Ok(ReadShard::default()) };
        if i + 1 == path.len() {
            return Ok(read_shard(name, &read_file(store, &entry.cid)?));
        }
        dir = entry.cid;
    }
    unreachable!("shard paths are never empty")
}

/// Every crate's shard under `shards`, in path order. Each directory is
/// read once: one linked under several names (which no index this tool
/// writes has, since a crate's name decides its one path) is followed
/// under the first only, so a few directories linked to each other over
/// and over cost a few reads.
pub fn all_shards(store: &dyn BlockStore, shards: &Cid) -> Result<Vec<(String, Cid)>, TreeError> {
    let mut out = Vec::new();
    let mut seen = HashSet::from([*shards]);
    collect_shards(store, shards, &mut Vec::new(), &mut seen, &mut out)?;
    Ok(out)
}

fn collect_shards(
    store: &dyn BlockStore,
    dir: &Cid,
    parents: &mut Vec<String>,
    seen: &mut HashSet<Cid>,
    out: &mut Vec<(String, Cid)>,
) -> Result<(), TreeError> {
    for entry in list_directory(dir, &mut |c| store.get_required(c))? {
        if is_shard(parents, &entry.name) {
            out.push((entry.name, entry.cid));
        } else if parents.len() < 2 && seen.insert(entry.cid) {
            parents.push(entry.name);
            collect_shards(store, &entry.cid, parents, seen, out)?;
            parents.pop();
        }
    }
    Ok(())
}

/// Whether the entry `name` under the directories `parents` (from the shards
/// directory down) is a shard file: exactly when that is where
/// [`shard_path`] puts the crate `name`.
pub(crate) fn is_shard(parents: &[String], name: &str) -> bool {
    shard_path(name).is_ok_and(|path| path.len() == parents.len() + 1 && path[..parents.len()] == *parents)
}

/// Adds entries to the shards under `shards` (or to an empty index), writing
/// only the blocks on changed paths. Returns the new shards directory and
/// how many entries were new.
pub fn apply<T: ShardItem>(
    store: &dyn BlockStore,
    shards: Option<&Cid>,
    changes: &BTreeMap<String, Vec<T>>,
) -> Result<(Cid, usize), TreeError> {
    let mut paths = Vec::new();
    for (name, entries) in changes {
        for e in entries {
            e.validate().map_err(|source| TreeError::Shard { krate: name.clone(), source })?;
        }
        paths.push((shard_path(name)?, name.as_str(), entries.as_slice()));
    }
    let refs: Vec<Change<T>> = paths.iter().map(|(p, n, e)| (p.as_slice(), *n, *e)).collect();
    let mut added = 0;
    let dir = update_dir(store, shards, &refs, &mut added)?;
    Ok((dir.cid, added))
}

/// One crate's change on its way down the shard tree: the directories still
/// to descend, the crate name, and its entries.
type Change<'a, T> = (&'a [String], &'a str, &'a [T]);

fn update_dir<T: ShardItem>(
    store: &dyn BlockStore,
    dir: Option<&Cid>,
    changes: &[Change<T>],
    added: &mut usize,
) -> Result<DirEntry, TreeError> {
    let mut entries: BTreeMap<String, DirEntry> = match dir {
        Some(cid) => {
            list_directory(cid, &mut |c| store.get_required(c))?.into_iter().map(|e| (e.name.clone(), e)).collect()
        }
        None => BTreeMap::new(),
    };
    let mut by_child: BTreeMap<&str, Vec<Change<T>>> = BTreeMap::new();
    for (path, name, new) in changes {
        by_child.entry(path[0].as_str()).or_default().push((&path[1..], name, new));
    }
    for (child, group) in by_child {
        let existing = entries.get(child).map(|e| e.cid);
        let updated = if group[0].0.is_empty() {
            // A shard file: merge every change for this crate.
            let name = group[0].1;
            let mut current: Vec<T> = match existing {
                Some(cid) => decode_shard(name, &read_file(store, &cid)?)
                    .map_err(|source| TreeError::Shard { krate: name.into(), source })?,
                None => Vec::new(),
            };
            let before = current.len();
            for (_, _, new) in &group {
                merge(&mut current, new);
            }
            *added += current.len() - before;
            write_file(store, child, &encode_shard(&current))?
        } else {
            let mut entry = update_dir(store, existing.as_ref(), &group, added)?;
            entry.name = child.to_string();
            entry
        };
        entries.insert(child.to_string(), updated);
    }
    let (block, tsize) = build_directory_with_limit(&PARAMS, entries.into_values().collect(), MAX_DIRECTORY)?;
    store.put(&block)?;
    Ok(DirEntry { name: String::new(), cid: *block.cid(), tsize })
}

/// Stores a signed manifest and the root directory of a new version.
pub fn write_version(store: &dyn BlockStore, shards: &Cid, manifest: &Manifest) -> Result<IndexVersion, TreeError> {
    let manifest_entry = write_file(store, MANIFEST_FILE, &manifest.encode())?;
    // The shards directory's own size is not needed for its link: read it.
    let shards_block = store.get_required(shards)?;
    let tsize = shards_block.len() as u64;
    let (root, _) = build_directory(
        &PARAMS,
        vec![manifest_entry.clone(), DirEntry { name: SHARDS_DIR.into(), cid: *shards, tsize }],
    )?;
    store.put(&root)?;
    Ok(IndexVersion {
        root: *root.cid(),
        manifest_cid: manifest_entry.cid,
        shards: *shards,
        manifest: manifest.clone(),
    })
}

/// The empty shards directory, stored.
pub fn empty_shards(store: &dyn BlockStore) -> Result<Cid, TreeError> {
    let (block, _): (Block, u64) = build_directory(&PARAMS, Vec::new())?;
    store.put(&block)?;
    Ok(*block.cid())
}
