//! Regressions for what the cluster simulator found in the core: the seeds
//! that failed, and the rules that fixed them, pinned on small clusters
//! driven through `RawNode` directly.
//!
//! - A wiped node re-added under its old id completed a stale majority
//!   (tikv/tikv#10533): the simulator now re-adds an id the way the crate
//!   docs ask an application to (from a member's snapshot), and the seeds
//!   run clean.
//! - A node with no configuration yet votes: a voter added directly to a
//!   group, whose leader restarts before the new node heard from it, must
//!   be able to complete the majority (an earlier rule that refused such
//!   votes stalled those groups for good; seeds 40018003 and 40020974).
//! - A snapshot request always ends: it acknowledges the follower's last
//!   entry, and a new term drops it.

use std::collections::{BTreeMap, BTreeSet};

use harness::sim::{run_seed, FaultLevel, Options};
use protobuf::Message as _;
use raft::eraftpb::{
    ConfChange, ConfChangeType, ConfState, Entry, EntryType, HardState, Message, MessageType,
    Snapshot,
};
use raft::storage::MemStorage;
use raft::{Config, GetEntriesContext, RaftState, RawNode, StateRole, Storage, StorageError};
use slog::{o, Discard, Logger};

fn assert_clean(seed: u64, faults: FaultLevel) {
    let options = Options {
        steps: 1_500,
        faults,
        ..Options::default()
    };
    let outcome = run_seed(seed, options);
    assert!(
        outcome.violations.is_empty(),
        "seed {seed} ({faults:?}): {:#?}\nnodes: {:#?}",
        outcome.violations,
        outcome.node_states
    );
}

/// Leader completeness (§5.4) broken through a wiped node re-added under
/// its old id: its vote completed a stale configuration's majority.
#[test]
fn seeds_of_a_wiped_node_completing_a_stale_majority_run_clean() {
    for seed in [1_001_895, 1_014_764, 1_015_499] {
        assert_clean(seed, FaultLevel::Default);
    }
    for seed in [2_000_100, 2_000_560] {
        assert_clean(seed, FaultLevel::High);
    }
}

/// Liveness: a new voter that had not heard from the leader yet refused its
/// vote, and the group could never elect again.
#[test]
fn seeds_of_a_new_voter_refusing_its_vote_run_clean() {
    for seed in [40_018_003, 40_020_974] {
        assert_clean(seed, FaultLevel::High);
    }
}

/// Liveness: snapshot requests no snapshot could satisfy, within one term
/// (600009) and across a change of leader (1012833, 2004478).
#[test]
fn seeds_of_an_unsatisfiable_snapshot_request_run_clean() {
    assert_clean(600_009, FaultLevel::High);
    assert_clean(1_012_833, FaultLevel::Default);
    assert_clean(2_004_478, FaultLevel::High);
}

fn logger() -> Logger {
    Logger::root(Discard, o!())
}

fn config(id: u64, pre_vote: bool) -> Config {
    Config {
        election_tick: 10,
        heartbeat_tick: 1,
        pre_vote,
        rng_seed: Some(id),
        ..Config::new(id)
    }
}

/// An empty node (no configuration), at `term`.
fn empty_node(id: u64, term: u64, pre_vote: bool) -> RawNode<MemStorage> {
    let store = MemStorage::new();
    store.wl().set_hardstate(HardState {
        term,
        ..Default::default()
    });
    RawNode::new(&config(id, pre_vote), store, &logger()).unwrap()
}

fn vote_request(msg_type: MessageType, from: u64, to: u64, term: u64) -> Message {
    let mut m = Message::new();
    m.set_msg_type(msg_type);
    m.from = from;
    m.to = to;
    m.term = term;
    m.index = 10;
    m.log_term = 1;
    m
}

/// The vote responses `node` sends, after persisting.
fn vote_responses(node: &mut RawNode<MemStorage>) -> Vec<Message> {
    let mut rd = node.ready();
    let mut msgs = rd.take_messages();
    msgs.extend(rd.take_persisted_messages());
    if let Some(hs) = rd.hs() {
        node.mut_store().wl().set_hardstate(hs.clone());
    }
    let _ = node.advance(rd);
    msgs
}

/// A node that holds no configuration yet grants votes and pre-votes like
/// any other (raft-rs 0.7 and etcd do the same).
#[test]
fn a_node_without_configuration_votes() {
    // A vote: the node moves to the candidate's term and grants it.
    let mut node = empty_node(3, 1, false);
    node.step(vote_request(MessageType::MsgRequestVote, 1, 3, 2))
        .unwrap();
    let resps = vote_responses(&mut node);
    assert_eq!(resps.len(), 1, "{resps:?}");
    assert_eq!(resps[0].msg_type(), MessageType::MsgRequestVoteResponse);
    assert!(!resps[0].reject, "{resps:?}");
    assert_eq!(node.raft.vote, 1, "the vote is recorded");

    // A pre-vote for a later term.
    let mut node = empty_node(3, 4, true);
    node.step(vote_request(MessageType::MsgRequestPreVote, 1, 3, 5))
        .unwrap();
    let resps = vote_responses(&mut node);
    assert_eq!(resps.len(), 1, "{resps:?}");
    assert_eq!(resps[0].msg_type(), MessageType::MsgRequestPreVoteResponse);
    assert!(!resps[0].reject, "{resps:?}");
    assert_eq!(node.raft.vote, 0, "a pre-vote records nothing");
}

#[test]
fn a_node_with_a_configuration_still_votes() {
    // The same requests, to a node that knows the configuration: granted.
    for (msg_type, pre_vote) in [
        (MessageType::MsgRequestVote, false),
        (MessageType::MsgRequestPreVote, true),
    ] {
        let store = MemStorage::new_with_conf_state(ConfState::from((vec![1, 2, 3], vec![])));
        let mut node = RawNode::new(&config(3, pre_vote), store, &logger()).unwrap();
        node.step(vote_request(msg_type, 1, 3, 2)).unwrap();
        let resps = vote_responses(&mut node);
        assert_eq!(resps.len(), 1, "{resps:?}");
        assert!(!resps[0].reject, "{msg_type:?}: {resps:?}");
    }
}

/// A [`MemStorage`] whose snapshots never reach past the commit index, as
/// an application's state machine cannot (`MemStorage` itself raises a
/// snapshot to any requested index).
#[derive(Clone)]
struct Store(MemStorage);

impl Storage for Store {
    fn initial_state(&self) -> raft::Result<RaftState> {
        self.0.initial_state()
    }
    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        self.0.entries(low, high, max_size, context)
    }
    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.0.term(idx)
    }
    fn first_index(&self) -> raft::Result<u64> {
        self.0.first_index()
    }
    fn last_index(&self) -> raft::Result<u64> {
        self.0.last_index()
    }
    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        let commit = self.0.rl().hard_state().commit;
        if request_index > commit {
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        self.0.snapshot(request_index, to)
    }
}

/// A small driver: every node persists, sends and applies synchronously;
/// messages to nodes that are down are lost.
struct Cluster {
    nodes: BTreeMap<u64, RawNode<Store>>,
    applied: BTreeMap<u64, u64>,
    down: BTreeSet<u64>,
    /// The index of the last snapshot each node restored.
    restored: BTreeMap<u64, u64>,
}

impl Cluster {
    /// Node 1 alone, elected leader. It starts from a snapshot at index 1
    /// holding the configuration, so that nodes added later catch up from
    /// a snapshot (the usual way to bootstrap a group that grows).
    fn one_node_leader() -> Cluster {
        let store = MemStorage::new();
        let mut snapshot = Snapshot::default();
        snapshot.mut_metadata().index = 1;
        snapshot.mut_metadata().term = 1;
        snapshot
            .mut_metadata()
            .set_conf_state(ConfState::from((vec![1], vec![])));
        store.wl().apply_snapshot(snapshot).unwrap();
        let node = RawNode::new(&config(1, false), Store(store), &logger()).unwrap();
        let mut cluster = Cluster {
            nodes: BTreeMap::from([(1, node)]),
            applied: BTreeMap::from([(1, 1)]),
            down: BTreeSet::new(),
            restored: BTreeMap::new(),
        };
        cluster.nodes.get_mut(&1).unwrap().campaign().unwrap();
        cluster.pump();
        assert_eq!(cluster.state(1), StateRole::Leader);
        cluster
    }

    fn state(&self, id: u64) -> StateRole {
        self.nodes[&id].raft.state
    }

    /// Starts `id` as an empty node, as a new server starts.
    fn start_empty(&mut self, id: u64) {
        let store = Store(MemStorage::new());
        let node = RawNode::new(&config(id, false), store, &logger()).unwrap();
        self.nodes.insert(id, node);
        self.applied.insert(id, 0);
    }

    /// Restarts `id` from its storage (a crash loses nothing durable here).
    fn restart(&mut self, id: u64) {
        let store = self.nodes[&id].store().clone();
        let applied = self.applied[&id];
        let cfg = Config {
            applied,
            ..config(id, false)
        };
        let node = RawNode::new(&cfg, store, &logger()).unwrap();
        self.nodes.insert(id, node);
    }

    fn change(&mut self, leader: u64, change_type: ConfChangeType, id: u64) {
        let cc = ConfChange {
            change_type: change_type.into(),
            node_id: id,
            ..Default::default()
        };
        let node = self.nodes.get_mut(&leader).unwrap();
        node.propose_conf_change(vec![], cc).unwrap();
        self.pump();
    }

    fn apply(node: &mut RawNode<Store>, applied: &mut u64, entries: Vec<Entry>) {
        for e in entries {
            if e.entry_type() == EntryType::EntryConfChange {
                let cc = ConfChange::parse_from_bytes(&e.data).unwrap();
                let cs = node.apply_conf_change(&cc).unwrap();
                node.mut_store().0.wl().set_conf_state(cs);
            }
            *applied = e.index;
        }
    }

    /// Runs every node's `Ready`s and delivers messages until quiet.
    fn pump(&mut self) {
        for _ in 0..1_000 {
            let mut msgs = Vec::new();
            for (id, node) in self.nodes.iter_mut() {
                if self.down.contains(id) || !node.has_ready() {
                    continue;
                }
                let applied = self.applied.get_mut(id).unwrap();
                let mut rd = node.ready();
                msgs.extend(rd.take_messages());
                if !rd.snapshot().is_empty() {
                    let snap = rd.snapshot().clone();
                    *applied = snap.get_metadata().index;
                    self.restored.insert(*id, *applied);
                    node.mut_store().0.wl().apply_snapshot(snap).unwrap();
                }
                node.mut_store().0.wl().append(rd.entries()).unwrap();
                if let Some(hs) = rd.hs() {
                    node.mut_store().0.wl().set_hardstate(hs.clone());
                }
                msgs.extend(rd.take_persisted_messages());
                let committed = rd.take_committed_entries();
                Self::apply(node, applied, committed);
                let mut light = node.advance(rd);
                if let Some(commit) = light.commit_index() {
                    node.mut_store().0.wl().mut_hard_state().commit = commit;
                }
                msgs.extend(light.take_messages());
                let committed = light.take_committed_entries();
                Self::apply(node, applied, committed);
                node.advance_apply();
            }
            if msgs.is_empty() {
                return;
            }
            for m in msgs {
                if self.down.contains(&m.to) {
                    continue;
                }
                if let Some(node) = self.nodes.get_mut(&m.to) {
                    let _ = node.step(m);
                }
            }
        }
        panic!("the cluster did not settle");
    }

    /// The leader `id` sends heartbeats (they carry its commit index).
    fn heartbeat(&mut self, id: u64) {
        self.nodes.get_mut(&id).unwrap().raft.bcast_heartbeat();
        self.pump();
    }

    /// Node `id` times out and campaigns; the cluster runs until quiet.
    fn elect(&mut self, id: u64) {
        self.nodes.get_mut(&id).unwrap().campaign().unwrap();
        self.pump();
    }
}

/// A voter added directly to a one-node group completes the majority that
/// added it even if the leader restarts before the new node received its
/// first snapshot or entries: it votes although it holds no configuration
/// yet, the leader wins and catches it up.
#[test]
fn a_voter_added_before_it_caught_up_can_elect_after_a_leader_restart() {
    let mut cluster = Cluster::one_node_leader();
    cluster.down.insert(2);
    cluster.change(1, ConfChangeType::AddNode, 2);
    assert_eq!(
        cluster.nodes[&1].raft.prs().conf().to_conf_state().voters,
        vec![1, 2]
    );
    cluster.restart(1);
    cluster.start_empty(2);
    cluster.down.clear();
    cluster.elect(1);
    assert_eq!(cluster.state(1), StateRole::Leader);
    assert_eq!(cluster.nodes[&2].raft.vote, 1);
    cluster.heartbeat(1);
    assert_eq!(
        cluster.nodes[&2].raft.prs().conf().to_conf_state().voters,
        vec![1, 2],
        "the new voter caught up"
    );
}

/// The way thesis §4.2.1 recommends: add the node as a learner, promote it
/// once it caught up, and elections work across a restart.
#[test]
fn a_learner_promoted_once_caught_up_keeps_the_group_electable() {
    let mut cluster = Cluster::one_node_leader();
    cluster.start_empty(2);
    cluster.change(1, ConfChangeType::AddLearnerNode, 2);
    cluster.heartbeat(1);
    // The learner caught up: it applied the change that added it.
    assert_eq!(
        cluster.nodes[&2].raft.prs().conf().to_conf_state().learners,
        vec![2]
    );
    cluster.change(1, ConfChangeType::AddNode, 2);
    assert_eq!(
        cluster.nodes[&2].raft.prs().conf().to_conf_state().voters,
        vec![1, 2]
    );
    cluster.restart(1);
    cluster.elect(1);
    assert_eq!(cluster.state(1), StateRole::Leader);
    assert_eq!(cluster.nodes[&2].raft.vote, 1);
}

/// The snapshot request of a follower that refuses appends acknowledges its
/// last entry; the leader commits with it, and the storage can then serve
/// the request.
#[test]
fn a_snapshot_request_past_the_leader_commit_ends() {
    let mut cluster = Cluster::one_node_leader();
    for id in [2, 3] {
        cluster.start_empty(id);
        cluster.change(1, ConfChangeType::AddNode, id);
    }
    let leader = cluster.nodes.get_mut(&1).unwrap();
    leader.propose(vec![], b"x".to_vec()).unwrap();
    // Followers append the entry, their acknowledgements are lost.
    let mut rd = leader.ready();
    leader.mut_store().0.wl().append(rd.entries()).unwrap();
    let appends = rd.take_messages();
    let _ = leader.advance(rd);
    let last = leader.raft.raft_log.last_index();
    let committed = leader.raft.raft_log.committed;
    assert!(committed < last);
    for m in appends {
        let follower = cluster.nodes.get_mut(&m.to).unwrap();
        follower.step(m).unwrap();
        let rd = follower.ready();
        follower.mut_store().0.wl().append(rd.entries()).unwrap();
        let _ = follower.advance(rd);
    }
    for id in [2, 3] {
        let follower = cluster.nodes.get_mut(&id).unwrap();
        assert_eq!(follower.raft.raft_log.last_index(), last);
        follower.request_snapshot().unwrap();
    }
    cluster.pump();
    assert_eq!(cluster.nodes[&1].raft.raft_log.committed, last);
    // A heartbeat brings the followers' commit index; their requests are
    // then served (MemStorage answers any request at its applied state).
    cluster.heartbeat(1);
    for id in [2, 3] {
        let follower = &cluster.nodes[&id];
        assert_eq!(follower.raft.pending_request_snapshot, 0, "node {id}");
        assert_eq!(follower.raft.raft_log.committed, last, "node {id}");
        assert!(cluster.restored[&id] >= last, "node {id}");
    }
}

fn append(from: u64, term: u64, index: u64, log_term: u64, entries: &[(u64, u64)]) -> Message {
    let mut m = Message::new();
    m.set_msg_type(MessageType::MsgAppend);
    m.from = from;
    m.to = 2;
    m.term = term;
    m.index = index;
    m.log_term = log_term;
    m.entries = entries
        .iter()
        .map(|&(index, term)| Entry {
            index,
            term,
            ..Default::default()
        })
        .collect();
    m
}

/// A follower acknowledges an append, then, before its `Ready` is handled,
/// an append of a newer leader replaces that entry. Both responses used to
/// leave in the same `Ready`, after the log was persisted without the first
/// entry: the old leader counted an acknowledgement of an entry no longer
/// stored (§5.1), so it could commit an entry no quorum held. Found by the
/// simulator's durability check (seed 3009280); the acknowledgement is now
/// dropped, whether `RawNode` already collected it or not.
#[test]
fn an_acknowledgement_of_an_entry_replaced_before_the_ready_is_dropped() {
    for collect_between in [true, false] {
        let storage = MemStorage::new_with_conf_state(ConfState::from((vec![1, 2, 3], vec![])));
        storage
            .wl()
            .append(&[Entry {
                index: 1,
                term: 1,
                ..Default::default()
            }])
            .unwrap();
        storage.wl().mut_hard_state().term = 1;
        let mut node = RawNode::new(&config(2, false), storage, &logger()).unwrap();
        if collect_between {
            // Stepped through `RawNode`: the first response is collected
            // into its outbox before the second append arrives.
            node.step(append(1, 1, 1, 1, &[(2, 1)])).unwrap();
            node.step(append(3, 2, 1, 1, &[(2, 2)])).unwrap();
        } else {
            // Stepped on the state machine itself: both responses are still
            // queued there.
            node.raft.step(append(1, 1, 1, 1, &[(2, 1)])).unwrap();
            node.raft.step(append(3, 2, 1, 1, &[(2, 2)])).unwrap();
        }
        let rd = node.ready();
        let acks: Vec<(u64, u64, u64)> = rd
            .persisted_messages()
            .iter()
            .filter(|m| m.get_msg_type() == MessageType::MsgAppendResponse && !m.reject)
            .map(|m| (m.to, m.term, m.index))
            .collect();
        assert_eq!(acks, vec![(3, 2, 2)], "collect_between {collect_between}");
        assert_eq!(rd.entries()[0].term, 2);
    }
}
