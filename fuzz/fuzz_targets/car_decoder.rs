#![no_main]

use cargo_ipfs_fetch::formats::car::CarDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Fed in two pieces, as a stream arrives.
    let mut decoder = CarDecoder::new();
    let (a, b) = data.split_at(data.len() / 3);
    let mut blocks = 0usize;
    if decoder.feed(a, &mut |_| blocks += 1).is_ok() && decoder.feed(b, &mut |_| blocks += 1).is_ok() {
        let _ = decoder.finish();
    }
});
