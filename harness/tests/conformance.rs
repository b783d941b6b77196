//! Conformance with the behaviour raft-rs 0.7 and etcd's raft document,
//! where an outside review found this core differing. One test per finding,
//! named by the behaviour it pins; the comment above each describes the
//! scenario.

mod test_util;

use harness::*;
use raft::eraftpb::*;
use raft::storage::MemStorage;
use raft::*;
use test_util::*;

/// A `MsgReadIndex` as the application's `read_index` steps it: no sender,
/// no term, the request context in its single entry.
fn read_request(to: u64, ctx: &[u8]) -> Message {
    let mut m = new_message(0, to, MessageType::MsgReadIndex, 0);
    m.entries.push(new_entry(0, 0, None));
    m.entries[0].data = ctx.to_vec().into();
    m
}

// A read issued on node 3, whose leader hint is stale (it names 2), goes 3 ->
// 2 -> 1. A forwarding node keeps the original sender, as raft-rs and etcd
// do (they fill `from` only when it is unset): the leader answers 3, the
// node that asked, and 2 gets no answer it never asked for.
#[test]
fn forwarded_read_is_answered_to_the_node_that_asked() {
    let mut network = elected(3);
    network.peers.get_mut(&3).unwrap().leader_id = 2;
    network.send(vec![read_request(3, b"ctx")]);

    let asked = &network.peers[&3].read_states;
    assert_eq!(asked.len(), 1, "the asking node got {asked:?}");
    assert_eq!(asked[0].request_ctx, b"ctx".to_vec());
    assert_eq!(asked[0].index, network.peers[&1].raft_log.committed);
    let forwarder = &network.peers[&2].read_states;
    assert!(
        forwarder.is_empty(),
        "the forwarding node got {forwarder:?}"
    );
}

// A fresh group with pre-vote and unequal priorities: node 1 (priority 1)
// campaigns at term 0, and nodes 2 and 3 (priority 5) reject it on priority
// while their own term is still 0. The rejection must carry a term (a vote
// response without one is dropped, and the sender refused to build one and
// panicked): nothing a peer sends may panic a node. Node 1 stays a
// follower, and a higher-priority node wins afterwards.
#[test]
fn pre_vote_rejected_on_priority_at_term_zero_does_not_panic() {
    let mut config = Network::default_config();
    config.pre_vote = true;
    let mut network = Network::new_with_config(vec![None, None, None], &config, &test_logger());
    network.peers.get_mut(&1).unwrap().set_priority(1);
    for id in [2, 3] {
        network.peers.get_mut(&id).unwrap().set_priority(5);
    }
    network.send(vec![hup(1)]);
    assert_ne!(network.peers[&1].state, StateRole::Leader);
    assert!(leaders(&network).is_empty());

    network.send(vec![hup(2)]);
    assert_eq!(leaders(&network), vec![2]);
}

// Node 2 asks for a snapshot; the request is lost. It then wins an election
// (term 2) and later steps down when node 1 wins term 3. A request made as a
// follower means nothing to a leader: raft-rs clears it on becoming
// candidate or leader. Kept, it sits below the commit index and leader and
// follower exchange refused snapshots instead of appends: the follower stops
// advancing.
#[test]
fn pending_snapshot_request_is_dropped_on_becoming_candidate() {
    let mut network = elected(3);
    let follower = network.peers.get_mut(&2).unwrap();
    follower.request_snapshot().unwrap();
    follower.read_messages();

    network.send(vec![hup(2)]);
    assert_eq!(leaders(&network), vec![2]);
    assert_eq!(network.peers[&2].pending_request_snapshot, INVALID_INDEX);
    network.send(vec![propose(2, "under 2")]);

    network.send(vec![hup(1)]);
    assert_eq!(leaders(&network), vec![1]);
    network.send(vec![propose(1, "under 1")]);
    network.send(vec![beat(1)]);
    let leader_log = log_shape(&network.peers[&1].raft_log);
    assert_eq!(log_shape(&network.peers[&2].raft_log), leader_log);
    assert_eq!(
        network.peers[&2].raft_log.committed,
        network.peers[&1].raft_log.committed
    );
}

fn remove_voter(id: u64) -> ConfChangeV2 {
    let mut cc = ConfChangeV2::default();
    cc.changes.push(raft_proto::new_conf_change_single(
        id,
        ConfChangeType::RemoveNode,
    ));
    cc
}

// A four-voter group: the leader's read is acknowledged by itself and node 2
// only (3 and 4 are cut off), two of four, no quorum. Removing voter 4
// leaves three voters, of which those two acknowledgements are a quorum:
// the read is confirmed then (raft-rs re-checks pending reads after a
// configuration change), not held while later reads overtake it.
#[test]
fn pending_read_is_released_when_the_quorum_shrinks() {
    let mut network = elected(4);
    network.cut(1, 3);
    network.cut(1, 4);
    network.send(vec![read_request(1, b"early")]);
    assert_eq!(network.peers[&1].pending_read_count(), 1);
    assert!(network.peers[&1].read_states.is_empty());

    let leader = network.peers.get_mut(&1).unwrap();
    leader.apply_conf_change(&remove_voter(4)).unwrap();
    let msgs = leader.read_messages();
    network.filter_and_send(msgs);
    let states = &network.peers[&1].read_states;
    assert_eq!(states.len(), 1, "{states:?}");
    assert_eq!(states[0].request_ctx, b"early".to_vec());
    assert_eq!(network.peers[&1].pending_read_count(), 0);
}

// A read retried with the context of a read still pending (its heartbeat
// round was lost) must start a heartbeat round at once, as raft-rs and etcd
// do, rather than wait for the next heartbeat tick.
#[test]
fn retried_read_sends_a_heartbeat_round() {
    let mut network = elected(3);
    let leader = network.peers.get_mut(&1).unwrap();
    leader.step(read_request(1, b"retry")).unwrap();
    let first = of_type(&leader.read_messages(), MessageType::MsgHeartbeat);
    assert_eq!(first.len(), 2, "the first attempt sends a round");

    leader.step(read_request(1, b"retry")).unwrap();
    let retry = of_type(&leader.read_messages(), MessageType::MsgHeartbeat);
    assert_eq!(retry.len(), 2, "the retry sent no heartbeat round");
    network.send(retry);
    let states = &network.peers[&1].read_states;
    assert_eq!(states.len(), 1, "{states:?}");
    assert_eq!(states[0].request_ctx, b"retry".to_vec());
}

/// A follower at term 2 whose log holds `1@1, 2@2, 3@2` with only index 1
/// committed.
fn follower_with_uncommitted_tail() -> Interface {
    let storage = storage_with_log(
        vec![1, 2, 3],
        &[empty_entry(1, 1), empty_entry(2, 2), empty_entry(2, 3)],
        2,
    );
    storage.wl().mut_hard_state().commit = 1;
    let mut node = TestRaft::builder(2)
        .voters([1, 2, 3])
        .storage(storage)
        .build();
    node.become_follower(2, 1);
    node
}

fn read_response(term: u64, index: u64) -> Message {
    let mut m = new_message(1, 2, MessageType::MsgReadIndexResp, 0);
    m.term = term;
    m.index = index;
    m.entries.push(new_entry(0, 0, Some("ctx")));
    m
}

// The leader answers a forwarded read with its commit index. A follower that
// holds the entry at that index in the leader's term knows (Log Matching,
// §5.3) that its log up to there is the leader's, committed: raft-rs
// advances its commit there, saving a round trip. Never past its own last
// index, and not when the term there differs.
#[test]
fn follower_learns_the_commit_index_from_a_read_response() {
    let mut node = follower_with_uncommitted_tail();
    node.step(read_response(2, 2)).unwrap();
    assert_eq!(node.raft_log.committed, 2);
    assert_eq!(node.read_states.len(), 1);

    // Past the last index: the read is handed out, the commit does not move.
    let mut node = follower_with_uncommitted_tail();
    node.step(read_response(2, 7)).unwrap();
    assert_eq!(node.raft_log.committed, 1);
    assert_eq!(node.read_states.len(), 1);

    // The entry at the read index is of an earlier term than the leader's:
    // it may not be the leader's entry.
    let mut node = follower_with_uncommitted_tail();
    node.become_follower(3, 1);
    node.step(read_response(3, 3)).unwrap();
    assert_eq!(node.raft_log.committed, 1);
}

// A heartbeat's commit index is at most what the leader knows the follower
// holds; one past the follower's last index is malformed, or means the
// follower lost data. Clamping it would commit whatever the follower holds
// there, which need not be the leader's entries (a heartbeat names no
// entry). The follower ignores that commit and still answers.
#[test]
fn heartbeat_commit_past_the_last_index_is_ignored() {
    let mut node = follower_with_uncommitted_tail();
    let mut m = new_message(1, 2, MessageType::MsgHeartbeat, 0);
    m.term = 2;
    m.commit = 9;
    node.step(m).unwrap();
    assert_eq!(node.raft_log.committed, 1);
    let resps = of_type(&node.read_messages(), MessageType::MsgHeartbeatResponse);
    assert_eq!(resps.len(), 1);
}

// Only requests the application steps (proposals, reads, transfer requests)
// and local messages may come without a term. Any other message from a
// peer without one is malformed, and dropped: here an acknowledgement that
// would otherwise move the leader's progress of node 2.
#[test]
fn peer_messages_without_a_term_are_dropped() {
    let mut network = elected(3);
    let leader = network.peers.get_mut(&1).unwrap();
    leader.step(propose(1, "x")).unwrap();
    leader.read_messages();
    let before = leader.prs().get(2).unwrap().clone();
    let last = leader.raft_log.last_index();
    for t in [
        MessageType::MsgAppendResponse,
        MessageType::MsgHeartbeatResponse,
    ] {
        let mut m = new_message(2, 1, t, 0);
        m.index = last;
        m.commit = last;
        leader.step(m).unwrap();
    }
    assert_eq!(leader.prs().get(2).unwrap(), &before);
    assert!(leader.read_messages().is_empty());
}

/// Three `RawNode`s with `batch_append`, node 1 elected, every message
/// delivered and every `Ready` handled until the group is quiet.
struct RawGroup {
    nodes: std::collections::BTreeMap<u64, RawNode<MemStorage>>,
}

impl RawGroup {
    fn new(max_size_per_msg: u64) -> RawGroup {
        let mut nodes = std::collections::BTreeMap::new();
        for id in 1..=3 {
            let node = TestRaft::builder(id)
                .voters([1, 2, 3])
                .configure(|c| {
                    c.batch_append = true;
                    c.max_size_per_msg = max_size_per_msg;
                })
                .raw_node();
            nodes.insert(id, node);
        }
        let mut group = RawGroup { nodes };
        group.nodes.get_mut(&1).unwrap().campaign().unwrap();
        group.settle();
        assert_eq!(group.nodes[&1].raft.state, StateRole::Leader);
        group
    }

    /// Handles one `Ready` of `id` (persisting it, applying nothing) and
    /// returns the messages it hands out.
    fn handle_ready(&mut self, id: u64) -> Vec<Message> {
        let node = self.nodes.get_mut(&id).unwrap();
        let store = node.raft.raft_log.store.clone();
        handle_ready(node, &store).map_or_else(Vec::new, |handled| handled.messages)
    }

    fn settle(&mut self) {
        for _ in 0..100 {
            let mut msgs = Vec::new();
            for id in 1..=3 {
                msgs.extend(self.handle_ready(id));
            }
            if msgs.is_empty() {
                return;
            }
            for m in msgs {
                let _ = self.nodes.get_mut(&m.to).unwrap().step(m);
            }
        }
        panic!("the group did not go quiet");
    }
}

/// Checks that an append names the entry just before its entries, which
/// are contiguous.
fn assert_append_well_formed(m: &Message) {
    if let Some(first) = m.entries.first() {
        assert_eq!(
            m.index + 1,
            first.index,
            "append names {} before {}",
            m.index,
            first.index
        );
    }
    for pair in m.entries.windows(2) {
        assert_eq!(
            pair[0].index + 1,
            pair[1].index,
            "gap in the append to {}",
            m.to
        );
    }
}

// The usual driver pattern: many proposals between two Readys. With
// batch_append, raft-rs merges each new entry into the append already
// queued for a follower, so 64 proposals make one MsgAppend per follower.
// The merge must look at every append queued since the last Ready, not
// only at those of the current step.
#[test]
fn proposals_between_two_readys_are_merged_into_one_append_per_follower() {
    let mut group = RawGroup::new(NO_LIMIT);
    let leader = group.nodes.get_mut(&1).unwrap();
    let last = leader.raft.raft_log.last_index();
    for i in 0..64 {
        leader
            .propose(vec![], format!("entry {i}").into_bytes())
            .unwrap();
    }
    let msgs = group.handle_ready(1);
    for to in [2, 3] {
        let appends: Vec<&Message> = msgs
            .iter()
            .filter(|m| m.to == to && m.msg_type() == MessageType::MsgAppend)
            .collect();
        assert_eq!(appends.len(), 1, "appends to {to}: {}", appends.len());
        assert_append_well_formed(appends[0]);
        assert_eq!(appends[0].entries.len(), 64);
        assert_eq!(appends[0].entries[0].index, last + 1);
    }
    for m in msgs {
        let _ = group.nodes.get_mut(&m.to).unwrap().step(m);
    }
    group.settle();
    for id in [2, 3] {
        assert_eq!(group.nodes[&id].raft.raft_log.committed, last + 64);
    }
}

// When an entry commits, the leader queues an append without entries to
// spread the new commit index. A proposal made before the next Ready
// continues it (its entries start just after the entry it names), so it is
// merged there too: one append per follower, carrying the entry and the
// commit index.
#[test]
fn proposal_merges_into_the_queued_commit_append() {
    let mut group = RawGroup::new(NO_LIMIT);
    group
        .nodes
        .get_mut(&1)
        .unwrap()
        .propose(vec![], b"first".to_vec())
        .unwrap();
    let appends = group.handle_ready(1);
    for m in appends {
        let _ = group.nodes.get_mut(&m.to).unwrap().step(m);
    }
    let mut acks = group.handle_ready(2);
    acks.extend(group.handle_ready(3));
    let leader = group.nodes.get_mut(&1).unwrap();
    for m in acks {
        leader.step(m).unwrap();
    }
    let committed = leader.raft.raft_log.committed;
    assert_eq!(committed, leader.raft.raft_log.last_index());
    leader.propose(vec![], b"second".to_vec()).unwrap();
    let msgs = group.handle_ready(1);
    for to in [2, 3] {
        let appends: Vec<&Message> = msgs
            .iter()
            .filter(|m| m.to == to && m.msg_type() == MessageType::MsgAppend)
            .collect();
        assert_eq!(appends.len(), 1, "appends to {to}: {appends:?}");
        assert_append_well_formed(appends[0]);
        assert_eq!(appends[0].entries.len(), 1);
        assert_eq!(appends[0].index, committed);
        assert_eq!(appends[0].commit, committed);
    }
}

// A merge respects max_size_per_msg: entries that would not fit in one
// message together stay in separate, well-formed appends.
#[test]
fn merged_appends_respect_the_message_size_limit() {
    let mut group = RawGroup::new(1);
    let leader = group.nodes.get_mut(&1).unwrap();
    for i in 0..4 {
        leader
            .propose(vec![], format!("entry {i}").into_bytes())
            .unwrap();
    }
    let msgs = group.handle_ready(1);
    let appends: Vec<&Message> = msgs
        .iter()
        .filter(|m| m.to == 2 && m.msg_type() == MessageType::MsgAppend)
        .collect();
    assert!(appends.iter().all(|m| m.entries.len() <= 1), "{appends:?}");
    appends.iter().for_each(|m| assert_append_well_formed(m));
    assert_eq!(appends.iter().map(|m| m.entries.len()).sum::<usize>(), 4);
}

// A queued probe whose index does not name the entry before the new
// entries is not merged into: here the follower rejects the probe, the
// leader backs off and sends the older entries in a new append, which must
// stay separate (a merged message would claim entries after an entry they
// do not follow; raft-rs 0.7.0 shipped that bug).
#[test]
fn appends_are_not_merged_into_a_probe_they_do_not_follow() {
    let mut group = RawGroup::new(NO_LIMIT);
    let leader = group.nodes.get_mut(&1).unwrap();
    for i in 0..3 {
        leader
            .propose(vec![], format!("entry {i}").into_bytes())
            .unwrap();
    }
    let last = leader.raft.raft_log.last_index();
    group.settle();
    let leader = group.nodes.get_mut(&1).unwrap();
    // Forget what node 2 holds, as a new leader does, and probe it at the
    // last index.
    leader.raft.mut_prs().get_mut(2).unwrap().reset(last + 1);
    leader.raft.send_append(2);
    // Node 2 rejects the probe with a hint of 1: the leader backs off and
    // sends the entries from 2, which follow entry 1, not the probe's index.
    let mut rejection = new_message(2, 1, MessageType::MsgAppendResponse, 0);
    rejection.term = leader.raft.term;
    rejection.index = last;
    rejection.reject = true;
    rejection.reject_hint = 1;
    rejection.log_term = 1;
    leader.step(rejection).unwrap();
    let msgs = group.handle_ready(1);
    let appends: Vec<&Message> = msgs
        .iter()
        .filter(|m| m.to == 2 && m.msg_type() == MessageType::MsgAppend)
        .collect();
    assert!(!appends.is_empty());
    appends.iter().for_each(|m| assert_append_well_formed(m));
    assert!(
        appends
            .iter()
            .any(|m| m.index == 1 && m.entries.len() as u64 == last - 1),
        "{appends:?}"
    );
}
