//! A configuration decided by a simple majority of its voters (§5.2, §5.3).

use std::cmp;
use std::fmt;
use std::ops::{Deref, DerefMut};

use super::{AckedIndexer, Index, VoteResult};
use crate::util::{format_ids, majority};
use crate::HashSet;

/// Up to this many voters, `committed_index` sorts on the stack.
const STACK_VOTERS: usize = 7;

/// A set of voters; any majority of them is a quorum.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Configuration {
    voters: HashSet<u64>,
}

impl Configuration {
    /// Creates a configuration of the given voters.
    pub fn new(voters: HashSet<u64>) -> Configuration {
        Configuration { voters }
    }

    /// Creates an empty configuration with room for `cap` voters.
    pub fn with_capacity(cap: usize) -> Configuration {
        Configuration {
            voters: HashSet::with_capacity_and_hasher(cap, Default::default()),
        }
    }

    /// The voter ids in ascending order.
    pub fn slice(&self) -> Vec<u64> {
        let mut ids = self.raw_slice();
        ids.sort_unstable();
        ids
    }

    /// The voter ids in no particular order.
    pub fn raw_slice(&self) -> Vec<u64> {
        self.voters.iter().copied().collect()
    }

    /// The highest index acknowledged by a majority of the voters, i.e. the
    /// index that can be committed (§5.3; the leader additionally checks the
    /// entry's term, §5.4.2).
    ///
    /// An empty configuration returns `(u64::MAX, true)`, so that it never
    /// holds back the other half of a joint configuration. A voter the
    /// indexer knows nothing about counts as index 0 without a group.
    ///
    /// Without group commit the flag is `false`. With group commit
    /// (`use_group_commit`), voters carry a commit group (for example their
    /// data center) and an index counts as committed only once it is
    /// replicated to voters of at least two different groups:
    ///
    /// - if the voters belong to at least two distinct groups, the result is
    ///   the highest index that is both acknowledged by a majority and by
    ///   voters of two groups, and the flag is `true`;
    /// - if every voter is in one and the same group, group commit cannot
    ///   apply and the plain majority index is returned, flag `false`;
    /// - otherwise (some voters have no group, and those that do share at
    ///   most one), the voters' placement is unknown and the result is the
    ///   lowest index acknowledged by any voter, which is replicated
    ///   everywhere; flag `false`.
    pub fn committed_index(&self, use_group_commit: bool, l: &impl AckedIndexer) -> (u64, bool) {
        if self.voters.len() == 1 {
            // A single voter is its own quorum, and no group can be shared:
            // what the general case computes, without filling a slice.
            let only = self.voters.iter().next().copied().unwrap_or_default();
            return (l.acked_index(only).unwrap_or_default().index, false);
        }
        committed_index_of_acked(
            use_group_commit,
            self.voters
                .iter()
                .map(|id| l.acked_index(*id).unwrap_or_default()),
        )
    }

    /// Tallies a vote: `check(id)` is the vote cast by `id`, `None` if it
    /// has not voted yet. An empty configuration wins every vote.
    pub fn vote_result(&self, check: impl Fn(u64) -> Option<bool>) -> VoteResult {
        if self.voters.is_empty() {
            return VoteResult::Won;
        }
        let (mut yes, mut no) = (0, 0);
        for id in &self.voters {
            match check(*id) {
                Some(true) => yes += 1,
                Some(false) => no += 1,
                None => {}
            }
        }
        vote_result_of_counts(self.voters.len(), yes, no)
    }
}

/// The outcome of an election among `voters` voters of which `yes` granted
/// and `no` rejected their vote, the others not having answered: won with
/// a majority of grants (§5.2), lost once a majority can no longer be
/// reached, pending otherwise. No voters at all win every vote.
pub(crate) fn vote_result_of_counts(voters: usize, yes: usize, no: usize) -> VoteResult {
    if voters == 0 {
        return VoteResult::Won;
    }
    let quorum = majority(voters);
    let missing = voters - yes - no;
    if yes >= quorum {
        VoteResult::Won
    } else if yes + missing >= quorum {
        VoteResult::Pending
    } else {
        VoteResult::Lost
    }
}

/// The rule of [`Configuration::committed_index`] on the acknowledgements
/// of a majority configuration's voters, one per voter in any order (a
/// voter that acknowledged nothing gives `Index::default()`). The result
/// does not depend on the order: equal indexes are interchangeable in
/// every step below.
pub(crate) fn committed_index_of_acked(
    use_group_commit: bool,
    acks: impl ExactSizeIterator<Item = Index>,
) -> (u64, bool) {
    let n = acks.len();
    if n == 0 {
        return (u64::MAX, true);
    }
    let mut stack = [Index::default(); STACK_VOTERS];
    let mut heap = Vec::new();
    let acked: &mut [Index] = if n <= STACK_VOTERS {
        &mut stack[..n]
    } else {
        heap.resize(n, Index::default());
        &mut heap
    };
    for (slot, ack) in acked.iter_mut().zip(acks) {
        *slot = ack;
    }
    // Highest first: the voters at positions 0..q all acknowledged at
    // least acked[q - 1], and they are a majority.
    acked.sort_unstable_by_key(|a| cmp::Reverse(a.index));
    let quorum_index = acked[majority(n) - 1].index;
    if !use_group_commit {
        return (quorum_index, false);
    }

    let mut first_group = 0;
    let mut some_unassigned = false;
    for a in acked.iter() {
        if a.group_id == 0 {
            some_unassigned = true;
        } else if first_group == 0 {
            first_group = a.group_id;
        } else if a.group_id != first_group {
            // Every index up to `a.index` is held by voters of two
            // groups: `a`'s and an earlier voter's.
            return (cmp::min(a.index, quorum_index), true);
        }
    }
    if some_unassigned {
        (acked[n - 1].index, false)
    } else {
        (quorum_index, false)
    }
}

impl Deref for Configuration {
    type Target = HashSet<u64>;

    fn deref(&self) -> &HashSet<u64> {
        &self.voters
    }
}

impl DerefMut for Configuration {
    fn deref_mut(&mut self) -> &mut HashSet<u64> {
        &mut self.voters
    }
}

impl fmt::Display for Configuration {
    /// `(1 2 3)`, ids ascending.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({})", format_ids(&self.voters))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quorum::AckIndexer;
    use crate::util::id_set;

    fn acks(pairs: &[(u64, u64, u64)]) -> AckIndexer {
        pairs
            .iter()
            .map(|&(id, index, group_id)| (id, Index { index, group_id }))
            .collect()
    }

    #[test]
    fn vote_result_of_counts_follows_the_counts() {
        assert_eq!(vote_result_of_counts(0, 0, 0), VoteResult::Won);
        assert_eq!(vote_result_of_counts(5, 3, 0), VoteResult::Won);
        assert_eq!(vote_result_of_counts(5, 2, 2), VoteResult::Pending);
        assert_eq!(vote_result_of_counts(5, 2, 3), VoteResult::Lost);
        assert_eq!(vote_result_of_counts(4, 2, 1), VoteResult::Pending);
        assert_eq!(vote_result_of_counts(4, 2, 2), VoteResult::Lost);
    }

    #[test]
    fn slices_and_display_are_sorted() {
        let c = Configuration::new(id_set([3, 1, 2]));
        assert_eq!(c.slice(), vec![1, 2, 3]);
        let mut raw = c.raw_slice();
        raw.sort_unstable();
        assert_eq!(raw, vec![1, 2, 3]);
        assert_eq!(c.to_string(), "(1 2 3)");
        assert_eq!(Configuration::default().to_string(), "()");
        assert_eq!(Configuration::with_capacity(5).len(), 0);
    }

    #[test]
    fn derefs_to_the_voter_set() {
        let mut c = Configuration::default();
        c.insert(4);
        assert!(c.contains(&4));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn empty_config_commits_everything_and_wins_every_vote() {
        let c = Configuration::default();
        assert_eq!(c.committed_index(false, &acks(&[])), (u64::MAX, true));
        assert_eq!(c.committed_index(true, &acks(&[])), (u64::MAX, true));
        assert_eq!(c.vote_result(|_| Some(false)), VoteResult::Won);
    }

    #[test]
    fn committed_index_is_the_majority_acknowledged_index() {
        let c = Configuration::new(id_set([1, 2, 3, 4, 5]));
        let l = acks(&[(1, 2, 0), (2, 2, 0), (3, 2, 0), (4, 4, 0), (5, 5, 0)]);
        assert_eq!(c.committed_index(false, &l), (2, false));
        // Unknown voters count as 0.
        let l = acks(&[(1, 9, 0), (2, 8, 0)]);
        assert_eq!(c.committed_index(false, &l), (0, false));
        let l = acks(&[(1, 9, 0), (2, 8, 0), (3, 7, 0)]);
        assert_eq!(c.committed_index(false, &l), (7, false));
    }

    #[test]
    fn committed_index_sorts_large_configs_on_the_heap() {
        let c = Configuration::new(id_set(1..=9));
        let l: AckIndexer = (1..=9)
            .map(|id| {
                (
                    id,
                    Index {
                        index: id * 10,
                        group_id: 0,
                    },
                )
            })
            .collect();
        // Five of nine voters (50..=90) acknowledged 50.
        assert_eq!(c.committed_index(false, &l), (50, false));
    }

    #[test]
    fn group_commit_needs_two_groups() {
        let c = Configuration::new(id_set([1, 2, 3]));
        // (1, 1) (2, 2) (3, 2): 2 and 3 form the quorum, but only group 2
        // holds index 2, so index 1 is the highest held by two groups.
        let l = acks(&[(1, 1, 1), (2, 2, 2), (3, 3, 2)]);
        assert_eq!(c.committed_index(true, &l), (1, true));
        // Two groups hold index 2 and a majority does too.
        let l = acks(&[(1, 2, 1), (2, 2, 2), (3, 1, 1)]);
        assert_eq!(c.committed_index(true, &l), (2, true));
        let l = acks(&[(1, 5, 1), (2, 5, 2), (3, 1, 1)]);
        assert_eq!(c.committed_index(true, &l), (5, true));
        // Two groups hold index 9 but only two of five voters do: the
        // majority bound applies.
        let c5 = Configuration::new(id_set([1, 2, 3, 4, 5]));
        let l = acks(&[(1, 9, 1), (2, 9, 2), (3, 1, 1), (4, 1, 1), (5, 1, 1)]);
        assert_eq!(c5.committed_index(true, &l), (1, true));
    }

    #[test]
    fn group_commit_falls_back_without_two_groups() {
        let c = Configuration::new(id_set([1, 2, 3]));
        // One group for everyone: plain majority.
        let l = acks(&[(1, 1, 1), (2, 2, 1), (3, 3, 1)]);
        assert_eq!(c.committed_index(true, &l), (2, false));
        // Placement unknown for some voters: the minimum.
        let l = acks(&[(1, 1, 1), (2, 2, 0), (3, 3, 1)]);
        assert_eq!(c.committed_index(true, &l), (1, false));
        let l = acks(&[(1, 1, 0), (2, 2, 0), (3, 3, 0)]);
        assert_eq!(c.committed_index(true, &l), (1, false));
        // Unassigned voters do not prevent two assigned groups counting.
        let l = acks(&[(1, 3, 1), (2, 3, 0), (3, 3, 2)]);
        assert_eq!(c.committed_index(true, &l), (3, true));
    }

    #[test]
    fn vote_result_counts_yes_no_and_missing() {
        let c = Configuration::new(id_set([1, 2, 3]));
        let votes = |v: [Option<bool>; 3]| c.vote_result(move |id| v[id as usize - 1]);
        assert_eq!(votes([None, None, None]), VoteResult::Pending);
        assert_eq!(votes([Some(true), None, None]), VoteResult::Pending);
        assert_eq!(votes([Some(true), Some(true), None]), VoteResult::Won);
        assert_eq!(votes([Some(true), Some(false), None]), VoteResult::Pending);
        assert_eq!(votes([Some(false), Some(false), None]), VoteResult::Lost);
        assert_eq!(
            votes([Some(true), Some(false), Some(false)]),
            VoteResult::Lost
        );
    }

    proptest::proptest! {
        /// The committed index is the largest index a majority acknowledged,
        /// found by trying every candidate index.
        #[test]
        fn committed_index_matches_enumeration(
            idxs in proptest::collection::vec(proptest::option::of(0u64..8), 1..10),
        ) {
            let c = Configuration::new(id_set(1..=idxs.len() as u64));
            let l: AckIndexer = idxs
                .iter()
                .enumerate()
                .filter_map(|(i, x)| x.map(|index| (i as u64 + 1, Index { index, group_id: 0 })))
                .collect();
            let acked: Vec<u64> = idxs.iter().map(|x| x.unwrap_or(0)).collect();
            let want = (0..8u64)
                .filter(|&cand| acked.iter().filter(|&&a| a >= cand).count() * 2 > acked.len())
                .max()
                .unwrap();
            proptest::prop_assert_eq!(c.committed_index(false, &l), (want, false));
        }

        /// With group commit: the largest index a majority acknowledged and
        /// voters of two distinct groups hold, by enumeration.
        #[test]
        fn group_committed_index_matches_enumeration(
            acked in proptest::collection::vec((0u64..8, 0u64..3), 1..10),
        ) {
            let c = Configuration::new(id_set(1..=acked.len() as u64));
            let l: AckIndexer = acked
                .iter()
                .enumerate()
                .map(|(i, &(index, group_id))| (i as u64 + 1, Index { index, group_id }))
                .collect();
            let n = acked.len();
            let majority_ok = |cand: u64| acked.iter().filter(|a| a.0 >= cand).count() * 2 > n;
            let groups = |cand: u64| {
                let mut g: Vec<u64> = acked
                    .iter()
                    .filter(|a| a.0 >= cand && a.1 != 0)
                    .map(|a| a.1)
                    .collect();
                g.sort_unstable();
                g.dedup();
                g.len()
            };
            let plain = (0..8u64).filter(|&x| majority_ok(x)).max().unwrap();
            let want = if groups(0) >= 2 {
                ((0..8u64).filter(|&x| majority_ok(x) && groups(x) >= 2).max().unwrap(), true)
            } else if acked.iter().all(|a| a.1 != 0) {
                (plain, false)
            } else {
                (acked.iter().map(|a| a.0).min().unwrap(), false)
            };
            proptest::prop_assert_eq!(c.committed_index(true, &l), want);
        }

        /// The vote result matches enumerating every way the missing votes
        /// could go.
        #[test]
        fn vote_result_matches_enumeration(
            votes in proptest::collection::vec(proptest::option::of(proptest::bool::ANY), 0..9),
        ) {
            let c = Configuration::new(id_set(1..=votes.len() as u64));
            let got = c.vote_result(|id| votes[id as usize - 1]);
            let missing: Vec<usize> = (0..votes.len()).filter(|&i| votes[i].is_none()).collect();
            let (mut can_win, mut can_lose) = (false, false);
            for mask in 0..(1u32 << missing.len()) {
                let mut filled: Vec<bool> = votes.iter().map(|v| v.unwrap_or(false)).collect();
                for (bit, &i) in missing.iter().enumerate() {
                    filled[i] = mask & (1 << bit) != 0;
                }
                let yes = filled.iter().filter(|&&v| v).count();
                if yes * 2 > votes.len() { can_win = true } else { can_lose = true }
            }
            let want = match (can_win, can_lose) {
                _ if votes.is_empty() => VoteResult::Won,
                (true, false) => VoteResult::Won,
                (false, true) => VoteResult::Lost,
                _ => VoteResult::Pending,
            };
            proptest::prop_assert_eq!(got, want);
        }
    }
}
