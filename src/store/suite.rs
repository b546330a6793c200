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
    // A block held in the pieces it arrived in (empty ones included) is
    // stored as its bytes joined.
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
    let cid = *Block::encode(RAW, false, bytes.clone()).cid();
    let cuts = [0, 1, 1, 65_536, 131_072, 199_999, 200_000];
    let pieces = cuts.windows(2).map(|w| bytes::Bytes::copy_from_slice(&bytes[w[0]..w[1]])).collect();
    store.put(&Block::from_pieces(cid, pieces).unwrap()).unwrap();
    assert_eq!(store.get(&cid).unwrap().unwrap(), bytes);
    assert_eq!(store.get(a.cid()).unwrap().unwrap(), b"block a");
    assert_eq!(store.get_required(b.cid()).unwrap(), b.data());
    // A read into memory the caller hands out: a store that asks for it
    // asks for the block's length, and only the block's bytes are there.
    let mut asked = Vec::new();
    let mut alloc = |len: usize| {
        asked.push(len);
        let mut buffer = Vec::with_capacity(len.max(64));
        buffer.extend_from_slice(&[0xee; 64]);
        buffer
    };
    assert_eq!(store.get_with(a.cid(), &mut alloc).unwrap().unwrap(), b"block a");
    assert_eq!(store.get_with(b.cid(), &mut alloc).unwrap().unwrap(), b.data());
    assert_eq!(store.get_with(Block::encode(RAW, false, b"absent".to_vec()).cid(), &mut alloc).unwrap(), None);
    assert!(asked.is_empty() || asked == [a.data().len(), b.data().len()], "asked for {asked:?}");

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
