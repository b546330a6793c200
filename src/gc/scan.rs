//! What a store holds, for garbage collection and `stats`: every block
//! file, the blocks the pin set protects (and which of them are index
//! trees), the artifacts the wrapper's maps name and when each was last
//! used, and the unpacked copies.
//!
//! Marking reads a block only to learn its links: raw blocks (the leaves of
//! every artifact) are marked without being read, and a block that is
//! missing or unreadable ends only its own branch, so that a DAG held in
//! part keeps every block it has.

use crate::artifact::unpacked::Unpacked;
use crate::formats::block::{parse_cid, RAW};
use crate::index::state::IndexState;
use crate::index::tree::{all_shards, lookup, read_version};
use crate::store::{BlockFile, DiskStore};
use cid::Cid;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A set of blocks, by multihash.
pub type Marked = HashSet<Vec<u8>>;

/// An artifact a wrapper map names.
#[derive(Debug, Clone)]
pub struct Cached {
    /// When it was last used: its unpacked copy's manifest read (which
    /// every hit does) or written, or its map file written (file times;
    /// under `relatime` a read moves the access time at most once a day;
    /// nothing here reads a manifest).
    pub last_used: SystemTime,
    /// The cache map's files (`wrapper/keys`) that name it.
    pub key_files: Vec<PathBuf>,
    /// The build-script runs' map files (`wrapper/runs`) that name it.
    pub run_files: Vec<PathBuf>,
}

/// An unpacked copy.
#[derive(Debug, Clone)]
pub struct Copy {
    /// Its size.
    pub size: u64,
    /// When it was last used.
    pub last_used: SystemTime,
}

/// What the store holds.
pub struct Inventory {
    /// Every block file.
    pub blocks: Vec<BlockFile>,
    /// Blocks the pin set protects: its roots' DAGs, and the artifacts the
    /// entries of the index versions among them name.
    pub protected: Marked,
    /// Of those, the blocks of index versions' trees.
    pub index: Marked,
    /// The artifacts the wrapper's maps name, by CID.
    pub artifacts: BTreeMap<String, Cached>,
    /// The unpacked copies, by CID.
    pub copies: BTreeMap<String, Copy>,
}

impl Inventory {
    /// Takes stock of the store at `store_dir`.
    pub fn scan(store_dir: &Path, store: &DiskStore) -> anyhow::Result<Self> {
        let mut protected = Marked::new();
        let mut index = Marked::new();
        let mut roots: Vec<String> = crate::pinning::kept(store_dir)?.into_iter().map(|k| k.cid).collect();
        roots.extend(IndexState::new(store_dir).published()?.into_values().map(|p| p.head));
        for root in roots {
            let Ok(root) = parse_cid(&root) else { continue };
            match read_version(store, &root) {
                Ok(version) => {
                    mark(store, &root, &mut index);
                    let mut named = Vec::new();
                    for (krate, _) in all_shards(store, &version.shards).unwrap_or_default() {
                        named.extend(lookup(store, &version.shards, &krate).unwrap_or_default());
                    }
                    for entry in named {
                        if let Ok(cid) = parse_cid(&entry.cid) {
                            mark(store, &cid, &mut protected);
                        }
                    }
                }
                Err(_) => mark(store, &root, &mut protected),
            }
        }
        protected.extend(index.iter().cloned());
        let copies = copies(store_dir);
        let artifacts = artifacts(store_dir, &copies);
        Ok(Inventory { blocks: store.block_files()?, protected, index, artifacts, copies })
    }
}

/// Marks the DAG under `root` in `marked`, reading only blocks with links.
pub fn mark(store: &DiskStore, root: &Cid, marked: &mut Marked) {
    let mut stack = vec![*root];
    let mut steps = 0u64;
    while let Some(cid) = stack.pop() {
        steps += 1;
        if steps > 50_000_000 || !marked.insert(cid.hash().to_bytes()) || cid.codec() == RAW {
            continue;
        }
        let Ok(Some(bytes)) = store.get_unverified(&cid) else { continue };
        if let Ok(children) = crate::formats::links::links(&cid, &bytes) {
            stack.extend(children);
        }
    }
}

/// The newest of a file's access and modification times.
fn used(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta.modified().ok()?;
    Some(meta.accessed().map_or(modified, |a| a.max(modified)))
}

/// The unpacked copies, with their sizes and last uses.
fn copies(store_dir: &Path) -> BTreeMap<String, Copy> {
    let dir = Unpacked::new(store_dir).dir().to_path_buf();
    let mut copies = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(&dir) else { return copies };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let last_used = used(&path.join("manifest.json")).or_else(|| used(&path)).unwrap_or(SystemTime::UNIX_EPOCH);
        copies.insert(name, Copy { size: dir_size(&path), last_used });
    }
    copies
}

/// The artifacts the wrapper's maps name: `wrapper/keys` (the cache map)
/// and `wrapper/runs` (build-script runs). The path crates' map
/// (`wrapper/local`) names keys, not artifacts.
fn artifacts(store_dir: &Path, copies: &BTreeMap<String, Copy>) -> BTreeMap<String, Cached> {
    let mut out: BTreeMap<String, Cached> = BTreeMap::new();
    for sub in ["keys", "runs"] {
        for file in json_files(&store_dir.join("wrapper").join(sub)) {
            // Its modification time only: reading it here moves its access
            // time. A restored run's file is touched (`Runs::touch`).
            let written = std::fs::metadata(&file).and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
            let Ok(bytes) = std::fs::read(&file) else { continue };
            let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) else { continue };
            let mut cids = Vec::new();
            collect_cids(&value, &mut cids);
            for cid in cids {
                let copy_used = copies.get(&cid).map_or(SystemTime::UNIX_EPOCH, |c| c.last_used);
                let cached = out.entry(cid).or_insert(Cached {
                    last_used: SystemTime::UNIX_EPOCH,
                    key_files: Vec::new(),
                    run_files: Vec::new(),
                });
                cached.last_used = cached.last_used.max(written).max(copy_used);
                let files = if sub == "keys" { &mut cached.key_files } else { &mut cached.run_files };
                if !files.contains(&file) {
                    files.push(file.clone());
                }
            }
        }
    }
    out
}

/// Every string under a `"cid"` key.
fn collect_cids(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("cid", serde_json::Value::String(cid)) => out.push(cid.clone()),
                    _ => collect_cids(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_cids(v, out)),
        _ => {}
    }
}

/// The `.json` files under `dir`, at any depth.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    out
}

/// The bytes of the files under `path`.
pub fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else { continue };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else {
            total += meta.len();
        }
    }
    total
}

/// The leftovers of writes a killed process never finished, anywhere in the
/// store: `.tmp-` files and directories (see `crate::atomic_file` and
/// `Unpacked::put_with`) and `.trash-` directories (`Unpacked::discard`),
/// each with its modification time and size. Not descended into.
pub fn leftovers(store_dir: &Path) -> Vec<(PathBuf, SystemTime, u64)> {
    let mut found = Vec::new();
    let mut stack = vec![store_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(".tmp-") || name.starts_with(".trash-") {
                let size = if meta.is_dir() { dir_size(&entry.path()) } else { meta.len() };
                found.push((entry.path(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), size));
            } else if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    found
}
