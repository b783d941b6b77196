//! Asynchronous log fetching: a storage may answer a read of entries for a
//! peer's append with `LogTemporarilyUnavailable`, fetch them in the
//! background, and hand the read's context back through
//! `RawNode::on_entries_fetched`; replication to that peer waits meanwhile
//! and resumes then.

mod test_util;

use harness::*;
use raft::eraftpb::*;
use raft::storage::MemStorage;
use raft::*;
use test_util::*;

/// Replication to a peer whose entries must be fetched waits; after the
/// fetch completes and the context is handed back, the append goes out.
#[test]
fn replication_waits_for_an_async_fetch_and_resumes_after_it() {
    let (mut node, storage) = leader_node();
    storage.wl().trigger_log_unavailable(true);

    // Node 2 rejects the probe at 5 and hints that it holds up to 2.
    node.step(reject(2, 5, 2, 1)).unwrap();
    assert!(
        appends_to(&mut node, 2).is_empty(),
        "an append was built without the entries"
    );
    let pr = node.raft.prs().get(2).unwrap().clone();
    assert_eq!(pr.next_idx, 3);
    assert_ne!(pr.state, ProgressState::Snapshot, "fell back to a snapshot");

    let ctx = storage
        .wl()
        .take_get_entries_context()
        .expect("the refused read's context is kept");
    assert!(ctx.can_async());

    // Handing the context back while the entries are still unavailable
    // sends nothing and keeps waiting.
    node.on_entries_fetched(ctx);
    assert!(appends_to(&mut node, 2).is_empty());
    let ctx = storage
        .wl()
        .take_get_entries_context()
        .expect("the retried read is refused again");

    storage.wl().trigger_log_unavailable(false);
    node.on_entries_fetched(ctx);
    let appends = appends_to(&mut node, 2);
    assert_eq!(appends.len(), 1);
    assert_eq!((appends[0].index, appends[0].log_term), (2, 1));
    let indexes: Vec<u64> = appends[0].entries.iter().map(|e| e.index).collect();
    assert_eq!(indexes, vec![3, 4, 5, 6]);
    assert_eq!(appends[0].commit, node.raft.raft_log.committed);
}

/// While one peer waits for a fetch, the others keep replicating and the
/// leader keeps committing.
#[test]
fn a_pending_fetch_for_one_peer_does_not_stall_the_others() {
    let (mut node, storage) = leader_node();
    storage.wl().trigger_log_unavailable(true);
    node.step(reject(2, 5, 2, 1)).unwrap();
    let ctx = storage.wl().take_get_entries_context().unwrap();
    let term = node.raft.term;

    // Node 3 holds everything: the leader's entry of this term commits.
    node.step(accept(3, term, 6)).unwrap();
    assert_eq!(node.raft.raft_log.committed, 6);

    node.propose(vec![], b"new".to_vec()).unwrap();
    persist_all(&mut node, &storage);
    let to_3 = appends_to(&mut node, 3);
    assert!(
        to_3.iter().any(|m| m.entries.iter().any(|e| e.index == 7)),
        "{to_3:?}"
    );
    node.step(accept(3, term, 7)).unwrap();
    persist_all(&mut node, &storage);
    assert_eq!(node.raft.raft_log.committed, 7);
    assert!(appends_to(&mut node, 2).is_empty());

    storage.wl().trigger_log_unavailable(false);
    node.on_entries_fetched(ctx);
    let to_2 = appends_to(&mut node, 2);
    assert_eq!(to_2.len(), 1);
    assert_eq!(to_2[0].index, 2);
    assert_eq!(to_2[0].entries.last().unwrap().index, 7);
}

/// A fetch started in an earlier leadership is dropped when it completes.
#[test]
fn fetch_completed_after_losing_leadership_sends_nothing() {
    let (mut node, storage) = leader_node();
    storage.wl().trigger_log_unavailable(true);
    node.step(reject(2, 5, 2, 1)).unwrap();
    let ctx = storage.wl().take_get_entries_context().unwrap();

    let mut hb = new_message(3, 1, MessageType::MsgHeartbeat, 0);
    hb.term = node.raft.term + 1;
    node.step(hb).unwrap();
    assert_eq!(node.raft.state, StateRole::Follower);
    drop_messages(&mut node, &storage);

    storage.wl().trigger_log_unavailable(false);
    node.on_entries_fetched(ctx);
    let rd = node.ready();
    assert!(
        rd.messages()
            .iter()
            .chain(rd.persisted_messages())
            .all(|m| m.msg_type() != MessageType::MsgAppend),
        "a follower sent appends"
    );
}

/// Reads that may not be asynchronous (committed entries for a Ready) are
/// served while the storage refuses asynchronous ones.
#[test]
fn committed_entries_are_handed_out_while_async_reads_are_refused() {
    let storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1, 1, 1]), 1);
    storage.wl().set_hardstate(hard_state(1, 3, 0));
    storage.wl().trigger_log_unavailable(true);
    let mut node = TestRaft::builder(1).storage(storage.clone()).raw_node();
    let mut rd = node.ready();
    let applied: Vec<u64> = rd
        .take_committed_entries()
        .iter()
        .map(|e| e.index)
        .collect();
    assert_eq!(applied, vec![1, 2, 3]);
    node.advance(rd);
    assert!(storage.wl().take_get_entries_context().is_none());
}

/// Through the network: while the leader's storage refuses asynchronous
/// reads, a lagging follower is not sent a snapshot in their place, and it
/// catches up by ordinary appends once the storage answers again.
#[test]
fn lagging_follower_waits_for_the_fetch_instead_of_getting_a_snapshot() {
    let mut network = Network::new(vec![None, None, None], &test_logger());
    network.send(vec![hup(1)]);
    network.isolate(3);
    for i in 0..4 {
        network.send(vec![propose(1, &format!("p{i}"))]);
    }
    network.recover();
    network.storage[&1].wl().trigger_log_unavailable(true);
    let delivered = send_observed(&mut network, vec![beat(1)]);
    assert!(of_type(&delivered, MessageType::MsgSnapshot).is_empty());
    assert_eq!(network.peers[&3].raft_log.last_index(), 1);
    assert!(network.storage[&1]
        .wl()
        .take_get_entries_context()
        .is_some());

    network.storage[&1].wl().trigger_log_unavailable(false);
    let delivered = send_observed(&mut network, vec![beat(1)]);
    assert!(of_type(&delivered, MessageType::MsgSnapshot).is_empty());
    assert_eq!(
        network.peers[&3].raft_log.last_index(),
        network.peers[&1].raft_log.last_index()
    );
}

// ---- helpers ----

/// Node 1, leader of {1, 2, 3} in term 2 over a log 1..=5 of term 1
/// (committed) and its own empty entry 6, everything persisted. The
/// followers' progress is in probe at next index 6.
fn leader_node() -> (RawNode<MemStorage>, MemStorage) {
    let storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1, 1, 1, 1, 1]), 1);
    storage.wl().set_hardstate(hard_state(1, 5, 0));
    let mut node = TestRaft::builder(1).storage(storage.clone()).raw_node();
    node.raft.become_candidate();
    node.raft.become_leader();
    persist_all(&mut node, &storage);
    assert_eq!(node.raft.term, 2);
    assert_eq!(node.raft.raft_log.persisted, 6);
    for id in [2, 3] {
        assert_eq!(node.raft.prs().get(id).unwrap().next_idx, 6);
    }
    (node, storage)
}

/// Persists and applies every Ready, keeping the outgoing messages queued
/// in the node's raft (so the test can inspect them).
fn persist_all(node: &mut RawNode<MemStorage>, storage: &MemStorage) {
    let kept = handle_readies(node, storage).messages;
    node.raft.msgs.extend(kept);
}

fn drop_messages(node: &mut RawNode<MemStorage>, storage: &MemStorage) {
    persist_all(node, storage);
    node.raft.msgs.clear();
}

/// The MsgAppends to `to` the node has queued (taken; other messages are
/// dropped).
fn appends_to(node: &mut RawNode<MemStorage>, to: u64) -> Vec<Message> {
    let mut msgs = std::mem::take(&mut node.raft.msgs);
    if node.has_ready() {
        let mut rd = node.ready();
        msgs.extend(rd.take_messages());
        msgs.extend(rd.take_persisted_messages());
        node.advance_append_async(rd);
    }
    msgs.into_iter()
        .filter(|m| m.to == to && m.msg_type() == MessageType::MsgAppend)
        .collect()
}

/// A rejection from `from` of the append at `index`, hinting that it holds
/// up to `hint` with `hint_term` there.
fn reject(from: u64, index: u64, hint: u64, hint_term: u64) -> Message {
    let mut m = new_message(from, 1, MessageType::MsgAppendResponse, 0);
    m.term = 2;
    m.index = index;
    m.reject = true;
    m.reject_hint = hint;
    m.log_term = hint_term;
    m
}

fn accept(from: u64, term: u64, index: u64) -> Message {
    let mut m = new_message(from, 1, MessageType::MsgAppendResponse, 0);
    m.term = term;
    m.index = index;
    m
}
