//! The interface between the Raft core and the application's log storage,
//! and [`MemStorage`], an in-memory implementation for tests and examples.
//!
//! The core reads the durable part of the log through [`Storage`]; it never
//! writes to it. The application writes what each `Ready` hands it (entries,
//! snapshot, hard state) and only then acknowledges it, so everything the
//! core reads back through this trait is what the application persisted.

use std::cmp;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::eraftpb::{ConfState, Entry, HardState, Snapshot};
use crate::errors::{Error, Result, StorageError};
use crate::util::entries_within_size;

/// The persisted state a node restarts from: its hard state and its
/// current membership.
#[derive(Debug, Clone, Default)]
pub struct RaftState {
    /// The term, vote and commit index last persisted.
    pub hard_state: HardState,
    /// The membership as of the last applied configuration change or
    /// snapshot.
    pub conf_state: ConfState,
}

impl RaftState {
    /// Creates a state from its two parts.
    pub fn new(hard_state: HardState, conf_state: ConfState) -> RaftState {
        RaftState {
            hard_state,
            conf_state,
        }
    }

    /// Whether the node has been given a membership. An uninitialized node
    /// knows no voters and waits for a leader to send it a snapshot.
    pub fn initialized(&self) -> bool {
        self.conf_state != ConfState::default()
    }
}

/// Why the core reads entries from storage. Storage implementations only see
/// it through [`GetEntriesContext::can_async`]; the core uses it to resume
/// the right operation once an asynchronous fetch completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GetEntriesFor {
    /// Entries for a MsgAppend to peer `to`, built in leader term `term`.
    /// `aggressively` is set when the append is sent even though the peer's
    /// progress would not normally allow one (for example on a probe).
    SendAppend {
        /// The peer the entries are for.
        to: u64,
        /// The leader's term when the read started.
        term: u64,
        /// Whether the append ignores the pause state of the peer.
        aggressively: bool,
    },
    /// Committed entries for a `Ready`.
    GenReady,
    /// Entries a node checks after learning a commit index from a vote.
    CommitByVote,
    /// A read with no particular purpose (tests, or the application itself);
    /// the flag says whether it may complete asynchronously.
    Empty(bool),
}

/// The context of an [`Storage::entries`] call.
///
/// When [`can_async`](Self::can_async) is true, the storage may start
/// fetching the entries in the background and return
/// [`StorageError::LogTemporarilyUnavailable`]; the application then hands
/// the same context back to `RawNode::on_entries_fetched` once the entries
/// are readable, and the core retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetEntriesContext(pub(crate) GetEntriesFor);

impl GetEntriesContext {
    /// A context that carries no purpose; `can_async` says whether the read
    /// may complete asynchronously.
    pub fn empty(can_async: bool) -> Self {
        GetEntriesContext(GetEntriesFor::Empty(can_async))
    }

    /// Creates a context for a read made for the given purpose.
    pub(crate) fn new(what: GetEntriesFor) -> Self {
        GetEntriesContext(what)
    }

    /// The purpose of the read.
    pub(crate) fn what(&self) -> &GetEntriesFor {
        &self.0
    }

    /// Whether the storage may answer this read asynchronously. Only
    /// appends to peers (which are retried on `on_entries_fetched`) and
    /// purposeless reads that opt in can; committed entries for a `Ready` and
    /// commit-by-vote checks need the entries now.
    pub fn can_async(&self) -> bool {
        match self.0 {
            GetEntriesFor::SendAppend { .. } => true,
            GetEntriesFor::Empty(can_async) => can_async,
            GetEntriesFor::GenReady | GetEntriesFor::CommitByVote => false,
        }
    }
}

/// The durable log as the core reads it.
///
/// The log a `Storage` describes is the entries `first_index()..=last_index()`
/// preceded by a compaction point (usually the last snapshot) at
/// `first_index() - 1`, whose term must still be readable through
/// [`term`](Self::term).
///
/// Errors: [`StorageError::Compacted`] and [`StorageError::Unavailable`] are
/// expected conditions (the core falls back to sending a snapshot);
/// [`StorageError::SnapshotTemporarilyUnavailable`] means "try again later";
/// [`StorageError::LogTemporarilyUnavailable`] means "wait for
/// `on_entries_fetched`". Any other error is propagated to the caller.
pub trait Storage {
    /// The hard state and membership to start from. Called once, when the
    /// node is created.
    fn initial_state(&self) -> Result<RaftState>;

    /// The entries with indexes in `[low, high)`.
    ///
    /// At least one entry is returned when the range is not empty, then
    /// entries stop before their total encoded size would exceed `max_size`
    /// (`None` means no limit). `low` below `first_index()` gives
    /// [`StorageError::Compacted`]. When `context.can_async()`, the storage
    /// may return [`StorageError::LogTemporarilyUnavailable`] and fetch in
    /// the background.
    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> Result<Vec<Entry>>;

    /// The term of the entry at `idx`, for `idx` in
    /// `[first_index() - 1, last_index()]`: [`StorageError::Compacted`]
    /// below that range, [`StorageError::Unavailable`] above it.
    fn term(&self, idx: u64) -> Result<u64>;

    /// The index of the first entry still stored (after the compaction
    /// point). When the log holds no entries, this is `last_index() + 1`.
    fn first_index(&self) -> Result<u64>;

    /// The index of the last entry stored, or of the compaction point when
    /// no entry is stored.
    fn last_index(&self) -> Result<u64>;

    /// The most recent snapshot, for sending to peer `to`. Its index must be
    /// at least `request_index` (the index a follower asked a snapshot for).
    /// [`StorageError::SnapshotTemporarilyUnavailable`] asks the core to try
    /// again later.
    fn snapshot(&self, request_index: u64, to: u64) -> Result<Snapshot>;
}

/// The state behind a [`MemStorage`]: the hard state, the membership, the
/// entries after the compaction point, and test hooks.
///
/// Invariant: `entries[i].index == compacted_index + 1 + i`.
#[derive(Debug, Default)]
pub struct MemStorageCore {
    raft_state: RaftState,
    /// The entries after the compaction point.
    entries: Vec<Entry>,
    /// The index just before `entries`: the last applied snapshot's index,
    /// or the last compacted entry's.
    compacted_index: u64,
    /// The term of the entry at `compacted_index`, kept so that
    /// `term(first_index - 1)` stays answerable after a compaction.
    compacted_term: u64,
    /// Test hook: the next `snapshot` call fails once.
    trigger_snap_unavailable: bool,
    /// Test hook: `entries` calls that may be asynchronous fail.
    trigger_log_unavailable: bool,
    /// Test hook: the context of the last read refused by
    /// `trigger_log_unavailable`.
    get_entries_context: Option<GetEntriesContext>,
}

impl MemStorageCore {
    /// Replaces the hard state.
    pub fn set_hardstate(&mut self, hs: HardState) {
        self.raft_state.hard_state = hs;
    }

    /// The hard state.
    pub fn hard_state(&self) -> &HardState {
        &self.raft_state.hard_state
    }

    /// The hard state, for modification.
    pub fn mut_hard_state(&mut self) -> &mut HardState {
        &mut self.raft_state.hard_state
    }

    /// Sets the hard state's commit index.
    ///
    /// The index must name the compaction point or a stored entry:
    /// [`StorageError::Compacted`] below the compaction point,
    /// [`StorageError::Unavailable`] past the last entry.
    pub fn commit_to(&mut self, index: u64) -> Result<()> {
        if index < self.compacted_index {
            return Err(Error::Store(StorageError::Compacted));
        }
        if index > self.last_index() {
            return Err(Error::Store(StorageError::Unavailable));
        }
        self.raft_state.hard_state.commit = index;
        Ok(())
    }

    /// Replaces the membership.
    pub fn set_conf_state(&mut self, cs: ConfState) {
        self.raft_state.conf_state = cs;
    }

    /// Sets the commit index as [`commit_to`](Self::commit_to) does and,
    /// when given, the membership (both or neither change).
    pub fn commit_to_and_set_conf_states(&mut self, idx: u64, cs: Option<ConfState>) -> Result<()> {
        self.commit_to(idx)?;
        if let Some(cs) = cs {
            self.raft_state.conf_state = cs;
        }
        Ok(())
    }

    /// Replaces the whole log with `snapshot`: every entry is dropped, the
    /// snapshot becomes the compaction point, the commit index moves to the
    /// snapshot's index, the term rises to the snapshot's if it is higher,
    /// and the membership becomes the snapshot's.
    ///
    /// A snapshot whose index is not past the current compaction point
    /// (that is, below `first_index()`) gives
    /// [`StorageError::SnapshotOutOfDate`] and changes nothing.
    pub fn apply_snapshot(&mut self, mut snapshot: Snapshot) -> Result<()> {
        let meta = snapshot.take_metadata();
        if meta.index < self.first_index() {
            return Err(Error::Store(StorageError::SnapshotOutOfDate));
        }
        let hs = &mut self.raft_state.hard_state;
        hs.term = cmp::max(hs.term, meta.term);
        hs.commit = meta.index;
        self.entries.clear();
        self.compacted_index = meta.index;
        self.compacted_term = meta.term;
        self.raft_state.conf_state = meta.conf_state.unwrap_or_default();
        Ok(())
    }

    /// Discards the entries before `compact_index`, which becomes the first
    /// index. The term of `compact_index - 1` stays readable.
    ///
    /// Compacting to or below the first index is a no-op. Compacting past
    /// `last_index() + 1` gives [`StorageError::Unavailable`] and changes
    /// nothing: the entries to drop were never stored.
    pub fn compact(&mut self, compact_index: u64) -> Result<()> {
        if compact_index <= self.first_index() {
            return Ok(());
        }
        if compact_index > self.last_index() + 1 {
            return Err(Error::Store(StorageError::Unavailable));
        }
        let new_compacted = compact_index - 1;
        let drop = (new_compacted - self.compacted_index) as usize;
        self.compacted_term = self.entries[drop - 1].term;
        self.compacted_index = new_compacted;
        self.entries.drain(..drop);
        Ok(())
    }

    /// Appends `ents`, first discarding every stored entry at or after
    /// `ents[0].index` (the application persists what the core hands it, and
    /// the core only hands out a suffix that replaces a conflicting one).
    ///
    /// # Panics
    ///
    /// If `ents` would overwrite compacted entries (`ents[0].index` below the
    /// first index) or leave a gap after the last index: both mean the
    /// application's log and the core's have diverged.
    pub fn append(&mut self, ents: &[Entry]) -> Result<()> {
        let Some(first) = ents.first() else {
            return Ok(());
        };
        let (first_index, last_index) = (self.first_index(), self.last_index());
        assert!(
            first.index >= first_index,
            "append would overwrite compacted entries: first appended index {}, first index {}",
            first.index,
            first_index
        );
        assert!(
            first.index <= last_index + 1,
            "append would leave a gap in the log: first appended index {}, last index {}",
            first.index,
            last_index
        );
        // Checked in every build, as the bounds are: a batch that skips or
        // repeats an index would leave entries the bounds do not describe.
        if let Some(w) = ents.windows(2).find(|w| w[0].index + 1 != w[1].index) {
            panic!(
                "appended entries skip from index {} to {}: a batch must be contiguous",
                w[0].index, w[1].index
            );
        }
        let keep = (first.index - first_index) as usize;
        self.entries.truncate(keep);
        self.entries.extend_from_slice(ents);
        Ok(())
    }

    /// Test hook: the next [`Storage::snapshot`] call returns
    /// [`StorageError::SnapshotTemporarilyUnavailable`] (once).
    pub fn trigger_snap_unavailable(&mut self) {
        self.trigger_snap_unavailable = true;
    }

    /// Test hook: while set, [`Storage::entries`] calls whose context allows
    /// an asynchronous answer return
    /// [`StorageError::LogTemporarilyUnavailable`], and the context of the
    /// refused call is kept for [`take_get_entries_context`](Self::take_get_entries_context).
    pub fn trigger_log_unavailable(&mut self, v: bool) {
        self.trigger_log_unavailable = v;
    }

    /// Test hook: takes the context of the last read refused because of
    /// [`trigger_log_unavailable`](Self::trigger_log_unavailable).
    pub fn take_get_entries_context(&mut self) -> Option<GetEntriesContext> {
        self.get_entries_context.take()
    }

    /// The first stored entry's index, or just past the compaction point
    /// when none is stored.
    fn first_index(&self) -> u64 {
        match self.entries.first() {
            Some(e) => e.index,
            None => self.compacted_index + 1,
        }
    }

    /// The last stored entry's index, or the compaction point when none is
    /// stored. Read from the entries, not from their count, as raft-rs's
    /// `MemStorage` does.
    fn last_index(&self) -> u64 {
        match self.entries.last() {
            Some(e) => e.index,
            None => self.compacted_index,
        }
    }

    fn term(&self, idx: u64) -> Result<u64> {
        if idx < self.compacted_index {
            return Err(Error::Store(StorageError::Compacted));
        }
        if idx == self.compacted_index {
            return Ok(self.compacted_term);
        }
        if idx > self.last_index() {
            return Err(Error::Store(StorageError::Unavailable));
        }
        Ok(self.entries[(idx - self.first_index()) as usize].term)
    }

    /// A data-less snapshot at `max(commit, request_index)` with the stored
    /// membership. Its term is the term of the entry at that index when the
    /// storage holds it, else the commit's term.
    fn snapshot(&self, request_index: u64) -> Result<Snapshot> {
        let commit = self.raft_state.hard_state.commit;
        let index = cmp::max(commit, request_index);
        let term = match self.term(index) {
            Ok(term) => term,
            Err(_) => self.term(commit)?,
        };
        let mut snapshot = Snapshot::default();
        let meta = snapshot.mut_metadata();
        meta.index = index;
        meta.term = term;
        meta.set_conf_state(self.raft_state.conf_state.clone());
        Ok(snapshot)
    }
}

/// An in-memory [`Storage`], shared by clones: every clone reads and writes
/// the same [`MemStorageCore`].
#[derive(Clone, Default)]
pub struct MemStorage {
    core: Arc<RwLock<MemStorageCore>>,
}

impl MemStorage {
    /// An empty, uninitialized storage: no entries, no membership.
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    /// A storage initialized with the membership `conf_state`.
    pub fn new_with_conf_state<T>(conf_state: T) -> MemStorage
    where
        ConfState: From<T>,
    {
        let store = MemStorage::new();
        store.initialize_with_conf_state(conf_state);
        store
    }

    /// Sets the membership of a fresh storage. All nodes bootstrapped this
    /// way start from the same empty log and the same membership.
    ///
    /// # Panics
    ///
    /// If the storage already has a membership.
    pub fn initialize_with_conf_state<T>(&self, conf_state: T)
    where
        ConfState: From<T>,
    {
        let mut core = self.wl();
        assert!(
            !core.raft_state.initialized(),
            "storage already initialized with conf state {:?}",
            core.raft_state.conf_state
        );
        core.raft_state.conf_state = ConfState::from(conf_state);
    }

    /// Locks the storage for reading.
    ///
    /// # Panics
    ///
    /// If a thread panicked while holding the lock.
    pub fn rl(&self) -> RwLockReadGuard<'_, MemStorageCore> {
        self.core.read().expect("MemStorage lock poisoned")
    }

    /// Locks the storage for writing.
    ///
    /// # Panics
    ///
    /// If a thread panicked while holding the lock.
    pub fn wl(&self) -> RwLockWriteGuard<'_, MemStorageCore> {
        self.core.write().expect("MemStorage lock poisoned")
    }
}

impl Storage for MemStorage {
    fn initial_state(&self) -> Result<RaftState> {
        Ok(self.rl().raft_state.clone())
    }

    /// # Panics
    ///
    /// If `low > high` or `high > last_index() + 1`: the core only asks for
    /// entries it knows were persisted.
    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> Result<Vec<Entry>> {
        let max_size = max_size.into();
        let mut core = self.wl();
        let (first_index, last_index) = (core.first_index(), core.last_index());
        assert!(
            low <= high && high <= last_index + 1,
            "entries [{low}, {high}) out of bound: first index {first_index}, last index {last_index}"
        );
        if low < first_index {
            return Err(Error::Store(StorageError::Compacted));
        }
        if core.trigger_log_unavailable && context.can_async() {
            core.get_entries_context = Some(context);
            return Err(Error::Store(StorageError::LogTemporarilyUnavailable));
        }
        let lo = (low - first_index) as usize;
        let hi = (high - first_index) as usize;
        // Size first, so only the entries kept are copied.
        let wanted = &core.entries[lo..hi];
        let keep = entries_within_size(wanted, max_size);
        Ok(wanted[..keep].to_vec())
    }

    fn term(&self, idx: u64) -> Result<u64> {
        self.rl().term(idx)
    }

    fn first_index(&self) -> Result<u64> {
        Ok(self.rl().first_index())
    }

    fn last_index(&self) -> Result<u64> {
        Ok(self.rl().last_index())
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> Result<Snapshot> {
        let mut core = self.wl();
        if core.trigger_snap_unavailable {
            core.trigger_snap_unavailable = false;
            return Err(Error::Store(StorageError::SnapshotTemporarilyUnavailable));
        }
        core.snapshot(request_index)
    }
}

#[cfg(test)]
mod tests;
