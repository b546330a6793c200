//! Data-driven tests against the public IPNS fixtures in
//! `tests/fixtures/ipfs/` (gateway-conformance records, including the IPNS
//! spec's test vectors). Expected verdicts and values come from
//! `EXPECTED-decoded.json` and the fixtures' README, never from this crate.
//! The files are compiled in with `include_bytes!`, so the module stays free
//! of file I/O even in tests.

use std::cmp::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value as Json;

use super::wire::{Data, Entry};
use super::*;
use crate::formats::block::{IDENTITY, SHA2_256};

const EXPECTED_JSON: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ipfs/EXPECTED-decoded.json"));

macro_rules! fixtures {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ipfs/", $path)) as &[u8])),*]
    };
}

/// Every `.ipns-record` listed in EXPECTED-decoded.json, by its path there.
const RECORDS: &[(&str, &[u8])] = fixtures!(
    "gateway-conformance/fixtures/gateway-cache/k51qzi5uqu5djokp3m1keo36hoxtd6u3a1d2rg1camf6al7p3huy63dojlm57c.ipns-record",
    "gateway-conformance/fixtures/gateway-cache/k51qzi5uqu5dlxdsdu5fpuu7h69wu4ohp32iwm9pdt9nq3y5rpn3ln9j12zfhe.ipns-record",
    "gateway-conformance/fixtures/ipns_records/k51qzi5uqu5diamp7qnnvs1p1gzmku3eijkeijs3418j23j077zrkok63xdm8c_v1-v2-broken-signature-v2.ipns-record",
    "gateway-conformance/fixtures/ipns_records/k51qzi5uqu5dilgf7gorsh9vcqqq4myo6jd4zmqkuy9pxyxi5fua3uf7axph4y_v1-v2-broken-signature-v1.ipns-record",
    "gateway-conformance/fixtures/ipns_records/k51qzi5uqu5dit2ku9mutlfgwyz8u730on38kd10m97m36bjt66my99hb6103f_v2.ipns-record",
    "gateway-conformance/fixtures/ipns_records/k51qzi5uqu5dlkw8pxuw9qmqayfdeh4kfebhmreauqdc6a7c3y7d5i9fi8mk9w_v1-v2.ipns-record",
    "gateway-conformance/fixtures/ipns_records/k51qzi5uqu5dlmit2tuwdvnx4sbnyqgmvbxftl0eo3f33wwtb9gr7yozae9kpw_v1-v2-broken-v1-value.ipns-record",
    "gateway-conformance/fixtures/ipns_records/k51qzi5uqu5dm4tm0wt8srkg9h9suud4wuiwjimndrkydqm81cqtlb5ak6p7ku_v1.ipns-record",
    "gateway-conformance/fixtures/path_gateway_dag/k51qzi5uqu5dghjous0agrwavl8vzl64xckoqzwqeqwudfr74kfd11zcyk3b7l.ipns-record",
    "gateway-conformance/fixtures/path_gateway_dag/k51qzi5uqu5dhjghbwdvbo6mi40htrq6e2z4pwgp15pgv3ho1azvidttzh8yy2.ipns-record",
    "gateway-conformance/fixtures/subdomain_gateway/12D3KooWLQzUv2FHWGVPXTXSZpdHs7oHbXub2G5WC8Tx4NQhyd2d.ipns-record",
    "gateway-conformance/fixtures/subdomain_gateway/QmVujd5Vb7moysJj8itnGufN7MEtPRCNHkKpNuA4onsRa3.ipns-record",
    "gateway-conformance/tooling/ipns/_fixtures/k51qzi5uqu5dgh7y9l90nqs6tvnzcm9erbt8fhzg3fu79p5qt9zb2izvfu51ki.ipns-record",
    "gateway-conformance/tooling/ipns/_fixtures/k51qzi5uqu5dh71qgwangrt6r0nd4094i88nsady6qgd1dhjcyfsaqmpp143ab.ipns-record",
);

/// A fixed "now" (2026-01-01T00:00:00Z); every fixture is valid until ~2123.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

/// Each fixture record with its entry in EXPECTED-decoded.json. Panics if
/// the two lists differ, so no listed record goes untested.
fn cases() -> Vec<(&'static str, &'static [u8], Json)> {
    let json: Json = serde_json::from_str(EXPECTED_JSON).unwrap();
    let listed = json["ipns_records"].as_object().unwrap();
    assert_eq!(listed.len(), RECORDS.len(), "every listed record is compiled in");
    RECORDS
        .iter()
        .map(|&(path, bytes)| {
            let expected = listed.get(path).unwrap_or_else(|| panic!("{path} is not in EXPECTED-decoded.json"));
            (path, bytes, expected.clone())
        })
        .collect()
}

fn text(json: &Json) -> &str {
    json.as_str().unwrap_or_else(|| panic!("expected a string, found {json}"))
}

fn record_bytes(name_fragment: &str) -> (IpnsName, &'static [u8]) {
    let (path, bytes) = RECORDS.iter().find(|(path, _)| path.contains(name_fragment)).unwrap();
    let file = path.rsplit('/').next().unwrap();
    let name = file.split(['_', '.']).next().unwrap();
    (name.parse().unwrap(), bytes)
}

#[test]
fn every_fixture_record_gets_its_expected_verdict() {
    for (path, bytes, expected) in cases() {
        assert_eq!(bytes.len() as u64, expected["size"].as_u64().unwrap(), "{path}");
        let name: IpnsName = text(&expected["name"]).parse().unwrap();
        let result = verify_record(&name, bytes, now());
        let verdict = text(&expected["verdict_per_spec"]);
        let data = &expected["data"];
        if text(&expected["key_type"]) == "RSA" {
            // Valid per the spec, but RSA verification is out of scope.
            let err = result.unwrap_err();
            assert_eq!(err, IpnsError::UnsupportedKeyType { name, key_type: KeyType::Rsa }, "{path}");
            assert!(err.to_string().starts_with("unsupported key type: RSA"), "{err}");
            // The pubKey field was recognised and hashes to the name.
            let entry = Entry::decode(bytes).unwrap();
            let key = PublicKey::from_protobuf(entry.pub_key.as_deref().unwrap()).unwrap();
            assert_eq!(key.key_type(), KeyType::Rsa);
            assert_eq!(IpnsName::from_public_key(&key), name);
            let signed = Data::decode(entry.data.as_deref().unwrap()).unwrap();
            assert_eq!(signed.value, text(&data["Value"]).as_bytes(), "{path}");
        } else if verdict == "valid" {
            let record = result.unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(record.value(), text(&data["Value"]), "{path}");
            assert_eq!(record.sequence(), data["Sequence"].as_u64().unwrap(), "{path}");
            assert_eq!(record.ttl().as_nanos(), u128::from(data["TTL"].as_u64().unwrap()), "{path}");
            assert_eq!(rfc3339::format(record.validity()).unwrap(), text(&data["Validity"]), "{path}");
        } else {
            let err = result.unwrap_err();
            let expected_err = if verdict.contains("missing signatureV2") {
                IpnsError::MissingSignatureV2 { name }
            } else if verdict.contains("signatureV2 does not verify") {
                IpnsError::BadSignature { name }
            } else if verdict.contains("V1 field value") {
                IpnsError::V1Mismatch { name, field: "value" }
            } else {
                panic!("{path}: no mapping for verdict {verdict:?}");
            };
            assert_eq!(err, expected_err, "{path}: {err}");
        }
    }
}

#[test]
fn fixture_names_parse_in_every_form() {
    for (path, _, expected) in cases() {
        let b36 = text(&expected["name_b36_cidv1"]);
        let b58 = text(&expected["name_b58_mh"]);
        let b32 = text(&expected["name_b32_cidv1"]);
        let name: IpnsName = text(&expected["name"]).parse().unwrap();
        for form in [b36.to_string(), b58.to_string(), b32.to_string(), format!("/ipns/{b36}"), format!("ipns://{b58}")]
        {
            assert_eq!(form.parse::<IpnsName>().unwrap(), name, "{path}: {form}");
        }
        assert_eq!(name.to_string(), b36, "{path}");
        assert_eq!(name.to_base58(), b58, "{path}");
        assert_eq!(name.to_cid().to_string(), b32, "{path}");
        if text(&expected["key_type"]) == "Ed25519" {
            assert_eq!(name.peer_id().code(), IDENTITY);
            assert_eq!(hex::encode(name.peer_id().digest()), text(&expected["pubkey_protobuf_hex"]), "{path}");
            let key = name.inline_public_key().unwrap().unwrap();
            assert_eq!(key.key_type(), KeyType::Ed25519);
            assert!(b58.starts_with("12D3KooW") && b36.starts_with("k51"), "{path}");
        } else {
            assert_eq!(name.peer_id().code(), SHA2_256);
            assert!(name.inline_public_key().is_none());
        }
    }
}

#[test]
fn kubo_dag_pb_form_of_a_name_is_the_same_name() {
    // From the fixtures' README (gateway-conformance tooling/ipns/ipns_test.go).
    let b58: IpnsName = "12D3KooWLQzUv2FHWGVPXTXSZpdHs7oHbXub2G5WC8Tx4NQhyd2d".parse().unwrap();
    let dag_pb: IpnsName = "k50rm9yjlt0jey4fqg6wafvqprktgbkpgkqdg27tpqje6iimzxewnhvtin9hhq".parse().unwrap();
    assert_eq!(dag_pb, b58);
    assert_eq!(dag_pb.to_string(), "k51qzi5uqu5dk3v4rmjber23h16xnr23bsggmqqil9z2gduiis5se8dht36dam");
    let (_, bytes) = record_bytes("12D3KooWLQzUv2FHWGVPXTXSZpdHs7oHbXub2G5WC8Tx4NQhyd2d");
    let record = verify_record(&dag_pb, bytes, now()).unwrap();
    assert_eq!(record.value(), "/ipfs/bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am");
    // The RSA name's CIDv1 form, also from the README.
    let rsa: IpnsName = "k2k4r8m7xvggw5pxxk3abrkwyer625hg01hfyggrai7lk1m63fuihi7w".parse().unwrap();
    assert_eq!(rsa.to_base58(), "QmVujd5Vb7moysJj8itnGufN7MEtPRCNHkKpNuA4onsRa3");
}

#[test]
fn data_encoder_reproduces_kubo_bytes() {
    let mut checked = 0;
    for (path, bytes, expected) in cases() {
        let data = &expected["data"];
        if data.is_null() {
            continue;
        }
        let fields = Data {
            value: text(&data["Value"]).as_bytes().to_vec(),
            validity: text(&data["Validity"]).as_bytes().to_vec(),
            validity_type: data["ValidityType"].as_u64().unwrap(),
            sequence: data["Sequence"].as_u64().unwrap(),
            ttl: data["TTL"].as_u64().unwrap(),
        };
        let cbor_hex = text(&expected["data_cbor_hex"]);
        assert_eq!(hex::encode(fields.encode()), cbor_hex, "{path}");
        let in_record = Entry::decode(bytes).unwrap().data.unwrap();
        assert_eq!(hex::encode(&in_record), cbor_hex, "{path}");
        assert_eq!(Data::decode(&in_record).unwrap(), fields, "{path}");
        // Validity texts are Go RFC3339Nano; formatting the parsed time
        // gives back the same text.
        let validity = text(&data["Validity"]);
        assert_eq!(rfc3339::format(rfc3339::parse(validity).unwrap()).unwrap(), validity, "{path}");
        checked += 1;
    }
    assert_eq!(checked, 13, "all records but the V1-only one carry data");
}

fn keypair(byte: u8) -> Keypair {
    Keypair::from_seed(&[byte; 32])
}

const VALUE: &str = "/ipfs/bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am";

fn create(keypair: &Keypair, sequence: u64, valid_for: Duration) -> Vec<u8> {
    create_record(keypair, VALUE, sequence, now() + valid_for, Duration::from_secs(300)).unwrap()
}

/// A V2-only record over hand-made CBOR, signed correctly, to reach the
/// checks that come after the signature.
fn signed_v2_only(keypair: &Keypair, cbor: Vec<u8>) -> Vec<u8> {
    let signature = keypair.sign(&record::v2_signed_bytes(&cbor));
    Entry { signature_v2: Some(signature.to_vec()), data: Some(cbor), ..Entry::default() }.encode()
}

#[test]
fn created_records_verify_and_match_what_kubo_writes() {
    let keypair = keypair(1);
    let validity = UNIX_EPOCH + Duration::new(4_837_276_800, 500_000_000);
    let bytes = create_record(&keypair, VALUE, 7, validity, Duration::from_secs(1800)).unwrap();
    let record = verify_record(&keypair.ipns_name(), &bytes, now()).unwrap();
    assert_eq!(record.value(), VALUE);
    assert_eq!(record.sequence(), 7);
    assert_eq!(record.validity(), validity);
    assert_eq!(record.ttl(), Duration::from_secs(1800));
    // The same name given as a base58 peer id verifies the same record.
    let by_peer_id: IpnsName = keypair.peer_id_base58().parse().unwrap();
    assert_eq!(verify_record(&by_peer_id, &bytes, now()).unwrap(), record);
    // Every V1 field is there, the legacy signature covers
    // value || validity || "EOL", and the Ed25519 key is not embedded.
    let entry = Entry::decode(&bytes).unwrap();
    assert_eq!(entry.pub_key, None);
    assert_eq!(entry.value.as_deref(), Some(VALUE.as_bytes()));
    assert_eq!(entry.validity.as_deref(), Some(&b"2123-04-16T00:00:00.5Z"[..]));
    assert_eq!((entry.validity_type, entry.sequence, entry.ttl), (Some(0), Some(7), Some(1_800_000_000_000)));
    let v1 = record::v1_signed_bytes(VALUE.as_bytes(), b"2123-04-16T00:00:00.5Z");
    assert_eq!(keypair.public().verify(&v1, entry.signature_v1.as_deref().unwrap()), Ok(()));
}

#[test]
fn expired_records_are_refused() {
    let keypair = keypair(2);
    let validity = now() - Duration::from_secs(1);
    let bytes = create_record(&keypair, VALUE, 0, validity, Duration::from_secs(60)).unwrap();
    let err = verify_record(&keypair.ipns_name(), &bytes, now()).unwrap_err();
    let text = rfc3339::format(validity).unwrap();
    assert_eq!(err, IpnsError::Expired { name: keypair.ipns_name(), validity: text.clone() });
    assert!(err.to_string().contains(&format!("expired at {text}")), "{err}");
    // Valid strictly before its end, refused at the end itself.
    assert!(verify_record(&keypair.ipns_name(), &bytes, validity - Duration::from_nanos(1)).is_ok());
    assert!(verify_record(&keypair.ipns_name(), &bytes, validity).is_err());
}

#[test]
fn a_valid_record_under_another_name_is_refused() {
    let (a, b) = (keypair(3), keypair(4));
    let bytes = create(&a, 0, Duration::from_secs(3600));
    assert_eq!(verify_record(&b.ipns_name(), &bytes, now()), Err(IpnsError::BadSignature { name: b.ipns_name() }));
    // A fixture record presented under another fixture's name.
    let (_, v1_v2) = record_bytes("_v1-v2.ipns-record");
    let (other, _) = record_bytes("_v2.ipns-record");
    assert_eq!(verify_record(&other, v1_v2, now()), Err(IpnsError::BadSignature { name: other }));
    // With a's key embedded, the mismatch is caught before the signature.
    let mut entry = Entry::decode(&bytes).unwrap();
    entry.pub_key = Some(a.public_protobuf());
    let embedded = entry.encode();
    assert!(verify_record(&a.ipns_name(), &embedded, now()).is_ok());
    assert_eq!(
        verify_record(&b.ipns_name(), &embedded, now()),
        Err(IpnsError::PublicKeyMismatch { name: b.ipns_name() })
    );
    // A pubKey that is not a key protobuf at all.
    entry.pub_key = Some(vec![0x08, 0x01]);
    let err = verify_record(&a.ipns_name(), &entry.encode(), now()).unwrap_err();
    assert!(
        matches!(&err, IpnsError::InvalidPublicKey { source, .. } if **source == KeyError::MissingField("Data")),
        "{err}"
    );
    // A hashed (RSA-style) name cannot supply a key, and the record has none.
    let (rsa, _) = record_bytes("QmVujd5Vb7moysJj8itnGufN7MEtPRCNHkKpNuA4onsRa3");
    assert_eq!(verify_record(&rsa, &bytes, now()), Err(IpnsError::MissingPublicKey { name: rsa }));
}

#[test]
fn records_over_10_kib_are_refused() {
    let keypair = keypair(5);
    let name = keypair.ipns_name();
    let oversized = vec![0u8; MAX_RECORD_SIZE + 1];
    assert_eq!(verify_record(&name, &oversized, now()), Err(IpnsError::TooLarge { name, size: MAX_RECORD_SIZE + 1 }));
    // A valid record padded past the limit with an unknown field.
    let mut padded = create(&keypair, 0, Duration::from_secs(3600));
    let mut pad = crate::formats::pb::Writer::new();
    pad.bytes(99, &vec![0; MAX_RECORD_SIZE]);
    padded.extend_from_slice(&pad.finish());
    assert!(matches!(verify_record(&name, &padded, now()), Err(IpnsError::TooLarge { .. })));
    // Creation refuses to make one: the value appears twice (V1 and V2).
    let long_value = format!("/ipfs/{}", "a".repeat(MAX_RECORD_SIZE / 2));
    let err = create_record(&keypair, &long_value, 0, now(), Duration::ZERO).unwrap_err();
    assert!(matches!(err, IpnsError::TooLarge { size, .. } if size > MAX_RECORD_SIZE), "{err}");
}

#[test]
fn v1_fields_that_disagree_with_the_data_are_refused() {
    let keypair = keypair(6);
    let name = keypair.ipns_name();
    let bytes = create(&keypair, 3, Duration::from_secs(3600));
    let original = Entry::decode(&bytes).unwrap();
    type Tamper = fn(&mut Entry);
    let cases: [(&str, Tamper); 6] = [
        ("value", |e| e.value = Some(b"/ipfs/bafkqaaa".to_vec())),
        ("validity", |e| e.validity = Some(b"2999-01-01T00:00:00Z".to_vec())),
        ("validity", |e| e.validity = None),
        ("validityType", |e| e.validity_type = Some(1)),
        ("sequence", |e| e.sequence = Some(4)),
        ("ttl", |e| e.ttl = Some(1)),
    ];
    for (field, tamper) in cases {
        let mut entry = original.clone();
        tamper(&mut entry);
        assert_eq!(verify_record(&name, &entry.encode(), now()), Err(IpnsError::V1Mismatch { name, field }), "{field}");
    }
    // Without value and signatureV1, only the V1 fields present are compared.
    let v2_only =
        Entry { signature_v2: original.signature_v2.clone(), data: original.data.clone(), ..Entry::default() };
    assert!(verify_record(&name, &v2_only.encode(), now()).is_ok());
    let stray = Entry { sequence: Some(9), ..v2_only };
    assert_eq!(verify_record(&name, &stray.encode(), now()), Err(IpnsError::V1Mismatch { name, field: "sequence" }));
}

#[test]
fn signed_data_is_still_checked_for_shape_type_and_time() {
    let keypair = keypair(7);
    let name = keypair.ipns_name();
    let data = |validity_type, validity: &[u8]| Data {
        value: VALUE.as_bytes().to_vec(),
        validity: validity.to_vec(),
        validity_type,
        sequence: 0,
        ttl: 0,
    };
    let eol = data(1, b"2123-01-01T00:00:00Z").encode();
    assert_eq!(
        verify_record(&name, &signed_v2_only(&keypair, eol), now()),
        Err(IpnsError::UnsupportedValidityType { name, validity_type: 1 })
    );
    let garbled = data(0, b"next tuesday").encode();
    assert_eq!(
        verify_record(&name, &signed_v2_only(&keypair, garbled), now()),
        Err(IpnsError::BadValidity { name, validity: "next tuesday".into() })
    );
    let not_cbor = signed_v2_only(&keypair, b"not cbor".to_vec());
    assert!(matches!(verify_record(&name, &not_cbor, now()), Err(IpnsError::Malformed { .. })));
    assert!(matches!(verify_record(&name, &[0x0b], now()), Err(IpnsError::Malformed { .. })));
    // Extra keys in the data are the spec's extension point and are ignored.
    let mut extended = data(0, b"2123-01-01T00:00:00Z").encode();
    extended[0] = 0xa6;
    extended.extend_from_slice(&[0x62, b'_', b'x', 0xf5]);
    let record = verify_record(&name, &signed_v2_only(&keypair, extended), now()).unwrap();
    assert_eq!(record.value(), VALUE);
}

#[test]
fn selection_prefers_higher_sequence_then_later_validity() {
    let keypair = keypair(8);
    let name = keypair.ipns_name();
    let verified = |sequence, hours: u64| {
        verify_record(&name, &create(&keypair, sequence, Duration::from_secs(hours * 3600)), now()).unwrap()
    };
    let (old_long, new_short, new_long) = (verified(1, 48), verified(2, 1), verified(2, 24));
    assert_eq!(better(&new_short, &old_long), Ordering::Greater, "sequence beats validity");
    assert_eq!(better(&new_long, &new_short), Ordering::Greater, "later validity breaks ties");
    assert_eq!(better(&new_short, &new_long), Ordering::Less);
    assert_eq!(better(&new_long, &new_long.clone()), Ordering::Equal);
    assert_eq!(pick_best([&old_long, &new_long, &new_short]), Some(&new_long));
    assert_eq!(pick_best([]), None);
}

#[test]
fn creation_refuses_validity_and_ttl_it_cannot_write() {
    let keypair = keypair(9);
    let name = keypair.ipns_name();
    let year_10000 = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
    let err = create_record(&keypair, VALUE, 0, year_10000, Duration::ZERO).unwrap_err();
    assert_eq!(err, IpnsError::ValidityOutOfRange { name });
    let err = create_record(&keypair, VALUE, 0, now(), Duration::MAX).unwrap_err();
    assert_eq!(err, IpnsError::TtlTooLong { name, ttl: Duration::MAX });
    assert!(err.to_string().starts_with("cannot write an ipns record for k51"), "{err}");
}

#[test]
fn inspect_reads_every_fixture_without_verifying() {
    for (path, bytes, expected) in cases() {
        let fields = inspect_record(bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
        let present: Vec<&str> = expected["fields_present"].as_array().unwrap().iter().map(text).collect();
        assert_eq!(fields.public_key.is_some(), present.contains(&"pubKey"), "{path}");
        assert_eq!(fields.signature_v1.is_some(), present.contains(&"signatureV1"), "{path}");
        assert_eq!(fields.signature_v2.is_some(), present.contains(&"signatureV2"), "{path}");
        assert_eq!(fields.data.is_some(), present.contains(&"data"), "{path}");
        let data = &expected["data"];
        if data.is_null() {
            // The V1-only record: its fields come from the protobuf.
            assert!(!fields.from_data && fields.data_map.is_none(), "{path}");
            assert!(fields.value.is_some() && fields.validity.is_some(), "{path}");
        } else {
            assert!(fields.from_data, "{path}");
            assert_eq!(fields.value.as_deref(), Some(text(&data["Value"]).as_bytes()), "{path}");
            assert_eq!(fields.validity.as_deref(), Some(text(&data["Validity"]).as_bytes()), "{path}");
            assert_eq!(fields.sequence, data["Sequence"].as_u64(), "{path}");
            assert_eq!(fields.ttl, data["TTL"].as_u64(), "{path}");
            assert_eq!(fields.validity_type, Some(0), "{path}");
            let Some(Ok(ipld_core::ipld::Ipld::Map(map))) = &fields.data_map else { panic!("{path}: no data map") };
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            let mut expected_keys: Vec<&str> = data.as_object().unwrap().keys().map(String::as_str).collect();
            expected_keys.sort();
            assert_eq!(keys, expected_keys, "{path}");
        }
    }
}

#[test]
fn inspect_refuses_what_is_not_a_record() {
    for bytes in [&b""[..], &[0x0b], &[0x0a, 0x05, b'x']] {
        let err = inspect_record(bytes).unwrap_err().to_string();
        assert!(err.starts_with("not an IPNS record: "), "{err}");
    }
    let err = inspect_record(&vec![0; MAX_RECORD_SIZE + 1]).unwrap_err().to_string();
    assert!(err.contains("over the 10240-byte limit"), "{err}");
    // Data that is not DAG-CBOR is shown as such, with the V1 fields.
    let keypair = keypair(10);
    let fields = inspect_record(&signed_v2_only(&keypair, b"not cbor".to_vec())).unwrap();
    assert!(!fields.from_data);
    assert!(matches!(&fields.data_map, Some(Err(reason)) if reason.starts_with("data is not DAG-CBOR")));
}
