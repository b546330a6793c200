#![no_main]

use cargo_ipfs_fetch::formats::block::{Block, DAG_PB};
use cargo_ipfs_fetch::formats::unixfs::list_directory_block;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The input as a directory node; every block it links to is the input again.
    let root = Block::encode(DAG_PB, false, data.to_vec());
    let mut get = |_: &cid::Cid| Ok::<_, ()>(data.to_vec());
    let _ = list_directory_block(root.cid(), &mut get);
});
