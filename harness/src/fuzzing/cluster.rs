//! The `cluster` target: three voters (1, 2, 3) and a spare id (4) that
//! membership changes may add, each a [`SimNode`] of the simulator, under a
//! schedule the input picks one operation at a time: deliver any message in
//! flight (so in any order), drop or duplicate one, tick one node or all,
//! handle a `Ready` (possibly crashing in the middle of it), make background
//! writes durable, propose, read, crash, restart, compact, campaign,
//! transfer leadership, request a snapshot, make the storage's fetches
//! asynchronous, and propose membership changes.
//!
//! After every operation the simulator's safety checks
//! ([`Checker`], the same code `harness::sim` runs) look at what the nodes
//! did, and any violation panics. The nodes themselves run the core's
//! invariant checks (`Raft::check_invariants`) in debug builds.
//!
//! Two choices keep the target to what Raft promises. Ticks reach the nodes
//! independently, so clocks drift without bound: reads are `Safe` only,
//! since lease-based reads rely on bounded drift (thesis §6.4.1). And an id
//! once proposed for removal is never added back: an empty node re-added
//! under an old id can complete a stale majority, a known limitation of
//! membership by id (thesis §4.1), not something the core can prevent.
//!
//! The input is read with [`arbitrary`]: a few bytes of options, then one
//! [`Op`] of three bytes per operation, so that a mutation changes one
//! operation and the corpus is easy to write by hand.

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::{Arbitrary, Unstructured};
use raft::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
    Message, MessageType,
};
use raft::{SnapshotStatus, StateRole};
use slog::Logger;

use super::{Coverage, MAX_OPERATIONS};
use crate::sim::checks::Checker;
use crate::sim::kv::{Command, KEYS};
use crate::sim::node::{Applied, CrashPoint, Durable, Effects, SimNode};
use crate::sim::params::{FaultWeights, Params};

/// The voters the cluster starts with.
const VOTERS: [u64; 3] = [1, 2, 3];
/// The id a membership change may add.
const SPARE: u64 = 4;
/// The most messages in flight; past it, new messages are lost.
const MAX_IN_FLIGHT: usize = 256;

/// The options of a run, from the first bytes of the input.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pre_vote: bool,
    check_quorum: bool,
    batch_append: bool,
    async_persist: bool,
    max_inflight_msgs: usize,
    max_size_per_msg: u64,
}

impl<'a> Arbitrary<'a> for Options {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let [flags, inflight, size] = <[u8; 3]>::arbitrary(u)?;
        Ok(Options {
            pre_vote: flags & 1 != 0,
            check_quorum: flags & 2 != 0,
            batch_append: flags & 4 != 0,
            async_persist: flags & 8 != 0,
            max_inflight_msgs: [1, 2, 8, 256][usize::from(inflight % 4)],
            max_size_per_msg: [0, 1, 256, u64::MAX][usize::from(size % 4)],
        })
    }
}

/// A membership change to propose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Add the spare id as a learner.
    AddLearner,
    /// Add the spare id as a voter (or promote it).
    AddVoter,
    /// Remove an id.
    Remove(u64),
    /// Leave a joint configuration (an empty `ConfChangeV2`).
    LeaveJoint,
    /// Add the spare id and remove a voter at once (joint, v2 only).
    Replace(u64),
}

/// One operation of the schedule. Nodes are ids 1 to 4; positions in the
/// queue of messages in flight are taken modulo its length.
///
/// Read from three bytes `[tag, a, b]`: `tag % 32` picks the operation
/// (0-7 deliver, 8-9 drop, 10 duplicate, 11-14 Ready, 15 flush, 16-18 tick
/// all, 19 tick one, 20-21 put, 22 read, 23 crash, 24 restart, 25
/// membership change, 26 compact, 27 campaign, 28 transfer, 29 request a
/// snapshot, 30 slow fetches, 31 complete fetches), `a` the node (`1 + a %
/// 4`) or queue position, `b` the argument (a crash point below 4, a key,
/// a change kind in `b % 8` and its transition in `b / 8 % 6`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Deliver the message at a position of the queue.
    Deliver(usize),
    /// Lose the message at a position.
    Drop(usize),
    /// Deliver the message at a position twice (a copy joins the queue).
    Duplicate(usize),
    /// Handle a node's `Ready`, possibly crashing in the middle.
    Ready(u64, Option<CrashPoint>),
    /// Make a node's oldest background writes durable (asynchronous
    /// persistence), possibly crashing in the middle of the last.
    Flush(u64, usize, bool),
    /// Tick every running node.
    TickAll,
    /// Tick one node.
    Tick(u64),
    /// Propose a write (or a delete) of a key on a node.
    Put(u64, usize, bool),
    /// Ask a node for a linearizable read.
    Read(u64),
    /// Crash a node: what is not durable is lost.
    Crash(u64),
    /// Restart a crashed node from its durable state.
    Restart(u64),
    /// Propose a membership change on a node, as v2 with a transition or v1.
    ConfChange(u64, Change, Option<ConfChangeTransition>),
    /// Compact a node's log at its applied index.
    Compact(u64),
    /// Make a node campaign.
    Campaign(u64),
    /// Ask a node (a leader) to transfer leadership.
    Transfer(u64, u64),
    /// Make a follower request a snapshot.
    RequestSnapshot(u64),
    /// Turn asynchronous entry fetches of a node's storage on or off.
    LogUnavailable(u64, bool),
    /// Complete a node's asynchronous entry fetches.
    Fetched(u64),
}

impl<'a> Arbitrary<'a> for Op {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let [tag, a, b] = <[u8; 3]>::arbitrary(u)?;
        let node = 1 + u64::from(a % 4);
        let at = usize::from(a);
        Ok(match tag % 32 {
            0..=7 => Op::Deliver(at),
            8 | 9 => Op::Drop(at),
            10 => Op::Duplicate(at),
            11..=14 => {
                let points = [
                    CrashPoint::AfterSend,
                    CrashPoint::AfterEntries,
                    CrashPoint::AfterHardState,
                    CrashPoint::AfterApply,
                ];
                Op::Ready(node, points.get(usize::from(b)).copied())
            }
            15 => Op::Flush(node, 1 + usize::from(b % 3), b >= 250),
            16..=18 => Op::TickAll,
            19 => Op::Tick(node),
            20 | 21 => Op::Put(node, usize::from(b) % KEYS.len(), b & 128 != 0),
            22 => Op::Read(node),
            23 => Op::Crash(node),
            24 => Op::Restart(node),
            25 => {
                let victim = 1 + u64::from((b / 48) % 3);
                let change = match b % 8 {
                    0 => Change::AddLearner,
                    1 => Change::AddVoter,
                    k @ 2..=5 => Change::Remove(u64::from(k) - 1),
                    6 => Change::LeaveJoint,
                    _ => Change::Replace(victim),
                };
                let transition = match (b / 8) % 6 {
                    0 | 1 => None,
                    2 | 3 => Some(ConfChangeTransition::Auto),
                    4 => Some(ConfChangeTransition::Implicit),
                    _ => Some(ConfChangeTransition::Explicit),
                };
                Op::ConfChange(node, change, transition)
            }
            26 => Op::Compact(node),
            27 => Op::Campaign(node),
            28 => Op::Transfer(node, 1 + u64::from(b % 4)),
            29 => Op::RequestSnapshot(node),
            30 => Op::LogUnavailable(node, b & 1 != 0),
            _ => Op::Fetched(node),
        })
    }
}

/// Runs the `cluster` target on `data`.
///
/// # Panics
///
/// When a safety check of the simulator fails, when a restarted node does
/// not come back with its durable state, or when a node panics (an
/// invariant of the core).
pub fn cluster(data: &[u8]) -> Coverage {
    let mut u = Unstructured::new(data);
    let Ok(options) = Options::arbitrary(&mut u) else {
        return Coverage::default();
    };
    let mut cluster = Cluster::new(options);
    while !u.is_empty() && cluster.coverage.operations < MAX_OPERATIONS {
        let Ok(op) = Op::arbitrary(&mut u) else {
            break;
        };
        cluster.run(op);
        cluster.check(op);
    }
    cluster.coverage
}

/// The cluster under test.
struct Cluster {
    params: Params,
    async_persist: bool,
    nodes: BTreeMap<u64, SimNode>,
    /// Messages in flight, in the order they were sent.
    in_flight: Vec<Message>,
    checker: Checker,
    coverage: Coverage,
    next_op_id: u64,
    /// Whether a message was duplicated (a read may then be answered twice).
    duplicated: bool,
    /// Ids proposed for removal: never added back.
    removed: BTreeSet<u64>,
    logger: Logger,
}

impl Cluster {
    fn new(options: Options) -> Cluster {
        let params = Params {
            voters: VOTERS.to_vec(),
            learners: Vec::new(),
            spare_ids: vec![SPARE],
            pre_vote: options.pre_vote,
            check_quorum: options.check_quorum,
            lease_reads: false,
            batch_append: options.batch_append,
            max_size_per_msg: options.max_size_per_msg,
            max_inflight_msgs: options.max_inflight_msgs,
            priorities: Vec::new(),
            async_persist: options.async_persist,
            conf_change_v2: true,
            bootstrap_at_term_zero: false,
            faults: FaultWeights::default(),
            client_rate: 0,
        };
        let initial = ConfState::from((VOTERS.to_vec(), vec![]));
        let mut cluster = Cluster {
            params,
            async_persist: options.async_persist,
            nodes: BTreeMap::new(),
            in_flight: Vec::new(),
            checker: Checker::default(),
            coverage: Coverage::default(),
            next_op_id: 1,
            duplicated: false,
            removed: BTreeSet::new(),
            logger: Logger::root(slog::Discard, slog::o!()),
        };
        for id in VOTERS {
            cluster.nodes.insert(
                id,
                SimNode::new(id, Durable::initial_member(&initial, false)),
            );
            cluster.start(id);
        }
        cluster
    }

    fn start(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).expect("known node");
        if let Some(problem) = node.start(&self.params, 0, &self.logger) {
            self.checker.violations.push(problem);
        }
        self.checker
            .restarted(id, node.incarnation, &node.durable.hard_state);
    }

    fn run(&mut self, op: Op) {
        self.coverage.operations += 1;
        match op {
            Op::Deliver(at) => {
                if let Some(m) = self.take(at) {
                    self.deliver(m);
                }
            }
            Op::Drop(at) => {
                if let Some(m) = self.take(at) {
                    self.lose(&m);
                }
            }
            Op::Duplicate(at) => {
                if !self.in_flight.is_empty() {
                    let m = self.in_flight[at % self.in_flight.len()].clone();
                    self.duplicated = true;
                    self.send(m);
                }
            }
            Op::Ready(id, crash_at) => self.ready(id, crash_at),
            Op::Flush(id, count, crash_mid) => {
                if let Some(node) = self.nodes.get_mut(&id) {
                    let effects = node.flush_writes(count, crash_mid);
                    self.process(id, effects);
                }
            }
            Op::TickAll => {
                for node in self.nodes.values_mut() {
                    if let Some(raw) = node.raw.as_mut() {
                        raw.tick();
                    }
                }
            }
            Op::Tick(id) => {
                if let Some(raw) = self.raw(id) {
                    raw.tick();
                }
            }
            Op::Put(id, key, delete) => self.put(id, key, delete),
            Op::Read(id) => self.read(id),
            Op::Crash(id) => {
                if let Some(node) = self.nodes.get_mut(&id) {
                    if node.is_up() {
                        node.crash();
                        self.coverage.crashes += 1;
                    }
                }
            }
            Op::Restart(id) => {
                if self.nodes.get(&id).is_some_and(|n| !n.is_up()) {
                    self.start(id);
                }
            }
            Op::ConfChange(id, change, transition) => {
                self.propose_conf_change(id, change, transition)
            }
            Op::Compact(id) => {
                if let Some(node) = self.nodes.get_mut(&id) {
                    node.compact();
                }
            }
            Op::Campaign(id) => {
                if let Some(raw) = self.raw(id) {
                    let _ = raw.campaign();
                }
            }
            Op::Transfer(id, to) => {
                if let Some(raw) = self.raw(id) {
                    raw.transfer_leader(to);
                }
            }
            Op::RequestSnapshot(id) => {
                if let Some(raw) = self.raw(id) {
                    let _ = raw.request_snapshot();
                }
            }
            Op::LogUnavailable(id, on) => {
                if let Some(raw) = self.raw(id) {
                    raw.store().mem.wl().trigger_log_unavailable(on);
                }
            }
            Op::Fetched(id) => {
                if let Some(raw) = self.raw(id) {
                    let fetched = raw.store().mem.wl().take_get_entries_context();
                    if let Some(context) = fetched {
                        raw.on_entries_fetched(context);
                    }
                }
            }
        }
        // A leader asked for a newer snapshot than its storage holds: the
        // application makes one, as the simulator does.
        for node in self.nodes.values_mut() {
            if node.snapshot_wanted() {
                node.compact();
            }
        }
    }

    fn raw(&mut self, id: u64) -> Option<&mut raft::RawNode<crate::sim::node::SimStorage>> {
        self.nodes.get_mut(&id).and_then(|n| n.raw.as_mut())
    }

    fn take(&mut self, at: usize) -> Option<Message> {
        if self.in_flight.is_empty() {
            return None;
        }
        Some(self.in_flight.remove(at % self.in_flight.len()))
    }

    fn send(&mut self, m: Message) {
        if self.in_flight.len() < MAX_IN_FLIGHT {
            self.in_flight.push(m);
        } else {
            self.lose(&m);
        }
    }

    /// A lost snapshot is reported to its sender, as a transport does.
    fn lose(&mut self, m: &Message) {
        if m.get_msg_type() == MessageType::MsgSnapshot {
            if let Some(raw) = self.raw(m.from) {
                raw.report_snapshot(m.to, SnapshotStatus::Failure);
            }
        }
    }

    fn deliver(&mut self, m: Message) {
        let (from, to) = (m.from, m.to);
        let snapshot = m.get_msg_type() == MessageType::MsgSnapshot;
        let Some(raw) = self.raw(to) else {
            self.lose(&m);
            return;
        };
        // A response from a peer the node does not track is the node's to
        // refuse, as a transport would pass it on.
        let _ = raw.step(m);
        self.coverage.messages_delivered += 1;
        if snapshot {
            if let Some(raw) = self.raw(from) {
                raw.report_snapshot(to, SnapshotStatus::Finish);
            }
        }
    }

    fn ready(&mut self, id: u64, crash_at: Option<CrashPoint>) {
        let async_persist = self.async_persist;
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        if !node.raw.as_ref().is_some_and(|raw| raw.has_ready()) {
            return;
        }
        let effects = node.handle_ready(async_persist, crash_at);
        if async_persist && !effects.crashed {
            self.coverage.async_readies += 1;
        }
        if effects.crashed {
            self.coverage.crashes += 1;
        }
        self.process(id, effects);
    }

    /// Checks what a node did, then sends its messages.
    fn process(&mut self, id: u64, effects: Effects) {
        let incarnation = self.nodes[&id].incarnation;
        self.checker
            .effects(id, incarnation, &effects, self.duplicated);
        self.coverage.read_states += effects.read_states.len();
        for applied in &effects.applied {
            match applied {
                Applied::Snapshot { .. } => self.coverage.snapshots_installed += 1,
                Applied::Entry { conf_state, .. } => {
                    self.coverage.applied_entries += 1;
                    self.coverage.conf_changes_applied += usize::from(conf_state.is_some());
                }
            }
        }
        for m in effects.messages {
            self.send(m);
        }
    }

    fn put(&mut self, id: u64, key: usize, delete: bool) {
        let op_id = self.next_op_id;
        self.next_op_id += 1;
        let command = Command {
            op_id,
            key: KEYS[key].to_vec(),
            value: (!delete).then(|| op_id.to_le_bytes().to_vec()),
        };
        if let Some(raw) = self.raw(id) {
            let _ = raw.propose(vec![], command.encode());
        }
    }

    fn read(&mut self, id: u64) {
        // Every entry applied anywhere is committed, so a read issued now
        // must be answered at an index at least as high (thesis §6.4).
        let applied = self
            .nodes
            .values()
            .map(|n| n.durable.machine.applied)
            .max()
            .unwrap_or(0);
        let op_id = self.next_op_id;
        self.next_op_id += 1;
        let mut ctx = b"read:".to_vec();
        ctx.extend(op_id.to_le_bytes());
        if let Some(raw) = self.raw(id) {
            raw.read_index(ctx.clone());
            self.checker.read_issued(ctx, id, applied);
        }
    }

    fn propose_conf_change(
        &mut self,
        id: u64,
        change: Change,
        transition: Option<ConfChangeTransition>,
    ) {
        let single = |change_type: ConfChangeType, node_id: u64| ConfChangeSingle {
            change_type: change_type.into(),
            node_id,
            ..Default::default()
        };
        let changes = match change {
            Change::AddLearner => vec![single(ConfChangeType::AddLearnerNode, SPARE)],
            Change::AddVoter => vec![single(ConfChangeType::AddNode, SPARE)],
            Change::Remove(victim) => vec![single(ConfChangeType::RemoveNode, victim)],
            Change::LeaveJoint => vec![],
            Change::Replace(victim) => vec![
                single(ConfChangeType::AddNode, SPARE),
                single(ConfChangeType::RemoveNode, victim),
            ],
        };
        let adds_spare = changes
            .iter()
            .any(|c| c.node_id == SPARE && c.get_change_type() != ConfChangeType::RemoveNode);
        if adds_spare && self.removed.contains(&SPARE) {
            return;
        }
        if !self.nodes.get(&id).is_some_and(SimNode::is_up) {
            return;
        }
        for c in &changes {
            if c.get_change_type() == ConfChangeType::RemoveNode {
                self.removed.insert(c.node_id);
            }
        }
        if adds_spare && !self.nodes.contains_key(&SPARE) {
            self.nodes
                .insert(SPARE, SimNode::new(SPARE, Durable::default()));
            self.start(SPARE);
        }
        let raw = self.raw(id).expect("up");
        let _ = match (transition, changes.as_slice()) {
            (None, [only]) => raw.propose_conf_change(
                vec![],
                ConfChange {
                    change_type: only.change_type,
                    node_id: only.node_id,
                    ..Default::default()
                },
            ),
            (transition, _) => raw.propose_conf_change(
                vec![],
                ConfChangeV2 {
                    transition: transition.unwrap_or_default().into(),
                    changes,
                    ..Default::default()
                },
            ),
        };
    }

    /// The checks after every operation: the leaders' (election safety,
    /// leader completeness), then every violation found so far panics.
    fn check(&mut self, op: Op) {
        for (&id, node) in &self.nodes {
            if let Some(raw) = node.raw.as_ref() {
                if raw.raft.state == StateRole::Leader {
                    self.coverage.leader_steps += 1;
                }
                self.checker.observe(id, raw);
            }
        }
        if !self.checker.violations.is_empty() {
            let states: Vec<String> = self
                .nodes
                .iter()
                .map(|(id, node)| match node.raw.as_ref() {
                    Some(raw) => format!(
                        "node {id}: {:?} term {} commit {} last index {}",
                        raw.raft.state,
                        raw.raft.term,
                        raw.raft.raft_log.committed,
                        raw.raft.raft_log.last_index()
                    ),
                    None => format!("node {id}: down"),
                })
                .collect();
            panic!(
                "after operation {} ({op:?}): {}\n{}",
                self.coverage.operations,
                self.checker.violations.join("\n"),
                states.join("\n")
            );
        }
    }
}
