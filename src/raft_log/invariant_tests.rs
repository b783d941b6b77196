//! Each invariant of [`RaftLog::check_invariants`] fails on a log built to
//! break it.

use slog::{o, Logger};

use super::RaftLog;
use crate::eraftpb::{ConfState, Entry};
use crate::storage::MemStorage;

/// A log of entries 1..=3 (term 1), all stored, committed up to 2.
fn log() -> RaftLog<MemStorage> {
    let store = MemStorage::new_with_conf_state(ConfState::from((vec![1], vec![])));
    let ents: Vec<Entry> = (1..=3)
        .map(|index| Entry {
            index,
            term: 1,
            ..Default::default()
        })
        .collect();
    store.wl().append(&ents).unwrap();
    let mut log = RaftLog::new(store, Logger::root(slog::Discard, o!("raft_id" => 4)));
    log.commit_to(2);
    log.check_invariants();
    log
}

#[test]
#[should_panic(expected = "applied 3 <= committed 2 <= last index 3 does not hold, raft_id: 4")]
fn applied_past_committed_fails() {
    let mut log = log();
    log.applied = 3;
    log.check_invariants();
}

#[test]
#[should_panic(expected = "applied 0 <= committed 5 <= last index 3 does not hold")]
fn committed_past_the_last_index_fails() {
    let mut log = log();
    log.committed = 5;
    log.check_invariants();
}

#[test]
#[should_panic(expected = "persisted index 4 is not below the unstable offset 4")]
fn persisted_at_the_unstable_offset_fails() {
    let mut log = log();
    log.persisted = 4;
    log.check_invariants();
}

#[test]
#[should_panic(expected = "unstable entries")]
fn the_unstable_tail_is_checked_too() {
    let mut log = log();
    log.unstable.entries.push(Entry {
        index: 9,
        term: 1,
        ..Default::default()
    });
    log.check_invariants();
}
