//! The node's view of the whole log: the durable part in `Storage`, the
//! unstable tail in [`Unstable`], and the commit, persist and apply cursors.

use std::cmp;
use std::fmt;
use std::mem;

use slog::Logger;

use crate::eraftpb::{Entry, Snapshot};
use crate::errors::{Error, Result, StorageError};
use crate::log_unstable::Unstable;
use crate::storage::{GetEntriesContext, GetEntriesFor, Storage};
use crate::util::{entries_within_size, limit_entries_size, NO_LIMIT};

/// The log of a Raft node: stored entries followed by unstable ones.
///
/// Invariants: `applied <= committed <= last_index()`;
/// `persisted < unstable.offset`. With a positive
/// `max_apply_unpersisted_log_limit`, `applied` may run ahead of `persisted`.
pub struct RaftLog<T: Storage> {
    /// The durable log, as the application persisted it.
    pub store: T,
    /// Entries and a snapshot not yet handed to the application.
    pub unstable: Unstable,
    /// The highest index known to be committed (§5.3): stored on a quorum.
    pub committed: u64,
    /// The highest index known to be persisted locally. Only persisted
    /// entries count toward this node's own acknowledgement.
    pub persisted: u64,
    /// The highest index the application reported applied.
    /// Always `applied <= committed`.
    pub applied: u64,
    /// How far past `persisted` committed entries may be handed out for
    /// apply (set by the core from the config).
    pub(crate) max_apply_unpersisted_log_limit: u64,
    /// Entries handed out to be persisted and given back with their
    /// `Ready` once written, not yet handed out for apply: committed entries
    /// move out of here instead of being read back (cloned) from the
    /// storage. Contiguous, all below `unstable.offset`, and the same
    /// entries the storage holds at those indexes: an append that replaces
    /// any of them, or a snapshot, drops them (see `keep_for_apply`).
    kept_for_apply: Vec<Entry>,
}

impl<T: Storage> fmt::Display for RaftLog<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "committed={}, persisted={}, applied={}, unstable.offset={}, unstable.entries.len()={}",
            self.committed,
            self.persisted,
            self.applied,
            self.unstable.offset,
            self.unstable.entries.len()
        )
    }
}

impl<T: Storage> RaftLog<T> {
    /// A log over `store`: everything stored counts as persisted; nothing
    /// counts as committed or applied beyond the compaction point (the core
    /// then loads the hard state's commit and the configured applied index).
    ///
    /// # Panics
    ///
    /// If the storage cannot report its first or last index.
    pub fn new(store: T, logger: Logger) -> RaftLog<T> {
        let first_index = store
            .first_index()
            .unwrap_or_else(|e| panic!("storage cannot report its first index: {e}"));
        let last_index = store
            .last_index()
            .unwrap_or_else(|e| panic!("storage cannot report its last index: {e}"));
        RaftLog {
            store,
            committed: first_index - 1,
            persisted: last_index,
            applied: first_index - 1,
            unstable: Unstable::new(last_index + 1, logger),
            max_apply_unpersisted_log_limit: 0,
            kept_for_apply: Vec::new(),
        }
    }

    /// Checks the invariants of the log in O(1) (plus the storage's last
    /// index): `applied <= committed <= last_index()`, the persisted index
    /// below the unstable tail, and those of [`Unstable`].
    ///
    /// # Panics
    ///
    /// Through `fatal!` when one is broken.
    #[cfg(debug_assertions)]
    pub(crate) fn check_invariants(&self) {
        self.unstable.check_invariants();
        let last_index = self.last_index();
        if self.applied > self.committed || self.committed > last_index {
            crate::fatal!(
                self.unstable.logger,
                "log cursors out of order: applied {} <= committed {} <= last index {} does not hold",
                self.applied,
                self.committed,
                last_index
            );
        }
        if self.persisted >= self.unstable.offset {
            crate::fatal!(
                self.unstable.logger,
                "persisted index {} is not below the unstable offset {}",
                self.persisted,
                self.unstable.offset
            );
        }
    }

    /// The durable log.
    pub fn store(&self) -> &T {
        &self.store
    }

    /// The durable log, for modification.
    pub fn mut_store(&mut self) -> &mut T {
        &mut self.store
    }

    /// The unstable tail.
    pub fn unstable(&self) -> &Unstable {
        &self.unstable
    }

    /// The entries not yet handed to the application.
    pub fn unstable_entries(&self) -> &[Entry] {
        &self.unstable.entries
    }

    /// The snapshot not yet handed to the application.
    pub fn unstable_snapshot(&self) -> &Option<Snapshot> {
        &self.unstable.snapshot
    }

    /// The highest index the application reported applied.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// The first index of the log: after a pending snapshot, else the
    /// storage's.
    ///
    /// # Panics
    ///
    /// If the storage cannot report its first index.
    pub fn first_index(&self) -> u64 {
        match self.unstable.maybe_first_index() {
            Some(idx) => idx,
            None => self
                .store
                .first_index()
                .unwrap_or_else(|e| panic!("storage cannot report its first index: {e}")),
        }
    }

    /// The last index of the log: the unstable tail's, else the storage's.
    ///
    /// # Panics
    ///
    /// If the storage cannot report its last index.
    pub fn last_index(&self) -> u64 {
        match self.unstable.maybe_last_index() {
            Some(idx) => idx,
            None => self
                .store
                .last_index()
                .unwrap_or_else(|e| panic!("storage cannot report its last index: {e}")),
        }
    }

    /// The term of the last entry.
    ///
    /// # Panics
    ///
    /// If the storage cannot give the term of its own last index.
    pub fn last_term(&self) -> u64 {
        let last = self.last_index();
        self.term(last)
            .unwrap_or_else(|e| panic!("cannot read the term of the last index {last}: {e}"))
    }

    /// The term of the entry at `idx`. Outside
    /// `[first_index() - 1, last_index()]` the term is `Ok(0)`; inside, the
    /// unstable tail answers first, then the storage (whose errors are
    /// returned).
    pub fn term(&self, idx: u64) -> Result<u64> {
        // The unstable part only holds indexes inside the bounds, and asking
        // it first spares the storage's bound reads (and their locks).
        match self.unstable.maybe_term(idx) {
            Some(term) => Ok(term),
            None => self.term_within(idx, self.bounds()),
        }
    }

    /// Whether the log holds an entry at `idx` with term `term`. Indexes
    /// outside `[first_index() - 1, last_index()]` never match, so a message
    /// naming an index past this log is never taken as a match.
    pub fn match_term(&self, idx: u64, term: u64) -> bool {
        match self.unstable.maybe_term(idx) {
            Some(t) => t == term,
            None => self.match_term_within(idx, term, self.bounds()),
        }
    }

    /// `(first_index(), last_index())`, for the operations that need both:
    /// reading them once and passing them on spares the storage calls (a
    /// lock each in `MemStorage`) that every helper would repeat.
    pub(crate) fn bounds(&self) -> LogBounds {
        LogBounds {
            first: self.first_index(),
            last: self.last_index(),
        }
    }

    /// [`term`](Self::term), with the bounds already read.
    pub(crate) fn term_within(&self, idx: u64, bounds: LogBounds) -> Result<u64> {
        if let Some(term) = self.unstable.maybe_term(idx) {
            return Ok(term);
        }
        if !bounds.holds_term_of(idx) {
            return Ok(0);
        }
        self.store.term(idx)
    }

    /// [`match_term`](Self::match_term), with the bounds already read.
    fn match_term_within(&self, idx: u64, term: u64, bounds: LogBounds) -> bool {
        if let Some(t) = self.unstable.maybe_term(idx) {
            return t == term;
        }
        bounds.holds_term_of(idx) && self.store.term(idx).is_ok_and(|t| t == term)
    }

    /// The index of the first entry of `ents` that this log does not hold
    /// with the same term: an entry conflicting with ours, or the first new
    /// one. 0 when the log already holds every entry of `ents`.
    ///
    /// `ents` must be contiguous.
    pub fn find_conflict(&self, ents: &[Entry]) -> u64 {
        self.find_conflict_within(ents, self.bounds())
    }

    /// [`find_conflict`](Self::find_conflict), with the bounds already read.
    fn find_conflict_within(&self, ents: &[Entry], bounds: LogBounds) -> u64 {
        for e in ents {
            if !self.match_term_within(e.index, e.term, bounds) {
                if e.index <= bounds.last {
                    slog::info!(
                        self.unstable.logger,
                        "found conflict at index {index}",
                        index = e.index;
                        "existing term" => self.term(e.index).unwrap_or(0),
                        "conflicting term" => e.term,
                    );
                }
                return e.index;
            }
        }
        0
    }

    /// Searches backwards from `index` for the last entry whose term is at
    /// most `term`, and returns its index with its term (`None` when the
    /// search reached the compacted part of the log, or the storage could
    /// not give a term).
    ///
    /// Used for fast log backtracking (§5.3, the optimization that skips a
    /// whole term per round trip): with `(index, term)` from a rejected
    /// append, every entry after the returned index is known not to match.
    /// An `index` past the last index (it may come from a peer) is clamped
    /// to the last index.
    pub fn find_conflict_by_term(&self, index: u64, term: u64) -> (u64, Option<u64>) {
        let last_index = self.last_index();
        let mut conflict_index = index;
        if index > last_index {
            slog::debug!(
                self.unstable.logger,
                "index {index} is past the last index {last_index}; searching from the last index"
            );
            conflict_index = last_index;
        }
        let first_index = self.first_index();
        loop {
            if conflict_index + 1 < first_index {
                // Below the compaction point: the term is unknown.
                return (conflict_index, None);
            }
            match self.term(conflict_index) {
                Ok(t) if t > term && conflict_index > 0 => conflict_index -= 1,
                Ok(t) => return (conflict_index, Some(t)),
                Err(_) => return (conflict_index, None),
            }
        }
    }

    /// Appends the entries of a MsgAppend whose previous entry is
    /// `(idx, term)`, then commits up to `committed` (not past the last new
    /// entry). Returns `None` when the previous entry does not match (§5.3:
    /// the leader must back off), else `Some((conflict index, last new
    /// index))`, with a conflict index of 0 when nothing had to change.
    ///
    /// Malformed input (entries that do not follow `idx` one by one) is
    /// treated as a mismatch and logged: it comes from a peer.
    ///
    /// # Panics
    ///
    /// If an entry conflicts with a committed one: committed entries never
    /// change (§5.4, Log Matching and Leader Completeness), so either this
    /// log or the leader's is corrupt.
    pub fn maybe_append(
        &mut self,
        idx: u64,
        term: u64,
        committed: u64,
        ents: &[Entry],
    ) -> Option<(u64, u64)> {
        let (conflict_index, last_new_index) = self.check_append(idx, term, ents)?;
        if conflict_index != 0 {
            let start = (conflict_index - (idx + 1)) as usize;
            self.append(&ents[start..]);
        }
        self.commit_to(cmp::min(committed, last_new_index));
        Some((conflict_index, last_new_index))
    }

    /// [`maybe_append`](Self::maybe_append), moving the new entries into
    /// the log instead of copying them (a follower owns the message).
    pub(crate) fn maybe_append_owned(
        &mut self,
        idx: u64,
        term: u64,
        committed: u64,
        mut ents: Vec<Entry>,
    ) -> Option<(u64, u64)> {
        let (conflict_index, last_new_index) = self.check_append(idx, term, &ents)?;
        if conflict_index != 0 {
            let start = (conflict_index - (idx + 1)) as usize;
            ents.drain(..start);
            self.append_owned(ents);
        }
        self.commit_to(cmp::min(committed, last_new_index));
        Some((conflict_index, last_new_index))
    }

    /// The checks of [`maybe_append`](Self::maybe_append): `None` when the
    /// previous entry does not match or `ents` do not follow it, else the
    /// conflict index (0 when nothing changes) and the last new index.
    fn check_append(&self, idx: u64, term: u64, ents: &[Entry]) -> Option<(u64, u64)> {
        let bounds = self.bounds();
        if !self.match_term_within(idx, term, bounds) {
            return None;
        }
        let follows = ents
            .iter()
            .enumerate()
            .all(|(i, e)| idx.checked_add(1 + i as u64) == Some(e.index));
        if !follows {
            slog::debug!(
                self.unstable.logger,
                "ignore entries that do not follow index {idx}";
                "first" => ents.first().map_or(0, |e| e.index),
                "count" => ents.len(),
            );
            return None;
        }
        let last_new_index = idx + ents.len() as u64;
        let conflict_index = self.find_conflict_within(ents, bounds);
        if conflict_index != 0 {
            assert!(
                conflict_index > self.committed,
                "entry {conflict_index} conflicts with a committed entry (committed {})",
                self.committed
            );
        }
        Some((conflict_index, last_new_index))
    }

    /// Raises the commit index to `to`; never lowers it.
    ///
    /// # Panics
    ///
    /// If `to` is past the last index: callers clamp what peers tell them.
    pub fn commit_to(&mut self, to: u64) {
        if self.committed >= to {
            return;
        }
        let last_index = self.last_index();
        assert!(
            to <= last_index,
            "commit index past last index: commit to {to}, last index {last_index}, committed {}",
            self.committed
        );
        self.committed = to;
        debug_assert!(self.applied <= self.committed);
    }

    /// Records that the application applied every entry up to `idx`.
    /// 0 is a no-op.
    ///
    /// # Panics
    ///
    /// If `idx` is past the commit index or below the applied index.
    pub fn applied_to(&mut self, idx: u64) {
        if idx == 0 {
            return;
        }
        assert!(
            idx <= self.committed && idx >= self.applied,
            "applied index out of range: applied to {idx}, applied {}, committed {}",
            self.applied,
            self.committed
        );
        self.applied = idx;
    }

    /// The highest index that may be handed out for apply: committed, and
    /// not more than `max_apply_unpersisted_log_limit` past the locally
    /// persisted index.
    pub(crate) fn applied_index_upper_bound(&self) -> u64 {
        cmp::min(
            self.committed,
            self.persisted
                .saturating_add(self.max_apply_unpersisted_log_limit),
        )
    }

    /// Commits up to `max_index` if the entry there is from `term` (the
    /// leader's current term): a leader commits entries of earlier terms
    /// only by committing one of its own (§5.4.2). Returns whether the commit
    /// index moved.
    pub fn maybe_commit(&mut self, max_index: u64, term: u64) -> bool {
        if max_index > self.committed && self.match_term(max_index, term) {
            slog::debug!(
                self.unstable.logger,
                "committing index {max_index}";
                "term" => term,
                "previous commit" => self.committed,
            );
            self.commit_to(max_index);
            true
        } else {
            false
        }
    }

    /// Records that the application persisted the entries up to `index`,
    /// the last of which had term `term` when handed out. Returns whether
    /// the persisted index moved.
    ///
    /// The report is taken only when `index` is past the persisted index,
    /// below the first index still held in the unstable tail (the pending
    /// snapshot's index, else `unstable.offset`), and the stored entry at
    /// `index` still has term `term`. So a report for a batch that was
    /// truncated and replaced after being handed out (by entries of a newer
    /// term at the same indexes) never marks the newer entries persisted.
    ///
    /// The term check reads the storage, so it relies on the driver
    /// contract: entries become visible through [`Storage::term`] in the
    /// order they are handed out, before the next `Ready` is taken (the
    /// write to disk may finish later). A storage that only shows entries
    /// once they are durable could still show a replaced batch's term here.
    pub fn maybe_persist(&mut self, index: u64, term: u64) -> bool {
        let first_update_index = match &self.unstable.snapshot {
            Some(s) => s.metadata().index,
            None => self.unstable.offset,
        };
        if index > self.persisted
            && index < first_update_index
            && self.store.term(index).is_ok_and(|t| t == term)
        {
            slog::debug!(
                self.unstable.logger,
                "persisted index {index}";
                "term" => term,
                "previous" => self.persisted,
            );
            self.persisted = index;
            debug_assert!(self.persisted < first_update_index);
            true
        } else {
            false
        }
    }

    /// Records that the application persisted the snapshot at `index`.
    /// Returns whether the persisted index moved.
    ///
    /// # Panics
    ///
    /// If `index` is past the commit index or not below `unstable.offset`:
    /// a snapshot is committed state, and entries after it follow it.
    pub fn maybe_persist_snap(&mut self, index: u64) -> bool {
        if index <= self.persisted {
            return false;
        }
        assert!(
            index <= self.committed,
            "persisted snapshot index {index} is past the commit index {}",
            self.committed
        );
        assert!(
            index < self.unstable.offset,
            "persisted snapshot index {index} is not below the unstable offset {}",
            self.unstable.offset
        );
        self.persisted = index;
        true
    }

    /// Marks the unstable entries up to `(index, term)` as handed out. See
    /// [`Unstable::stable_entries`].
    pub fn stable_entries(&mut self, index: u64, term: u64) {
        self.unstable.stable_entries(index, term);
    }

    /// Hands out the unstable entries, moving them out. See
    /// [`Unstable::take_entries`].
    pub(crate) fn take_unstable_entries(&mut self) -> Vec<Entry> {
        self.unstable.take_entries()
    }

    /// Marks the pending snapshot at `index` as handed out. See
    /// [`Unstable::stable_snap`].
    pub fn stable_snap(&mut self, index: u64) {
        self.unstable.stable_snap(index);
    }

    /// Appends `ents` to the unstable tail, replacing every entry at or
    /// after `ents[0].index`, and returns the new last index. Lowers the
    /// persisted index below the replaced entries.
    ///
    /// # Panics
    ///
    /// If `ents` would replace a committed entry, or leave a gap after the
    /// last index.
    pub fn append(&mut self, ents: &[Entry]) -> u64 {
        let Some(first) = ents.first() else {
            return self.last_index();
        };
        self.before_append(first.index);
        self.unstable.truncate_and_append(ents);
        let last_index = self.last_index();
        debug_assert_eq!(last_index, first.index + ents.len() as u64 - 1);
        last_index
    }

    /// [`append`](Self::append), moving `ents` into the log.
    pub(crate) fn append_owned(&mut self, ents: Vec<Entry>) -> u64 {
        let Some(first) = ents.first() else {
            return self.last_index();
        };
        let (first_index, count) = (first.index, ents.len() as u64);
        self.before_append(first_index);
        self.unstable.truncate_and_append_owned(ents);
        let last_index = self.last_index();
        debug_assert_eq!(last_index, first_index + count - 1);
        last_index
    }

    /// Checks that entries from `first_index` on replace nothing committed,
    /// and lowers the persisted index below them.
    fn before_append(&mut self, first_index: u64) {
        let after = first_index - 1;
        assert!(
            after >= self.committed,
            "appending after index {after} would replace committed entries (committed {})",
            self.committed
        );
        if self.persisted > after {
            self.persisted = after;
        }
        // Entries kept for apply from `first_index` on are being replaced.
        if let Some(kept_first) = self.kept_for_apply.first() {
            let keep = first_index.saturating_sub(kept_first.index) as usize;
            if keep < self.kept_for_apply.len() {
                self.kept_for_apply.truncate(keep);
            }
        }
    }

    /// The entries from `idx` to the last index, stopping before `max_size`
    /// bytes (at least one entry).
    ///
    /// # Errors
    ///
    /// As [`slice`](Self::slice).
    pub fn entries(
        &self,
        idx: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> Result<Vec<Entry>> {
        self.entries_within(idx, max_size.into(), context, self.bounds())
    }

    /// [`entries`](Self::entries), with the bounds already read.
    pub(crate) fn entries_within(
        &self,
        idx: u64,
        max_size: Option<u64>,
        context: GetEntriesContext,
        bounds: LogBounds,
    ) -> Result<Vec<Entry>> {
        if idx > bounds.last {
            return Ok(vec![]);
        }
        self.slice_within(idx, bounds.last + 1, max_size, context, bounds)
    }

    /// Every entry of the log.
    ///
    /// # Panics
    ///
    /// If the storage fails with anything but a compaction (which is retried).
    pub fn all_entries(&self) -> Vec<Entry> {
        loop {
            let first_index = self.first_index();
            match self.entries(first_index, NO_LIMIT, GetEntriesContext::empty(false)) {
                Ok(ents) => return ents,
                // Compacted between reading the first index and the entries.
                Err(Error::Store(StorageError::Compacted)) => continue,
                Err(e) => panic!("cannot read all entries from {first_index}: {e}"),
            }
        }
    }

    /// Whether a candidate whose last entry is `(last_index, term)` has a
    /// log at least as up-to-date as this one (§5.4.1): a later last term,
    /// or the same last term and at least as long a log.
    pub fn is_up_to_date(&self, last_index: u64, term: u64) -> bool {
        let last_term = self.last_term();
        term > last_term || (term == last_term && last_index >= self.last_index())
    }

    /// The committed entries after `since_idx` that may be handed out for
    /// apply: `(max(since_idx, first_index() - 1), upper bound]` where the
    /// upper bound is the commit index, held to at most
    /// `max_apply_unpersisted_log_limit` past the persisted index. Stops
    /// before `max_size` bytes (at least one entry). `None` when there are
    /// none.
    ///
    /// # Panics
    ///
    /// If the storage cannot return committed entries: they are readable by
    /// the storage contract.
    pub fn next_entries_since(&self, since_idx: u64, max_size: Option<u64>) -> Option<Vec<Entry>> {
        let (offset, high, bounds) = self.next_entries_range(since_idx)?;
        Some(self.read_committed(offset, high, max_size, bounds))
    }

    /// The half-open range of committed entries after `since_idx` that may be
    /// handed out for apply, with the bounds it was computed from; `None`
    /// when it is empty. See [`next_entries_since`](Self::next_entries_since).
    fn next_entries_range(&self, since_idx: u64) -> Option<(u64, u64, LogBounds)> {
        let first = self.first_index();
        let offset = cmp::max(since_idx + 1, first);
        let high = self.applied_index_upper_bound() + 1;
        if high <= offset {
            return None;
        }
        let bounds = LogBounds {
            first,
            last: self.last_index(),
        };
        Some((offset, high, bounds))
    }

    /// The committed entries in `[offset, high)`, read from the log.
    ///
    /// # Panics
    ///
    /// If the storage cannot return them: committed entries are readable by
    /// the storage contract.
    fn read_committed(
        &self,
        offset: u64,
        high: u64,
        max_size: Option<u64>,
        bounds: LogBounds,
    ) -> Vec<Entry> {
        match self.slice_within(
            offset,
            high,
            max_size,
            GetEntriesContext::new(GetEntriesFor::GenReady),
            bounds,
        ) {
            Ok(ents) => ents,
            Err(e) => panic!("cannot read committed entries [{offset}, {high}): {e}"),
        }
    }

    /// [`next_entries_since`](Self::next_entries_since), to hand the
    /// entries out for apply: entries kept with
    /// [`keep_for_apply`](Self::keep_for_apply) move out instead of being
    /// read back from the storage. The result is the same.
    pub(crate) fn take_next_entries_since(
        &mut self,
        since_idx: u64,
        max_size: Option<u64>,
    ) -> Option<Vec<Entry>> {
        let (offset, high, bounds) = self.next_entries_range(since_idx)?;
        // Kept entries below `offset` were applied, compacted or handed out
        // from the storage: they are never handed out again.
        let stale = match self.kept_for_apply.first() {
            Some(first) => offset.saturating_sub(first.index) as usize,
            None => 0,
        };
        if stale >= self.kept_for_apply.len() {
            self.kept_for_apply = Vec::new();
        } else if stale > 0 {
            self.kept_for_apply.drain(..stale);
        }
        let covered = match (self.kept_for_apply.first(), self.kept_for_apply.last()) {
            (Some(first), Some(last)) => first.index == offset && last.index + 1 >= high,
            _ => false,
        };
        if !covered {
            return Some(self.read_committed(offset, high, max_size, bounds));
        }
        let wanted = (high - offset) as usize;
        let count = entries_within_size(&self.kept_for_apply[..wanted], max_size);
        let entries = if count == self.kept_for_apply.len() {
            mem::take(&mut self.kept_for_apply)
        } else {
            self.kept_for_apply.drain(..count).collect()
        };
        debug_assert!(
            entries == self.read_committed(offset, high, max_size, bounds),
            "entries kept for apply differ from the log's [{offset}, {high})"
        );
        Some(entries)
    }

    /// Keeps `entries`, just handed back with their `Ready` after being
    /// written to the storage, to hand them out for apply once committed
    /// (see [`take_next_entries_since`](Self::take_next_entries_since)).
    ///
    /// They are kept only while they are still this log's entries: below
    /// the unstable part, with no snapshot pending, and the storage holding
    /// the last of them with the same term (by the Log Matching property,
    /// §5.3, it then holds all of them). Anything else (they were replaced
    /// after being handed out) drops them, and the storage serves the apply.
    pub(crate) fn keep_for_apply(&mut self, entries: Vec<Entry>) {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return;
        };
        if last.index >= self.unstable.offset
            || self.unstable.snapshot.is_some()
            || last.index <= self.applied
            || !self
                .store
                .term(last.index)
                .is_ok_and(|term| term == last.term)
        {
            return;
        }
        match self.kept_for_apply.last() {
            Some(kept_last) if kept_last.index + 1 == first.index => {
                self.kept_for_apply.extend(entries);
            }
            _ => self.kept_for_apply = entries,
        }
    }

    /// [`next_entries_since`](Self::next_entries_since) the applied index.
    pub fn next_entries(&self, max_size: Option<u64>) -> Option<Vec<Entry>> {
        self.next_entries_since(self.applied, max_size)
    }

    /// Whether [`next_entries_since`](Self::next_entries_since) would return
    /// entries, without reading them.
    pub fn has_next_entries_since(&self, since_idx: u64) -> bool {
        let high = self.applied_index_upper_bound() + 1;
        // Decided without the storage's first index (a lock in MemStorage)
        // when nothing was committed past `since_idx`: drivers ask often.
        high > since_idx + 1 && high > self.first_index()
    }

    /// [`has_next_entries_since`](Self::has_next_entries_since) the applied
    /// index.
    pub fn has_next_entries(&self) -> bool {
        self.has_next_entries_since(self.applied)
    }

    /// A snapshot for peer `to` covering at least `request_index`: the
    /// pending unstable snapshot when it does, else the storage's.
    pub fn snapshot(&self, request_index: u64, to: u64) -> Result<Snapshot> {
        if let Some(snap) = &self.unstable.snapshot {
            if snap.metadata().index >= request_index {
                return Ok(snap.clone());
            }
        }
        self.store.snapshot(request_index, to)
    }

    /// Replaces the log with `snapshot` (§7): it becomes pending in the
    /// unstable tail, the commit index moves to its index, and the persisted
    /// index is lowered to it if above (the entries after it are gone).
    ///
    /// # Panics
    ///
    /// If the snapshot's index is below the commit index: committed entries
    /// are never replaced by an older state (the core checks this first).
    pub fn restore(&mut self, snapshot: Snapshot) {
        let (index, term) = (snapshot.metadata().index, snapshot.metadata().term);
        slog::info!(
            self.unstable.logger,
            "log [{self}] starts to restore snapshot [index: {index}, term: {term}]"
        );
        assert!(
            index >= self.committed,
            "restoring snapshot at {index} below the commit index {}",
            self.committed
        );
        if self.persisted > index {
            self.persisted = index;
        }
        self.committed = index;
        self.kept_for_apply = Vec::new();
        self.unstable.restore(snapshot);
        debug_assert!(
            self.persisted <= index && self.last_index() == index,
            "after restoring the snapshot at {index}: persisted {}, last index {}",
            self.persisted,
            self.last_index()
        );
    }

    /// The commit index and the term of the entry there.
    ///
    /// # Panics
    ///
    /// If the storage cannot give that term: by the storage contract it is
    /// readable (the commit index is never below the compaction point).
    pub fn commit_info(&self) -> (u64, u64) {
        match self.term(self.committed) {
            Ok(term) => (self.committed, term),
            Err(e) => panic!(
                "cannot read the term of the committed index {}: {e} ({self})",
                self.committed
            ),
        }
    }

    /// The entries in `[low, high)`, stored ones then unstable ones, stopping
    /// before `max_size` bytes (at least one entry).
    ///
    /// # Errors
    ///
    /// [`StorageError::Compacted`] when `low` is below the first index; the
    /// storage's errors otherwise (notably
    /// [`StorageError::LogTemporarilyUnavailable`] when `context` allows an
    /// asynchronous read).
    ///
    /// # Panics
    ///
    /// If `low > high` or `high > last_index() + 1`.
    pub fn slice(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> Result<Vec<Entry>> {
        self.slice_within(low, high, max_size.into(), context, self.bounds())
    }

    /// [`slice`](Self::slice), with the bounds already read.
    fn slice_within(
        &self,
        low: u64,
        high: u64,
        max_size: Option<u64>,
        context: GetEntriesContext,
        bounds: LogBounds,
    ) -> Result<Vec<Entry>> {
        bounds.check(low, high)?;
        if low == high {
            return Ok(vec![]);
        }
        let offset = self.unstable.offset;
        let mut ents = vec![];
        if low < offset {
            let stored_high = cmp::min(high, offset);
            ents = self.store.entries(low, stored_high, max_size, context)?;
            if (ents.len() as u64) < stored_high - low {
                // The size limit was reached inside the stored part.
                return Ok(ents);
            }
        }
        if high > offset {
            let unstable = self.unstable.slice(cmp::max(low, offset), high);
            ents.extend_from_slice(unstable);
        }
        limit_entries_size(&mut ents, max_size);
        Ok(ents)
    }
}

/// The first and last index of a log, read together (see
/// [`RaftLog::bounds`]). Valid until the log or its storage changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogBounds {
    /// [`RaftLog::first_index`].
    pub(crate) first: u64,
    /// [`RaftLog::last_index`].
    pub(crate) last: u64,
}

impl LogBounds {
    /// Whether `idx` is in `[first - 1, last]`, the indexes whose term the
    /// log knows.
    fn holds_term_of(self, idx: u64) -> bool {
        idx <= self.last && idx + 1 >= self.first
    }

    /// Checks `[low, high)` against the bounds: `Err(Compacted)` below the
    /// first index, panics when reversed or past the last index.
    fn check(self, low: u64, high: u64) -> Result<()> {
        assert!(low <= high, "invalid slice [{low}, {high})");
        if low < self.first {
            return Err(Error::Store(StorageError::Compacted));
        }
        assert!(
            high <= self.last + 1,
            "slice [{low}, {high}) out of bound [{}, {}]",
            self.first,
            self.last
        );
        Ok(())
    }
}

#[cfg(all(test, debug_assertions))]
mod invariant_tests;

#[cfg(test)]
mod tests;
