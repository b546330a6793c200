//! The test suite every [`BlockStore`] passes.

use super::{BlockStore, StoreError};
use crate::formats::block::{Block, DAG_PB, RAW};
use cid::Cid;

/// Runs the suite. `corrupt` overwrites a stored block's bytes behind the
/// store's back.
pub(crate) fn run(store: &dyn BlockStore, corrupt: &dyn Fn(&Cid, Vec<u8>)) {
    let a = Block::encode(RAW, false, b"block a".to_vec());
    let b = Block::encode(DAG_PB, true, vec![0x0a, 0x02, 0x08, 0x01]);
    assert!(!store.has(a.cid()).unwrap());
    assert_eq!(store.get(a.cid()).unwrap(), None);
    let missing = store.get_required(a.cid()).unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { .. }));
    assert!(missing.to_string().contains(&a.cid().to_string()));

    store.put(&a).unwrap();
    store.put(&a).unwrap();
    store.put(&b).unwrap();
    assert!(store.has(a.cid()).unwrap() && store.has(b.cid()).unwrap());
    assert_eq!(store.get(a.cid()).unwrap().unwrap(), b"block a");
    assert_eq!(store.get_required(b.cid()).unwrap(), b.data());
    // A read into a buffer replaces what it held, larger or smaller.
    let mut buffer = vec![0xee; 64];
    assert!(store.get_into(a.cid(), &mut buffer).unwrap());
    assert_eq!(buffer, b"block a");
    assert!(store.get_into(b.cid(), &mut buffer).unwrap());
    assert_eq!(buffer, b.data());
    assert!(!store.get_into(Block::encode(RAW, false, b"absent".to_vec()).cid(), &mut buffer).unwrap());

    // The same bytes under another codec share the multihash and the entry.
    let same_bytes = Cid::new_v1(DAG_PB, *a.cid().hash());
    assert_eq!(store.get(&same_bytes).unwrap().unwrap(), b"block a");

    corrupt(a.cid(), b"block b".to_vec());
    assert!(matches!(store.get(a.cid()), Err(StoreError::Corrupt { .. })));
    store.put(&a).unwrap();
    assert_eq!(store.get(a.cid()).unwrap().unwrap(), b"block a");

    // Many threads writing the same and different blocks at once.
    std::thread::scope(|s| {
        for t in 0..8u8 {
            s.spawn(move || {
                for i in 0..50u8 {
                    store.put(&Block::encode(RAW, false, vec![i; 100])).unwrap();
                    store.put(&Block::encode(RAW, false, vec![t, i])).unwrap();
                }
            });
        }
    });
    for i in 0..50u8 {
        let shared = Block::encode(RAW, false, vec![i; 100]);
        assert_eq!(store.get(shared.cid()).unwrap().unwrap(), shared.data());
        for t in 0..8u8 {
            assert!(store.get(Block::encode(RAW, false, vec![t, i]).cid()).unwrap().is_some());
        }
    }
}
