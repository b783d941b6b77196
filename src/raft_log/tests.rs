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
