//! The progress of every peer, kept in a vector sorted by peer id.
//!
//! Clusters are small (usually 3 to 7 peers), and the leader looks a peer
//! up on every message it handles. A short sorted vector answers that with
//! a few comparisons instead of hashing, iterates in ascending id order
//! (so anything built by walking it is deterministic), and is one
//! allocation instead of a hash table's.

use std::fmt;

use super::Progress;
use crate::quorum::{AckedIndexer, Index};

/// Up to this many peers a lookup scans the ids in order; beyond it, it
/// bisects. Measured with callgrind on entries the size of a `Progress`: a
/// scan costs about 10 + 3.5·n instructions per hit, a bisection about
/// 10 per halving step, and they cross near 12 peers.
const LINEAR_SCAN_MAX: usize = 12;

/// A map from peer id to [`Progress`], sorted by id, each id once.
#[derive(Clone, Default)]
pub(crate) struct ProgressMap {
    entries: Vec<(u64, Progress)>,
}

impl ProgressMap {
    /// Creates an empty map with room for `capacity` peers.
    pub(crate) fn with_capacity(capacity: usize) -> ProgressMap {
        ProgressMap {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// The number of peers.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Where `id` is (`Ok`), or where it would be inserted (`Err`).
    fn search(&self, id: u64) -> Result<usize, usize> {
        if self.entries.len() <= LINEAR_SCAN_MAX {
            // The first entry not below `id` is either it or the place to
            // insert it.
            match self.entries.iter().position(|e| e.0 >= id) {
                Some(i) if self.entries[i].0 == id => Ok(i),
                Some(i) => Err(i),
                None => Err(self.entries.len()),
            }
        } else {
            self.entries.binary_search_by_key(&id, |e| e.0)
        }
    }

    /// The position of `id`, if present. Cheaper than [`search`] for a
    /// hit, which is what the leader's lookups almost always are.
    ///
    /// [`search`]: Self::search
    fn position(&self, id: u64) -> Option<usize> {
        if self.entries.len() <= LINEAR_SCAN_MAX {
            self.entries.iter().position(|e| e.0 == id)
        } else {
            self.entries.binary_search_by_key(&id, |e| e.0).ok()
        }
    }

    /// The progress of peer `id`.
    pub(crate) fn get(&self, id: u64) -> Option<&Progress> {
        self.position(id).map(|i| &self.entries[i].1)
    }

    /// The progress of peer `id`, mutably.
    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut Progress> {
        self.position(id).map(move |i| &mut self.entries[i].1)
    }

    /// Checks whether peer `id` has a progress.
    pub(crate) fn contains_key(&self, id: u64) -> bool {
        self.position(id).is_some()
    }

    /// Sets the progress of peer `id`, returning the one it replaces.
    pub(crate) fn insert(&mut self, id: u64, pr: Progress) -> Option<Progress> {
        match self.search(id) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, pr)),
            Err(i) => {
                self.entries.insert(i, (id, pr));
                None
            }
        }
    }

    /// Removes the progress of peer `id`, returning it.
    pub(crate) fn remove(&mut self, id: u64) -> Option<Progress> {
        self.position(id).map(|i| self.entries.remove(i).1)
    }

    /// Removes every peer, keeping the allocation.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Replaces the contents with a fresh progress, made by `new`, for
    /// each of `ids`, which must be distinct. Sorts once instead of
    /// inserting one id at a time.
    pub(crate) fn reset_with(
        &mut self,
        ids: impl Iterator<Item = u64>,
        new: impl Fn() -> Progress,
    ) {
        self.entries.clear();
        self.entries.extend(ids.map(|id| (id, new())));
        self.entries.sort_unstable_by_key(|e| e.0);
        debug_assert!(
            self.entries.windows(2).all(|w| w[0].0 < w[1].0),
            "ids not distinct: {:?}",
            self.ids().collect::<Vec<_>>()
        );
    }

    /// The smallest peer id above `id`, if any.
    pub(crate) fn next_id_above(&self, id: u64) -> Option<u64> {
        let at = self.entries.partition_point(|e| e.0 <= id);
        self.entries.get(at).map(|e| e.0)
    }

    /// The peer ids, ascending.
    pub(crate) fn ids(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        self.entries.iter().map(|e| e.0)
    }

    /// Every peer's progress, by ascending id.
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = (&u64, &Progress)> {
        self.entries.iter().map(|(id, pr)| (id, pr))
    }

    /// Every peer's progress, mutably, by ascending id.
    pub(crate) fn iter_mut(&mut self) -> impl ExactSizeIterator<Item = (&u64, &mut Progress)> {
        self.entries.iter_mut().map(|(id, pr)| (&*id, pr))
    }
}

impl fmt::Debug for ProgressMap {
    /// As a map, `{1: Progress { .. }, 2: ...}`, by ascending id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl AckedIndexer for ProgressMap {
    fn acked_index(&self, voter_id: u64) -> Option<Index> {
        self.get(voter_id).map(|p| Index {
            index: p.matched,
            group_id: p.commit_group_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HashMap;

    fn pr(next_idx: u64) -> Progress {
        Progress::new(next_idx, 4)
    }

    fn map(ids: &[u64]) -> ProgressMap {
        let mut m = ProgressMap::with_capacity(ids.len());
        for &id in ids {
            assert!(m.insert(id, pr(id)).is_none(), "id {id}");
        }
        m
    }

    #[test]
    fn iterates_by_ascending_id_whatever_the_insertion_order() {
        let m = map(&[5, 1, 9, 3]);
        assert_eq!(m.ids().collect::<Vec<_>>(), vec![1, 3, 5, 9]);
        let nexts: Vec<(u64, u64)> = m.iter().map(|(id, pr)| (*id, pr.next_idx)).collect();
        assert_eq!(nexts, vec![(1, 1), (3, 3), (5, 5), (9, 9)]);
        assert_eq!(m.iter().len(), 4);
    }

    #[test]
    fn insert_replaces_and_remove_returns_the_progress() {
        let mut m = map(&[2, 4]);
        let old = m.insert(4, pr(40)).unwrap();
        assert_eq!(old.next_idx, 4);
        assert_eq!(m.get(4).unwrap().next_idx, 40);
        assert_eq!(m.len(), 2);
        assert_eq!(m.remove(2).unwrap().next_idx, 2);
        assert!(m.remove(2).is_none());
        assert!(!m.contains_key(2));
        assert!(m.contains_key(4));
        m.clear();
        assert_eq!(m.len(), 0);
        assert!(m.get(4).is_none());
    }

    #[test]
    fn lookups_bisect_beyond_the_scan_limit() {
        let ids: Vec<u64> = (1..=3 * LINEAR_SCAN_MAX as u64)
            .rev()
            .map(|i| i * 2)
            .collect();
        let mut m = map(&ids);
        for &id in &ids {
            assert_eq!(m.get(id).unwrap().next_idx, id);
            m.get_mut(id).unwrap().matched = id - 1;
            assert!(!m.contains_key(id + 1), "id {}", id + 1);
        }
        assert!(m.iter().all(|(id, pr)| pr.matched == id - 1));
        assert!(m.ids().collect::<Vec<_>>().windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn iter_mut_changes_every_progress() {
        let mut m = map(&[3, 1, 2]);
        for (id, pr) in m.iter_mut() {
            pr.matched = *id * 10;
        }
        assert_eq!(m.get(2).unwrap().matched, 20);
        assert_eq!(m.iter_mut().len(), 3);
    }

    #[test]
    fn reset_with_sorts_fresh_progresses() {
        let mut m = map(&[7, 8]);
        m.reset_with([3, 1, 2].into_iter(), || pr(11));
        assert_eq!(m.ids().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(m.iter().all(|(_, pr)| pr.next_idx == 11));
        assert!(m.get(7).is_none());
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "ids not distinct")]
    fn reset_with_rejects_duplicate_ids_in_debug() {
        let mut m = ProgressMap::default();
        m.reset_with([1, 2, 1].into_iter(), || pr(1));
    }

    #[test]
    fn acked_index_reads_matched_and_group() {
        let mut m = map(&[1, 2]);
        let p = m.get_mut(2).unwrap();
        p.matched = 7;
        p.commit_group_id = 3;
        assert_eq!(
            m.acked_index(2),
            Some(Index {
                index: 7,
                group_id: 3
            })
        );
        assert_eq!(m.acked_index(5), None);
    }

    #[test]
    fn debug_prints_a_map_by_ascending_id() {
        let m = map(&[2, 1]);
        let shown = format!("{m:?}");
        assert!(shown.starts_with("{1: Progress {"), "{shown}");
        assert!(shown.contains("}, 2: Progress {"), "{shown}");
    }

    /// One operation of the model test.
    #[derive(Clone, Debug)]
    enum Op {
        Insert(u64, u64),
        Remove(u64),
        Get(u64),
        SetMatched(u64, u64),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        // Small ids collide often; large ones spread past the scan limit.
        let id = prop_oneof![1u64..8, 1u64..64, any::<u64>()];
        prop_oneof![
            (id.clone(), 0u64..100).prop_map(|(id, n)| Op::Insert(id, n)),
            id.clone().prop_map(Op::Remove),
            id.clone().prop_map(Op::Get),
            (id, 0u64..100).prop_map(|(id, n)| Op::SetMatched(id, n)),
        ]
    }

    proptest::proptest! {
        /// Insert, remove, get, get_mut, iter and len agree with a hash
        /// map, and iteration is by strictly ascending id.
        #[test]
        fn behaves_like_a_hash_map(ops in proptest::collection::vec(op(), 0..200)) {
            let mut m = ProgressMap::default();
            let mut model: HashMap<u64, Progress> = HashMap::default();
            for op in ops {
                match op {
                    Op::Insert(id, n) => {
                        proptest::prop_assert_eq!(m.insert(id, pr(n)), model.insert(id, pr(n)));
                    }
                    Op::Remove(id) => {
                        proptest::prop_assert_eq!(m.remove(id), model.remove(&id));
                    }
                    Op::Get(id) => {
                        proptest::prop_assert_eq!(m.get(id), model.get(&id));
                        proptest::prop_assert_eq!(m.contains_key(id), model.contains_key(&id));
                    }
                    Op::SetMatched(id, n) => {
                        let got = m.get_mut(id).map(|p| { p.matched = n; p.clone() });
                        let want = model.get_mut(&id).map(|p| { p.matched = n; p.clone() });
                        proptest::prop_assert_eq!(got, want);
                    }
                }
                proptest::prop_assert_eq!(m.len(), model.len());
            }
            let mut want: Vec<(u64, Progress)> =
                model.into_iter().collect();
            want.sort_unstable_by_key(|e| e.0);
            let got: Vec<(u64, Progress)> =
                m.iter().map(|(id, pr)| (*id, pr.clone())).collect();
            proptest::prop_assert_eq!(m.iter().len(), got.len());
            proptest::prop_assert_eq!(got, want);
        }
    }
}
