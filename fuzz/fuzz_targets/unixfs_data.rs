#![no_main]

use cargo_ipfs_fetch::formats::unixfs::UnixFsData;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = UnixFsData::decode(data);
});
