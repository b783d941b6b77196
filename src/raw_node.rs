//! The application-facing interface: [`RawNode`], and the [`Ready`] and
//! [`LightReady`] batches it hands out.
//!
//! A `RawNode` wraps a [`Raft`] state machine and tracks what has already been
//! handed to the application, so that every entry to persist, message to send
//! and committed entry to apply is handed out exactly once. The crate-level
//! documentation describes the driver loop an application writes around it.

use std::collections::VecDeque;
use std::mem;

use bytes::Bytes;
use protobuf::Message as _;
use raft_proto::ConfChangeI;
use slog::{debug, Logger};

use crate::eraftpb::{ConfState, Entry, EntryType, HardState, Message, MessageType, Snapshot};
use crate::message_kind;
use crate::{
    BasicStatus, Config, Error, GetEntriesContext, ProgressKind, Raft, ReadState, Result,
    SoftState, StateRole, Status, Storage,
};

/// A node named in a cluster's bootstrap configuration.
///
/// Kept for compatibility with raft-rs; bootstrapping goes through the
/// storage's initial `ConfState` instead.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The node's id.
    pub id: u64,
    /// Application data attached to the node, if any.
    pub context: Option<Vec<u8>>,
}

/// The outcome of sending a snapshot to a peer, reported with
/// [`RawNode::report_snapshot`].
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum SnapshotStatus {
    /// The snapshot reached the peer.
    Finish,
    /// The snapshot could not be delivered; the leader will probe the peer
    /// again.
    Failure,
}

/// Whether `t` is a message type that only the local node may step (via the
/// dedicated `RawNode` methods), never a message from the network.
pub fn is_local_msg(t: MessageType) -> bool {
    message_kind::is_local(t)
}

/// Whether `s` is the empty snapshot.
#[deprecated(since = "0.6.0", note = "use Snapshot::is_empty instead")]
pub fn is_empty_snap(s: &Snapshot) -> bool {
    s.metadata.index == 0
}

/// The part of a [`Ready`] that does not need persisting before it is acted
/// upon; also what [`RawNode::advance_append`] returns.
#[derive(Debug, Default, PartialEq)]
pub struct LightReady {
    commit_index: Option<u64>,
    committed_entries: Vec<Entry>,
    messages: Vec<Message>,
}

impl LightReady {
    /// The new commit index, when it moved since the last hard state handed
    /// out. Persist it (it is the `commit` of the hard state).
    #[inline]
    pub fn commit_index(&self) -> Option<u64> {
        self.commit_index
    }

    /// Committed entries to apply to the state machine, in log order.
    #[inline]
    pub fn committed_entries(&self) -> &Vec<Entry> {
        &self.committed_entries
    }

    /// Takes the committed entries out, leaving none.
    #[inline]
    pub fn take_committed_entries(&mut self) -> Vec<Entry> {
        mem::take(&mut self.committed_entries)
    }

    /// Messages that may be sent right away.
    #[inline]
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// Takes the messages out, leaving none.
    #[inline]
    pub fn take_messages(&mut self) -> Vec<Message> {
        mem::take(&mut self.messages)
    }
}

/// A batch of work for the application: state to persist, messages to send
/// and committed entries to apply. See the crate documentation for the order
/// in which to handle its parts.
#[derive(Debug, Default, PartialEq)]
pub struct Ready {
    number: u64,
    ss: Option<SoftState>,
    hs: Option<HardState>,
    read_states: Vec<ReadState>,
    entries: Vec<Entry>,
    /// Boxed and usually absent: most `Ready`s carry no snapshot, and an
    /// inline empty one would be built and dropped with each of them.
    snapshot: Option<Box<Snapshot>>,
    light: LightReady,
    persisted_messages: Vec<Message>,
    must_sync: bool,
}

impl Ready {
    /// The sequence number of this `Ready`; each [`RawNode::ready`] call gets
    /// the next one. Pass it to [`RawNode::on_persist_ready`].
    #[inline]
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The soft state (leader and role), if it changed since the last
    /// `Ready`. Volatile: never persisted.
    #[inline]
    pub fn ss(&self) -> Option<&SoftState> {
        self.ss.as_ref()
    }

    /// The hard state (term, vote, commit), if it changed since the last
    /// `Ready`. Persist it after the entries.
    #[inline]
    pub fn hs(&self) -> Option<&HardState> {
        self.hs.as_ref()
    }

    /// Reads confirmed since the last `Ready`: each may be served once the
    /// state machine has applied up to its `index` (thesis §6.4).
    #[inline]
    pub fn read_states(&self) -> &Vec<ReadState> {
        &self.read_states
    }

    /// Takes the read states out, leaving none.
    #[inline]
    pub fn take_read_states(&mut self) -> Vec<ReadState> {
        mem::take(&mut self.read_states)
    }

    /// New log entries to append to stable storage (they may overwrite a
    /// conflicting suffix of what is already stored).
    #[inline]
    pub fn entries(&self) -> &Vec<Entry> {
        &self.entries
    }

    /// Takes the entries out, leaving none.
    #[inline]
    pub fn take_entries(&mut self) -> Vec<Entry> {
        mem::take(&mut self.entries)
    }

    /// A snapshot to persist and apply; empty when there is none.
    #[inline]
    pub fn snapshot(&self) -> &Snapshot {
        match &self.snapshot {
            Some(snapshot) => snapshot,
            None => Snapshot::default_instance(),
        }
    }

    /// Committed entries to apply to the state machine, in log order.
    #[inline]
    pub fn committed_entries(&self) -> &Vec<Entry> {
        self.light.committed_entries()
    }

    /// Takes the committed entries out, leaving none.
    #[inline]
    pub fn take_committed_entries(&mut self) -> Vec<Entry> {
        self.light.take_committed_entries()
    }

    /// Messages that may be sent right away, before anything is persisted
    /// (a leader's appends and heartbeats, thesis §10.2.1).
    #[inline]
    pub fn messages(&self) -> &[Message] {
        self.light.messages()
    }

    /// Takes the messages out, leaving none.
    #[inline]
    pub fn take_messages(&mut self) -> Vec<Message> {
        self.light.take_messages()
    }

    /// Messages to send only after this `Ready`'s snapshot, entries and hard
    /// state are durable: votes and append acknowledgements promise state
    /// that must survive a crash (§5.1, §5.2).
    #[inline]
    pub fn persisted_messages(&self) -> &[Message] {
        &self.persisted_messages
    }

    /// Takes the persisted messages out, leaving none.
    #[inline]
    pub fn take_persisted_messages(&mut self) -> Vec<Message> {
        mem::take(&mut self.persisted_messages)
    }

    /// Whether the writes of this `Ready` must be synced to disk before its
    /// persisted messages go out: true when the term or vote changed, or when
    /// there are entries or a snapshot. A commit-only change need not sync.
    #[inline]
    pub fn must_sync(&self) -> bool {
        self.must_sync
    }
}

/// What a handed-out `Ready` asked the application to persist, kept until the
/// application reports it durable.
#[derive(Debug, Clone, Copy)]
struct ReadyRecord {
    number: u64,
    /// Index and term of the last entry handed out, if any.
    last_entry: Option<(u64, u64)>,
    /// Index and term of the snapshot handed out, if any.
    snapshot: Option<(u64, u64)>,
    /// The last committed index handed out for apply up to and including
    /// this `Ready`.
    committed_through: u64,
}

/// The fields of a hard state. `RawNode` keeps the last one handed out in
/// this form: compared field by field with the core's, it costs neither
/// building nor comparing a `HardState` message (with its unknown-field
/// bookkeeping) on every `has_ready`, and it is smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HardStateFields {
    term: u64,
    vote: u64,
    commit: u64,
}

impl HardStateFields {
    fn of<T: Storage>(raft: &Raft<T>) -> HardStateFields {
        HardStateFields {
            term: raft.term,
            vote: raft.vote,
            commit: raft.raft_log.committed,
        }
    }
}

/// Moves every message of `from` to the end of `to`. When `to` is empty the
/// buffer moves over whole: nothing is copied, and once a `Ready` takes it
/// the core holds no message buffer (an idle node keeps none after an
/// election or a burst).
fn move_all(from: &mut Vec<Message>, to: &mut Vec<Message>) {
    if to.is_empty() {
        mem::swap(from, to);
    } else {
        to.append(from);
    }
}

/// The records of handed-out `Ready`s not yet reported durable, oldest
/// first. The oldest lives inline: a synchronous driver never has more than
/// one outstanding, so it never allocates, and an idle node holds no buffer.
#[derive(Debug, Default)]
struct ReadyRecords {
    oldest: Option<ReadyRecord>,
    /// The younger ones; empty whenever `oldest` is `None`.
    younger: VecDeque<ReadyRecord>,
}

impl ReadyRecords {
    fn push_back(&mut self, record: ReadyRecord) {
        if self.oldest.is_none() {
            debug_assert!(self.younger.is_empty());
            self.oldest = Some(record);
        } else {
            self.younger.push_back(record);
        }
    }

    fn front(&self) -> Option<&ReadyRecord> {
        self.oldest.as_ref()
    }

    fn pop_front(&mut self) -> Option<ReadyRecord> {
        let oldest = self.oldest.take();
        self.oldest = self.younger.pop_front();
        oldest
    }

    fn iter(&self) -> impl Iterator<Item = &ReadyRecord> {
        self.oldest.iter().chain(self.younger.iter())
    }
}

/// The application's handle on one Raft node.
///
/// Inputs are [`tick`](Self::tick), [`step`](Self::step) and the proposal
/// methods; the output is a [`Ready`] from [`ready`](Self::ready); the
/// application acknowledges it with [`advance`](Self::advance) (or its parts
/// [`advance_append`](Self::advance_append),
/// [`advance_append_async`](Self::advance_append_async) and
/// [`on_persist_ready`](Self::on_persist_ready), then
/// [`advance_apply`](Self::advance_apply)).
pub struct RawNode<T: Storage> {
    /// The consensus state machine.
    pub raft: Raft<T>,
    /// The soft state last handed out.
    prev_ss: SoftState,
    /// The hard state last handed out (or reported through a `LightReady`).
    prev_hs: HardStateFields,
    /// The number of the last `Ready` handed out.
    max_number: u64,
    /// Handed-out `Ready`s whose writes are not yet reported durable, oldest
    /// first.
    records: ReadyRecords,
    /// The last committed index handed out for apply; entries at or below it
    /// are never handed out again.
    commit_since_index: u64,
    /// Outgoing messages produced while leader: they may be sent at once.
    messages: Vec<Message>,
    /// Outgoing messages produced while not leader: they may only be sent
    /// after the `Ready` that carries them is durable.
    persisted_messages: Vec<Message>,
    /// How many of the messages queued in `raft.msgs` (from the front) a
    /// leader produced; see `collect_messages`.
    leader_messages: usize,
}

impl<T: Storage> RawNode<T> {
    /// Creates a node from its configuration and storage. The storage's
    /// initial state (hard state and conf state) is loaded; `config.applied`
    /// names the last entry the application has already applied, so nothing
    /// at or below it is handed out again.
    pub fn new(config: &Config, store: T, logger: &Logger) -> Result<Self> {
        let raft = Raft::new(config, store, logger)?;
        let prev_ss = raft.soft_state();
        let prev_hs = HardStateFields::of(&raft);
        let commit_since_index = raft.raft_log.applied;
        Ok(RawNode {
            prev_ss,
            prev_hs,
            max_number: 0,
            records: ReadyRecords::default(),
            commit_since_index,
            messages: Vec::new(),
            persisted_messages: Vec::new(),
            leader_messages: 0,
            raft,
        })
    }

    /// Creates a node that logs through [`crate::default_logger`].
    #[cfg(feature = "default-logger")]
    pub fn with_default_logger(config: &Config, store: T) -> Result<Self> {
        Self::new(config, store, &crate::default_logger())
    }

    /// Sorts the messages the state machine queued: a leader's may be sent
    /// at once (thesis §10.2.1), anyone else's only after the state they
    /// depend on is durable (§5.1).
    ///
    /// A leader's messages stay queued in the state machine until they are
    /// handed out, so that with `batch_append` the appends of later
    /// proposals merge into the appends already queued for each follower
    /// (the usual driver proposes many times between two `Ready`s). Once
    /// the node is no longer leader, they move to the immediate outbox,
    /// and whatever was queued since, to the outbox that waits for
    /// persistence.
    fn collect_messages(&mut self) {
        let replaced = mem::take(&mut self.raft.replaced_from);
        if replaced != 0 {
            self.persisted_messages
                .retain(|m| !crate::raft::acknowledges_from(m, replaced));
        }
        if self.raft.state == StateRole::Leader {
            self.leader_messages = self.raft.msgs.len();
            return;
        }
        let leader_messages = mem::take(&mut self.leader_messages).min(self.raft.msgs.len());
        if self.raft.msgs.is_empty() {
            return;
        }
        self.messages
            .extend(self.raft.msgs.drain(..leader_messages));
        move_all(&mut self.raft.msgs, &mut self.persisted_messages);
    }

    /// Takes the messages that may be sent at once, including a leader's
    /// still queued in the state machine.
    fn take_messages(&mut self) -> Vec<Message> {
        self.collect_messages();
        if self.raft.state == StateRole::Leader {
            move_all(&mut self.raft.msgs, &mut self.messages);
            self.leader_messages = 0;
        }
        mem::take(&mut self.messages)
    }

    /// Steps a message into the state machine, sorting what it produced.
    fn step_internal(&mut self, m: Message) -> Result<()> {
        let result = self.raft.step(m);
        self.collect_messages();
        #[cfg(debug_assertions)]
        self.raft.check_invariants();
        result
    }

    /// Advances the logical clock by one tick. Returns true when something
    /// happened that may produce a `Ready` (an election or heartbeat).
    pub fn tick(&mut self) -> bool {
        let changed = self.raft.tick();
        self.collect_messages();
        #[cfg(debug_assertions)]
        self.raft.check_invariants();
        changed
    }

    /// Starts an election (steps a local `MsgHup`).
    pub fn campaign(&mut self) -> Result<()> {
        let m = Message {
            msg_type: MessageType::MsgHup.into(),
            ..Default::default()
        };
        self.step_internal(m)
    }

    /// Proposes `data` (with `context`) to be appended to the log.
    /// A follower forwards it to the leader; without a leader it is dropped
    /// with [`Error::ProposalDropped`].
    pub fn propose(&mut self, context: impl Into<Bytes>, data: impl Into<Bytes>) -> Result<()> {
        let entry = Entry {
            data: data.into(),
            context: context.into(),
            ..Default::default()
        };
        self.step_internal(self.propose_message(entry))
    }

    /// Proposes a configuration change. A [`ConfChange`](crate::eraftpb::ConfChange)
    /// becomes an `EntryConfChange` entry, a
    /// [`ConfChangeV2`](crate::eraftpb::ConfChangeV2) an `EntryConfChangeV2`
    /// entry. Once the entry is committed and handed out for apply, call
    /// [`apply_conf_change`](Self::apply_conf_change) with it.
    pub fn propose_conf_change(
        &mut self,
        context: impl Into<Bytes>,
        cc: impl ConfChangeI,
    ) -> Result<()> {
        let (entry_type, data) = match cc.as_v1() {
            Some(v1) => (EntryType::EntryConfChange, v1.write_to_bytes()?),
            None => (EntryType::EntryConfChangeV2, cc.as_v2().write_to_bytes()?),
        };
        let entry = Entry {
            entry_type: entry_type.into(),
            data: data.into(),
            context: context.into(),
            ..Default::default()
        };
        self.step_internal(self.propose_message(entry))
    }

    fn propose_message(&self, entry: Entry) -> Message {
        Message {
            msg_type: MessageType::MsgPropose.into(),
            from: self.raft.id,
            entries: vec![entry],
            ..Default::default()
        }
    }

    /// Applies a committed configuration change to the node's view of the
    /// cluster and returns the resulting configuration (thesis §4.1). Call it
    /// when the conf-change entry is applied, not when it is proposed.
    pub fn apply_conf_change(&mut self, cc: &impl ConfChangeI) -> Result<ConfState> {
        let result = self.raft.apply_conf_change(&cc.as_v2());
        self.collect_messages();
        #[cfg(debug_assertions)]
        self.raft.check_invariants();
        result
    }

    /// Steps a message received from a peer.
    ///
    /// Local-only message types give [`Error::StepLocalMsg`]; a response from
    /// a node this one does not track gives [`Error::StepPeerNotFound`].
    pub fn step(&mut self, m: Message) -> Result<()> {
        let msg_type = match m.msg_type.enum_value() {
            Ok(t) => t,
            Err(number) => {
                // A newer or corrupt peer: never a reason to fail (raft-rs 0.7's wire compatibility).
                // The state machine's logger carries this node's id.
                debug!(self.raft.logger, "ignoring a message of unknown type";
                    "type" => number, "from" => m.from);
                return Ok(());
            }
        };
        if is_local_msg(msg_type) {
            return Err(Error::StepLocalMsg);
        }
        if message_kind::is_response(msg_type) && self.raft.prs().get(m.from).is_none() {
            return Err(Error::StepPeerNotFound);
        }
        self.step_internal(m)
    }

    /// Asks the leader to confirm a linearizable read (thesis §6.4). `rctx`
    /// identifies the request; the answer arrives as a [`ReadState`] in a
    /// later `Ready`, to be served once the state machine has applied up to
    /// its `index`.
    pub fn read_index(&mut self, rctx: impl Into<Bytes>) {
        let m = Message {
            msg_type: MessageType::MsgReadIndex.into(),
            entries: vec![Entry {
                data: rctx.into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        // A read without a leader is dropped; the caller retries on timeout.
        let _ = self.step_internal(m);
    }

    /// Makes a leader send a heartbeat to every follower at once.
    pub fn ping(&mut self) {
        self.raft.ping();
        self.collect_messages();
    }

    /// Asks the leader to hand leadership to `transferee` (thesis §3.10).
    pub fn transfer_leader(&mut self, transferee: u64) {
        let m = Message {
            msg_type: MessageType::MsgTransferLeader.into(),
            from: transferee,
            ..Default::default()
        };
        let _ = self.step_internal(m);
    }

    /// Asks the leader for a snapshot (a follower whose state machine needs
    /// rebuilding) at or past this node's last index. Until it arrives the
    /// follower refuses appends.
    ///
    /// The request acknowledges the follower's last entry (the leader may
    /// need it to commit that far, which the snapshot must reach), and it
    /// ends when the follower installs a snapshot, campaigns, or moves to a
    /// new term: a later leader would need this follower to acknowledge an
    /// entry of its own term first. Call again after a leader change if the
    /// snapshot is still wanted.
    ///
    /// Fails with [`Error::RequestSnapshotDropped`] on a leader, without a
    /// leader, with a snapshot or a request pending, or when the last entry
    /// is not of the current term.
    pub fn request_snapshot(&mut self) -> Result<()> {
        let result = self.raft.request_snapshot();
        self.collect_messages();
        #[cfg(debug_assertions)]
        self.raft.check_invariants();
        result
    }

    /// Reports that the last message to `id` could not be delivered, so the
    /// leader probes it instead of streaming appends.
    pub fn report_unreachable(&mut self, id: u64) {
        let m = Message {
            msg_type: MessageType::MsgUnreachable.into(),
            from: id,
            ..Default::default()
        };
        let _ = self.step_internal(m);
    }

    /// Reports how sending a snapshot to `id` ended.
    pub fn report_snapshot(&mut self, id: u64, status: SnapshotStatus) {
        let m = Message {
            msg_type: MessageType::MsgSnapStatus.into(),
            from: id,
            reject: status == SnapshotStatus::Failure,
            ..Default::default()
        };
        let _ = self.step_internal(m);
    }

    /// Sets this node's election priority.
    pub fn set_priority(&mut self, priority: i64) {
        self.raft.set_priority(priority);
    }

    /// Whether a leader skips broadcasting appends whose only news is a new
    /// commit index.
    pub fn skip_bcast_commit(&mut self, skip: bool) {
        self.raft.skip_bcast_commit(skip);
    }

    /// Whether queued appends to the same peer are merged into one message.
    pub fn set_batch_append(&mut self, batch_append: bool) {
        self.raft.set_batch_append(batch_append);
    }

    /// Resumes the work that waited for entries the storage fetched in the
    /// background (after it returned `LogTemporarilyUnavailable`).
    pub fn on_entries_fetched(&mut self, context: GetEntriesContext) {
        self.raft.on_entries_fetched(context);
        self.collect_messages();
    }

    /// Whether [`ready`](Self::ready) would hand out anything.
    pub fn has_ready(&self) -> bool {
        let raft = &self.raft;
        !self.messages.is_empty()
            || !self.persisted_messages.is_empty()
            || !raft.msgs.is_empty()
            || !raft.read_states.is_empty()
            || raft.soft_state() != self.prev_ss
            || HardStateFields::of(raft) != self.prev_hs
            || raft.raft_log.unstable_snapshot().is_some()
            || !raft.raft_log.unstable_entries().is_empty()
            || raft
                .raft_log
                .has_next_entries_since(self.commit_since_index)
    }

    /// Hands out everything that is ready: state to persist, messages to
    /// send, committed entries to apply. Each part is handed out once; the
    /// next `Ready` carries only what happened since.
    ///
    /// The entries and snapshot must be written to the storage before this
    /// node is used again, so that the storage can serve them; when they are
    /// durable, report it with [`advance`](Self::advance),
    /// [`advance_append`](Self::advance_append) or
    /// [`on_persist_ready`](Self::on_persist_ready).
    pub fn ready(&mut self) -> Ready {
        self.collect_messages();
        // Checked before the hand-off rather than after: once the entries
        // and snapshot are handed out, the log reads them through the
        // storage, which the application fills only after this returns
        // (the next entry point checks the result).
        #[cfg(debug_assertions)]
        self.raft.check_invariants();
        self.max_number += 1;
        let number = self.max_number;
        let mut rd = Ready {
            number,
            ..Default::default()
        };

        let ss = self.raft.soft_state();
        if ss != self.prev_ss {
            self.prev_ss = self.raft.soft_state();
            rd.ss = Some(ss);
        }
        let hs = HardStateFields::of(&self.raft);
        if hs != self.prev_hs {
            // A new term or vote must reach the disk before any message that
            // relies on it (§5.1); a commit index can be recovered.
            rd.must_sync |= hs.term != self.prev_hs.term || hs.vote != self.prev_hs.vote;
            rd.hs = Some(self.raft.hard_state());
            self.prev_hs = hs;
        }
        rd.read_states = mem::take(&mut self.raft.read_states);

        let mut record = ReadyRecord {
            number,
            last_entry: None,
            snapshot: None,
            committed_through: self.commit_since_index,
        };
        if let Some(snapshot) = self.raft.raft_log.unstable_snapshot() {
            let (index, term) = (snapshot.metadata.index, snapshot.metadata.term);
            rd.snapshot = Some(Box::new(snapshot.clone()));
            rd.must_sync = true;
            record.snapshot = Some((index, term));
            // The snapshot stands for every entry up to its index: none of
            // them is handed out for apply.
            self.commit_since_index = self.commit_since_index.max(index);
        }
        // Read committed entries before the unstable ones are released: with
        // `max_apply_unpersisted_log_limit` they may still live there.
        rd.light.committed_entries = self.next_committed_page();
        record.committed_through = self.commit_since_index;

        if let Some((index, _)) = record.snapshot {
            self.raft.raft_log.stable_snap(index);
        }
        // Moved out rather than copied: once handed out, the core reads them
        // back through the storage, or, for apply, takes them back from the
        // `Ready` they come back with (`advance_append`).
        rd.entries = self.raft.raft_log.take_unstable_entries();
        if let Some(last) = rd.entries.last() {
            rd.must_sync = true;
            record.last_entry = Some((last.index, last.term));
        }
        rd.light.messages = self.take_messages();
        rd.persisted_messages = mem::take(&mut self.persisted_messages);
        self.records.push_back(record);
        rd
    }

    /// The next page of committed entries not yet handed out, at most
    /// `max_committed_size_per_ready` bytes (but at least one entry).
    fn next_committed_page(&mut self) -> Vec<Entry> {
        if !self
            .raft
            .raft_log
            .has_next_entries_since(self.commit_since_index)
        {
            return Vec::new();
        }
        let max_size = self.raft.max_committed_size_per_ready;
        let entries = self
            .raft
            .raft_log
            .take_next_entries_since(self.commit_since_index, Some(max_size))
            .unwrap_or_default();
        if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
            // Pages follow each other: never an entry handed out twice
            // (etcd's committed-entries paging bug). A gap is possible only under a snapshot or a
            // compaction below `applied`, whose entries need no apply.
            assert!(
                first.index > self.commit_since_index,
                "committed entries regress: last handed out {}, new page [{}, {}]",
                self.commit_since_index,
                first.index,
                last.index
            );
            self.commit_since_index = last.index;
        }
        // The core releases the uncommitted-size budget itself when entries
        // commit, so nothing is reported back here.
        entries
    }

    /// Reports that the snapshot, entries and hard state of `rd` (and of
    /// every earlier `Ready`) are durable, and that its committed entries
    /// are applied; returns what became ready because of it.
    ///
    /// Equivalent to [`advance_append`](Self::advance_append) followed by
    /// [`advance_apply_to`](Self::advance_apply_to) with the last committed
    /// index `rd` handed out. Apply the returned `LightReady`'s committed
    /// entries and then call [`advance_apply`](Self::advance_apply).
    pub fn advance(&mut self, mut rd: Ready) -> LightReady {
        let applied = self
            .records
            .iter()
            .find(|record| record.number == rd.number)
            .map_or(self.commit_since_index, |record| record.committed_through);
        let light = self.acknowledge_append(rd.number, &mut rd.entries);
        // Never report less than already reported (a Ready acknowledged out
        // of order must not move `applied` back).
        self.advance_apply_to(applied.max(self.raft.raft_log.applied));
        light
    }

    /// Reports that the snapshot, entries and hard state of `rd` (and of
    /// every earlier `Ready`) are durable, without saying anything about
    /// apply. Returns the new commit index to persist, entries that became
    /// committed (a leader commits once its own write is durable) and
    /// messages that may be sent at once.
    pub fn advance_append(&mut self, mut rd: Ready) -> LightReady {
        self.acknowledge_append(rd.number, &mut rd.entries)
    }

    /// [`advance_append`](Self::advance_append) of the `Ready` numbered
    /// `number`, whose entries (if the application left them in it) are
    /// `entries`. Takes the `Ready`'s parts by reference: the `Ready` itself
    /// is not moved again.
    fn acknowledge_append(&mut self, number: u64, entries: &mut Vec<Entry>) -> LightReady {
        self.on_persist_ready(number);
        // The entries just written come back with their `Ready`: the ones
        // that commit are handed out for apply from here, not read back.
        if !entries.is_empty() {
            self.raft.raft_log.keep_for_apply(mem::take(entries));
        }
        let mut light = LightReady::default();
        let commit = self.raft.raft_log.committed;
        if commit > self.prev_hs.commit {
            light.commit_index = Some(commit);
            self.prev_hs.commit = commit;
        }
        light.committed_entries = self.next_committed_page();
        light.messages = self.take_messages();
        #[cfg(debug_assertions)]
        self.raft.check_invariants();
        light
    }

    /// Acknowledges `rd` without its writes being durable yet: the
    /// application persists them in the background and reports completion
    /// later with [`on_persist_ready`](Self::on_persist_ready). Further
    /// `Ready`s may be taken meanwhile.
    pub fn advance_append_async(&mut self, rd: Ready) {
        // Everything in `rd` was released when it was handed out; what stays
        // pending is its record, which on_persist_ready consumes.
        debug_assert!(
            rd.number <= self.max_number,
            "Ready {} was never handed out (last is {})",
            rd.number,
            self.max_number
        );
        #[cfg(debug_assertions)]
        self.raft.check_invariants();
    }

    /// Reports that the writes of the `Ready` numbered `number`, and of every
    /// earlier one, are durable. A leader may then commit; the follow-up
    /// (new commit, committed entries, acknowledgement messages) comes out of
    /// the next [`ready`](Self::ready).
    pub fn on_persist_ready(&mut self, number: u64) {
        while let Some(record) = self.records.front().copied() {
            if record.number > number {
                break;
            }
            self.records.pop_front();
            if let Some((index, _)) = record.snapshot {
                self.raft.on_persist_snap(index);
            }
            if let Some((index, term)) = record.last_entry {
                self.raft.on_persist_entries(index, term);
            }
        }
        self.collect_messages();
        #[cfg(debug_assertions)]
        self.raft.check_invariants();
    }

    /// Reports that every committed entry handed out so far is applied.
    pub fn advance_apply(&mut self) {
        self.advance_apply_to(self.commit_since_index);
    }

    /// Reports that the state machine has applied every entry up to
    /// `applied`.
    pub fn advance_apply_to(&mut self, applied: u64) {
        self.raft.commit_apply(applied);
        // Entries the application says it applied are never handed out again.
        self.commit_since_index = self.commit_since_index.max(applied);
        self.collect_messages();
        #[cfg(debug_assertions)]
        self.raft.check_invariants();
    }

    /// The storage.
    #[inline]
    pub fn store(&self) -> &T {
        self.raft.store()
    }

    /// The storage, mutably.
    #[inline]
    pub fn mut_store(&mut self) -> &mut T {
        self.raft.mut_store()
    }

    /// The snapshot received but not yet handed out, if any.
    #[inline]
    pub fn snap(&self) -> Option<&Snapshot> {
        self.raft.snap()
    }

    /// The node's current status.
    pub fn status(&self) -> Status<'_> {
        Status::new(&self.raft)
    }

    /// The node's status without the progress of its peers (etcd's
    /// `BasicStatus`): id, hard state, soft state, applied index and the
    /// leader transfer in progress. It copies a few numbers and allocates
    /// nothing, for monitoring many groups.
    pub fn basic_status(&self) -> BasicStatus {
        BasicStatus::new(&self.raft)
    }

    /// Visits the progress of every peer in place (etcd's `WithProgress`):
    /// `visitor` gets each peer's id, whether it is a voter or a learner,
    /// and its [`Progress`](crate::Progress), once, in ascending id order.
    /// Nothing is cloned or allocated.
    ///
    /// The progress is the leader's view of its peers (§5.3) and is
    /// meaningful only while this node leads (see
    /// [`basic_status`](Self::basic_status)); on other nodes it is what was
    /// set up at the last role change.
    pub fn with_progress(&self, visitor: impl FnMut(u64, ProgressKind, &crate::Progress)) {
        crate::status::visit_progress(self.raft.prs(), visitor);
    }

    /// Forgets the leader this follower knows, without campaigning (etcd's
    /// `ForgetLeader`): see [`Raft::forget_leader`]. A local call: no
    /// message is sent. A no-op on leaders and candidates.
    pub fn forget_leader(&mut self) {
        self.raft.forget_leader();
        self.collect_messages();
    }
}

#[cfg(test)]
mod tests;
