//! Run-time checks of the node's local invariants, compiled only with
//! debug assertions (so into tests and fuzzers, never into release builds).
//!
//! [`RawNode`](crate::RawNode) runs [`Raft::check_invariants`] at the end of
//! each of its entry points. A check that fails is a bug in this crate (or
//! in a storage that breaks its contract), never something a peer's message
//! may cause: it panics through `fatal!`, with the node id.

use crate::storage::Storage;
use crate::INVALID_ID;

use super::{Raft, StateRole};

/// What the previous check saw, for the invariants that compare a node with
/// its own past: a few numbers, refreshed by every check.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct InvariantWatch {
    /// The term at the previous check.
    term: u64,
    /// The commit index at the previous check.
    committed: u64,
    /// While leader: the term, and the last index and its term, at the
    /// previous check.
    leader_tail: Option<LeaderTail>,
}

#[derive(Debug, Clone, Copy)]
struct LeaderTail {
    term: u64,
    last_index: u64,
    last_term: u64,
}

impl<T: Storage> Raft<T> {
    /// Checks the node's invariants and remembers what the next check
    /// compares with. Exists only in builds with debug assertions. O(peers + messages in flight), plus a few storage
    /// reads of the log's bounds:
    ///
    /// - the term never goes backwards (§5.1);
    /// - the commit index never decreases (§5.4: committed entries stay);
    /// - a leader never truncates its own log (§5.3, Leader Append-Only):
    ///   within its term, its last index never falls and the entry there
    ///   keeps its term;
    /// - a leader leads itself, holds no entry of a later term than its own
    ///   and knows no peer past its own log (its followers' `matched <
    ///   next_idx <= last_index + 1`); a candidate voted for itself;
    /// - those of [`RaftLog`](crate::RaftLog) (`applied <= committed <=
    ///   last_index`, the unstable tail in place), of the
    ///   [`ProgressTracker`](crate::ProgressTracker) (configuration and
    ///   progress map in step, inflight windows within their limits) and
    ///   of `ReadOnly` (queue and map agree).
    ///
    /// # Panics
    ///
    /// Through `fatal!` when one is broken.
    #[cfg(debug_assertions)]
    pub fn check_invariants(&mut self) {
        self.raft_log.check_invariants();
        self.prs.check_invariants(&self.logger);
        self.read_only
            .check_invariants(self.raft_log.committed, &self.logger);
        self.check_term_and_commit();
        self.check_role();
        self.check_leader_log();
        self.invariant_watch = InvariantWatch {
            term: self.term,
            committed: self.raft_log.committed,
            leader_tail: (self.state == StateRole::Leader).then(|| LeaderTail {
                term: self.term,
                last_index: self.raft_log.last_index(),
                last_term: self.raft_log.last_term(),
            }),
        };
    }

    #[cfg(debug_assertions)]
    fn check_term_and_commit(&self) {
        let watch = &self.invariant_watch;
        if self.term < watch.term {
            crate::fatal!(
                self.logger,
                "term went back from {} to {}",
                watch.term,
                self.term
            );
        }
        if self.raft_log.committed < watch.committed {
            crate::fatal!(
                self.logger,
                "commit index went back from {} to {}",
                watch.committed,
                self.raft_log.committed
            );
        }
    }

    #[cfg(debug_assertions)]
    fn check_role(&self) {
        match self.state {
            StateRole::Leader if self.leader_id != self.id => crate::fatal!(
                self.logger,
                "leader of term {} names {} as the leader",
                self.term,
                self.leader_id
            ),
            StateRole::Candidate if self.vote != self.id => crate::fatal!(
                self.logger,
                "candidate of term {} voted for {}",
                self.term,
                self.vote
            ),
            StateRole::Candidate | StateRole::PreCandidate if self.leader_id != INVALID_ID => {
                crate::fatal!(
                    self.logger,
                    "{:?} of term {} knows leader {}",
                    self.state,
                    self.term,
                    self.leader_id
                )
            }
            _ => {}
        }
    }

    #[cfg(debug_assertions)]
    fn check_leader_log(&self) {
        if self.state != StateRole::Leader {
            return;
        }
        // Only a leader: a follower restarted by a driver that made a
        // `Ready`'s entries durable but crashed before its hard state holds
        // entries of a term it has not stored, which is safe (it never
        // answered in that term) but breaks this rule until it learns the
        // term again.
        let last_term = self.raft_log.last_term();
        if last_term > self.term {
            crate::fatal!(
                self.logger,
                "leader's last entry of term {} is past its term {}",
                last_term,
                self.term
            );
        }
        let last_index = self.raft_log.last_index();
        if let Some((&id, pr)) = self.prs.iter().find(|(_, pr)| pr.next_idx > last_index + 1) {
            crate::fatal!(
                self.logger,
                "leader with last index {} has next_idx {} for peer {} (matched {})",
                last_index,
                pr.next_idx,
                id,
                pr.matched
            );
        }
        let Some(tail) = self.invariant_watch.leader_tail else {
            return;
        };
        if tail.term != self.term {
            return;
        }
        // The entry may since have been compacted away (the term is then
        // unknown), never replaced.
        let term_now = self.raft_log.term(tail.last_index).unwrap_or(0);
        if last_index < tail.last_index || (term_now != 0 && term_now != tail.last_term) {
            crate::fatal!(
                self.logger,
                "leader of term {} truncated its log: last index {} (term {}) became {}, term there now {}",
                self.term,
                tail.last_index,
                tail.last_term,
                last_index,
                term_now
            );
        }
    }
}
