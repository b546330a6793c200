#![no_main]

use cargo_ipfs_fetch::index::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Manifest::decode(data);
});
