//! IPNS: signed, mutable names that point at IPFS paths. The project's
//! index is published under one.
//!
//! - keys: the libp2p [`PublicKey`] protobuf, peer ids, and the Ed25519
//!   [`Keypair`] that signs records, stored in the format of kubo's
//!   `ipfs key export --format=libp2p-protobuf-cleartext`.
//! - names: [`IpnsName`], a key's name, parsed from `k51...`, `12D3KooW...`, `Qm...`
//!   or `/ipns/...`, and shown as base36 CIDv1; the name a [`PublicKey`] or
//!   [`Keypair`] controls (`ipns_name`). Names build on keys, not the other
//!   way round.
//! - records: [`create_record`], [`verify_record`], [`better`] per the IPNS
//!   record spec (signatureV2 over DAG-CBOR data, legacy V1 fields kept in
//!   step).
//! - [`rfc3339`]: the validity timestamps, in kubo's exact format.
//! - inspection (crate-internal): a record's fields read without verifying
//!   them, for display only.
//!
//! Goals: interoperate with kubo's records and keys byte for byte, and refuse
//! anything the spec's verification steps refuse. Non-goals: verifying RSA,
//! Secp256k1 or ECDSA signatures (such records are recognised and refused
//! with an "unsupported key type" error), and fetching or publishing records,
//! which the store layer does. As everywhere in `formats`, there is no I/O
//! and no clock: the current time is a parameter.

mod inspect;
mod keys;
mod name;
mod record;
pub mod rfc3339;
mod wire;

#[cfg(test)]
mod tests;

pub(crate) use inspect::{inspect_record, RecordFields};
pub use keys::{KeyError, KeyType, Keypair, PublicKey, MAX_INLINE_KEY_LENGTH};
pub use name::{IpnsName, NameError};
pub use record::{
    better, create_record, pick_best, verify_record, IpnsError, IpnsRecord, MAX_RECORD_SIZE, SIGNATURE_V2_PREFIX,
    VALIDITY_EOL,
};
