//! Blocks and their CIDs: the codecs and hashes this crate speaks, CID text
//! forms, and the one check everything fetched goes through.
//!
//! A block is trusted only after [`verify`] has hashed its bytes and compared
//! them with the multihash inside its CID.

use std::sync::OnceLock;

use bytes::Bytes;
use cid::multibase::Base;
use cid::Cid;
use sha2::{Digest, Sha256, Sha512};
use thiserror::Error;

/// The multihash type used throughout (digests up to 64 bytes).
pub type Multihash = multihash::Multihash<64>;

/// Multicodec `dag-pb` (UnixFS nodes).
pub const DAG_PB: u64 = 0x70;
/// Multicodec `raw` (plain bytes, UnixFS raw leaves).
pub const RAW: u64 = 0x55;
/// Multicodec `dag-cbor`.
pub const DAG_CBOR: u64 = 0x71;
/// Multicodec `dag-json`.
pub const DAG_JSON: u64 = 0x0129;
/// Multicodec `libp2p-key` (IPNS names in CIDv1 form).
pub const LIBP2P_KEY: u64 = 0x72;

/// Multihash `identity`: the digest is the data itself.
pub const IDENTITY: u64 = 0x00;
/// Multihash `sha2-256`.
pub const SHA2_256: u64 = 0x12;
/// Multihash `sha2-512`.
pub const SHA2_512: u64 = 0x13;

/// The largest block accepted from outside, as in the IPFS trustless gateway
/// and CAR conventions (bitswap peers refuse larger ones too).
pub const MAX_BLOCK_SIZE: usize = 2 * 1024 * 1024;

/// Why a block was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BlockError {
    /// The bytes do not hash to the CID's digest.
    #[error("block {cid} is corrupt: its bytes do not match the hash in its CID")]
    HashMismatch {
        /// The CID the bytes were presented as.
        cid: Cid,
    },
    /// The CID uses a hash function this crate does not implement.
    #[error("block {cid} uses multihash code {code:#x}, which is not supported (sha2-256, sha2-512 and identity are)")]
    UnsupportedHash {
        /// The CID.
        cid: Cid,
        /// Its multihash code.
        code: u64,
    },
    /// The block is larger than [`MAX_BLOCK_SIZE`].
    #[error("block {cid} is {size} bytes, over the {MAX_BLOCK_SIZE}-byte limit")]
    TooLarge {
        /// The CID.
        cid: Cid,
        /// Its size.
        size: usize,
    },
}

/// A CID together with bytes that have been checked against it.
///
/// The bytes are one buffer, or the pieces they arrived in (see
/// [`Block::from_pieces`]): a large block read from the network is hashed
/// and written where it landed rather than copied into one buffer first.
/// [`Block::pieces`] reads either form without copying; [`Block::data`]
/// joins pieces once, on first use.
#[derive(Debug, Clone)]
pub struct Block {
    cid: Cid,
    data: Data,
}

#[derive(Debug, Clone)]
enum Data {
    Whole(Vec<u8>),
    Pieces { pieces: Vec<Bytes>, joined: OnceLock<Vec<u8>> },
}

impl PartialEq for Block {
    fn eq(&self, other: &Self) -> bool {
        self.cid == other.cid && self.len() == other.len() && self.data() == other.data()
    }
}

impl Eq for Block {}

impl Block {
    /// Checks `data` against `cid` and keeps both.
    pub fn new(cid: Cid, data: Vec<u8>) -> Result<Self, BlockError> {
        verify(&cid, &data)?;
        Ok(Block { cid, data: Data::Whole(data) })
    }

    /// Checks the bytes of `pieces`, taken in order, against `cid` and keeps
    /// both, without joining the pieces.
    pub fn from_pieces(cid: Cid, pieces: Vec<Bytes>) -> Result<Self, BlockError> {
        verify_pieces(&cid, pieces.iter().map(|p| &p[..]))?;
        Ok(Block { cid, data: Data::Pieces { pieces, joined: OnceLock::new() } })
    }

    /// Keeps bytes that were already checked against `cid` without hashing
    /// them again: bytes a [`crate::store::BlockStore`] returned (its `get`
    /// verifies, except a gateway's store with hashing on read turned off,
    /// whose blocks only pass on to clients that verify them) or an identity
    /// CID's inline bytes. Everything else goes through [`Block::new`].
    pub(crate) fn verified(cid: Cid, data: Vec<u8>) -> Self {
        Block { cid, data: Data::Whole(data) }
    }

    /// Builds a block whose CID is computed here from `data` (so it is valid
    /// by construction): CIDv0 for dag-pb when `v0` is set, else CIDv1 with
    /// `codec` and sha2-256.
    pub fn encode(codec: u64, v0: bool, data: Vec<u8>) -> Self {
        let hash = sha256(&data);
        let cid = if v0 && codec == DAG_PB {
            Cid::new_v0(hash).expect("sha2-256 is a valid CIDv0 hash")
        } else {
            Cid::new_v1(codec, hash)
        };
        Block { cid, data: Data::Whole(data) }
    }

    /// The block's CID.
    pub fn cid(&self) -> &Cid {
        &self.cid
    }

    /// The block's bytes in one slice. A block kept in pieces is joined on
    /// the first call (a copy); [`Block::pieces`] reads it without one.
    pub fn data(&self) -> &[u8] {
        match &self.data {
            Data::Whole(data) => data,
            Data::Pieces { pieces, joined } => joined.get_or_init(|| pieces.concat()),
        }
    }

    /// The block's bytes as the slices they are held in, in order.
    pub fn pieces(&self) -> Vec<&[u8]> {
        match &self.data {
            Data::Whole(data) => vec![data],
            Data::Pieces { pieces, .. } => pieces.iter().map(|p| &p[..]).collect(),
        }
    }

    /// The block's length in bytes.
    pub fn len(&self) -> usize {
        match &self.data {
            Data::Whole(data) => data.len(),
            Data::Pieces { pieces, .. } => pieces.iter().map(Bytes::len).sum(),
        }
    }

    /// Whether the block has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Splits the block into CID and bytes (joined, if held in pieces).
    pub fn into_parts(self) -> (Cid, Vec<u8>) {
        match self.data {
            Data::Whole(data) => (self.cid, data),
            Data::Pieces { pieces, joined } => (self.cid, joined.into_inner().unwrap_or_else(|| pieces.concat())),
        }
    }
}

/// The sha2-256 multihash of `data`.
pub fn sha256(data: &[u8]) -> Multihash {
    Multihash::wrap(SHA2_256, &Sha256::digest(data)).expect("32 bytes fit")
}

/// Hashes `data` with the function named in `cid` and compares digests.
/// Blocks over [`MAX_BLOCK_SIZE`] are refused before hashing.
pub fn verify(cid: &Cid, data: &[u8]) -> Result<(), BlockError> {
    verify_pieces(cid, [data])
}

/// [`verify`] for bytes held in pieces, hashed in order as one.
pub fn verify_pieces<'a>(cid: &Cid, pieces: impl IntoIterator<Item = &'a [u8]> + Clone) -> Result<(), BlockError> {
    let size = pieces.clone().into_iter().map(<[u8]>::len).sum();
    if size > MAX_BLOCK_SIZE {
        return Err(BlockError::TooLarge { cid: *cid, size });
    }
    fn hashes_to<'a, D: Digest>(pieces: impl IntoIterator<Item = &'a [u8]>, digest: &[u8]) -> bool {
        let mut hasher = D::new();
        pieces.into_iter().for_each(|p| hasher.update(p));
        hasher.finalize().as_slice() == digest
    }
    let mh = cid.hash();
    let matches = match mh.code() {
        SHA2_256 => hashes_to::<Sha256>(pieces, mh.digest()),
        SHA2_512 => hashes_to::<Sha512>(pieces, mh.digest()),
        IDENTITY => pieces.into_iter().flatten().copied().eq(mh.digest().iter().copied()),
        code => return Err(BlockError::UnsupportedHash { cid: *cid, code }),
    };
    if matches {
        Ok(())
    } else {
        Err(BlockError::HashMismatch { cid: *cid })
    }
}

/// Why a CID string could not be parsed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("`{input}` is not a CID ({reason}); expected something like bafy... or Qm..., optionally after /ipfs/")]
pub struct CidParseError {
    input: String,
    reason: String,
}

/// Parses a CID in any multibase text form, also accepting an `/ipfs/` or
/// `ipfs://` prefix.
pub fn parse_cid(input: &str) -> Result<Cid, CidParseError> {
    let trimmed = input.trim();
    let bare = trimmed.strip_prefix("/ipfs/").or_else(|| trimmed.strip_prefix("ipfs://")).unwrap_or(trimmed);
    Cid::try_from(bare).map_err(|e| CidParseError { input: input.to_string(), reason: e.to_string() })
}

/// Formats a CID the way kubo prints it: base58btc for CIDv0, base32 for
/// CIDv1 (`Cid`'s `Display` already does this; the function names the choice).
pub fn cid_to_string(cid: &Cid) -> String {
    cid.to_string()
}

/// Formats a CIDv1 in lowercase base36 (`k...`), as IPNS names are shown.
pub fn cid_to_base36(cid: &Cid) -> String {
    cid.to_string_of_base(Base::Base36Lower).expect("CIDv1 can be written in base36")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_cids_of_hello_world() {
        // "hello world\n" as a raw block; the fixtures' README lists this CID
        // for hello.txt in dir-with-files.car.
        let block = Block::encode(RAW, false, b"hello world\n".to_vec());
        assert_eq!(block.cid().to_string(), "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4");
        assert!(verify(block.cid(), b"hello world\n").is_ok());
        assert_eq!(verify(block.cid(), b"hello world!"), Err(BlockError::HashMismatch { cid: *block.cid() }));
    }

    #[test]
    fn a_block_in_pieces_verifies_and_reads_as_the_same_bytes() {
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
        let whole = Block::encode(RAW, false, bytes.clone());
        let cid = *whole.cid();
        for cuts in [vec![0, 10_000], vec![0, 0, 1, 4096, 9_999, 10_000], vec![0, 5000, 5000, 10_000]] {
            let pieces: Vec<Bytes> = cuts.windows(2).map(|w| Bytes::copy_from_slice(&bytes[w[0]..w[1]])).collect();
            let block = Block::from_pieces(cid, pieces.clone()).unwrap();
            assert_eq!(block.len(), bytes.len());
            assert_eq!(block.pieces().len(), pieces.len());
            assert_eq!(block.pieces().concat(), bytes);
            assert_eq!(block, whole);
            assert_eq!(block.data(), &bytes[..]);
            assert_eq!(block.into_parts(), (cid, bytes.clone()));
        }
        // One byte changed in one piece, or a piece missing: refused.
        let mut changed = bytes.clone();
        changed[7000] ^= 1;
        let pieces = vec![Bytes::copy_from_slice(&changed[..4096]), Bytes::copy_from_slice(&changed[4096..])];
        assert_eq!(Block::from_pieces(cid, pieces), Err(BlockError::HashMismatch { cid }));
        let short = vec![Bytes::copy_from_slice(&bytes[..4096])];
        assert_eq!(Block::from_pieces(cid, short), Err(BlockError::HashMismatch { cid }));
        // The size limit counts every piece.
        let half = Bytes::from(vec![0; MAX_BLOCK_SIZE / 2 + 1]);
        let err = Block::from_pieces(cid, vec![half.clone(), half]).unwrap_err();
        assert_eq!(err, BlockError::TooLarge { cid, size: MAX_BLOCK_SIZE + 2 });
    }

    #[test]
    fn parses_text_forms_and_paths() {
        let v1 = "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am";
        let cid = parse_cid(&format!("/ipfs/{v1}")).unwrap();
        assert_eq!(cid.to_string(), v1);
        assert_eq!(parse_cid(&format!("ipfs://{v1}")).unwrap(), cid);
        let v0 = parse_cid("QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN").unwrap();
        assert_eq!(v0.codec(), DAG_PB);
        let err = parse_cid("not-a-cid").unwrap_err().to_string();
        assert!(err.contains("not-a-cid") && err.contains("is not a CID"), "{err}");
    }

    #[test]
    fn verifies_sha512_and_identity() {
        // "hello\n" under sha2-512, from the fixtures' subdomain_gateway notes.
        let cid = parse_cid("bafkrgqhhyivzstcz3hhswshfjgy6ertgmnqeleynhwt4dlfsthi4hn7zgh4uvlsb5xncykzapi3ocd4lzogukir6ksdy6wzrnz6ohnv4aglcs").unwrap();
        assert!(verify(&cid, b"hello\n").is_ok());
        assert!(verify(&cid, b"hello").is_err());
        // The empty identity CID used as the gateway probe.
        let probe = parse_cid("bafkqaaa").unwrap();
        assert!(verify(&probe, b"").is_ok());
    }

    #[test]
    fn refuses_oversized_blocks() {
        let data = vec![0u8; MAX_BLOCK_SIZE + 1];
        let cid = Cid::new_v1(RAW, sha256(&data));
        assert!(matches!(verify(&cid, &data), Err(BlockError::TooLarge { .. })));
    }
}
