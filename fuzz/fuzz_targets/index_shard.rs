#![no_main]

use cargo_ipfs_fetch::index::shard::decode_shard;
use cargo_ipfs_fetch::index::Entry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_shard::<Entry>("serde", data);
});
