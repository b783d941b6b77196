use super::*;
use protobuf::Message as _;

fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        ..Default::default()
    }
}

fn size_of(e: &Entry) -> u64 {
    e.compute_size()
}

fn voters(ids: &[u64]) -> ConfState {
    ConfState {
        voters: ids.to_vec(),
        ..Default::default()
    }
}

fn snapshot(index: u64, term: u64, cs: ConfState) -> Snapshot {
    let mut s = Snapshot::default();
    let meta = s.mut_metadata();
    meta.index = index;
    meta.term = term;
    meta.set_conf_state(cs);
    s
}

/// A storage compacted at (3, 3) holding entries 4@4 and 5@5.
fn storage_3_to_5() -> MemStorage {
    let s = MemStorage::new_with_conf_state(voters(&[1, 2, 3]));
    s.wl()
        .append(&[
            entry(1, 1),
            entry(2, 2),
            entry(3, 3),
            entry(4, 4),
            entry(5, 5),
        ])
        .unwrap();
    s.wl().compact(4).unwrap();
    s
}

fn ctx() -> GetEntriesContext {
    GetEntriesContext::empty(false)
}

fn store_err(e: StorageError) -> Error {
    Error::Store(e)
}

#[test]
fn raft_state_is_initialized_once_it_has_a_membership() {
    assert!(!RaftState::default().initialized());
    let rs = RaftState::new(HardState::default(), voters(&[1]));
    assert!(rs.initialized());
    let learners_only = ConfState {
        learners: vec![2],
        ..Default::default()
    };
    assert!(RaftState::new(HardState::default(), learners_only).initialized());
}

#[test]
fn entries_context_can_be_async_only_for_appends_and_opted_in_reads() {
    assert!(GetEntriesContext::empty(true).can_async());
    assert!(!GetEntriesContext::empty(false).can_async());
    let append = GetEntriesContext::new(GetEntriesFor::SendAppend {
        to: 2,
        term: 3,
        aggressively: false,
    });
    assert!(append.can_async());
    assert_eq!(
        *append.what(),
        GetEntriesFor::SendAppend {
            to: 2,
            term: 3,
            aggressively: false
        }
    );
    for what in [GetEntriesFor::GenReady, GetEntriesFor::CommitByVote] {
        assert!(!GetEntriesContext::new(what).can_async(), "{what:?}");
    }
}

#[test]
fn new_storage_is_empty_and_uninitialized() {
    let s = MemStorage::new();
    assert!(!s.initial_state().unwrap().initialized());
    assert_eq!(s.first_index().unwrap(), 1);
    assert_eq!(s.last_index().unwrap(), 0);
    assert_eq!(s.term(0).unwrap(), 0);
    assert_eq!(s.term(1), Err(store_err(StorageError::Unavailable)));
    assert_eq!(s.entries(1, 1, None, ctx()).unwrap(), vec![]);
}

#[test]
fn initialize_sets_the_membership() {
    let s = MemStorage::new();
    s.initialize_with_conf_state(voters(&[1, 2]));
    let rs = s.initial_state().unwrap();
    assert!(rs.initialized());
    assert_eq!(rs.conf_state, voters(&[1, 2]));
    assert_eq!(
        MemStorage::new_with_conf_state(voters(&[3]))
            .initial_state()
            .unwrap()
            .conf_state,
        voters(&[3])
    );
}

#[test]
#[should_panic(expected = "already initialized")]
fn initialize_twice_panics() {
    let s = MemStorage::new_with_conf_state(voters(&[1]));
    s.initialize_with_conf_state(voters(&[2]));
}

#[test]
fn clones_share_the_same_log() {
    let a = MemStorage::new();
    let b = a.clone();
    a.wl().append(&[entry(1, 1)]).unwrap();
    assert_eq!(b.last_index().unwrap(), 1);
}

#[test]
fn term_is_known_from_the_compaction_point_to_the_last_entry() {
    let s = storage_3_to_5();
    let cases = [
        (2, Err(store_err(StorageError::Compacted))),
        (3, Ok(3)),
        (4, Ok(4)),
        (5, Ok(5)),
        (6, Err(store_err(StorageError::Unavailable))),
    ];
    for (idx, want) in cases {
        assert_eq!(s.term(idx), want, "idx {idx}");
    }
    assert_eq!(s.first_index().unwrap(), 4);
    assert_eq!(s.last_index().unwrap(), 5);
}

#[test]
fn entries_returns_the_half_open_range() {
    let s = storage_3_to_5();
    s.wl().append(&[entry(6, 6)]).unwrap();
    let cases = [
        (2, 6, Err(store_err(StorageError::Compacted))),
        (3, 4, Err(store_err(StorageError::Compacted))),
        (4, 5, Ok(vec![entry(4, 4)])),
        (4, 6, Ok(vec![entry(4, 4), entry(5, 5)])),
        (5, 7, Ok(vec![entry(5, 5), entry(6, 6)])),
        (7, 7, Ok(vec![])),
    ];
    for (lo, hi, want) in cases {
        assert_eq!(s.entries(lo, hi, None, ctx()), want, "[{lo}, {hi})");
    }
}

#[test]
fn entries_stop_at_max_size_but_return_at_least_one() {
    let s = storage_3_to_5();
    s.wl().append(&[entry(6, 6)]).unwrap();
    let (e4, e5) = (entry(4, 4), entry(5, 5));
    let one = size_of(&e4);
    let two = one + size_of(&e5);
    let cases: [(Option<u64>, usize); 7] = [
        (None, 3),
        (Some(crate::NO_LIMIT), 3),
        (Some(0), 1),
        (Some(one), 1),
        (Some(two - 1), 1),
        (Some(two), 2),
        (Some(two + size_of(&entry(6, 6))), 3),
    ];
    for (max, want) in cases {
        let got = s.entries(4, 7, max, ctx()).unwrap();
        assert_eq!(got.len(), want, "max {max:?}");
        assert_eq!(got[0], e4);
    }
}

#[test]
#[should_panic(expected = "out of bound")]
fn entries_past_the_last_index_panics() {
    let s = storage_3_to_5();
    let _ = s.entries(4, 7, None, ctx());
}

#[test]
fn append_truncates_a_conflicting_suffix() {
    let s = storage_3_to_5();
    // Same entries: unchanged.
    s.wl().append(&[entry(4, 4), entry(5, 5)]).unwrap();
    assert_eq!(
        s.entries(4, 6, None, ctx()).unwrap(),
        [entry(4, 4), entry(5, 5)]
    );
    // Conflict at 4: everything from 4 replaced.
    s.wl().append(&[entry(4, 6), entry(5, 6)]).unwrap();
    assert_eq!(
        s.entries(4, 6, None, ctx()).unwrap(),
        [entry(4, 6), entry(5, 6)]
    );
    // Replacing from 5 drops the old 5 and extends.
    s.wl().append(&[entry(5, 7), entry(6, 7)]).unwrap();
    assert_eq!(
        s.entries(4, 7, None, ctx()).unwrap(),
        [entry(4, 6), entry(5, 7), entry(6, 7)]
    );
    // A shorter batch drops the tail after it.
    s.wl().append(&[entry(5, 8)]).unwrap();
    assert_eq!(s.last_index().unwrap(), 5);
    assert_eq!(s.term(5).unwrap(), 8);
    // Directly after the last entry: extends.
    s.wl().append(&[entry(6, 8)]).unwrap();
    assert_eq!(s.last_index().unwrap(), 6);
    // Empty is a no-op.
    s.wl().append(&[]).unwrap();
    assert_eq!(s.last_index().unwrap(), 6);
}

#[test]
#[should_panic(expected = "overwrite compacted")]
fn append_below_the_first_index_panics() {
    let s = storage_3_to_5();
    let _ = s.wl().append(&[entry(3, 3), entry(4, 4)]);
}

#[test]
#[should_panic(expected = "gap")]
fn append_with_a_gap_panics() {
    let s = storage_3_to_5();
    let _ = s.wl().append(&[entry(7, 5)]);
}

#[test]
#[should_panic(expected = "appended entries skip from index 5 to 7")]
fn append_of_entries_that_skip_an_index_panics_at_the_call() {
    // Checked at the call in every build, as raft-rs checks gaps: in a
    // release build a batch that skips an index used to be stored, and
    // the bounds, counted from the number of entries, no longer named
    // the entries stored.
    let s = storage_3_to_5();
    let _ = s.wl().append(&[entry(4, 4), entry(5, 4), entry(7, 4)]);
}

#[test]
fn bounds_are_read_from_the_entries() {
    let s = storage_3_to_5();
    s.wl().append(&[entry(5, 6), entry(6, 6)]).unwrap();
    assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (4, 6));
    s.wl().compact(6).unwrap();
    assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (6, 6));
    s.wl().compact(7).unwrap();
    assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (7, 6));
    assert_eq!(s.term(6).unwrap(), 6);
}

#[test]
fn compact_keeps_the_term_of_the_compaction_point() {
    let s = storage_3_to_5();
    s.wl().append(&[entry(6, 6), entry(7, 7)]).unwrap();
    // At or below the first index: no-op.
    s.wl().compact(2).unwrap();
    s.wl().compact(4).unwrap();
    assert_eq!(s.first_index().unwrap(), 4);
    assert_eq!(s.term(3).unwrap(), 3);

    s.wl().compact(6).unwrap();
    assert_eq!(s.first_index().unwrap(), 6);
    assert_eq!(s.last_index().unwrap(), 7);
    assert_eq!(s.term(5).unwrap(), 5);
    assert_eq!(s.term(4), Err(store_err(StorageError::Compacted)));
    assert_eq!(
        s.entries(5, 6, None, ctx()),
        Err(store_err(StorageError::Compacted))
    );

    // Compacting everything leaves an empty log after index 7.
    s.wl().compact(8).unwrap();
    assert_eq!(s.first_index().unwrap(), 8);
    assert_eq!(s.last_index().unwrap(), 7);
    assert_eq!(s.term(7).unwrap(), 7);
    s.wl().append(&[entry(8, 8)]).unwrap();
    assert_eq!(s.term(8).unwrap(), 8);
}

#[test]
fn compact_past_the_last_index_is_refused() {
    let s = storage_3_to_5();
    assert_eq!(s.wl().compact(7), Err(store_err(StorageError::Unavailable)));
    assert_eq!(s.first_index().unwrap(), 4);
    assert_eq!(s.last_index().unwrap(), 5);
}

#[test]
fn apply_snapshot_replaces_the_log() {
    let s = storage_3_to_5();
    s.wl().mut_hard_state().term = 5;
    s.wl()
        .apply_snapshot(snapshot(4, 7, voters(&[4, 5])))
        .unwrap();
    assert_eq!(s.first_index().unwrap(), 5);
    assert_eq!(s.last_index().unwrap(), 4);
    assert_eq!(s.term(4).unwrap(), 7);
    let rs = s.initial_state().unwrap();
    assert_eq!(rs.hard_state.commit, 4);
    assert_eq!(rs.hard_state.term, 7);
    assert_eq!(rs.conf_state, voters(&[4, 5]));

    // A snapshot from an older term does not lower the hard state's term.
    s.wl().mut_hard_state().term = 9;
    s.wl()
        .apply_snapshot(snapshot(10, 8, voters(&[1])))
        .unwrap();
    assert_eq!(s.wl().hard_state().term, 9);
    assert_eq!(s.wl().hard_state().commit, 10);
    assert_eq!(s.first_index().unwrap(), 11);
}

#[test]
fn apply_snapshot_not_past_the_compaction_point_is_out_of_date() {
    let s = storage_3_to_5();
    for idx in [2, 3] {
        assert_eq!(
            s.wl().apply_snapshot(snapshot(idx, 3, voters(&[9]))),
            Err(store_err(StorageError::SnapshotOutOfDate)),
            "snapshot index {idx}"
        );
    }
    // Nothing changed.
    assert_eq!(s.first_index().unwrap(), 4);
    assert_eq!(s.last_index().unwrap(), 5);
    assert_eq!(s.initial_state().unwrap().conf_state, voters(&[1, 2, 3]));
}

#[test]
fn snapshot_is_taken_at_the_commit_or_the_requested_index() {
    let s = storage_3_to_5();
    s.wl().commit_to(4).unwrap();
    let snap = s.snapshot(0, 2).unwrap();
    assert_eq!(snap.metadata().index, 4);
    assert_eq!(snap.metadata().term, 4);
    assert_eq!(*snap.metadata().conf_state(), voters(&[1, 2, 3]));
    assert!(snap.data.is_empty());

    let snap = s.snapshot(5, 2).unwrap();
    assert_eq!(snap.metadata().index, 5);
    assert_eq!(snap.metadata().term, 5);

    // Past the log: the commit's term.
    let snap = s.snapshot(9, 2).unwrap();
    assert_eq!(snap.metadata().index, 9);
    assert_eq!(snap.metadata().term, 4);
}

#[test]
fn snapshot_unavailable_hook_fails_once() {
    let s = storage_3_to_5();
    s.wl().commit_to(5).unwrap();
    s.wl().trigger_snap_unavailable();
    assert_eq!(
        s.snapshot(0, 1),
        Err(store_err(StorageError::SnapshotTemporarilyUnavailable))
    );
    assert_eq!(s.snapshot(0, 1).unwrap().metadata().index, 5);
}

#[test]
fn log_unavailable_hook_refuses_only_async_reads_and_records_the_context() {
    let s = storage_3_to_5();
    s.wl().trigger_log_unavailable(true);
    let sync = GetEntriesContext::empty(false);
    assert_eq!(s.entries(4, 6, None, sync).unwrap().len(), 2);
    assert_eq!(s.wl().take_get_entries_context(), None);

    let append = GetEntriesContext::new(GetEntriesFor::SendAppend {
        to: 3,
        term: 1,
        aggressively: true,
    });
    assert_eq!(
        s.entries(4, 6, None, append),
        Err(store_err(StorageError::LogTemporarilyUnavailable))
    );
    // The hook stays set until cleared.
    assert_eq!(
        s.entries(4, 5, None, GetEntriesContext::empty(true)),
        Err(store_err(StorageError::LogTemporarilyUnavailable))
    );
    assert_eq!(
        s.wl().take_get_entries_context(),
        Some(GetEntriesContext::empty(true))
    );
    assert_eq!(s.wl().take_get_entries_context(), None);

    s.wl().trigger_log_unavailable(false);
    assert_eq!(s.entries(4, 6, None, append).unwrap().len(), 2);
    assert_eq!(s.wl().take_get_entries_context(), None);
}

#[test]
fn commit_to_must_name_a_stored_index() {
    let s = storage_3_to_5();
    assert_eq!(s.wl().commit_to(2), Err(store_err(StorageError::Compacted)));
    assert_eq!(
        s.wl().commit_to(6),
        Err(store_err(StorageError::Unavailable))
    );
    assert_eq!(s.wl().hard_state().commit, 0);
    s.wl().commit_to(3).unwrap();
    assert_eq!(s.wl().hard_state().commit, 3);
    s.wl().commit_to(5).unwrap();
    assert_eq!(s.initial_state().unwrap().hard_state.commit, 5);
}

#[test]
fn commit_and_set_conf_state_change_together() {
    let s = storage_3_to_5();
    s.wl()
        .commit_to_and_set_conf_states(4, Some(voters(&[7])))
        .unwrap();
    let rs = s.initial_state().unwrap();
    assert_eq!((rs.hard_state.commit, rs.conf_state), (4, voters(&[7])));

    s.wl().commit_to_and_set_conf_states(5, None).unwrap();
    let rs = s.initial_state().unwrap();
    assert_eq!((rs.hard_state.commit, rs.conf_state), (5, voters(&[7])));

    assert!(s
        .wl()
        .commit_to_and_set_conf_states(9, Some(voters(&[8])))
        .is_err());
    assert_eq!(s.initial_state().unwrap().conf_state, voters(&[7]));
}

#[test]
fn hard_state_and_conf_state_setters() {
    let s = MemStorage::new();
    let hs = HardState {
        term: 3,
        vote: 2,
        commit: 0,
        ..Default::default()
    };
    s.wl().set_hardstate(hs.clone());
    assert_eq!(*s.rl().hard_state(), hs);
    s.wl().mut_hard_state().vote = 1;
    assert_eq!(s.initial_state().unwrap().hard_state.vote, 1);
    s.wl().set_conf_state(voters(&[1, 2]));
    assert_eq!(s.initial_state().unwrap().conf_state, voters(&[1, 2]));
}
