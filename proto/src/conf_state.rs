//! Building and comparing [`ConfState`]s, and telling an empty [`Snapshot`]
//! from a real one.

use crate::eraftpb::{ConfState, Snapshot};

impl<I1, I2> From<(I1, I2)> for ConfState
where
    I1: IntoIterator<Item = u64>,
    I2: IntoIterator<Item = u64>,
{
    /// A configuration that is not joint, from its `(voters, learners)`.
    fn from((voters, learners): (I1, I2)) -> Self {
        ConfState {
            voters: voters.into_iter().collect(),
            learners: learners.into_iter().collect(),
            ..Default::default()
        }
    }
}

/// Whether two configurations have the same members in each role and the
/// same `auto_leave`. Each of the four id lists is compared as a set, so
/// neither order nor repeats matter.
pub fn conf_state_eq(lhs: &ConfState, rhs: &ConfState) -> bool {
    same_ids(&lhs.voters, &rhs.voters)
        && same_ids(&lhs.learners, &rhs.learners)
        && same_ids(&lhs.voters_outgoing, &rhs.voters_outgoing)
        && same_ids(&lhs.learners_next, &rhs.learners_next)
        && lhs.auto_leave == rhs.auto_leave
}

/// Set equality of two id lists.
fn same_ids(lhs: &[u64], rhs: &[u64]) -> bool {
    sorted_unique(lhs) == sorted_unique(rhs)
}

fn sorted_unique(ids: &[u64]) -> Vec<u64> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    ids
}

impl Snapshot {
    /// Whether this is the empty snapshot, the one that stands for "no
    /// snapshot": its metadata index is 0. No real snapshot has index 0,
    /// because the log starts at index 1 (§5.3).
    pub fn is_empty(&self) -> bool {
        self.metadata().index() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn from_pair_fills_voters_and_learners_only() {
        let conf_state = ConfState::from((vec![1, 2, 3], [4u64]));
        assert_eq!(conf_state.voters, vec![1, 2, 3]);
        assert_eq!(conf_state.learners, vec![4]);
        assert!(conf_state.voters_outgoing.is_empty());
        assert!(conf_state.learners_next.is_empty());
        assert!(!conf_state.auto_leave);

        let from_ranges: ConfState = (1..=2, std::iter::empty()).into();
        assert_eq!(from_ranges.voters, vec![1, 2]);
        assert!(from_ranges.learners.is_empty());
    }

    #[test]
    fn conf_state_eq_ignores_order_and_repeats() {
        let lhs = ConfState {
            voters: vec![3, 1, 2],
            learners: vec![5, 4],
            voters_outgoing: vec![2, 1],
            learners_next: vec![6],
            auto_leave: true,
            ..Default::default()
        };
        let mut rhs = lhs.clone();
        rhs.voters = vec![1, 2, 3, 3];
        rhs.learners = vec![4, 5];
        rhs.voters_outgoing = vec![1, 2];
        assert!(conf_state_eq(&lhs, &rhs));
        assert!(conf_state_eq(&rhs, &lhs));
    }

    #[test]
    fn conf_state_eq_tells_each_field_apart() {
        let base = ConfState {
            voters: vec![1, 2],
            learners: vec![3],
            voters_outgoing: vec![1],
            learners_next: vec![4],
            auto_leave: false,
            ..Default::default()
        };
        let changes: [fn(&mut ConfState); 5] = [
            |cs| cs.voters.push(9),
            |cs| cs.learners.clear(),
            |cs| cs.voters_outgoing = vec![2],
            |cs| cs.learners_next.push(5),
            |cs| cs.auto_leave = true,
        ];
        for (which, change) in changes.iter().enumerate() {
            let mut other = base.clone();
            change(&mut other);
            assert!(!conf_state_eq(&base, &other), "change {which}: {other:?}");
        }
        // A role swap changes the configuration even with the same ids.
        let swapped = ConfState {
            voters: vec![3],
            learners: vec![1, 2],
            ..base.clone()
        };
        assert!(!conf_state_eq(&base, &swapped));
    }

    #[test]
    fn snapshot_is_empty_iff_metadata_index_is_zero() {
        let mut snapshot = Snapshot::new();
        assert!(snapshot.is_empty());
        // Data and term alone do not make a snapshot real.
        snapshot.data = bytes::Bytes::from_static(b"data");
        snapshot.mut_metadata().set_term(3);
        assert!(snapshot.is_empty());
        snapshot.mut_metadata().set_index(1);
        assert!(!snapshot.is_empty());
    }

    proptest! {
        /// Checks `conf_state_eq` against a `BTreeSet` oracle.
        #[test]
        fn conf_state_eq_matches_set_comparison(
            lists in prop::collection::vec(prop::collection::vec(0u64..5, 0..5), 8),
            leaves in any::<(bool, bool)>(),
        ) {
            let make = |offset: usize, auto_leave| ConfState {
                voters: lists[offset].clone(),
                learners: lists[offset + 1].clone(),
                voters_outgoing: lists[offset + 2].clone(),
                learners_next: lists[offset + 3].clone(),
                auto_leave,
                ..Default::default()
            };
            let (lhs, rhs) = (make(0, leaves.0), make(4, leaves.1));
            let set = |ids: &[u64]| ids.iter().copied().collect::<BTreeSet<_>>();
            let oracle = (0..4).all(|i| set(&lists[i]) == set(&lists[i + 4])) && leaves.0 == leaves.1;
            prop_assert_eq!(conf_state_eq(&lhs, &rhs), oracle);
        }
    }
}
