//! The gateway client against gateways that waste its time or space rather
//! than lie: junk blocks in a CAR of any order, a stream that trickles
//! (fast enough for the minimum rate, too slow for its size), a gateway
//! that hangs. What is asserted is what was handed on, which gateway
//! answered and how many requests each one saw, never how long it took.

use super::test_server::{fixture, fixture_blocks, junk_blocks, Faults, TestGateway, FIXTURE_CAR, HELLO, ROOT};
use super::tests::client;
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
        car_hedge: Duration::from_secs(10),
        max_concurrency: 8,
        remember: None,
    }
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
    // Its pace passed, the slow one fails (it is not raced: the hedge delay
    // is longer) and the same stream goes on from the next gateway.
    let (blocks, err) = bounded(collect(stream)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(cids(&blocks), cids(&fixture_blocks()));
    let why = client.inner.health.avoided(&slow.label()).expect("remembered as failing");
    assert!(why.contains("too slow for its size"), "{why}");
    assert!(slow.trickled() < size as usize, "given up before its end");

    // Asked again, the next gateway answers, and the slow one sees nothing.
    let stream = bounded(client.get_car_sized(&root, DagScope::All, size)).await.unwrap();
    assert_eq!(stream.gateway(), good.label());
    let (blocks, err) = bounded(collect(stream)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(cids(&blocks), cids(&fixture_blocks()));
    assert_eq!((slow.requests(), good.requests()), (1, 2));
}

#[tokio::test]
async fn a_trickling_gateway_is_raced_by_the_next_long_before_its_deadline_and_abandoned() {
    // The trickle would end, complete, after 120 pieces: far beyond its
    // pace's deadline (the first-byte time, 5 s, plus a fraction of a
    // second), so that without a race the stream fails as slow there.
    // Raced once it falls behind (after 200 ms), the good gateway wins.
    let every = Duration::from_millis(200);
    let size = fixture(FIXTURE_CAR).len() as u64;
    let options =
        ClientOptions { first_byte: Duration::from_secs(5), car_hedge: Duration::from_millis(200), ..options() };
    let slow = TestGateway::with_faults(Faults { trickle: Some(every), ..Faults::default() });
    let good = TestGateway::start();
    let client = client(&[&slow, &good], options);
    let root = parse_cid(ROOT).unwrap();
    let stream = bounded(client.get_car_sized(&root, DagScope::All, size)).await.unwrap();
    let (blocks, err) = bounded(collect(stream)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(cids(&blocks), cids(&fixture_blocks()), "the whole DAG");
    assert_eq!((slow.requests(), good.requests()), (1, 1));
    assert!(slow.trickled() < size as usize, "the slow answer was abandoned part way");

    // Beaten while behind, it is not remembered as failing: only asked
    // after the others, so the next request goes to the good one first
    // and, that one keeping its pace, never reaches the slow one.
    assert_eq!(client.inner.health.avoided(&slow.label()), None);
    assert!(client.inner.health.behind(&slow.label()));
    assert!(!client.inner.health.behind(&good.label()));
    let stream = bounded(client.get_car_sized(&root, DagScope::All, size)).await.unwrap();
    assert_eq!(stream.gateway(), good.label());
    let (blocks, err) = bounded(collect(stream)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(cids(&blocks), cids(&fixture_blocks()));
    assert_eq!((slow.requests(), good.requests()), (1, 2));
}

#[tokio::test]
async fn a_gateway_that_keeps_its_pace_is_not_raced() {
    // The honest gateway first: it ends long before the hedge delay, and
    // the second gateway (which would trickle) is never asked.
    let options = ClientOptions { car_hedge: Duration::from_secs(3), ..options() };
    let good = TestGateway::start();
    let slow = TestGateway::with_faults(Faults { trickle: Some(Duration::from_millis(200)), ..Faults::default() });
    let client = client(&[&good, &slow], options);
    let size = fixture(FIXTURE_CAR).len() as u64;
    for _ in 0..3 {
        let stream = bounded(client.get_car_sized(&parse_cid(ROOT).unwrap(), DagScope::All, size)).await.unwrap();
        let (blocks, err) = bounded(collect(stream)).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(cids(&blocks), cids(&fixture_blocks()));
    }
    assert_eq!((good.requests(), slow.requests()), (3, 0));
    assert!(!client.inner.health.behind(&good.label()));
}

fn record_of(key: &crate::formats::ipns::Keypair, sequence: u64) -> Vec<u8> {
    let until = std::time::SystemTime::now() + Duration::from_secs(3600);
    crate::formats::ipns::create_record(key, &format!("/ipfs/{ROOT}"), sequence, until, Duration::from_secs(60))
        .unwrap()
}

#[tokio::test]
async fn a_record_is_resolved_while_a_trickling_endpoint_listed_first_is_abandoned() {
    let key = crate::formats::ipns::Keypair::from_seed(&[5; 32]);
    let name = key.ipns_name();
    let bytes = record_of(&key, 3);
    // The trickle takes many times `RECORD_GRACE` and stays inside every
    // limit of the request (its whole timeout and its first-byte time):
    // waited for, it would be read to its end.
    let every = Duration::from_millis(300);
    let pieces = bytes.len() / super::test_server::TRICKLE_BYTES + 1;
    assert!(every * pieces as u32 > RECORD_GRACE * 3, "{pieces} pieces");
    let options = ClientOptions { timeout: Duration::from_secs(50), first_byte: Duration::from_secs(50), ..options() };
    assert!(every * pieces as u32 * 2 < options.first_byte, "{pieces} pieces");
    let slow = TestGateway::with_faults(Faults { trickle: Some(every), ..Faults::default() });
    slow.set_record(&name, bytes.clone());
    let good = TestGateway::start();
    good.set_record(&name, bytes.clone());
    let client = client(&[&slow, &good], options);
    assert_eq!(bounded(client.get_record(&name)).await.unwrap(), bytes);
    assert_eq!((slow.requests(), good.requests()), (1, 1));
    assert!(slow.trickled() < bytes.len(), "abandoned part way: {} of {} bytes", slow.trickled(), bytes.len());
    assert_eq!(client.inner.health.avoided(&slow.label()), None, "only slower, not failing");
    assert!(client.inner.health.behind(&slow.label()), "its answer had begun: asked last from now on");
    assert!(!client.inner.health.behind(&good.label()));
}

#[tokio::test]
async fn a_record_that_trickles_past_the_first_byte_time_is_refused_and_remembered() {
    let key = crate::formats::ipns::Keypair::from_seed(&[6; 32]);
    let name = key.ipns_name();
    let bytes = record_of(&key, 1);
    // The whole record would come well inside the request's timeout, but
    // many times the first-byte time after its answer began.
    let every = Duration::from_millis(100);
    let pieces = bytes.len() / super::test_server::TRICKLE_BYTES + 1;
    let options = ClientOptions { first_byte: Duration::from_millis(300), ..options() };
    assert!(every * pieces as u32 > options.first_byte * 3, "{pieces} pieces");
    assert!(every * pieces as u32 * 2 < options.timeout, "{pieces} pieces");
    let slow = TestGateway::with_faults(Faults { trickle: Some(every), ..Faults::default() });
    slow.set_record(&name, bytes.clone());
    let client = client(&[&slow], options);
    let err = bounded(client.get_record(&name)).await.unwrap_err();
    assert!(matches!(err, RemoteError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains(&slow.label()), "{err}");
    assert!(slow.trickled() < bytes.len());
    assert!(client.all_avoided(), "remembered as failing");
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

#[tokio::test]
async fn parallel_downloads_meeting_a_junk_and_a_trickling_gateway_at_once_all_come_from_the_good_one() {
    // As at the start of a fetch: eight streams asked at the same moment of
    // gateways that send junk, then trickle, then answer well.
    let junk = TestGateway::with_faults(Faults { junk: Some(MAX_UNRELATED_BLOCKS / 3 + 1), ..Faults::default() });
    let slow = TestGateway::with_faults(Faults { trickle: Some(Duration::from_millis(200)), ..Faults::default() });
    let good = TestGateway::start();
    let options = ClientOptions { car_hedge: Duration::from_millis(300), ..options() };
    let client = client(&[&junk, &slow, &good], options);
    let root = parse_cid(ROOT).unwrap();
    let size = fixture(FIXTURE_CAR).len() as u64;
    let mut downloads = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let client = client.clone();
        downloads.spawn(async move { collect(client.get_car_sized(&root, DagScope::All, size).await.unwrap()).await });
    }
    let done = bounded(downloads.join_all()).await;
    for (blocks, err) in done {
        assert!(err.is_none(), "{err:?}");
        assert_eq!(cids(&blocks), cids(&fixture_blocks()));
    }
    assert!(client.inner.health.avoided(&junk.label()).is_some(), "junk is remembered as failing");
    assert_eq!(client.inner.health.avoided(&slow.label()), None, "the trickle only lost races");
    assert!(client.inner.health.behind(&slow.label()));
    assert!(slow.trickled() < 8 * size as usize, "no trickle was waited out");
    let (junk_asked, slow_asked) = (junk.requests(), slow.requests());
    assert!(junk_asked <= 8 && slow_asked <= 8, "each asked at most once per download");

    // Later downloads skip the junk and ask the good gateway first.
    for _ in 0..3 {
        let stream = bounded(client.get_car_sized(&root, DagScope::All, size)).await.unwrap();
        assert_eq!(stream.gateway(), good.label());
        let (blocks, err) = bounded(collect(stream)).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(blocks.len(), fixture_blocks().len());
    }
    assert_eq!((junk.requests(), slow.requests()), (junk_asked, slow_asked));
}
