// Whole-cluster workloads, written once against the raft-rs 0.7 API.
//
// This file is not a module of its own: it is pulled in with `include!` by
// `compare/src/main.rs` (twice, once per implementation) and by
// `benches/cluster.rs`. The including module must provide:
//
// - `raft_impl`: the crate under test (`raft` or `raft07`), and
// - `Meter`: a trait with `start(&mut self)` and `stop(&mut self)`, called
//   around the measured parts of each workload (set-up and verification are
//   outside them); a meter sums the parts when it is started more than once.
//
// Every workload drives the complete loop in memory: `ready` → persist into
// `MemStorage` → send → apply → `advance`, and panics unless every node
// applied exactly the payloads that were proposed, in order.
//
// Every call into the crate under test (`RawNode::new` and the `RawNode`,
// `Ready` and `LightReady` methods) goes through `in_core`, a function that is never inlined, so that
// an instruction counter can count the core's own work alone: callgrind's
// `--toggle-collect=*::in_core` collects exactly the instructions executed
// inside these calls (see `compare/measure.sh`). Everything else (building
// payloads, moving messages, the apply checks, the copies into `MemStorage`)
// is the driver's share.

use raft_impl::prelude::{ConfState, Config, Entry, EntryType, Message, MessageType, RawNode, Ready};
use raft_impl::storage::MemStorage;
use raft_impl::StateRole;

/// Size of every proposed payload, in bytes.
pub const PAYLOAD_BYTES: usize = 128;

/// Bytes 8.. of every payload.
const FILLER: [u8; PAYLOAD_BYTES - 8] = {
    let mut filler = [0; PAYLOAD_BYTES - 8];
    let mut at = 0;
    while at < filler.len() {
        filler[at] = (at * 7 + 1) as u8;
        at += 1;
    }
    filler
};

/// The payload proposed as the `sequence`-th entry of a workload: the
/// sequence number (little endian) then a fixed filler, so the apply side can
/// check content and order without keeping a copy.
pub fn payload(sequence: u64) -> Vec<u8> {
    let mut data = Vec::with_capacity(PAYLOAD_BYTES);
    data.extend_from_slice(&sequence.to_le_bytes());
    data.extend_from_slice(&FILLER);
    data
}

/// Runs `call`, one call into the crate under test. Never inlined: its
/// symbol marks the core's share of the work for instruction counters.
#[inline(never)]
fn in_core<R>(call: impl FnOnce() -> R) -> R {
    call()
}

fn payload_matches(sequence: u64, data: &[u8]) -> bool {
    data.len() == PAYLOAD_BYTES && data[..8] == sequence.to_le_bytes() && data[8..] == FILLER
}

/// What one node has applied so far.
#[derive(Default)]
struct Applied {
    /// Index of the last applied entry (entries must come without gaps).
    index: u64,
    /// Number of payload entries applied, which is also the sequence number
    /// expected next.
    payloads: u64,
}

/// A cluster of `RawNode`s over `MemStorage`, with ids `1..=n`, wired by an
/// in-memory message queue.
pub struct Cluster {
    nodes: Vec<RawNode<MemStorage>>,
    applied: Vec<Applied>,
    /// Messages waiting to be delivered.
    outbox: Vec<Message>,
    /// Messages being delivered (kept to reuse its buffer).
    inbox: Vec<Message>,
    /// Read states handed out so far, all nodes together.
    reads_completed: u64,
}

/// The options a workload turns on beyond the defaults.
#[derive(Clone, Copy, Default)]
pub struct Options {
    /// `Config::batch_append`: proposals made between two `Ready`s merge
    /// into one `MsgAppend` per follower.
    pub batch_append: bool,
    /// `Config::check_quorum` and `Config::pre_vote`, as production
    /// deployments run them.
    pub check_quorum_and_pre_vote: bool,
}

fn bench_config(id: u64, options: Options) -> Config {
    Config {
        id,
        election_tick: 10,
        heartbeat_tick: 1,
        // Batches of 64 × 128 B ride in one MsgAppend.
        max_size_per_msg: 1024 * 1024,
        max_inflight_msgs: 256,
        batch_append: options.batch_append,
        check_quorum: options.check_quorum_and_pre_vote,
        pre_vote: options.check_quorum_and_pre_vote,
        ..Default::default()
    }
}

impl Cluster {
    /// `voters` fresh nodes, all knowing the same configuration, no leader.
    pub fn new(voters: u64) -> Cluster {
        Cluster::with_options(voters, Options::default())
    }

    /// `voters` fresh nodes with `options`, no leader.
    pub fn with_options(voters: u64, options: Options) -> Cluster {
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let ids: Vec<u64> = (1..=voters).collect();
        let nodes = ids
            .iter()
            .map(|&id| {
                let storage =
                    MemStorage::new_with_conf_state(ConfState::from((ids.clone(), Vec::new())));
                let config = bench_config(id, options);
                in_core(|| RawNode::new(&config, storage, &logger)).expect("valid bench config")
            })
            .collect();
        Cluster {
            nodes,
            applied: (0..voters).map(|_| Applied::default()).collect(),
            outbox: Vec::new(),
            inbox: Vec::new(),
            reads_completed: 0,
        }
    }

    /// `voters` fresh nodes with node 1 elected leader and its first entry
    /// applied everywhere.
    pub fn with_leader(voters: u64) -> Cluster {
        Cluster::with_leader_and_options(voters, Options::default())
    }

    /// `voters` fresh nodes with `options`, node 1 elected leader and its
    /// first entry applied everywhere.
    pub fn with_leader_and_options(voters: u64, options: Options) -> Cluster {
        let mut cluster = Cluster::with_options(voters, options);
        cluster.elect(1);
        cluster
    }

    /// Whether every node applied `payloads` payload entries.
    fn all_applied(&self, payloads: u64) -> bool {
        self.applied.iter().all(|applied| applied.payloads == payloads)
    }

    /// Heap bytes the driver's own bookkeeping holds (message queues and
    /// apply records), as opposed to the replicas'.
    pub fn driver_heap_bytes(&self) -> usize {
        (self.outbox.capacity() + self.inbox.capacity()) * std::mem::size_of::<Message>()
            + self.applied.capacity() * std::mem::size_of::<Applied>()
    }

    /// The leader id and term each node sees.
    fn leaders_and_terms(&self) -> Vec<(u64, u64)> {
        self.nodes
            .iter()
            .map(|node| (node.raft.leader_id, node.raft.term))
            .collect()
    }

    /// Makes `id` campaign and runs the cluster until it is quiet; panics
    /// unless `id` is leader and every node knows it.
    pub fn elect(&mut self, id: u64) {
        let node = &mut self.nodes[id as usize - 1];
        in_core(|| node.campaign()).expect("campaign");
        self.run_until_quiet();
        for node in &self.nodes {
            assert_eq!(
                node.raft.leader_id, id,
                "node {} sees leader {} after node {id} campaigned",
                node.raft.id, node.raft.leader_id
            );
        }
        let role = self.nodes[id as usize - 1].raft.state;
        assert_eq!(role, StateRole::Leader, "node {id} campaigned");
    }

    /// Proposes `data` on node `id`.
    pub fn propose(&mut self, id: u64, data: Vec<u8>) {
        let node = &mut self.nodes[id as usize - 1];
        in_core(|| node.propose(Vec::new(), data)).expect("proposal accepted");
    }

    /// Proposes the payloads `sequences` on node `id` as one `MsgPropose`
    /// (one log append and one `MsgAppend` per follower for the batch).
    pub fn propose_batch(&mut self, id: u64, sequences: std::ops::Range<u64>) {
        let mut message = Message::default();
        message.set_msg_type(MessageType::MsgPropose);
        message.set_from(id);
        message.set_to(id);
        for sequence in sequences {
            let mut entry = Entry::default();
            entry.set_data(payload(sequence).into());
            message.mut_entries().push(entry);
        }
        let node = &mut self.nodes[id as usize - 1];
        in_core(|| node.step(message)).expect("proposal accepted");
    }

    /// Starts a read-index round on node `id`.
    pub fn read_index(&mut self, id: u64, request_context: Vec<u8>) {
        let node = &mut self.nodes[id as usize - 1];
        in_core(|| node.read_index(request_context));
    }

    /// Handles every node's `Ready` and delivers every message, until no
    /// node has anything to do.
    pub fn run_until_quiet(&mut self) {
        loop {
            let worked = self.handle_every_ready();
            if self.outbox.is_empty() {
                if worked {
                    continue;
                }
                return;
            }
            self.deliver();
        }
    }

    /// Handles one `Ready` of every node that has one; returns whether any
    /// node had one.
    fn handle_every_ready(&mut self) -> bool {
        let mut worked = false;
        for position in 0..self.nodes.len() {
            let node = &self.nodes[position];
            if in_core(|| node.has_ready()) {
                self.handle_ready(position);
                worked = true;
            }
        }
        worked
    }

    /// Delivers every message waiting in the outbox.
    fn deliver(&mut self) {
        std::mem::swap(&mut self.outbox, &mut self.inbox);
        for message in self.inbox.drain(..) {
            let to = message.get_to();
            let node = &mut self.nodes[to as usize - 1];
            if let Err(error) = in_core(|| node.step(message)) {
                panic!("node {to} refused a message: {error:?}");
            }
        }
    }

    /// One round of a pipelined cluster: every node handles one `Ready` if
    /// it has one, then every message of the round is delivered.
    fn round(&mut self) {
        self.handle_every_ready();
        self.deliver();
    }

    /// Ticks every node once.
    fn tick(&mut self) {
        for node in &mut self.nodes {
            in_core(|| node.tick());
        }
    }

    /// One turn of the driver contract for one node.
    fn handle_ready(&mut self, position: usize) {
        let node = &mut self.nodes[position];
        let ready = in_core(|| node.ready());
        self.process_ready(position, ready);
    }

    /// The rest of the turn, once the `Ready` is out: persist, send, apply,
    /// advance.
    fn process_ready(&mut self, position: usize, mut ready: Ready) {
        let node = &mut self.nodes[position];
        let applied = &mut self.applied[position];
        let id = position as u64 + 1;
        // A leader's messages may leave before its log is durable (thesis §10.2.1).
        self.outbox.extend(in_core(|| ready.take_messages()));
        if !in_core(|| ready.snapshot().is_empty()) {
            let snapshot = ready.snapshot().clone();
            node.store().wl().apply_snapshot(snapshot).expect("apply snapshot");
        }
        apply(id, applied, in_core(|| ready.take_committed_entries()));
        let entries = in_core(|| ready.entries());
        if !entries.is_empty() {
            node.store().wl().append(entries).expect("append");
        }
        if let Some(hard_state) = in_core(|| ready.hs()) {
            node.store().wl().set_hardstate(hard_state.clone());
        }
        self.outbox
            .extend(in_core(|| ready.take_persisted_messages()));
        for read in in_core(|| ready.take_read_states()) {
            assert_eq!(
                read.request_ctx,
                self.reads_completed.to_le_bytes(),
                "node {id} read states out of order"
            );
            self.reads_completed += 1;
        }
        let mut light = in_core(|| node.advance(ready));
        if let Some(commit) = in_core(|| light.commit_index()) {
            node.store().wl().mut_hard_state().set_commit(commit);
        }
        self.outbox.extend(in_core(|| light.take_messages()));
        apply(id, applied, in_core(|| light.take_committed_entries()));
        in_core(|| node.advance_apply());
    }

    /// Panics unless every node applied exactly `payloads` payload entries
    /// (their order and content are checked as they are applied) and its
    /// applied index equals the leader's commit.
    pub fn verify(&self, payloads: u64) {
        let commit = self
            .nodes
            .iter()
            .map(|node| node.raft.raft_log.committed)
            .max()
            .unwrap_or(0);
        for (position, applied) in self.applied.iter().enumerate() {
            let id = position + 1;
            assert_eq!(
                applied.payloads, payloads,
                "node {id} applied {} payloads, {payloads} were proposed",
                applied.payloads
            );
            assert_eq!(
                applied.index, commit,
                "node {id} applied up to {}, the cluster committed {commit}",
                applied.index
            );
        }
    }
}

fn apply(id: u64, applied: &mut Applied, entries: Vec<Entry>) {
    for entry in entries {
        assert_eq!(
            entry.get_index(),
            applied.index + 1,
            "node {id} applied index {} after {}",
            entry.get_index(),
            applied.index
        );
        applied.index += 1;
        assert_eq!(entry.get_entry_type(), EntryType::EntryNormal, "node {id}");
        let data = entry.get_data();
        if data.is_empty() {
            // A new leader's empty entry (§5.4.2, thesis §6.4).
            continue;
        }
        assert!(
            payload_matches(applied.payloads, data),
            "node {id} applied {data:?} at index {} where payload #{} was due",
            applied.index,
            applied.payloads
        );
        applied.payloads += 1;
    }
}

/// Workloads (a) and (d): a leader among `voters` nodes proposes `entries`
/// payloads with `RawNode::propose`, one at a time, and the cluster runs until
/// quiet after each. Returns the number of committed payload entries.
pub fn propose_one_by_one(meter: &mut impl super::Meter, voters: u64, entries: u64) -> u64 {
    let mut cluster = Cluster::with_leader(voters);
    meter.start();
    for sequence in 0..entries {
        cluster.propose(1, payload(sequence));
        cluster.run_until_quiet();
    }
    meter.stop();
    cluster.verify(entries);
    entries
}

/// Workloads (b) and (c): a leader among `voters` nodes proposes `entries`
/// payloads in batches of `batch` (one `MsgPropose` each), and the cluster
/// runs until quiet after each batch. Returns the number of committed payload
/// entries.
pub fn propose_batches(
    meter: &mut impl super::Meter,
    voters: u64,
    entries: u64,
    batch: u64,
) -> u64 {
    let mut cluster = Cluster::with_leader(voters);
    meter.start();
    let mut sequence = 0;
    while sequence < entries {
        let end = (sequence + batch).min(entries);
        cluster.propose_batch(1, sequence..end);
        sequence = end;
        cluster.run_until_quiet();
    }
    meter.stop();
    cluster.verify(entries);
    entries
}

/// For the criterion bench of `ready` on a busy leader: `cycles` times, the
/// leader of `voters` nodes gets a batch of `batch` proposals, then only its
/// `ready()` call is measured; the rest of the cycle runs unmeasured. Returns
/// the number of `ready()` calls.
pub fn busy_leader_ready(
    meter: &mut impl super::Meter,
    voters: u64,
    cycles: u64,
    batch: u64,
) -> u64 {
    let mut cluster = Cluster::with_leader(voters);
    for cycle in 0..cycles {
        cluster.propose_batch(1, cycle * batch..(cycle + 1) * batch);
        meter.start();
        let leader = &mut cluster.nodes[0];
        let ready = in_core(|| leader.ready());
        meter.stop();
        cluster.process_ready(0, ready);
        cluster.run_until_quiet();
    }
    cluster.verify(cycles * batch);
    cycles
}

/// Workload (e): `rounds` times, `voters` fresh nodes elect node 1 and apply
/// its first entry. Returns the number of elections.
pub fn elect(meter: &mut impl super::Meter, voters: u64, rounds: u64) -> u64 {
    meter.start();
    for _ in 0..rounds {
        let cluster = Cluster::with_leader(voters);
        cluster.verify(0);
    }
    meter.stop();
    rounds
}

/// Workload (f): on `voters` nodes with a leader, `rounds` read-index rounds
/// one after another (safe read-only option: each is a heartbeat quorum
/// round). Returns the number of reads completed.
pub fn read_index(meter: &mut impl super::Meter, voters: u64, rounds: u64) -> u64 {
    let mut cluster = Cluster::with_leader(voters);
    meter.start();
    for round in 0..rounds {
        cluster.read_index(1, round.to_le_bytes().to_vec());
        cluster.run_until_quiet();
    }
    meter.stop();
    assert_eq!(cluster.reads_completed, rounds, "read states handed out");
    cluster.verify(0);
    rounds
}

/// Workload (g), the usual application pattern: three nodes with
/// `batch_append` on; between two `Ready`s the leader's application calls
/// `RawNode::propose` `per_ready` times (one payload each); every round each
/// node handles one `Ready` and every message of the round is delivered,
/// pipelined until every node applied `entries` payloads. Returns the number
/// of committed payload entries.
pub fn propose_between_readys(
    meter: &mut impl super::Meter,
    entries: u64,
    per_ready: u64,
) -> u64 {
    let options = Options {
        batch_append: true,
        ..Options::default()
    };
    let mut cluster = Cluster::with_leader_and_options(3, options);
    meter.start();
    let mut sequence = 0;
    let mut rounds = 0;
    while !cluster.all_applied(entries) {
        let end = (sequence + per_ready).min(entries);
        for next in sequence..end {
            cluster.propose(1, payload(next));
        }
        sequence = end;
        cluster.round();
        rounds += 1;
        assert!(
            rounds <= entries + 100,
            "{rounds} rounds for {entries} entries"
        );
    }
    meter.stop();
    cluster.verify(entries);
    entries
}

/// Ticks that make one heartbeat interval in every workload's configuration.
pub const HEARTBEAT_TICKS: u64 = 1;

/// Workload (h), many idle groups in one process: `groups` groups of three
/// replicas with `check_quorum` and `pre_vote` on, leaders elected and
/// settled; every replica is ticked once per round for `heartbeat_intervals`
/// heartbeat intervals, and every `Ready` is handled and every message
/// delivered after each round. Panics if any group saw an election. Returns
/// the number of ticks (one tick of one replica each).
pub fn idle_groups(meter: &mut impl super::Meter, groups: u64, heartbeat_intervals: u64) -> u64 {
    let mut clusters: Vec<Cluster> = (0..groups).map(|_| idle_group(0)).collect();
    let before: Vec<Vec<(u64, u64)>> = clusters.iter().map(Cluster::leaders_and_terms).collect();
    let rounds = heartbeat_intervals * HEARTBEAT_TICKS;
    meter.start();
    for _ in 0..rounds {
        for cluster in &mut clusters {
            cluster.tick();
            cluster.run_until_quiet();
        }
    }
    meter.stop();
    for (cluster, before) in clusters.iter().zip(before) {
        assert_eq!(
            cluster.leaders_and_terms(),
            before,
            "an idle group held an election"
        );
        cluster.verify(0);
    }
    groups * 3 * rounds
}

/// One group of three replicas as workloads (h) and (i) keep them:
/// `check_quorum` and `pre_vote` on, node 1 elected, `payloads` payload
/// entries proposed and applied everywhere, then two election timeouts of
/// heartbeats so every replica is in its steady state.
pub fn idle_group(payloads: u64) -> Cluster {
    let options = Options {
        check_quorum_and_pre_vote: true,
        ..Options::default()
    };
    let mut cluster = Cluster::with_leader_and_options(3, options);
    for sequence in 0..payloads {
        cluster.propose(1, payload(sequence));
        cluster.run_until_quiet();
    }
    for _ in 0..20 {
        cluster.tick();
        cluster.run_until_quiet();
    }
    cluster.verify(payloads);
    cluster
}

/// The inline size of one replica's `RawNode` (its heap parts not counted).
pub fn raw_node_inline_bytes() -> usize {
    std::mem::size_of::<RawNode<MemStorage>>()
}

/// Workload (j), many busy groups in one process: `groups` groups of three
/// replicas with a leader; every round the leader of each group proposes one
/// payload (until `entries_per_group` were proposed), then each replica of
/// the group handles one `Ready` and the group's messages are delivered,
/// pipelined until every replica applied `entries_per_group` payloads.
/// Returns the number of committed payload entries, all groups together.
pub fn many_groups_propose(
    meter: &mut impl super::Meter,
    groups: u64,
    entries_per_group: u64,
) -> u64 {
    let mut clusters: Vec<Cluster> = (0..groups).map(|_| Cluster::with_leader(3)).collect();
    meter.start();
    let mut sequence = 0;
    loop {
        let mut done = true;
        for cluster in &mut clusters {
            if sequence < entries_per_group {
                cluster.propose(1, payload(sequence));
            }
            cluster.round();
            done &= cluster.all_applied(entries_per_group);
        }
        if done {
            break;
        }
        sequence += 1;
        assert!(
            sequence <= entries_per_group + 100,
            "{sequence} rounds for {entries_per_group} entries per group"
        );
    }
    meter.stop();
    for cluster in &clusters {
        cluster.verify(entries_per_group);
    }
    groups * entries_per_group
}
