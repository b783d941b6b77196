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
use raft::{Config, Raft, RaftLog, RawNode, StateRole, Storage, NO_LIMIT};
use slog::Logger;

/// The logger tests pass to nodes (`RUST_LOG=raft=debug` shows it).
pub fn test_logger() -> Logger {
    raft::default_logger()
}

/// Builds the nodes tests drive, one property at a time, so a test's setup
/// reads as its scenario:
///
/// ```ignore
/// let node = TestRaft::builder(1).voters([1, 2, 3]).pre_vote(true).build();
/// ```
///
/// Unless told otherwise a node has an election timeout of 10 ticks, a
/// heartbeat every tick, no message size limit, an in-flight window of 256,
/// and a random generator seeded with its id.
pub enum TestRaft {}

impl TestRaft {
    /// A builder of node `id`.
    pub fn builder(id: u64) -> TestRaftBuilder {
        TestRaftBuilder {
            config: Config {
                id,
                election_tick: 10,
                heartbeat_tick: 1,
                max_size_per_msg: NO_LIMIT,
                max_inflight_msgs: 256,
                rng_seed: Some(id),
                ..Default::default()
            },
            voters: Vec::new(),
            learners: Vec::new(),
            storage: None,
        }
    }
}

/// See [`TestRaft`].
#[must_use]
pub struct TestRaftBuilder {
    config: Config,
    voters: Vec<u64>,
    learners: Vec<u64>,
    storage: Option<MemStorage>,
}

impl TestRaftBuilder {
    /// The group's voters: the node's storage starts from this
    /// configuration unless it already holds one.
    pub fn voters(mut self, ids: impl IntoIterator<Item = u64>) -> Self {
        self.voters = ids.into_iter().collect();
        self
    }

    /// The group's learners, with the same rule as [`voters`](Self::voters).
    pub fn learners(mut self, ids: impl IntoIterator<Item = u64>) -> Self {
        self.learners = ids.into_iter().collect();
        self
    }

    /// Whether the node runs a pre-vote before campaigning (thesis §9.6).
    pub fn pre_vote(mut self, on: bool) -> Self {
        self.config.pre_vote = on;
        self
    }

    /// Whether a leader steps down without a quorum of recent contact.
    pub fn check_quorum(mut self, on: bool) -> Self {
        self.config.check_quorum = on;
        self
    }

    /// The node's election priority.
    pub fn priority(mut self, priority: i64) -> Self {
        self.config.priority = priority;
        self
    }

    /// Any other setting of the node's config.
    pub fn configure(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(&mut self.config);
        self
    }

    /// The storage the node starts from (a fresh one unless given).
    pub fn storage(mut self, storage: MemStorage) -> Self {
        self.storage = Some(storage);
        self
    }

    /// The node's config, for tests that build a `RawNode` or check
    /// validation themselves.
    pub fn config(self) -> Config {
        self.config
    }

    /// The node, as a network peer.
    pub fn build(self) -> Interface {
        let id = self.config.id;
        let (config, storage) = self.into_parts();
        match Raft::new(&config, storage, &test_logger()) {
            Ok(raft) => Interface::new(raft),
            Err(e) => panic!("cannot build node {id}: {e:?}"),
        }
    }

    /// The node, behind a `RawNode`.
    pub fn raw_node(self) -> RawNode<MemStorage> {
        let id = self.config.id;
        let (config, storage) = self.into_parts();
        match RawNode::new(&config, storage, &test_logger()) {
            Ok(node) => node,
            Err(e) => panic!("cannot build node {id}: {e:?}"),
        }
    }

    fn into_parts(self) -> (Config, MemStorage) {
        let storage = self.storage.unwrap_or_default();
        let initialized = storage
            .initial_state()
            .expect("MemStorage::initial_state")
            .initialized();
        let configured = !self.voters.is_empty() || !self.learners.is_empty();
        if configured && !initialized {
            storage.initialize_with_conf_state(ConfState::from((self.voters, self.learners)));
        }
        (self.config, storage)
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
    let node = TestRaft::builder(id).storage(storage).build();
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

/// What handling `Ready`s handed out.
#[derive(Debug, Default)]
pub struct Handled {
    /// The messages to send: the `Ready`'s, those it held until its writes
    /// were persisted, and the `LightReady`'s, in that order.
    pub messages: Vec<Message>,
    /// The non-empty batches of committed entries, in the order they were
    /// handed out (a `Ready`'s, then its `LightReady`'s).
    pub committed: Vec<Vec<Entry>>,
}

impl Handled {
    /// Every committed entry, in order.
    pub fn committed_entries(&self) -> Vec<Entry> {
        self.committed.concat()
    }

    fn push_committed(&mut self, entries: Vec<Entry>) {
        if !entries.is_empty() {
            self.committed.push(entries);
        }
    }
}

/// Handles one `Ready` of `node` the way a synchronous application does:
/// persists its snapshot, entries and hard state into `storage`, advances,
/// and records the commit index the `LightReady` reports. Applying is left
/// to the caller, who calls `advance_apply` once it has applied the
/// committed entries. `None` when the node has no `Ready`.
pub fn persist_and_advance(
    node: &mut RawNode<MemStorage>,
    storage: &MemStorage,
) -> Option<Handled> {
    if !node.has_ready() {
        return None;
    }
    let mut handled = Handled::default();
    let mut rd = node.ready();
    if !rd.snapshot().is_empty() {
        storage
            .wl()
            .apply_snapshot(rd.snapshot().clone())
            .expect("apply the Ready's snapshot");
    }
    storage
        .wl()
        .append(rd.entries())
        .expect("append the Ready's entries");
    if let Some(hs) = rd.hs() {
        storage.wl().set_hardstate(hs.clone());
    }
    handled.messages.extend(rd.take_messages());
    handled.messages.extend(rd.take_persisted_messages());
    handled.push_committed(rd.take_committed_entries());
    let mut light = node.advance(rd);
    if let Some(commit) = light.commit_index() {
        storage.wl().mut_hard_state().commit = commit;
    }
    handled.messages.extend(light.take_messages());
    handled.push_committed(light.take_committed_entries());
    Some(handled)
}

/// [`persist_and_advance`], then marks every committed entry applied.
pub fn handle_ready(node: &mut RawNode<MemStorage>, storage: &MemStorage) -> Option<Handled> {
    let handled = persist_and_advance(node, storage)?;
    node.advance_apply();
    Some(handled)
}

/// [`handle_ready`] until the node has no `Ready`; panics if it keeps
/// producing them.
pub fn handle_readies(node: &mut RawNode<MemStorage>, storage: &MemStorage) -> Handled {
    let mut all = Handled::default();
    for _ in 0..1000 {
        let Some(handled) = handle_ready(node, storage) else {
            return all;
        };
        all.messages.extend(handled.messages);
        all.committed.extend(handled.committed);
    }
    panic!("node {} kept producing Ready", node.raft.id);
}
