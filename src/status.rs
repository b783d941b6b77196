//! A snapshot of a node's state, for monitoring and for leaders deciding on
//! membership changes.

use crate::eraftpb::HardState;
use crate::{Progress, ProgressTracker, Raft, SoftState, StateRole, Storage};

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

/// A node's current state without the progress of its peers (etcd's
/// `BasicStatus`): cheap to take for every group of a process that runs
/// thousands of them. It owns its fields and borrows nothing.
#[derive(Default, Debug, Clone, PartialEq)]
pub struct BasicStatus {
    /// The node's id.
    pub id: u64,
    /// The durable part of the state: term, vote, commit.
    pub hs: HardState,
    /// The volatile part of the state: leader and role.
    pub ss: SoftState,
    /// The last entry the application reported applied.
    pub applied: u64,
    /// The target of a leader transfer in progress on this leader, if any.
    pub lead_transferee: Option<u64>,
}

impl BasicStatus {
    /// Reads the basic status of `raft`.
    pub fn new<T: Storage>(raft: &Raft<T>) -> BasicStatus {
        BasicStatus {
            id: raft.id,
            hs: raft.hard_state(),
            ss: raft.soft_state(),
            applied: raft.raft_log.applied,
            lead_transferee: raft.lead_transferee,
        }
    }
}

/// Whether a visited progress belongs to a voter or a learner (etcd's
/// `ProgressType`); see [`RawNode::with_progress`](crate::RawNode::with_progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressKind {
    /// A voter, of the incoming or outgoing configuration.
    Voter,
    /// A learner (including a voter being demoted in a joint
    /// configuration, which is a learner of the incoming one).
    Learner,
}

/// Calls `visitor` with each peer's id, kind and progress, in ascending id
/// order, borrowing the progress in place: nothing is cloned or allocated.
pub(crate) fn visit_progress(
    prs: &ProgressTracker,
    mut visitor: impl FnMut(u64, ProgressKind, &Progress),
) {
    let conf = prs.conf();
    for (&id, pr) in prs.iter() {
        let kind = if conf.voters().contains(id) {
            ProgressKind::Voter
        } else {
            ProgressKind::Learner
        };
        visitor(id, kind, pr);
    }
}

#[cfg(test)]
mod tests {
    use slog::{o, Discard, Logger};

    use super::*;
    use crate::eraftpb::ConfState;
    use crate::storage::MemStorage;
    use crate::Config;

    #[test]
    fn visit_progress_names_voters_and_learners_once_in_id_order() {
        let store = MemStorage::new_with_conf_state(ConfState::from((vec![3, 1, 5], vec![4, 2])));
        let raft = Raft::new(&Config::new(1), store, &Logger::root(Discard, o!())).unwrap();
        let mut seen = Vec::new();
        visit_progress(raft.prs(), |id, kind, pr| {
            assert!(
                std::ptr::eq(pr, raft.prs().get(id).unwrap()),
                "borrowed in place"
            );
            seen.push((id, kind));
        });
        use ProgressKind::*;
        assert_eq!(
            seen,
            vec![
                (1, Voter),
                (2, Learner),
                (3, Voter),
                (4, Learner),
                (5, Voter)
            ]
        );
    }

    #[test]
    fn basic_status_copies_the_scalars() {
        let store = MemStorage::new_with_conf_state(ConfState::from((vec![1, 2], vec![])));
        let mut raft = Raft::new(&Config::new(1), store, &Logger::root(Discard, o!())).unwrap();
        raft.become_candidate();
        raft.become_leader();
        raft.lead_transferee = Some(2);
        let bs = BasicStatus::new(&raft);
        assert_eq!(bs.id, 1);
        assert_eq!(bs.hs, raft.hard_state());
        assert_eq!(bs.ss, raft.soft_state());
        assert_eq!(bs.applied, raft.raft_log.applied);
        assert_eq!(bs.lead_transferee, Some(2));
    }
}
