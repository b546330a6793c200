use super::*;
use crate::index::entry::tests::sample;
use crate::index::shard::{decode_shard, encode_shard};

const IPNS: &str = "k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8";

fn key() -> Keypair {
    Keypair::generate()
}

fn names(keys: &[&Keypair]) -> Vec<String> {
    keys.iter().map(|k| k.ipns_name().to_string()).collect()
}

#[test]
fn a_statement_signed_by_its_rebuilder_counts_once_per_rebuilder() {
    let entry = sample("serde", "1.0.0", "01");
    let (a, b, publisher) = (key(), key(), key());
    let sa = Statement::sign_for(&entry, "main", IPNS, 1_800_000_000, &a);
    let sb = Statement::sign_for(&entry, "main", IPNS, 1_800_000_000, &b);
    assert!(sa.signature_valid());
    let (ka, kb) = (names(&[&a]), names(&[&b]));
    let (la, lb) = ([sa.clone()], [sb]);
    let rebuilders =
        [Rebuilder { name: "a", keys: &ka, statements: &la }, Rebuilder { name: "b", keys: &kb, statements: &lb }];
    let t = tally(&entry, "main", IPNS, &names(&[&publisher]), &rebuilders);
    assert_eq!(t.by, ["a", "b"]);
    assert_eq!(t.describe(2), "2 of 2 required attestations (by a, b)");
    // One rebuilder trusted under two names is one rebuilder.
    let twice =
        [Rebuilder { name: "a", keys: &ka, statements: &la }, Rebuilder { name: "a2", keys: &ka, statements: &la }];
    let t = tally(&entry, "main", IPNS, &names(&[&publisher]), &twice);
    assert_eq!(t.by, ["a"]);
    assert_eq!(
        t.describe(2),
        "1 of 2 required attestations (by a; a2: signed by a key that already counted for another rebuilder)"
    );
}

#[test]
fn a_forged_statement_does_not_count() {
    let entry = sample("serde", "1.0.0", "01");
    let (a, thief) = (key(), key());
    // Signed by another key, in the rebuilder's name.
    let mut forged = Statement::sign_for(&entry, "main", IPNS, 1, &thief);
    forged.attester = a.ipns_name().to_string();
    // Signed by the rebuilder, then altered: another build time.
    let mut altered = Statement::sign_for(&entry, "main", IPNS, 1, &a);
    altered.rebuilt_at += 1;
    let ka = names(&[&a]);
    for bad in [forged, altered] {
        let list = [bad];
        let t = tally(&entry, "main", IPNS, &[], &[Rebuilder { name: "a", keys: &ka, statements: &list }]);
        assert!(t.by.is_empty(), "{t:?}");
        assert_eq!(t.not, [("a".to_string(), "its signature does not verify (forged or altered)".to_string())]);
    }
    // A statement by a key the rebuilder does not hold.
    let stranger = [Statement::sign_for(&entry, "main", IPNS, 1, &thief)];
    let t = tally(&entry, "main", IPNS, &[], &[Rebuilder { name: "a", keys: &ka, statements: &stranger }]);
    assert_eq!(t.not[0].1, "signed by a key that is not the rebuilder's");
}

#[test]
fn a_statement_replayed_from_another_index_or_for_another_artifact_does_not_count() {
    let entry = sample("serde", "1.0.0", "01");
    let a = key();
    let ka = names(&[&a]);
    let other_ipns = key().ipns_name().to_string();
    let cases = [
        (Statement::sign_for(&entry, "main", &other_ipns, 1, &a), "it attests an entry of another index"),
        (Statement::sign_for(&entry, "other", IPNS, 1, &a), "it attests an entry of another index"),
        (
            Statement::sign_for(&Entry { sha256: "e".repeat(64), ..entry.clone() }, "main", IPNS, 1, &a),
            "its rebuild gave another artifact (CID or sha256)",
        ),
    ];
    for (statement, why) in cases {
        assert!(statement.signature_valid());
        let list = [statement];
        let t = tally(&entry, "main", IPNS, &[], &[Rebuilder { name: "a", keys: &ka, statements: &list }]);
        assert!(t.by.is_empty());
        assert_eq!(t.not[0].1, why);
    }
    let none = tally(&entry, "main", IPNS, &[], &[Rebuilder { name: "a", keys: &ka, statements: &[] }]);
    assert_eq!(none.describe(1), "0 of 1 required attestations (a: no statement)");
}

#[test]
fn a_rebuilder_sharing_a_key_with_the_publisher_does_not_count() {
    let entry = sample("serde", "1.0.0", "01");
    let publisher = key();
    let kp = names(&[&publisher]);
    let own = [Statement::sign_for(&entry, "main", IPNS, 1, &publisher)];
    let t = tally(&entry, "main", IPNS, &kp, &[Rebuilder { name: "self", keys: &kp, statements: &own }]);
    assert!(t.by.is_empty());
    assert!(t.not[0].1.contains("shares a key with the publisher"));
}

#[test]
fn statements_round_trip_through_a_shard_and_unknown_fields_are_refused() {
    let (a, b) = (key(), key());
    let one = Statement::sign_for(&sample("serde", "1.0.0", "01"), "main", IPNS, 5, &a);
    let two = Statement::sign_for(&sample("serde", "1.0.0", "01"), "main", &b.ipns_name().to_string(), 5, &a);
    let bytes = encode_shard(&[two.clone(), one.clone(), one.clone()]);
    let back: Vec<Statement> = decode_shard("serde", &bytes).unwrap();
    assert_eq!(back.len(), 2, "one line per attested index and key");
    assert_eq!(encode_shard(&back), bytes, "the same statements give the same bytes");
    assert!(back.iter().all(Statement::signature_valid));
    let mut text = String::from_utf8(bytes).unwrap();
    text.insert_str(1, "\"extra\":1,");
    assert!(decode_shard::<Statement>("serde", text.as_bytes()).is_err());
    // An entry line is no statement, and a statement no entry.
    let entries = encode_shard(&[sample("serde", "1.0.0", "01")]);
    assert!(decode_shard::<Statement>("serde", &entries).is_err());
    assert!(decode_shard::<Entry>("serde", &encode_shard(&[one])).is_err());
}
