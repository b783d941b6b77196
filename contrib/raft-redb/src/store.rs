//! [`RedbStorage`]: the log, hard state, membership and snapshot record in
//! one redb database, with an in-memory copy of the log's bounds that
//! changes only when a transaction has committed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, Storage, StorageError};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use crate::checksum::crc32c;
use crate::error::Error;
use crate::snapshot_file::{SnapshotDir, SnapshotRecord};
use crate::WriteBatch;

mod open;
use open::{create_schema, load, open_database};

/// Entries keyed by index as a big-endian u64, valued by the encoded
/// `Entry`.
const ENTRIES: TableDefinition<[u8; 8], &[u8]> = TableDefinition::new("raft_entries");
/// Everything else, under the keys below.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");

const KEY_FORMAT: &str = "format";
const KEY_HARD_STATE: &str = "hard_state";
const KEY_CONF_STATE: &str = "conf_state";
const KEY_COMPACTION: &str = "compaction";
const KEY_SNAPSHOT: &str = "snapshot";

/// The value under [`KEY_FORMAT`]: names the layout, so that a redb file
/// written by something else, or by a future incompatible version, is
/// refused instead of misread.
const FORMAT: &[u8] = b"raft-redb format 1";

/// The database file inside the store directory.
const DB_FILE: &str = "raft.redb";
/// The snapshot-data directory inside the store directory.
const SNAPSHOT_DIR: &str = "snapshots";

fn key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// What the store holds, as of the last committed transaction. Reads are
/// answered from here where they can be; writes build the next value and
/// install it only after their transaction commits.
#[derive(Debug, Clone, Default)]
struct Cached {
    hard_state: HardState,
    conf_state: ConfState,
    /// The compaction point: the index before the first stored entry, and
    /// its term (the last snapshot's, or the last compacted entry's).
    compacted_index: u64,
    compacted_term: u64,
    /// The last stored entry, or the compaction point when there is none.
    last_index: u64,
    last_term: u64,
    snapshot: Option<SnapshotRecord>,
}

impl Cached {
    fn first_index(&self) -> u64 {
        self.compacted_index + 1
    }

    /// Checks that the term of `idx` is known: from the compaction point to
    /// the last stored entry. `what` names the operation in the error.
    fn check_term_known(&self, what: &'static str, idx: u64) -> Result<(), Error> {
        if idx < self.compacted_index {
            return Err(Error::Compacted {
                what,
                index: idx,
                first_index: self.first_index(),
            });
        }
        if idx > self.last_index {
            return Err(Error::Unavailable {
                what,
                index: idx,
                last_index: self.last_index,
            });
        }
        Ok(())
    }

    fn raft_state(&self) -> RaftState {
        RaftState::new(self.hard_state.clone(), self.conf_state.clone())
    }
}

/// The state shared by the clones of a [`RedbStorage`].
struct Inner {
    db: Database,
    db_path: PathBuf,
    snapshots: SnapshotDir,
    /// The committed state. Writers hold the write lock only around
    /// `commit` and the update; readers hold the read lock while they begin
    /// their read transaction, so what they read from redb matches it.
    cached: RwLock<Cached>,
    /// Serializes writers, and numbers snapshot files.
    writer: Mutex<WriterState>,
}

struct WriterState {
    next_snapshot_seq: u64,
}

/// A durable [`raft::Storage`] on a redb database in a directory of its own.
///
/// Clones share one open store (`Arc` inside), so the application can hand
/// one clone to its `RawNode` and write through another. Every write method
/// is one redb transaction with immediate durability: when it returns
/// `Ok`, what it wrote survives a crash, and if it fails nothing of it is
/// visible. See the crate documentation for the driver loop.
#[derive(Clone)]
pub struct RedbStorage {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedbStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStorage")
            .field("db_path", &self.inner.db_path)
            .field("state", &*self.read_cached())
            .finish()
    }
}

impl RedbStorage {
    /// Opens the store in `dir`, creating the directory and an empty,
    /// uninitialized store if there is none.
    ///
    /// Reopening gives back exactly what the last successful write left.
    /// Snapshot files that no committed write names (left by a crash) are
    /// removed.
    ///
    /// # Errors
    ///
    /// [`Error::NotARaftStore`] when the database file is not a redb
    /// database or holds something else, [`Error::Corrupt`] when its
    /// contents do not decode or contradict each other (including a
    /// snapshot file of the wrong length), [`Error::Io`] and
    /// [`Error::Database`] when the file system or redb fail (including
    /// another process holding the store open).
    pub fn open(dir: impl AsRef<Path>) -> Result<RedbStorage, Error> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("create directory {}", dir.display()), e))?;
        let db_path = dir.join(DB_FILE);
        let (db, cached) = guard("open database", || {
            let db = open_database(&db_path)?;
            let cached = match load(&db, &db_path)? {
                Some(cached) => cached,
                None => {
                    create_schema(&db)?;
                    Cached::default()
                }
            };
            Ok((db, cached))
        })?;
        let snapshots = SnapshotDir::open(dir.join(SNAPSHOT_DIR))?;
        let keep = cached.snapshot.as_ref().map(|r| r.seq);
        let highest_seen = snapshots.remove_all_but(keep)?;
        if let Some(record) = &cached.snapshot {
            snapshots.check_length(record)?;
        }
        let next_snapshot_seq = highest_seen.max(keep.unwrap_or(0)) + 1;
        Ok(RedbStorage {
            inner: Arc::new(Inner {
                db,
                db_path,
                snapshots,
                cached: RwLock::new(cached),
                writer: Mutex::new(WriterState { next_snapshot_seq }),
            }),
        })
    }

    /// Gives a fresh store its first membership, as every node of a new
    /// cluster does with the same `cs` before it starts.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyInitialized`] when the store already has a
    /// membership, entries, or a snapshot.
    pub fn initialize_with_conf_state(&self, cs: ConfState) -> Result<(), Error> {
        self.transact(|_, txn, next| {
            if next.conf_state != ConfState::default()
                || next.last_index != 0
                || next.snapshot.is_some()
            {
                return Err(Error::AlreadyInitialized {
                    conf_state: Box::new(next.conf_state.clone()),
                    last_index: next.last_index,
                });
            }
            put_conf_state(txn, next, cs)
        })
    }

    /// Persists what one `Ready` asks, in one durable transaction: first
    /// the snapshot (which replaces the whole log), then the entries (which
    /// replace any stored entries from their first index on), then the hard
    /// state. When it returns `Ok`, all of it is on disk; on an error none
    /// of it is.
    ///
    /// # Errors
    ///
    /// [`Error::SnapshotOutOfDate`] for a snapshot before the first index;
    /// [`Error::Compacted`] or [`Error::NotContiguous`] for entries that
    /// would overwrite compacted ones or leave a gap; I/O and database
    /// errors.
    pub fn write(&self, batch: &WriteBatch) -> Result<(), Error> {
        self.write_group(std::slice::from_ref(batch))
    }

    /// Persists several `Ready`s in one transaction (group commit), in
    /// order, as if each were passed to [`write`](Self::write): one fsync
    /// for all of them. For drivers that persist asynchronously and then
    /// call `RawNode::on_persist_ready` with the last `Ready`'s number.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write); on an error none of the batches is
    /// persisted.
    pub fn write_group(&self, batches: &[WriteBatch]) -> Result<(), Error> {
        if batches.iter().all(WriteBatch::is_empty) {
            return Ok(());
        }
        self.transact(|writer, txn, next| {
            for batch in batches {
                if let Some(snapshot) = &batch.snapshot {
                    self.install_snapshot(writer, txn, next, snapshot)?;
                }
                append(txn, next, &batch.entries)?;
                if let Some(hs) = &batch.hard_state {
                    put_hard_state(txn, next, hs.clone())?;
                }
            }
            Ok(())
        })
    }

    /// Persists the commit index of a `LightReady` (the rest of the hard
    /// state is unchanged).
    ///
    /// # Errors
    ///
    /// [`Error::Compacted`] below the compaction point and
    /// [`Error::Unavailable`] past the last index: a commit index names a
    /// stored entry.
    pub fn set_commit(&self, commit: u64) -> Result<(), Error> {
        self.transact(|_, txn, next| {
            next.check_term_known("set commit", commit)?;
            let mut hs = next.hard_state.clone();
            hs.commit = commit;
            put_hard_state(txn, next, hs)
        })
    }

    /// Persists the membership after the application applied a
    /// configuration change, so a restart begins with it.
    pub fn set_conf_state(&self, cs: ConfState) -> Result<(), Error> {
        self.transact(|_, txn, next| put_conf_state(txn, next, cs))
    }

    /// Saves the application's state-machine snapshot taken at applied
    /// index `index`, with the membership `conf_state` as of that index.
    /// [`Storage::snapshot`] returns it from then on (the term is looked up
    /// in the log). The log is not compacted: call
    /// [`compact`](Self::compact) with at most `index + 1` afterwards.
    ///
    /// # Errors
    ///
    /// [`Error::Compacted`] or [`Error::Unavailable`] when the term of
    /// `index` is not known; [`Error::SnapshotOutOfDate`] when the store
    /// already has a newer snapshot, or `index` is 0; I/O and database
    /// errors.
    pub fn save_snapshot(
        &self,
        index: u64,
        conf_state: ConfState,
        data: &[u8],
    ) -> Result<(), Error> {
        self.transact(|writer, txn, next| {
            let term = term_in(txn, next, index, "save snapshot")?;
            // Index 0 is the empty log, which no snapshot describes
            // (`Storage::snapshot` could never serve it).
            let current = next.snapshot.as_ref().map_or(1, SnapshotRecord::index);
            if index < current {
                return Err(Error::SnapshotOutOfDate {
                    what: "save snapshot",
                    index,
                    current,
                });
            }
            let metadata = SnapshotMetadata {
                index,
                term,
                conf_state: Some(conf_state).into(),
                ..Default::default()
            };
            self.put_snapshot(writer, txn, next, metadata, data)
        })
    }

    /// Drops the entries before `compact_index`, which becomes the first
    /// index; the term of `compact_index - 1` stays readable. Compacting to
    /// or below the first index does nothing.
    ///
    /// Keep `compact_index - 1` at or below the index of the last saved
    /// snapshot: entries no snapshot covers cannot be sent to a follower
    /// that needs them once they are dropped.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] past `last_index + 1` (the entries were never
    /// stored); I/O and database errors.
    pub fn compact(&self, compact_index: u64) -> Result<(), Error> {
        self.transact(|_, txn, next| {
            if compact_index <= next.first_index() {
                return Ok(());
            }
            if compact_index > next.last_index + 1 {
                return Err(Error::Unavailable {
                    what: "compact",
                    index: compact_index,
                    last_index: next.last_index,
                });
            }
            let new_compacted = compact_index - 1;
            let term = term_in(txn, next, new_compacted, "compact")?;
            let mut entries = txn
                .open_table(ENTRIES)
                .map_err(|e| Error::db("open entries table", e))?;
            entries
                .retain_in(key(next.first_index())..key(compact_index), |_, _| false)
                .map_err(|e| Error::db("delete compacted entries", e))?;
            drop(entries);
            put_compaction(txn, next, new_compacted, term)
        })
    }

    /// The hard state as of the last successful write.
    pub fn hard_state(&self) -> HardState {
        self.read_cached().hard_state.clone()
    }

    /// The membership as of the last successful write.
    pub fn conf_state(&self) -> ConfState {
        self.read_cached().conf_state.clone()
    }

    fn read_cached(&self) -> RwLockReadGuard<'_, Cached> {
        self.inner
            .cached
            .read()
            .expect("raft-redb state lock poisoned")
    }

    fn lock_writer(&self) -> MutexGuard<'_, WriterState> {
        self.inner
            .writer
            .lock()
            .expect("raft-redb writer lock poisoned")
    }

    /// Runs `f` in one write transaction on a copy of the cached state,
    /// commits, and only then installs the copy. On an error nothing is
    /// committed and the cache is untouched.
    fn transact(
        &self,
        f: impl FnOnce(&mut WriterState, &WriteTransaction, &mut Cached) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut writer = self.lock_writer();
        let old_snapshot = self.read_cached().snapshot.clone();
        let mut next = self.read_cached().clone();
        let txn = self
            .inner
            .db
            .begin_write()
            .map_err(|e| Error::db("begin write transaction", e))?;
        if let Err(e) = guard("write", || f(&mut writer, &txn, &mut next)) {
            // Aborting only discards; a failure to do so changes nothing
            // that was committed.
            let _ = txn.abort();
            self.discard_new_snapshot_file(&old_snapshot, &next);
            return Err(e);
        }
        let mut cached = self
            .inner
            .cached
            .write()
            .expect("raft-redb state lock poisoned");
        let committed = guard("commit", || {
            txn.commit()
                .map_err(|e| Error::db("commit write transaction", e))
        });
        if let Err(e) = committed {
            drop(cached);
            self.discard_new_snapshot_file(&old_snapshot, &next);
            return Err(e);
        }
        *cached = next;
        let new_seq = cached.snapshot.as_ref().map(|r| r.seq);
        drop(cached);
        if let Some(old) = old_snapshot {
            if Some(old.seq) != new_seq {
                self.inner.snapshots.remove_quietly(old.seq);
            }
        }
        Ok(())
    }

    /// After a failed transaction, removes a data file it wrote (the
    /// committed record still names the old one).
    fn discard_new_snapshot_file(&self, old: &Option<SnapshotRecord>, next: &Cached) {
        let (old_seq, new_seq) = (
            old.as_ref().map(|r| r.seq),
            next.snapshot.as_ref().map(|r| r.seq),
        );
        if let Some(seq) = new_seq {
            if Some(seq) != old_seq {
                self.inner.snapshots.remove_quietly(seq);
            }
        }
    }

    /// Installs a snapshot from a `Ready`: the whole log is replaced by its
    /// compaction point, the membership becomes the snapshot's, the commit
    /// index moves to its index and the term rises to its term.
    fn install_snapshot(
        &self,
        writer: &mut WriterState,
        txn: &WriteTransaction,
        next: &mut Cached,
        snapshot: &Snapshot,
    ) -> Result<(), Error> {
        let meta = snapshot.metadata.clone().unwrap_or_default();
        if meta.index < next.first_index() {
            return Err(Error::SnapshotOutOfDate {
                what: "install snapshot",
                index: meta.index,
                current: next.first_index(),
            });
        }
        let mut entries = txn
            .open_table(ENTRIES)
            .map_err(|e| Error::db("open entries table", e))?;
        entries
            .retain(|_, _| false)
            .map_err(|e| Error::db("delete entries replaced by snapshot", e))?;
        drop(entries);
        put_compaction(txn, next, meta.index, meta.term)?;
        next.last_index = meta.index;
        next.last_term = meta.term;
        let mut hs = next.hard_state.clone();
        hs.term = hs.term.max(meta.term);
        hs.commit = meta.index;
        put_hard_state(txn, next, hs)?;
        put_conf_state(txn, next, meta.conf_state.clone().unwrap_or_default())?;
        self.put_snapshot(writer, txn, next, meta, &snapshot.data)
    }

    /// Writes the data file (durably, before the transaction commits) and
    /// records it.
    fn put_snapshot(
        &self,
        writer: &mut WriterState,
        txn: &WriteTransaction,
        next: &mut Cached,
        metadata: SnapshotMetadata,
        data: &[u8],
    ) -> Result<(), Error> {
        let seq = writer.next_snapshot_seq;
        writer.next_snapshot_seq += 1;
        // A second snapshot in the same transaction replaces the first,
        // whose file then belongs to nobody.
        if let Some(previous) = &next.snapshot {
            if Some(previous.seq) != self.read_cached().snapshot.as_ref().map(|r| r.seq) {
                self.inner.snapshots.remove_quietly(previous.seq);
            }
        }
        let (len, crc) = self.inner.snapshots.write(seq, data)?;
        let record = SnapshotRecord {
            metadata,
            seq,
            len,
            crc,
        };
        put_meta(txn, KEY_SNAPSHOT, record.encode())?;
        next.snapshot = Some(record);
        Ok(())
    }

    /// Checks `low..high` against the bounds and reads it from `txn`'s
    /// snapshot of the database, stopping once `max_size` is exceeded
    /// (always returning at least one entry).
    fn read_entries(
        &self,
        low: u64,
        high: u64,
        max_size: Option<u64>,
    ) -> Result<Vec<Entry>, Error> {
        guard("read entries", || {
            self.read_entries_unguarded(low, high, max_size)
        })
    }

    fn read_entries_unguarded(
        &self,
        low: u64,
        high: u64,
        max_size: Option<u64>,
    ) -> Result<Vec<Entry>, Error> {
        let cached = self.read_cached();
        if low < cached.first_index() {
            return Err(Error::Compacted {
                what: "entries",
                index: low,
                first_index: cached.first_index(),
            });
        }
        if high > cached.last_index + 1 || low > high {
            return Err(Error::Unavailable {
                what: "entries",
                index: high.saturating_sub(1).max(low),
                last_index: cached.last_index,
            });
        }
        if low == high {
            return Ok(Vec::new());
        }
        let txn = self
            .inner
            .db
            .begin_read()
            .map_err(|e| Error::db("begin read transaction", e))?;
        drop(cached);
        let table = txn
            .open_table(ENTRIES)
            .map_err(|e| Error::db("open entries table", e))?;
        let range = table
            .range(key(low)..key(high))
            .map_err(|e| Error::db("read entries", e))?;
        let limit = max_size.unwrap_or(u64::MAX);
        let mut out = Vec::with_capacity((high - low).min(1024) as usize);
        let mut size = 0u64;
        let mut expected = low;
        for item in range {
            let (k, v) = item.map_err(|e| Error::db("read entries", e))?;
            let bytes = v.value();
            // An entry's encoded length is its size as the core counts it.
            size = size.saturating_add(bytes.len().saturating_sub(CHECKSUM_LEN) as u64);
            if !out.is_empty() && size > limit {
                return Ok(out);
            }
            let index = u64::from_be_bytes(k.value());
            let entry = decode_entry(index, bytes)?;
            if index != expected {
                return Err(Error::corrupt(format!(
                    "entry {expected} is missing (found {index} after it)"
                )));
            }
            out.push(entry);
            expected += 1;
        }
        if expected < high {
            return Err(Error::corrupt(format!(
                "entries {expected}..{high} are missing (last index {})",
                self.read_cached().last_index
            )));
        }
        Ok(out)
    }

    fn read_term(&self, idx: u64) -> Result<u64, Error> {
        guard("read term", || self.read_term_unguarded(idx))
    }

    fn read_term_unguarded(&self, idx: u64) -> Result<u64, Error> {
        let cached = self.read_cached();
        cached.check_term_known("term", idx)?;
        if idx == cached.compacted_index {
            return Ok(cached.compacted_term);
        }
        if idx == cached.last_index {
            return Ok(cached.last_term);
        }
        let txn = self
            .inner
            .db
            .begin_read()
            .map_err(|e| Error::db("begin read transaction", e))?;
        drop(cached);
        let table = txn
            .open_table(ENTRIES)
            .map_err(|e| Error::db("open entries table", e))?;
        stored_term(&table, idx)
    }

    fn read_snapshot(&self, request_index: u64) -> raft::Result<Snapshot> {
        let record = self.read_cached().snapshot.clone();
        let Some(record) = record.filter(|r| r.index() >= request_index && r.index() > 0) else {
            // No snapshot new enough: the application saves one with
            // `save_snapshot`, and the core asks again later.
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        };
        let data = self.inner.snapshots.read(&record)?;
        let mut snapshot = Snapshot::default();
        snapshot.set_metadata(record.metadata);
        snapshot.data = data.into();
        Ok(snapshot)
    }
}

impl Storage for RedbStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(self.read_cached().raft_state())
    }

    /// Entries `[low, high)`, at least one when the range is not empty,
    /// then as many as fit in `max_size` bytes. Unlike `MemStorage`, a
    /// range past the last index is an error ([`StorageError::Unavailable`]),
    /// not a panic. Never answers asynchronously.
    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        Ok(self.read_entries(low, high, max_size.into())?)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        Ok(self.read_term(idx)?)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.read_cached().first_index())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.read_cached().last_index)
    }

    /// The snapshot last saved with [`RedbStorage::save_snapshot`] or
    /// installed from a `Ready`, data included.
    /// [`StorageError::SnapshotTemporarilyUnavailable`] when there is none,
    /// or its index is below `request_index`; a damaged data file gives
    /// [`StorageError::Other`] naming it.
    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        self.read_snapshot(request_index)
    }
}

/// The length of the CRC-32C that follows every stored value but the
/// format marker.
const CHECKSUM_LEN: usize = 4;

/// `payload` followed by its CRC-32C: redb checks its pages only when it
/// recovers from an unclean shutdown, so damage to a clean file would
/// otherwise be read back as data.
fn seal(mut payload: Vec<u8>) -> Vec<u8> {
    let crc = crc32c(&payload);
    payload.extend_from_slice(&crc.to_be_bytes());
    payload
}

/// The payload of a sealed value, or [`Error::Corrupt`] naming `what` when
/// its checksum does not match.
fn unseal<'a>(what: &dyn std::fmt::Display, stored: &'a [u8]) -> Result<&'a [u8], Error> {
    let Some(split) = stored.len().checked_sub(CHECKSUM_LEN) else {
        return Err(Error::corrupt(format!(
            "{what} is {} bytes, too short for its checksum",
            stored.len()
        )));
    };
    let (payload, crc) = stored.split_at(split);
    if crc32c(payload).to_be_bytes() != crc {
        return Err(Error::corrupt(format!("{what} fails its checksum")));
    }
    Ok(payload)
}

/// Runs `f`, turning a panic inside redb (which it raises on some damaged
/// pages) into [`Error::Corrupt`]. Callers hold no lock guard inside `f`
/// that a panic could poison.
fn guard<T>(what: &str, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::corrupt(format!(
            "{what}: the database panicked on damaged data: {message}"
        )))
    })
}

fn decode_entry(index: u64, stored: &[u8]) -> Result<Entry, Error> {
    let bytes = unseal(&format_args!("entry {index}"), stored)?;
    let entry = Entry::parse_from_bytes(bytes)
        .map_err(|e| Error::corrupt(format!("entry {index} does not decode: {e}")))?;
    if entry.index != index {
        return Err(Error::corrupt(format!(
            "entry stored under index {index} says index {}",
            entry.index
        )));
    }
    Ok(entry)
}

fn stored_term(table: &impl ReadableTable<[u8; 8], &'static [u8]>, idx: u64) -> Result<u64, Error> {
    let value = table
        .get(key(idx))
        .map_err(|e| Error::db("read entry", e))?
        .ok_or_else(|| Error::corrupt(format!("entry {idx} is missing")))?;
    Ok(decode_entry(idx, value.value())?.term)
}

/// The term of `idx` as `txn` sees it, checked against `next`'s bounds.
fn term_in(
    txn: &WriteTransaction,
    next: &Cached,
    idx: u64,
    what: &'static str,
) -> Result<u64, Error> {
    next.check_term_known(what, idx)?;
    if idx == next.compacted_index {
        return Ok(next.compacted_term);
    }
    if idx == next.last_index {
        return Ok(next.last_term);
    }
    let table = txn
        .open_table(ENTRIES)
        .map_err(|e| Error::db("open entries table", e))?;
    stored_term(&table, idx)
}

/// Appends `ents`, first deleting every stored entry from `ents[0].index`
/// on.
fn append(txn: &WriteTransaction, next: &mut Cached, ents: &[Entry]) -> Result<(), Error> {
    let (Some(first), Some(last)) = (ents.first(), ents.last()) else {
        return Ok(());
    };
    if first.index < next.first_index() {
        return Err(Error::Compacted {
            what: "append",
            index: first.index,
            first_index: next.first_index(),
        });
    }
    if first.index > next.last_index + 1 {
        return Err(Error::NotContiguous {
            what: format!(
                "first appended index {} leaves a gap after last index {}",
                first.index, next.last_index
            ),
        });
    }
    if let Some(w) = ents.windows(2).find(|w| w[0].index + 1 != w[1].index) {
        return Err(Error::NotContiguous {
            what: format!("index {} is followed by {}", w[0].index, w[1].index),
        });
    }
    let mut table = txn
        .open_table(ENTRIES)
        .map_err(|e| Error::db("open entries table", e))?;
    if first.index <= next.last_index {
        table
            .retain_in(key(first.index)..=key(next.last_index), |_, _| false)
            .map_err(|e| Error::db("delete conflicting entries", e))?;
    }
    let mut buf = Vec::new();
    for e in ents {
        buf.clear();
        e.write_to_vec(&mut buf)
            .expect("encoding an Entry cannot fail");
        let crc = crc32c(&buf);
        buf.extend_from_slice(&crc.to_be_bytes());
        table
            .insert(key(e.index), buf.as_slice())
            .map_err(|e| Error::db("insert entry", e))?;
    }
    next.last_index = last.index;
    next.last_term = last.term;
    Ok(())
}

/// Writes `value` under `name`, sealed with its checksum.
fn put_meta(txn: &WriteTransaction, name: &str, value: Vec<u8>) -> Result<(), Error> {
    put_raw_meta(txn, name, &seal(value))
}

fn put_raw_meta(txn: &WriteTransaction, name: &str, value: &[u8]) -> Result<(), Error> {
    let mut table = txn
        .open_table(META)
        .map_err(|e| Error::db("open meta table", e))?;
    table
        .insert(name, value)
        .map_err(|e| Error::db(format!("write {name}"), e))?;
    Ok(())
}

fn put_hard_state(txn: &WriteTransaction, next: &mut Cached, hs: HardState) -> Result<(), Error> {
    put_meta(
        txn,
        KEY_HARD_STATE,
        hs.write_to_bytes()
            .expect("encoding a HardState cannot fail"),
    )?;
    next.hard_state = hs;
    Ok(())
}

fn put_conf_state(txn: &WriteTransaction, next: &mut Cached, cs: ConfState) -> Result<(), Error> {
    put_meta(
        txn,
        KEY_CONF_STATE,
        cs.write_to_bytes()
            .expect("encoding a ConfState cannot fail"),
    )?;
    next.conf_state = cs;
    Ok(())
}

fn put_compaction(
    txn: &WriteTransaction,
    next: &mut Cached,
    index: u64,
    term: u64,
) -> Result<(), Error> {
    let mut value = [0u8; 16];
    value[..8].copy_from_slice(&index.to_be_bytes());
    value[8..].copy_from_slice(&term.to_be_bytes());
    put_meta(txn, KEY_COMPACTION, value.to_vec())?;
    next.compacted_index = index;
    next.compacted_term = term;
    Ok(())
}
