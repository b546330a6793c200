//! Contract tests: the push against [`KuboReplay`], which answers as the
//! kubo RPC reference documents. Each test also checks what was sent.

use super::*;
use crate::formats::block::parse_cid;
use crate::store::gateway::test_server::{fixture_blocks, HELLO, MULTIBLOCK, ROOT};
use crate::store::kubo::replay::KuboReplay;
use crate::store::{KuboOptions, MemoryStore};
use std::time::Duration;

fn store(node: &KuboReplay) -> KuboStore {
    KuboStore::connect(node.url(), KuboOptions { timeout: Duration::from_secs(2), offline: false }).unwrap()
}

fn local_with_fixture() -> MemoryStore {
    let local = MemoryStore::new();
    for block in fixture_blocks() {
        local.put(&block).unwrap();
    }
    local
}

#[test]
fn contract_push_sends_what_the_node_lacks_and_pins_every_root() {
    let node = KuboReplay::start();
    let kubo = store(&node);
    let local = local_with_fixture();
    let blocks = fixture_blocks();
    let total: u64 = blocks.iter().map(|b| b.len() as u64).sum();
    let hello = parse_cid(HELLO).unwrap();
    node.hold(&[Block::verified(hello, b"hello world\n".to_vec())]);

    let root = parse_cid(ROOT).unwrap();
    let pushed = push(&local, &kubo, &[root], &[]).unwrap();
    assert_eq!(pushed.pinned, 1);
    assert_eq!(pushed.blocks, blocks.len() as u64 - 1, "hello.txt was in the node already");
    assert_eq!(pushed.bytes, total - 12);
    assert!(blocks.iter().all(|b| node.holds(b.cid())));
    assert_eq!(node.pins(), [root].into());
    let import = node.seen().into_iter().find(|s| s.path == "/api/v0/dag/import").unwrap();
    assert_eq!(import.param("pin-roots"), Some("true"));
    assert_eq!(import.files, ["file"]);

    // Again: the root is there, nothing is sent, the root is pinned again.
    let again = push(&local, &kubo, &[root], &[parse_cid(MULTIBLOCK).unwrap()]).unwrap();
    assert_eq!(again, Pushed { pinned: 2, ..Pushed::default() });
}

#[test]
fn contract_push_sends_a_dag_whole_when_the_node_held_only_its_root() {
    let node = KuboReplay::start();
    let kubo = store(&node);
    let local = local_with_fixture();
    let root = parse_cid(ROOT).unwrap();
    node.hold(&[Block::verified(root, local.get(&root).unwrap().unwrap())]);
    let pushed = push(&local, &kubo, &[root], &[]).unwrap();
    assert_eq!(pushed.pinned, 1);
    assert_eq!(pushed.blocks, fixture_blocks().len() as u64);
    assert_eq!(node.pins(), [root].into());
    assert_eq!(node.seen().iter().filter(|s| s.path == "/api/v0/dag/import").count(), 2);
}

#[test]
fn contract_push_of_an_incomplete_local_dag_names_the_block_and_pins_nothing() {
    let node = KuboReplay::start();
    let kubo = store(&node);
    let local = MemoryStore::new();
    let multiblock = parse_cid(MULTIBLOCK).unwrap();
    let node_block = fixture_blocks().into_iter().find(|b| b.cid() == &multiblock).unwrap();
    local.put(&node_block).unwrap();
    let err = push(&local, &kubo, &[multiblock], &[]).unwrap_err();
    assert!(matches!(err, PushError::Local { .. }), "{err:?}");
    assert!(err.to_string().contains("is not in the store"), "{err}");
    assert!(node.pins().is_empty());

    // Optional, it is left out, and a complete root beside it is pushed.
    let hello = Block::verified(parse_cid(HELLO).unwrap(), b"hello world\n".to_vec());
    local.put(&hello).unwrap();
    let pushed = push(&local, &kubo, &[*hello.cid()], &[multiblock]).unwrap();
    assert_eq!(pushed, Pushed { pinned: 1, blocks: 1, bytes: 12, incomplete: vec![multiblock] });
    assert_eq!(node.pins(), [*hello.cid()].into());
    assert!(!node.holds(&multiblock), "no block of the left-out DAG is sent");
}
