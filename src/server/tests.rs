//! The server's bounds and less common answers, against a server started
//! with [`spawn_state_for_tests`] and spoken to in hand-written HTTP/1.1.
//! The main behaviours are tested through the real binary in `tests/serve.rs`.

use super::*;
use crate::formats::unixfs::{import_bytes, ImportParams};
use crate::store::BlockStore;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

/// A store holding one three-block file; returns its directory and CID.
fn store_with_file() -> (tempfile::TempDir, DiskStore, cid::Cid) {
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(dir.path()).unwrap();
    let mut params = ImportParams::profile("unixfs-v1-2025").unwrap();
    params.chunk_size = 4;
    let (file, blocks) = import_bytes(params, b"0123456789").unwrap();
    for block in &blocks {
        store.put(block).unwrap();
    }
    (dir, store, file.cid)
}

/// Sends a request with `Connection: close` and reads until the server
/// closes: the status line and whatever followed, or an error text if the
/// connection broke.
fn exchange(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    match stream.read_to_end(&mut out) {
        Ok(_) => String::from_utf8_lossy(&out).into_owned(),
        Err(e) => format!("{}\n<read error: {e}>", String::from_utf8_lossy(&out)),
    }
}

fn get(addr: SocketAddr, target: &str, headers: &str) -> String {
    exchange(addr, &format!("GET {target} HTTP/1.1\r\nHost: test\r\n{headers}Connection: close\r\n\r\n"))
}

/// How much longer than a limit a busy test machine may take to act on it.
const SLACK: Duration = Duration::from_secs(10);

/// A `GET` with `Connection: close` whose connection the server must close
/// within `within`: the status line and whatever followed. A server that
/// leaves the connection open fails here, where [`get`] would return what
/// came before its read timed out.
fn get_closed_within(addr: SocketAddr, target: &str, within: Duration) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(within)).unwrap();
    let start = Instant::now();
    stream.write_all(format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    let mut out = Vec::new();
    // `read_to_end` succeeds only once a read returned 0: the server closed
    // the connection. A read that waited out the timeout is an error.
    let read = stream.read_to_end(&mut out);
    let (elapsed, reply) = (start.elapsed(), String::from_utf8_lossy(&out).into_owned());
    assert!(read.is_ok(), "the server did not close the connection ({read:?} after {elapsed:?}): {reply:?}");
    assert!(elapsed < within, "the server closed the connection only after {elapsed:?}: {reply:?}");
    reply
}

#[test]
fn idle_connections_are_closed() {
    let (_dir, store, _) = store_with_file();
    let limits = Limits { idle_timeout: Duration::from_millis(200), ..Limits::default() };
    let (addr, _server) = spawn_state_for_tests(ServerState::new(store, false).unwrap().with_limits(limits));
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let start = Instant::now();
    let mut buf = [0; 16];
    // Closed by the server: end of stream (or a reset), long before 20 s.
    let _ = idle.read(&mut buf);
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
}

#[test]
fn clients_over_the_connection_cap_are_told_to_retry_later() {
    let (_dir, store, cid) = store_with_file();
    let limits = Limits { max_connections: 1, idle_timeout: Duration::from_millis(300), ..Limits::default() };
    let (addr, _server) = spawn_state_for_tests(ServerState::new(store, false).unwrap().with_limits(limits));
    // The first connection takes the only slot and says nothing.
    let first = TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    let reply = get(addr, &format!("/ipfs/{cid}?format=raw"), "");
    assert!(reply.starts_with("HTTP/1.1 429"), "{reply}");
    assert!(reply.contains("Retry-After: 1\r\n"), "{reply}");
    assert!(start.elapsed() < Duration::from_millis(200), "answered at once, not queued: {:?}", start.elapsed());
    // Once the slot is free again, the next request is served.
    drop(first);
    let mut reply = String::new();
    for _ in 0..50 {
        reply = get(addr, &format!("/ipfs/{cid}?format=raw"), "");
        if reply.starts_with("HTTP/1.1 200") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

#[test]
fn a_car_over_its_time_limit_is_cut_off() {
    let (_dir, store, cid) = store_with_file();
    let limits = Limits { car_timeout: Duration::ZERO, ..Limits::default() };
    let (addr, _server) = spawn_state_for_tests(ServerState::new(store, false).unwrap().with_limits(limits));
    // Cut off means closed at the limit, not left hanging.
    let reply = get_closed_within(addr, &format!("/ipfs/{cid}?format=car"), limits.car_timeout + SLACK);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    // A chunked body that ends cleanly ends with the zero-length chunk.
    assert!(!reply.ends_with("0\r\n\r\n"), "{reply:?}");
}

#[test]
fn a_cut_off_car_ends_without_the_last_chunk_but_a_whole_one_has_it() {
    let (_dir, store, cid) = store_with_file();
    let (addr, _server) = spawn_state_for_tests(ServerState::new(store.clone(), false).unwrap());
    let whole = get(addr, &format!("/ipfs/{cid}?format=car"), "");
    assert!(whole.ends_with("0\r\n\r\n"), "{whole:?}");
    // Remove a leaf: the root is there, so the stream starts, then stops.
    let leaf = crate::formats::links::links(&cid, &store.get(&cid).unwrap().unwrap()).unwrap()[1];
    std::fs::remove_file(store.block_path(&leaf)).unwrap();
    let cut = get_closed_within(addr, &format!("/ipfs/{cid}?format=car"), SLACK);
    assert!(cut.starts_with("HTTP/1.1 200"), "{cut}");
    assert!(!cut.ends_with("0\r\n\r\n"), "{cut:?}");
}

#[test]
fn less_common_answers() {
    let (_dir, store, cid) = store_with_file();
    let (addr, _server) = spawn_state_for_tests(ServerState::new(store, false).unwrap());
    let absent = crate::formats::block::Block::encode(crate::formats::block::RAW, false, b"x".to_vec());
    let only_if_cached = "Cache-Control: only-if-cached\r\n";
    let reply = get(addr, &format!("/ipfs/{}?format=raw", absent.cid()), only_if_cached);
    assert!(reply.starts_with("HTTP/1.1 412"), "{reply}");
    let reply = get(addr, &format!("/ipfs/{cid}?format=raw"), only_if_cached);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

    let reply = get(addr, "/routing/v1/somewhere", "");
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    let reply = get(addr, "/elsewhere", "");
    assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
    let reply = get(addr, &format!("/ipfs/{cid}?format=car&entity-bytes=0:10"), "");
    assert!(reply.starts_with("HTTP/1.1 400") && reply.contains("entity-bytes"), "{reply}");
    let reply = get(addr, &format!("/ipfs/{cid}?format=car&car-dups=y"), "");
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    let reply = get(addr, &format!("/ipfs/{cid}/x?format=raw"), "");
    assert!(reply.starts_with("HTTP/1.1 404") && reply.contains("not a UnixFS directory"), "{reply}");

    let preflight = exchange(
        addr,
        "OPTIONS /routing/v1/ipns/x HTTP/1.1\r\nHost: test\r\nOrigin: https://example.com\r\nConnection: close\r\n\r\n",
    )
    .to_ascii_lowercase();
    assert!(preflight.starts_with("http/1.1 204"), "{preflight}");
    assert!(preflight.contains("access-control-allow-origin: *"), "{preflight}");
    assert!(preflight.contains("access-control-allow-methods: get, head, put, options"), "{preflight}");

    // HEAD of a CAR announces no length (the stream's is unknown).
    let head =
        exchange(addr, &format!("HEAD /ipfs/{cid}?format=car HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(!head.to_ascii_lowercase().contains("content-length: 0"), "{head}");
}

/// A HAMT directory of four levels whose 256 buckets all lead to the same
/// shard: four billion paths to one entry.
fn diamond_hamt(store: &dyn BlockStore) -> cid::Cid {
    use crate::formats::block::{Block, DAG_PB, RAW};
    use crate::formats::dagpb::{PbLink, PbNode};
    use crate::formats::unixfs::{DataType, UnixFsData};
    let shard = |links: Vec<PbLink>| {
        let mut data = UnixFsData::new(DataType::HamtShard);
        data.fanout = Some(256);
        data.hash_type = Some(0x22);
        let block = Block::encode(DAG_PB, false, PbNode { links, data: Some(data.encode()) }.encode());
        store.put(&block).unwrap();
        *block.cid()
    };
    let file = Block::encode(RAW, false, b"x".to_vec());
    store.put(&file).unwrap();
    let mut cid = shard(vec![PbLink { cid: *file.cid(), name: Some("00name".into()), tsize: Some(1) }]);
    for _ in 0..4 {
        cid = shard((0..256).map(|i| PbLink { cid, name: Some(format!("{i:02X}")), tsize: Some(1) }).collect());
    }
    cid
}

#[test]
fn a_path_through_a_hamt_that_repeats_its_shards_is_refused_after_a_few_reads() {
    let counting = crate::store::Counting::new(crate::store::MemoryStore::new());
    let root = diamond_hamt(&counting);
    let before = counting.gets();
    let err = traverse::resolve(&counting, root, &["absent".to_string()]).unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
    let reads = counting.gets() - before;
    assert!(reads <= 6, "{reads} reads");
}

#[test]
fn the_explorer_is_bounded_escapes_what_it_is_given_and_can_be_turned_off() {
    let (dir, store, _) = store_with_file();
    let (addr, _server) = spawn_state_for_tests(ServerState::new(store.clone(), true).unwrap());
    let page = get(addr, "/", "");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("trusts no index yet"), "{page}");
    assert!(page.to_lowercase().contains("content-security-policy: default-src 'none'"), "{page}");
    let unknown = get(addr, "/explorer/index/%3Cb%3Enone", "");
    assert!(unknown.starts_with("HTTP/1.1 404") && unknown.contains("<b>none"), "{unknown}");
    assert!(!unknown.contains("text/html"), "an error is plain text, never markup: {unknown}");
    let searched = get(addr, "/explorer/search?q=%3Cscript%3E", "");
    assert!(searched.contains("&lt;script&gt;") && !searched.contains("<script>alert"), "{searched}");
    let long = get(addr, &format!("/explorer/search?q={}", "a".repeat(101)), "");
    assert!(long.starts_with("HTTP/1.1 400"), "{long}");
    assert!(get(addr, "/explorer/api/search?q=x", "").contains("[]"));
    // Nothing was written to the store by reading.
    for file in ["seen.json", "trust.json"] {
        assert!(!dir.path().join(file).exists(), "{file} was written");
    }

    let (addr, _off) = spawn_state_for_tests(ServerState::new(store, true).unwrap().with_explorer(false));
    assert!(get(addr, "/", "").starts_with("HTTP/1.1 404"));
    assert!(get(addr, "/explorer/api/indexes", "").starts_with("HTTP/1.1 404"));
}
