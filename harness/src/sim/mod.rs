//! A deterministic, seeded simulator of whole raft clusters.
//!
//! # What is modelled
//!
//! Each seed builds a cluster of [`RawNode`](raft::RawNode)s driven exactly as
//! an application drives them (the numbered driver contract in the `raft`
//! crate docs): ticks, messages stepped in, `Ready`s taken, messages sent,
//! snapshot, entries and hard state persisted, persisted messages sent after,
//! committed entries applied to a key-value machine, `advance`. Persistence is
//! synchronous or asynchronous (`advance_append_async` + `on_persist_ready`,
//! several `Ready`s in flight). Each node has a raft-visible storage and a
//! durable copy ([`node::Durable`]); a crash, at any step or in the middle of
//! a `Ready`, loses exactly what was not yet durable, and a restart rebuilds
//! the node from the durable copy only.
//!
//! A seed draws (swarm testing, [`params`]) the cluster shape (3, 5 or 7
//! voters, sometimes learners; bootstrapped from a snapshot in term 1, or
//! empty at term 0), raft options (pre-vote, check-quorum, safe or
//! lease reads, batch append, message size and inflight limits, priorities)
//! and a random subset of faults with random weights: message drop,
//! duplication, delay (reordering); one-way and two-way link cuts, isolation,
//! partitions and healing; crashes and restarts; log compaction (snapshots);
//! `request_snapshot`; storage answering `LogTemporarilyUnavailable`;
//! membership changes (v1 and v2, joint with automatic and explicit leave,
//! removing the leader, promoting learners, rarely re-adding a removed id
//! after wiping its node, which then starts from a member's snapshot at or
//! past the re-add, as the `raft` crate docs require); leader transfer. Clients issue puts, deletes and reads on
//! leaders and followers. All randomness comes from one seeded generator and
//! each node's `Config::rng_seed` is derived from the seed, so a seed replays
//! exactly.
//!
//! # What is checked
//!
//! After every step, the rules listed in [`checks`] (election safety, log
//! matching, leader completeness, state machine safety, persistent state,
//! reads, membership, addressing); at the end, the client history for
//! linearizability ([`crate::linearizability`]); then a liveness phase
//! ([`liveness`]): with every fault healed and every member running, a leader
//! must commit a fresh proposal and every member catch up. A panic anywhere is
//! a violation too.

pub mod checks;
mod faults;
pub mod kv;
pub mod liveness;
pub mod network;
pub mod node;
pub mod params;
pub mod report;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use raft::eraftpb::{ConfState, MessageType};
use raft::SnapshotStatus;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use slog::Logger;

use self::checks::Checker;
use self::kv::{Clients, Command, PendingOp, KEYS};
use self::network::{roll, Network};
use self::node::{Applied, CrashPoint, Durable, Effects, SimNode};
pub use self::params::{FaultLevel, Params};
use self::report::Trace;

/// Steps a client waits for an answer before its outcome is unknown.
const CLIENT_TIMEOUT_STEPS: u64 = 150;
/// Steps between two ticks of every node.
const STEPS_PER_TICK: u64 = 3;

/// More messages in flight than this is a message storm: some exchange
/// answers one message with more than one, and the cluster would exhaust
/// memory before any other check fired. Healthy runs stay far below: in
/// 1,500 `--faults high` seeds no step ended with more than 500.
const MAX_IN_FLIGHT: usize = 20_000;
/// Concurrent clients.
const CLIENTS: u64 = 4;

/// The seeds `cargo test -p harness --test sim` runs (and `sim --ci-budget`):
/// each fault level with its range of seeds, at the default step count.
pub const CI_BUDGET: [(FaultLevel, std::ops::Range<u64>); 2] =
    [(FaultLevel::Default, 0..40), (FaultLevel::High, 0..15)];

/// How to run seeds.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Steps of the fault phase.
    pub steps: u64,
    /// How hard faults are drawn.
    pub faults: FaultLevel,
    /// Print every step and message.
    pub print_trace: bool,
    /// Keep the last trace lines for a report.
    pub keep_trace: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            steps: 1_500,
            faults: FaultLevel::Default,
            print_trace: false,
            keep_trace: false,
        }
    }
}

/// What one seed found.
#[derive(Debug)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// The parameters it drew.
    pub params: Params,
    /// The violations found (empty if none).
    pub violations: Vec<String>,
    /// The state of every node at the end (or at the first violation).
    pub node_states: Vec<String>,
    /// The last trace lines (only with `keep_trace`).
    pub last_lines: Vec<String>,
    /// A digest of every event: equal for two runs of the same seed.
    pub digest: u64,
    /// Completed and unknown client operations.
    pub client_ops: (u64, u64),
}

/// Runs one seed. A panic inside is caught and reported as a violation.
pub fn run_seed(seed: u64, options: Options) -> SeedOutcome {
    let mut rng = StdRng::seed_from_u64(seed);
    let params = Params::draw(&mut rng, options.faults);
    let mut sim = Sim::new(seed, params.clone(), rng, options);
    let result = catch_unwind(AssertUnwindSafe(|| sim.run()));
    if let Err(panic) = result {
        let text = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".to_string());
        sim.checker
            .violations
            .push(format!("panic at step {}: {text}", sim.now));
    }
    SeedOutcome {
        seed,
        params,
        violations: sim.checker.violations.clone(),
        node_states: sim.node_states(),
        last_lines: sim.trace.last_lines(),
        digest: sim.trace.digest(),
        client_ops: (sim.clients.completed, sim.clients.unknown),
    }
}

/// The violation for `in_flight` messages after step `now`, if that is a
/// message storm (see [`MAX_IN_FLIGHT`]).
fn message_storm(in_flight: usize, now: u64) -> Option<String> {
    (in_flight > MAX_IN_FLIGHT).then(|| {
        format!(
            "bounded resources: {in_flight} messages in flight after step {now} \
             (a message storm: some exchange answers one message with more than one)"
        )
    })
}

/// The state of one simulated cluster.
pub struct Sim {
    seed: u64,
    params: Params,
    options: Options,
    rng: StdRng,
    now: u64,
    nodes: BTreeMap<u64, SimNode>,
    network: Network,
    checker: Checker,
    clients: Clients,
    next_op_id: u64,
    /// The highest log index of a write acknowledged to a client.
    acked_write_index: u64,
    /// Whether faults are being injected (off in the liveness phase).
    faults_on: bool,
    /// A snapshot request carried across an election: (requester, step of
    /// the next stage, stage), see `faults.rs`.
    request_across_election: Option<(u64, u64, u8)>,
    trace: Trace,
    logger: Logger,
}

impl Sim {
    fn new(seed: u64, params: Params, rng: StdRng, options: Options) -> Sim {
        let initial = ConfState {
            voters: params.voters.clone(),
            learners: params.learners.clone(),
            ..Default::default()
        };
        let nodes = params
            .voters
            .iter()
            .chain(&params.learners)
            .map(|&id| {
                let durable = Durable::initial_member(&initial, params.bootstrap_at_term_zero);
                (id, SimNode::new(id, durable))
            })
            .collect();
        Sim {
            seed,
            params,
            options,
            rng,
            now: 0,
            nodes,
            network: Network::default(),
            checker: Checker::default(),
            clients: Clients::default(),
            next_op_id: 1,
            acked_write_index: 0,
            faults_on: true,
            request_across_election: None,
            trace: Trace::new(options.print_trace, options.keep_trace),
            logger: Logger::root(slog::Discard, slog::o!()),
        }
    }

    fn run(&mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            self.start_node(id);
        }
        while self.now < self.options.steps && self.checker.violations.is_empty() {
            self.step();
        }
        if !self.checker.violations.is_empty() {
            return;
        }
        self.check_history();
        if self.checker.violations.is_empty() {
            if let Err(problem) = self.run_liveness() {
                self.checker.violations.push(problem);
            }
        }
    }

    fn check_history(&mut self) {
        let clients: Vec<u64> = self.clients.pending.keys().copied().collect();
        for client in clients {
            self.clients.abandon(client);
        }
        if let Err(v) = crate::linearizability::check_kv_history(&self.clients.history) {
            let ops: Vec<String> = v.ops.iter().map(|op| format!("  {op:?}")).collect();
            self.checker.violations.push(format!(
                "linearizability: key {:?}: {}\n{}",
                String::from_utf8_lossy(&v.key),
                v.explanation,
                ops.join("\n")
            ));
        }
    }

    fn start_node(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).expect("known node");
        node.restart_at = None;
        if let Some(problem) = node.start(&self.params, self.seed, &self.logger) {
            self.checker.violations.push(problem);
        }
        self.checker
            .restarted(id, node.incarnation, &node.durable.hard_state);
        self.trace.event(&[self.now, id, 0xA1], || {
            format!("{:>6} start node {id}", self.now)
        });
    }

    /// One step: faults, clients, ticks, deliveries, `Ready`s, checks.
    fn step(&mut self) {
        self.now += 1;
        if self.faults_on {
            self.inject_faults();
            self.issue_client_op();
        }
        self.restart_due_nodes();
        self.seed_readded_nodes();
        // The core asked for a newer snapshot than the one stored.
        for node in self.nodes.values_mut() {
            if node.snapshot_wanted() {
                node.compact();
            }
        }
        if self.now.is_multiple_of(STEPS_PER_TICK) {
            for node in self.nodes.values_mut() {
                if let Some(raw) = node.raw.as_mut() {
                    raw.tick();
                }
            }
        }
        self.deliver();
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            self.drive_node(id);
        }
        self.serve_reads();
        self.clients.time_out(self.now, CLIENT_TIMEOUT_STEPS);
        self.observe_leaders();
        if let Some(storm) = message_storm(self.network.in_flight(), self.now) {
            self.checker.violations.push(storm);
        }
    }

    fn restart_due_nodes(&mut self) {
        let due: Vec<u64> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.restart_at.is_some_and(|at| at <= self.now))
            .map(|(&id, _)| id)
            .collect();
        for id in due {
            self.start_node(id);
        }
    }

    fn deliver(&mut self) {
        for m in self.network.take_due(self.now) {
            self.trace.message(self.now, "recv", &m);
            let Some(raw) = self.nodes.get_mut(&m.to).and_then(|n| n.raw.as_mut()) else {
                self.network.lose(&m);
                continue;
            };
            let snapshot = (m.get_msg_type() == MessageType::MsgSnapshot).then_some((m.from, m.to));
            // Errors (a response from an unknown peer) are the node's to
            // ignore, as a real transport would.
            let _ = raw.step(m);
            if let Some((from, to)) = snapshot {
                self.report_snapshot(from, to, SnapshotStatus::Finish);
            }
        }
        for (from, to) in std::mem::take(&mut self.network.lost_snapshots) {
            self.report_snapshot(from, to, SnapshotStatus::Failure);
        }
    }

    /// Tells the sender of a snapshot how sending it ended, as a transport
    /// does.
    fn report_snapshot(&mut self, from: u64, to: u64, status: SnapshotStatus) {
        if let Some(raw) = self.nodes.get_mut(&from).and_then(|n| n.raw.as_mut()) {
            raw.report_snapshot(to, status);
        }
    }

    /// Handles a node's `Ready`s, background writes and entry fetches.
    fn drive_node(&mut self, id: u64) {
        let async_persist = self.params.async_persist;
        for _ in 0..2 {
            let crash_at = self.draw_crash_point();
            let node = self.nodes.get_mut(&id).expect("known node");
            let effects = node.handle_ready(async_persist, crash_at);
            self.process(id, effects);
        }
        let node = self.nodes.get_mut(&id).expect("known node");
        if node.has_pending_writes() && (!self.faults_on || self.rng.gen_bool(0.5)) {
            let count = self.rng.gen_range(1..=3);
            let crash = self.faults_on && roll(&mut self.rng, self.params.faults.crash_mid_ready);
            let effects = node.flush_writes(count, crash);
            self.process(id, effects);
        }
        let node = self.nodes.get_mut(&id).expect("known node");
        if let Some(raw) = node.raw.as_mut() {
            let fetched = raw.store().mem.wl().take_get_entries_context();
            node.fetching.extend(fetched);
            if !node.fetching.is_empty() && self.rng.gen_bool(0.5) {
                let raw = node.raw.as_mut().expect("running");
                for context in node.fetching.drain(..) {
                    raw.on_entries_fetched(context);
                }
            }
        }
    }

    fn draw_crash_point(&mut self) -> Option<CrashPoint> {
        if !self.faults_on || !roll(&mut self.rng, self.params.faults.crash_mid_ready) {
            return None;
        }
        Some(
            [
                CrashPoint::AfterSend,
                CrashPoint::AfterEntries,
                CrashPoint::AfterHardState,
                CrashPoint::AfterApply,
            ][self.rng.gen_range(0..4)],
        )
    }

    /// Delivers and checks what a node did.
    fn process(&mut self, id: u64, effects: Effects) {
        let incarnation = self.nodes[&id].incarnation;
        let duplicates = self.params.faults.duplicate > 0;
        self.checker.effects(id, incarnation, &effects, duplicates);
        for m in effects.messages {
            self.trace.message(self.now, "send", &m);
            self.network
                .send(m, self.now, &mut self.rng, &self.params.faults);
        }
        for rs in effects.read_states {
            self.nodes
                .get_mut(&id)
                .expect("known")
                .waiting_reads
                .push(rs);
        }
        for applied in &effects.applied {
            self.trace_applied(id, applied);
            if let Applied::Entry { entry, .. } = applied {
                self.on_applied_entry(id, entry);
            }
        }
        for problem in effects.unpersisted {
            self.checker.violations.push(problem);
        }
        if effects.crashed {
            self.on_crash(id);
        }
    }

    fn trace_applied(&mut self, id: u64, applied: &Applied) {
        let (index, term, kind) = match applied {
            Applied::Entry { entry, .. } => (entry.index, entry.term, 1),
            Applied::Snapshot { index, term, .. } => (*index, *term, 2),
        };
        self.trace.event(&[self.now, id, index, term, kind], || {
            let what = if kind == 1 {
                "apply"
            } else {
                "restore snapshot"
            };
            format!("{:>6} node {id} {what} index={index} term={term}", self.now)
        });
    }

    /// Answers the client waiting for a write the node `id` applied.
    fn on_applied_entry(&mut self, id: u64, entry: &raft::eraftpb::Entry) {
        let Some(command) = Command::decode(&entry.data) else {
            return;
        };
        let waiting_here = self
            .clients
            .pending
            .values()
            .any(|p| p.op_id == command.op_id && p.node == id);
        if waiting_here && self.clients.respond(command.op_id, self.now, None) {
            self.acked_write_index = self.acked_write_index.max(entry.index);
        }
    }

    fn on_crash(&mut self, id: u64) {
        let restart = self.now + self.rng.gen_range(5..80);
        let node = self.nodes.get_mut(&id).expect("known node");
        node.crash();
        node.restart_at = Some(restart);
        self.clients.abandon_node(id);
        self.trace.event(&[self.now, id, 0xC0], || {
            format!("{:>6} crash node {id}, restart at {restart}", self.now)
        });
    }

    /// Answers reads whose index the local machine has reached.
    fn serve_reads(&mut self) {
        for (&id, node) in self.nodes.iter_mut() {
            let machine = &node.durable.machine;
            let (ready, waiting): (Vec<_>, Vec<_>) = node
                .waiting_reads
                .drain(..)
                .partition(|rs| rs.index <= machine.applied);
            node.waiting_reads = waiting;
            for rs in ready {
                let Some(op_id) = read_op_id(&rs.request_ctx) else {
                    continue;
                };
                let Some(pending) = self.clients.pending.values().find(|p| p.op_id == op_id) else {
                    continue;
                };
                if pending.node != id {
                    continue;
                }
                let value = machine.map.get(&pending.key).cloned();
                self.clients.respond(op_id, self.now, Some(value));
            }
        }
    }

    /// Issues one client operation on a random running node.
    fn issue_client_op(&mut self) {
        if !roll(&mut self.rng, self.params.client_rate) {
            return;
        }
        let client = self.rng.gen_range(0..CLIENTS);
        if self.clients.pending.contains_key(&client) {
            return;
        }
        let up: Vec<u64> = self.up_nodes();
        if up.is_empty() {
            return;
        }
        let id = up[self.rng.gen_range(0..up.len())];
        let key = KEYS[self.rng.gen_range(0..KEYS.len())].to_vec();
        let op_id = self.next_op_id;
        self.next_op_id += 1;
        let kind = self.rng.gen_range(0..10);
        let raw = self
            .nodes
            .get_mut(&id)
            .and_then(|n| n.raw.as_mut())
            .expect("up");
        let write = match kind {
            0..=4 => Some(Some(op_id.to_le_bytes().to_vec())),
            5 => Some(None),
            _ => None,
        };
        if let Some(value) = &write {
            let command = Command {
                op_id,
                key: key.clone(),
                value: value.clone(),
            };
            if raw.propose(vec![], command.encode()).is_err() {
                // Dropped at once: the write never happened.
                return;
            }
        } else {
            let ctx = read_context(op_id);
            raw.read_index(ctx.clone());
            self.checker.read_issued(ctx, id, self.acked_write_index);
        }
        self.trace.event(&[self.now, id, op_id, kind], || {
            format!(
                "{:>6} client {client} op {op_id} kind {kind} on node {id}",
                self.now
            )
        });
        let pending = PendingOp {
            op_id,
            node: id,
            key,
            write,
            invoke: self.now,
        };
        self.clients.pending.insert(client, pending);
    }

    /// Election safety, leader completeness and commit tracking.
    fn observe_leaders(&mut self) {
        for (&id, node) in &self.nodes {
            if let Some(raw) = node.raw.as_ref() {
                self.checker.observe(id, raw);
            }
        }
    }

    /// What a node added later starts from ([`Durable::empty`]).
    fn empty_durable(&self) -> Durable {
        let initial = ConfState {
            voters: self.params.voters.clone(),
            learners: self.params.learners.clone(),
            ..Default::default()
        };
        Durable::empty(&initial, self.params.bootstrap_at_term_zero)
    }

    fn up_nodes(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.is_up())
            .map(|(&id, _)| id)
            .collect()
    }

    /// A line per node: role, term, vote, commit, applied, log bounds.
    fn node_states(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|(id, node)| match node.raw.as_ref() {
                Some(raw) => {
                    let r = &raw.raft;
                    format!(
                        "node {id} (incarnation {}): {:?} term={} vote={} leader={} \
                         commit={} applied={} log=[{}, {}] conf={:?}",
                        node.incarnation,
                        r.state,
                        r.term,
                        r.vote,
                        r.leader_id,
                        r.raft_log.committed,
                        node.durable.machine.applied,
                        r.raft_log.first_index(),
                        r.raft_log.last_index(),
                        r.prs().conf().to_conf_state()
                    )
                }
                None => format!(
                    "node {id} (incarnation {}): down, durable {:?}, last index {}, applied {}",
                    node.incarnation,
                    node.durable.hard_state,
                    node.durable.last_index(),
                    node.durable.machine.applied
                ),
            })
            .collect()
    }
}

/// The read context of the client operation `op_id`.
fn read_context(op_id: u64) -> Vec<u8> {
    let mut ctx = b"read:".to_vec();
    ctx.extend(op_id.to_le_bytes());
    ctx
}

/// The operation id in a context made by [`read_context`].
fn read_op_id(ctx: &[u8]) -> Option<u64> {
    let bytes = ctx.strip_prefix(b"read:")?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_messages_in_flight_than_the_bound_is_a_violation() {
        assert_eq!(message_storm(0, 1), None);
        assert_eq!(message_storm(MAX_IN_FLIGHT, 1), None);
        let storm = message_storm(MAX_IN_FLIGHT + 1, 7).expect("a storm");
        assert!(storm.starts_with("bounded resources: 20001 messages in flight after step 7"));
    }
}
