//! Helpers of the membership tests (`membership.rs`, `membership_joint.rs`,
//! `learners.rs`).
//!
//! The harness never applies entries; these helpers play the application:
//! they read each node's committed entries, apply the configuration changes
//! among them with `apply_conf_change`, and report the entries applied with
//! `commit_apply`, as a driver does after `Ready`.

#![allow(
    dead_code,
    reason = "each membership test binary includes this module and uses a different subset of it"
)]

use crate::test_util::*;
use harness::*;
use protobuf::Message as PbMessage;
use raft::eraftpb::*;
use raft::storage::MemStorage;
use raft::*;
use raft_proto::{parse_conf_change, ConfChangeI};

/// A network of `n` voters with node 1 elected and its first entry applied.
/// [`test_util::elected`], with every committed entry applied on every node.
pub fn elected_and_applied(n: usize) -> Network {
    let mut network = elected(n);
    apply_committed(&mut network);
    network
}

/// A network whose nodes all start from the given voters and learners
/// (ids `1..=` the largest of them). No one is elected.
pub fn with_learners(voters: &[u64], learners: &[u64]) -> Network {
    let n = voters.iter().chain(learners).copied().max().unwrap_or(0);
    let peers = (1..=n)
        .map(|id| Some(new_peer(id, voters, learners)))
        .collect();
    Network::new(peers, &test_logger())
}

/// A fresh node `id` whose storage starts from the given configuration,
/// with the network's default config.
pub fn new_peer(id: u64, voters: &[u64], learners: &[u64]) -> Interface {
    TestRaft::builder(id)
        .voters(voters.iter().copied())
        .learners(learners.iter().copied())
        .build()
}

/// Adds a fresh node `id` to a running network. Its storage starts from
/// the group's initial configuration, so replaying the leader's log from
/// index 1 (configuration changes included) brings it up to date.
pub fn add_peer(network: &mut Network, id: u64, voters: &[u64], learners: &[u64]) {
    let peer = new_peer(id, voters, learners);
    network.storage.insert(id, peer.raft_log.store.clone());
    network.peers.insert(id, peer);
}

/// A simple (v1) change.
pub fn simple(change_type: ConfChangeType, node_id: u64) -> ConfChange {
    let mut cc = ConfChange::default();
    cc.set_change_type(change_type);
    cc.node_id = node_id;
    cc
}

/// A v2 change of the given changes (`"v4 l5 r1"`) and transition.
pub fn joint(changes: &str, transition: ConfChangeTransition) -> ConfChangeV2 {
    let mut cc = ConfChangeV2::default();
    cc.set_transition(transition);
    cc.changes = parse_conf_change(changes).expect("valid change list");
    cc
}

/// The entry an application proposes for `cc`: v1 in `EntryConfChange`, v2
/// in `EntryConfChangeV2`.
pub fn cc_entry(cc: &impl ConfChangeI) -> Entry {
    let mut e = Entry::default();
    match cc.as_v1() {
        Some(v1) => {
            e.set_entry_type(EntryType::EntryConfChange);
            e.data = v1.write_to_bytes().expect("encode ConfChange").into();
        }
        None => {
            e.set_entry_type(EntryType::EntryConfChangeV2);
            e.data = cc
                .as_v2()
                .write_to_bytes()
                .expect("encode ConfChangeV2")
                .into();
        }
    }
    e
}

/// A local proposal of `cc` to node `to`.
pub fn propose_cc(to: u64, cc: &impl ConfChangeI) -> Message {
    new_message_with_entries(to, to, MessageType::MsgPropose, vec![cc_entry(cc)])
}

/// The configuration change an entry carries, if it carries one.
pub fn decode_cc(e: &Entry) -> Option<ConfChangeV2> {
    match e.entry_type() {
        EntryType::EntryNormal => None,
        EntryType::EntryConfChange => Some(
            ConfChange::parse_from_bytes(&e.data)
                .unwrap_or_else(|err| panic!("entry {} holds a bad ConfChange: {err}", e.index))
                .into_v2(),
        ),
        EntryType::EntryConfChangeV2 => Some(
            ConfChangeV2::parse_from_bytes(&e.data)
                .unwrap_or_else(|err| panic!("entry {} holds a bad ConfChangeV2: {err}", e.index)),
        ),
    }
}

/// Whether `e` is the empty `EntryConfChangeV2` that leaves a joint
/// configuration.
pub fn is_leave_joint(e: &Entry) -> bool {
    e.entry_type() == EntryType::EntryConfChangeV2
        && decode_cc(e).is_some_and(|cc| cc.leave_joint())
}

/// How many leave-joint entries node `id`'s log holds.
pub fn count_leaves(network: &Network, id: u64) -> usize {
    network.peers[&id]
        .raft_log
        .all_entries()
        .iter()
        .filter(|e| is_leave_joint(e))
        .count()
}

/// Plays the application on node `id`: applies its committed entries
/// (configuration changes through `apply_conf_change`, which must
/// succeed), reports them applied with `commit_apply`, and persists what
/// that may have appended. Messages stay queued. Returns whether anything
/// was applied.
pub fn apply_committed_on(network: &mut Network, id: u64) -> bool {
    let Some(r) = network.peers.get_mut(&id).and_then(|p| p.raft.as_mut()) else {
        return false;
    };
    let Some(ents) = r.raft_log.next_entries(None) else {
        return false;
    };
    let Some(last) = ents.last().map(|e| e.index) else {
        return false;
    };
    for e in &ents {
        if let Some(cc) = decode_cc(e) {
            if let Err(err) = r.apply_conf_change(&cc) {
                panic!(
                    "node {id}: applying the conf change at index {} failed: {err:?} ({cc:?})",
                    e.index
                );
            }
        }
    }
    r.commit_apply(last);
    network.peers.get_mut(&id).unwrap().persist();
    true
}

/// Applies committed entries on every node and delivers what that causes,
/// until nothing is left to apply.
pub fn apply_committed(network: &mut Network) {
    for _ in 0..100 {
        let mut ids: Vec<u64> = network.peers.keys().copied().collect();
        ids.sort_unstable();
        let mut applied = false;
        for id in ids {
            applied |= apply_committed_on(network, id);
        }
        let msgs = network.read_messages();
        if !applied && msgs.is_empty() {
            return;
        }
        network.send(msgs);
    }
    panic!("applying committed entries did not settle");
}

/// Node `id`'s entry at `index`.
pub fn entry_at(network: &Network, id: u64, index: u64) -> Entry {
    network.peers[&id]
        .raft_log
        .all_entries()
        .into_iter()
        .find(|e| e.index == index)
        .unwrap_or_else(|| panic!("node {id} has no entry at {index}"))
}

/// Node `id`'s current configuration.
pub fn conf(network: &Network, id: u64) -> ConfState {
    network.peers[&id].prs().conf().to_conf_state()
}

/// Whether node `id` is in a joint configuration.
pub fn is_joint(network: &Network, id: u64) -> bool {
    network.peers[&id].prs().conf().voters().is_joint()
}

/// A non-joint configuration (id lists ascending).
pub fn conf_state(voters: &[u64], learners: &[u64]) -> ConfState {
    ConfState {
        voters: voters.to_vec(),
        learners: learners.to_vec(),
        ..Default::default()
    }
}

/// Asserts that the last entry of node 1's log is a refused change: an
/// empty normal entry.
pub fn assert_refused(network: &Network, index: u64) {
    let e = entry_at(network, 1, index);
    assert_eq!(e.entry_type(), EntryType::EntryNormal, "entry {index}");
    assert!(e.data.is_empty(), "entry {index} kept its payload");
}

/// Asserts that node `id`, a leader no longer among the voters, stepped
/// down and stays quiet: no heartbeats, no campaigns, whatever the ticks.
pub fn assert_old_leader_retired(network: &mut Network, id: u64) {
    let r = network.peers.get_mut(&id).unwrap();
    assert_eq!(r.state, StateRole::Follower, "node {id} still leads");
    assert!(!r.promotable());
    let term = r.term;
    for _ in 0..5 * r.election_timeout() {
        r.tick();
    }
    let sent = r.read_messages();
    assert!(sent.is_empty(), "retired leader {id} sent {sent:?}");
    assert_eq!(r.term, term);
    assert_eq!(r.state, StateRole::Follower);
}

/// Ticks every node until one of `candidates` leads; returns it.
pub fn tick_until_leader(network: &mut Network, candidates: &[u64]) -> u64 {
    for _ in 0..200 {
        tick_all_and_send(network);
        apply_committed(network);
        let found: Vec<u64> = leaders(network)
            .into_iter()
            .filter(|id| candidates.contains(id))
            .collect();
        if let [leader] = found[..] {
            return leader;
        }
    }
    panic!("none of {candidates:?} became leader");
}

/// Drives a single `RawNode` the way an application does until it has no
/// `Ready`: persist entries and hard state, advance, apply committed
/// entries (recording each new configuration in the storage), and report
/// them applied. Returns the entries applied.
pub fn drive_raw_node(node: &mut RawNode<MemStorage>, store: &MemStorage) -> Vec<Entry> {
    let mut applied = Vec::new();
    for _ in 0..100 {
        let Some(handled) = persist_and_advance(node, store) else {
            return applied;
        };
        let committed = handled.committed_entries();
        for e in &committed {
            if let Some(cc) = decode_cc(e) {
                let cs = node
                    .apply_conf_change(&cc)
                    .unwrap_or_else(|err| panic!("conf change at {}: {err:?}", e.index));
                store.wl().set_conf_state(cs);
            }
        }
        applied.extend(committed);
        node.advance_apply();
    }
    panic!("the node kept producing Ready");
}
