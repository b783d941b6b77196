//! The tail of the log the application has not been handed yet.
//!
//! New entries (proposals on a leader, appends on a follower) and a received
//! snapshot live here until the application takes them from a `Ready` to
//! persist them; then they are "stabled" and the core reads them back
//! through `Storage`.

use slog::Logger;

use crate::eraftpb::{Entry, Snapshot};
use crate::util::entry_approximate_size;

/// The unstable part of the log: an optional snapshot followed by entries.
///
/// Invariants: `entries[i].index == offset + i`; when a snapshot is present,
/// `offset == snapshot index + 1`; `entries_size` is the sum of
/// [`entry_approximate_size`] over `entries`.
#[derive(Debug)]
pub struct Unstable {
    /// A snapshot received from the leader and not yet handed out.
    pub snapshot: Option<Snapshot>,
    /// Entries not yet handed out to be persisted.
    pub entries: Vec<Entry>,
    /// The approximate size of `entries` in bytes.
    pub entries_size: usize,
    /// The index of `entries[0]` (or of the next entry when there is none).
    pub offset: u64,
    /// The logger of the node.
    pub logger: Logger,
}

impl Unstable {
    /// An empty unstable log whose first entry will have index `offset`.
    pub fn new(offset: u64, logger: Logger) -> Unstable {
        Unstable {
            snapshot: None,
            entries: vec![],
            entries_size: 0,
            offset,
            logger,
        }
    }

    /// The first index of the log when a snapshot is pending (the one after
    /// the snapshot); otherwise unknown here.
    pub fn maybe_first_index(&self) -> Option<u64> {
        self.snapshot.as_ref().map(|s| s.metadata().index + 1)
    }

    /// The last index of the log when this part knows it: the last entry's,
    /// else the pending snapshot's.
    pub fn maybe_last_index(&self) -> Option<u64> {
        match self.entries.len() {
            0 => self.snapshot.as_ref().map(|s| s.metadata().index),
            len => Some(self.offset + len as u64 - 1),
        }
    }

    /// The term of the entry at `idx` when this part holds it (an entry, or
    /// the pending snapshot's own index).
    pub fn maybe_term(&self, idx: u64) -> Option<u64> {
        if idx < self.offset {
            let meta = self.snapshot.as_ref()?.metadata();
            return (meta.index == idx).then_some(meta.term);
        }
        let last = self.maybe_last_index()?;
        if idx > last {
            return None;
        }
        Some(self.entries[(idx - self.offset) as usize].term)
    }

    /// Marks every entry as handed out to be persisted: the entries are
    /// dropped and `offset` moves past them. `index` and `term` name the last
    /// entry handed out.
    ///
    /// # Panics
    ///
    /// If a snapshot is still pending (it must be stabled first), if there
    /// is no entry, or if the last entry is not `(index, term)`: the core and
    /// the application disagree on what was handed out.
    pub fn stable_entries(&mut self, index: u64, term: u64) {
        assert!(
            self.snapshot.is_none(),
            "stabling entries up to {index} (term {term}) before the pending snapshot at {}",
            self.snapshot.as_ref().map_or(0, |s| s.metadata().index)
        );
        let Some(last) = self.entries.last() else {
            panic!(
                "stabling entries up to {index} (term {term}) but no entry is unstable (offset {})",
                self.offset
            );
        };
        assert!(
            last.index == index && last.term == term,
            "stabling entries up to {index} (term {term}) but the last unstable entry is {} (term {})",
            last.index,
            last.term
        );
        debug_assert_eq!(
            index + 1,
            self.offset + self.entries.len() as u64,
            "the last unstable entry is not at offset + len - 1"
        );
        self.offset = index + 1;
        self.entries.clear();
        self.entries_size = 0;
    }

    /// Hands out every entry to be persisted, as
    /// [`stable_entries`](Self::stable_entries) with the last entry would, but moving the
    /// entries out instead of dropping them. Empty when there is none.
    ///
    /// # Panics
    ///
    /// If there are entries and a snapshot is still pending (it must be
    /// stabled first).
    pub fn take_entries(&mut self) -> Vec<Entry> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        assert!(
            self.snapshot.is_none(),
            "taking entries from {} before the pending snapshot at {}",
            self.offset,
            self.snapshot.as_ref().map_or(0, |s| s.metadata().index)
        );
        self.offset += self.entries.len() as u64;
        self.entries_size = 0;
        std::mem::take(&mut self.entries)
    }

    /// Marks the pending snapshot at `index` as handed out to be persisted.
    ///
    /// # Panics
    ///
    /// If no snapshot is pending or it is not at `index`.
    pub fn stable_snap(&mut self, index: u64) {
        match &self.snapshot {
            Some(s) if s.metadata().index == index => self.snapshot = None,
            Some(s) => panic!(
                "stabling the snapshot at {index} but the pending snapshot is at {}",
                s.metadata().index
            ),
            None => panic!("stabling the snapshot at {index} but no snapshot is pending"),
        }
    }

    /// Replaces everything with `snapshot`: the entries are dropped and the
    /// next entry follows the snapshot.
    pub fn restore(&mut self, snapshot: Snapshot) {
        debug_assert!(
            snapshot.get_metadata().index < u64::MAX,
            "a snapshot at the last possible index leaves no room for an offset"
        );
        self.entries.clear();
        self.entries_size = 0;
        self.offset = snapshot.metadata().index + 1;
        self.snapshot = Some(snapshot);
    }

    /// Appends `ents`, first dropping every unstable entry at or after
    /// `ents[0].index`. When `ents` start at or before `offset`, all unstable
    /// entries are replaced and `offset` moves back to `ents[0].index` (the
    /// replaced part was already handed out; the core accounts for it).
    ///
    /// # Panics
    ///
    /// If `ents[0].index` is past `offset + entries.len()` (a gap), or not
    /// past a pending snapshot's index.
    pub fn truncate_and_append(&mut self, ents: &[Entry]) {
        if self.truncate_for_append(ents) {
            self.entries.extend_from_slice(ents);
        }
    }

    /// [`truncate_and_append`](Self::truncate_and_append), moving `ents` in:
    /// when nothing is unstable (the usual case, as every `Ready` takes the
    /// entries), the vector itself becomes the unstable tail.
    pub(crate) fn truncate_and_append_owned(&mut self, mut ents: Vec<Entry>) {
        if !self.truncate_for_append(&ents) {
            return;
        }
        if self.entries.is_empty() {
            self.entries = ents;
        } else {
            self.entries.append(&mut ents);
        }
    }

    /// Everything [`truncate_and_append`](Self::truncate_and_append) does
    /// but adding the entries themselves (their size is already counted).
    /// Returns false when `ents` is empty.
    fn truncate_for_append(&mut self, ents: &[Entry]) -> bool {
        let Some(first) = ents.first() else {
            return false;
        };
        let after = first.index;
        if let Some(snapshot) = &self.snapshot {
            let snapshot_index = snapshot.metadata().index;
            assert!(
                after > snapshot_index,
                "appending from index {after} would replace the pending snapshot at {snapshot_index}"
            );
        }
        let end = self.offset + self.entries.len() as u64;
        if after == end {
            // Directly follows: just append.
        } else if after <= self.offset {
            slog::info!(
                self.logger,
                "replace the unstable entries from index {after}"
            );
            self.offset = after;
            self.entries.clear();
            self.entries_size = 0;
        } else {
            slog::info!(
                self.logger,
                "truncate the unstable entries before index {after}"
            );
            self.must_check_outofbounds(self.offset, after);
            let keep = (after - self.offset) as usize;
            let dropped: usize = self.entries[keep..]
                .iter()
                .map(entry_approximate_size)
                .sum();
            self.entries.truncate(keep);
            self.entries_size -= dropped;
        }
        self.entries_size += ents.iter().map(entry_approximate_size).sum::<usize>();
        // The entries added follow one another, and the tail they join,
        // with terms that never decrease (§5.3, Log Matching): O(entries
        // added), so together with the ends `check_invariants` looks at,
        // every index of the tail is in place.
        debug_assert!(
            ents.windows(2)
                .all(|w| w[1].index == w[0].index + 1 && w[1].term >= w[0].term),
            "appended entries are not contiguous with non-decreasing terms: first {after}, {} entries",
            ents.len()
        );
        debug_assert!(
            self.entries
                .last()
                .is_none_or(|prev| prev.index + 1 == after && prev.term <= first.term),
            "entries from {after} (term {}) do not follow the unstable tail ending at {:?}",
            first.term,
            self.entries.last().map(|e| (e.index, e.term))
        );
        debug_assert!(
            self.entries.is_empty() || self.offset <= after,
            "kept unstable entries from {} past the new ones at {after}",
            self.offset
        );
        true
    }

    /// The unstable entries with indexes in `[lo, hi)`.
    ///
    /// # Panics
    ///
    /// As [`must_check_outofbounds`](Self::must_check_outofbounds).
    pub fn slice(&self, lo: u64, hi: u64) -> &[Entry] {
        self.must_check_outofbounds(lo, hi);
        let start = (lo - self.offset) as usize;
        let end = (hi - self.offset) as usize;
        &self.entries[start..end]
    }

    /// Checks the invariants of the unstable tail in O(1): the entries run
    /// from `offset` to `offset + len - 1` (each append checks that the
    /// entries it adds follow one another, so with both ends in place every
    /// `entries[i].index == offset + i`), a pending snapshot sits right
    /// below `offset`, and an empty tail counts no bytes.
    ///
    /// # Panics
    ///
    /// Through `fatal!` when one is broken.
    #[cfg(debug_assertions)]
    pub(crate) fn check_invariants(&self) {
        if let (Some(first), Some(last)) = (self.entries.first(), self.entries.last()) {
            let want_last = self.offset + self.entries.len() as u64 - 1;
            if first.index != self.offset || last.index != want_last {
                crate::fatal!(
                    self.logger,
                    "unstable entries [{}, {}] do not run from the offset {} to {}",
                    first.index,
                    last.index,
                    self.offset,
                    want_last
                );
            }
        } else if self.entries_size != 0 {
            crate::fatal!(
                self.logger,
                "unstable tail without entries counts {} bytes",
                self.entries_size
            );
        }
        if let Some(snapshot) = &self.snapshot {
            let index = snapshot.get_metadata().index;
            if index.checked_add(1) != Some(self.offset) {
                crate::fatal!(
                    self.logger,
                    "unstable snapshot at {} is not right below the offset {}",
                    index,
                    self.offset
                );
            }
        }
    }

    /// Checks that `[lo, hi)` is a range of unstable indexes.
    ///
    /// # Panics
    ///
    /// If `lo > hi`, `lo < offset` or `hi > offset + entries.len()`.
    pub fn must_check_outofbounds(&self, lo: u64, hi: u64) {
        let upper = self.offset + self.entries.len() as u64;
        assert!(lo <= hi, "invalid unstable slice [{lo}, {hi})");
        assert!(
            self.offset <= lo && hi <= upper,
            "unstable slice [{lo}, {hi}) out of bound [{}, {upper})",
            self.offset
        );
    }
}

#[cfg(all(test, debug_assertions))]
mod invariant_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            ..Default::default()
        }
    }

    fn entry_with_data(index: u64, term: u64, len: usize) -> Entry {
        Entry {
            index,
            term,
            data: Bytes::from(vec![b'x'; len]),
            ..Default::default()
        }
    }

    fn snapshot(index: u64, term: u64) -> Snapshot {
        let mut s = Snapshot::default();
        s.mut_metadata().index = index;
        s.mut_metadata().term = term;
        s
    }

    fn logger() -> Logger {
        Logger::root(slog::Discard, slog::o!())
    }

    fn unstable(snap: Option<Snapshot>, entries: Vec<Entry>, offset: u64) -> Unstable {
        let mut u = Unstable::new(offset, logger());
        u.snapshot = snap;
        u.entries_size = entries.iter().map(entry_approximate_size).sum();
        u.entries = entries;
        u
    }

    fn recomputed_size(u: &Unstable) -> usize {
        u.entries.iter().map(entry_approximate_size).sum()
    }

    #[test]
    fn first_index_is_known_only_with_a_snapshot() {
        let cases = [
            (unstable(None, vec![entry(5, 1)], 5), None),
            (unstable(None, vec![], 0), None),
            (
                unstable(Some(snapshot(4, 1)), vec![entry(5, 1)], 5),
                Some(5),
            ),
            (unstable(Some(snapshot(4, 1)), vec![], 5), Some(5)),
        ];
        for (i, (u, want)) in cases.iter().enumerate() {
            assert_eq!(u.maybe_first_index(), *want, "case {i}");
        }
    }

    #[test]
    fn last_index_is_the_last_entry_or_the_snapshot() {
        let cases = [
            (unstable(None, vec![entry(5, 1)], 5), Some(5)),
            (unstable(None, vec![entry(5, 1), entry(6, 1)], 5), Some(6)),
            (
                unstable(Some(snapshot(4, 1)), vec![entry(5, 1)], 5),
                Some(5),
            ),
            (unstable(Some(snapshot(4, 1)), vec![], 5), Some(4)),
            (unstable(None, vec![], 0), None),
        ];
        for (i, (u, want)) in cases.iter().enumerate() {
            assert_eq!(u.maybe_last_index(), *want, "case {i}");
        }
    }

    #[test]
    fn term_is_known_for_entries_and_the_snapshot_index() {
        let cases = [
            (unstable(None, vec![entry(5, 1)], 5), 5, Some(1)),
            (unstable(None, vec![entry(5, 1)], 5), 6, None),
            (unstable(None, vec![entry(5, 1)], 5), 4, None),
            (
                unstable(Some(snapshot(4, 1)), vec![entry(5, 2)], 5),
                5,
                Some(2),
            ),
            (
                unstable(Some(snapshot(4, 1)), vec![entry(5, 2)], 5),
                6,
                None,
            ),
            (
                unstable(Some(snapshot(4, 1)), vec![entry(5, 2)], 5),
                4,
                Some(1),
            ),
            (
                unstable(Some(snapshot(4, 1)), vec![entry(5, 2)], 5),
                3,
                None,
            ),
            (unstable(Some(snapshot(4, 1)), vec![], 5), 5, None),
            (unstable(Some(snapshot(4, 1)), vec![], 5), 4, Some(1)),
            (unstable(None, vec![], 0), 5, None),
            (unstable(None, vec![], 0), 0, None),
        ];
        for (i, (u, idx, want)) in cases.iter().enumerate() {
            assert_eq!(u.maybe_term(*idx), *want, "case {i}");
        }
    }

    #[test]
    fn restore_drops_the_entries() {
        let mut u = unstable(Some(snapshot(4, 1)), vec![entry_with_data(5, 1, 3)], 5);
        u.restore(snapshot(6, 2));
        assert_eq!(u.offset, 7);
        assert!(u.entries.is_empty());
        assert_eq!(u.entries_size, 0);
        assert_eq!(u.snapshot, Some(snapshot(6, 2)));
        assert_eq!(u.maybe_last_index(), Some(6));
        assert_eq!(u.maybe_term(6), Some(2));
    }

    #[test]
    fn stable_entries_moves_the_offset_past_the_last_entry() {
        let mut u = unstable(None, vec![entry(5, 1), entry_with_data(6, 2, 10)], 5);
        u.stable_entries(6, 2);
        assert_eq!(u.offset, 7);
        assert!(u.entries.is_empty());
        assert_eq!(u.entries_size, 0);
        assert_eq!(u.maybe_last_index(), None);
    }

    #[test]
    #[should_panic(expected = "last unstable entry is 6 (term 2)")]
    fn stable_entries_with_a_wrong_term_panics() {
        let mut u = unstable(None, vec![entry(5, 1), entry(6, 2)], 5);
        u.stable_entries(6, 1);
    }

    #[test]
    #[should_panic(expected = "last unstable entry is 6")]
    fn stable_entries_short_of_the_last_entry_panics() {
        let mut u = unstable(None, vec![entry(5, 1), entry(6, 1)], 5);
        u.stable_entries(5, 1);
    }

    #[test]
    #[should_panic(expected = "no entry is unstable")]
    fn stable_entries_with_nothing_unstable_panics() {
        let mut u = unstable(None, vec![], 5);
        u.stable_entries(4, 1);
    }

    #[test]
    #[should_panic(expected = "before the pending snapshot at 4")]
    fn stable_entries_before_the_snapshot_panics() {
        let mut u = unstable(Some(snapshot(4, 1)), vec![entry(5, 1)], 5);
        u.stable_entries(5, 1);
    }

    #[test]
    fn stable_snap_drops_the_snapshot() {
        let mut u = unstable(Some(snapshot(4, 1)), vec![entry(5, 1)], 5);
        u.stable_snap(4);
        assert!(u.snapshot.is_none());
        assert_eq!(u.maybe_first_index(), None);
        // Entries are untouched and can be stabled now.
        assert_eq!(u.entries, vec![entry(5, 1)]);
        u.stable_entries(5, 1);
        assert_eq!(u.offset, 6);
    }

    #[test]
    #[should_panic(expected = "pending snapshot is at 4")]
    fn stable_snap_at_another_index_panics() {
        let mut u = unstable(Some(snapshot(4, 1)), vec![], 5);
        u.stable_snap(5);
    }

    #[test]
    #[should_panic(expected = "no snapshot is pending")]
    fn stable_snap_without_snapshot_panics() {
        let mut u = unstable(None, vec![], 5);
        u.stable_snap(4);
    }

    #[test]
    fn truncate_and_append_cases() {
        // (entries, offset, to append, want offset, want entries)
        let cases = [
            // Directly after: append.
            (
                vec![entry(5, 1)],
                5,
                vec![entry(6, 1), entry(7, 1)],
                5,
                vec![entry(5, 1), entry(6, 1), entry(7, 1)],
            ),
            // Replace everything from the offset.
            (
                vec![entry(5, 1)],
                5,
                vec![entry(5, 2), entry(6, 2)],
                5,
                vec![entry(5, 2), entry(6, 2)],
            ),
            // Before the offset: replace and move the offset back.
            (
                vec![entry(5, 1)],
                5,
                vec![entry(4, 2), entry(5, 2), entry(6, 2)],
                4,
                vec![entry(4, 2), entry(5, 2), entry(6, 2)],
            ),
            // In the middle: truncate, then append.
            (
                vec![entry(5, 1), entry(6, 1), entry(7, 1)],
                5,
                vec![entry(6, 2)],
                5,
                vec![entry(5, 1), entry(6, 2)],
            ),
            (
                vec![entry(5, 1), entry(6, 1), entry(7, 1)],
                5,
                vec![entry(7, 2), entry(8, 2)],
                5,
                vec![entry(5, 1), entry(6, 1), entry(7, 2), entry(8, 2)],
            ),
            // Nothing unstable, appending at the offset.
            (vec![], 5, vec![entry(5, 3)], 5, vec![entry(5, 3)]),
            // Empty input: no-op.
            (vec![entry(5, 1)], 5, vec![], 5, vec![entry(5, 1)]),
        ];
        for (i, (ents, offset, append, want_offset, want)) in cases.into_iter().enumerate() {
            let mut u = unstable(None, ents, offset);
            u.truncate_and_append(&append);
            assert_eq!(u.offset, want_offset, "case {i}");
            assert_eq!(u.entries, want, "case {i}");
            assert_eq!(u.entries_size, recomputed_size(&u), "case {i}");
        }
    }

    #[test]
    #[should_panic(expected = "out of bound")]
    fn truncate_and_append_with_a_gap_panics() {
        let mut u = unstable(None, vec![entry(5, 1)], 5);
        u.truncate_and_append(&[entry(7, 1)]);
    }

    #[test]
    fn truncate_and_append_after_a_pending_snapshot() {
        let mut u = unstable(Some(snapshot(4, 1)), vec![], 5);
        u.truncate_and_append(&[entry(5, 2)]);
        assert_eq!(u.entries, vec![entry(5, 2)]);
        assert_eq!(u.maybe_last_index(), Some(5));
    }

    #[test]
    #[should_panic(expected = "would replace the pending snapshot at 4")]
    fn truncate_and_append_over_a_pending_snapshot_panics() {
        let mut u = unstable(Some(snapshot(4, 1)), vec![entry(5, 1)], 5);
        u.truncate_and_append(&[entry(4, 2)]);
    }

    #[test]
    fn entries_size_follows_truncation() {
        let mut u = unstable(None, vec![], 5);
        u.truncate_and_append(&[
            entry_with_data(5, 1, 10),
            entry_with_data(6, 1, 20),
            entry_with_data(7, 1, 30),
        ]);
        assert_eq!(u.entries_size, 60 + 3 * 12);
        u.truncate_and_append(&[entry_with_data(6, 2, 1)]);
        assert_eq!(u.entries_size, 10 + 1 + 2 * 12);
        u.truncate_and_append(&[entry_with_data(3, 3, 0)]);
        assert_eq!(u.entries_size, 12);
        u.stable_entries(3, 3);
        assert_eq!(u.entries_size, 0);
    }

    #[test]
    fn slice_returns_the_half_open_range() {
        let u = unstable(None, vec![entry(5, 1), entry(6, 1), entry(7, 2)], 5);
        assert_eq!(u.slice(5, 5), &[] as &[Entry]);
        assert_eq!(u.slice(5, 8), &[entry(5, 1), entry(6, 1), entry(7, 2)]);
        assert_eq!(u.slice(6, 7), &[entry(6, 1)]);
        assert_eq!(u.slice(8, 8), &[] as &[Entry]);
    }

    #[test]
    #[should_panic(expected = "out of bound [5, 8)")]
    fn slice_below_the_offset_panics() {
        let u = unstable(None, vec![entry(5, 1), entry(6, 1), entry(7, 2)], 5);
        let _ = u.slice(4, 6);
    }

    #[test]
    #[should_panic(expected = "out of bound [5, 8)")]
    fn slice_past_the_end_panics() {
        let u = unstable(None, vec![entry(5, 1), entry(6, 1), entry(7, 2)], 5);
        let _ = u.slice(6, 9);
    }

    #[test]
    #[should_panic(expected = "invalid unstable slice [7, 6)")]
    fn slice_reversed_panics() {
        let u = unstable(None, vec![entry(5, 1), entry(6, 1), entry(7, 2)], 5);
        u.must_check_outofbounds(7, 6);
    }

    proptest! {
        /// `entries_size` equals a recomputation after any sequence of
        /// appends (each at a valid position) and stables.
        #[test]
        fn entries_size_matches_a_recomputation(
            ops in prop::collection::vec((0u64..8, 1usize..5, 0usize..40, any::<bool>()), 1..40)
        ) {
            let mut u = unstable(None, vec![], 10);
            for (term, (back, count, data_len, stable)) in (2u64..).zip(ops) {
                let end = u.offset + u.entries.len() as u64;
                // Start anywhere from a few indexes before the offset up to
                // the end, never below 1.
                let start = end.saturating_sub(back).max(1);
                let ents: Vec<Entry> = (0..count as u64)
                    .map(|i| entry_with_data(start + i, term, data_len + i as usize))
                    .collect();
                u.truncate_and_append(&ents);
                prop_assert_eq!(u.entries_size, recomputed_size(&u));
                prop_assert_eq!(u.entries[0].index, u.offset);
                prop_assert!(u.entries.windows(2).all(|w| w[0].index + 1 == w[1].index));
                prop_assert_eq!(u.maybe_last_index(), Some(start + count as u64 - 1));
                if stable {
                    let last = u.entries.last().unwrap().clone();
                    u.stable_entries(last.index, last.term);
                    prop_assert_eq!(u.entries_size, 0);
                }
            }
        }
    }
}
