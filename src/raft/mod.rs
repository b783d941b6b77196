//! The Raft state machine.
//!
//! `Raft` holds the node's persistent state (term, vote, log), its volatile
//! state (role, leader, commit) and the leader's view of its followers. It is
//! driven by [`Raft::step`] for messages and [`Raft::tick`] for time, and
//! writes its outgoing messages to [`Raft::msgs`].
//!
//! This file holds the state and the dispatch of `step` by term and role;
//! each sub-protocol has its own file:
//! - `election.rs`: ticks, campaigns, votes and role transitions (§5.2, thesis §9.6);
//! - `leader.rs`: the leader's step, heartbeats, check quorum and leader transfer;
//! - `follower.rs`: the follower's and candidate's step;
//! - `replication.rs`: appends, heartbeats, commit and persistence (§5.3, §5.4);
//! - `snapshot.rs`: sending and installing snapshots (§7);
//! - `read_index.rs`: linearizable reads (thesis §6.4);
//! - `conf_change.rs`: membership changes (thesis chapter 4).

mod conf_change;
mod election;
mod follower;
#[cfg(debug_assertions)]
mod invariants;
mod leader;
mod read_index;
mod replication;
pub(crate) use replication::acknowledges_from;
mod snapshot;
mod uncommitted;

use std::cmp;

use rand::rngs::SmallRng;
use rand::SeedableRng;
use slog::{debug, info, o, Logger};

use crate::eraftpb::{HardState, Message, MessageType, Snapshot};
use crate::errors::{Error, Result};
use crate::message_kind::{self, SendTerm};
use crate::raft_log::RaftLog;
use crate::read_only::ReadOnly;
use crate::storage::Storage;
use crate::tracker::ProgressTracker;
use crate::{confchange, Config, ReadState, INVALID_ID};

use self::uncommitted::UncommittedState;

/// The campaign type of a pre-election (thesis §9.6).
pub const CAMPAIGN_PRE_ELECTION: &[u8] = b"CampaignPreElection";
/// The campaign type of a normal election (§5.2).
pub const CAMPAIGN_ELECTION: &[u8] = b"CampaignElection";
/// The campaign type of a leader transfer. It rides in the vote request's
/// `context` and lets the request bypass leader stickiness (thesis §3.10).
pub const CAMPAIGN_TRANSFER: &[u8] = b"CampaignTransfer";

/// The role of a node.
#[derive(Debug, PartialEq, Eq, Clone, Copy, Default)]
pub enum StateRole {
    /// The node is a follower.
    #[default]
    Follower,
    /// The node is campaigning for a term (§5.2).
    Candidate,
    /// The node leads the group.
    Leader,
    /// The node is asking whether it could win an election, without
    /// raising its term (thesis §9.6).
    PreCandidate,
}

/// The volatile state a caller may want to observe: who leads, and the
/// node's role. It need not be persisted.
#[derive(Default, PartialEq, Eq, Debug, Clone)]
pub struct SoftState {
    /// The known leader, or `INVALID_ID`.
    pub leader_id: u64,
    /// The node's role.
    pub raft_state: StateRole,
}

/// Maps a vote request type to its response type.
///
/// # Panics
///
/// For any type other than `MsgRequestVote` and `MsgRequestPreVote`.
pub fn vote_resp_msg_type(t: MessageType) -> MessageType {
    match t {
        MessageType::MsgRequestVote => MessageType::MsgRequestVoteResponse,
        MessageType::MsgRequestPreVote => MessageType::MsgRequestPreVoteResponse,
        _ => panic!("not a vote message: {t:?}"),
    }
}

/// The highest log index a peer may name in a snapshot or an entry. Above
/// it, a message is nonsense from a peer: no log reaches 2^63 entries (a
/// billion a second for 292 years), and the headroom keeps `last_index + 1`
/// and the indexes this node's own appends take from overflowing after
/// such a message was accepted.
pub(crate) const MAX_PEER_LOG_INDEX: u64 = u64::MAX / 2;

/// A tick count from a configuration that passed `Config::validate`,
/// which bounds every tick count by `u32::MAX`.
fn validated_ticks(ticks: usize) -> u32 {
    u32::try_from(ticks).expect("Config::validate bounds tick counts by u32::MAX")
}

/// A Raft node: the state machine itself.
pub struct Raft<T: Storage> {
    /// The current term (§5.1).
    pub term: u64,
    /// The candidate voted for in the current term, or `INVALID_ID`.
    pub vote: u64,
    /// This node's id.
    pub id: u64,
    /// Reads confirmed and waiting to be handed to the application.
    pub read_states: Vec<ReadState>,
    /// The replicated log.
    pub raft_log: RaftLog<T>,
    /// The in-flight append window per follower in replicate state.
    pub max_inflight: usize,
    /// The byte cap of entries per append message.
    pub max_msg_size: u64,
    /// The index this node asked a snapshot at, or `INVALID_INDEX`.
    pub pending_request_snapshot: u64,
    /// The node's role.
    pub state: StateRole,
    /// The known leader, or `INVALID_ID`.
    pub leader_id: u64,
    /// The target of a leader transfer in progress.
    pub lead_transferee: Option<u64>,
    /// The index of the latest configuration change in the log that may
    /// not be applied yet. Only one change may be pending at a time: a new
    /// one is refused while `pending_conf_index > applied` (thesis §4.1).
    pub pending_conf_index: u64,
    /// The pending reads.
    pub read_only: ReadOnly,
    /// Ticks since the last election timeout reset. On a leader, ticks since
    /// the last check-quorum round.
    pub election_elapsed: usize,
    /// Whether a leader steps down without a quorum (and stickiness is on).
    pub check_quorum: bool,
    /// Whether elections start with a pre-vote (thesis §9.6).
    pub pre_vote: bool,
    /// The node's election priority.
    pub priority: i64,
    /// Outgoing messages, drained by the driver.
    pub msgs: Vec<Message>,
    /// The first index an append or a snapshot replaced in this log since
    /// `RawNode` last collected the messages (0: none); see
    /// [`Raft::forget_acks_from`].
    pub(crate) replaced_from: u64,

    pub(crate) max_committed_size_per_ready: u64,

    prs: ProgressTracker,
    promotable: bool,
    // The tick counts below are `u32` (`Config::validate` bounds them) to
    // keep an idle replica small; the accessors return `usize`, as in
    // raft-rs 0.7.
    heartbeat_timeout: u32,
    election_timeout: u32,
    heartbeat_elapsed: u32,
    randomized_election_timeout: u32,
    min_election_timeout: u32,
    max_election_timeout: u32,
    skip_bcast_commit: bool,
    batch_append: bool,
    disable_proposal_forwarding: bool,
    /// `Config::step_down_on_removal`.
    step_down_on_removal: bool,
    /// `Config::disable_conf_change_validation`.
    disable_conf_change_validation: bool,
    uncommitted_state: UncommittedState,
    /// The ticks since this node started: the monotonic clock of the lease
    /// (thesis §6.4.1), which leaders write into their heartbeats.
    ticks: u64,
    /// The value of `ticks` when this node last heard from the leader of
    /// its term, or started (see [`crate::lease`]).
    leader_contact_tick: u64,
    /// State only a leader uses, created when first needed and dropped on
    /// every `reset`, so that followers (most replicas when a process hosts
    /// many groups) do not carry it inline.
    leader_scratch: Option<Box<LeaderScratch>>,
    rng: SmallRng,
    pub(crate) logger: Logger,
    /// What the last invariant check saw (see `check_invariants`).
    #[cfg(debug_assertions)]
    invariant_watch: invariants::InvariantWatch,
}

/// The part of a leader's state that only a leader uses and that is empty
/// most of the time (see `Raft::leader_scratch`).
#[derive(Default)]
struct LeaderScratch {
    /// Reads that arrived before this leader committed an entry of its
    /// term; answered once it has (etcd-io/etcd#7331).
    pending_read_index_messages: Vec<Message>,
    /// Per follower, the size bound of the append that the last
    /// `batch_append` merge grew.
    queued_append_bounds: Vec<replication::QueuedAppendBound>,
}

impl<T: Storage> Raft<T> {
    /// The leader's scratch state, created on first use.
    fn leader_scratch(&mut self) -> &mut LeaderScratch {
        self.leader_scratch.get_or_insert_with(Default::default)
    }

    /// The smallest id above `id` of a tracked peer other than this node.
    /// Walking the peers with it from 0 visits them in ascending order (so
    /// messages go out in a deterministic order) without collecting them.
    pub(crate) fn next_peer_above(&self, id: u64) -> Option<u64> {
        let next = self.prs.next_id_above(id)?;
        if next == self.id {
            self.prs.next_id_above(next)
        } else {
            Some(next)
        }
    }

    /// Creates a node from its configuration and storage, restoring the
    /// hard state and configuration the storage holds.
    pub fn new(c: &Config, store: T, logger: &Logger) -> Result<Self> {
        c.validate()?;
        let logger = logger.new(o!("raft_id" => c.id));
        let raft_state = store.initial_state()?;
        let conf_state = &raft_state.conf_state;
        let rng = match c.rng_seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_entropy(),
        };
        let mut raft_log = RaftLog::new(store, logger.clone());
        raft_log.max_apply_unpersisted_log_limit = c.max_apply_unpersisted_log_limit;
        let mut r = Raft {
            id: c.id,
            read_states: Default::default(),
            raft_log,
            max_inflight: c.max_inflight_msgs,
            max_msg_size: c.max_size_per_msg,
            pending_request_snapshot: crate::INVALID_INDEX,
            state: StateRole::Follower,
            promotable: false,
            check_quorum: c.check_quorum,
            pre_vote: c.pre_vote,
            read_only: ReadOnly::new(c.read_only_option),
            heartbeat_timeout: validated_ticks(c.heartbeat_tick),
            election_timeout: validated_ticks(c.election_tick),
            leader_id: INVALID_ID,
            lead_transferee: None,
            term: 0,
            election_elapsed: 0,
            pending_conf_index: 0,
            vote: 0,
            heartbeat_elapsed: 0,
            randomized_election_timeout: 0,
            min_election_timeout: validated_ticks(c.min_election_tick()),
            max_election_timeout: validated_ticks(c.max_election_tick()),
            skip_bcast_commit: c.skip_bcast_commit,
            batch_append: c.batch_append,
            disable_proposal_forwarding: c.disable_proposal_forwarding,
            step_down_on_removal: c.step_down_on_removal,
            disable_conf_change_validation: c.disable_conf_change_validation,
            priority: c.priority,
            uncommitted_state: UncommittedState::new(c.max_uncommitted_size),
            ticks: 0,
            // A node starts as if it had just heard from a leader: it may
            // have acknowledged one's heartbeat just before it stopped.
            leader_contact_tick: 0,
            max_committed_size_per_ready: c.max_committed_size_per_ready,
            leader_scratch: None,
            msgs: vec![],
            replaced_from: 0,
            prs: ProgressTracker::with_capacity(
                conf_state.voters.len(),
                conf_state.learners.len(),
                c.max_inflight_msgs,
            ),
            rng,
            logger,
            #[cfg(debug_assertions)]
            invariant_watch: Default::default(),
        };
        r.prs.set_max_inflight_bytes(c.max_inflight_bytes);
        confchange::restore(&mut r.prs, r.raft_log.last_index() + 1, conf_state)?;
        r.act_on_conf();
        // `restore` succeeds only with exactly the sets of `conf_state`, so
        // there is nothing to compare outside of tests.
        debug_assert!(
            raft_proto::conf_state_eq(&r.prs.conf().to_conf_state(), conf_state),
            "invalid restore: {:?} != {:?}",
            conf_state,
            r.prs.conf()
        );

        if raft_state.hard_state != HardState::default() {
            r.load_state(&raft_state.hard_state);
        }
        if c.applied > r.raft_log.committed {
            return Err(Error::ConfigInvalid(format!(
                "applied index {} is past the committed index {} in storage",
                c.applied, r.raft_log.committed
            )));
        }
        if c.applied > 0 {
            r.commit_apply(c.applied);
        }
        let term = r.term;
        r.become_follower(term, INVALID_ID);

        info!(
            r.logger,
            "newRaft";
            "term" => r.term,
            "commit" => r.raft_log.committed,
            "applied" => r.raft_log.applied,
            "last index" => r.raft_log.last_index(),
            "last term" => r.raft_log.last_term(),
            "peers" => %r.prs.conf().voters(),
        );
        Ok(r)
    }

    /// Creates a node that logs to [`default_logger`](crate::default_logger).
    #[cfg(feature = "default-logger")]
    pub fn with_default_logger(c: &Config, store: T) -> Result<Self> {
        Self::new(c, store, &crate::default_logger())
    }

    /// The storage.
    #[inline]
    pub fn store(&self) -> &T {
        &self.raft_log.store
    }

    /// The storage, mutably.
    #[inline]
    pub fn mut_store(&mut self) -> &mut T {
        &mut self.raft_log.store
    }

    /// The snapshot not yet handed to the application, if any.
    #[inline]
    pub fn snap(&self) -> Option<&Snapshot> {
        self.raft_log.unstable.snapshot.as_ref()
    }

    /// The number of reads waiting for a quorum.
    #[inline]
    pub fn pending_read_count(&self) -> usize {
        self.read_only.pending_read_count()
    }

    /// The number of confirmed reads not yet handed out.
    #[inline]
    pub fn ready_read_count(&self) -> usize {
        self.read_states.len()
    }

    /// The current soft state.
    pub fn soft_state(&self) -> SoftState {
        SoftState {
            leader_id: self.leader_id,
            raft_state: self.state,
        }
    }

    /// The current hard state: what must be persisted before messages that
    /// depend on it are sent.
    pub fn hard_state(&self) -> HardState {
        let mut hs = HardState::new();
        hs.term = self.term;
        hs.vote = self.vote;
        hs.commit = self.raft_log.committed;
        hs
    }

    /// Whether this node is a leader with check quorum on (raft-rs 0.7's
    /// meaning, kept). It does not say whether the lease holds now: with
    /// [`ReadOnlyOption::LeaseBased`](crate::ReadOnlyOption::LeaseBased)
    /// a read is answered from the lease only while a quorum acknowledged
    /// recent heartbeats, and confirmed by a heartbeat round otherwise.
    pub fn in_lease(&self) -> bool {
        self.state == StateRole::Leader && self.check_quorum
    }

    /// The progress tracker.
    #[inline]
    pub fn prs(&self) -> &ProgressTracker {
        &self.prs
    }

    /// The progress tracker, mutably.
    #[inline]
    pub fn mut_prs(&mut self) -> &mut ProgressTracker {
        &mut self.prs
    }

    /// Sets the election priority.
    pub fn set_priority(&mut self, priority: i64) {
        self.priority = priority;
    }

    /// Whether appends are sent only to spread a new commit index.
    pub fn skip_bcast_commit(&mut self, skip: bool) {
        self.skip_bcast_commit = skip;
    }

    /// Whether queued appends to the same peer are merged.
    pub fn set_batch_append(&mut self, batch_append: bool) {
        self.batch_append = batch_append;
    }

    /// Turns check quorum (and leader stickiness) on or off.
    pub fn set_check_quorum(&mut self, check_quorum: bool) {
        self.check_quorum = check_quorum;
    }

    /// Sets the byte cap of committed entries in one `Ready`.
    pub fn set_max_committed_size_per_ready(&mut self, size: u64) {
        self.max_committed_size_per_ready = size;
    }

    /// Sets how far past the persisted index committed entries may be
    /// handed out for apply.
    pub fn set_max_apply_unpersisted_log_limit(&mut self, limit: u64) {
        self.raft_log.max_apply_unpersisted_log_limit = limit;
    }

    /// Restores the persisted hard state.
    ///
    /// # Panics
    ///
    /// When the commit index lies outside `[committed, last_index]`: the
    /// storage is corrupt.
    pub fn load_state(&mut self, hs: &HardState) {
        if hs.commit < self.raft_log.committed || hs.commit > self.raft_log.last_index() {
            crate::fatal!(
                self.logger,
                "hs.commit {} is out of range [{}, {}]",
                hs.commit,
                self.raft_log.committed,
                self.raft_log.last_index()
            )
        }
        self.raft_log.committed = hs.commit;
        self.term = hs.term;
        self.vote = hs.vote;
    }

    /// Steps a message into the state machine.
    ///
    /// Messages from peers never make this panic: stale, duplicate or
    /// malformed ones are ignored and logged at debug level.
    pub fn step(&mut self, mut m: Message) -> Result<()> {
        if let Err(number) = m.msg_type.enum_value() {
            // An unknown type reads as the default (MsgHup): it must never
            // be taken for one.
            debug!(self.logger, "dropping a message of unknown type"; "type" => number, "from" => m.from);
            return Ok(());
        }
        if !self.accept_term(&m) {
            return Ok(());
        }

        match m.msg_type() {
            MessageType::MsgHup => {
                self.hup(false);
                Ok(())
            }
            MessageType::MsgRequestVote | MessageType::MsgRequestPreVote => {
                self.handle_vote_request(&m);
                Ok(())
            }
            _ => match self.state {
                // By reference from here on: the message is not copied
                // again on its way down (it is large), and the handlers
                // that keep parts of it take them out.
                StateRole::Leader => self.step_leader(&mut m),
                StateRole::Candidate | StateRole::PreCandidate => self.step_candidate(&mut m),
                StateRole::Follower => self.step_follower(&mut m),
            },
        }
    }

    /// Applies the term rules of §5.1 to an incoming message. Returns false
    /// when the message is to be dropped.
    fn accept_term(&mut self, m: &Message) -> bool {
        use MessageType::*;
        let msg_type = m.msg_type();
        if m.term == 0 {
            // Only local messages and the application's requests (which a
            // follower forwards as they are) come without a term; anything
            // else without one is malformed (a vote must name its term,
            // §5.2).
            if !message_kind::may_have_zero_term(msg_type) {
                debug!(self.logger, "dropping a message without a term"; "msg type" => ?msg_type, "from" => m.from);
                return false;
            }
            return true;
        }

        if m.term > self.term {
            if matches!(msg_type, MsgRequestVote | MsgRequestPreVote) {
                let force = m.context.as_ref() == CAMPAIGN_TRANSFER;
                let in_lease = self.check_quorum
                    && self.leader_id != INVALID_ID
                    && self.election_elapsed < self.election_timeout as usize;
                // Leader stickiness (thesis §4.2.3): a node that heard from
                // a leader within the election timeout does not let a
                // candidate depose it. In lease mode, also the promise
                // lease reads rest on (thesis §6.4.1), which a change of
                // term or a restart does not end.
                let stickiness_ticks = if in_lease {
                    self.election_timeout as usize - self.election_elapsed
                } else {
                    0
                };
                let remaining = stickiness_ticks.max(self.vote_lease_remaining_ticks());
                if !force && remaining > 0 {
                    info!(
                        self.logger,
                        "ignoring a vote request while in lease";
                        "from" => m.from,
                        "msg term" => m.term,
                        "term" => self.term,
                        "remaining ticks" => remaining,
                    );
                    return false;
                }
            }

            if msg_type == MsgRequestPreVote || (msg_type == MsgRequestPreVoteResponse && !m.reject)
            {
                // A pre-vote never changes terms (thesis §9.6): the request
                // carries the term the candidate would use, and a granted
                // response echoes it.
            } else {
                info!(
                    self.logger,
                    "received a message with a higher term";
                    "from" => m.from,
                    "term" => self.term,
                    "message term" => m.term,
                    "msg type" => ?msg_type,
                );
                let leader = if matches!(msg_type, MsgAppend | MsgHeartbeat | MsgSnapshot) {
                    m.from
                } else {
                    INVALID_ID
                };
                self.become_follower(m.term, leader);
            }
            return true;
        }

        if m.term < self.term {
            if matches!(msg_type, MsgHeartbeat | MsgAppend) {
                // §5.1: a request with a stale term is rejected with our
                // term, so a leader stuck at a lower term steps down. raft-rs
                // 0.7 answers only with check quorum or pre-vote, counting
                // on vote requests to carry the newer term otherwise; but a
                // member that missed configuration changes sends its vote
                // requests only to its stale configuration, so without the
                // answer it never hears from the leader's group again
                // (simulator seed 10051259).
                let mut resp = Message::new();
                resp.set_msg_type(MsgAppendResponse);
                resp.to = m.from;
                self.send(resp);
            } else if msg_type == MsgRequestPreVote {
                // Reject so the pre-candidate learns the newer term.
                let mut resp = Message::new();
                resp.set_msg_type(MsgRequestPreVoteResponse);
                resp.to = m.from;
                resp.term = self.term;
                resp.reject = true;
                self.send(resp);
            } else {
                debug!(
                    self.logger,
                    "ignored a message with a lower term";
                    "from" => m.from,
                    "term" => self.term,
                    "msg type" => ?msg_type,
                    "msg term" => m.term,
                );
            }
            return false;
        }
        true
    }

    /// Queues a message, stamping the sender when it is unset and, for all
    /// but votes, proposals and reads, the current term.
    ///
    /// A message this node forwards (a proposal, a read, a transfer request)
    /// keeps its original sender, so the leader answers the node that asked
    /// rather than the one that passed it on.
    pub(crate) fn send(&mut self, mut m: Message) {
        if m.from == INVALID_ID {
            m.from = self.id;
        }
        match message_kind::send_term(m.msg_type()) {
            SendTerm::SetBySender => {
                if m.term == 0 {
                    crate::fatal!(
                        self.logger,
                        "term should be set when sending {:?}",
                        m.msg_type()
                    );
                }
            }
            SendTerm::Unset => {}
            SendTerm::Current => m.term = self.term,
        }
        self.msgs.push(m);
    }

    /// Resets the volatile state for `term`: a new term forgets the vote;
    /// timers, votes, pending reads, a pending snapshot request and the
    /// leader's view of its peers start afresh.
    ///
    /// A snapshot request is a follower's: a node that becomes candidate or
    /// leader drops it (as raft-rs does), or, back to follower, it would
    /// ask for a snapshot below its commit index and refuse every append
    /// meanwhile. [`become_follower`](Self::become_follower) keeps it.
    pub fn reset(&mut self, term: u64) {
        if self.term != term {
            self.term = term;
            self.vote = INVALID_ID;
        }
        self.pending_request_snapshot = crate::INVALID_INDEX;
        self.leader_id = INVALID_ID;
        self.reset_randomized_election_timeout();
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;

        self.abort_leader_transfer();
        self.prs.reset_votes();
        self.pending_conf_index = 0;
        self.read_only = ReadOnly::new(self.read_only.option);
        self.leader_scratch = None;

        let last_index = self.raft_log.last_index();
        let committed = self.raft_log.committed;
        let persisted = self.raft_log.persisted;
        let self_id = self.id;
        for (&id, pr) in self.prs.iter_mut() {
            pr.reset(last_index + 1);
            if id == self_id {
                pr.matched = persisted;
                pr.committed_index = committed;
            }
        }
        self.uncommitted_state.reset(last_index);
    }

    /// The election timeout, in ticks.
    pub fn election_timeout(&self) -> usize {
        self.election_timeout as usize
    }

    /// The heartbeat interval, in ticks.
    pub fn heartbeat_timeout(&self) -> usize {
        self.heartbeat_timeout as usize
    }

    /// Ticks since the last heartbeat.
    pub fn heartbeat_elapsed(&self) -> usize {
        self.heartbeat_elapsed as usize
    }

    /// The current randomized election timeout, in ticks.
    pub fn randomized_election_timeout(&self) -> usize {
        self.randomized_election_timeout as usize
    }

    /// Sets the randomized election timeout.
    ///
    /// # Panics
    ///
    /// Unless `min_election_tick <= t < max_election_tick`.
    pub fn set_randomized_election_timeout(&mut self, t: usize) {
        let (min, max) = (
            self.min_election_timeout as usize,
            self.max_election_timeout as usize,
        );
        assert!(
            min <= t && t < max,
            "randomized election timeout {t} out of [{min}, {max})"
        );
        // Below `max_election_timeout`, a `u32`.
        self.randomized_election_timeout = t as u32;
    }

    /// Draws a new randomized election timeout from
    /// `[min_election_tick, max_election_tick)` with the node's own seeded
    /// generator (§5.2: randomized timeouts make split votes rare).
    pub fn reset_randomized_election_timeout(&mut self) {
        use rand::Rng;
        let prev = self.randomized_election_timeout;
        // Drawn as `usize`, as before the counters were narrowed: the same
        // seed gives the same timeouts.
        let timeout = self
            .rng
            .gen_range(self.min_election_timeout as usize..self.max_election_timeout as usize);
        debug!(
            self.logger,
            "reset election timeout {prev} -> {timeout} at {elapsed}",
            prev = prev,
            timeout = timeout,
            elapsed = self.election_elapsed,
        );
        self.randomized_election_timeout = timeout as u32;
    }

    /// Whether the election timeout has passed.
    pub fn pass_election_timeout(&self) -> bool {
        self.election_elapsed >= self.randomized_election_timeout as usize
    }

    /// Whether this node may campaign: it is a voter in its configuration.
    pub fn promotable(&self) -> bool {
        self.promotable
    }

    /// Whether the leader has committed an entry of its own term.
    pub fn commit_to_current_term(&self) -> bool {
        self.raft_log
            .term(self.raft_log.committed)
            .is_ok_and(|t| t == self.term)
    }

    /// Whether the applied index is in the current term.
    pub fn apply_to_current_term(&self) -> bool {
        self.raft_log
            .term(self.raft_log.applied)
            .is_ok_and(|t| t == self.term)
    }

    /// Turns group commit on or off.
    pub fn enable_group_commit(&mut self, enable: bool) {
        self.prs.enable_group_commit(enable);
        if StateRole::Leader == self.state && !enable && self.maybe_commit() {
            self.bcast_append();
        }
    }

    /// Whether group commit is on.
    pub fn group_commit(&self) -> bool {
        self.prs.group_commit()
    }

    /// Assigns commit groups: pairs of (peer id, group id).
    pub fn assign_commit_groups(&mut self, ids: &[(u64, u64)]) {
        let prev_groups = self.prs.group_commit();
        for (peer_id, group_id) in ids {
            assert!(*group_id > 0, "group id of peer {peer_id} must be positive");
            if let Some(pr) = self.prs.get_mut(*peer_id) {
                pr.commit_group_id = *group_id;
            } else {
                continue;
            }
        }
        if StateRole::Leader == self.state && prev_groups && self.maybe_commit() {
            self.bcast_append();
        }
    }

    /// Removes every peer from its commit group.
    pub fn clear_commit_group(&mut self) {
        for (_, pr) in self.prs.iter_mut() {
            pr.commit_group_id = 0;
        }
    }

    /// On a leader that has applied an entry of its term: whether the
    /// commit index is the one group commit computes. `None` elsewhere.
    pub fn check_group_commit_consistent(&mut self) -> Option<bool> {
        if self.state != StateRole::Leader {
            return None;
        }
        // Before an entry of this term is applied, the commit index may
        // still be settling.
        if !self.apply_to_current_term() {
            return None;
        }
        let (index, use_group_commit) = self.prs.maximal_committed_index();
        debug!(
            self.logger,
            "check group commit consistent";
            "index" => index,
            "use_group_commit" => use_group_commit,
            "committed" => self.raft_log.committed
        );
        Some(use_group_commit && index == self.raft_log.committed)
    }

    /// The bytes of allocated inflight ring buffers, summed over peers.
    pub fn inflight_buffers_size(&self) -> usize {
        self.prs
            .iter()
            .map(|(_, pr)| pr.ins.buffer_capacity() * std::mem::size_of::<u64>())
            .sum()
    }

    /// Frees the inflight buffers of peers with nothing in flight.
    pub fn maybe_free_inflight_buffers(&mut self) {
        for (_, pr) in self.prs.iter_mut() {
            pr.ins.maybe_free_buffer();
        }
    }

    /// Changes the inflight window of one peer.
    pub fn adjust_max_inflight_msgs(&mut self, target: u64, cap: usize) {
        if let Some(pr) = self.prs.get_mut(target) {
            pr.ins.set_cap(cap);
        }
    }
}

/// The smaller of the peer's priority fields that a receiver uses: the new
/// field when set, else the deprecated one, saturating.
pub(crate) fn message_priority(m: &Message) -> i64 {
    if m.priority != 0 {
        m.priority
    } else {
        cmp::min(m.deprecated_priority, i64::MAX as u64) as i64
    }
}

#[cfg(all(test, debug_assertions))]
mod invariant_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eraftpb::ConfState;
    use crate::storage::MemStorage;

    fn logger() -> Logger {
        Logger::root(slog::Discard, o!())
    }

    fn node(id: u64, seed: Option<u64>) -> Raft<MemStorage> {
        let config = Config {
            election_tick: 10,
            heartbeat_tick: 1,
            rng_seed: seed,
            ..Config::new(id)
        };
        let store = MemStorage::new_with_conf_state(ConfState::from((vec![1, 2, 3], vec![])));
        Raft::new(&config, store, &logger()).unwrap()
    }

    #[test]
    fn applied_past_the_stored_commit_is_a_config_error() {
        let config = Config {
            applied: 5,
            ..Config::new(1)
        };
        let store = MemStorage::new_with_conf_state(ConfState::from((vec![1], vec![])));
        match Raft::new(&config, store, &logger()) {
            Err(Error::ConfigInvalid(msg)) => assert!(msg.contains("applied index 5")),
            other => panic!("expected ConfigInvalid, got {:?}", other.err()),
        }
    }

    #[test]
    fn same_seed_replays_the_same_election_timeouts() {
        let draw = |seed| {
            let mut r = node(1, Some(seed));
            (0..20)
                .map(|_| {
                    r.reset_randomized_election_timeout();
                    r.randomized_election_timeout()
                })
                .collect::<Vec<_>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7));
        assert_ne!(a, draw(8));
        assert!(a.iter().all(|t| (10..20).contains(t)));
    }

    #[test]
    fn unknown_message_type_is_not_taken_for_a_hup() {
        let mut r = node(1, Some(1));
        let mut m = Message::new();
        m.msg_type = protobuf::EnumOrUnknown::from_i32(99);
        m.from = 2;
        r.step(m).unwrap();
        assert_eq!(r.state, StateRole::Follower);
        assert_eq!(r.term, 0);
        assert!(r.msgs.is_empty());
    }

    #[test]
    fn votes_without_a_term_are_dropped() {
        let mut r = node(1, Some(1));
        let mut m = Message::new();
        m.set_msg_type(MessageType::MsgRequestVote);
        m.from = 2;
        m.term = 0;
        r.step(m).unwrap();
        assert_eq!(r.vote, INVALID_ID);
        assert!(r.msgs.is_empty());
    }

    #[test]
    #[should_panic(expected = "not a vote message")]
    fn vote_resp_msg_type_panics_for_other_types() {
        vote_resp_msg_type(MessageType::MsgAppend);
    }
}
