#![no_main]

use cargo_ipfs_fetch::wrapper::args::analyze;
use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;

fuzz_target!(|data: &[u8]| {
    // NUL-separated arguments, as a command line.
    let args: Vec<OsString> =
        data.split(|b| *b == 0).map(|a| OsString::from(String::from_utf8_lossy(a).into_owned())).collect();
    let _ = analyze(&args);
});
