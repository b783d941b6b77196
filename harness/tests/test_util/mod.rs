//! Helpers shared by the integration tests: building configs, nodes,
//! messages and entries, and observing a network's traffic.
//!
//! They live here and not in the `harness` crate root because tests
//! glob-import `raft::*`, `raft_proto::*` and `harness::*` together.

#![allow(
    dead_code,
    reason = "each test binary includes this module and uses a different subset of it"
)]

use std::collections::VecDeque;

use harness::{Interface, Network};
use raft::eraftpb::{ConfState, Entry, EntryType, HardState, Message, MessageType, Snapshot};
use raft::storage::MemStorage;
use raft::{Config, Raft, RaftLog, StateRole, Storage, NO_LIMIT};
use slog::Logger;

/// The logger tests pass to nodes (`RUST_LOG=raft=debug` shows it).
pub fn test_logger() -> Logger {
    raft::default_logger()
}

/// The test config: the given timeouts, no message size limit, an in-flight
/// window of 256, and a random generator seeded with the id.
pub fn new_test_config(id: u64, election_tick: usize, heartbeat_tick: usize) -> Config {
    Config {
        id,
        election_tick,
        heartbeat_tick,
        max_size_per_msg: NO_LIMIT,
        max_inflight_msgs: 256,
        rng_seed: Some(id),
        ..Default::default()
    }
}

/// A storage holding a group of the given voters.
pub fn new_storage(voters: Vec<u64>) -> MemStorage {
    MemStorage::new_with_conf_state(ConfState::from((voters, Vec::<u64>::new())))
}

/// A storage holding a group of the given voters and learners.
pub fn new_storage_with_learners(voters: Vec<u64>, learners: Vec<u64>) -> MemStorage {
    MemStorage::new_with_conf_state(ConfState::from((voters, learners)))
}

/// A node built from `config` and `storage`.
pub fn new_test_raft_with_config(config: &Config, storage: MemStorage, l: &Logger) -> Interface {
    match Raft::new(config, storage, l) {
        Ok(raft) => Interface::new(raft),
        Err(e) => panic!("cannot build node {}: {e:?}", config.id),
    }
}

/// A node of a group of `peers` (the storage is initialized with them
/// unless it already holds a configuration).
pub fn new_test_raft(
    id: u64,
    peers: Vec<u64>,
    election: usize,
    heartbeat: usize,
    storage: MemStorage,
    l: &Logger,
) -> Interface {
    let config = new_test_config(id, election, heartbeat);
    initialize(&storage, peers);
    new_test_raft_with_config(&config, storage, l)
}

/// Like [`new_test_raft`], with pre-vote switched on or off.
pub fn new_test_raft_with_prevote(
    id: u64,
    peers: Vec<u64>,
    election: usize,
    heartbeat: usize,
    storage: MemStorage,
    pre_vote: bool,
    l: &Logger,
) -> Interface {
    let mut config = new_test_config(id, election, heartbeat);
    config.pre_vote = pre_vote;
    initialize(&storage, peers);
    new_test_raft_with_config(&config, storage, l)
}

fn initialize(storage: &MemStorage, peers: Vec<u64>) {
    let initialized = storage
        .initial_state()
        .expect("MemStorage::initial_state")
        .initialized();
    if !peers.is_empty() && !initialized {
        storage.initialize_with_conf_state(ConfState::from((peers, Vec::<u64>::new())));
    }
}

/// A black-hole peer for [`Network::new`]: it drops everything.
pub fn nop() -> Option<Interface> {
    Some(Interface::from(None))
}

/// A message between two nodes carrying `n` proposal-style entries.
pub fn new_message(from: u64, to: u64, t: MessageType, n: usize) -> Message {
    let mut m = Message {
        from,
        to,
        ..Default::default()
    };
    m.set_msg_type(t);
    for _ in 0..n {
        m.entries.push(new_entry(0, 0, Some("somedata")));
    }
    m
}

/// A message carrying the given entries.
pub fn new_message_with_entries(from: u64, to: u64, t: MessageType, ents: Vec<Entry>) -> Message {
    let mut m = new_message(from, to, t, 0);
    m.entries = ents;
    m
}

/// A proposal of one entry holding `data`, to `to` from itself.
pub fn propose(to: u64, data: &str) -> Message {
    let mut m = new_message(to, to, MessageType::MsgPropose, 0);
    m.entries.push(new_entry(0, 0, Some(data)));
    m
}

/// A local MsgHup for `id`.
pub fn hup(id: u64) -> Message {
    new_message(id, id, MessageType::MsgHup, 0)
}

/// A local MsgBeat for `id`.
pub fn beat(id: u64) -> Message {
    new_message(id, id, MessageType::MsgBeat, 0)
}

/// A normal entry without payload.
pub fn empty_entry(term: u64, index: u64) -> Entry {
    new_entry(term, index, None)
}

/// A normal entry with an optional payload.
pub fn new_entry(term: u64, index: u64, data: Option<&str>) -> Entry {
    let mut e = Entry::default();
    e.set_entry_type(EntryType::EntryNormal);
    e.term = term;
    e.index = index;
    if let Some(data) = data {
        e.data = data.as_bytes().to_vec().into();
    }
    e
}

/// Entries `1..=terms.len()` with the given terms.
pub fn entries_with_terms(terms: &[u64]) -> Vec<Entry> {
    terms
        .iter()
        .enumerate()
        .map(|(i, &t)| empty_entry(t, i as u64 + 1))
        .collect()
}

/// A data-less snapshot at `index`/`term` of a group of `voters`.
pub fn new_snapshot(index: u64, term: u64, voters: Vec<u64>) -> Snapshot {
    let mut s = Snapshot::default();
    s.mut_metadata().index = index;
    s.mut_metadata().term = term;
    s.mut_metadata()
        .set_conf_state(ConfState::from((voters, Vec::<u64>::new())));
    s
}

/// A hard state.
pub fn hard_state(term: u64, commit: u64, vote: u64) -> HardState {
    HardState {
        term,
        commit,
        vote,
        ..Default::default()
    }
}

/// A storage of a group of `voters` whose log holds `entries` (starting at
/// index 1) and whose hard state is at `term` with nothing committed.
pub fn storage_with_log(voters: Vec<u64>, entries: &[Entry], term: u64) -> MemStorage {
    let storage = new_storage(voters);
    storage
        .wl()
        .append(entries)
        .expect("append to a fresh MemStorage");
    storage.wl().set_hardstate(hard_state(term, 0, 0));
    storage
}

/// The log as `index@term` pairs, committed index and applied index, for
/// comparing two logs in assertion messages.
pub fn ltoa(raft_log: &RaftLog<MemStorage>) -> String {
    let mut s = format!(
        "committed: {}, applied: {}\n",
        raft_log.committed, raft_log.applied
    );
    for e in raft_log.all_entries() {
        s.push_str(&format!("{}@{} ", e.index, e.term));
    }
    s
}

/// `(index, term)` of every entry of the log.
pub fn log_shape(raft_log: &RaftLog<MemStorage>) -> Vec<(u64, u64)> {
    raft_log
        .all_entries()
        .iter()
        .map(|e| (e.index, e.term))
        .collect()
}

/// The ids of the network's leaders.
pub fn leaders(network: &Network) -> Vec<u64> {
    let mut ids: Vec<u64> = network
        .peers
        .iter()
        .filter(|(_, p)| {
            p.raft
                .as_ref()
                .is_some_and(|r| r.state == StateRole::Leader)
        })
        .map(|(&id, _)| id)
        .collect();
    ids.sort_unstable();
    ids
}

/// Like [`Network::send`], but returns every message delivered, in order,
/// so tests can count and inspect the traffic.
pub fn send_observed(network: &mut Network, msgs: Vec<Message>) -> Vec<Message> {
    let mut delivered = Vec::new();
    let mut queue: VecDeque<Message> = msgs.into();
    while let Some(m) = queue.pop_front() {
        assert!(delivered.len() < 1_000_000, "the network did not go quiet");
        let Some(peer) = network.peers.get_mut(&m.to) else {
            continue;
        };
        delivered.push(m.clone());
        let _ = peer.step(m);
        peer.persist();
        let replies = peer.read_messages();
        queue.extend(network.filter(replies));
    }
    delivered
}

/// Ticks node `id` `n` times, then delivers what it sent.
pub fn tick_and_send(network: &mut Network, id: u64, n: usize) {
    for _ in 0..n {
        network.peers.get_mut(&id).expect("peer exists").tick();
    }
    let msgs = network
        .peers
        .get_mut(&id)
        .expect("peer exists")
        .read_messages();
    network.filter_and_send(msgs);
}

/// Ticks every node once (ascending ids) and delivers everything sent.
pub fn tick_all_and_send(network: &mut Network) {
    let mut ids: Vec<u64> = network.peers.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        if let Some(raft) = network.peers.get_mut(&id).and_then(|p| p.raft.as_mut()) {
            raft.tick();
        }
    }
    let msgs = network.read_messages();
    network.send(msgs);
}

/// Ticks `raft` through its whole randomized election timeout, so a
/// promotable follower campaigns.
pub fn tick_past_election_timeout(raft: &mut Raft<MemStorage>) {
    let timeout = raft.randomized_election_timeout();
    for _ in 0..timeout {
        raft.tick();
    }
}

/// Makes `raft` the leader of its group without an election (for tests that
/// stage a log first); its messages are discarded.
pub fn make_leader(raft: &mut Interface) {
    raft.become_candidate();
    raft.become_leader();
    raft.persist();
    raft.read_messages();
}

/// Messages of type `t` in `msgs`.
pub fn of_type(msgs: &[Message], t: MessageType) -> Vec<Message> {
    msgs.iter().filter(|m| m.msg_type() == t).cloned().collect()
}

/// Crashes node `id` and restarts it from its storage (its hard state and
/// persisted log), with the network's default config.
pub fn restart(network: &mut Network, id: u64) {
    let storage = network.storage[&id].clone();
    let mut config = Network::default_config();
    config.id = id;
    config.rng_seed = Some(id);
    let node = new_test_raft_with_config(&config, storage, &test_logger());
    network.peers.insert(id, node);
}

/// An `n`-node network built with `config` in which node 1 campaigned and
/// became the only leader.
pub fn elected_with(config: &Config, n: usize) -> Network {
    let mut network =
        Network::new_with_config((0..n).map(|_| None).collect(), config, &test_logger());
    network.send(vec![hup(1)]);
    assert_eq!(leaders(&network), vec![1]);
    network
}

/// [`elected_with`] the network's default configuration.
pub fn elected(n: usize) -> Network {
    elected_with(&Network::default_config(), n)
}
