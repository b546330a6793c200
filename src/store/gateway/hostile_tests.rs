//! The gateway client against gateways that waste its time or space rather
//! than lie: junk blocks in a CAR of any order, a stream that trickles
//! (fast enough for the minimum rate, too slow for its size), a gateway
//! that hangs. What is asserted is what was handed on, which gateway
//! answered and how many requests each one saw, never how long it took.

use super::test_server::{fixture, fixture_blocks, junk_blocks, Faults, TestGateway, FIXTURE_CAR, HELLO, ROOT};
use super::*;
use crate::formats::block::{parse_cid, Block};
use std::collections::HashSet;

fn options() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(10),
        first_byte: Duration::from_secs(2),
        retries: 2,
        backoff: Duration::from_millis(10),
        hedge: Duration::from_secs(10),
        max_concurrency: 8,
        remember: None,
    }
}

fn client(gateways: &[&TestGateway], options: ClientOptions) -> GatewayClient {
    GatewayClient::new(gateways.iter().map(|g| g.url()).collect(), options).unwrap()
}

/// Fails the test if `future` takes more than 60 seconds.
async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), future).await.expect("the test took over 60 s")
}

async fn collect(mut stream: CarStream) -> (Vec<Block>, Option<RemoteError>) {
    let mut blocks = Vec::new();
    for _ in 0..10_000 {
        match stream.next().await {
            Some(Ok(block)) => blocks.push(block),
            Some(Err(e)) => return (blocks, Some(e)),
            None => return (blocks, None),
        }
    }
    panic!("the stream did not end");
}

fn cids(blocks: &[Block]) -> HashSet<Cid> {
    blocks.iter().map(|b| *b.cid()).collect()
}

#[tokio::test]
async fn junk_before_between_and_after_a_car_out_of_order_is_never_handed_on() {
    let junk = TestGateway::with_faults(Faults { junk: Some(3), ..Faults::default() });
    let client = client(&[&junk], options());
    let root = parse_cid(ROOT).unwrap();
    let stream = bounded(client.get_car(&root, DagScope::All)).await.unwrap();
    let (blocks, err) = bounded(collect(stream)).await;
    assert!(err.is_none(), "{err:?}");
    let junk_cids = cids(&junk_blocks(9));
    assert!(cids(&blocks).is_disjoint(&junk_cids), "no junk block is handed on");
    assert_eq!(cids(&blocks), cids(&fixture_blocks()), "the whole DAG, children after their parents");
    assert_eq!(blocks.len(), fixture_blocks().len());
    assert_eq!(*blocks[0].cid(), root, "held back until the root came");
}

#[tokio::test]
async fn a_car_with_more_junk_than_the_bound_is_refused_and_its_gateway_skipped() {
    let count = MAX_UNRELATED_BLOCKS / 3 + 1;
    let junk = TestGateway::with_faults(Faults { junk: Some(count), ..Faults::default() });
    let client = client(&[&junk], options());
    let stream = bounded(client.get_car(&parse_cid(ROOT).unwrap(), DagScope::All)).await.unwrap();
    let (blocks, err) = bounded(collect(stream)).await;
    let err = err.expect("too many unrelated blocks is an error");
    assert!(matches!(err, RemoteError::Unrelated { .. }), "{err:?}");
    assert!(err.to_string().contains(&junk.label()) && err.to_string().contains(ROOT), "{err}");
    assert!(cids(&blocks).is_disjoint(&cids(&junk_blocks(3 * count))));

    // The next request does not ask it.
    let requests = junk.requests();
    let err = bounded(client.get_block(&parse_cid(HELLO).unwrap())).await.unwrap_err();
    assert!(matches!(err, RemoteError::Avoided { .. }), "{err:?}");
    assert!(err.to_string().contains(&junk.label()), "{err}");
    assert_eq!(junk.requests(), requests);
}

#[tokio::test]
async fn a_car_behind_the_pace_of_its_size_gives_way_to_the_next_gateway() {
    // Each piece comes well inside the idle timeout, and the whole CAR
    // would arrive complete within the minimum rate's allowance (the idle
    // timeout plus its bytes at 64 KiB/s): only its size's pace refuses it.
    let every = Duration::from_millis(25);
    let size = fixture(FIXTURE_CAR).len() as u64;
    let pieces = size as u32 / super::test_server::TRICKLE_BYTES as u32 + 1;
    let options = ClientOptions { first_byte: Duration::from_millis(500), ..options() };
    assert!(every * pieces < options.timeout, "{pieces} pieces");
    let pace = options.first_byte + Duration::from_secs_f64((size + PACE_SLACK) as f64 / HEDGE_RATE as f64);
    assert!(every * pieces > pace * 2, "{pieces} pieces");

    let slow = TestGateway::with_faults(Faults { trickle: Some(every), ..Faults::default() });
    let good = TestGateway::start();
    let client = client(&[&slow, &good], options);
    let root = parse_cid(ROOT).unwrap();
    let stream = bounded(client.get_car_sized(&root, DagScope::All, size)).await.unwrap();
    assert_eq!(stream.gateway(), slow.label(), "asked first");
    let (blocks, err) = bounded(collect(stream)).await;
    let err = err.expect("a stream behind its pace is an error");
    assert!(matches!(err, RemoteError::Slow { .. }), "{err:?}");
    assert!(err.to_string().contains(&slow.label()), "{err}");
    assert!(blocks.len() < fixture_blocks().len());

    // Asked again, the next gateway answers, and the slow one sees nothing.
    let stream = bounded(client.get_car_sized(&root, DagScope::All, size)).await.unwrap();
    assert_eq!(stream.gateway(), good.label());
    let (blocks, err) = bounded(collect(stream)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(cids(&blocks), cids(&fixture_blocks()));
    assert_eq!((slow.requests(), good.requests()), (1, 1));
}

#[tokio::test]
async fn a_hanging_gateway_costs_one_wait_not_one_per_retry_nor_per_block() {
    let hanging = TestGateway::with_faults(Faults { hang: Some(Duration::from_secs(120)), ..Faults::default() });
    let options = ClientOptions { first_byte: Duration::from_millis(500), ..options() };
    let client = client(&[&hanging], options);
    let err = bounded(client.get_block(&parse_cid(HELLO).unwrap())).await.unwrap_err();
    assert!(matches!(err, RemoteError::Timeout { .. }), "{err:?}");
    assert_eq!(hanging.requests(), 1, "a timeout is not retried");
    for block in fixture_blocks() {
        let err = bounded(client.get_block(block.cid())).await.unwrap_err();
        assert!(matches!(err, RemoteError::Avoided { .. }), "{err:?}");
    }
    let err = bounded(client.get_car(&parse_cid(ROOT).unwrap(), DagScope::All)).await.unwrap_err();
    assert!(matches!(err, RemoteError::Avoided { .. }), "{err:?}");
    assert!(err.to_string().contains(&hanging.label()), "{err}");
    assert_eq!(hanging.requests(), 1, "not asked again");
    assert!(client.all_avoided());
}

#[tokio::test]
async fn a_gateway_remembered_by_one_client_is_skipped_by_another_sharing_the_folder() {
    let store = tempfile::tempdir().unwrap();
    let remember = Some(store.path().join(HEALTH_DIR));
    let hanging = TestGateway::with_faults(Faults { hang: Some(Duration::from_secs(120)), ..Faults::default() });
    let good = TestGateway::start();
    let options = ClientOptions { first_byte: Duration::from_millis(500), remember, ..options() };
    let root = parse_cid(ROOT).unwrap();

    let first = client(&[&hanging, &good], options.clone());
    let stream = bounded(first.get_car(&root, DagScope::All)).await.unwrap();
    assert_eq!(stream.gateway(), good.label());
    assert_eq!(hanging.requests(), 1);

    let second = client(&[&hanging, &good], options.clone());
    let stream = bounded(second.get_car(&root, DagScope::All)).await.unwrap();
    assert_eq!(stream.gateway(), good.label());
    assert_eq!(hanging.requests(), 1, "the second client did not ask it");

    // Without the shared folder, a client knows only its own failures.
    let alone = client(&[&hanging, &good], ClientOptions { remember: None, ..options });
    let stream = bounded(alone.get_car(&root, DagScope::All)).await.unwrap();
    assert_eq!(stream.gateway(), good.label());
    assert_eq!(hanging.requests(), 2);
}
