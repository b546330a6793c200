//! The gateway client against real HTTP servers on loopback (see
//! `test_server.rs`), correct and misbehaving. Every test is bounded in time:
//! the client's own timeouts are short, and each test body runs under
//! [`bounded`].

use super::car::{car_params, CarParams};
use super::completeness::Completeness;
use super::test_server::{fixture, fixture_blocks, Cut, Faults, TestGateway, HELLO, MULTIBLOCK, ROOT};
use super::*;
use crate::formats::block::{parse_cid, Block, RAW};
use crate::formats::car::CarError;
use crate::formats::ipns::{create_record, Keypair};
use std::collections::{HashSet, VecDeque};
use std::io::{Read, Write};
use std::time::SystemTime;

/// Short timeouts, quick retries, and a hedge long enough that gateways are
/// asked strictly in order unless a test shortens it.
fn options() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(5),
        first_byte: Duration::from_secs(5),
        retries: 2,
        backoff: Duration::from_millis(10),
        hedge: Duration::from_secs(10),
        car_hedge: Duration::from_secs(10),
        max_concurrency: 8,
        remember: None,
    }
}

pub(super) fn client(gateways: &[&TestGateway], options: ClientOptions) -> GatewayClient {
    GatewayClient::new(gateways.iter().map(|g| g.url()).collect(), options).unwrap()
}

/// Fails the test if `future` takes more than 30 seconds.
async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), future).await.expect("the test took over 30 s")
}

fn cid(text: &str) -> Cid {
    parse_cid(text).unwrap()
}

/// A block that no test gateway has.
fn absent() -> Cid {
    *Block::encode(RAW, false, b"on no gateway".to_vec()).cid()
}

#[tokio::test]
async fn fetches_and_verifies_a_block() {
    let gateway = TestGateway::start();
    let client = client(&[&gateway], options());
    let bytes = bounded(client.get_block(&cid(HELLO))).await.unwrap();
    assert_eq!(bytes, b"hello world\n");
    assert!(bounded(client.has_block(&cid(HELLO))).await.unwrap());
    assert!(!bounded(client.has_block(&absent())).await.unwrap());
}

#[tokio::test]
async fn identity_cids_need_no_request() {
    let gateway = TestGateway::start();
    let client = client(&[&gateway], options());
    assert_eq!(bounded(client.get_block(&cid("bafkqaaa"))).await.unwrap(), b"");
    assert_eq!(gateway.requests(), 0);
}

#[tokio::test]
async fn wrong_bytes_are_refused_and_the_next_gateway_answers() {
    let liar = TestGateway::with_faults(Faults { wrong_bytes: true, ..Faults::default() });
    let honest = TestGateway::start();
    let both = client(&[&liar, &honest], options());
    assert_eq!(bounded(both.get_block(&cid(HELLO))).await.unwrap(), b"hello world\n");
    assert_eq!(liar.requests(), 1, "a faulty answer is not retried");
    assert_eq!(honest.requests(), 1);

    let alone = client(&[&liar], options());
    let err = bounded(alone.get_block(&cid(HELLO))).await.unwrap_err();
    assert!(matches!(err, RemoteError::WrongBlock { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&liar.label()) && message.contains(HELLO), "{message}");
    assert!(message.contains("faulty or malicious"), "{message}");
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let flaky = TestGateway::with_faults(Faults { fail_first: 2, ..Faults::default() });
    let client = client(&[&flaky], options());
    assert_eq!(bounded(client.get_block(&cid(HELLO))).await.unwrap(), b"hello world\n");
    assert_eq!(flaky.requests(), 3, "two failures, then the answer");
}

#[tokio::test]
async fn retries_are_bounded() {
    let broken = TestGateway::with_faults(Faults { fail_first: usize::MAX, ..Faults::default() });
    let client = client(&[&broken], ClientOptions { retries: 1, ..options() });
    let err = bounded(client.get_block(&cid(HELLO))).await.unwrap_err();
    assert!(matches!(err, RemoteError::Status { status: 500, .. }), "{err:?}");
    assert_eq!(broken.requests(), 2);
}

#[tokio::test]
async fn a_hanging_gateway_times_out_and_the_next_answers() {
    let hanging = TestGateway::with_faults(Faults { hang: Some(Duration::from_secs(60)), ..Faults::default() });
    let honest = TestGateway::start();
    let options = ClientOptions { timeout: Duration::from_secs(1), retries: 0, ..options() };
    let client = client(&[&hanging, &honest], options);
    let started = Instant::now();
    assert_eq!(bounded(client.get_block(&cid(HELLO))).await.unwrap(), b"hello world\n");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(10), "{elapsed:?}");

    let alone = super::GatewayClient::new(vec![hanging.url()], client.options().clone()).unwrap();
    let err = bounded(alone.get_block(&cid(HELLO))).await.unwrap_err();
    assert!(matches!(err, RemoteError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains(&hanging.label()), "{err}");
}

#[tokio::test]
async fn a_slow_gateway_is_raced_after_the_hedge_delay() {
    let slow = TestGateway::with_faults(Faults { hang: Some(Duration::from_secs(60)), ..Faults::default() });
    let fast = TestGateway::start();
    let options = ClientOptions { timeout: Duration::from_secs(20), hedge: Duration::from_millis(100), ..options() };
    let client = client(&[&slow, &fast], options);
    let started = Instant::now();
    assert_eq!(bounded(client.get_block(&cid(HELLO))).await.unwrap(), b"hello world\n");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(100) && elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!((slow.requests(), fast.requests()), (1, 1));
}

#[tokio::test]
async fn not_found_everywhere_is_not_found_and_not_retried() {
    let a = TestGateway::start();
    let b = TestGateway::start();
    let client = client(&[&a, &b], options());
    let missing = absent();
    let err = bounded(client.get_block(&missing)).await.unwrap_err();
    let RemoteError::NotFound { gateways, .. } = &err else { panic!("{err:?}") };
    assert_eq!(gateways.len(), 2);
    let message = err.to_string();
    for text in [a.label(), b.label(), missing.to_string()] {
        assert!(message.contains(&text), "{message} lacks {text}");
    }
    assert_eq!((a.requests(), b.requests()), (1, 1), "a 404 is final");
}

#[tokio::test]
async fn a_block_over_the_size_limit_is_refused() {
    let big = TestGateway::with_faults(Faults { oversized: true, ..Faults::default() });
    let client = client(&[&big], options());
    let err = bounded(client.get_block(&cid(HELLO))).await.unwrap_err();
    assert!(matches!(err, RemoteError::TooLarge { limit: MAX_BLOCK_SIZE, .. }), "{err:?}");
    assert_eq!(big.requests(), 1);
}

/// A server that streams a chunked body with no declared length, up to
/// 16 MiB, so the client must stop reading on its own.
fn endless_body_server() -> Url {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        socket.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") && request.len() < 64 * 1024 {
            if socket.read(&mut byte).unwrap_or(0) == 0 {
                return;
            }
            request.push(byte[0]);
        }
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/vnd.ipld.raw\r\ntransfer-encoding: chunked\r\n\r\n";
        if socket.write_all(head.as_bytes()).is_err() {
            return;
        }
        let chunk = vec![b'x'; 256 * 1024];
        for _ in 0..64 {
            let sent = socket
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .and_then(|()| socket.write_all(&chunk))
                .and_then(|()| socket.write_all(b"\r\n"));
            if sent.is_err() {
                return;
            }
        }
    });
    url
}

#[tokio::test]
async fn an_endless_body_is_cut_off_at_the_size_limit() {
    let client = GatewayClient::new(vec![endless_body_server()], ClientOptions { retries: 0, ..options() }).unwrap();
    let err = bounded(client.get_block(&cid(HELLO))).await.unwrap_err();
    assert!(matches!(err, RemoteError::TooLarge { limit: MAX_BLOCK_SIZE, .. }), "{err:?}");
}

async fn collect(mut stream: CarStream) -> (Vec<Block>, Option<RemoteError>) {
    let mut blocks = Vec::new();
    for _ in 0..10_000 {
        match stream.next().await {
            Some(Ok(block)) => blocks.push(block),
            Some(Err(e)) => {
                assert!(stream.next().await.is_none(), "the stream ends after an error");
                return (blocks, Some(e));
            }
            None => return (blocks, None),
        }
    }
    panic!("the stream did not end");
}

fn cids(blocks: &[Block]) -> HashSet<Cid> {
    blocks.iter().map(|b| *b.cid()).collect()
}

#[tokio::test]
async fn a_car_yields_every_block_of_the_dag() {
    let gateway = TestGateway::start();
    let client = client(&[&gateway], options());
    let stream = bounded(client.get_car(&cid(ROOT), DagScope::All)).await.unwrap();
    assert_eq!(stream.gateway(), gateway.label());
    let (blocks, err) = bounded(collect(stream)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(cids(&blocks), cids(&fixture_blocks()));
    assert_eq!(blocks.len(), cids(&blocks).len(), "no duplicates");
}

#[tokio::test]
async fn a_car_cut_inside_a_section_fails_after_the_verified_blocks() {
    let cut = TestGateway::with_faults(Faults { cut_car: Some(Cut::Bytes(3)), ..Faults::default() });
    let client = client(&[&cut], options());
    let stream = bounded(client.get_car(&cid(ROOT), DagScope::All)).await.unwrap();
    let (blocks, err) = bounded(collect(stream)).await;
    let err = err.expect("a truncated CAR is an error");
    assert!(matches!(err, RemoteError::Car { source: CarError::Truncated { .. }, .. }), "{err:?}");
    assert!(err.to_string().contains(ROOT) && err.to_string().contains(&cut.label()), "{err}");
    assert_eq!(blocks.len(), cids(&fixture_blocks()).len() - 1, "every block before the cut is usable");
}

#[tokio::test]
async fn a_car_that_trickles_is_cut_off_at_the_minimum_rate() {
    // Each piece comes well inside the idle timeout, and the whole CAR would
    // arrive, complete, after several seconds.
    let every = Duration::from_millis(50);
    let slow = TestGateway::with_faults(Faults { trickle: Some(every), ..Faults::default() });
    let timeout = Duration::from_millis(500);
    let client = client(&[&slow], ClientOptions { timeout, retries: 0, ..options() });
    let stream = bounded(client.get_car(&cid(ROOT), DagScope::All)).await.unwrap();
    let (blocks, err) = bounded(collect(stream)).await;
    let err = err.expect("a stream slower than the minimum rate is an error");
    let RemoteError::Car { source: CarError::Io { source, .. }, .. } = &err else { panic!("{err:?}") };
    assert_eq!(source.kind(), std::io::ErrorKind::TimedOut, "{err}");
    assert!(err.to_string().contains("slower than the minimum"), "{err}");
    assert!(blocks.len() < cids(&fixture_blocks()).len(), "the stream did not run to its end");
    // It would: the CAR is many pieces, each sent well inside the idle
    // timeout.
    let pieces = fixture(super::test_server::FIXTURE_CAR).len() / super::test_server::TRICKLE_BYTES;
    assert!(every * pieces as u32 > timeout * 4, "{pieces} pieces");
}

#[tokio::test]
async fn a_car_cut_between_sections_is_incomplete() {
    let cut = TestGateway::with_faults(Faults { cut_car: Some(Cut::Blocks(2)), ..Faults::default() });
    let client = client(&[&cut], options());
    let stream = bounded(client.get_car(&cid(ROOT), DagScope::All)).await.unwrap();
    let (blocks, err) = bounded(collect(stream)).await;
    let err = err.expect("a CAR without all blocks is an error");
    let RemoteError::Incomplete { missing, .. } = &err else { panic!("{err:?}") };
    assert!(!cids(&blocks).contains(missing));
    assert!(cids(&fixture_blocks()).contains(missing));
    assert_eq!(blocks.len(), cids(&fixture_blocks()).len() - 2);
}

#[tokio::test]
async fn a_car_of_an_absent_root_is_not_found_and_server_errors_are_retried() {
    let flaky = TestGateway::with_faults(Faults { fail_first: 1, ..Faults::default() });
    let client = client(&[&flaky], options());
    let err = bounded(client.get_car(&absent(), DagScope::All)).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(flaky.requests(), 2);
}

#[tokio::test]
async fn a_car_from_a_gateway_that_hangs_comes_from_the_next() {
    let hanging = TestGateway::with_faults(Faults { hang: Some(Duration::from_secs(60)), ..Faults::default() });
    let honest = TestGateway::start();
    let options = ClientOptions { timeout: Duration::from_secs(1), retries: 0, ..options() };
    let client = client(&[&hanging, &honest], options);
    let stream = bounded(client.get_car(&cid(MULTIBLOCK), DagScope::All)).await.unwrap();
    assert_eq!(stream.gateway(), honest.label());
    let (blocks, err) = bounded(collect(stream)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(blocks.len(), 6, "the file node and its five leaves");
}

#[test]
fn car_content_types_are_read() {
    assert_eq!(car_params("application/vnd.ipld.car; version=1; order=dfs; dups=n"), Some(CarParams { dfs: true }));
    assert_eq!(car_params("application/vnd.ipld.car"), Some(CarParams { dfs: false }));
    assert_eq!(car_params("Application/Vnd.Ipld.Car;order=unk"), Some(CarParams { dfs: false }));
    assert_eq!(car_params("application/vnd.ipld.car; version=2"), None);
    assert_eq!(car_params("text/html"), None);
    assert_eq!(car_params(""), None);
}

/// What `check` hands on when offered `block`.
fn offer(check: &mut Completeness, block: &Block) -> Vec<Cid> {
    let mut out = VecDeque::new();
    check.offer(block.clone(), &mut out).unwrap_or_else(|e| panic!("{e:?}"));
    out.iter().map(|b| *b.cid()).collect()
}

#[test]
fn completeness_in_dfs_and_unknown_order() {
    let blocks = fixture_blocks();
    let root = cid(ROOT);
    let unrelated = Block::encode(RAW, false, b"not in the DAG".to_vec());

    // Depth-first: an unrelated block is ignored, duplicates are dropped.
    let mut dfs = Completeness::new(root, DagScope::All, true);
    assert!(offer(&mut dfs, &unrelated).is_empty());
    for block in &blocks {
        assert_eq!(offer(&mut dfs, block), [*block.cid()]);
        assert!(offer(&mut dfs, block).is_empty(), "a duplicate is dropped");
    }
    assert_eq!(dfs.missing(), None);
    // The unrelated block and every duplicate count against the budget that
    // ends a stream past `MAX_UNRELATED_BLOCKS`.
    assert_eq!(dfs.unrelated, 1 + blocks.len());

    // Unknown order: children before parents are held back until their
    // parent comes, then handed on after it; a gap is found.
    let mut unknown = Completeness::new(root, DagScope::All, false);
    for block in blocks.iter().rev().filter(|b| *b.cid() != root) {
        assert!(offer(&mut unknown, block).is_empty(), "nothing links to it yet");
    }
    assert!(offer(&mut unknown, &unrelated).is_empty());
    assert_eq!(unknown.missing(), Some(root));
    let root_block = blocks.iter().find(|b| *b.cid() == root).unwrap();
    let released = offer(&mut unknown, root_block);
    assert_eq!(released[0], root);
    assert_eq!(released.iter().copied().collect::<HashSet<_>>(), cids(&blocks));
    assert_eq!(released.len(), blocks.len());
    assert_eq!(unknown.missing(), None);
    // What nothing linked to by the end is unrelated.
    assert_eq!(unknown.unrelated, 0);
    unknown.finish().unwrap();
    assert_eq!(unknown.unrelated, 1);

    // Scope block: only the root matters, and only the root is kept.
    let mut one = Completeness::new(root, DagScope::Block, true);
    assert_eq!(one.missing(), Some(root));
    assert_eq!(offer(&mut one, root_block), [root]);
    assert_eq!(one.missing(), None);
    let hello = blocks.iter().find(|b| *b.cid() == cid(HELLO)).unwrap();
    assert!(offer(&mut one, hello).is_empty(), "beyond the scope");

    // A path's CAR (an entity): only blocks linked from the root through
    // blocks kept, whatever else the gateway sends; the root is required.
    let mut path = Completeness::new(root, DagScope::Entity, true);
    assert!(offer(&mut path, hello).is_empty(), "not linked yet: the root has not come");
    assert!(offer(&mut path, &unrelated).is_empty());
    assert_eq!(path.missing(), Some(root));
    assert_eq!(offer(&mut path, root_block), [root]);
    assert_eq!(offer(&mut path, hello), [cid(HELLO)], "linked from the root");
    assert!(offer(&mut path, &unrelated).is_empty());
    assert_eq!(path.missing(), None);
    assert_eq!(path.unrelated, 3);
}

fn record(key: &Keypair, sequence: u64) -> Vec<u8> {
    let until = SystemTime::now() + Duration::from_secs(3600);
    create_record(key, &format!("/ipfs/{ROOT}"), sequence, until, Duration::from_secs(60)).unwrap()
}

#[tokio::test]
async fn the_best_valid_record_of_all_gateways_wins() {
    let key = Keypair::from_seed(&[1; 32]);
    let name = key.ipns_name();
    let (old, new) = (record(&key, 1), record(&key, 2));
    let stale = TestGateway::start();
    stale.set_record(&name, old.clone());
    let fresh = TestGateway::start();
    fresh.set_record(&name, new.clone());
    let other = Keypair::from_seed(&[2; 32]);
    let liar = TestGateway::with_faults(Faults { record: Some(record(&other, 9)), ..Faults::default() });
    let empty = TestGateway::start();
    let client = client(&[&stale, &liar, &fresh, &empty], options());
    assert_eq!(bounded(client.get_record(&name)).await.unwrap(), new);
    let stale_only = super::GatewayClient::new(vec![stale.url(), empty.url()], options()).unwrap();
    assert_eq!(bounded(stale_only.get_record(&name)).await.unwrap(), old);
}

#[tokio::test]
async fn a_record_for_another_name_is_refused() {
    let name = Keypair::from_seed(&[1; 32]).ipns_name();
    let other = Keypair::from_seed(&[2; 32]);
    let liar = TestGateway::with_faults(Faults { record: Some(record(&other, 9)), ..Faults::default() });
    let client = client(&[&liar], options());
    let err = bounded(client.get_record(&name)).await.unwrap_err();
    assert!(matches!(err, RemoteError::InvalidRecord { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&liar.label()) && message.contains(&name.to_string()), "{message}");

    let empty = TestGateway::start();
    let client = super::GatewayClient::new(vec![empty.url()], options()).unwrap();
    assert!(bounded(client.get_record(&name)).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn records_are_published_to_every_endpoint_after_a_local_check() {
    let key = Keypair::from_seed(&[3; 32]);
    let name = key.ipns_name();
    let bytes = record(&key, 5);
    let a = TestGateway::start();
    let b = TestGateway::with_faults(Faults { fail_first: 1, ..Faults::default() });
    let client = client(&[&a, &b], options());
    assert_eq!(bounded(client.put_record(&name, &bytes)).await.unwrap(), 2);
    assert_eq!(a.record(&name), Some(bytes.clone()));
    assert_eq!(b.record(&name), Some(bytes.clone()));
    assert_eq!(bounded(client.get_record(&name)).await.unwrap(), bytes);

    let forged = record(&Keypair::from_seed(&[4; 32]), 6);
    let requests = a.requests();
    let err = bounded(client.put_record(&name, &forged)).await.unwrap_err();
    assert!(matches!(err, RemoteError::RecordRefused { .. }), "{err:?}");
    assert_eq!(a.requests(), requests, "nothing was sent");
}

#[test]
fn bad_gateway_lists_are_refused() {
    assert!(matches!(GatewayClient::new(Vec::new(), options()), Err(RemoteError::NoGateways)));
    let ftp = Url::parse("ftp://example.com/").unwrap();
    let err = GatewayClient::new(vec![ftp], options()).unwrap_err();
    assert!(err.to_string().contains("ftp://example.com"), "{err}");
}

#[test]
fn gateway_paths_are_kept() {
    let client =
        GatewayClient::new(vec![Url::parse("http://127.0.0.1:1/prefix").unwrap()], ClientOptions::default()).unwrap();
    assert_eq!(client.gateways(), ["http://127.0.0.1:1/prefix"]);
    let url = client.inner.gateways[0].url("ipfs/bafkqaaa", Some("format=raw"));
    assert_eq!(url.as_str(), "http://127.0.0.1:1/prefix/ipfs/bafkqaaa?format=raw");
}
