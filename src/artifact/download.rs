//! One artifact from the configured sources into the store: every block
//! verified against its CID on the way in, the whole checked against the
//! size and sha256 its signed entry names, unpacked for the wrapper and
//! filed in the cache map. `fetch` does this for a lockfile's artifacts in
//! parallel; the wrapper for one unit on demand (`cargo ipfs install`).

use super::cache::{env_digest, ArtifactRef, Cache};
use super::pack::Meta;
use super::read::{dag_budget, export_artifact};
use super::stream::{stream_into_copy, Packed, Unfiled};
use super::unpacked::{Copy, Unpacked};
use super::MAX_ARTIFACT;
use crate::index::Entry;
use crate::sources::Sources;
use crate::store::{BlockStore, DiskStore, StoreError};
use anyhow::{bail, Context};
use std::time::Instant;

/// The part of an entry's key that the cache map files it under: the key
/// without the suffix that names the environment values it was built with.
pub fn base_key(entry: &Entry) -> &str {
    &entry.key[..entry.key.len().min(64)]
}

/// Where artifacts come from and go to: the local store, a reader over it
/// (the store itself, or the store in front of the sources), the sources
/// for whole-artifact streams, and the cache map they are filed in.
#[derive(Clone, Copy)]
pub struct Downloader<'a> {
    /// The local store every block is written to.
    pub store: &'a DiskStore,
    /// Reads through the local store, fetching a missing block from the
    /// sources when there are any.
    pub reader: &'a dyn BlockStore,
    /// The sources, for one CAR stream per artifact; `None` offline.
    pub sources: Option<&'a Sources>,
    /// The cache map the artifact is filed in.
    pub cache: &'a Cache,
}

impl Downloader<'_> {
    /// Fetches one artifact and files it in the cache map, unpacked, and
    /// returns the milliseconds from `started` to its first byte; `None`
    /// when it was already there.
    pub fn fetch(&self, entry: &Entry, started: Instant) -> anyhow::Result<Option<u64>> {
        let Some(first_byte) = self.download(entry, started)? else { return Ok(None) };
        self.file(entry)?;
        Ok(Some(first_byte))
    }

    /// Brings every block of one artifact into the store, each verified
    /// against its CID, and returns the milliseconds from `started` to its
    /// first byte; `None` when the cache map has the artifact already.
    pub fn download(&self, entry: &Entry, started: Instant) -> anyhow::Result<Option<u64>> {
        let store = self.store;
        let key = base_key(entry);
        if self.cache.get(key).is_some_and(|r| r.variants.values().any(|a| a.cid == entry.cid)) {
            return Ok(None);
        }
        let cid = crate::formats::block::parse_cid(&entry.cid)?;
        check_sizes(entry)?;
        let mut first_byte = None;
        let mut first = || *first_byte.get_or_insert_with(|| started.elapsed().as_millis() as u64);
        // One CAR stream per artifact, raced across the gateways (a slow one
        // has the next asked beside it); the client verifies its blocks as
        // they arrive, and each goes straight to the store. A stream that
        // ends complete has brought the whole DAG (the client checks that
        // too). A stream that failed because a gateway is slow or failing
        // leaves that gateway remembered, and the next request skips it: so
        // a stream is asked for at most once per gateway.
        let mut complete = false;
        if let Some(sources) = self.sources {
            if !store.has(&cid)? {
                for _ in 0..sources.attempts() {
                    let Ok(mut blocks) = sources.get_dag(&cid, entry.size) else { break };
                    // A stream larger than its entry says (duplicates and
                    // blocks outside the DAG included) is not followed
                    // further: the signed size and the framing `dag_budget`
                    // allows.
                    let limit = dag_budget(entry.size);
                    let mut blamed = false;
                    complete = true;
                    while let Some(block) = blocks.next() {
                        let block = match block {
                            Ok(block) => block,
                            Err(e) => {
                                blamed = e.blames().is_some();
                                complete = false;
                                break;
                            }
                        };
                        first();
                        if blocks.bytes_read() > limit {
                            let why = format!("sent over {limit} bytes for artifact {cid} of {} bytes", entry.size);
                            sources.avoid(blocks.gateway(), &why);
                            (blamed, complete) = (true, false);
                            break;
                        }
                        store.put(&block)?;
                    }
                    // A stream that broke off without the gateway's fault is
                    // completed block by block below, from the same gateways.
                    if complete || !blamed {
                        break;
                    }
                }
            }
        }
        if !complete {
            // Offline, or the stream broke: read the file through the store,
            // which reads local blocks verified and fetches the missing ones
            // one by one.
            let mut get = |c: &cid::Cid| {
                let block = self.reader.get_required(c)?;
                first();
                Ok(block)
            };
            export_artifact(&entry.cid, entry.size, &mut get, &mut |_| Ok(()))
                .with_context(|| format!("cannot fetch artifact {cid}"))?;
            // Blocks read through a layered store are already local; make sure.
            if !store.has(&cid)? {
                bail!("artifact {cid} did not reach the local store");
            }
        }
        Ok(Some(first()))
    }

    /// Unpacks an artifact from the store for the wrapper and files it in
    /// the cache map under the environment values it was built with.
    ///
    /// The packed bytes stream from the store through a hash and the
    /// decompression straight into the files of the unpacked copy
    /// ([`super::stream`]), which is renamed into place only once the whole
    /// matches the entry's sha256, is no larger than its signed
    /// `unpacked_size`, and holds the outputs the entry names: memory stays
    /// small whatever the entry signs.
    pub fn file(&self, entry: &Entry) -> anyhow::Result<()> {
        self.file_attested(entry, &[])
    }

    /// Files `entry`'s artifact as [`Self::file`] does, with the keys of
    /// the rebuilders whose attestations of it were checked.
    pub fn file_attested(&self, entry: &Entry, attested_by: &[String]) -> anyhow::Result<()> {
        let store = self.store;
        check_sizes(entry)?;
        let unpacked = Unpacked::new(store.root());
        // Every block was verified against its CID on its way into the
        // store, and the CID is the one the signed entry names. The blocks
        // are read back without hashing each again, since the whole is
        // checked against the entry's sha256 before anything is filed. If
        // that read fails or the digest differs, they are read again through
        // `reader`, verified: a block that rotted on disk since is
        // quarantined and fetched again.
        let mut unverified = |c: &cid::Cid| {
            store.get_unverified(c)?.ok_or_else(|| StoreError::NotFound { cid: *c, store: store.describe() })
        };
        let copy = match unpack_checked(&unpacked, entry, &mut unverified) {
            Ok(copy) => copy,
            Err(Unfiled::Content(e)) => return Err(e),
            Err(Unfiled::Bytes(_)) => match unpack_checked(&unpacked, entry, &mut |c| self.reader.get_required(c)) {
                Ok(copy) => copy,
                Err(Unfiled::Bytes(e) | Unfiled::Content(e)) => return Err(e),
            },
        };
        let meta = &copy.manifest.meta;
        let mut names: Vec<String> = meta.env_deps.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        names.dedup();
        let env = env_digest(&names, |n| meta.env_deps.iter().find(|(k, _)| k == n).and_then(|(_, v)| v.clone()));
        let artifact = ArtifactRef {
            cid: entry.cid.clone(),
            sha256: entry.sha256.clone(),
            size: entry.size,
            compile_ms: entry.build_ms,
            local: false,
            attested_by: attested_by.to_vec(),
        };
        self.cache.put(base_key(entry), &names, &env, artifact).map_err(|e| StoreError::io(store.root(), e))?;
        Ok(())
    }
}

/// Makes the unpacked copy of `entry`'s artifact from the blocks `get`
/// reads, checked against the entry, or takes the one already there once
/// it matches the entry's outputs.
fn unpack_checked(
    unpacked: &Unpacked,
    entry: &Entry,
    get: &mut dyn FnMut(&cid::Cid) -> Result<Vec<u8>, StoreError>,
) -> Result<Copy, Unfiled> {
    if let Some(copy) = unpacked.get(&entry.cid) {
        let names = copy.manifest.files.iter().map(|f| f.name.as_str());
        matches_entry(entry, &copy.manifest.meta, names).map_err(Unfiled::Content)?;
        return Ok(copy);
    }
    let packed =
        Packed { cid: &entry.cid, size: entry.size, sha256: &entry.sha256, unpacked_limit: entry.unpacked_size };
    stream_into_copy(unpacked, &packed, get, &mut |meta, files| {
        matches_entry(entry, meta, files.iter().map(|f| f.name.as_str()))
    })
}

/// Refuses an artifact whose files are not the outputs its signed entry
/// names, or whose stored status is not a success: the entry is what was
/// signed, and the wrapper restores only successful compilations.
fn matches_entry<'a>(entry: &Entry, meta: &Meta, files: impl Iterator<Item = &'a str>) -> anyhow::Result<()> {
    let what = || format!("artifact {} of {} {}", entry.cid, entry.name, entry.version);
    if meta.status != 0 {
        bail!("{} stores exit status {}, not a success; refused", what(), meta.status);
    }
    let mut held: Vec<&str> = files.collect();
    let mut named: Vec<&str> = entry.outputs.iter().map(|o| o.name.as_str()).collect();
    held.sort_unstable();
    named.sort_unstable();
    if held != named {
        bail!("{} holds the files {held:?} where its signed entry names {named:?}; refused", what());
    }
    Ok(())
}

/// Refuses an entry whose signed sizes are over [`MAX_ARTIFACT`] before
/// anything is read or set aside for it.
pub fn check_sizes(entry: &Entry) -> anyhow::Result<()> {
    if entry.size > MAX_ARTIFACT || entry.unpacked_size > MAX_ARTIFACT {
        bail!(
            "artifact {} of {} {}: its entry names {} bytes packed and {} unpacked, over the {MAX_ARTIFACT}-byte limit; refused",
            entry.cid,
            entry.name,
            entry.version,
            entry.size,
            entry.unpacked_size
        );
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
