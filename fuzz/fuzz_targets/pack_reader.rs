#![no_main]

use cargo_ipfs_fetch::artifact::pack::unpack;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // As it arrives (any bytes), and behind a valid zstd frame, so that the
    // tar reader and the meta entry are reached too.
    let _ = unpack(data, 64 << 20);
    if let Ok(framed) = zstd::encode_all(data, 1) {
        let _ = unpack(&framed, 64 << 20);
    }
});
