//! Joint consensus: two majority configurations that must both agree while
//! the membership moves from one to the other (§6, thesis §4.3).

use std::cmp;
use std::fmt;

use super::majority::Configuration as MajorityConfig;
use super::{AckedIndexer, VoteResult};
use crate::util::Union;
use crate::HashSet;

/// The voters of a possibly joint configuration: `incoming` is the
/// configuration being moved to and `outgoing` the one being left, empty
/// when the configuration is not joint. Decisions need a majority of each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Configuration {
    pub(crate) incoming: MajorityConfig,
    pub(crate) outgoing: MajorityConfig,
}

impl Configuration {
    /// Creates a non-joint configuration of the given voters.
    pub fn new(voters: HashSet<u64>) -> Configuration {
        Configuration {
            incoming: MajorityConfig::new(voters),
            outgoing: MajorityConfig::default(),
        }
    }

    /// Creates an empty configuration with room for `cap` incoming voters.
    pub fn with_capacity(cap: usize) -> Configuration {
        Configuration {
            incoming: MajorityConfig::with_capacity(cap),
            outgoing: MajorityConfig::default(),
        }
    }

    /// Creates a joint configuration from its two halves.
    #[cfg(test)]
    pub(crate) fn new_joint(incoming: HashSet<u64>, outgoing: HashSet<u64>) -> Configuration {
        Configuration {
            incoming: MajorityConfig::new(incoming),
            outgoing: MajorityConfig::new(outgoing),
        }
    }

    /// The configuration being moved to (the only one when not joint).
    pub fn incoming(&self) -> &MajorityConfig {
        &self.incoming
    }

    /// The configuration being left; empty when not joint.
    pub fn outgoing(&self) -> &MajorityConfig {
        &self.outgoing
    }

    /// Checks whether this is a joint configuration (the outgoing half is
    /// not empty).
    pub fn is_joint(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// The committed index: the lower of the two halves' (an empty half
    /// does not hold the other back). The flag is true only when both
    /// halves used group commit; see
    /// [`MajorityConfig::committed_index`](super::majority::Configuration::committed_index).
    pub fn committed_index(&self, use_group_commit: bool, l: &impl AckedIndexer) -> (u64, bool) {
        let (incoming_index, incoming_gc) = self.incoming.committed_index(use_group_commit, l);
        let (outgoing_index, outgoing_gc) = self.outgoing.committed_index(use_group_commit, l);
        (
            cmp::min(incoming_index, outgoing_index),
            incoming_gc && outgoing_gc,
        )
    }

    /// Tallies a vote: won when both halves won, lost as soon as either
    /// lost, pending otherwise.
    pub fn vote_result(&self, check: impl Fn(u64) -> Option<bool>) -> VoteResult {
        let incoming = self.incoming.vote_result(&check);
        let outgoing = self.outgoing.vote_result(check);
        match (incoming, outgoing) {
            (VoteResult::Won, VoteResult::Won) => VoteResult::Won,
            (VoteResult::Lost, _) | (_, VoteResult::Lost) => VoteResult::Lost,
            _ => VoteResult::Pending,
        }
    }

    /// Removes every voter from both halves.
    pub fn clear(&mut self) {
        self.incoming.clear();
        self.outgoing.clear();
    }

    /// Checks whether there is exactly one voter and the configuration is
    /// not joint, so the voter decides alone.
    pub fn is_singleton(&self) -> bool {
        self.outgoing.is_empty() && self.incoming.len() == 1
    }

    /// The voters of either half, each once.
    pub fn ids(&self) -> Union<'_> {
        Union::new(&self.incoming, &self.outgoing)
    }

    /// Checks whether `id` is a voter in either half.
    pub fn contains(&self, id: u64) -> bool {
        self.incoming.contains(&id) || self.outgoing.contains(&id)
    }
}

impl fmt::Display for Configuration {
    /// `(1 2 3)` when not joint, `(1 2 3)&&(1 2 4)` (incoming first) when
    /// joint.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.outgoing.is_empty() {
            write!(f, "{}", self.incoming)
        } else {
            write!(f, "{}&&{}", self.incoming, self.outgoing)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quorum::{AckIndexer, Index};
    use crate::util::id_set;

    fn acks(pairs: &[(u64, u64)]) -> AckIndexer {
        pairs
            .iter()
            .map(|&(id, index)| (id, Index { index, group_id: 0 }))
            .collect()
    }

    #[test]
    fn non_joint_config_behaves_like_its_majority() {
        let c = Configuration::new(id_set([1, 2, 3]));
        assert!(!c.is_joint());
        let l = acks(&[(1, 5), (2, 4), (3, 1)]);
        assert_eq!(c.committed_index(false, &l), (4, false));
        assert_eq!(c.to_string(), "(1 2 3)");
    }

    #[test]
    fn joint_commit_is_the_lower_half() {
        let c = Configuration::new_joint(id_set([1, 2, 3]), id_set([3, 4, 5]));
        let l = acks(&[(1, 9), (2, 9), (3, 5), (4, 2), (5, 1)]);
        assert_eq!(c.committed_index(false, &l), (2, false));
        assert_eq!(c.to_string(), "(1 2 3)&&(3 4 5)");
    }

    #[test]
    fn empty_joint_config_commits_everything() {
        let c = Configuration::default();
        assert_eq!(c.committed_index(true, &acks(&[])), (u64::MAX, true));
        assert_eq!(c.vote_result(|_| None), VoteResult::Won);
    }

    #[test]
    fn joint_vote_needs_both_halves() {
        let c = Configuration::new_joint(id_set([1, 2, 3]), id_set([4, 5, 6]));
        let yes = |ids: &'static [u64]| move |id| Some(ids.contains(&id)).filter(|&v| v);
        assert_eq!(c.vote_result(yes(&[1, 2])), VoteResult::Pending);
        assert_eq!(c.vote_result(yes(&[1, 2, 4, 5])), VoteResult::Won);
        let split = |id| Some(id <= 3);
        assert_eq!(c.vote_result(split), VoteResult::Lost);
        let outgoing_lost = |id| if id >= 4 { Some(false) } else { None };
        assert_eq!(c.vote_result(outgoing_lost), VoteResult::Lost);
    }

    #[test]
    fn singleton_ids_contains_and_clear() {
        let mut c = Configuration::new(id_set([1]));
        assert!(c.is_singleton());
        c.outgoing.insert(1);
        assert!(!c.is_singleton(), "a joint config is never a singleton");
        c.outgoing.insert(2);
        assert_eq!(c.ids().len(), 2);
        assert!(c.contains(2) && c.contains(1) && !c.contains(3));
        c.clear();
        assert!(c.ids().is_empty());
        assert!(!c.is_singleton());
        assert_eq!(Configuration::with_capacity(3), Configuration::default());
    }

    proptest::proptest! {
        /// Joint results match brute force over both halves: the committed
        /// index is the largest index a majority of each half acknowledged,
        /// and the vote outcome is what every completion of the missing
        /// votes agrees on.
        #[test]
        fn joint_results_match_enumeration(
            incoming in proptest::collection::hash_set(1u64..8, 0..5),
            outgoing in proptest::collection::hash_set(1u64..8, 0..5),
            idx in proptest::collection::vec(0u64..10, 8),
            votes in proptest::collection::vec(proptest::option::of(proptest::bool::ANY), 8),
        ) {
            let c = Configuration::new_joint(
                id_set(incoming.iter().copied()),
                id_set(outgoing.iter().copied()),
            );
            let l: AckIndexer = (1..8u64)
                .map(|id| (id, Index { index: idx[id as usize], group_id: 0 }))
                .collect();
            let half_holds = |half: &std::collections::HashSet<u64>, cand: u64| {
                half.is_empty() || half.iter().filter(|&&id| idx[id as usize] >= cand).count() * 2 > half.len()
            };
            let want = if incoming.is_empty() && outgoing.is_empty() {
                u64::MAX
            } else {
                (0..10u64)
                    .filter(|&cand| half_holds(&incoming, cand) && half_holds(&outgoing, cand))
                    .max()
                    .unwrap()
            };
            proptest::prop_assert_eq!(c.committed_index(false, &l).0, want);

            let ids: Vec<u64> = c.ids().iter().filter(|&id| votes[id as usize].is_none()).collect();
            let (mut can_win, mut can_lose) = (false, false);
            for mask in 0..(1u32 << ids.len()) {
                let vote = |id: u64| match ids.iter().position(|&m| m == id) {
                    Some(bit) => mask & (1 << bit) != 0,
                    None => votes[id as usize] == Some(true),
                };
                let half_wins = |half: &std::collections::HashSet<u64>| {
                    half.is_empty() || half.iter().filter(|&&id| vote(id)).count() * 2 > half.len()
                };
                if half_wins(&incoming) && half_wins(&outgoing) {
                    can_win = true;
                } else {
                    can_lose = true;
                }
            }
            let want = match (can_win, can_lose) {
                (true, false) => VoteResult::Won,
                (false, true) => VoteResult::Lost,
                _ => VoteResult::Pending,
            };
            proptest::prop_assert_eq!(c.vote_result(|id| votes[id as usize]), want);
        }
    }
}
