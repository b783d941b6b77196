//! A snapshot of a node's state, for monitoring and for leaders deciding on
//! membership changes.

use crate::eraftpb::HardState;
use crate::{ProgressTracker, Raft, SoftState, StateRole, Storage};

/// A node's current state, borrowed from its [`Raft`].
#[derive(Default)]
pub struct Status<'a> {
    /// The node's id.
    pub id: u64,
    /// The durable part of the state: term, vote, commit.
    pub hs: HardState,
    /// The volatile part of the state: leader and role.
    pub ss: SoftState,
    /// The last entry the application reported applied.
    pub applied: u64,
    /// The leader's view of every peer's replication progress; `None` unless
    /// this node is the leader (only the leader tracks it, §5.3).
    pub progress: Option<&'a ProgressTracker>,
}

impl<'a> Status<'a> {
    /// Reads the status of `raft`.
    pub fn new<T: Storage>(raft: &'a Raft<T>) -> Status<'a> {
        let ss = raft.soft_state();
        let progress = (ss.raft_state == StateRole::Leader).then(|| raft.prs());
        Status {
            id: raft.id,
            hs: raft.hard_state(),
            ss,
            applied: raft.raft_log.applied,
            progress,
        }
    }
}
