//! End-to-end: clusters of 1, 3 and 5 `RawNode`s driven exactly as an
//! application drives them, through the public API only.
//!
//! The network is a pool of in-flight messages delivered in an order drawn
//! from a seeded generator, so every run replays exactly. Two drivers:
//! synchronous (persist, then advance) and asynchronous (several `Ready`s in
//! flight, durability reported later with `on_persist_ready`). The property
//! checked: every proposal is applied exactly once, in the same order, on
//! every node (§5.3 State Machine Safety).

use std::collections::{BTreeMap, VecDeque};

use protobuf::Message as _;
use raft::prelude::*;
use raft::storage::MemStorage;
use raft::StateRole;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Driver {
    Sync,
    Async,
}

/// One node as an application holds it: the raft node, its storage and its
/// state machine (here, the list of applied payloads).
struct Node {
    raw: RawNode<MemStorage>,
    store: MemStorage,
    applied: Vec<Vec<u8>>,
    /// Confirmed reads handed out, with the applied count when they came.
    reads: Vec<ReadState>,
    /// The membership after the last applied conf change, if any.
    conf_state: Option<ConfState>,
    /// Async driver: `Ready`s written but not yet durable, oldest first, with
    /// the messages that must wait for their durability.
    pending_persist: VecDeque<(u64, Vec<Message>)>,
}

impl Node {
    fn new(id: u64, store: MemStorage, seed: u64) -> Node {
        let config = Config {
            election_tick: 10,
            heartbeat_tick: 1,
            max_size_per_msg: 1024,
            rng_seed: Some(seed * 100 + id),
            ..Config::new(id)
        };
        let raw = RawNode::new(&config, store.clone(), &logger()).unwrap();
        Node {
            raw,
            store,
            applied: Vec::new(),
            reads: Vec::new(),
            conf_state: None,
            pending_persist: VecDeque::new(),
        }
    }

    /// Applies committed entries: payloads go to `applied`, conf changes to
    /// the node's membership (thesis §4.1: on apply, not on propose).
    fn apply(&mut self, entries: Vec<Entry>) {
        for entry in entries {
            match entry.get_entry_type() {
                EntryType::EntryNormal if !entry.data.is_empty() => {
                    self.applied.push(entry.data.to_vec())
                }
                EntryType::EntryNormal => {}
                EntryType::EntryConfChange => {
                    let cc = ConfChange::parse_from_bytes(&entry.data).unwrap();
                    let cs = self.raw.apply_conf_change(&cc).unwrap();
                    self.store.wl().set_conf_state(cs.clone());
                    self.conf_state = Some(cs);
                }
                EntryType::EntryConfChangeV2 => {
                    let cc = ConfChangeV2::parse_from_bytes(&entry.data).unwrap();
                    let cs = self.raw.apply_conf_change(&cc).unwrap();
                    self.store.wl().set_conf_state(cs.clone());
                    self.conf_state = Some(cs);
                }
            }
        }
    }
}

struct Cluster {
    driver: Driver,
    nodes: BTreeMap<u64, Node>,
    in_flight: Vec<Message>,
    rng: StdRng,
    /// The largest number of `Ready`s ever awaiting durability on one node.
    max_pending_persist: usize,
}

fn logger() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

impl Cluster {
    fn new(size: u64, driver: Driver, seed: u64) -> Cluster {
        let voters: Vec<u64> = (1..=size).collect();
        let nodes = voters
            .iter()
            .map(|&id| {
                let store = MemStorage::new_with_conf_state((voters.clone(), vec![]));
                (id, Node::new(id, store, seed))
            })
            .collect();
        Cluster {
            driver,
            nodes,
            in_flight: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
            max_pending_persist: 0,
        }
    }

    fn leader(&self) -> Option<u64> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.raw.raft.state == StateRole::Leader)
            .max_by_key(|(_, n)| n.raw.raft.term)
            .map(|(&id, _)| id)
    }

    /// Handles every pending `Ready` of every node, in id order.
    fn handle_readies(&mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            while self.nodes[&id].raw.has_ready() {
                match self.driver {
                    Driver::Sync => self.handle_ready_sync(id),
                    Driver::Async => self.handle_ready_async(id),
                }
            }
        }
    }

    fn handle_ready_sync(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).unwrap();
        let mut rd = node.raw.ready();
        // Messages may go out before anything is persisted.
        self.in_flight.extend(rd.take_messages());
        persist(&node.store, &rd);
        // Only now that the writes are durable.
        self.in_flight.extend(rd.take_persisted_messages());
        node.apply(rd.take_committed_entries());
        node.reads.extend(rd.take_read_states());
        let mut light = node.raw.advance(rd);
        if let Some(commit) = light.commit_index() {
            node.store.wl().mut_hard_state().commit = commit;
        }
        self.in_flight.extend(light.take_messages());
        node.apply(light.take_committed_entries());
        node.raw.advance_apply();
    }

    fn handle_ready_async(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).unwrap();
        let mut rd = node.raw.ready();
        self.in_flight.extend(rd.take_messages());
        // The writes are issued now (the storage serves them at once) but
        // become durable only when the deferred queue completes them.
        persist(&node.store, &rd);
        let committed = rd.take_committed_entries();
        let last_committed = committed.last().map(|e| e.index);
        node.apply(committed);
        node.reads.extend(rd.take_read_states());
        node.pending_persist
            .push_back((rd.number(), rd.take_persisted_messages()));
        self.max_pending_persist = self.max_pending_persist.max(node.pending_persist.len());
        node.raw.advance_append_async(rd);
        if let Some(index) = last_committed {
            node.raw.advance_apply_to(index);
        }
    }

    /// Async driver: the oldest outstanding write of `id` becomes durable.
    fn complete_persist(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).unwrap();
        let (number, msgs) = node.pending_persist.pop_front().unwrap();
        self.in_flight.extend(msgs);
        node.raw.on_persist_ready(number);
    }

    /// Delivers messages and completes writes in a seeded random order until
    /// nothing is left to do.
    fn settle(&mut self) {
        for _ in 0..100_000 {
            self.handle_readies();
            let waiting: Vec<u64> = self
                .nodes
                .iter()
                .filter(|(_, n)| !n.pending_persist.is_empty())
                .map(|(&id, _)| id)
                .collect();
            if self.in_flight.is_empty() && waiting.is_empty() {
                return;
            }
            // Favour delivery, so that several Readys pile up unpersisted.
            let persist_now =
                self.in_flight.is_empty() || (!waiting.is_empty() && self.rng.gen_ratio(1, 4));
            if persist_now {
                let id = waiting[self.rng.gen_range(0..waiting.len())];
                self.complete_persist(id);
            } else {
                let i = self.rng.gen_range(0..self.in_flight.len());
                let m = self.in_flight.swap_remove(i);
                if let Some(node) = self.nodes.get_mut(&m.to) {
                    // Stale or unexpected messages are the node's business.
                    let _ = node.raw.step(m);
                }
            }
        }
        panic!("the cluster did not settle in 100000 steps");
    }

    fn tick_all(&mut self) {
        for node in self.nodes.values_mut() {
            node.raw.tick();
        }
    }
}

fn persist(store: &MemStorage, rd: &Ready) {
    let mut core = store.wl();
    if !rd.snapshot().is_empty() {
        core.apply_snapshot(rd.snapshot().clone()).unwrap();
    }
    core.append(rd.entries()).unwrap();
    if let Some(hs) = rd.hs() {
        core.set_hardstate(hs.clone());
    }
}

/// Runs `size` nodes until `proposals` payloads, proposed a few per round at
/// nodes that know a leader, are applied everywhere; checks exactly-once,
/// same-order application.
fn run_cluster(size: u64, driver: Driver, seed: u64, proposals: usize) -> Cluster {
    let mut cluster = Cluster::new(size, driver, seed);
    let payloads: Vec<Vec<u8>> = (0..proposals)
        .map(|i| format!("seed{seed}-p{i}").into_bytes())
        .collect();
    let mut next = 0;
    for _round in 0..2_000 {
        cluster.tick_all();
        cluster.settle();
        if cluster.leader().is_some() {
            for _ in 0..3 {
                if next == payloads.len() {
                    break;
                }
                // Any node that knows a leader: followers forward (§5.1).
                let ids: Vec<u64> = cluster.nodes.keys().copied().collect();
                let id = ids[cluster.rng.gen_range(0..ids.len())];
                let node = cluster.nodes.get_mut(&id).unwrap();
                if node.raw.raft.leader_id == 0 {
                    break;
                }
                if node.raw.propose(vec![], payloads[next].clone()).is_ok() {
                    next += 1;
                }
            }
        }
        let done = next == payloads.len()
            && cluster
                .nodes
                .values()
                .all(|n| n.applied.len() >= payloads.len());
        if done {
            break;
        }
    }

    let reference = &cluster.nodes[&1].applied;
    let mut sorted = reference.clone();
    sorted.sort();
    let mut expected = payloads.clone();
    expected.sort();
    assert_eq!(sorted, expected, "every proposal applied exactly once");
    for (id, node) in &cluster.nodes {
        assert_eq!(
            &node.applied, reference,
            "node {id} applied a different sequence"
        );
        let status = node.raw.status();
        assert_eq!(
            status.applied, status.hs.commit,
            "node {id} applied all it committed"
        );
    }
    cluster
}

#[test]
fn single_node_sync_applies_every_proposal_once() {
    run_cluster(1, Driver::Sync, 1, 40);
}

#[test]
fn three_nodes_sync_apply_every_proposal_once_in_the_same_order() {
    for seed in 1..=3 {
        run_cluster(3, Driver::Sync, seed, 60);
    }
}

#[test]
fn five_nodes_sync_apply_every_proposal_once_in_the_same_order() {
    for seed in 1..=3 {
        run_cluster(5, Driver::Sync, seed, 60);
    }
}

#[test]
fn single_node_async_applies_every_proposal_once() {
    let cluster = run_cluster(1, Driver::Async, 7, 40);
    assert!(cluster.max_pending_persist >= 1);
}

#[test]
fn three_nodes_async_apply_every_proposal_once_with_readys_in_flight() {
    for seed in 1..=3 {
        let cluster = run_cluster(3, Driver::Async, seed, 60);
        assert!(
            cluster.max_pending_persist >= 2,
            "seed {seed}: several Readys were awaiting durability at once"
        );
    }
}

#[test]
fn five_nodes_async_apply_every_proposal_once_with_readys_in_flight() {
    for seed in 1..=3 {
        let cluster = run_cluster(5, Driver::Async, seed, 60);
        assert!(
            cluster.max_pending_persist >= 2,
            "seed {seed}: several Readys were awaiting durability at once"
        );
    }
}

#[test]
fn committed_entries_reach_the_storage_commit_index() {
    // The driver persists LightReady::commit_index; after settling, every
    // node's stored commit equals its raft commit.
    let cluster = run_cluster(3, Driver::Sync, 11, 20);
    for (id, node) in &cluster.nodes {
        let stored = node.store.rl().hard_state().commit;
        assert_eq!(stored, node.raw.raft.raft_log.committed, "node {id}");
    }
}

#[test]
fn read_index_on_a_follower_is_confirmed_at_the_leader_commit() {
    // Thesis §6.4: the read is served once the follower applied the index
    // the leader confirmed, which covers every write committed before it.
    for driver in [Driver::Sync, Driver::Async] {
        let mut cluster = run_cluster(3, driver, 5, 10);
        let leader = cluster.leader().unwrap();
        let follower = if leader == 1 { 2 } else { 1 };
        let commit_before = cluster.nodes[&leader].raw.raft.raft_log.committed;
        cluster
            .nodes
            .get_mut(&follower)
            .unwrap()
            .raw
            .read_index(b"read-1".to_vec());
        cluster.settle();
        let reads = &cluster.nodes[&follower].reads;
        assert_eq!(reads.len(), 1, "{driver:?}: one read confirmed");
        assert_eq!(reads[0].request_ctx, b"read-1".to_vec());
        assert!(reads[0].index >= commit_before, "{driver:?}: {reads:?}");
        let status = cluster.nodes[&follower].raw.status();
        assert!(
            status.applied >= reads[0].index,
            "{driver:?}: the read can be served"
        );
    }
}

#[test]
fn added_voter_catches_up_and_applies_the_same_sequence() {
    for driver in [Driver::Sync, Driver::Async] {
        let mut cluster = run_cluster(3, driver, 9, 10);
        // Node 4 boots with the cluster's initial membership; it learns it
        // joined by applying the conf-change entry.
        let store = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
        cluster.nodes.insert(4, Node::new(4, store, 9));
        let leader = cluster.leader().unwrap();
        let cc = ConfChange {
            change_type: ConfChangeType::AddNode.into(),
            node_id: 4,
            ..Default::default()
        };
        cluster
            .nodes
            .get_mut(&leader)
            .unwrap()
            .raw
            .propose_conf_change(vec![], cc)
            .unwrap();
        for _ in 0..50 {
            cluster.tick_all();
            cluster.settle();
        }
        for i in 0..5 {
            let leader = cluster.leader().unwrap();
            let node = cluster.nodes.get_mut(&leader).unwrap();
            node.raw
                .propose(vec![], format!("after-{i}").into_bytes())
                .unwrap();
            cluster.tick_all();
            cluster.settle();
        }
        let reference = cluster.nodes[&1].applied.clone();
        assert_eq!(reference.len(), 15, "{driver:?}");
        for (id, node) in &cluster.nodes {
            assert_eq!(node.applied, reference, "{driver:?}: node {id}");
            let cs = node.conf_state.as_ref().expect("the conf change applied");
            let mut voters = cs.voters.clone();
            voters.sort_unstable();
            assert_eq!(voters, vec![1, 2, 3, 4], "{driver:?}: node {id}");
        }
        assert_eq!(cluster.nodes[&leader].raw.raft.prs().iter().count(), 4);
    }
}
