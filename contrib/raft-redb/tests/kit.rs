//! The storage conformance kit (`harness::storage_kit`) run against
//! raft-redb, reopening the store from disk at every checkpoint the kit
//! sets.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use harness::storage_kit::{self, KitStorage};
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, Storage};
use raft_redb::{RedbStorage, WriteBatch};

/// A scratch directory removed when the last handle to it goes.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "raft-redb-kit-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `RedbStorage` with the directory it lives in, so the kit can reopen
/// it. (The orphan rule keeps the kit's trait off `RedbStorage` itself.)
struct Kit {
    store: RedbStorage,
    dir: Scratch,
}

fn fresh() -> Kit {
    let dir = Scratch::new();
    let store = RedbStorage::open(&dir.0).unwrap();
    Kit { store, dir }
}

impl Storage for Kit {
    fn initial_state(&self) -> raft::Result<RaftState> {
        self.store.initial_state()
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        self.store.entries(low, high, max_size, context)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.store.term(idx)
    }

    fn first_index(&self) -> raft::Result<u64> {
        self.store.first_index()
    }

    fn last_index(&self) -> raft::Result<u64> {
        self.store.last_index()
    }

    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        self.store.snapshot(request_index, to)
    }
}

impl KitStorage for Kit {
    fn initialize(&self, cs: ConfState) -> raft::Result<()> {
        Ok(self.store.initialize_with_conf_state(cs)?)
    }

    fn append(&self, ents: &[Entry]) -> raft::Result<()> {
        Ok(self.store.write(&WriteBatch {
            entries: ents.to_vec(),
            ..Default::default()
        })?)
    }

    fn apply_snapshot(&self, snapshot: Snapshot) -> raft::Result<()> {
        Ok(self.store.write(&WriteBatch {
            snapshot: Some(snapshot),
            ..Default::default()
        })?)
    }

    fn compact(&self, compact_index: u64) -> raft::Result<()> {
        Ok(self.store.compact(compact_index)?)
    }

    fn set_hard_state(&self, hs: HardState) -> raft::Result<()> {
        Ok(self.store.write(&WriteBatch {
            hard_state: Some(hs),
            ..Default::default()
        })?)
    }

    fn set_commit(&self, commit: u64) -> raft::Result<()> {
        Ok(self.store.set_commit(commit)?)
    }

    fn set_conf_state(&self, cs: ConfState) -> raft::Result<()> {
        Ok(self.store.set_conf_state(cs)?)
    }

    fn reopen(self) -> Kit {
        let Kit { store, dir } = self;
        drop(store);
        let store = RedbStorage::open(&dir.0).unwrap();
        Kit { store, dir }
    }
}

#[test]
fn new_storage_is_empty() {
    storage_kit::new_storage_is_empty(fresh());
}

#[test]
fn initialize_sets_the_membership() {
    storage_kit::initialize_sets_the_membership(fresh());
}

#[test]
fn term_is_known_from_the_compaction_point_to_the_last_entry() {
    storage_kit::term_is_known_from_the_compaction_point_to_the_last_entry(fresh());
}

#[test]
fn entries_return_the_half_open_range() {
    storage_kit::entries_return_the_half_open_range(fresh());
}

#[test]
fn entries_stop_at_max_size_but_return_at_least_one() {
    storage_kit::entries_stop_at_max_size_but_return_at_least_one(fresh());
}

#[test]
fn append_truncates_a_conflicting_suffix() {
    storage_kit::append_truncates_a_conflicting_suffix(fresh());
}

#[test]
fn compact_keeps_the_term_of_the_compaction_point() {
    storage_kit::compact_keeps_the_term_of_the_compaction_point(fresh());
}

#[test]
fn compact_past_the_last_index_is_refused() {
    storage_kit::compact_past_the_last_index_is_refused(fresh());
}

#[test]
fn apply_snapshot_replaces_the_log() {
    storage_kit::apply_snapshot_replaces_the_log(fresh());
}

#[test]
fn apply_snapshot_below_the_first_index_is_out_of_date() {
    storage_kit::apply_snapshot_below_the_first_index_is_out_of_date(fresh());
}

#[test]
fn snapshot_honours_the_requested_index() {
    storage_kit::snapshot_honours_the_requested_index(fresh());
}

#[test]
fn hard_state_commit_and_membership_persist() {
    storage_kit::hard_state_commit_and_membership_persist(fresh());
}

#[test]
fn set_commit_must_name_a_stored_index() {
    storage_kit::set_commit_must_name_a_stored_index(fresh());
}

#[test]
fn random_writes_match_a_plain_model() {
    // Every write is an fsync: a short run here, the long ones in the
    // MemStorage suite and the crash test.
    storage_kit::random_writes_match_a_plain_model(fresh(), 0x2ED8, 120);
}
