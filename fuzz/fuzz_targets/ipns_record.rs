#![no_main]

use cargo_ipfs_fetch::formats::ipns::{verify_record, Keypair};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, UNIX_EPOCH};

fuzz_target!(|data: &[u8]| {
    // Any bytes, as the record of a fixed name, at a fixed time.
    let name = Keypair::from_seed(&[7; 32]).ipns_name();
    let _ = verify_record(&name, data, UNIX_EPOCH + Duration::from_secs(1_800_000_000));
});
