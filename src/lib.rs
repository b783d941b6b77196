//! An embeddable, I/O-free Raft consensus core.
//!
//! # The model
//!
//! A Raft node here is a pure state machine ([`RawNode`], wrapping [`Raft`]). It
//! never reads a clock, touches a disk or opens a socket. Time enters through
//! [`RawNode::tick`], messages from peers through [`RawNode::step`], requests
//! through [`RawNode::propose`] and friends. What the node wants done comes out
//! as a [`Ready`]: entries and state to persist, messages to send, committed
//! entries to apply. The application does that work, in the order below, and
//! acknowledges it with [`RawNode::advance`]. Everything else (the log on disk,
//! the state machine, the network) is the application's; the log is read back
//! through the [`Storage`] trait ([`storage::MemStorage`] keeps it in memory).
//!
//! # The driver contract
//!
//! 1. **Create** the storage with the node's initial state: on first start, the
//!    initial membership as a `ConfState` (for example
//!    `MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]))`); on restart,
//!    the persisted hard state, conf state, snapshot and entries. Build the node
//!    with [`RawNode::new`]. On restart set [`Config::applied`] to the last index
//!    the state machine applied: nothing at or below it is handed out again.
//! 2. **Feed inputs**: call [`tick`](RawNode::tick) at a fixed interval (the
//!    election timeout is `election_tick` ticks, the heartbeat `heartbeat_tick`);
//!    [`step`](RawNode::step) every message received from a peer; and
//!    [`propose`](RawNode::propose), [`propose_conf_change`](RawNode::propose_conf_change),
//!    [`read_index`](RawNode::read_index), [`campaign`](RawNode::campaign),
//!    [`transfer_leader`](RawNode::transfer_leader),
//!    [`report_unreachable`](RawNode::report_unreachable) and
//!    [`report_snapshot`](RawNode::report_snapshot) as the application needs.
//! 3. **Take a `Ready`** when [`has_ready`](RawNode::has_ready) says there is
//!    one: `let mut rd = node.ready();`. Each `Ready` has the next
//!    [`number`](Ready::number).
//! 4. **Send [`messages`](Ready::messages) at once.** They are a leader's appends
//!    and heartbeats, which may go out before the leader's own write is durable
//!    (thesis §10.2.1).
//! 5. **Persist, in this order**: the [`snapshot`](Ready::snapshot) if it is not
//!    empty, then the [`entries`](Ready::entries) (appending them replaces any
//!    conflicting suffix already stored), then the [`hs`](Ready::hs) hard state if
//!    present. Sync to disk when [`must_sync`](Ready::must_sync) is true (a term,
//!    vote, entry or snapshot changed: §5.1 requires them durable before the
//!    node answers anyone). The storage must be able to serve the entries and
//!    snapshot before the node is used again, even if durability comes later.
//! 6. **Send [`persisted_messages`](Ready::persisted_messages) only after step 5
//!    is durable.** They are votes and append acknowledgements, promises that
//!    must survive a crash.
//! 7. **Apply [`committed_entries`](Ready::committed_entries)** to the state
//!    machine, in order. A snapshot replaces the state machine wholesale.
//!    Serve each [`ReadState`] in [`read_states`](Ready::read_states) once the
//!    state machine has applied up to its `index`.
//! 8. **Advance**: `let mut light = node.advance(rd);`. Then persist
//!    [`light.commit_index()`](LightReady::commit_index) if it is `Some`, send
//!    [`light.messages()`](LightReady::messages) at once, apply
//!    [`light.committed_entries()`](LightReady::committed_entries), and call
//!    [`advance_apply`](RawNode::advance_apply). Go back to step 2.
//! 9. **Asynchronous persistence** (an alternative to steps 5, 6 and 8): hand
//!    the writes of `rd` to a background writer, call
//!    [`advance_append_async(rd)`](RawNode::advance_append_async) and keep
//!    going; several `Ready`s may be in flight. When the writes of `Ready`
//!    number `n` are durable, send its persisted messages and call
//!    [`on_persist_ready(n)`](RawNode::on_persist_ready) (this covers every
//!    earlier number too); what follows from it (a new commit, committed
//!    entries, acknowledgements) comes out of a later `Ready`. After applying
//!    committed entries, report them with
//!    [`advance_apply_to(index)`](RawNode::advance_apply_to) or
//!    [`advance_apply`](RawNode::advance_apply).
//! 10. **Membership changes**: propose with
//!     [`propose_conf_change`](RawNode::propose_conf_change). Only when the
//!     entry comes back in committed entries (`EntryConfChange` or
//!     `EntryConfChangeV2`), decode it and call
//!     [`apply_conf_change`](RawNode::apply_conf_change); persist the returned
//!     `ConfState` with the applied index (thesis §4.1). See
//!     [Adding servers and reusing ids](#adding-servers-and-reusing-ids).
//! 11. **Linearizable reads**: call [`read_index(ctx)`](RawNode::read_index);
//!     a later `Ready` carries a [`ReadState`] with the same `request_ctx` and
//!     an `index`; answer the read once the state machine has applied at least
//!     that index (thesis §6.4).
//!
//! # Adding servers and reusing ids
//!
//! A node that has no configuration yet (never bootstrapped, never restored
//! a snapshot, never applied a configuration change) votes like any other:
//! a new server added as a voter may be needed for the majority that added
//! it before it has heard from the leader. That is why an id must never
//! come back empty after its node lost its data: the earlier incarnation
//! acknowledged entries and cast votes the new one does not remember, and a
//! node still holding an older configuration that lists the id could count
//! the new node's vote towards a majority that lacks committed entries
//! (§5.4's overlap argument needs every voter to keep its promises;
//! tikv/tikv#10533). No rule inside one node can tell incarnations apart.
//!
//! - **New servers**: prefer adding them as learners
//!   ([`ConfChangeType::AddLearnerNode`](eraftpb::ConfChangeType::AddLearnerNode))
//!   and promoting them once they caught up (thesis §4.2.1): a voter added
//!   directly counts towards the quorum at once, so until it catches up the
//!   group tolerates one failure fewer.
//! - **Reusing an id** whose node lost its data: give the new node a new id
//!   (as etcd requires), or start it from the state of a member that has
//!   applied the configuration change re-adding the id: that member's
//!   snapshot at or past that entry, and a hard state with that member's
//!   term. Starting it empty, or from an older snapshot, is unsafe. The
//!   cluster simulator (`harness::sim`) re-adds wiped ids this way.
//!
//! # A complete loop
//!
//! One node, one proposal, driven until the proposal is applied:
//!
//! ```
//! use raft::prelude::*;
//! use raft::storage::MemStorage;
//!
//! let logger = slog::Logger::root(slog::Discard, slog::o!());
//! let config = Config { election_tick: 10, heartbeat_tick: 1, ..Config::new(1) };
//! let storage = MemStorage::new_with_conf_state((vec![1], vec![]));
//! let mut node = RawNode::new(&config, storage, &logger).unwrap();
//!
//! // A lone voter elects itself once its election timeout passes.
//! while node.raft.state != raft::StateRole::Leader {
//!     node.tick();
//! }
//! node.propose(vec![], b"hello".to_vec()).unwrap();
//!
//! let mut applied: Vec<Vec<u8>> = Vec::new();
//! let mut apply = |entries: Vec<Entry>, applied: &mut Vec<Vec<u8>>| {
//!     for entry in entries {
//!         // The new leader's empty entry carries no data.
//!         if entry.get_entry_type() == EntryType::EntryNormal && !entry.data.is_empty() {
//!             applied.push(entry.data.to_vec());
//!         }
//!     }
//! };
//! while node.has_ready() {
//!     let mut rd = node.ready();
//!     // (4) Send rd.take_messages() to their `to` nodes; a lone node has none.
//!     assert!(rd.messages().is_empty());
//!     // (5) Persist snapshot, entries, hard state.
//!     let store = node.store().clone();
//!     if !rd.snapshot().is_empty() {
//!         store.wl().apply_snapshot(rd.snapshot().clone()).unwrap();
//!     }
//!     store.wl().append(rd.entries()).unwrap();
//!     if let Some(hs) = rd.hs() {
//!         store.wl().set_hardstate(hs.clone());
//!     }
//!     // (6) Now rd.take_persisted_messages() may be sent.
//!     // (7) Apply.
//!     apply(rd.take_committed_entries(), &mut applied);
//!     // (8) Advance and handle the LightReady.
//!     let mut light = node.advance(rd);
//!     if let Some(commit) = light.commit_index() {
//!         store.wl().mut_hard_state().commit = commit;
//!     }
//!     apply(light.take_committed_entries(), &mut applied);
//!     node.advance_apply();
//! }
//! assert_eq!(applied, vec![b"hello".to_vec()]);
//! ```
//!
//! The `examples/` folder has two complete programs: `single_mem_node`
//! (proposals with callbacks) and `five_mem_node` (five nodes on threads,
//! membership changes, a hundred proposals).
//!
//! # Beyond raft-rs 0.7
//!
//! Features etcd's raft has and raft-rs 0.7 lacks, each off or at raft-rs
//! 0.7's behaviour unless noted. None adds a message type or a field to the
//! wire format, so nodes of this crate and of raft-rs 0.7 keep understanding
//! each other during a rolling upgrade.
//!
//! - **Flow control by bytes** ([`Config::max_inflight_bytes`], etcd's
//!   `MaxInflightBytes`; default 0, no limit): a leader stops sending appends
//!   to a follower once the payload bytes (entry data and context) not yet
//!   acknowledged reach the limit, as it does at
//!   [`Config::max_inflight_msgs`] messages. Heartbeats still flow; one
//!   append larger than the limit is sent when nothing else is in flight.
//! - **Step down on removal** ([`Config::step_down_on_removal`], etcd's
//!   `StepDownOnRemoval`; default `true`): a leader that applies its own
//!   removal or demotion steps down (thesis §4.2.2). Off, it stays leader as
//!   in raft-rs 0.7 until a member is elected.
//! - **Configuration-change validation can be disabled**
//!   ([`Config::disable_conf_change_validation`], etcd's
//!   `DisableConfChangeValidation`; default `false`) for applications that
//!   check changes themselves. Read the field's documentation for the
//!   hazard.
//! - **Forget the leader** ([`RawNode::forget_leader`], etcd's
//!   `ForgetLeader`): a follower drops its leader hint without campaigning,
//!   so proposals are no longer forwarded to a leader believed dead and,
//!   with check quorum, it may grant votes before its election timeout.
//! - **Cheap status** ([`RawNode::basic_status`] and
//!   [`RawNode::with_progress`], etcd's `BasicStatus` and `WithProgress`):
//!   the status without the peers' progress, and a visit of every peer's
//!   progress in place, for monitoring thousands of groups without
//!   allocating.
//! - **Commit propagation after a hiccup**: a follower whose heartbeat
//!   response shows a commit index behind what it could know (the append
//!   carrying the commit was lost) is sent the commit at once in an empty
//!   append, instead of at the next heartbeat.
//! - **Probing after `report_unreachable`**: a follower moved back to probe
//!   is probed on each heartbeat response even when it is caught up, so it
//!   returns to replicate state without waiting for a proposal.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// Panics for a broken local invariant, appending the logger's key-values
/// (such as `raft_id`) to the message.
macro_rules! fatal {
    ($logger:expr, $msg:expr) => {{
        let kv = $crate::util::format_kv_list(&($logger).list());
        if kv.is_empty() {
            panic!("{}", $msg)
        } else {
            panic!("{}, {}", $msg, kv)
        }
    }};
    ($logger:expr, $fmt:expr, $($arg:tt)+) => {{
        fatal!($logger, format!($fmt, $($arg)+))
    }};
}
pub(crate) use fatal;

#[cfg(feature = "default-logger")]
mod logger;

mod confchange;
mod config;
mod errors;
mod lease;
mod log_unstable;
mod message_kind;
mod quorum;
mod raft;
mod raft_log;
mod read_only;
mod status;
mod tracker;

pub mod prelude;
pub mod raw_node;
pub mod storage;
pub mod util;

pub use raft_proto::eraftpb;

#[cfg(feature = "default-logger")]
pub use logger::default_logger;

pub use self::confchange::{Changer, MapChange, MapChangeType};
pub use self::config::Config;
pub use self::errors::{Error, Result, StorageError};
pub use self::log_unstable::Unstable;
pub use self::quorum::{
    joint::Configuration as JointConfig, majority::Configuration as MajorityConfig, VoteResult,
};
pub use self::raft::{
    vote_resp_msg_type, Raft, SoftState, StateRole, CAMPAIGN_ELECTION, CAMPAIGN_PRE_ELECTION,
    CAMPAIGN_TRANSFER,
};
pub use self::raft_log::RaftLog;
#[expect(deprecated, reason = "re-exported for raft-rs 0.7 callers")]
pub use self::raw_node::is_empty_snap;
pub use self::raw_node::{LightReady, Peer, RawNode, Ready, SnapshotStatus};
pub use self::read_only::{ReadOnlyOption, ReadState};
pub use self::status::{BasicStatus, ProgressKind, Status};
pub use self::storage::{GetEntriesContext, RaftState, Storage};
pub use self::tracker::{Inflights, Progress, ProgressState, ProgressTracker};
pub use self::util::{majority, NO_LIMIT};

/// The id that names no node.
pub const INVALID_ID: u64 = 0;
/// The index that names no entry.
pub const INVALID_INDEX: u64 = 0;

type HashMap<K, V> = fxhash::FxHashMap<K, V>;
type HashSet<K> = fxhash::FxHashSet<K>;
