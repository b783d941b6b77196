//! Asynchronous persistence through the public `RawNode` API: several
//! `Ready`s in flight, durability reported out of step with the log.

use raft::prelude::*;
use raft::storage::MemStorage;
use raft::StateRole;

fn logger() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

fn follower(id: u64, voters: Vec<u64>) -> (RawNode<MemStorage>, MemStorage) {
    let store = MemStorage::new_with_conf_state((voters, vec![]));
    let config = Config {
        election_tick: 10,
        heartbeat_tick: 1,
        rng_seed: Some(id),
        ..Config::new(id)
    };
    let node = RawNode::new(&config, store.clone(), &logger()).unwrap();
    (node, store)
}

fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        data: format!("{index}@{term}").into_bytes().into(),
        ..Default::default()
    }
}

fn append(from: u64, term: u64, index: u64, log_term: u64, entries: Vec<Entry>) -> Message {
    Message {
        msg_type: MessageType::MsgAppend.into(),
        from,
        to: 1,
        term,
        index,
        log_term,
        entries,
        ..Default::default()
    }
}

/// Issues the writes of the next Ready and acknowledges it asynchronously;
/// returns its number and persisted messages.
fn write_async(node: &mut RawNode<MemStorage>, store: &MemStorage) -> (u64, Vec<Message>) {
    let mut rd = node.ready();
    {
        let mut core = store.wl();
        if !rd.snapshot().is_empty() {
            core.apply_snapshot(rd.snapshot().clone()).unwrap();
        }
        core.append(rd.entries()).unwrap();
        if let Some(hs) = rd.hs() {
            core.set_hardstate(hs.clone());
        }
    }
    let number = rd.number();
    let msgs = rd.take_persisted_messages();
    node.advance_append_async(rd);
    (number, msgs)
}

#[test]
fn persisting_a_stale_batch_does_not_mark_newer_entries_persisted() {
    // etcd async_storage_writes_append_aba_race: entries of
    // term 1 are in the write pipeline when a term-2 leader overwrites them.
    let (mut node, store) = follower(1, vec![1, 2, 3]);
    node.step(append(2, 1, 0, 0, vec![entry(1, 1), entry(2, 1)]))
        .unwrap();
    let (first, _) = write_async(&mut node, &store);

    node.step(append(3, 2, 1, 1, vec![entry(2, 2)])).unwrap();
    let (second, msgs) = write_async(&mut node, &store);
    assert!(second > first);
    assert!(
        msgs.iter()
            .all(|m| m.get_msg_type() == MessageType::MsgAppendResponse),
        "{msgs:?}"
    );

    node.on_persist_ready(first);
    assert!(
        node.raft.raft_log.persisted < 2,
        "index 2 of term 1 persisted must not count for index 2 of term 2 (persisted {})",
        node.raft.raft_log.persisted
    );
    node.on_persist_ready(second);
    assert_eq!(node.raft.raft_log.persisted, 2);
}

#[test]
fn on_persist_ready_covers_every_earlier_ready() {
    let (mut node, store) = follower(1, vec![1, 2, 3]);
    let mut numbers = Vec::new();
    for i in 1..=4u64 {
        node.step(append(
            2,
            1,
            i - 1,
            if i == 1 { 0 } else { 1 },
            vec![entry(i, 1)],
        ))
        .unwrap();
        numbers.push(write_async(&mut node, &store).0);
    }
    assert_eq!(
        node.raft.raft_log.persisted, 0,
        "nothing reported durable yet"
    );
    // Reporting only the last one covers the three before it.
    node.on_persist_ready(*numbers.last().unwrap());
    assert_eq!(node.raft.raft_log.persisted, 4);
    // A repeated or older report is harmless.
    node.on_persist_ready(numbers[0]);
    assert_eq!(node.raft.raft_log.persisted, 4);
}

#[test]
fn leader_commits_its_own_entries_only_once_they_are_durable() {
    // A single-voter leader counts its own log only once persisted (thesis
    // §10.2.1 lets it write in parallel, but it is part of the quorum).
    let (mut node, store) = follower(1, vec![1]);
    node.campaign().unwrap();
    assert_eq!(node.raft.state, StateRole::Leader);
    let (election, _) = write_async(&mut node, &store);
    node.propose(vec![], b"x".to_vec()).unwrap();
    let (proposal, _) = write_async(&mut node, &store);
    assert_eq!(node.raft.raft_log.committed, 0);
    node.on_persist_ready(election);
    assert_eq!(node.raft.raft_log.committed, 1);
    node.on_persist_ready(proposal);
    assert_eq!(node.raft.raft_log.committed, 2);
    let mut rd = node.ready();
    assert_eq!(rd.hs().map(|hs| hs.commit), Some(2));
    let applied: Vec<u64> = rd
        .take_committed_entries()
        .iter()
        .map(|e| e.index)
        .collect();
    assert_eq!(applied, vec![1, 2]);
    assert!(!rd.must_sync(), "a commit-only change");
    node.advance_append_async(rd);
    node.advance_apply();
    assert!(!node.has_ready());
}

#[test]
fn snapshot_then_entries_in_flight_are_persisted_in_order() {
    // tikv/raft-rs#417: a snapshot and the entries after it are both in the
    // write pipeline; durability of the snapshot alone must not claim the
    // entries.
    let (mut node, store) = follower(1, vec![1, 2, 3]);
    let mut snapshot = Snapshot::default();
    snapshot.mut_metadata().index = 5;
    snapshot.mut_metadata().term = 1;
    snapshot.mut_metadata().mut_conf_state().voters = vec![1, 2, 3];
    node.step(Message {
        msg_type: MessageType::MsgSnapshot.into(),
        from: 2,
        to: 1,
        term: 1,
        snapshot: Some(snapshot).into(),
        ..Default::default()
    })
    .unwrap();
    let mut rd = node.ready();
    assert_eq!(rd.snapshot().get_metadata().index, 5);
    assert!(rd.must_sync());
    assert!(
        rd.committed_entries().is_empty(),
        "entries under a snapshot are never handed out for apply"
    );
    store.wl().apply_snapshot(rd.snapshot().clone()).unwrap();
    if let Some(hs) = rd.hs() {
        store.wl().set_hardstate(hs.clone());
    }
    let snap_number = rd.number();
    let _ = rd.take_persisted_messages();
    node.advance_append_async(rd);

    node.step(append(2, 1, 5, 1, vec![entry(6, 1), entry(7, 1)]))
        .unwrap();
    let (entries_number, _) = write_async(&mut node, &store);

    node.on_persist_ready(snap_number);
    assert_eq!(node.raft.raft_log.persisted, 5);
    node.on_persist_ready(entries_number);
    assert_eq!(node.raft.raft_log.persisted, 7);
    node.advance_apply_to(5);
    assert_eq!(node.status().applied, 5);
}
