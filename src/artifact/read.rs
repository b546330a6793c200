//! Reading an artifact's bytes out of a store: the UnixFS file its CID
//! names, refused unless it is exactly the size its entry (or the cache
//! map) names.

use crate::formats::unixfs::export_verified_file;
use crate::store::StoreError;
use anyhow::{bail, Context};

/// The bytes of the artifact `cid` whose entry (or cache map) says it is
/// `size` bytes, each block from `get`, refused unless it is exactly that
/// size. Blocks read unverified could link in a cycle, so the blocks and
/// bytes read are bounded too (generously: a file's nodes and leaves are a
/// small multiple of its size).
pub fn read_artifact(
    cid: &str,
    size: u64,
    get: &mut dyn FnMut(&cid::Cid) -> Result<Vec<u8>, StoreError>,
) -> anyhow::Result<Vec<u8>> {
    let cid = crate::formats::block::parse_cid(cid)?;
    let too_large = || StoreError::NotFound { cid, store: "(artifact larger than its entry says)".into() };
    let (mut blocks, mut read) = (0u64, 0u64);
    let budget = size.saturating_mul(2).saturating_add(4 << 20);
    let mut bounded = |c: &cid::Cid| {
        let bytes = get(c)?;
        blocks += 1;
        read += bytes.len() as u64 + 64;
        if read > budget || blocks > budget / 64 {
            return Err(too_large());
        }
        Ok(bytes)
    };
    let mut bytes = Vec::with_capacity(size.min(1 << 30) as usize);
    export_verified_file(&cid, &mut bounded, &mut |chunk| {
        if bytes.len() as u64 + chunk.len() as u64 > size {
            return Err(too_large());
        }
        bytes.extend_from_slice(chunk);
        Ok(())
    })
    .with_context(|| format!("cannot read artifact {cid}"))?;
    if bytes.len() as u64 != size {
        bail!("artifact {cid} is not of the size its entry names ({size} bytes); refused");
    }
    Ok(bytes)
}
