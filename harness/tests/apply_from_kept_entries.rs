//! Committed entries handed out for apply are the log's entries, whichever
//! way the core gets them: `RawNode` hands out the entries that came back
//! with their `Ready` (moved, not read back from the storage), but only while
//! they are still the log's; entries replaced after being handed out, or
//! taken by the application, are read from the storage. And a leader with
//! `batch_append` merges proposals into the queued append exactly up to
//! `max_size_per_msg`, however the size of the queued part is tracked.

use protobuf::Message as PbMessage;
use raft::eraftpb::{ConfState, Entry, Message, MessageType};
use raft::storage::MemStorage;
use raft::{Config, GetEntriesContext, RawNode, Ready, Storage};
use slog::{o, Discard, Logger};

fn logger() -> Logger {
    Logger::root(Discard, o!())
}

/// Node `id` of the voters 1, 2 and 3, with an empty log.
fn node(id: u64, configure: impl FnOnce(&mut Config)) -> RawNode<MemStorage> {
    let mut config = Config {
        id,
        election_tick: 10,
        heartbeat_tick: 1,
        rng_seed: Some(id),
        ..Default::default()
    };
    configure(&mut config);
    let storage = MemStorage::new_with_conf_state(ConfState::from((vec![1, 2, 3], vec![])));
    RawNode::new(&config, storage, &logger()).expect("valid config")
}

fn entry(index: u64, term: u64, data: &str) -> Entry {
    Entry {
        index,
        term,
        data: data.as_bytes().to_vec().into(),
        ..Default::default()
    }
}

/// An append from `from` in `term`, after the entry `(index, log_term)`.
fn append(
    from: u64,
    term: u64,
    index: u64,
    log_term: u64,
    entries: Vec<Entry>,
    commit: u64,
) -> Message {
    Message {
        msg_type: MessageType::MsgAppend.into(),
        from,
        to: 2,
        term,
        index,
        log_term,
        entries,
        commit,
        ..Default::default()
    }
}

/// Writes what `rd` asks to persist, as the driver contract says.
fn persist(node: &RawNode<MemStorage>, rd: &Ready) {
    let mut store = node.store().wl();
    store.append(rd.entries()).unwrap();
    if let Some(hs) = rd.hs() {
        store.set_hardstate(hs.clone());
    }
}

/// Takes the next `Ready`, persists it and advances; returns every committed
/// entry handed out on the way.
fn handle_ready(node: &mut RawNode<MemStorage>) -> Vec<Entry> {
    let mut rd = node.ready();
    persist(node, &rd);
    let mut committed = rd.take_committed_entries();
    let mut light = node.advance(rd);
    committed.extend(light.take_committed_entries());
    node.advance_apply();
    committed
}

/// (index, term, data) of each entry.
fn summary(entries: &[Entry]) -> Vec<(u64, u64, String)> {
    entries
        .iter()
        .map(|e| (e.index, e.term, String::from_utf8(e.data.to_vec()).unwrap()))
        .collect()
}

/// Entries of term 1 at 1..=3, the replacement of 2..=3 by a leader of term 2.
fn old_entries() -> Vec<Entry> {
    vec![entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 1, "c")]
}

fn new_entries() -> Vec<Entry> {
    vec![entry(2, 2, "B"), entry(3, 2, "C")]
}

fn expected() -> Vec<(u64, u64, String)> {
    summary(&[entry(1, 1, "a"), entry(2, 2, "B"), entry(3, 2, "C")])
}

/// Commits 3 from the leader of term 2 and returns what the follower applies.
fn commit_and_apply(follower: &mut RawNode<MemStorage>) -> Vec<Entry> {
    follower.step(append(3, 2, 3, 2, vec![], 3)).unwrap();
    let mut applied = vec![];
    while follower.has_ready() {
        applied.extend(handle_ready(follower));
    }
    applied
}

#[test]
fn entries_replaced_before_their_ready_is_advanced_are_not_applied() {
    let mut follower = node(2, |_| {});
    follower.step(append(1, 1, 0, 0, old_entries(), 0)).unwrap();
    let rd = follower.ready();
    persist(&follower, &rd);
    // A new leader replaces 2..=3 before the application advances `rd`.
    follower.step(append(3, 2, 1, 1, new_entries(), 0)).unwrap();
    let _ = follower.advance(rd);
    follower.advance_apply();
    while follower.has_ready() {
        assert!(handle_ready(&mut follower).is_empty());
    }
    let applied = commit_and_apply(&mut follower);
    assert_eq!(summary(&applied), expected());
    let stored = follower
        .store()
        .entries(1, 4, None, GetEntriesContext::empty(false))
        .unwrap();
    assert_eq!(summary(&stored), expected());
}

#[test]
fn entries_replaced_after_their_ready_is_advanced_are_not_applied() {
    let mut follower = node(2, |_| {});
    follower.step(append(1, 1, 0, 0, old_entries(), 0)).unwrap();
    assert!(handle_ready(&mut follower).is_empty());
    follower.step(append(3, 2, 1, 1, new_entries(), 0)).unwrap();
    assert!(handle_ready(&mut follower).is_empty());
    let applied = commit_and_apply(&mut follower);
    assert_eq!(summary(&applied), expected());
}

#[test]
fn entries_the_application_took_from_the_ready_are_still_applied() {
    let mut follower = node(2, |_| {});
    follower.step(append(1, 1, 0, 0, old_entries(), 0)).unwrap();
    let mut rd = follower.ready();
    persist(&follower, &rd);
    assert_eq!(rd.take_entries().len(), 3);
    let _ = follower.advance(rd);
    follower.advance_apply();
    follower.step(append(1, 1, 3, 1, vec![], 3)).unwrap();
    let mut applied = vec![];
    while follower.has_ready() {
        applied.extend(handle_ready(&mut follower));
    }
    assert_eq!(summary(&applied), summary(&old_entries()));
}

#[test]
fn kept_entries_are_paged_by_max_committed_size_per_ready() {
    let mut follower = node(2, |config| config.max_committed_size_per_ready = 0);
    follower.step(append(1, 1, 0, 0, old_entries(), 0)).unwrap();
    assert!(handle_ready(&mut follower).is_empty());
    follower.step(append(1, 1, 3, 1, vec![], 3)).unwrap();
    let mut pages = vec![];
    while follower.has_ready() {
        let mut rd = follower.ready();
        persist(&follower, &rd);
        pages.push(summary(&rd.take_committed_entries()));
        let mut light = follower.advance(rd);
        pages.push(summary(&light.take_committed_entries()));
        follower.advance_apply();
    }
    pages.retain(|page| !page.is_empty());
    // A zero limit hands out one entry per page.
    let expected: Vec<_> = old_entries()
        .iter()
        .map(|e| summary(std::slice::from_ref(e)))
        .collect();
    assert_eq!(pages, expected);
}

/// A leader of 1, 2, 3 with `batch_append` on and the given message size
/// limit, with its first entry committed everywhere.
fn batching_leader(max_size_per_msg: u64) -> RawNode<MemStorage> {
    let mut leader = node(1, |config| {
        config.batch_append = true;
        config.max_size_per_msg = max_size_per_msg;
        config.max_inflight_msgs = 1024;
    });
    leader.campaign().unwrap();
    for from in [2, 3] {
        let vote = Message {
            msg_type: MessageType::MsgRequestVoteResponse.into(),
            from,
            to: 1,
            term: 1,
            ..Default::default()
        };
        leader.step(vote).unwrap();
    }
    let _ = handle_ready(&mut leader);
    for from in [2, 3] {
        let ack = Message {
            msg_type: MessageType::MsgAppendResponse.into(),
            from,
            to: 1,
            term: 1,
            index: 1,
            ..Default::default()
        };
        leader.step(ack).unwrap();
    }
    while leader.has_ready() {
        let _ = handle_ready(&mut leader);
    }
    leader
}

#[test]
fn batch_append_merges_proposals_exactly_up_to_the_message_size_limit() {
    let max = 600;
    let mut leader = batching_leader(max);
    // Payloads of varied sizes, from empty to larger than the limit alone.
    let sizes: Vec<usize> = (0..200)
        .map(|i| (i * 37) % 130 + if i % 50 == 7 { 700 } else { 0 })
        .collect();
    for (i, size) in sizes.iter().enumerate() {
        leader.propose(vec![], vec![i as u8; *size]).unwrap();
    }
    let mut rd = leader.ready();
    let messages = rd.take_messages();
    persist(&leader, &rd);
    let _ = leader.advance(rd);
    for to in [2, 3] {
        let appends: Vec<&Message> = messages
            .iter()
            .filter(|m| m.to == to && m.msg_type() == MessageType::MsgAppend)
            .collect();
        assert!(appends.len() > 1, "nothing was split for {to}");
        let mut next = 2;
        for (k, m) in appends.iter().enumerate() {
            assert_eq!(m.index + 1, m.entries[0].index, "append {k} to {to}");
            for e in &m.entries {
                assert_eq!(e.index, next, "append {k} to {to}");
                next += 1;
            }
            let size: u64 = m.entries.iter().map(|e| e.compute_size()).sum();
            assert!(
                m.entries.len() == 1 || size <= max,
                "append {k} to {to}: {size} bytes"
            );
            // The next append starts where this one could not grow.
            if let Some(following) = appends.get(k + 1) {
                let grown = size + following.entries[0].compute_size();
                assert!(
                    grown > max,
                    "append {k} to {to} could have taken one more ({grown} bytes)"
                );
            }
        }
        assert_eq!(next, 2 + sizes.len() as u64, "every proposal sent to {to}");
    }
}
