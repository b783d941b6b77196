//! A follower that asked for a snapshot (`RawNode::request_snapshot`) and
//! receives one it already holds as its log's base.

mod test_util;

use raft::eraftpb::*;
use raft::storage::MemStorage;
use raft::*;
use test_util::*;

/// A snapshot at `index` of term 1 from leader 1 to node 2, in term 1.
fn snapshot_from_leader(index: u64) -> Message {
    let mut m = new_message(1, 2, MessageType::MsgSnapshot, 0);
    m.term = 1;
    m.snapshot = Some(new_snapshot(index, 1, vec![1, 2, 3])).into();
    m
}

/// Handles a `Ready` the way the contract asks: snapshot and entries to the
/// storage, then `advance`. Returns the messages to send.
fn handle_ready(node: &mut RawNode<MemStorage>, storage: &MemStorage) -> Vec<Message> {
    let mut rd = node.ready();
    if !rd.snapshot().is_empty() {
        let index = rd.snapshot().get_metadata().index;
        storage
            .wl()
            .apply_snapshot(rd.snapshot().clone())
            .unwrap_or_else(|e| panic!("the snapshot at {index} handed out was refused: {e}"));
    }
    storage.wl().append(rd.entries()).unwrap();
    if let Some(hs) = rd.hs() {
        storage.wl().set_hardstate(hs.clone());
    }
    let mut messages = rd.take_messages();
    messages.extend(rd.take_persisted_messages());
    node.advance(rd);
    messages
}

/// Node 2 of {1, 2, 3}, following 1 in term 1, restored from a snapshot at
/// 5 and asking for a snapshot of its whole log (index 5).
fn follower_asking_for_a_snapshot() -> (RawNode<MemStorage>, MemStorage) {
    let storage = new_storage(vec![1, 2, 3]);
    let mut node = RawNode::new(
        &TestRaft::builder(2).config(),
        storage.clone(),
        &test_logger(),
    )
    .expect("raw node");
    node.step(snapshot_from_leader(5)).unwrap();
    handle_ready(&mut node, &storage);
    assert_eq!(storage.first_index().unwrap(), 6);
    node.request_snapshot().unwrap();
    assert_eq!(node.raft.pending_request_snapshot, 5);
    let asked = handle_ready(&mut node, &storage);
    assert!(asked.iter().any(|m| m.request_snapshot == 5), "{asked:?}");
    (node, storage)
}

// Found by the storage_faults fuzz target: the node restored the same
// snapshot a second time, and the next Ready handed out a snapshot that is
// not past the storage's first index, which MemStorage refuses (raft-rs 0.7
// behaves the same way).
#[test]
fn a_requested_snapshot_already_at_the_log_base_is_not_handed_out_again() {
    let (mut node, storage) = follower_asking_for_a_snapshot();
    node.step(snapshot_from_leader(5)).unwrap();
    assert!(node.raft.snap().is_none());
    assert_eq!(node.raft.pending_request_snapshot, INVALID_INDEX);
    let answer = handle_ready(&mut node, &storage);
    assert_eq!(answer.len(), 1, "{answer:?}");
    assert_eq!(answer[0].get_msg_type(), MessageType::MsgAppendResponse);
    assert_eq!((answer[0].index, answer[0].reject), (5, false));

    // The request is settled: the next append is taken, not answered with
    // another snapshot request.
    let mut app = new_message(1, 2, MessageType::MsgAppend, 0);
    app.term = 1;
    app.index = 5;
    app.log_term = 1;
    app.commit = 6;
    app.entries = vec![new_entry(1, 6, Some("a"))];
    node.step(app).unwrap();
    let acks = handle_ready(&mut node, &storage);
    assert_eq!(acks.len(), 1, "{acks:?}");
    assert_eq!((acks[0].index, acks[0].reject), (6, false));
    assert_eq!(node.raft.raft_log.committed, 6);
}

// A newer snapshot still rebuilds the requester's log, as before.
#[test]
fn a_requested_snapshot_past_the_log_base_is_installed() {
    let (mut node, storage) = follower_asking_for_a_snapshot();
    node.step(snapshot_from_leader(7)).unwrap();
    assert_eq!(node.raft.snap().map(|s| s.get_metadata().index), Some(7));
    assert_eq!(node.raft.pending_request_snapshot, INVALID_INDEX);
    handle_ready(&mut node, &storage);
    assert_eq!(storage.first_index().unwrap(), 8);
}
