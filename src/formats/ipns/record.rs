//! IPNS records: creating, verifying and choosing between them.
//!
//! Verification follows the "Record Verification" steps of the IPNS record
//! spec in order and stops at the first failure: size limit, signatureV2 and
//! data present, public key (from the name or the `pubKey` field, which must
//! hash to the name), DAG-CBOR data, signatureV2 over
//! `"ipns-signature:" ++ data`, legacy V1 fields equal to the data, and the
//! EOL validity later than `now`. Only what the signed data says is returned.
//!
//! Records are created with both the signed V2 data and the legacy V1
//! fields and signature, as kubo does, so older resolvers can read them.

use std::cmp::Ordering;
use std::time::{Duration, SystemTime};

use thiserror::Error;

use super::keys::{KeyError, KeyType, Keypair, PublicKey};
use super::name::IpnsName;
use super::rfc3339;
use super::wire::{Data, Entry};

/// The largest serialised record accepted or created (the spec's 10 KiB).
pub const MAX_RECORD_SIZE: usize = 10 * 1024;

/// The prefix signed before the DAG-CBOR data in signatureV2.
pub const SIGNATURE_V2_PREFIX: &[u8] = b"ipns-signature:";

/// `ValidityType` EOL: the record is valid until the time in `Validity`.
pub const VALIDITY_EOL: u64 = 0;

/// A record that passed verification for its name: what the signed data says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpnsRecord {
    value: String,
    sequence: u64,
    validity: SystemTime,
    ttl: Duration,
}

impl IpnsRecord {
    /// The path the name points to, e.g. `/ipfs/bafy...`.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The version number; a newer record has a higher one.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The end of validity (EOL); the record is refused from then on.
    pub fn validity(&self) -> SystemTime {
        self.validity
    }

    /// How long resolvers may cache the record before looking again.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

/// Why a record was refused or could not be made. Each variant names the
/// IPNS name concerned.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum IpnsError {
    /// The serialised record exceeds [`MAX_RECORD_SIZE`].
    #[error("ipns record for {name} is {size} bytes, over the {MAX_RECORD_SIZE}-byte limit; shorten the value")]
    TooLarge {
        /// The name.
        name: IpnsName,
        /// The record's size in bytes.
        size: usize,
    },
    /// The protobuf or its DAG-CBOR data could not be read.
    #[error("ipns record for {name} cannot be read: {reason}")]
    Malformed {
        /// The name.
        name: IpnsName,
        /// What could not be read.
        reason: String,
    },
    /// The record has no signatureV2 or no data: a legacy V1-only record.
    #[error("ipns record for {name} has no signatureV2 and data (a legacy V1-only record, which is no longer trusted); the publisher must republish it with a current IPFS implementation")]
    MissingSignatureV2 {
        /// The name.
        name: IpnsName,
    },
    /// The name is a hash of its key and the record does not carry the key.
    #[error("ipns record for {name} does not carry its public key, and the name only holds the key's hash")]
    MissingPublicKey {
        /// The name.
        name: IpnsName,
    },
    /// The public key in the name or in the record could not be decoded.
    #[error("ipns record for {name} has an unusable public key: {source}")]
    InvalidPublicKey {
        /// The name.
        name: IpnsName,
        /// What was wrong with the key (boxed to keep the error small).
        source: Box<KeyError>,
    },
    /// The record's `pubKey` is not the key the name was made from.
    #[error(
        "the public key in the ipns record does not belong to {name}; the record was published under another name"
    )]
    PublicKeyMismatch {
        /// The name.
        name: IpnsName,
    },
    /// The key type cannot be verified here.
    #[error("unsupported key type: {key_type} (ipns name {name}); only Ed25519 records can be verified, so publish under an Ed25519 key")]
    UnsupportedKeyType {
        /// The name.
        name: IpnsName,
        /// The key's type.
        key_type: KeyType,
    },
    /// signatureV2 does not verify.
    #[error("the signature of the ipns record for {name} does not verify; the record was altered or signed for another name")]
    BadSignature {
        /// The name.
        name: IpnsName,
    },
    /// A legacy V1 field disagrees with the signed data.
    #[error("legacy field `{field}` of the ipns record for {name} disagrees with the signed data; the record was altered and is refused")]
    V1Mismatch {
        /// The name.
        name: IpnsName,
        /// The protobuf field name.
        field: &'static str,
    },
    /// A validity type other than EOL (0).
    #[error("ipns record for {name} has validity type {validity_type}; only 0 (EOL) is defined")]
    UnsupportedValidityType {
        /// The name.
        name: IpnsName,
        /// The type found.
        validity_type: u64,
    },
    /// The validity is not an RFC 3339 time.
    #[error("ipns record for {name} has validity `{validity}`, which is not an RFC 3339 time")]
    BadValidity {
        /// The name.
        name: IpnsName,
        /// The text found.
        validity: String,
    },
    /// The validity has passed.
    #[error("ipns record for {name} expired at {validity}; the publisher must republish it")]
    Expired {
        /// The name.
        name: IpnsName,
        /// The end of validity, as written in the record.
        validity: String,
    },
    /// A record cannot be made with this validity (outside years 0000..=9999).
    #[error("cannot write an ipns record for {name} valid until that time: RFC 3339 covers years 0000 to 9999 only")]
    ValidityOutOfRange {
        /// The name.
        name: IpnsName,
    },
    /// A record cannot be made with this TTL (over u64 nanoseconds, ~584 years).
    #[error("cannot write an ipns record for {name} with a ttl of {ttl:?}: it must fit in 64-bit nanoseconds")]
    TtlTooLong {
        /// The name.
        name: IpnsName,
        /// The TTL asked for.
        ttl: Duration,
    },
}

/// Signs a record that points the keypair's name at `value` (a path such as
/// `/ipfs/<cid>`), valid until `validity`, with the given sequence number and
/// cache TTL. The record has the signed V2 data and the legacy V1 fields and
/// signature; it does not embed the Ed25519 public key, which the name holds.
pub fn create_record(
    keypair: &Keypair,
    value: &str,
    sequence: u64,
    validity: SystemTime,
    ttl: Duration,
) -> Result<Vec<u8>, IpnsError> {
    let name = keypair.ipns_name();
    let validity = rfc3339::format(validity).ok_or(IpnsError::ValidityOutOfRange { name })?;
    let ttl = u64::try_from(ttl.as_nanos()).map_err(|_| IpnsError::TtlTooLong { name, ttl })?;
    let data = Data {
        value: value.as_bytes().to_vec(),
        validity: validity.into_bytes(),
        validity_type: VALIDITY_EOL,
        sequence,
        ttl,
    };
    let cbor = data.encode();
    let entry = Entry {
        signature_v1: Some(keypair.sign(&v1_signed_bytes(&data.value, &data.validity)).to_vec()),
        signature_v2: Some(keypair.sign(&v2_signed_bytes(&cbor)).to_vec()),
        value: Some(data.value),
        validity_type: Some(VALIDITY_EOL),
        validity: Some(data.validity),
        sequence: Some(sequence),
        ttl: Some(ttl),
        pub_key: None,
        data: Some(cbor),
    };
    let bytes = entry.encode();
    if bytes.len() > MAX_RECORD_SIZE {
        return Err(IpnsError::TooLarge { name, size: bytes.len() });
    }
    Ok(bytes)
}

/// Verifies `bytes` as a record for `name` at time `now`, following the
/// spec's Record Verification steps, and returns what the signed data says.
pub fn verify_record(name: &IpnsName, bytes: &[u8], now: SystemTime) -> Result<IpnsRecord, IpnsError> {
    let name = *name;
    if bytes.len() > MAX_RECORD_SIZE {
        return Err(IpnsError::TooLarge { name, size: bytes.len() });
    }
    let malformed = |reason: String| IpnsError::Malformed { name, reason };
    let entry = Entry::decode(bytes).map_err(|e| malformed(e.to_string()))?;
    let (signature, cbor) = match (&entry.signature_v2, &entry.data) {
        (Some(signature), Some(data)) if !signature.is_empty() && !data.is_empty() => (signature, data),
        _ => return Err(IpnsError::MissingSignatureV2 { name }),
    };
    let key = public_key(&name, &entry)?;
    let data = Data::decode(cbor).map_err(|e| malformed(format!("data is not the expected DAG-CBOR map: {e}")))?;
    key.verify(&v2_signed_bytes(cbor), signature).map_err(|e| match e {
        KeyError::Unsupported(key_type) => IpnsError::UnsupportedKeyType { name, key_type },
        _ => IpnsError::BadSignature { name },
    })?;
    check_v1_fields(&name, &entry, &data)?;
    if data.validity_type != VALIDITY_EOL {
        return Err(IpnsError::UnsupportedValidityType { name, validity_type: data.validity_type });
    }
    let validity_text = String::from_utf8_lossy(&data.validity).into_owned();
    let validity = std::str::from_utf8(&data.validity)
        .ok()
        .and_then(rfc3339::parse)
        .ok_or_else(|| IpnsError::BadValidity { name, validity: validity_text.clone() })?;
    if validity <= now {
        return Err(IpnsError::Expired { name, validity: validity_text });
    }
    let value = String::from_utf8(data.value).map_err(|_| malformed("value is not UTF-8".to_string()))?;
    Ok(IpnsRecord { value, sequence: data.sequence, validity, ttl: Duration::from_nanos(data.ttl) })
}

/// Orders two verified records of one name: `Greater` when `a` is the better
/// one. A higher sequence wins; on equal sequences the later validity wins.
pub fn better(a: &IpnsRecord, b: &IpnsRecord) -> Ordering {
    a.sequence.cmp(&b.sequence).then_with(|| a.validity.cmp(&b.validity))
}

/// The best of several verified records of one name (see [`better`]); the
/// first of equals.
pub fn pick_best<'a>(records: impl IntoIterator<Item = &'a IpnsRecord>) -> Option<&'a IpnsRecord> {
    records.into_iter().fold(None, |best, record| match best {
        Some(best) if better(record, best) != Ordering::Greater => Some(best),
        _ => Some(record),
    })
}

/// The key that must have signed the record: `pubKey` when present (it must
/// hash to the name), else the key inlined in an identity-multihash name.
fn public_key(name: &IpnsName, entry: &Entry) -> Result<PublicKey, IpnsError> {
    let name = *name;
    let invalid = |source| IpnsError::InvalidPublicKey { name, source: Box::new(source) };
    match &entry.pub_key {
        Some(bytes) => {
            let key = PublicKey::from_protobuf(bytes).map_err(invalid)?;
            if key.peer_id() != *name.peer_id() {
                return Err(IpnsError::PublicKeyMismatch { name });
            }
            Ok(key)
        }
        None => match name.inline_public_key() {
            Some(key) => key.map_err(invalid),
            None => Err(IpnsError::MissingPublicKey { name }),
        },
    }
}

/// Step 7: legacy fields must repeat the signed data. When the record uses
/// the V1 section at all (value or signatureV1 present), an absent field
/// counts as its protobuf default, as in the reference implementation;
/// otherwise only the fields present are compared.
fn check_v1_fields(name: &IpnsName, entry: &Entry, data: &Data) -> Result<(), IpnsError> {
    let legacy = entry.value.is_some() || entry.signature_v1.is_some();
    let mismatch = |field| Err(IpnsError::V1Mismatch { name: *name, field });
    let bytes_differ = |field: &Option<Vec<u8>>, signed: &[u8]| match field {
        Some(v) => v.as_slice() != signed,
        None => legacy && !signed.is_empty(),
    };
    let int_differs = |field: Option<u64>, signed: u64| match field {
        Some(v) => v != signed,
        None => legacy && signed != 0,
    };
    if bytes_differ(&entry.value, &data.value) {
        return mismatch("value");
    }
    if bytes_differ(&entry.validity, &data.validity) {
        return mismatch("validity");
    }
    if int_differs(entry.validity_type, data.validity_type) {
        return mismatch("validityType");
    }
    if int_differs(entry.sequence, data.sequence) {
        return mismatch("sequence");
    }
    if int_differs(entry.ttl, data.ttl) {
        return mismatch("ttl");
    }
    Ok(())
}

pub(super) fn v2_signed_bytes(cbor: &[u8]) -> Vec<u8> {
    [SIGNATURE_V2_PREFIX, cbor].concat()
}

/// The legacy V1 signature covers value || validity || "EOL" (the Go name
/// of the validity type).
pub(super) fn v1_signed_bytes(value: &[u8], validity: &[u8]) -> Vec<u8> {
    [value, validity, b"EOL"].concat()
}
