//! The logic of the fuzz targets in `fuzz/`, as plain functions of the input
//! bytes, so that a stable `cargo test` replays the checked-in corpus
//! (`harness/tests/fuzz_corpus.rs`) and the nightly-only `fuzz/` crate holds
//! nothing but thin `fuzz_target!` wrappers.
//!
//! Each function reads its input with [`Input`], a byte reader that never
//! fails: past the end it reads zeros, so every byte string is a valid
//! input, and a fuzzer's mutations change decisions locally.
//!
//! - [`decode`]: every `eraftpb` message type decodes arbitrary bytes
//!   without panicking, and whatever decodes re-encodes to bytes that decode
//!   to an equal value.
//! - [`raw_node`]: one [`RawNode`] (id 1 of voters 1, 2, 3, over a
//!   [`MemStorage`]) driven by ticks, arbitrary peer messages from 2 and 3
//!   (and from unknown ids), proposals, reads, membership changes, and
//!   `Ready` handling with both synchronous and asynchronous persistence.
//! - [`storage_faults`]: the same driver over a [`Storage`] that fails the
//!   calls the core documents as recoverable, with errors the input picks.
//! - [`cluster`]: a three-node cluster of the simulator's nodes under a
//!   schedule the input picks (deliver, drop, duplicate or reorder messages,
//!   ticks, proposals, reads, crashes and restarts, membership changes,
//!   compaction), checked after every operation by the simulator's safety
//!   checks; its input is read with `arbitrary` (see [`Op`]).
//!
//! The driver checks, after every operation: the commit index never
//! regresses, `applied <= committed`, the node's term never decreases, the
//! hard states handed out for persisting never lower their term or commit,
//! and committed entries are handed out once each, in index order.

mod cluster;

pub use self::cluster::{cluster, Change, Op, Options as ClusterOptions};

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use bytes::Bytes;
use protobuf::Message as _;
use raft::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
    Entry, EntryType, HardState, Message, MessageType, Snapshot, SnapshotMetadata,
};
use raft::storage::MemStorage;
use raft::{
    Config, Error, GetEntriesContext, RaftState, RawNode, ReadOnlyOption, Result, SnapshotStatus,
    StateRole, Storage, StorageError,
};
use slog::Logger;

/// The most operations one input drives, so that a long input cannot make
/// a run slow.
const MAX_OPERATIONS: usize = 4096;

/// The most messages kept for [`Driver::reply`] to answer.
const MAX_OUTBOX: usize = 64;

/// Reads decisions from fuzzer bytes. Never fails: past the end of the
/// input every read gives zero.
#[derive(Debug)]
pub struct Input<'a> {
    bytes: &'a [u8],
}

impl<'a> Input<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Input { bytes }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The next byte, or 0 past the end.
    pub fn byte(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((&first, rest)) => {
                self.bytes = rest;
                first
            }
            None => 0,
        }
    }

    /// A boolean from the low bit of the next byte.
    pub fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// A number in `0..bound` (`bound` at most 65 536), from one byte when
    /// `bound` fits in one.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0 && bound <= 1 << 16, "bound {bound}");
        let raw = if bound <= 256 {
            u64::from(self.byte())
        } else {
            u64::from(self.byte()) << 8 | u64::from(self.byte())
        };
        raw % bound
    }

    /// Eight bytes, little-endian.
    pub fn u64(&mut self) -> u64 {
        (0..8).fold(0, |acc, i| acc | u64::from(self.byte()) << (8 * i))
    }

    /// A number near `around` most of the time, or one of the values that
    /// break careless arithmetic (0, 1, `u64::MAX` and its neighbours), or
    /// anything at all.
    pub fn number_near(&mut self, around: u64) -> u64 {
        match self.byte() % 16 {
            0 => 0,
            1 => 1,
            2 => around.saturating_sub(1),
            3..=7 => around,
            8 | 9 => around.saturating_add(1),
            10 => around.saturating_add(2 + self.below(64)),
            11 => around.saturating_sub(2 + self.below(8)),
            12 => u64::MAX,
            13 => u64::MAX - 1 - self.below(4),
            14 => self.u64(),
            _ => self.below(16),
        }
    }

    /// Up to `max_len` bytes.
    pub fn bytes(&mut self, max_len: usize) -> Bytes {
        let len = self.below(max_len as u64 + 1) as usize;
        (0..len).map(|_| self.byte()).collect::<Vec<_>>().into()
    }
}

/// What a run of a target did, so the corpus test can check that the
/// corpus reaches the states the targets claim to exercise.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    /// Operations performed.
    pub operations: usize,
    /// Times the node was leader after an operation.
    pub leader_steps: usize,
    /// Committed entries applied.
    pub applied_entries: usize,
    /// Snapshots handed out in a `Ready` and installed.
    pub snapshots_installed: usize,
    /// Configuration changes applied successfully.
    pub conf_changes_applied: usize,
    /// `Ready`s acknowledged asynchronously.
    pub async_readies: usize,
    /// Read states handed out.
    pub read_states: usize,
    /// Storage calls failed on purpose.
    pub faults_injected: usize,
    /// Messages decoded (for [`decode`]).
    pub decoded: usize,
    /// Crashes (for [`cluster`]).
    pub crashes: usize,
    /// Messages delivered (for [`cluster`]).
    pub messages_delivered: usize,
}

impl std::ops::AddAssign for Coverage {
    fn add_assign(&mut self, other: Coverage) {
        self.operations += other.operations;
        self.leader_steps += other.leader_steps;
        self.applied_entries += other.applied_entries;
        self.snapshots_installed += other.snapshots_installed;
        self.conf_changes_applied += other.conf_changes_applied;
        self.async_readies += other.async_readies;
        self.read_states += other.read_states;
        self.faults_injected += other.faults_injected;
        self.decoded += other.decoded;
        self.crashes += other.crashes;
        self.messages_delivered += other.messages_delivered;
    }
}

/// Decodes `data` as every `eraftpb` message type. None may panic; a type
/// that decodes must re-encode to bytes of the size `compute_size` gives,
/// which decode to an equal value and re-encode to the same bytes.
pub fn decode(data: &[u8]) -> Coverage {
    let mut coverage = Coverage::default();
    let mut check = |decoded: bool| coverage.decoded += usize::from(decoded);
    check(round_trip::<Message>(data));
    check(round_trip::<Entry>(data));
    check(round_trip::<Snapshot>(data));
    check(round_trip::<SnapshotMetadata>(data));
    check(round_trip::<HardState>(data));
    check(round_trip::<ConfState>(data));
    check(round_trip::<ConfChange>(data));
    check(round_trip::<ConfChangeSingle>(data));
    check(round_trip::<ConfChangeV2>(data));
    if let Ok(message) = Message::parse_from_bytes(data) {
        // Reading every accessor of what decoded must not panic either.
        let _ = (message.msg_type(), message.get_snapshot().is_empty());
        for entry in &message.entries {
            let _ = entry.get_entry_type();
        }
    }
    coverage
}

/// The [`decode`] check for one type. Returns whether `data` decoded.
fn round_trip<M: protobuf::Message + PartialEq + std::fmt::Debug>(data: &[u8]) -> bool {
    let Ok(decoded) = M::parse_from_bytes(data) else {
        return false;
    };
    let bytes = decoded
        .write_to_bytes()
        .unwrap_or_else(|e| panic!("{decoded:?} decoded but does not encode: {e}"));
    assert_eq!(decoded.compute_size(), bytes.len() as u64, "{decoded:?}");
    let again = M::parse_from_bytes(&bytes)
        .unwrap_or_else(|e| panic!("the encoding of {decoded:?} does not decode: {e}"));
    assert_eq!(again, decoded, "a re-encoded value decodes differently");
    // Not the same bytes again: unknown fields sit in a hash map, so their
    // order on re-encoding may change. The size may not.
    assert_eq!(
        again.write_to_bytes().unwrap().len(),
        bytes.len(),
        "{decoded:?}"
    );
    true
}

/// Drives one `RawNode` over a `MemStorage` with the operations `data`
/// encodes, checking the invariants after each. See the module docs.
pub fn raw_node(data: &[u8]) -> Coverage {
    let mut input = Input::new(data);
    let store = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
    let config = config_from(&mut input);
    let node = RawNode::new(&config, store.clone(), &discard_logger())
        .expect("a valid config over a fresh storage");
    let mut driver = Driver::new(node, store);
    driver.run(&mut input, None);
    driver.coverage
}

/// Drives one `RawNode` over a [`FaultyStorage`]: the input arms faults
/// between operations. See the module docs for which calls may fail.
pub fn storage_faults(data: &[u8]) -> Coverage {
    let mut input = Input::new(data);
    let store = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
    let faults = Rc::new(RefCell::new(FaultPlan::default()));
    let storage = FaultyStorage {
        inner: store.clone(),
        faults: faults.clone(),
    };
    let config = config_from(&mut input);
    if input.below(8) == 0 {
        // A storage that cannot load its initial state fails construction.
        faults.borrow_mut().initial_state = true;
        match RawNode::new(&config, storage, &discard_logger()) {
            Err(Error::Store(StorageError::Other(_))) => {}
            Err(e) => panic!("initial_state's error came back as {e:?}"),
            Ok(_) => panic!("RawNode::new ignored initial_state's error"),
        }
        return Coverage {
            faults_injected: 1,
            ..Coverage::default()
        };
    }
    let node = RawNode::new(&config, storage, &discard_logger())
        .expect("a valid config over a fresh storage");
    let mut driver = Driver::new(node, store);
    driver.run(&mut input, Some(&faults));
    driver.coverage.faults_injected += faults.borrow().injected;
    driver.coverage
}

fn discard_logger() -> Logger {
    Logger::root(slog::Discard, slog::o!())
}

/// A valid config for node 1, with the options the input picks.
fn config_from(input: &mut Input) -> Config {
    let options = input.byte();
    let check_quorum = options & 1 != 0;
    let lease_reads = check_quorum && options & 2 != 0;
    let mut config = Config {
        election_tick: 4 + input.below(8) as usize,
        heartbeat_tick: 1,
        pre_vote: options & 4 != 0,
        check_quorum,
        read_only_option: if lease_reads {
            ReadOnlyOption::LeaseBased
        } else {
            ReadOnlyOption::Safe
        },
        batch_append: options & 8 != 0,
        skip_bcast_commit: options & 16 != 0,
        max_size_per_msg: [0, 64, 1024, u64::MAX][input.below(4) as usize],
        max_inflight_msgs: 1 + input.below(8) as usize,
        priority: [0, 0, 1, -1, 5][input.below(5) as usize],
        max_committed_size_per_ready: [u64::MAX, 0, 64][input.below(3) as usize],
        max_apply_unpersisted_log_limit: [0, 0, 4, u64::MAX][input.below(4) as usize],
        rng_seed: Some(input.u64()),
        ..Config::new(1)
    };
    config.max_uncommitted_size = match input.below(3) {
        0 => u64::MAX,
        _ => config.max_size_per_msg.max(256),
    };
    config
}

/// A [`Storage`] over a [`MemStorage`] that fails the calls a
/// [`FaultPlan`] names.
///
/// Only the failures the core documents as recoverable are injected, so any
/// panic is a bug:
/// - `initial_state` failing: `RawNode::new` returns the error;
/// - `entries` failing with `LogTemporarilyUnavailable`, `Compacted` or
///   `Unavailable` where the context allows an asynchronous fetch (sending
///   appends): the core waits for `on_entries_fetched`, or falls back to a
///   snapshot (so the last two only once the storage has a non-empty
///   snapshot to give: a storage returning an empty one is broken, and the
///   core panics);
/// - `snapshot` failing with any error: the core logs it and tries again at
///   a later send.
///
/// Not injected, because the core documents them as fatal (it panics with a
/// message naming the storage): `first_index`, `last_index` and `term`
/// failures, and `entries` failures where the core needs the entries now
/// (committed entries for a `Ready`).
pub struct FaultyStorage {
    inner: MemStorage,
    faults: Rc<RefCell<FaultPlan>>,
}

/// Which calls of a [`FaultyStorage`] fail next.
#[derive(Debug, Default)]
pub struct FaultPlan {
    /// `initial_state` fails.
    initial_state: bool,
    /// The next this many `entries` calls that may be asynchronous fail
    /// with `entries_error`.
    entries_failures: u8,
    entries_error: Option<StorageError>,
    /// The next this many `snapshot` calls fail with `snapshot_error`.
    snapshot_failures: u8,
    snapshot_error: Option<StorageError>,
    /// Contexts of `entries` calls answered `LogTemporarilyUnavailable`,
    /// for the driver to report fetched.
    fetching: Vec<GetEntriesContext>,
    /// Calls failed so far.
    injected: usize,
}

impl FaultPlan {
    /// Arms the faults the input picks.
    fn arm(&mut self, input: &mut Input) {
        let count = 1 + input.below(4) as u8;
        if input.flag() {
            self.entries_failures = count;
            self.entries_error = Some(match input.below(3) {
                0 => StorageError::LogTemporarilyUnavailable,
                1 => StorageError::Compacted,
                _ => StorageError::Unavailable,
            });
        } else {
            self.snapshot_failures = count;
            self.snapshot_error = Some(match input.below(4) {
                0 => StorageError::SnapshotTemporarilyUnavailable,
                1 => StorageError::SnapshotOutOfDate,
                2 => StorageError::Unavailable,
                _ => StorageError::Other("injected".into()),
            });
        }
    }
}

fn copy_error(error: &StorageError) -> StorageError {
    match error {
        StorageError::Compacted => StorageError::Compacted,
        StorageError::Unavailable => StorageError::Unavailable,
        StorageError::LogTemporarilyUnavailable => StorageError::LogTemporarilyUnavailable,
        StorageError::SnapshotOutOfDate => StorageError::SnapshotOutOfDate,
        StorageError::SnapshotTemporarilyUnavailable => {
            StorageError::SnapshotTemporarilyUnavailable
        }
        StorageError::Other(e) => StorageError::Other(e.to_string().into()),
    }
}

impl Storage for FaultyStorage {
    fn initial_state(&self) -> Result<RaftState> {
        let mut faults = self.faults.borrow_mut();
        if faults.initial_state {
            faults.injected += 1;
            return Err(Error::Store(StorageError::Other("injected".into())));
        }
        self.inner.initial_state()
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> Result<Vec<Entry>> {
        let mut faults = self.faults.borrow_mut();
        if context.can_async() && faults.entries_failures > 0 {
            let error = copy_error(faults.entries_error.as_ref().unwrap());
            // A storage that says entries are gone must have a snapshot to
            // offer instead (the core panics on an empty one); MemStorage's
            // is at the stored commit index.
            let has_snapshot = self.inner.rl().hard_state().commit > 0;
            if error == StorageError::LogTemporarilyUnavailable || has_snapshot {
                faults.entries_failures -= 1;
                faults.injected += 1;
                if error == StorageError::LogTemporarilyUnavailable {
                    faults.fetching.push(context);
                }
                return Err(Error::Store(error));
            }
        }
        drop(faults);
        self.inner.entries(low, high, max_size, context)
    }

    fn term(&self, idx: u64) -> Result<u64> {
        self.inner.term(idx)
    }

    fn first_index(&self) -> Result<u64> {
        self.inner.first_index()
    }

    fn last_index(&self) -> Result<u64> {
        self.inner.last_index()
    }

    fn snapshot(&self, request_index: u64, to: u64) -> Result<Snapshot> {
        let mut faults = self.faults.borrow_mut();
        if faults.snapshot_failures > 0 {
            faults.snapshot_failures -= 1;
            faults.injected += 1;
            let error = copy_error(faults.snapshot_error.as_ref().unwrap());
            return Err(Error::Store(error));
        }
        drop(faults);
        self.inner.snapshot(request_index, to)
    }
}

/// One node and the application around it: the storage it writes, the
/// messages it sent, and what the invariants compare against.
struct Driver<S: Storage> {
    node: RawNode<S>,
    /// The storage the application writes (the node reads the same log).
    store: MemStorage,
    /// Messages the node sent, oldest first, for [`reply`](Self::reply).
    outbox: VecDeque<Message>,
    /// `Ready` numbers acknowledged asynchronously and not yet persisted.
    unpersisted: VecDeque<u64>,
    /// The last index the state machine applied (or a snapshot installed).
    applied: u64,
    committed: u64,
    term: u64,
    coverage: Coverage,
}

impl<S: Storage> Driver<S> {
    fn new(node: RawNode<S>, store: MemStorage) -> Self {
        let (committed, term) = (node.raft.raft_log.committed, node.raft.term);
        let applied = node.raft.raft_log.applied;
        Driver {
            node,
            store,
            outbox: VecDeque::new(),
            unpersisted: VecDeque::new(),
            applied,
            committed,
            term,
            coverage: Coverage::default(),
        }
    }

    fn run(&mut self, input: &mut Input, faults: Option<&Rc<RefCell<FaultPlan>>>) {
        while !input.is_empty() && self.coverage.operations < MAX_OPERATIONS {
            self.coverage.operations += 1;
            match input.below(24) {
                0..=3 => {
                    self.node.tick();
                }
                4..=6 => {
                    let message = self.peer_message(input);
                    let _ = self.node.step(message);
                }
                7..=9 => self.reply(input),
                10 => {
                    let _ = self.node.propose(input.bytes(2), input.bytes(16));
                }
                11 => {
                    let _ = self.node.campaign();
                }
                12 => self.node.read_index(input.bytes(4)),
                13 => self.propose_conf_change(input),
                14 => self.node.transfer_leader(1 + input.below(4)),
                15 => self.node.report_unreachable(1 + input.below(4)),
                16 => {
                    let status = if input.flag() {
                        SnapshotStatus::Finish
                    } else {
                        SnapshotStatus::Failure
                    };
                    self.node.report_snapshot(1 + input.below(4), status);
                }
                17 => {
                    let _ = self.node.request_snapshot();
                }
                18 => self.compact(input),
                19 => self.persist_async(input),
                20 => match faults {
                    Some(faults) => faults.borrow_mut().arm(input),
                    None => self.node.ping(),
                },
                21 => self.report_fetched(faults),
                22 => self.handle_ready(true),
                _ => self.handle_ready(false),
            }
            self.check_invariants();
        }
        // Settle: everything acknowledged and applied.
        self.report_fetched(faults);
        while self.node.has_ready() && self.coverage.operations < 2 * MAX_OPERATIONS {
            self.coverage.operations += 1;
            self.handle_ready(false);
            self.check_invariants();
        }
    }

    /// A message from a peer, with fields near the node's own state so that
    /// it is often plausible, and sometimes nonsense.
    fn peer_message(&mut self, input: &mut Input) -> Message {
        let raft = &self.node.raft;
        let (term, last, committed) = (
            raft.term,
            raft.raft_log.last_index(),
            raft.raft_log.committed,
        );
        let msg_type = match input.below(24) {
            number @ 0..=18 => number as i32,
            19 => 19,
            20 => -1,
            _ => [3, 4, 8, 9, 6][input.below(5) as usize],
        };
        let mut message = Message {
            msg_type: protobuf::EnumOrUnknown::from_i32(msg_type),
            to: 1,
            from: [2, 3, 2, 3, 4, 0][input.below(6) as usize],
            term: input.number_near(term),
            log_term: input.number_near(term),
            index: input.number_near(last),
            commit: input.number_near(committed),
            commit_term: input.number_near(term),
            reject: input.below(4) == 0,
            reject_hint: input.number_near(last),
            request_snapshot: if input.below(8) == 0 {
                input.number_near(last)
            } else {
                0
            },
            context: input.bytes(4),
            priority: i64::from(input.byte() as i8 % 3),
            ..Default::default()
        };
        let follow = input.below(4) != 0;
        for i in 0..input.below(4) {
            let index = if follow {
                message.index.wrapping_add(1 + i)
            } else {
                input.number_near(last)
            };
            message.entries.push(Entry {
                entry_type: protobuf::EnumOrUnknown::from_i32(input.below(4) as i32),
                term: input.number_near(message.term),
                index,
                data: input.bytes(8),
                ..Default::default()
            });
        }
        if message.msg_type() == MessageType::MsgSnapshot || input.below(16) == 0 {
            message.snapshot = Some(self.snapshot_from(input)).into();
        }
        message
    }

    fn snapshot_from(&self, input: &mut Input) -> Snapshot {
        let raft = &self.node.raft;
        let conf_state = match input.below(6) {
            0 => ConfState::from((vec![1, 2], vec![3])),
            1 => ConfState::from((vec![2, 3], vec![1])),
            2 => ConfState::from((vec![2, 3], vec![])),
            3 => ConfState {
                voters: vec![1, 2, 3],
                voters_outgoing: vec![1, 2],
                learners_next: vec![],
                auto_leave: input.flag(),
                ..Default::default()
            },
            _ => ConfState::from((vec![1, 2, 3], vec![])),
        };
        Snapshot {
            data: input.bytes(4),
            metadata: Some(SnapshotMetadata {
                conf_state: Some(conf_state).into(),
                index: input.number_near(raft.raft_log.committed.saturating_add(2)),
                term: input.number_near(raft.term),
                ..Default::default()
            })
            .into(),
            ..Default::default()
        }
    }

    /// Answers the oldest message the node sent as its addressee would, the
    /// answer positive or negative as the input says.
    fn reply(&mut self, input: &mut Input) {
        let Some(sent) = self.outbox.pop_front() else {
            return;
        };
        let reject = input.below(4) == 0;
        let mut answer = Message {
            to: 1,
            from: sent.to,
            term: sent.term,
            reject,
            ..Default::default()
        };
        match sent.msg_type() {
            MessageType::MsgRequestVote => answer.set_msg_type(MessageType::MsgRequestVoteResponse),
            MessageType::MsgRequestPreVote => {
                answer.set_msg_type(MessageType::MsgRequestPreVoteResponse)
            }
            MessageType::MsgAppend => {
                answer.set_msg_type(MessageType::MsgAppendResponse);
                answer.index = sent.index + sent.entries.len() as u64;
                if reject {
                    answer.index = sent.index;
                    answer.reject_hint = input.number_near(sent.index.saturating_sub(1));
                    answer.log_term = input.number_near(sent.log_term);
                }
                answer.commit = sent.commit;
            }
            MessageType::MsgSnapshot => {
                answer.set_msg_type(MessageType::MsgAppendResponse);
                answer.index = sent.get_snapshot().get_metadata().index;
            }
            MessageType::MsgHeartbeat => {
                answer.set_msg_type(MessageType::MsgHeartbeatResponse);
                answer.context = sent.context.clone();
                answer.commit = sent.commit;
                answer.reject = false;
            }
            MessageType::MsgReadIndex => {
                answer.set_msg_type(MessageType::MsgReadIndexResp);
                answer.entries = sent.entries.clone();
                answer.index = input.number_near(self.node.raft.raft_log.committed);
            }
            MessageType::MsgTransferLeader | MessageType::MsgPropose => {
                // A forwarded request: the leader's answer arrives as an
                // append, which peer_message covers.
                return;
            }
            _ => return,
        }
        let _ = self.node.step(answer);
    }

    fn propose_conf_change(&mut self, input: &mut Input) {
        let change_type = |input: &mut Input| match input.below(3) {
            0 => ConfChangeType::AddNode,
            1 => ConfChangeType::RemoveNode,
            _ => ConfChangeType::AddLearnerNode,
        };
        let context = input.bytes(2);
        if input.flag() {
            let mut change = ConfChange::default();
            change.set_change_type(change_type(input));
            change.node_id = 1 + input.below(5);
            let _ = self.node.propose_conf_change(context.to_vec(), change);
        } else {
            let mut change = ConfChangeV2::default();
            change.set_transition(match input.below(3) {
                0 => ConfChangeTransition::Auto,
                1 => ConfChangeTransition::Implicit,
                _ => ConfChangeTransition::Explicit,
            });
            for _ in 0..input.below(4) {
                let ty = change_type(input);
                change
                    .changes
                    .push(raft_proto::new_conf_change_single(1 + input.below(5), ty));
            }
            let _ = self.node.propose_conf_change(context.to_vec(), change);
        }
    }

    /// Compacts the stored log up to an applied index, as an application
    /// does after taking a snapshot of its state machine.
    fn compact(&mut self, input: &mut Input) {
        let first = Storage::first_index(&self.store).expect("MemStorage answers");
        let last = Storage::last_index(&self.store).expect("MemStorage answers");
        let limit = self.applied.min(last);
        if limit < first {
            return;
        }
        let upto = first + (input.u64() % (limit - first + 1));
        self.store
            .wl()
            .compact(upto)
            .expect("compacting applied entries");
    }

    /// Reports durable the writes of an asynchronously acknowledged
    /// `Ready`, and every earlier one.
    fn persist_async(&mut self, input: &mut Input) {
        if self.unpersisted.is_empty() {
            return;
        }
        let position = input.below(self.unpersisted.len() as u64) as usize;
        let number = self.unpersisted[position];
        self.unpersisted.drain(..=position);
        self.node.on_persist_ready(number);
    }

    fn report_fetched(&mut self, faults: Option<&Rc<RefCell<FaultPlan>>>) {
        let Some(faults) = faults else {
            return;
        };
        let fetched = std::mem::take(&mut faults.borrow_mut().fetching);
        for context in fetched {
            self.node.on_entries_fetched(context);
        }
    }

    /// Takes a `Ready` if there is one and does what the driver contract
    /// says. The writes go to the storage at once (the storage must serve
    /// them before the node is used again); with `asynchronous`, their
    /// durability is reported later by [`persist_async`](Self::persist_async).
    fn handle_ready(&mut self, asynchronous: bool) {
        if !self.node.has_ready() {
            return;
        }
        let mut ready = self.node.ready();
        self.send(ready.take_messages());
        let snapshot = ready.snapshot();
        if !snapshot.is_empty() {
            let index = snapshot.get_metadata().index;
            self.store
                .wl()
                .apply_snapshot(snapshot.clone())
                .unwrap_or_else(|e| panic!("a Ready's snapshot at {index} was refused: {e}"));
            // The state machine is replaced by the snapshot's.
            self.applied = index;
            self.coverage.snapshots_installed += 1;
        }
        self.store
            .wl()
            .append(ready.entries())
            .expect("appending a Ready's entries");
        if let Some(hard_state) = ready.hs() {
            self.persist_hard_state(hard_state.clone());
        }
        self.coverage.read_states += ready.read_states().len();
        let committed = ready.take_committed_entries();
        if asynchronous {
            self.coverage.async_readies += 1;
            let number = ready.number();
            // Persisted messages wait for durability in a real driver; they
            // are promises, and nothing here delivers them anyway.
            self.send(ready.take_persisted_messages());
            self.apply(committed);
            self.node.advance_append_async(ready);
            self.unpersisted.push_back(number);
            self.node.advance_apply_to(self.applied);
        } else {
            self.send(ready.take_persisted_messages());
            self.apply(committed);
            self.unpersisted.clear();
            let mut light = self.node.advance(ready);
            if let Some(commit) = light.commit_index() {
                let mut hard_state = self.store.rl().hard_state().clone();
                hard_state.commit = commit;
                self.persist_hard_state(hard_state);
            }
            self.send(light.take_messages());
            self.apply(light.take_committed_entries());
            self.node.advance_apply();
        }
    }

    fn send(&mut self, messages: Vec<Message>) {
        for message in messages {
            if self.outbox.len() == MAX_OUTBOX {
                self.outbox.pop_front();
            }
            self.outbox.push_back(message);
        }
    }

    fn persist_hard_state(&mut self, hard_state: HardState) {
        let stored = self.store.rl().hard_state().clone();
        assert!(
            hard_state.term >= stored.term,
            "persisted term goes back: {stored:?} then {hard_state:?}"
        );
        assert!(
            hard_state.commit >= stored.commit,
            "persisted commit goes back: {stored:?} then {hard_state:?}"
        );
        self.store.wl().set_hardstate(hard_state);
    }

    /// Applies committed entries: checks they continue the applied index
    /// and applies configuration changes.
    fn apply(&mut self, entries: Vec<Entry>) {
        for entry in entries {
            assert_eq!(
                entry.index,
                self.applied + 1,
                "committed entries skip or repeat: applied {}, next {entry:?}",
                self.applied
            );
            self.applied = entry.index;
            self.coverage.applied_entries += 1;
            let change = match entry.get_entry_type() {
                EntryType::EntryNormal => continue,
                EntryType::EntryConfChange => match ConfChange::parse_from_bytes(&entry.data) {
                    Ok(change) => self.node.apply_conf_change(&change),
                    // Only a peer's nonsense fails to decode.
                    Err(_) => continue,
                },
                EntryType::EntryConfChangeV2 => match ConfChangeV2::parse_from_bytes(&entry.data) {
                    Ok(change) => self.node.apply_conf_change(&change),
                    Err(_) => continue,
                },
            };
            if let Ok(conf_state) = change {
                self.coverage.conf_changes_applied += 1;
                self.store.wl().set_conf_state(conf_state);
            }
        }
    }

    fn check_invariants(&mut self) {
        let raft = &self.node.raft;
        let log = &raft.raft_log;
        assert!(
            log.committed >= self.committed,
            "commit regressed from {} to {}",
            self.committed,
            log.committed
        );
        assert!(
            log.applied <= log.committed,
            "applied {} past committed {}",
            log.applied,
            log.committed
        );
        assert!(
            raft.term >= self.term,
            "term went back from {} to {}",
            self.term,
            raft.term
        );
        self.committed = log.committed;
        self.term = raft.term;
        if raft.state == StateRole::Leader {
            self.coverage.leader_steps += 1;
        }
    }
}
