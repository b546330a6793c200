//! Contract tests: the kubo store against [`KuboReplay`], which answers as
//! the kubo RPC reference documents. Each test also checks what was sent.

use super::replay::{Faults, KuboReplay};
use super::*;
use crate::formats::block::{parse_cid, Block, DAG_PB, RAW};
use crate::formats::ipns::{create_record, Keypair};
use crate::store::gateway::test_server::{fixture_blocks, HELLO, MULTIBLOCK, ROOT};
use std::collections::HashSet;
use std::time::Duration;

fn store(node: &KuboReplay) -> KuboStore {
    KuboStore::connect(node.url(), KuboOptions { timeout: Duration::from_secs(2), offline: false }).unwrap()
}

fn offline_store(node: &KuboReplay) -> KuboStore {
    KuboStore::connect(node.url(), KuboOptions { timeout: Duration::from_secs(2), offline: true }).unwrap()
}

#[test]
fn contract_addresses_are_urls_or_multiaddrs() {
    assert!(KuboStore::connect("http://127.0.0.1:5001", KuboOptions::default()).is_ok());
    assert!(KuboStore::connect("/ip4/127.0.0.1/tcp/5001", KuboOptions::default()).is_ok());
    for bad in ["https://127.0.0.1:5001", "127.0.0.1:5001", "http://", "/ip4/127.0.0.1"] {
        let err = KuboStore::connect(bad, KuboOptions::default()).unwrap_err().to_string();
        assert!(err.contains(bad) && err.contains("/ip4/127.0.0.1/tcp/5001"), "{bad}: {err}");
    }
}

#[test]
fn contract_version_is_a_post_to_api_v0() {
    let node = KuboReplay::start();
    assert_eq!(store(&node).version().unwrap(), "0.41.0");
    let seen = node.seen();
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("POST", "/api/v0/version"));
}

#[test]
fn contract_block_get_verifies_and_absent_is_none() {
    let node = KuboReplay::start();
    node.hold(&fixture_blocks());
    let offline =
        KuboStore::connect(node.url(), KuboOptions { timeout: Duration::from_secs(5), offline: true }).unwrap();
    let hello = parse_cid(HELLO).unwrap();
    assert_eq!(offline.get(&hello).unwrap().unwrap(), b"hello world\n");
    let absent = Block::encode(RAW, false, b"absent".to_vec());
    assert_eq!(offline.get(absent.cid()).unwrap(), None);
    let seen = node.seen();
    assert_eq!(seen[0].path, "/api/v0/block/get");
    assert_eq!(seen[0].param("arg"), Some(HELLO));
    assert_eq!(seen[0].param("offline"), Some("true"));
    assert_eq!(seen[0].param("timeout"), Some("5000ms"));

    // Online, kubo searches the network until its timeout: an error that says so.
    let err = store(&node).get(absent.cid()).unwrap_err().to_string();
    assert!(err.contains("did not finish block/get") && err.contains(node.url()), "{err}");
    assert_eq!(node.seen().last().unwrap().param("offline"), None);
}

#[test]
fn contract_block_get_refuses_bytes_that_do_not_match() {
    let node = KuboReplay::start();
    node.hold(&fixture_blocks());
    node.set_faults(Faults { wrong_bytes: true, ..Faults::default() });
    let err = store(&node).get(&parse_cid(HELLO).unwrap()).unwrap_err();
    assert!(matches!(&err, StoreError::Kubo(e) if matches!(**e, KuboError::Faulty { .. })), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(HELLO) && text.contains("faulty answer to block/get"), "{text}");
}

#[test]
fn contract_block_put_names_codec_and_hash_and_checks_the_key() {
    let node = KuboReplay::start();
    let kubo = store(&node);
    let blocks = fixture_blocks();
    let dag_pb = blocks.iter().find(|b| b.cid().codec() == DAG_PB).unwrap();
    let raw = blocks.iter().find(|b| b.cid().codec() == RAW).unwrap();
    for block in [dag_pb, raw] {
        kubo.put(block).unwrap();
        assert!(node.holds(block.cid()));
        assert!(kubo.has(block.cid()).unwrap());
    }
    let puts: Vec<_> = node.seen().into_iter().filter(|s| s.path == "/api/v0/block/put").collect();
    assert_eq!(puts[0].param("cid-codec"), Some("dag-pb"));
    assert_eq!(puts[1].param("cid-codec"), Some("raw"));
    assert!(puts.iter().all(|p| p.param("mhtype") == Some("sha2-256") && p.param("pin") == Some("false")));
    assert!(puts.iter().all(|p| p.files == ["file"]), "{puts:?}");
    let stat = node.seen().into_iter().find(|s| s.path == "/api/v0/block/stat").unwrap();
    assert_eq!(stat.param("offline"), Some("true"));

    let absent = Block::encode(RAW, false, b"absent".to_vec());
    assert!(!kubo.has(absent.cid()).unwrap());
    node.set_faults(Faults { wrong_key: true, ..Faults::default() });
    let err = kubo.put(&absent).unwrap_err().to_string();
    assert!(err.contains("faulty answer to block/put") && err.contains(&absent.cid().to_string()), "{err}");
}

#[test]
fn contract_records_go_through_routing_and_are_verified() {
    let node = KuboReplay::start();
    let kubo = store(&node);
    let key = Keypair::generate();
    let name = key.ipns_name();
    let until = SystemTime::now() + Duration::from_secs(3600);
    let record = create_record(&key, &format!("/ipfs/{ROOT}"), 3, until, Duration::from_secs(60)).unwrap();

    let err = kubo.get_record(&name).unwrap_err();
    assert!(matches!(err, KuboError::NoRecord { .. }), "{err:?}");
    kubo.put_record(&name, &record).unwrap();
    assert_eq!(node.record(&name).unwrap(), record);
    let put = node.seen().into_iter().find(|s| s.path == "/api/v0/routing/put").unwrap();
    assert_eq!(put.param("arg"), Some(format!("/ipns/{name}").as_str()));
    assert_eq!(put.param("allow-offline"), Some("true"));
    assert_eq!(put.files, ["file"]);
    assert_eq!(kubo.get_record(&name).unwrap(), record);

    // A record for another name, served under this one, is refused.
    let other = Keypair::generate();
    let forged = create_record(&other, &format!("/ipfs/{HELLO}"), 9, until, Duration::from_secs(60)).unwrap();
    node.set_record(&name, forged.clone());
    let err = kubo.get_record(&name).unwrap_err();
    assert!(matches!(err, KuboError::BadRecord { .. }), "{err:?}");
    // And is not sent either.
    let before = node.seen().len();
    assert!(matches!(kubo.put_record(&name, &forged), Err(KuboError::BadRecord { .. })));
    assert_eq!(node.seen().len(), before);
}

#[test]
fn contract_dag_export_streams_the_dag_verified_and_checked_complete() {
    let node = KuboReplay::start();
    let kubo = store(&node);
    let blocks = fixture_blocks();
    node.hold(&blocks);
    let root = parse_cid(ROOT).unwrap();
    let got: Vec<Block> = kubo.export(&root, Some(1 << 20)).unwrap().take(100).collect::<Result<_, _>>().unwrap();
    let cids = |b: &[Block]| b.iter().map(|b| *b.cid()).collect::<HashSet<_>>();
    assert_eq!(cids(&got), cids(&blocks));
    let export = node.seen().into_iter().find(|s| s.path == "/api/v0/dag/export").unwrap();
    assert_eq!(
        (export.method.as_str(), export.param("arg"), export.param("progress")),
        ("POST", Some(ROOT), Some("false"))
    );
    assert_eq!(export.param("offline"), None, "online: the node may look on the network");
    // kubo is told how long it may work: the timeout plus 1 MiB at 256 KiB/s.
    assert_eq!(export.param("timeout"), Some("6000ms"));

    // A root the node lacks: offline, kubo's error before any block; online,
    // a search of the network that ends at the timeout sent.
    let absent = Block::encode(RAW, false, b"absent".to_vec());
    let err = offline_store(&node).export(absent.cid(), None).unwrap().next().unwrap().unwrap_err().to_string();
    assert!(err.contains("could not find") && err.contains(node.url()), "{err}");
    let started = std::time::Instant::now();
    let err = kubo.export(absent.cid(), None).unwrap().next().unwrap().unwrap_err().to_string();
    assert!(err.contains("dag/export") && err.contains(node.url()), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20), "the wait ends at the timeouts");

    // A block missing further down: the stream ends early, and kubo's reason
    // comes in the X-Stream-Error trailer after the 200.
    let node = KuboReplay::start();
    let multiblock = parse_cid(MULTIBLOCK).unwrap();
    node.hold(&blocks.iter().filter(|b| b.cid() != &multiblock).cloned().collect::<Vec<_>>());
    let results: Vec<_> = offline_store(&node).export(&root, None).unwrap().take(100).collect();
    let err = results.last().unwrap().as_ref().unwrap_err().to_string();
    assert!(err.contains("block was not found locally") && err.contains(MULTIBLOCK), "the trailer's reason: {err}");
    let results: Vec<_> = store(&node).export(&root, None).unwrap().take(100).collect();
    let err = results.last().unwrap().as_ref().unwrap_err().to_string();
    // Online, kubo searches for it; the stream's own idle limit ends the
    // wait first, and dropping the request stops the node's search.
    assert!(err.contains("dag/export") && err.contains("sent nothing for 2s"), "{err}");

    // Bytes that do not match their CID stop the stream.
    let kubo = store(&node);
    node.hold(&blocks);
    node.set_faults(Faults { wrong_bytes: true, ..Faults::default() });
    let results: Vec<_> = kubo.export(&root, None).unwrap().take(100).collect();
    assert!(results.iter().all(Result::is_err) && results.len() == 1, "{results:?}");
}

/// The CAR of `blocks` with `roots` in its header, as one chunk on a channel.
fn car_of(roots: &[Cid], blocks: &[Block]) -> (u64, tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>) {
    let mut car = crate::formats::car::CarWriter::new(Vec::new(), roots).unwrap();
    for block in blocks {
        car.write_block(block).unwrap();
    }
    let bytes = car.finish().unwrap();
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    sender.try_send(Ok(Bytes::from(bytes))).unwrap();
    (blocks.iter().map(|b| b.len() as u64).sum(), receiver)
}

#[test]
fn contract_dag_import_pins_the_roots_and_answers_for_each() {
    let node = KuboReplay::start();
    let kubo = store(&node);
    let blocks = fixture_blocks();
    let [root, multiblock] = [ROOT, MULTIBLOCK].map(|c| parse_cid(c).unwrap());
    let (bytes, car) = car_of(&[root], &blocks);
    let answer = kubo.dag_import(&[root], bytes, car).unwrap();
    assert_eq!(answer, [ImportedRoot { cid: root, pin_error: None }]);
    assert_eq!(node.pins(), [root].into());
    let import = node.seen().into_iter().find(|s| s.path == "/api/v0/dag/import").unwrap();
    assert_eq!((import.method.as_str(), import.param("pin-roots")), ("POST", Some("true")));
    assert_eq!(import.files, ["file"]);

    // A root whose DAG the node does not hold whole: offline, it comes back
    // with kubo's reason; online, kubo searches the network for the rest
    // until the timeout it was sent, and the import fails (kubo#10159).
    let node = KuboReplay::start();
    let kubo = offline_store(&node);
    let some: Vec<Block> = blocks.iter().filter(|b| b.cid() == &multiblock).cloned().collect();
    let (bytes, car) = car_of(&[multiblock], &some);
    let answer = kubo.dag_import(&[multiblock], bytes, car).unwrap();
    assert!(answer[0].pin_error.as_deref().is_some_and(|m| m.contains("could not find")), "{answer:?}");
    assert!(node.pins().is_empty());
    let (bytes, car) = car_of(&[multiblock], &some);
    let err = store(&node).dag_import(&[multiblock], bytes, car).unwrap_err();
    assert!(matches!(err, KuboError::Timeout { .. }), "{err:?}");
    let import = node.seen().into_iter().rfind(|s| s.path == "/api/v0/dag/import").unwrap();
    assert!(import.param("timeout").is_some(), "kubo is told when to stop searching");

    // A root the answer leaves out is a faulty answer.
    let kubo = offline_store(&node);
    let (bytes, car) = car_of(&[multiblock], &some);
    let err = kubo.dag_import(&[multiblock, root], bytes, car).unwrap_err();
    assert!(matches!(err, KuboError::Faulty { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("root {ROOT} is missing from the answer")), "{err}");
}

#[test]
fn contract_errors_name_the_node_and_what_to_do() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let kubo = KuboStore::connect(&format!("http://127.0.0.1:{port}"), KuboOptions::default()).unwrap();
    let err = kubo.version().unwrap_err().to_string();
    assert!(err.contains(&format!("127.0.0.1:{port}")) && err.contains("ipfs daemon"), "{err}");

    let node = KuboReplay::start();
    node.set_faults(Faults { hang: Some(Duration::from_secs(5)), ..Faults::default() });
    let kubo =
        KuboStore::connect(node.url(), KuboOptions { timeout: Duration::from_millis(100), offline: true }).unwrap();
    let err = kubo.has(&parse_cid(HELLO).unwrap()).unwrap_err().to_string();
    assert!(err.contains("did not finish block/stat") && err.contains("--timeout"), "{err}");
}

#[tokio::test]
async fn contract_refuses_to_block_inside_async_code() {
    let node = KuboReplay::start();
    let kubo = store(&node);
    let err = kubo.has(&parse_cid(HELLO).unwrap()).unwrap_err();
    assert!(matches!(&err, StoreError::Kubo(e) if matches!(**e, KuboError::InAsyncContext)), "{err:?}");
    drop(kubo);
}

#[test]
fn contract_routing_behaves_as_an_online_peerless_or_offline_node() {
    use super::replay::Network;
    let key = Keypair::from_seed(&[3; 32]);
    let name = key.ipns_name();
    let until = std::time::SystemTime::now() + Duration::from_secs(3600);
    let record = create_record(&key, "/ipfs/bafkqaaa", 1, until, Duration::from_secs(60)).unwrap();

    // Online without peers: kubo keeps the record, fails the put, and will
    // not publish it later; the error says so and what to do.
    let node = KuboReplay::start();
    node.set_faults(Faults { network: Network::Peerless, ..Faults::default() });
    let err = store(&node).put_record(&name, &record).unwrap_err().to_string();
    assert!(err.contains("failed to find any peer") && err.contains("republish --to"), "{err}");
    assert_eq!(node.record(&name).unwrap(), record, "kept in the node");

    // A daemon started offline: puts with allow-offline, refuses to look up.
    let node = KuboReplay::start();
    node.set_faults(Faults { network: Network::Offline, ..Faults::default() });
    store(&node).put_record(&name, &record).unwrap();
    let err = store(&node).get_record(&name).unwrap_err().to_string();
    assert!(err.contains("online mode") && err.contains("gateway"), "{err}");
}

#[test]
fn contract_answers_carry_the_trailer_and_argument_errors_are_plain_text() {
    let node = KuboReplay::start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (ok, bad) = runtime.block_on(async {
        let client = reqwest::Client::new();
        let ok = client.post(format!("{}/api/v0/version", node.url())).send().await.unwrap();
        let bad = client.post(format!("{}/api/v0/block/get", node.url())).send().await.unwrap();
        let bad_type = bad.headers().get("content-type").unwrap().to_str().unwrap().to_string();
        (
            ok.headers().get("trailer").map(|v| v.to_str().unwrap().to_string()),
            (bad.status(), bad_type, bad.text().await.unwrap()),
        )
    });
    assert_eq!(ok.as_deref(), Some("X-Stream-Error"));
    assert_eq!(bad.0, reqwest::StatusCode::BAD_REQUEST);
    assert!(bad.1.starts_with("text/plain") && bad.2 == "argument \"cid\" is required\n", "{bad:?}");
}

#[test]
fn contract_a_node_older_than_the_minimum_is_refused_with_what_to_do() {
    let node = KuboReplay::start();
    assert_eq!(store(&node).checked_version().unwrap(), "0.41.0");
    node.set_faults(Faults { version: Some("0.26.0".into()), ..Faults::default() });
    let err = store(&node).checked_version().unwrap_err().to_string();
    assert!(err.contains("kubo 0.26.0 is older than 0.27.0") && err.contains("upgrade"), "{err}");
}
