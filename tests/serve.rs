//! Runs the real `cargo-ipfs serve` on `127.0.0.1:0` over a temporary store
//! and talks HTTP to it: the trustless gateway (raw blocks, CAR streams,
//! IPNS records) and delegated routing v1 for IPNS. Fixtures are the public
//! gateway-conformance CARs under `tests/fixtures/ipfs/` (provenance in its
//! README.txt).

mod common;

use cargo_ipfs_fetch::formats::block::{Block, RAW};
use cargo_ipfs_fetch::formats::car::CarReader;
use cargo_ipfs_fetch::formats::ipns::{create_record, Keypair};
use cid::Cid;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

const ROOT: &str = "bafybeihchr7vmgjaasntayyatmp5sv6xza57iy2h4xj7g46bpjij6yhrmy";
const HELLO: &str = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";
const MULTIBLOCK: &str = "bafybeigcisqd7m5nf3qmuvjdbakl5bdnh4ocrmacaqkpuh77qjvggmt2sa";
const DIR_WITH_FILES: &str = "gateway-conformance/fixtures/path_gateway_unixfs/dir-with-files.car";
const MISSING_BLOCK: &str = "gateway-conformance/fixtures/trustless_gateway_car/file-3k-and-3-blocks-missing-block.car";
const MISSING_BLOCK_ROOT: &str = "QmYhmPjhFjYFyaoiuNzYv8WGavpSRDwdHWe5B4M5du5Rtk";
const IPNS_RECORD: &str = "application/vnd.ipfs.ipns-record";

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ipfs").join(rel)
}

/// A running `cargo-ipfs serve` over a temporary store; killed on drop.
struct Server {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

/// A response, read whole (or as far as the server sent it).
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
    /// Whether the body ended with a transfer error (a cut-off stream).
    cut_off: bool,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Server {
    /// Imports `cars` into a new store, then starts the server on it.
    fn start(cars: &[&str], args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        for car in cars {
            // An incomplete CAR fails the import but keeps what verified.
            Command::new(env!("CARGO_BIN_EXE_cargo-ipfs"))
                .args(["car", "import"])
                .arg(fixture(car))
                .env("CARGO_IPFS_STORE", &store)
                .output()
                .unwrap();
        }
        let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
        let (child, base) = common::spawn_serve(&store, args, Stdio::from(log));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        Server { child, base, dir, runtime, client }
    }

    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        self.runtime.block_on(async {
            let mut response = request.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let mut body = Vec::new();
            let mut cut_off = false;
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                    Ok(None) => break,
                    Err(_) => {
                        cut_off = true;
                        break;
                    }
                }
            }
            Reply { status, headers, body, cut_off }
        })
    }

    fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], None)
    }

    fn put_record(&self, name: &str, record: Vec<u8>) -> Reply {
        self.request("PUT", &format!("/routing/v1/ipns/{name}"), &[("content-type", IPNS_RECORD)], Some(record))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The CIDs of a CAR's blocks, and its roots.
fn car_blocks(bytes: &[u8]) -> (Vec<Cid>, Vec<Cid>) {
    let mut reader = CarReader::new(bytes).expect("a CAR header");
    let roots = reader.roots().to_vec();
    let mut cids = Vec::new();
    while let Some(block) = reader.next_block().expect("every block verifies") {
        cids.push(*block.cid());
    }
    (roots, cids)
}

fn fixture_blocks(rel: &str) -> BTreeSet<Cid> {
    car_blocks(&std::fs::read(fixture(rel)).unwrap()).1.into_iter().collect()
}

#[test]
fn raw_blocks_with_headers_paths_and_probe() {
    let server = Server::start(&[DIR_WITH_FILES], &[]);
    let reply = server.get(&format!("/ipfs/{HELLO}?format=raw"));
    assert_eq!(reply.status, 200, "{}", server.log());
    assert_eq!(reply.body, b"hello world\n");
    let cid: Cid = HELLO.parse().unwrap();
    assert_eq!(Sha256::digest(&reply.body).as_slice(), cid.hash().digest(), "the body hashes to the CID");
    assert_eq!(reply.header("content-type"), "application/vnd.ipld.raw");
    assert_eq!(reply.header("x-content-type-options"), "nosniff");
    assert_eq!(reply.header("cache-control"), "public, max-age=29030400, immutable");
    assert_eq!(reply.header("etag"), format!("\"{HELLO}.raw\""));
    assert_eq!(reply.header("x-ipfs-path"), format!("/ipfs/{HELLO}"));
    assert_eq!(reply.header("content-length"), "12");
    assert_eq!(reply.header("content-disposition"), format!("attachment; filename=\"{HELLO}.bin\""));

    let head = server.request("HEAD", &format!("/ipfs/{HELLO}?format=raw"), &[], None);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), "12");
    assert_eq!(head.header("etag"), format!("\"{HELLO}.raw\""));
    assert!(head.body.is_empty());

    // Accept instead of format, and the URL that names the variant.
    let by_accept = server.request("GET", &format!("/ipfs/{HELLO}"), &[("accept", "application/vnd.ipld.raw")], None);
    assert_eq!(by_accept.status, 200);
    assert_eq!(by_accept.body, b"hello world\n");
    assert_eq!(by_accept.header("content-location"), format!("/ipfs/{HELLO}?format=raw"));

    // A path through the directory.
    let by_path = server.get(&format!("/ipfs/{ROOT}/hello.txt?format=raw"));
    assert_eq!(by_path.status, 200);
    assert_eq!(by_path.body, b"hello world\n");
    assert_eq!(by_path.header("x-ipfs-roots"), format!("{ROOT},{HELLO}"));
    assert_eq!(server.get(&format!("/ipfs/{ROOT}/nope.txt?format=raw")).status, 404);

    // The identity probe.
    let probe = server.get("/ipfs/bafkqaaa?format=raw");
    assert_eq!(probe.status, 200);
    assert!(probe.body.is_empty());
    assert_eq!(server.request("HEAD", "/ipfs/bafkqaaa?format=raw", &[], None).status, 200);

    // Unknown, invalid, unasked-for.
    let absent = Block::encode(RAW, false, b"not in this store".to_vec());
    let missing = server.get(&format!("/ipfs/{}?format=raw", absent.cid()));
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("not in this gateway's store"), "{}", missing.text());
    let garbage = server.get("/ipfs/not-a-cid?format=raw");
    assert_eq!(garbage.status, 400);
    assert!(garbage.text().contains("is not a CID"), "{}", garbage.text());
    assert_eq!(server.request("GET", &format!("/ipfs/{HELLO}"), &[("accept", "text/html")], None).status, 406);
    assert_eq!(server.get(&format!("/ipfs/{HELLO}?format=tar")).status, 400);

    // Conditional requests.
    let etag = format!("\"{HELLO}.raw\"");
    let again = server.request("GET", &format!("/ipfs/{HELLO}?format=raw"), &[("if-none-match", &etag)], None);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());

    let log = server.log();
    assert!(log.contains("method=GET") && log.contains("status=200") && log.contains("bytes=12"), "{log}");
}

#[test]
fn car_streams_hold_the_dag_in_scope() {
    let server = Server::start(&[DIR_WITH_FILES], &[]);
    let reply = server.get(&format!("/ipfs/{ROOT}?format=car"));
    assert_eq!(reply.status, 200, "{}", server.log());
    assert_eq!(reply.header("content-type"), "application/vnd.ipld.car; version=1; order=dfs; dups=n");
    assert_eq!(reply.header("x-content-type-options"), "nosniff");
    assert_eq!(reply.header("cache-control"), "public, max-age=29030400, immutable");
    assert!(reply.header("etag").starts_with(&format!("\"{ROOT}.car.")), "{}", reply.header("etag"));
    assert!(!reply.cut_off);
    let (roots, cids) = car_blocks(&reply.body);
    assert_eq!(roots, [ROOT.parse::<Cid>().unwrap()]);
    assert_eq!(cids[0].to_string(), ROOT, "depth-first: the root comes first");
    let sent: BTreeSet<Cid> = cids.iter().copied().collect();
    assert_eq!(sent.len(), cids.len(), "no duplicates");
    assert_eq!(sent, fixture_blocks(DIR_WITH_FILES), "every block of the fixture");

    // The Accept form, with the parameters this server speaks.
    let accept = [("accept", "application/vnd.ipld.car; version=1; order=dfs; dups=n")];
    let by_accept = server.request("GET", &format!("/ipfs/{ROOT}"), &accept, None);
    assert_eq!(by_accept.status, 200);
    assert_eq!(by_accept.body, reply.body, "the same bytes");
    let dups = [("accept", "application/vnd.ipld.car; dups=y")];
    assert_eq!(server.request("GET", &format!("/ipfs/{ROOT}"), &dups, None).status, 406);

    // dag-scope.
    let block = server.get(&format!("/ipfs/{ROOT}?format=car&dag-scope=block"));
    assert_eq!(car_blocks(&block.body).1.len(), 1);
    assert_ne!(block.header("etag"), reply.header("etag"));
    let dir_entity = server.get(&format!("/ipfs/{ROOT}?format=car&dag-scope=entity"));
    assert_eq!(car_blocks(&dir_entity.body).1.len(), 1, "a directory entity is its node");
    let file = server.get(&format!("/ipfs/{ROOT}/multiblock.txt?format=car&dag-scope=entity"));
    let (roots, cids) = car_blocks(&file.body);
    assert_eq!(roots[0].to_string(), ROOT);
    assert_eq!(cids[0].to_string(), ROOT, "the path's blocks first");
    assert_eq!(cids[1].to_string(), MULTIBLOCK);
    assert_eq!(cids.len(), 1 + 1 + 5, "the directory, the file root and its five leaves");
    assert_eq!(server.get(&format!("/ipfs/{ROOT}?format=car&dag-scope=most")).status, 400);

    // HEAD sends no stream; an absent root is a 404 before any stream.
    let head = server.request("HEAD", &format!("/ipfs/{ROOT}?format=car"), &[], None);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let absent = Block::encode(RAW, false, b"nothing".to_vec());
    assert_eq!(server.get(&format!("/ipfs/{}?format=car", absent.cid())).status, 404);

    // The identity probe as a CAR: a header naming it, no blocks.
    let probe = server.get("/ipfs/bafkqaaa?format=car");
    assert_eq!(probe.status, 200);
    let (roots, cids) = car_blocks(&probe.body);
    assert_eq!(roots[0].to_string(), "bafkqaaa");
    assert!(cids.is_empty());
}

#[test]
fn a_block_missing_mid_stream_cuts_the_car_off() {
    let server = Server::start(&[MISSING_BLOCK], &[]);
    let reply = server.get(&format!("/ipfs/{MISSING_BLOCK_ROOT}?format=car"));
    assert_eq!(reply.status, 200, "the root is here, so the stream starts");
    assert!(reply.cut_off, "the response must not end cleanly");
    // What arrived is whole, verified blocks, fewer than the fixture holds.
    let mut reader = CarReader::new(reply.body.as_slice()).unwrap();
    let mut got = 0;
    while let Ok(Some(_)) = reader.next_block() {
        got += 1;
    }
    assert!(got >= 1, "the blocks before the missing one arrive");
    // The log says why the stream ended.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !server.log().contains("CAR stream ended early") {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ipns_records_over_routing_and_the_gateway() {
    let server = Server::start(&[], &[]);
    let key = Keypair::from_seed(&[21; 32]);
    let name = key.ipns_name().to_string();
    let until = SystemTime::now() + Duration::from_secs(3600);
    let ttl = Duration::from_secs(300);
    let v2 = create_record(&key, &format!("/ipfs/{ROOT}"), 2, until, ttl).unwrap();
    let v1 = create_record(&key, &format!("/ipfs/{HELLO}"), 1, until, ttl).unwrap();

    let path = format!("/routing/v1/ipns/{name}");
    assert_eq!(server.get(&path).status, 404);
    let put = server.put_record(&name, v2.clone());
    assert_eq!(put.status, 200, "{}", put.text());
    let got = server.request("GET", &path, &[("accept", IPNS_RECORD)], None);
    assert_eq!(got.status, 200);
    assert_eq!(got.body, v2);
    assert_eq!(got.header("content-type"), IPNS_RECORD);
    assert_eq!(got.header("cache-control"), "public, max-age=300");
    assert!(!got.header("etag").is_empty());

    // An older sequence is accepted (200) but does not replace the newer one.
    let older = server.put_record(&name, v1);
    assert_eq!(older.status, 200, "{}", older.text());
    assert_eq!(server.get(&path).body, v2);

    // A record signed by another key is refused with the reason.
    let other = Keypair::from_seed(&[22; 32]);
    let forged = create_record(&other, "/ipfs/bafkqaaa", 9, until, ttl).unwrap();
    let refused = server.put_record(&name, forged);
    assert_eq!(refused.status, 400);
    assert!(!refused.text().trim().is_empty());
    assert_eq!(server.get(&path).body, v2);
    let junk = server.put_record(&name, b"not a record".to_vec());
    assert_eq!(junk.status, 400);

    // Bounds and content types.
    assert_eq!(server.put_record(&name, vec![0; 10 * 1024 + 1]).status, 413);
    let untyped = server.request("PUT", &path, &[], Some(v2.clone()));
    assert_eq!(untyped.status, 406);
    assert_eq!(server.request("GET", &path, &[("accept", "application/json")], None).status, 406);
    assert_eq!(server.get("/routing/v1/ipns/not-a-name").status, 400);
    assert_eq!(server.get("/routing/v1/providers/bafkqaaa").status, 501);

    // The gateway form.
    let by_format = server.get(&format!("/ipns/{name}?format=ipns-record"));
    assert_eq!(by_format.status, 200);
    assert_eq!(by_format.body, v2);
    assert_eq!(by_format.header("content-type"), IPNS_RECORD);
    let by_accept = server.request("GET", &format!("/ipns/{name}"), &[("accept", IPNS_RECORD)], None);
    assert_eq!(by_accept.body, v2);
    assert_eq!(server.get(&format!("/ipns/{name}?format=car")).status, 501);
}

#[test]
fn read_only_refuses_records() {
    let server = Server::start(&[DIR_WITH_FILES], &["--read-only"]);
    let key = Keypair::from_seed(&[23; 32]);
    let name = key.ipns_name().to_string();
    let record =
        create_record(&key, "/ipfs/bafkqaaa", 1, SystemTime::now() + Duration::from_secs(60), Duration::ZERO).unwrap();
    let put = server.put_record(&name, record);
    assert_eq!(put.status, 405);
    assert!(put.text().contains("read-only"), "{}", put.text());
    assert_eq!(server.get(&format!("/routing/v1/ipns/{name}")).status, 404);
    assert_eq!(server.get(&format!("/ipfs/{HELLO}?format=raw")).status, 200, "blocks are still served");
}

#[test]
fn a_path_car_brings_the_blocks_on_the_way_and_the_whole_file() {
    use cargo_ipfs_fetch::store::gateway::{ClientOptions, GatewayClient, Url};
    let server = Server::start(&[DIR_WITH_FILES], &[]);
    let client = GatewayClient::new(vec![Url::parse(&server.base).unwrap()], ClientOptions::default()).unwrap();
    let root: Cid = ROOT.parse().unwrap();
    let (got, end) = server.runtime.block_on(async {
        let mut stream = client.get_path_car(&root, &["multiblock.txt"]).await.unwrap();
        let mut got = BTreeSet::new();
        let mut end = None;
        for _ in 0..100 {
            match stream.next().await {
                Some(Ok(block)) => {
                    got.insert(*block.cid());
                }
                Some(Err(e)) => {
                    end = Some(e.to_string());
                    break;
                }
                None => break,
            }
        }
        (got, end)
    });
    assert_eq!(end, None, "the stream ends complete");
    // The directory on the way, then the file's node and its five leaves.
    let mut want: BTreeSet<Cid> =
        car_blocks(&server.get(&format!("/ipfs/{MULTIBLOCK}?format=car")).body).1.into_iter().collect();
    want.insert(root);
    assert_eq!(want.len(), 7, "{want:?}");
    assert_eq!(got, want);

    // A name the directory lacks: not found, and not retried.
    let err = server.runtime.block_on(client.get_path_car(&root, &["absent.txt"])).unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains(&format!("/ipfs/{ROOT}/absent.txt")), "{err}");
    // A segment that would climb out of the path is refused before any
    // request.
    let err = server.runtime.block_on(client.get_path_car(&root, &["..", "x"])).unwrap_err();
    assert!(err.to_string().contains("\"..\""), "{err}");
    assert!(!server.log().contains("/x?"), "{}", server.log());
}

#[test]
fn blocks_are_served_as_stored_unless_hash_on_read_and_block_verify_finds_rot() {
    let hello: Cid = HELLO.parse().unwrap();
    let rot = |server: &Server| {
        let store = cargo_ipfs_fetch::store::DiskStore::open(server.dir.path().join("store")).unwrap();
        std::fs::write(store.block_path(&hello), b"hello worle\n").unwrap();
    };
    // Kubo's default: no hash on read; the client's check refuses the bytes.
    let server = Server::start(&[DIR_WITH_FILES], &[]);
    rot(&server);
    let reply = server.get(&format!("/ipfs/{HELLO}?format=raw"));
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"hello worle\n"[..]));
    // The sweep finds the rot, quarantines the block, and a second finds none.
    let verify = || {
        Command::new(common::BIN)
            .args(["block", "verify"])
            .env("CARGO_IPFS_STORE", server.dir.path().join("store"))
            .output()
            .unwrap()
    };
    let out = verify();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("1 corrupt"), "{stdout}");
    assert!(stderr.contains(HELLO) && stderr.contains("quarantine"), "{stderr}");
    assert_eq!(server.get(&format!("/ipfs/{HELLO}?format=raw")).status, 404, "moved aside");
    let out = verify();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains(" 0 corrupt"));

    // With --hash-on-read the server refuses to send the rotten bytes.
    let server = Server::start(&[DIR_WITH_FILES], &["--hash-on-read"]);
    rot(&server);
    let reply = server.get(&format!("/ipfs/{HELLO}?format=raw"));
    assert_ne!(reply.status, 200, "{}", reply.text());
    assert_ne!(reply.body, b"hello worle\n");
    assert_eq!(server.get(&format!("/ipfs/{HELLO}?format=raw")).status, 404, "quarantined on the first read");
}
