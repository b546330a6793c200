//! IPNS names: the multihash of a public key (a libp2p peer id), and the text
//! forms people paste.
//!
//! The canonical form is a CIDv1 with the `libp2p-key` codec in base36
//! (`k51...`). Also accepted: the same CID in any other multibase, the
//! base58btc peer id (`12D3KooW...` for Ed25519, `Qm...` for RSA), a
//! `/ipns/` or `ipns://` prefix, and, like kubo, a CIDv1 that carries the
//! `dag-pb` codec instead of `libp2p-key` (`k50...`): only the multihash names
//! the key, so both CIDs name the same thing.

use std::fmt;
use std::str::FromStr;

use cid::multibase::Base;
use cid::{Cid, Version};
use thiserror::Error;

use super::keys::{KeyError, Keypair, PublicKey};
use crate::formats::block::{cid_to_base36, Multihash, DAG_PB, IDENTITY, LIBP2P_KEY, SHA2_256};

/// Why a string or multihash is not an IPNS name.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error(
    "`{input}` is not an IPNS name ({reason}); expected a k51... name, a 12D3KooW... or Qm... peer id, or /ipns/<name>"
)]
pub struct NameError {
    input: String,
    reason: String,
}

impl NameError {
    fn new(input: &str, reason: impl Into<String>) -> Self {
        NameError { input: input.to_string(), reason: reason.into() }
    }
}

/// A key-based IPNS name: the peer id multihash of the key that signs its
/// records. Shown as base36 CIDv1 (`k51...`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpnsName {
    peer_id: Multihash,
}

impl IpnsName {
    /// The name for a peer id multihash: identity (an inlined public key) or
    /// sha2-256 (a hashed one), as libp2p makes them.
    pub fn from_peer_id(peer_id: Multihash) -> Result<Self, NameError> {
        let ok = match peer_id.code() {
            IDENTITY => !peer_id.digest().is_empty(),
            SHA2_256 => peer_id.digest().len() == 32,
            _ => false,
        };
        if ok {
            Ok(IpnsName { peer_id })
        } else {
            let shown = Base::Base58Btc.encode(peer_id.to_bytes());
            Err(NameError::new(
                &shown,
                format!(
                    "multihash code {:#x} with a {}-byte digest is not a peer id",
                    peer_id.code(),
                    peer_id.digest().len()
                ),
            ))
        }
    }

    /// The name controlled by `key`.
    pub fn from_public_key(key: &PublicKey) -> Self {
        IpnsName { peer_id: key.peer_id() }
    }

    /// The peer id multihash.
    pub fn peer_id(&self) -> &Multihash {
        &self.peer_id
    }

    /// The public key inlined in the name, if the name uses the identity
    /// multihash (Ed25519 names do; RSA names are a hash and need the key
    /// from the record).
    pub fn inline_public_key(&self) -> Option<Result<PublicKey, KeyError>> {
        (self.peer_id.code() == IDENTITY).then(|| PublicKey::from_protobuf(self.peer_id.digest()))
    }

    /// The name as a CIDv1 with the `libp2p-key` codec.
    pub fn to_cid(&self) -> Cid {
        Cid::new_v1(LIBP2P_KEY, self.peer_id)
    }

    /// The peer id in base58btc without a multibase prefix (`12D3KooW...`,
    /// `Qm...`), as libp2p and older kubo versions print it.
    pub fn to_base58(&self) -> String {
        Base::Base58Btc.encode(self.peer_id.to_bytes())
    }

    /// The key under which routing systems (the DHT) store the record:
    /// `/ipns/` followed by the binary peer id.
    pub fn routing_key(&self) -> Vec<u8> {
        let mut key = b"/ipns/".to_vec();
        key.extend_from_slice(&self.peer_id.to_bytes());
        key
    }
}

// The names keys control, here rather than in `keys.rs`: names build on
// keys, not the other way round.

impl PublicKey {
    /// The IPNS name this key controls.
    pub fn ipns_name(&self) -> IpnsName {
        IpnsName::from_public_key(self)
    }
}

impl Keypair {
    /// The IPNS name this keypair publishes under (shown as `k51...`).
    pub fn ipns_name(&self) -> IpnsName {
        self.public().ipns_name()
    }
}

impl fmt::Debug for Keypair {
    // Never print the secret; the name is what identifies the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair").field("name", &self.ipns_name().to_string()).finish_non_exhaustive()
    }
}

impl fmt::Display for IpnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&cid_to_base36(&self.to_cid()))
    }
}

impl fmt::Debug for IpnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IpnsName({self})")
    }
}

impl FromStr for IpnsName {
    type Err = NameError;

    fn from_str(input: &str) -> Result<Self, NameError> {
        let trimmed = input.trim();
        let bare = trimmed.strip_prefix("/ipns/").or_else(|| trimmed.strip_prefix("ipns://")).unwrap_or(trimmed);
        if bare.is_empty() {
            return Err(NameError::new(input, "it is empty"));
        }
        if bare.contains('/') {
            return Err(NameError::new(input, "a path follows the name; give the name alone"));
        }
        if bare.contains('.') {
            return Err(NameError::new(input, "it looks like a DNSLink domain, which DNS resolves, not IPNS records"));
        }
        // A base58btc peer id has no multibase prefix: identity multihashes
        // start with '1' (the zero code byte), sha2-256 ones with "Qm".
        if bare.starts_with('1') || bare.starts_with("Qm") {
            let bytes = Base::Base58Btc.decode(bare).map_err(|_| NameError::new(input, "it is not valid base58btc"))?;
            let peer_id = Multihash::from_bytes(&bytes)
                .map_err(|e| NameError::new(input, format!("it is not a multihash: {e}")))?;
            return IpnsName::from_peer_id(peer_id).map_err(|e| NameError::new(input, e.reason));
        }
        let cid = Cid::try_from(bare).map_err(|e| NameError::new(input, format!("it is not a CID: {e}")))?;
        if cid.version() != Version::V1 {
            return Err(NameError::new(input, "it is a CIDv0, which names content, not a key"));
        }
        if cid.codec() != LIBP2P_KEY && cid.codec() != DAG_PB {
            return Err(NameError::new(
                input,
                format!("its CID codec is {:#x}, not libp2p-key ({LIBP2P_KEY:#x})", cid.codec()),
            ));
        }
        IpnsName::from_peer_id(*cid.hash()).map_err(|e| NameError::new(input, e.reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::block::RAW;

    #[test]
    fn refuses_content_cids_and_domains() {
        // "hello\n" as a raw block (a content CID, not a key).
        let err =
            "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am".parse::<IpnsName>().unwrap_err().to_string();
        assert!(err.contains(&format!("{RAW:#x}, not libp2p-key")), "{err}");
        let err = "/ipns/example.com".parse::<IpnsName>().unwrap_err().to_string();
        assert!(err.contains("DNSLink"), "{err}");
        assert!("".parse::<IpnsName>().is_err());
        assert!("/ipns/".parse::<IpnsName>().is_err());
        assert!("12D3KooW0OIl".parse::<IpnsName>().is_err());
        let with_path = "/ipns/k51qzi5uqu5dk3v4rmjber23h16xnr23bsggmqqil9z2gduiis5se8dht36dam/sub";
        assert!(with_path.parse::<IpnsName>().unwrap_err().to_string().contains("a path follows"));
    }

    #[test]
    fn refuses_multihashes_that_are_not_peer_ids() {
        let sha512 = Multihash::wrap(crate::formats::block::SHA2_512, &[0; 64]).unwrap();
        assert!(IpnsName::from_peer_id(sha512).is_err());
        let short = Multihash::wrap(SHA2_256, &[0; 20]).unwrap();
        assert!(IpnsName::from_peer_id(short).is_err());
    }

    #[test]
    fn routing_key_is_the_prefix_and_binary_peer_id() {
        let name: IpnsName = "12D3KooWLQzUv2FHWGVPXTXSZpdHs7oHbXub2G5WC8Tx4NQhyd2d".parse().unwrap();
        let key = name.routing_key();
        assert_eq!(&key[..6], b"/ipns/");
        assert_eq!(&key[6..], name.peer_id().to_bytes().as_slice());
    }
}
