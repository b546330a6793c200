//! Gateways that answer like an enemy, on 127.0.0.1 port 0, for as long as
//! they live and within bounds of time and count: one that sends verified
//! but unrelated blocks for every request, and one that trickles bytes.

use cargo_ipfs_fetch::formats::block::{Block, RAW};
use cargo_ipfs_fetch::formats::car::CarWriter;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the gateway does with every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostility {
    /// A CAR whose blocks are valid but none of them the one asked for.
    Junk,
    /// A 200 answer whose body comes one byte every 100 ms.
    Slow,
}

/// A hostile gateway, stopped on drop.
pub struct HostileGateway {
    pub url: String,
    stop: Arc<AtomicBool>,
    /// Requests answered.
    pub requests: Arc<AtomicUsize>,
}

/// How long any connection is served, and how many are accepted.
const LIFETIME: Duration = Duration::from_secs(120);
const MAX_CONNECTIONS: usize = 10_000;

impl HostileGateway {
    pub fn start(hostility: Hostility) -> HostileGateway {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let (stop2, requests2) = (stop.clone(), requests.clone());
        std::thread::spawn(move || {
            let born = Instant::now();
            for stream in listener.incoming().take(MAX_CONNECTIONS) {
                if stop2.load(Ordering::SeqCst) || born.elapsed() > LIFETIME {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (stop3, requests3) = (stop2.clone(), requests2.clone());
                std::thread::spawn(move || serve(stream, hostility, &stop3, &requests3, born));
            }
        });
        HostileGateway { url, stop, requests }
    }
}

impl Drop for HostileGateway {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accepting thread.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

fn serve(mut stream: TcpStream, hostility: Hostility, stop: &AtomicBool, requests: &AtomicUsize, born: Instant) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    requests.fetch_add(1, Ordering::SeqCst);
    match hostility {
        Hostility::Junk => {
            let mut car = CarWriter::new(Vec::new(), &[junk_block(0).cid().to_owned()]).unwrap();
            for i in 0..256u32 {
                car.write_block(&junk_block(i)).unwrap();
            }
            let body = car.finish().unwrap();
            let header = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.ipld.car; version=1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(header.as_bytes());
            let _ = stream.write_all(&body);
        }
        Hostility::Slow => {
            let header =
                "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.ipld.car; version=1\r\nConnection: close\r\n\r\n";
            if stream.write_all(header.as_bytes()).is_err() {
                return;
            }
            while !stop.load(Ordering::SeqCst) && born.elapsed() < LIFETIME {
                if stream.write_all(&[0x3a]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// A valid raw block that nobody asked for.
fn junk_block(i: u32) -> Block {
    let data: Vec<u8> = (0..4096u32).map(|j| (i.wrapping_mul(31).wrapping_add(j) % 251) as u8).collect();
    Block::encode(RAW, false, data)
}
