//! The node's view of the whole log: the durable part in `Storage`, the
//! unstable tail in [`Unstable`], and the commit, persist and apply cursors.

use std::cmp;
use std::fmt;

use slog::Logger;

use crate::eraftpb::{Entry, Snapshot};
use crate::errors::{Error, Result, StorageError};
use crate::log_unstable::Unstable;
use crate::storage::{GetEntriesContext, GetEntriesFor, Storage};
use crate::util::{limit_entries_size, NO_LIMIT};

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
        match self.slice_within(
            offset,
            high,
            max_size,
            GetEntriesContext::new(GetEntriesFor::GenReady),
            bounds,
        ) {
            Ok(ents) => Some(ents),
            Err(e) => panic!("cannot read committed entries [{offset}, {high}): {e}"),
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
mod tests {
    use super::*;
    use crate::eraftpb::ConfState;
    use crate::storage::MemStorage;
    use bytes::Bytes;
    use protobuf::Message as _;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            ..Default::default()
        }
    }

    fn entries(range: std::ops::RangeInclusive<u64>, term: u64) -> Vec<Entry> {
        range.map(|i| entry(i, term)).collect()
    }

    fn snapshot(index: u64, term: u64) -> Snapshot {
        let mut s = Snapshot::default();
        let meta = s.mut_metadata();
        meta.index = index;
        meta.term = term;
        meta.set_conf_state(ConfState {
            voters: vec![1],
            ..Default::default()
        });
        s
    }

    fn logger() -> Logger {
        Logger::root(slog::Discard, slog::o!())
    }

    fn new_log(store: MemStorage) -> RaftLog<MemStorage> {
        RaftLog::new(store, logger())
    }

    /// A log with entries 1@1, 2@2, 3@3 all in the unstable tail.
    fn log_1_to_3() -> RaftLog<MemStorage> {
        let mut log = new_log(MemStorage::new());
        log.append(&[entry(1, 1), entry(2, 2), entry(3, 3)]);
        log
    }

    /// A log over a storage compacted at (`offset`, `offset` term) holding
    /// `stored`, with `unstable` appended after.
    fn log_with(offset: u64, stored: &[Entry], unstable: &[Entry]) -> RaftLog<MemStorage> {
        let store = MemStorage::new();
        store.wl().apply_snapshot(snapshot(offset, offset)).unwrap();
        store.wl().append(stored).unwrap();
        let mut log = new_log(store);
        log.append(unstable);
        log
    }

    fn ctx() -> GetEntriesContext {
        GetEntriesContext::empty(false)
    }

    #[test]
    fn new_log_starts_at_the_storage_bounds() {
        let log = log_with(3, &entries(4..=5, 4), &[]);
        assert_eq!(log.first_index(), 4);
        assert_eq!(log.last_index(), 5);
        assert_eq!(log.committed, 3);
        assert_eq!(log.applied, 3);
        assert_eq!(log.persisted, 5);
        assert_eq!(log.unstable.offset, 6);
        assert_eq!(log.last_term(), 4);
        assert_eq!(log.max_apply_unpersisted_log_limit, 0);
        assert_eq!(
            log.to_string(),
            "committed=3, persisted=5, applied=3, unstable.offset=6, unstable.entries.len()=0"
        );
    }

    #[test]
    fn reads_with_bounds_read_once_agree_with_the_plain_reads() {
        // Stored 4..=6 after a snapshot at 3, unstable 7..=8, so every read
        // meets the compaction point, the storage, the unstable tail and
        // the space past the log.
        let log = log_with(3, &entries(4..=6, 2), &entries(7..=8, 3));
        let bounds = log.bounds();
        assert_eq!(bounds, LogBounds { first: 4, last: 8 });
        for idx in 0..=10 {
            assert_eq!(
                log.term_within(idx, bounds).ok(),
                log.term(idx).ok(),
                "term of {idx}"
            );
            assert_eq!(
                log.match_term_within(idx, 2, bounds),
                log.match_term(idx, 2),
                "match_term of {idx}"
            );
        }
        for idx in 2..=10 {
            assert_eq!(
                log.entries_within(idx, Some(NO_LIMIT), ctx(), bounds).ok(),
                log.entries(idx, NO_LIMIT, ctx()).ok(),
                "entries from {idx}"
            );
        }
        assert_eq!(
            log.entries_within(3, None, ctx(), bounds),
            Err(Error::Store(StorageError::Compacted))
        );
        let new = entries(6..=9, 3);
        assert_eq!(log.find_conflict_within(&new, bounds), 6);
        assert_eq!(log.find_conflict(&new), 6);
    }

    #[test]
    #[should_panic(expected = "slice [5, 10) out of bound [4, 8]")]
    fn slice_past_the_bounds_panics_with_both_bounds() {
        let log = log_with(3, &entries(4..=6, 2), &entries(7..=8, 3));
        let _ = log.slice(5, 10, None, ctx());
    }

    #[test]
    fn append_truncates_the_unstable_tail_and_returns_the_last_index() {
        // (appended, want last index, want entries, want offset)
        let cases = [
            (vec![], 2, entries(1..=2, 1), 3),
            (
                vec![entry(3, 2)],
                3,
                vec![entry(1, 1), entry(2, 1), entry(3, 2)],
                3,
            ),
            // Conflicts at 1: everything replaced.
            (vec![entry(1, 2)], 1, vec![entry(1, 2)], 1),
            // Conflicts at 2.
            (
                vec![entry(2, 3), entry(3, 3)],
                3,
                vec![entry(1, 1), entry(2, 3), entry(3, 3)],
                2,
            ),
        ];
        for (i, (append, want_last, want, want_offset)) in cases.into_iter().enumerate() {
            let store = MemStorage::new();
            store.wl().append(&entries(1..=2, 1)).unwrap();
            let mut log = new_log(store);
            assert_eq!(log.append(&append), want_last, "case {i}");
            assert_eq!(log.all_entries(), want, "case {i}");
            assert_eq!(log.unstable.offset, want_offset, "case {i}");
            // The persisted index never covers a replaced entry.
            assert_eq!(log.persisted, cmp::min(2, want_offset - 1), "case {i}");
        }
    }

    #[test]
    #[should_panic(expected = "would replace committed entries")]
    fn append_over_a_committed_entry_panics() {
        let mut log = log_1_to_3();
        log.commit_to(2);
        log.append(&[entry(2, 4)]);
    }

    #[test]
    fn find_conflict_reports_the_first_mismatch_or_new_entry() {
        let log = log_1_to_3();
        let cases = [
            (vec![], 0),
            // All present.
            (entries(1..=1, 1), 0),
            (vec![entry(2, 2), entry(3, 3)], 0),
            (vec![entry(3, 3)], 0),
            // New entries.
            (vec![entry(2, 2), entry(3, 3), entry(4, 4)], 4),
            (vec![entry(4, 4), entry(5, 4)], 4),
            // Conflicts.
            (vec![entry(1, 4), entry(2, 4)], 1),
            (vec![entry(2, 1), entry(3, 4), entry(4, 4)], 2),
            (vec![entry(3, 1), entry(4, 2)], 3),
        ];
        for (i, (ents, want)) in cases.into_iter().enumerate() {
            assert_eq!(log.find_conflict(&ents), want, "case {i}");
        }
    }

    #[test]
    fn find_conflict_by_term_walks_back_to_a_lower_or_equal_term() {
        // Stored: compacted at 1@1, then 2@2 3@2 4@2 5@4 6@4 7@5.
        let stored = [
            entry(2, 2),
            entry(3, 2),
            entry(4, 2),
            entry(5, 4),
            entry(6, 4),
            entry(7, 5),
        ];
        let log = log_with(1, &stored, &[]);
        let cases = [
            ((7, 5), (7, Some(5))),
            ((7, 4), (6, Some(4))),
            ((7, 3), (4, Some(2))),
            ((6, 3), (4, Some(2))),
            ((7, 2), (4, Some(2))),
            ((7, 1), (1, Some(1))),
            ((4, 0), (0, None)),
            // Past the last index: clamped.
            ((10, 5), (7, Some(5))),
            ((10, 3), (4, Some(2))),
        ];
        for ((index, term), want) in cases {
            assert_eq!(
                log.find_conflict_by_term(index, term),
                want,
                "({index}, {term})"
            );
        }
    }

    #[test]
    fn find_conflict_by_term_stops_at_the_compaction_point() {
        // Compacted at 2 (term 3), stored 3@3 4@3: below 2 terms are unknown.
        let store = MemStorage::new();
        store.wl().append(&entries(1..=4, 3)).unwrap();
        store.wl().compact(3).unwrap();
        let log = new_log(store);
        assert_eq!(log.find_conflict_by_term(4, 3), (4, Some(3)));
        assert_eq!(log.find_conflict_by_term(4, 1), (1, None));
    }

    #[test]
    fn match_term_is_false_outside_the_log() {
        let log = log_with(3, &entries(4..=5, 4), &[entry(6, 5)]);
        let cases = [
            (2, 0, false),
            (2, 3, false),
            (3, 3, true),
            (3, 4, false),
            (4, 4, true),
            (6, 5, true),
            (6, 4, false),
            (7, 0, false),
            (7, 5, false),
        ];
        for (idx, term, want) in cases {
            assert_eq!(log.match_term(idx, term), want, "({idx}, {term})");
        }
    }

    #[test]
    fn term_is_zero_outside_the_log_and_unstable_answers_first() {
        let log = log_with(3, &entries(4..=5, 4), &[entry(6, 5), entry(7, 5)]);
        let cases = [
            (0, 0),
            (2, 0),
            (3, 3),
            (4, 4),
            (5, 4),
            (6, 5),
            (7, 5),
            (8, 0),
            (u64::MAX, 0),
        ];
        for (idx, want) in cases {
            assert_eq!(log.term(idx).unwrap(), want, "idx {idx}");
        }
        // A pending snapshot answers for its own index.
        let mut log = log_with(3, &entries(4..=5, 4), &[]);
        log.restore(snapshot(9, 7));
        assert_eq!(log.term(9).unwrap(), 7);
        assert_eq!(log.term(8).unwrap(), 0);
        assert_eq!(log.term(5).unwrap(), 0);
        assert_eq!(log.last_term(), 7);
    }

    #[test]
    fn maybe_append_cases() {
        // Log 1@1 2@2 3@3, committed 1.
        // (prev index, prev term, leader commit, ents) => (result, committed, last index)
        type Case = ((u64, u64, u64, Vec<Entry>), Option<(u64, u64)>, u64, u64);
        let cases: Vec<Case> = vec![
            // Mismatching previous entry: rejected.
            ((3, 2, 3, vec![entry(4, 4)]), None, 1, 3),
            // Previous past the log: rejected even with term 0.
            ((4, 0, 3, vec![entry(5, 4)]), None, 1, 3),
            ((4, 3, 3, vec![entry(5, 4)]), None, 1, 3),
            // Matching, no entries: commit moves to min(commit, last new).
            ((3, 3, 3, vec![]), Some((0, 3)), 3, 3),
            ((3, 3, 4, vec![]), Some((0, 3)), 3, 3),
            ((3, 3, 2, vec![]), Some((0, 3)), 2, 3),
            ((2, 2, 3, vec![]), Some((0, 2)), 2, 3),
            // New entries.
            ((3, 3, 3, vec![entry(4, 3)]), Some((4, 4)), 3, 4),
            ((3, 3, 4, vec![entry(4, 3)]), Some((4, 4)), 4, 4),
            (
                (3, 3, 5, vec![entry(4, 3), entry(5, 3)]),
                Some((4, 5)),
                5,
                5,
            ),
            // Already present: nothing changes, the tail stays.
            ((1, 1, 2, vec![entry(2, 2)]), Some((0, 2)), 2, 3),
            // Conflicts after the commit: truncated and replaced.
            ((1, 1, 3, vec![entry(2, 4)]), Some((2, 2)), 2, 2),
            (
                (2, 2, 3, vec![entry(3, 4), entry(4, 4)]),
                Some((3, 4)),
                3,
                4,
            ),
            // Entries that do not follow the previous index: rejected.
            ((2, 2, 3, vec![entry(4, 4)]), None, 1, 3),
            ((2, 2, 3, vec![entry(3, 3), entry(5, 3)]), None, 1, 3),
        ];
        for (i, ((idx, term, commit, ents), want, want_commit, want_last)) in
            cases.into_iter().enumerate()
        {
            let mut log = log_1_to_3();
            log.commit_to(1);
            assert_eq!(log.maybe_append(idx, term, commit, &ents), want, "case {i}");
            assert_eq!(log.committed, want_commit, "case {i}");
            assert_eq!(log.last_index(), want_last, "case {i}");
            if let Some((_, last_new)) = want {
                for e in &ents {
                    assert_eq!(log.term(e.index).unwrap(), e.term, "case {i}");
                }
                assert!(last_new <= log.last_index(), "case {i}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "conflicts with a committed entry")]
    fn maybe_append_conflicting_with_a_committed_entry_panics() {
        let mut log = log_1_to_3();
        log.commit_to(2);
        log.maybe_append(1, 1, 3, &[entry(2, 4)]);
    }

    #[test]
    fn maybe_append_lowers_the_persisted_index_below_a_conflict() {
        let store = MemStorage::new();
        store.wl().append(&entries(1..=3, 1)).unwrap();
        let mut log = new_log(store);
        assert_eq!(log.persisted, 3);
        assert_eq!(log.maybe_append(1, 1, 1, &[entry(2, 2)]), Some((2, 2)));
        assert_eq!(log.persisted, 1);
        assert_eq!(log.unstable.offset, 2);
    }

    #[test]
    fn commit_to_never_decreases() {
        let mut log = log_1_to_3();
        log.commit_to(2);
        assert_eq!(log.committed, 2);
        log.commit_to(1);
        assert_eq!(log.committed, 2);
        log.commit_to(3);
        assert_eq!(log.committed, 3);
    }

    #[test]
    #[should_panic(expected = "commit index past last index: commit to 4, last index 3")]
    fn commit_to_past_the_last_index_panics() {
        let mut log = log_1_to_3();
        log.commit_to(4);
    }

    #[test]
    fn maybe_commit_needs_the_given_term_at_the_index() {
        // §5.4.2: only an entry of the leader's term commits by counting.
        let cases = [
            (3, 3, true, 3),
            (3, 2, false, 0),
            (2, 2, true, 2),
            (4, 0, false, 0),
            (0, 0, false, 0),
        ];
        for (max, term, want, want_commit) in cases {
            let mut log = log_1_to_3();
            assert_eq!(log.maybe_commit(max, term), want, "({max}, {term})");
            assert_eq!(log.committed, want_commit, "({max}, {term})");
        }
        let mut log = log_1_to_3();
        log.commit_to(3);
        assert!(!log.maybe_commit(2, 2), "never lowers the commit");
        assert_eq!(log.committed, 3);
    }

    #[test]
    fn applied_to_moves_within_the_committed_range() {
        let mut log = log_1_to_3();
        log.commit_to(3);
        log.applied_to(0);
        assert_eq!(log.applied(), 0);
        log.applied_to(2);
        assert_eq!(log.applied(), 2);
        log.applied_to(2);
        log.applied_to(3);
        assert_eq!(log.applied(), 3);
    }

    #[test]
    #[should_panic(expected = "applied to 3, applied 0, committed 2")]
    fn applied_to_past_the_commit_panics() {
        let mut log = log_1_to_3();
        log.commit_to(2);
        log.applied_to(3);
    }

    #[test]
    #[should_panic(expected = "applied to 1, applied 2, committed 3")]
    fn applied_to_backwards_panics() {
        let mut log = log_1_to_3();
        log.commit_to(3);
        log.applied_to(2);
        log.applied_to(1);
    }

    #[test]
    fn stable_entries_then_persist() {
        let mut log = log_1_to_3();
        assert_eq!(log.persisted, 0);
        // Handed out and written by the application.
        log.store.wl().append(log.unstable_entries()).unwrap();
        log.stable_entries(3, 3);
        assert!(log.unstable_entries().is_empty());
        assert_eq!(log.unstable.offset, 4);
        assert_eq!(log.last_index(), 3);
        assert_eq!(log.term(2).unwrap(), 2);

        assert!(!log.maybe_persist(3, 2), "wrong term");
        assert!(log.maybe_persist(2, 2));
        assert_eq!(log.persisted, 2);
        assert!(!log.maybe_persist(2, 2), "not past persisted");
        assert!(!log.maybe_persist(1, 1), "not past persisted");
        assert!(log.maybe_persist(3, 3));
        assert_eq!(log.persisted, 3);
    }

    #[test]
    fn maybe_persist_ignores_entries_still_unstable() {
        let mut log = log_1_to_3();
        // Written to storage but not stabled: still in the unstable tail.
        log.store.wl().append(log.unstable_entries()).unwrap();
        assert!(!log.maybe_persist(3, 3));
        assert!(!log.maybe_persist(1, 1));
        assert_eq!(log.persisted, 0);
    }

    /// etcd `async_storage_writes_append_aba_race`: a batch
    /// handed out in term 1, then replaced at the same indexes by entries of
    /// term 2 before its write completed. The late report for the old batch
    /// must not mark the new entries persisted.
    #[test]
    fn a_late_persist_of_a_replaced_batch_marks_nothing_persisted() {
        let store = MemStorage::new();
        store.wl().append(&entries(1..=1, 1)).unwrap();
        let mut log = new_log(store);
        assert_eq!(log.persisted, 1);

        // Entries 2..=3 of term 1 are handed out (async write in flight).
        log.append(&entries(2..=3, 1));
        log.stable_entries(3, 1);
        assert_eq!(log.unstable.offset, 4);

        // A new leader of term 2 replaces them before the write completes.
        assert_eq!(log.maybe_append(1, 1, 1, &entries(2..=3, 2)), Some((2, 3)));
        assert_eq!(log.persisted, 1);
        assert_eq!(log.unstable.offset, 2);

        // The term-1 write lands, then its late report arrives: the entries
        // at 2..=3 in the log are the term-2 ones, still unstable.
        log.store.wl().append(&entries(2..=3, 1)).unwrap();
        assert!(!log.maybe_persist(3, 1));
        assert!(!log.maybe_persist(2, 1));
        assert_eq!(log.persisted, 1);

        // The term-2 batch is handed out and written; a report for the
        // stale batch still names the wrong term.
        log.store.wl().append(&entries(2..=3, 2)).unwrap();
        log.stable_entries(3, 2);
        assert!(!log.maybe_persist(3, 1));
        assert_eq!(log.persisted, 1);
        // The report for the new batch is taken.
        assert!(log.maybe_persist(3, 2));
        assert_eq!(log.persisted, 3);
    }

    #[test]
    fn maybe_persist_below_a_pending_snapshot_is_refused_at_or_after_its_index() {
        let store = MemStorage::new();
        store.wl().append(&entries(1..=5, 1)).unwrap();
        let mut log = new_log(store);
        log.persisted = 2;
        log.restore(snapshot(4, 1));
        assert_eq!(log.persisted, 2);
        assert!(!log.maybe_persist(4, 1), "at the snapshot index");
        assert!(log.maybe_persist(3, 1));
        assert_eq!(log.persisted, 3);
    }

    #[test]
    fn stable_snap_then_persist_snap() {
        let mut log = log_with(3, &entries(4..=5, 4), &[]);
        log.restore(snapshot(10, 6));
        assert_eq!(log.committed, 10);
        assert_eq!(log.persisted, 5);
        assert_eq!(log.first_index(), 11);
        assert_eq!(log.last_index(), 10);
        assert_eq!(
            log.unstable_snapshot().as_ref().unwrap().metadata().index,
            10
        );

        log.store.wl().apply_snapshot(snapshot(10, 6)).unwrap();
        log.stable_snap(10);
        assert!(log.unstable_snapshot().is_none());
        assert_eq!(log.first_index(), 11);
        assert_eq!(log.last_term(), 6);

        assert!(!log.maybe_persist_snap(5));
        assert!(log.maybe_persist_snap(10));
        assert_eq!(log.persisted, 10);
        assert!(!log.maybe_persist_snap(10));
    }

    #[test]
    #[should_panic(expected = "past the commit index")]
    fn persist_snap_past_the_commit_panics() {
        let mut log = log_with(3, &entries(4..=5, 4), &[]);
        log.persisted = 3;
        log.maybe_persist_snap(4);
    }

    #[test]
    fn restore_lowers_persisted_and_sets_the_commit() {
        let mut log = log_with(3, &entries(4..=9, 4), &[]);
        log.commit_to(5);
        log.restore(snapshot(6, 4));
        assert_eq!(log.committed, 6);
        assert_eq!(log.persisted, 6);
        assert_eq!(log.unstable.offset, 7);
        assert_eq!(log.first_index(), 7);
        assert_eq!(log.last_index(), 6);
        assert!(log.unstable_entries().is_empty());
        assert_eq!(log.commit_info(), (6, 4));
        // Entries after the snapshot are appended after it.
        assert_eq!(log.append(&[entry(7, 5)]), 7);
        assert_eq!(log.entries(7, None, ctx()).unwrap(), vec![entry(7, 5)]);
    }

    #[test]
    #[should_panic(expected = "restoring snapshot at 4 below the commit index 5")]
    fn restore_below_the_commit_panics() {
        let mut log = log_with(3, &entries(4..=9, 4), &[]);
        log.commit_to(5);
        log.restore(snapshot(4, 4));
    }

    #[test]
    fn snapshot_prefers_a_pending_one_that_covers_the_request() {
        let store = MemStorage::new();
        store.wl().append(&entries(1..=3, 1)).unwrap();
        store.wl().commit_to(3).unwrap();
        let mut log = new_log(store);
        assert_eq!(log.snapshot(0, 2).unwrap().metadata().index, 3);
        log.restore(snapshot(5, 2));
        assert_eq!(log.snapshot(5, 2).unwrap(), snapshot(5, 2));
        // Requesting past the pending one: the storage's.
        assert_eq!(log.snapshot(6, 2).unwrap().metadata().index, 6);
        log.store.wl().trigger_snap_unavailable();
        assert_eq!(
            log.snapshot(6, 2),
            Err(Error::Store(StorageError::SnapshotTemporarilyUnavailable))
        );
    }

    #[test]
    fn is_up_to_date_compares_last_term_then_length() {
        // §5.4.1. Log 1@1 2@2 3@3.
        let log = log_1_to_3();
        let cases = [
            (2, 4, true),
            (3, 4, true),
            (4, 4, true),
            (2, 2, false),
            (4, 2, false),
            (2, 3, false),
            (3, 3, true),
            (4, 3, true),
        ];
        for (last_index, term, want) in cases {
            assert_eq!(
                log.is_up_to_date(last_index, term),
                want,
                "({last_index}, {term})"
            );
        }
    }

    #[test]
    fn slice_combines_stored_and_unstable_entries() {
        // Compacted at 3, stored 4..=5, unstable 6..=7.
        let log = log_with(3, &entries(4..=5, 4), &entries(6..=7, 5));
        let stored_and_unstable = [entry(4, 4), entry(5, 4), entry(6, 5), entry(7, 5)];
        let cases: [(u64, u64, Result<Vec<Entry>>); 7] = [
            (2, 4, Err(Error::Store(StorageError::Compacted))),
            (3, 4, Err(Error::Store(StorageError::Compacted))),
            (4, 4, Ok(vec![])),
            (4, 6, Ok(stored_and_unstable[..2].to_vec())),
            (4, 8, Ok(stored_and_unstable.to_vec())),
            (5, 7, Ok(stored_and_unstable[1..3].to_vec())),
            (6, 8, Ok(stored_and_unstable[2..].to_vec())),
        ];
        for (low, high, want) in cases {
            assert_eq!(log.slice(low, high, None, ctx()), want, "[{low}, {high})");
        }
        assert_eq!(log.entries(6, None, ctx()).unwrap(), entries(6..=7, 5));
        assert_eq!(log.entries(8, None, ctx()).unwrap(), vec![]);
        assert_eq!(log.all_entries(), stored_and_unstable.to_vec());
    }

    #[test]
    fn slice_stops_at_max_size_across_the_stored_and_unstable_parts() {
        let log = log_with(3, &entries(4..=5, 4), &entries(6..=7, 5));
        let size = entry(4, 4).compute_size();
        let cases = [
            (0, 1),
            (size, 1),
            (size * 2, 2),
            (size * 3 - 1, 2),
            (size * 3, 3),
            (size * 4, 4),
            (NO_LIMIT, 4),
        ];
        for (max, want) in cases {
            let got = log.slice(4, 8, max, ctx()).unwrap();
            assert_eq!(got.len(), want, "max {max}");
            // Only unstable entries: limited the same way.
            let got = log.slice(6, 8, max, ctx()).unwrap();
            assert_eq!(got.len(), cmp::min(want, 2), "unstable, max {max}");
        }
    }

    #[test]
    #[should_panic(expected = "slice [4, 9) out of bound [4, 7]")]
    fn slice_past_the_last_index_panics() {
        let log = log_with(3, &entries(4..=5, 4), &entries(6..=7, 5));
        let _ = log.slice(4, 9, None, ctx());
    }

    #[test]
    #[should_panic(expected = "invalid slice [6, 5)")]
    fn slice_reversed_panics() {
        let log = log_with(3, &entries(4..=5, 4), &entries(6..=7, 5));
        let _ = log.slice(6, 5, None, ctx());
    }

    #[test]
    fn slice_passes_the_context_and_propagates_an_async_fetch() {
        let log = log_with(3, &entries(4..=5, 4), &entries(6..=7, 5));
        log.store.wl().trigger_log_unavailable(true);
        let append = GetEntriesContext::new(GetEntriesFor::SendAppend {
            to: 2,
            term: 5,
            aggressively: false,
        });
        assert_eq!(
            log.slice(4, 8, None, append),
            Err(Error::Store(StorageError::LogTemporarilyUnavailable))
        );
        assert_eq!(log.store.wl().take_get_entries_context(), Some(append));
        // Unstable-only ranges never touch the storage.
        assert_eq!(log.slice(6, 8, None, append).unwrap().len(), 2);
        // Synchronous reads are served.
        assert_eq!(log.slice(4, 8, None, ctx()).unwrap().len(), 4);
    }

    #[test]
    fn next_entries_are_the_committed_ones_after_applied() {
        // Stored 1..=3 (persisted), unstable 4..=6.
        let store = MemStorage::new();
        store.wl().append(&entries(1..=3, 1)).unwrap();
        let mut log = new_log(store);
        log.append(&entries(4..=6, 1));
        log.commit_to(5);
        log.applied_to(1);
        // persisted 3, committed 5, limit 0: only up to 3.
        assert_eq!(log.next_entries(None), Some(entries(2..=3, 1)));
        assert!(log.has_next_entries());
        assert_eq!(log.next_entries_since(2, None), Some(entries(3..=3, 1)));
        assert_eq!(log.next_entries_since(3, None), None);
        assert!(!log.has_next_entries_since(3));
        assert!(log.has_next_entries_since(2));

        log.applied_to(3);
        assert_eq!(log.next_entries(None), None);
        assert!(!log.has_next_entries());
    }

    #[test]
    fn next_entries_may_run_ahead_of_persisted_up_to_the_limit() {
        let store = MemStorage::new();
        store.wl().append(&entries(1..=3, 1)).unwrap();
        let mut log = new_log(store);
        log.append(&entries(4..=8, 1));
        log.commit_to(7);
        // (limit, want last handed out)
        let cases = [(0, 3), (1, 4), (3, 6), (4, 7), (5, 7), (u64::MAX, 7)];
        for (limit, want_last) in cases {
            log.max_apply_unpersisted_log_limit = limit;
            assert_eq!(log.applied_index_upper_bound(), want_last, "limit {limit}");
            let got = log.next_entries_since(0, None).unwrap();
            assert_eq!(got, entries(1..=want_last, 1), "limit {limit}");
            assert!(log.has_next_entries_since(want_last - 1), "limit {limit}");
            assert!(!log.has_next_entries_since(want_last), "limit {limit}");
        }
        // Applying past persisted is allowed within the commit.
        log.max_apply_unpersisted_log_limit = 10;
        log.applied_to(6);
        assert_eq!(log.next_entries(None), Some(entries(7..=7, 1)));
    }

    #[test]
    fn next_entries_respect_max_size_and_skip_compacted_entries() {
        let mut log = log_with(3, &entries(4..=9, 4), &[]);
        log.commit_to(8);
        let size = entry(4, 4).compute_size();
        let cases = [
            (None, 5),
            (Some(0), 1),
            (Some(size), 1),
            (Some(size * 2), 2),
            (Some(NO_LIMIT), 5),
        ];
        for (max, want) in cases {
            // since 0 is below the compaction point: starts at the first index.
            let got = log.next_entries_since(0, max).unwrap();
            assert_eq!(got, entries(4..=3 + want as u64, 4), "max {max:?}");
        }
    }

    #[test]
    fn entries_with_data_are_limited_by_encoded_size() {
        let mut log = new_log(MemStorage::new());
        let big = Entry {
            index: 1,
            term: 1,
            data: Bytes::from(vec![0u8; 100]),
            ..Default::default()
        };
        log.append(&[big.clone(), entry(2, 1)]);
        let got = log.entries(1, 10, ctx()).unwrap();
        assert_eq!(got, vec![big.clone()], "one oversized entry still returned");
        let got = log.entries(1, big.compute_size() + 10, ctx()).unwrap();
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn commit_info_names_the_committed_entry_and_its_term() {
        let mut log = log_with(3, &entries(4..=5, 4), &entries(6..=6, 5));
        assert_eq!(log.commit_info(), (3, 3));
        log.commit_to(6);
        assert_eq!(log.commit_info(), (6, 5));
    }
}
