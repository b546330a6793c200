#![no_main]

use cargo_ipfs_fetch::formats::dagpb::PbNode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(node) = PbNode::decode(data) {
        // What decodes encodes again to something that decodes the same.
        let again = PbNode::decode(&node.encode()).expect("a decoded node encodes to a decodable one");
        assert_eq!(again.links.len(), node.links.len());
    }
});
