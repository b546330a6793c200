//! libp2p keys: the `PublicKey` and `PrivateKey` protobufs, peer ids, and an
//! Ed25519 keypair that signs IPNS records.
//!
//! Both messages are `{Type(1): KeyType, Data(2): bytes}` (libp2p peer-ids
//! spec, repeated in the IPNS record spec). Only Ed25519 signs and verifies
//! here; RSA, Secp256k1 and ECDSA keys are recognised so that errors can name
//! them, and so that a peer id can still be computed from their bytes.
//!
//! The private key protobuf is the format kubo's
//! `ipfs key export --format=libp2p-protobuf-cleartext` writes and
//! `ipfs key import` reads: Type=Ed25519 and Data = 32-byte seed followed by
//! the 32-byte public key.
//!
//! A key's IPNS name (`PublicKey::ipns_name`, `Keypair::ipns_name`) and a
//! keypair's `Debug`, which shows that name, are in `name.rs`: names build
//! on keys, not the other way round.

use std::fmt;

use cid::multibase::Base;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use thiserror::Error;

use crate::formats::block::{self, Multihash, IDENTITY};
use crate::formats::pb::{PbError, Reader, Writer};

/// A serialised public key up to this many bytes is inlined in the peer id
/// with the identity multihash; longer ones are hashed with sha2-256.
pub const MAX_INLINE_KEY_LENGTH: usize = 42;

/// The key algorithms libp2p names, with their protobuf enum values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA (legacy IPNS names, `Qm...` peer ids).
    Rsa,
    /// Ed25519, the only type this crate signs and verifies with.
    Ed25519,
    /// Secp256k1.
    Secp256k1,
    /// ECDSA.
    Ecdsa,
}

impl KeyType {
    /// The `KeyType` enum value in the protobuf.
    pub fn code(self) -> u64 {
        match self {
            KeyType::Rsa => 0,
            KeyType::Ed25519 => 1,
            KeyType::Secp256k1 => 2,
            KeyType::Ecdsa => 3,
        }
    }

    /// The type for a protobuf enum value, if libp2p defines it.
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(KeyType::Rsa),
            1 => Some(KeyType::Ed25519),
            2 => Some(KeyType::Secp256k1),
            3 => Some(KeyType::Ecdsa),
            _ => None,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::Rsa => "RSA",
            KeyType::Ed25519 => "Ed25519",
            KeyType::Secp256k1 => "Secp256k1",
            KeyType::Ecdsa => "ECDSA",
        })
    }
}

/// Why a key could not be decoded or used.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The bytes are not a protobuf message.
    #[error("key is not a libp2p key protobuf: {0}")]
    Protobuf(#[from] PbError),
    /// A required field is absent.
    #[error("key protobuf has no {0} field")]
    MissingField(&'static str),
    /// The `Type` field holds a value libp2p does not define.
    #[error("unknown key type {0} (libp2p defines RSA=0, Ed25519=1, Secp256k1=2, ECDSA=3)")]
    UnknownKeyType(u64),
    /// The key is of a type this crate cannot sign or verify with.
    #[error("unsupported key type: {0}; only Ed25519 keys can sign and verify here (create one with `ipfs key gen --type=ed25519`)")]
    Unsupported(KeyType),
    /// The `Data` field has the wrong length for its key type.
    #[error("the {what} is {len} bytes, expected {expected}")]
    BadLength {
        /// Which key part.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The accepted lengths, in words.
        expected: &'static str,
    },
    /// The Ed25519 public key bytes are not a point on the curve.
    #[error("the Ed25519 public key is not a valid curve point")]
    InvalidPublicKey,
    /// A private key's stored public half is not the one its seed gives.
    #[error("the private key's public half does not match its seed; the key file is corrupt or was pieced together from two keys")]
    MismatchedPublicKey,
    /// A signature did not verify against the message and key.
    #[error("signature does not verify")]
    BadSignature,
}

/// A public key as libp2p serialises it: a type and the type's own encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key_type: KeyType,
    data: Vec<u8>,
}

impl PublicKey {
    /// Decodes a `PublicKey` protobuf. Ed25519 keys are checked to be 32
    /// bytes and a valid curve point; other types are kept as opaque bytes.
    pub fn from_protobuf(bytes: &[u8]) -> Result<Self, KeyError> {
        let (key_type, data) = decode_key_message(bytes)?;
        if key_type == KeyType::Ed25519 {
            ed25519_verifying_key(data)?;
        }
        Ok(PublicKey { key_type, data: data.to_vec() })
    }

    /// The canonical `PublicKey` protobuf: `Type` then `Data`, as peer ids
    /// are computed over it.
    pub fn to_protobuf(&self) -> Vec<u8> {
        encode_key_message(self.key_type, &self.data)
    }

    /// The key algorithm.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The key in its type's own encoding (32 raw bytes for Ed25519, DER for RSA).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The peer id: the identity multihash of the protobuf when it is at
    /// most [`MAX_INLINE_KEY_LENGTH`] bytes, else its sha2-256 multihash.
    pub fn peer_id(&self) -> Multihash {
        let encoded = self.to_protobuf();
        if encoded.len() <= MAX_INLINE_KEY_LENGTH {
            Multihash::wrap(IDENTITY, &encoded).expect("at most 42 bytes fit in a 64-byte multihash")
        } else {
            block::sha256(&encoded)
        }
    }

    /// Checks an Ed25519 `signature` over `message`. Other key types give
    /// [`KeyError::Unsupported`].
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        if self.key_type != KeyType::Ed25519 {
            return Err(KeyError::Unsupported(self.key_type));
        }
        let key = ed25519_verifying_key(&self.data)?;
        let signature = Signature::from_slice(signature).map_err(|_| KeyError::BadSignature)?;
        // Strict verification also refuses weak (small-order) keys and
        // non-canonical signatures, which honest publishers never produce.
        key.verify_strict(message, &signature).map_err(|_| KeyError::BadSignature)
    }
}

/// An Ed25519 keypair that owns an IPNS name and signs its records.
#[derive(Clone)]
pub struct Keypair {
    signing: SigningKey,
}

impl Keypair {
    /// A new random keypair from the operating system's generator.
    pub fn generate() -> Self {
        Keypair { signing: SigningKey::generate(&mut rand_core::OsRng) }
    }

    /// The keypair for a 32-byte Ed25519 seed (the RFC 8032 private key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Keypair { signing: SigningKey::from_bytes(seed) }
    }

    /// Decodes a `PrivateKey` protobuf, as `ipfs key export
    /// --format=libp2p-protobuf-cleartext` writes it. Data is seed || public
    /// key (64 bytes), or the older seed || public || public (96 bytes); the
    /// stored public key must be the one the seed gives.
    pub fn from_protobuf(bytes: &[u8]) -> Result<Self, KeyError> {
        let (key_type, data) = decode_key_message(bytes)?;
        if key_type != KeyType::Ed25519 {
            return Err(KeyError::Unsupported(key_type));
        }
        let (seed, public) = match data.len() {
            64 => (&data[..32], &data[32..]),
            96 if data[32..64] == data[64..] => (&data[..32], &data[32..64]),
            96 => return Err(KeyError::MismatchedPublicKey),
            len => return Err(KeyError::BadLength { what: "Ed25519 private key", len, expected: "64 (or legacy 96)" }),
        };
        let keypair = Keypair::from_seed(seed.try_into().expect("32 bytes"));
        if keypair.signing.verifying_key().as_bytes() != public {
            return Err(KeyError::MismatchedPublicKey);
        }
        Ok(keypair)
    }

    /// The `PrivateKey` protobuf (Type=Ed25519, Data = seed || public key)
    /// that `ipfs key import` reads. It holds the secret: store it privately.
    pub fn to_protobuf(&self) -> Vec<u8> {
        let mut data = Vec::with_capacity(64);
        data.extend_from_slice(self.signing.as_bytes());
        data.extend_from_slice(self.signing.verifying_key().as_bytes());
        encode_key_message(KeyType::Ed25519, &data)
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey { key_type: KeyType::Ed25519, data: self.signing.verifying_key().to_bytes().to_vec() }
    }

    /// The public half as a `PublicKey` protobuf.
    pub fn public_protobuf(&self) -> Vec<u8> {
        self.public().to_protobuf()
    }

    /// The peer id multihash (identity, since an Ed25519 key is 36 bytes
    /// serialised).
    pub fn peer_id(&self) -> Multihash {
        self.public().peer_id()
    }

    /// The peer id in base58btc, as libp2p prints it (`12D3KooW...`).
    pub fn peer_id_base58(&self) -> String {
        Base::Base58Btc.encode(self.peer_id().to_bytes())
    }

    /// Signs `message` with Ed25519.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

fn ed25519_verifying_key(data: &[u8]) -> Result<VerifyingKey, KeyError> {
    let bytes: &[u8; 32] = data.try_into().map_err(|_| KeyError::BadLength {
        what: "Ed25519 public key",
        len: data.len(),
        expected: "32",
    })?;
    VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidPublicKey)
}

fn decode_key_message(bytes: &[u8]) -> Result<(KeyType, &[u8]), KeyError> {
    let mut key_type = None;
    let mut data = None;
    let mut reader = Reader::new(bytes);
    while let Some((field, value)) = reader.next_field()? {
        match field {
            1 => {
                let code = value.varint(field)?;
                key_type = Some(KeyType::from_code(code).ok_or(KeyError::UnknownKeyType(code))?);
            }
            2 => data = Some(value.bytes(field)?),
            // Unknown fields are skipped, as protobuf readers do.
            _ => {}
        }
    }
    Ok((key_type.ok_or(KeyError::MissingField("Type"))?, data.ok_or(KeyError::MissingField("Data"))?))
}

fn encode_key_message(key_type: KeyType, data: &[u8]) -> Vec<u8> {
    let mut writer = Writer::with_capacity(data.len() + 8);
    writer.varint(1, key_type.code()).bytes(2, data);
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_key_protobuf_round_trips() {
        let keypair = Keypair::generate();
        let encoded = keypair.to_protobuf();
        // Type=Ed25519 (08 01), Data of 64 bytes (12 40).
        assert_eq!(&encoded[..4], &[0x08, 0x01, 0x12, 0x40]);
        assert_eq!(encoded.len(), 68);
        let decoded = Keypair::from_protobuf(&encoded).unwrap();
        assert_eq!(decoded.public(), keypair.public());
        assert_eq!(decoded.to_protobuf(), encoded);
        let public = PublicKey::from_protobuf(&keypair.public_protobuf()).unwrap();
        assert_eq!(public, keypair.public());
        assert_eq!(keypair.public_protobuf().len(), 36);
    }

    #[test]
    fn refuses_a_private_key_whose_public_half_does_not_match() {
        let a = Keypair::from_seed(&[1; 32]);
        let b = Keypair::from_seed(&[2; 32]);
        let mut data = a.signing.as_bytes().to_vec();
        data.extend_from_slice(b.signing.verifying_key().as_bytes());
        let spliced = encode_key_message(KeyType::Ed25519, &data);
        assert_eq!(Keypair::from_protobuf(&spliced).unwrap_err(), KeyError::MismatchedPublicKey);
        let err = KeyError::MismatchedPublicKey.to_string();
        assert!(err.starts_with("the private key's public half does not match"), "{err}");
    }

    #[test]
    fn accepts_the_legacy_96_byte_form_only_when_both_copies_agree() {
        let keypair = Keypair::from_seed(&[7; 32]);
        let public = keypair.signing.verifying_key().to_bytes();
        let mut data = keypair.signing.as_bytes().to_vec();
        data.extend_from_slice(&public);
        data.extend_from_slice(&public);
        let legacy = encode_key_message(KeyType::Ed25519, &data);
        assert_eq!(Keypair::from_protobuf(&legacy).unwrap().public(), keypair.public());
        data[95] ^= 1;
        let broken = encode_key_message(KeyType::Ed25519, &data);
        assert_eq!(Keypair::from_protobuf(&broken).unwrap_err(), KeyError::MismatchedPublicKey);
    }

    #[test]
    fn refuses_other_key_types_lengths_and_missing_fields() {
        let rsa = encode_key_message(KeyType::Rsa, &[0x30, 0x82]);
        let err = Keypair::from_protobuf(&rsa).unwrap_err();
        assert_eq!(err, KeyError::Unsupported(KeyType::Rsa));
        assert!(err.to_string().starts_with("unsupported key type: RSA"), "{err}");
        let short = encode_key_message(KeyType::Ed25519, &[0; 63]);
        assert!(matches!(Keypair::from_protobuf(&short), Err(KeyError::BadLength { len: 63, .. })));
        let mut unknown = Writer::new();
        unknown.varint(1, 9).bytes(2, &[0; 32]);
        assert_eq!(PublicKey::from_protobuf(&unknown.finish()), Err(KeyError::UnknownKeyType(9)));
        let mut no_data = Writer::new();
        no_data.varint(1, 1);
        assert_eq!(PublicKey::from_protobuf(&no_data.finish()), Err(KeyError::MissingField("Data")));
        assert!(matches!(PublicKey::from_protobuf(&[0x12, 5]), Err(KeyError::Protobuf(_))));
        // RSA public keys are kept, but cannot verify.
        let rsa_public = PublicKey::from_protobuf(&rsa).unwrap();
        assert_eq!(rsa_public.key_type(), KeyType::Rsa);
        assert_eq!(rsa_public.verify(b"m", &[0; 64]), Err(KeyError::Unsupported(KeyType::Rsa)));
    }

    #[test]
    fn generated_keys_have_the_usual_peer_id_and_name_prefixes() {
        let keypair = Keypair::generate();
        assert!(keypair.peer_id_base58().starts_with("12D3KooW"), "{}", keypair.peer_id_base58());
        assert!(keypair.ipns_name().to_string().starts_with("k51"), "{}", keypair.ipns_name());
        assert_eq!(keypair.peer_id().code(), IDENTITY);
        assert_eq!(keypair.peer_id().digest(), keypair.public_protobuf().as_slice());
        assert!(format!("{keypair:?}").contains("k51"));
    }

    #[test]
    fn signs_and_verifies() {
        let keypair = Keypair::from_seed(&[3; 32]);
        let signature = keypair.sign(b"message");
        assert_eq!(keypair.public().verify(b"message", &signature), Ok(()));
        assert_eq!(keypair.public().verify(b"massage", &signature), Err(KeyError::BadSignature));
        assert_eq!(keypair.public().verify(b"message", b"invalid stuff"), Err(KeyError::BadSignature));
    }

    #[test]
    fn long_keys_are_hashed_into_the_peer_id() {
        let key = PublicKey { key_type: KeyType::Rsa, data: vec![0xaa; 100] };
        let peer_id = key.peer_id();
        assert_eq!(peer_id.code(), block::SHA2_256);
        assert_eq!(peer_id, block::sha256(&key.to_protobuf()));
    }
}
