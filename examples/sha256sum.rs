//! The baseline for `scripts/bench-import.sh`: sha256 of a file with the same
//! `sha2` crate and buffer size the importer uses, and nothing else.

use sha2::{Digest, Sha256};
use std::io::Read;

fn main() -> std::io::Result<()> {
    let path = std::env::args_os().nth(1).expect("usage: sha256sum FILE");
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    println!("{}", hex::encode(hasher.finalize()));
    Ok(())
}
