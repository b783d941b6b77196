//! One simulated node: a [`RawNode`] driven through the driver contract of
//! the `raft` crate, its raft-visible storage, and the durable copy that
//! survives a crash.
//!
//! The raft-visible storage ([`SimStorage`]) is what the core reads; it holds
//! everything written, durable or not (contract step 5: the storage serves
//! entries before they are durable). [`Durable`] is what a disk would keep:
//! only what the driver has synced. A crash drops the node and its
//! raft-visible storage; a restart rebuilds both from [`Durable`] alone.
//!
//! The driver follows the contract in `raft`'s crate docs step by step, and
//! can crash between any two steps ([`CrashPoint`]): after sending the
//! leader's messages but before persisting, after persisting entries but
//! before the hard state, after the hard state but before sending the
//! persisted messages, after applying.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use protobuf::Message as _;
use raft::eraftpb::{
    ConfChange, ConfChangeV2, ConfState, Entry, EntryType, HardState, Message, Snapshot,
};
use raft::storage::MemStorage;
use raft::{
    Config, Error, GetEntriesContext, RaftState, RawNode, ReadOnlyOption, ReadState, Storage,
    StorageError,
};
use slog::Logger;

use super::checks;
use super::kv::{Command, KvMachine};
use super::params::Params;

/// Where a crash in the middle of handling a `Ready` happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// After sending `messages`, before persisting anything.
    AfterSend,
    /// After persisting the snapshot and entries, before the hard state.
    AfterEntries,
    /// After persisting the hard state, before sending persisted messages.
    AfterHardState,
    /// After applying the committed entries, before advancing.
    AfterApply,
}

/// The node's storage as the core reads it: a [`MemStorage`] plus the
/// latest snapshot (with state-machine data) to send to followers.
#[derive(Clone)]
pub struct SimStorage {
    /// The log, hard state and membership.
    pub mem: MemStorage,
    extra: Rc<RefCell<SnapshotSlot>>,
}

#[derive(Default)]
struct SnapshotSlot {
    snapshot: Snapshot,
    /// Set when the core asked for a snapshot newer than the one held.
    wanted: bool,
}

impl Storage for SimStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        self.mem.initial_state()
    }
    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        self.mem.entries(low, high, max_size, context)
    }
    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.mem.term(idx)
    }
    fn first_index(&self) -> raft::Result<u64> {
        self.mem.first_index()
    }
    fn last_index(&self) -> raft::Result<u64> {
        self.mem.last_index()
    }
    /// The stored snapshot if it is recent enough and names `to` as a
    /// member (a peer added after it would refuse it); otherwise asks the
    /// driver for a fresh one and says "try again later".
    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        let mut slot = self.extra.borrow_mut();
        let meta = slot.snapshot.get_metadata();
        let cs = meta.get_conf_state();
        let names_to = cs
            .voters
            .iter()
            .chain(&cs.learners)
            .chain(&cs.voters_outgoing)
            .chain(&cs.learners_next)
            .any(|&id| id == to);
        // A follower asking with a stale tail longer than this log asks for
        // more than exists; the freshest snapshot of this log is the answer.
        let last_index = self.mem.last_index()?;
        if meta.index > 0 && meta.index >= request_index.min(last_index) && names_to {
            return Ok(slot.snapshot.clone());
        }
        slot.wanted = true;
        Err(Error::Store(StorageError::SnapshotTemporarilyUnavailable))
    }
}

/// What survives a crash.
#[derive(Clone, Debug, Default)]
pub struct Durable {
    /// The last hard state synced (commit raised to what was applied).
    pub hard_state: HardState,
    /// The last snapshot synced.
    pub snapshot: Snapshot,
    /// The entries after the snapshot.
    pub entries: Vec<Entry>,
    /// The state machine, written atomically with each apply.
    pub machine: KvMachine,
}

impl Durable {
    /// What an initial member holds before it first runs. From a bootstrap
    /// snapshot at index 1 in term 1 holding the initial membership, so
    /// that nodes added later, which start empty, catch up from a snapshot
    /// rather than from a log that never held that membership; or, with
    /// `at_term_zero`, at term 0 with an empty log and only the membership
    /// stored (see [`Durable::empty`]).
    pub fn initial_member(conf_state: &ConfState, at_term_zero: bool) -> Durable {
        if at_term_zero {
            return Durable::empty(conf_state, true);
        }
        let mut durable = Durable::default();
        let mut snapshot = Snapshot::default();
        let meta = snapshot.mut_metadata();
        meta.index = 1;
        meta.term = 1;
        meta.set_conf_state(conf_state.clone());
        durable.snapshot = snapshot;
        durable.hard_state.term = 1;
        durable.hard_state.commit = 1;
        durable.machine.applied = 1;
        durable.machine.conf_state = conf_state.clone();
        durable
    }

    /// What a node added later (or a removed id wiped and re-added) holds
    /// before it first runs: nothing, or, in a cluster bootstrapped at term
    /// 0, the initial membership. That cluster's log starts at index 1, so
    /// an added node may replay it from there rather than from a snapshot,
    /// and must then start from the membership the log starts from.
    pub fn empty(initial_conf_state: &ConfState, at_term_zero: bool) -> Durable {
        let mut durable = Durable::default();
        if at_term_zero {
            durable.machine.conf_state = initial_conf_state.clone();
        }
        durable
    }

    fn snapshot_index(&self) -> u64 {
        self.snapshot.get_metadata().index
    }

    /// The index of the last entry durable.
    pub fn last_index(&self) -> u64 {
        self.entries
            .last()
            .map_or(self.snapshot_index(), |e| e.index)
    }

    /// Makes `snapshot` durable; if it is ahead of the state machine, it
    /// replaces the machine, and the result says so.
    ///
    /// A snapshot from the leader replaces the whole log (`discard_log`); a
    /// local compaction keeps the entries after it.
    fn write_snapshot(&mut self, snapshot: &Snapshot, discard_log: bool) -> Option<Applied> {
        let meta = snapshot.get_metadata();
        if meta.index == 0 || (meta.index <= self.snapshot_index() && !discard_log) {
            return None;
        }
        self.snapshot = snapshot.clone();
        if discard_log {
            self.entries.clear();
        } else {
            self.entries.retain(|e| e.index > meta.index);
        }
        if self.machine.applied >= meta.index {
            return None;
        }
        let previous = self.machine.applied;
        self.machine = KvMachine::decode(&snapshot.data, meta.index, meta.get_conf_state().clone());
        self.hard_state.commit = self.hard_state.commit.max(meta.index);
        Some(Applied::Snapshot {
            previous,
            index: meta.index,
            term: meta.term,
        })
    }

    fn write_entries(&mut self, entries: &[Entry]) {
        let after = self.snapshot_index();
        let entries: Vec<&Entry> = entries.iter().filter(|e| e.index > after).collect();
        let Some(first) = entries.first() else {
            return;
        };
        let keep = (first.index - after - 1) as usize;
        self.entries.truncate(keep);
        self.entries.extend(entries.into_iter().cloned());
    }

    /// Makes `hs` durable. The commit index never goes down: the
    /// application already raised it to what it applied.
    fn write_hard_state(&mut self, hs: &HardState) {
        let commit = hs.commit.max(self.hard_state.commit);
        self.hard_state = hs.clone();
        self.hard_state.commit = commit;
    }
}

/// A write handed to the background writer (asynchronous persistence).
#[derive(Debug)]
struct PendingWrite {
    number: u64,
    snapshot: Snapshot,
    entries: Vec<Entry>,
    hard_state: Option<HardState>,
    persisted_messages: Vec<Message>,
}

/// What a committed entry did when applied.
#[derive(Clone, Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "short-lived, one per applied entry; boxing would allocate per entry"
)]
pub enum Applied {
    /// An entry, with the applied index before it.
    Entry {
        /// The applied index before this entry.
        previous: u64,
        /// The entry.
        entry: Entry,
        /// The membership after it, if it was a configuration change.
        conf_state: Option<ConfState>,
    },
    /// A snapshot replaced the state machine.
    Snapshot {
        /// The applied index before.
        previous: u64,
        /// The snapshot's index.
        index: u64,
        /// The snapshot's term.
        term: u64,
    },
}

/// Everything a node did while handling one `Ready` or flush, for the
/// simulation to deliver and check.
#[derive(Debug, Default)]
pub struct Effects {
    /// Messages to put on the network.
    pub messages: Vec<Message>,
    /// Entries written to the raft-visible log, with the term of the entry
    /// before the first (if still readable).
    pub appended: Vec<(Option<u64>, Vec<Entry>)>,
    /// Hard states handed out by the core, in order.
    pub hard_states: Vec<HardState>,
    /// Read states handed out.
    pub read_states: Vec<ReadState>,
    /// Entries and snapshots applied.
    pub applied: Vec<Applied>,
    /// Whether the node crashed.
    pub crashed: bool,
    /// Messages sent that promise state not yet durable (see
    /// [`checks::unpersisted_promise`]).
    pub unpersisted: Vec<String>,
}

/// One node of the simulated cluster.
pub struct SimNode {
    /// The node id.
    pub id: u64,
    /// Bumped when the id is wiped and re-added as an empty node.
    pub incarnation: u64,
    /// The running node, or `None` while crashed.
    pub raw: Option<RawNode<SimStorage>>,
    /// What survives a crash.
    pub durable: Durable,
    pending_writes: VecDeque<PendingWrite>,
    /// Read states waiting for the machine to reach their index.
    pub waiting_reads: Vec<ReadState>,
    /// Contexts of entry fetches the storage is doing in the background.
    pub fetching: Vec<GetEntriesContext>,
    /// The step at which a crashed node restarts.
    pub restart_at: Option<u64>,
    /// Set while a wiped node waits to be re-added: the log index of the
    /// configuration change that adds it back (`u64::MAX` until proposed).
    /// It starts only from a member's state at or past that index (see
    /// [`SimNode::seed_from`]).
    pub readded_at: Option<u64>,
}

impl SimNode {
    /// A node that has never run, holding `durable`
    /// ([`Durable::initial_member`] or [`Durable::empty`]).
    pub fn new(id: u64, durable: Durable) -> SimNode {
        SimNode {
            id,
            incarnation: 0,
            raw: None,
            durable,
            pending_writes: VecDeque::new(),
            waiting_reads: Vec::new(),
            fetching: Vec::new(),
            restart_at: None,
            readded_at: None,
        }
    }

    /// Whether the node is running.
    pub fn is_up(&self) -> bool {
        self.raw.is_some()
    }

    /// Starts the node from its durable state only. Returns a description
    /// of any difference between what the core restored and what was
    /// durable (a restarted node must come back with exactly its persisted
    /// state).
    pub fn start(&mut self, params: &Params, seed: u64, logger: &Logger) -> Option<String> {
        let durable = &self.durable;
        let mem = MemStorage::new();
        {
            let mut core = mem.wl();
            if durable.snapshot_index() > 0 {
                core.apply_snapshot(durable.snapshot.clone())
                    .expect("a fresh storage takes any snapshot");
            }
            core.append(&durable.entries)
                .expect("durable entries follow the snapshot");
            core.set_hardstate(durable.hard_state.clone());
            core.set_conf_state(durable.machine.conf_state.clone());
        }
        let storage = SimStorage {
            mem,
            extra: Rc::new(RefCell::new(SnapshotSlot {
                snapshot: durable.snapshot.clone(),
                wanted: false,
            })),
        };
        let config = self.config(params, seed);
        let raw = RawNode::new(&config, storage, logger).expect("the drawn config is valid");
        let restored = raw.raft.hard_state();
        let last = raw.raft.raft_log.last_index();
        let problem = (restored != durable.hard_state || last != durable.last_index()).then(|| {
            format!(
                "node {} restarted with hard state {:?} and last index {}, \
                 but persisted {:?} and last index {}",
                self.id,
                restored,
                last,
                durable.hard_state,
                durable.last_index()
            )
        });
        self.raw = Some(raw);
        problem
    }

    fn config(&self, params: &Params, seed: u64) -> Config {
        let id = self.id;
        Config {
            election_tick: 10,
            heartbeat_tick: 2,
            applied: self.durable.machine.applied,
            max_size_per_msg: params.max_size_per_msg,
            max_inflight_msgs: params.max_inflight_msgs,
            check_quorum: params.check_quorum,
            pre_vote: params.pre_vote,
            read_only_option: if params.lease_reads {
                ReadOnlyOption::LeaseBased
            } else {
                ReadOnlyOption::Safe
            },
            batch_append: params.batch_append,
            priority: params.priority(id),
            rng_seed: Some(
                seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (self.incarnation << 48),
            ),
            ..Config::new(id)
        }
    }

    /// Crashes the node: everything not durable is lost.
    pub fn crash(&mut self) {
        self.raw = None;
        self.pending_writes.clear();
        self.waiting_reads.clear();
        self.fetching.clear();
    }

    /// Wipes the node into an empty one (a removed id about to be re-added),
    /// holding `empty` ([`Durable::empty`]). It stays down until
    /// [`SimNode::seed_from`] gives it a member's state.
    pub fn wipe(&mut self, empty: Durable) {
        self.crash();
        self.durable = empty;
        self.incarnation += 1;
        self.restart_at = None;
        self.readded_at = Some(u64::MAX);
    }

    /// Gives a wiped node the durable state of `member`, if that member has
    /// applied the configuration change that re-adds this id: a snapshot of
    /// its state machine at its applied index, and its term.
    ///
    /// This is the duty of an application that re-adds an id whose node lost
    /// its data (see the `raft` crate docs): the new incarnation must not
    /// start empty or from an older snapshot, or it could vote before its
    /// log holds what the earlier incarnation acknowledged.
    pub fn seed_from(&mut self, member: &SimNode) -> bool {
        let Some(readded_at) = self.readded_at else {
            return false;
        };
        let machine = &member.durable.machine;
        let cs = &machine.conf_state;
        let listed = cs
            .voters
            .iter()
            .chain(&cs.learners)
            .any(|&id| id == self.id);
        if machine.applied < readded_at || !listed {
            return false;
        }
        let index = machine.applied;
        let from = &member.durable;
        let term = if from.snapshot_index() == index {
            from.snapshot.get_metadata().term
        } else {
            match from.entries.iter().find(|e| e.index == index) {
                Some(e) => e.term,
                None => return false,
            }
        };
        let mut snapshot = Snapshot {
            data: machine.encode().into(),
            ..Default::default()
        };
        let meta = snapshot.mut_metadata();
        meta.index = index;
        meta.term = term;
        meta.set_conf_state(cs.clone());
        let mut durable = Durable {
            snapshot,
            machine: machine.clone(),
            ..Default::default()
        };
        durable.hard_state.term = from.hard_state.term.max(term);
        durable.hard_state.commit = index;
        self.durable = durable;
        self.readded_at = None;
        true
    }

    /// Compacts the log at the applied index, making a snapshot of the state
    /// machine that the core can send to lagging followers.
    pub fn compact(&mut self) {
        let Some(raw) = self.raw.as_mut() else {
            return;
        };
        let machine = &self.durable.machine;
        let index = machine.applied;
        let storage = raw.mut_store();
        if index <= storage.extra.borrow().snapshot.get_metadata().index {
            return;
        }
        let Ok(term) = storage.mem.term(index) else {
            return;
        };
        let mut snapshot = Snapshot {
            data: machine.encode().into(),
            ..Default::default()
        };
        let meta = snapshot.mut_metadata();
        meta.index = index;
        meta.term = term;
        meta.set_conf_state(machine.conf_state.clone());
        let restored = self.durable.write_snapshot(&snapshot, false);
        debug_assert!(
            restored.is_none(),
            "a snapshot of the machine restores nothing"
        );
        let result = storage.mem.wl().compact(index + 1);
        result.expect("the applied index is in the log");
        let mut slot = storage.extra.borrow_mut();
        slot.snapshot = snapshot;
        slot.wanted = false;
    }

    /// Whether the core asked for a snapshot newer than the one held.
    pub fn snapshot_wanted(&self) -> bool {
        self.raw
            .as_ref()
            .is_some_and(|raw| raw.store().extra.borrow().wanted)
    }

    /// Handles one `Ready` if there is one, following the driver contract,
    /// crashing at `crash_at` if given. Every message it sends must promise
    /// only what is durable by then ([`checks::unpersisted_promise`]).
    pub fn handle_ready(&mut self, async_persist: bool, crash_at: Option<CrashPoint>) -> Effects {
        let mut out = self.handle_ready_unchecked(async_persist, crash_at);
        self.check_promises(&mut out, 0);
        out
    }

    /// Records the messages from `out.messages[from..]` that promise more
    /// than the durable state holds now.
    fn check_promises(&self, out: &mut Effects, from: usize) {
        let durable = &self.durable;
        for m in &out.messages[from..] {
            let found = checks::unpersisted_promise(m, &durable.hard_state, durable.last_index());
            out.unpersisted.extend(found);
        }
    }

    fn handle_ready_unchecked(
        &mut self,
        async_persist: bool,
        crash_at: Option<CrashPoint>,
    ) -> Effects {
        let mut out = Effects::default();
        let Some(raw) = self.raw.as_mut() else {
            return out;
        };
        if !raw.has_ready() {
            return out;
        }
        let mut rd = raw.ready();
        out.messages.extend(rd.take_messages());
        if crash_at == Some(CrashPoint::AfterSend) {
            self.crash_into(&mut out);
            return out;
        }
        let snapshot = rd.snapshot().clone();
        let entries = rd.take_entries();
        let hard_state = rd.hs().cloned();
        write_raft_visible(raw.mut_store(), &snapshot, &entries, &mut out);
        out.hard_states.extend(hard_state.clone());
        if let Some(hs) = &hard_state {
            raw.mut_store().mem.wl().set_hardstate(hs.clone());
        }
        if async_persist {
            self.pending_writes.push_back(PendingWrite {
                number: rd.number(),
                snapshot,
                entries,
                hard_state,
                persisted_messages: rd.take_persisted_messages(),
            });
        } else {
            out.applied
                .extend(self.durable.write_snapshot(&snapshot, true));
            self.durable.write_entries(&entries);
            if crash_at == Some(CrashPoint::AfterEntries) {
                self.crash_into(&mut out);
                return out;
            }
            if let Some(hs) = &hard_state {
                self.durable.write_hard_state(hs);
            }
            if crash_at == Some(CrashPoint::AfterHardState) {
                self.crash_into(&mut out);
                return out;
            }
            out.messages.extend(rd.take_persisted_messages());
        }
        out.read_states.extend(rd.take_read_states());
        self.apply(rd.take_committed_entries(), &mut out);
        if crash_at == Some(CrashPoint::AfterApply) {
            self.crash_into(&mut out);
            return out;
        }
        let raw = self.raw.as_mut().expect("not crashed");
        if async_persist {
            raw.advance_append_async(rd);
            raw.advance_apply();
            return out;
        }
        let mut light = raw.advance(rd);
        if let Some(commit) = light.commit_index() {
            let mut hs = self.durable.hard_state.clone();
            hs.commit = commit;
            self.durable.write_hard_state(&hs);
            raw.mut_store().mem.wl().mut_hard_state().commit = commit;
        }
        out.messages.extend(light.take_messages());
        self.apply(light.take_committed_entries(), &mut out);
        self.raw.as_mut().expect("not crashed").advance_apply();
        out
    }

    /// Makes the oldest `count` background writes durable, crashing in the
    /// middle of the last one if `crash_mid` (after its entries, before its
    /// hard state).
    pub fn flush_writes(&mut self, count: usize, crash_mid: bool) -> Effects {
        let mut out = Effects::default();
        for i in 0..count {
            let Some(write) = self.pending_writes.pop_front() else {
                break;
            };
            out.applied
                .extend(self.durable.write_snapshot(&write.snapshot, true));
            self.durable.write_entries(&write.entries);
            if crash_mid && i + 1 == count {
                self.crash_into(&mut out);
                return out;
            }
            if let Some(hs) = &write.hard_state {
                self.durable.write_hard_state(hs);
            }
            let sent = out.messages.len();
            out.messages.extend(write.persisted_messages);
            self.check_promises(&mut out, sent);
            if let Some(raw) = self.raw.as_mut() {
                raw.on_persist_ready(write.number);
            }
        }
        out
    }

    /// Whether background writes are waiting.
    pub fn has_pending_writes(&self) -> bool {
        !self.pending_writes.is_empty()
    }

    fn crash_into(&mut self, out: &mut Effects) {
        self.crash();
        out.crashed = true;
    }

    fn apply(&mut self, entries: Vec<Entry>, out: &mut Effects) {
        for entry in entries {
            let machine = &mut self.durable.machine;
            let previous = machine.applied;
            if entry.index <= previous {
                // Reported by the checks as applied twice; not re-applied.
                out.applied.push(Applied::Entry {
                    previous,
                    entry,
                    conf_state: None,
                });
                continue;
            }
            machine.applied = entry.index;
            let conf_state = match entry.get_entry_type() {
                EntryType::EntryNormal => {
                    if let Some(command) = Command::decode(&entry.data) {
                        machine.apply(&command);
                    }
                    None
                }
                EntryType::EntryConfChange => {
                    let cc = ConfChange::parse_from_bytes(&entry.data).expect("valid conf change");
                    self.apply_conf_change(&cc)
                }
                EntryType::EntryConfChangeV2 => {
                    let cc =
                        ConfChangeV2::parse_from_bytes(&entry.data).expect("valid conf change");
                    self.apply_conf_change(&cc)
                }
            };
            if self.durable.hard_state.commit < entry.index {
                self.durable.hard_state.commit = entry.index;
            }
            out.applied.push(Applied::Entry {
                previous,
                entry,
                conf_state,
            });
        }
    }

    fn apply_conf_change(&mut self, cc: &impl raft_proto::ConfChangeI) -> Option<ConfState> {
        let raw = self.raw.as_mut().expect("applying on a running node");
        // A change the core refuses (it validates again) leaves the
        // membership as it was; the machine records the unchanged state.
        let cs = raw
            .apply_conf_change(cc)
            .unwrap_or_else(|_| raw.raft.prs().conf().to_conf_state());
        self.durable.machine.conf_state = cs.clone();
        Some(cs)
    }
}

/// Writes a `Ready`'s snapshot and entries where the core reads them.
fn write_raft_visible(
    storage: &mut SimStorage,
    snapshot: &Snapshot,
    entries: &[Entry],
    out: &mut Effects,
) {
    let index = snapshot.get_metadata().index;
    if index > 0 {
        if index < storage.mem.first_index().expect("infallible") {
            // A snapshot the node asked for (`request_snapshot`) may be no
            // newer than its own compaction point; it still replaces the log.
            let hard_state = storage.mem.rl().hard_state().clone();
            storage.mem = MemStorage::new();
            storage.mem.wl().set_hardstate(hard_state);
        }
        let result = storage.mem.wl().apply_snapshot(snapshot.clone());
        result.expect("the storage takes a snapshot at or after its first index");
        storage.extra.borrow_mut().snapshot = snapshot.clone();
    }
    if let Some(first) = entries.first() {
        let previous = storage.mem.term(first.index - 1).ok();
        let result = storage.mem.wl().append(entries);
        result.expect("entries follow the log");
        out.appended.push((previous, entries.to_vec()));
    }
}
