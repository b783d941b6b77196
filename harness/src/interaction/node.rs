//! One node of an interaction environment: a [`RawNode`] over a
//! [`MemStorage`], plus a model of what of its storage is durable, so that a
//! crash ([`Node::restart`]) keeps exactly that.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use protobuf::Message as _;
use raft::eraftpb::{
    ConfChange, ConfChangeV2, ConfState, Entry, EntryType, HardState, Message, Snapshot,
    SnapshotMetadata,
};
use raft::storage::MemStorage;
use raft::{Config, Error, GetEntriesContext, RaftState, RawNode, Result, Storage, StorageError};
use raft_proto::ConfChangeI;
use slog::Logger;

/// What survives a crash of a node: the last durable snapshot (or the
/// bootstrap membership), the durable log after it and the durable hard
/// state.
///
/// The application's state machine is not durable here: after a restart it
/// is rebuilt from the snapshot and the committed entries after it, so the
/// membership changes after the snapshot are applied again.
#[derive(Clone, Debug)]
pub struct DurableState {
    /// The last snapshot made durable, if any.
    pub snapshot: Option<SnapshotMetadata>,
    /// The membership the node was bootstrapped with (used when there is no
    /// snapshot).
    pub bootstrap: ConfState,
    /// The durable entries after the snapshot, contiguous.
    pub entries: Vec<Entry>,
    /// The durable hard state.
    pub hard_state: HardState,
}

impl DurableState {
    /// Makes `snapshot` durable: it replaces the whole log.
    fn apply_snapshot(&mut self, snapshot: &Snapshot) {
        let meta = snapshot.metadata.get_or_default().clone();
        self.hard_state.commit = self.hard_state.commit.max(meta.index);
        self.hard_state.term = self.hard_state.term.max(meta.term);
        self.entries.clear();
        self.snapshot = Some(meta);
    }

    /// Makes `entries` durable, replacing any stored suffix they overlap.
    fn append(&mut self, entries: &[Entry]) {
        let Some(first) = entries.first() else {
            return;
        };
        self.entries.retain(|e| e.index < first.index);
        self.entries.extend_from_slice(entries);
    }

    /// A fresh storage holding exactly this durable state.
    fn to_storage(&self) -> MemStorage {
        let storage = MemStorage::new();
        match &self.snapshot {
            Some(meta) => {
                let mut snapshot = Snapshot::default();
                snapshot.set_metadata(meta.clone());
                storage
                    .wl()
                    .apply_snapshot(snapshot)
                    .expect("a fresh storage takes any snapshot");
            }
            None => storage.initialize_with_conf_state(self.bootstrap.clone()),
        }
        let mut core = storage.wl();
        core.append(&self.entries)
            .expect("durable entries follow the durable snapshot");
        core.set_hardstate(self.hard_state.clone());
        drop(core);
        storage
    }
}

/// The writes of one `Ready` handed to a background writer (asynchronous
/// storage writes): made durable, in order, by `process-append-thread`.
#[derive(Debug)]
pub struct AppendWork {
    /// The `Ready`'s number, reported to [`RawNode::on_persist_ready`].
    pub number: u64,
    /// The snapshot to make durable, if any.
    pub snapshot: Option<Snapshot>,
    /// The entries to make durable.
    pub entries: Vec<Entry>,
    /// The hard state to make durable, if it changed.
    pub hard_state: Option<HardState>,
    /// Messages that may go out only once the writes are durable.
    pub messages: Vec<Message>,
}

/// An error a scenario makes the storage return (`storage-error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjectedError {
    /// [`StorageError::Compacted`]: the entries are behind a snapshot.
    Compacted,
    /// [`StorageError::Unavailable`].
    Unavailable,
    /// [`StorageError::Other`]: any failure of the storage itself.
    Other,
}

impl InjectedError {
    /// Parses `compacted`, `unavailable` or `other`.
    pub fn parse(name: &str) -> Option<InjectedError> {
        match name {
            "compacted" => Some(InjectedError::Compacted),
            "unavailable" => Some(InjectedError::Unavailable),
            "other" => Some(InjectedError::Other),
            _ => None,
        }
    }

    fn to_error(self) -> Error {
        Error::Store(match self {
            InjectedError::Compacted => StorageError::Compacted,
            InjectedError::Unavailable => StorageError::Unavailable,
            InjectedError::Other => StorageError::Other("injected by the scenario".into()),
        })
    }
}

/// The storage a node reads through: its [`MemStorage`], whose next
/// `entries` calls fail as a scenario asks.
#[derive(Clone)]
pub struct ScenarioStorage {
    store: MemStorage,
    /// The error the next `entries` calls return, and how many of them do.
    entries_failures: Arc<Mutex<(InjectedError, usize)>>,
}

impl ScenarioStorage {
    fn new(store: MemStorage) -> ScenarioStorage {
        ScenarioStorage {
            store,
            entries_failures: Arc::new(Mutex::new((InjectedError::Other, 0))),
        }
    }

    /// Makes the next `count` calls of `entries` return `error`.
    pub fn fail_entries(&self, error: InjectedError, count: usize) {
        *self.lock_failures() = (error, count);
    }

    fn lock_failures(&self) -> std::sync::MutexGuard<'_, (InjectedError, usize)> {
        self.entries_failures
            .lock()
            .expect("the failure plan is never held across a panic")
    }
}

impl Storage for ScenarioStorage {
    fn initial_state(&self) -> Result<RaftState> {
        self.store.initial_state()
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> Result<Vec<Entry>> {
        {
            let mut failures = self.lock_failures();
            if failures.1 > 0 {
                failures.1 -= 1;
                return Err(failures.0.to_error());
            }
        }
        self.store.entries(low, high, max_size, context)
    }

    fn term(&self, idx: u64) -> Result<u64> {
        self.store.term(idx)
    }

    fn first_index(&self) -> Result<u64> {
        self.store.first_index()
    }

    fn last_index(&self) -> Result<u64> {
        self.store.last_index()
    }

    fn snapshot(&self, request_index: u64, to: u64) -> Result<Snapshot> {
        self.store.snapshot(request_index, to)
    }
}

/// One node of the environment.
pub struct Node {
    /// The node.
    pub raw: RawNode<ScenarioStorage>,
    /// The storage the node reads: everything written, durable or not.
    pub storage: MemStorage,
    /// What a crash keeps.
    pub durable: DurableState,
    /// The configuration the node was built with (and restarts with).
    pub config: Config,
    /// Whether the node persists asynchronously: writes wait in
    /// `append_work` and committed entries in `apply_work` until the
    /// environment processes them.
    pub async_writes: bool,
    /// Writes handed out but not yet durable, oldest first.
    pub append_work: VecDeque<AppendWork>,
    /// Committed entries handed out but not yet applied, oldest first.
    pub apply_work: VecDeque<Vec<Entry>>,
    logger: Logger,
}

impl Node {
    /// Builds a node from `config` over a storage holding `durable`.
    pub fn new(
        config: Config,
        durable: DurableState,
        async_writes: bool,
        logger: &Logger,
    ) -> Result<Node> {
        let storage = durable.to_storage();
        let raw = RawNode::new(&config, ScenarioStorage::new(storage.clone()), logger)?;
        Ok(Node {
            raw,
            storage,
            durable,
            config,
            async_writes,
            append_work: VecDeque::new(),
            apply_work: VecDeque::new(),
            logger: logger.clone(),
        })
    }

    /// Crashes the node and starts it again from its durable state: writes
    /// not yet durable, unsent persisted messages and unapplied entries are
    /// lost, and the state machine starts over from the durable snapshot.
    pub fn restart(&mut self) -> Result<()> {
        let mut config = self.config.clone();
        config.applied = self.durable.snapshot.as_ref().map_or(0, |meta| meta.index);
        let restarted = Node::new(
            config,
            self.durable.clone(),
            self.async_writes,
            &self.logger,
        )?;
        *self = restarted;
        Ok(())
    }

    /// Writes a `Ready`'s snapshot, entries and hard state into the storage
    /// the node reads (durable or not).
    pub fn write(
        &mut self,
        snapshot: Option<&Snapshot>,
        entries: &[Entry],
        hard_state: Option<&HardState>,
    ) {
        let mut core = self.storage.wl();
        if let Some(snapshot) = snapshot {
            core.apply_snapshot(snapshot.clone())
                .expect("MemStorage takes the snapshot the node hands out");
        }
        core.append(entries)
            .expect("MemStorage takes the entries the node hands out");
        if let Some(hs) = hard_state {
            core.set_hardstate(hs.clone());
        }
    }

    /// Makes a `Ready`'s writes durable.
    pub fn make_durable(
        &mut self,
        snapshot: Option<&Snapshot>,
        entries: &[Entry],
        hard_state: Option<&HardState>,
    ) {
        if let Some(snapshot) = snapshot {
            self.durable.apply_snapshot(snapshot);
        }
        self.durable.append(entries);
        if let Some(hs) = hard_state {
            self.durable.hard_state = hs.clone();
        }
    }

    /// Records a new commit index (from a `LightReady`) in both storages.
    pub fn write_commit(&mut self, commit: u64) {
        self.storage.wl().mut_hard_state().commit = commit;
        self.durable.hard_state.commit = commit;
    }

    /// Applies committed entries: membership changes go to the node and the
    /// storage's membership; normal entries need nothing (the state machine
    /// is the log itself). Returns one line per failed change.
    pub fn apply(&mut self, entries: &[Entry]) -> Vec<String> {
        let mut errors = Vec::new();
        for entry in entries {
            let result = match entry.entry_type() {
                EntryType::EntryNormal => continue,
                EntryType::EntryConfChange => ConfChange::parse_from_bytes(&entry.data)
                    .map_err(raft::Error::from)
                    .and_then(|cc| self.apply_conf_change(&cc)),
                EntryType::EntryConfChangeV2 => ConfChangeV2::parse_from_bytes(&entry.data)
                    .map_err(raft::Error::from)
                    .and_then(|cc| self.apply_conf_change(&cc)),
            };
            if let Err(e) = result {
                errors.push(format!(
                    "applying conf change at index {}: {e}",
                    entry.index
                ));
            }
        }
        errors
    }

    fn apply_conf_change(&mut self, cc: &impl ConfChangeI) -> Result<()> {
        let cs = self.raw.apply_conf_change(cc)?;
        self.storage.wl().set_conf_state(cs);
        Ok(())
    }
}
