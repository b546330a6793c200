//! Reading an artifact's bytes out of a store: the UnixFS file its CID
//! names, refused unless it is exactly the size its entry (or the cache
//! map) names.
//!
//! Everything is bounded by that signed size: the bytes handed out, the
//! nodes read (the exporter's node budget, identity CIDs included), the
//! bytes of every block read ([`dag_budget`]) and the memory set aside
//! before any byte has arrived ([`PREALLOCATE`]).

use super::MAX_ARTIFACT;
use crate::formats::unixfs::export_verified_file;
use crate::store::StoreError;
use anyhow::{bail, Context};

/// The most memory set aside for an artifact before its bytes arrive; a
/// larger one grows as they do, so a signed size that lies costs no more
/// than the bytes really sent.
pub const PREALLOCATE: u64 = 64 << 20;

/// The most bytes an artifact of `size` bytes may take to transfer: its
/// leaves, plus 1/1024 of its size and 64 KiB for its internal nodes and a
/// CAR stream's framing. A file cut in chunks of 256 KiB or more needs
/// about 100 bytes per leaf for both (a link in its parent, a CID and a
/// length before it in a CAR), a tenth of what this allows.
pub fn dag_budget(size: u64) -> u64 {
    size.saturating_add(size / 1024).saturating_add(64 << 10)
}

/// The bytes of the artifact `cid` whose entry (or cache map) says it is
/// `size` bytes, each block from `get`, refused unless it is exactly that
/// size. Blocks read unverified could link in a cycle or over and over, so
/// the nodes and the bytes read are bounded by that size too.
pub fn read_artifact(
    cid: &str,
    size: u64,
    get: &mut dyn FnMut(&cid::Cid) -> Result<Vec<u8>, StoreError>,
) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(size.min(PREALLOCATE) as usize);
    export_artifact(cid, size, get, &mut |chunk| {
        bytes.extend_from_slice(chunk);
        Ok(())
    })?;
    Ok(bytes)
}

/// Hands the bytes of the artifact `cid` to `sink` as they are read, with
/// the bounds and the size check of [`read_artifact`], without holding
/// them.
pub fn export_artifact(
    cid: &str,
    size: u64,
    get: &mut dyn FnMut(&cid::Cid) -> Result<Vec<u8>, StoreError>,
    sink: &mut dyn FnMut(&[u8]) -> Result<(), StoreError>,
) -> anyhow::Result<()> {
    let cid = crate::formats::block::parse_cid(cid)?;
    if size > MAX_ARTIFACT {
        bail!("artifact {cid}: its entry names {size} bytes, over the {MAX_ARTIFACT}-byte limit; refused");
    }
    let too_large = || StoreError::NotFound { cid, store: "(artifact larger than its entry says)".into() };
    let budget = dag_budget(size);
    let mut read = 0u64;
    let mut bounded = |c: &cid::Cid| {
        let bytes = get(c)?;
        read += bytes.len() as u64;
        if read > budget {
            return Err(too_large());
        }
        Ok(bytes)
    };
    let mut handed = 0u64;
    export_verified_file(&cid, size, &mut bounded, &mut |chunk: &[u8]| {
        handed += chunk.len() as u64;
        sink(chunk)
    })
    .with_context(|| format!("cannot read artifact {cid}"))?;
    if handed != size {
        bail!("artifact {cid} is not of the size its entry names ({size} bytes); refused");
    }
    Ok(())
}
