//! Each invariant of [`Unstable::check_invariants`] fails on a tail built
//! to break it, and the appends check what they add.

use slog::{o, Logger};

use super::Unstable;
use crate::eraftpb::{Entry, Snapshot};

fn logger() -> Logger {
    Logger::root(slog::Discard, o!("raft_id" => 7))
}

fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        ..Default::default()
    }
}

fn snapshot(index: u64) -> Snapshot {
    let mut s = Snapshot::default();
    s.mut_metadata().index = index;
    s.mut_metadata().term = 1;
    s
}

#[test]
fn a_tail_built_by_appends_and_restores_passes() {
    let mut u = Unstable::new(5, logger());
    u.check_invariants();
    u.truncate_and_append(&[entry(5, 1), entry(6, 1), entry(7, 2)]);
    u.check_invariants();
    u.truncate_and_append(&[entry(6, 3)]);
    u.check_invariants();
    assert_eq!(u.entries.len(), 2);
    u.restore(snapshot(9));
    u.check_invariants();
    u.truncate_and_append(&[entry(10, 3)]);
    u.check_invariants();
    assert_eq!((u.offset, u.maybe_last_index()), (10, Some(10)));
}

#[test]
#[should_panic(expected = "unstable entries [6, 7] do not run from the offset 5 to 6, raft_id: 7")]
fn entries_that_do_not_start_at_the_offset_fail() {
    let mut u = Unstable::new(5, logger());
    u.entries = vec![entry(6, 1), entry(7, 1)];
    u.check_invariants();
}

#[test]
#[should_panic(expected = "unstable entries [5, 7] do not run from the offset 5 to 6")]
fn a_gap_in_the_entries_fails() {
    let mut u = Unstable::new(5, logger());
    u.entries = vec![entry(5, 1), entry(7, 1)];
    u.check_invariants();
}

#[test]
#[should_panic(expected = "unstable snapshot at 3 is not right below the offset 5")]
fn a_snapshot_not_right_below_the_offset_fails() {
    let mut u = Unstable::new(5, logger());
    u.snapshot = Some(snapshot(3));
    u.check_invariants();
}

#[test]
#[should_panic(expected = "unstable tail without entries counts 12 bytes")]
fn bytes_counted_without_entries_fail() {
    let mut u = Unstable::new(5, logger());
    u.entries_size = 12;
    u.check_invariants();
}

#[test]
#[should_panic(expected = "appended entries are not contiguous")]
fn appending_entries_with_a_gap_fails() {
    let mut u = Unstable::new(5, logger());
    u.truncate_and_append(&[entry(5, 1), entry(7, 1)]);
}

#[test]
#[should_panic(expected = "appended entries are not contiguous with non-decreasing terms")]
fn appending_entries_whose_terms_decrease_fails() {
    let mut u = Unstable::new(5, logger());
    u.truncate_and_append(&[entry(5, 2), entry(6, 1)]);
}

#[test]
#[should_panic(expected = "do not follow the unstable tail")]
fn appending_a_lower_term_after_the_tail_fails() {
    let mut u = Unstable::new(5, logger());
    u.truncate_and_append(&[entry(5, 2)]);
    u.truncate_and_append(&[entry(6, 1)]);
}
