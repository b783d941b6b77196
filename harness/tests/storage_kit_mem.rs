//! The storage conformance kit run against `MemStorage`, the reference
//! implementation of the contract: one test per check, so a failure names
//! the behaviour.

use harness::storage_kit;
use raft::storage::MemStorage;

#[test]
fn new_storage_is_empty() {
    storage_kit::new_storage_is_empty(MemStorage::new());
}

#[test]
fn initialize_sets_the_membership() {
    storage_kit::initialize_sets_the_membership(MemStorage::new());
}

#[test]
fn term_is_known_from_the_compaction_point_to_the_last_entry() {
    storage_kit::term_is_known_from_the_compaction_point_to_the_last_entry(MemStorage::new());
}

#[test]
fn entries_return_the_half_open_range() {
    storage_kit::entries_return_the_half_open_range(MemStorage::new());
}

#[test]
fn entries_stop_at_max_size_but_return_at_least_one() {
    storage_kit::entries_stop_at_max_size_but_return_at_least_one(MemStorage::new());
}

#[test]
fn append_truncates_a_conflicting_suffix() {
    storage_kit::append_truncates_a_conflicting_suffix(MemStorage::new());
}

#[test]
fn compact_keeps_the_term_of_the_compaction_point() {
    storage_kit::compact_keeps_the_term_of_the_compaction_point(MemStorage::new());
}

#[test]
fn compact_past_the_last_index_is_refused() {
    storage_kit::compact_past_the_last_index_is_refused(MemStorage::new());
}

#[test]
fn apply_snapshot_replaces_the_log() {
    storage_kit::apply_snapshot_replaces_the_log(MemStorage::new());
}

#[test]
fn apply_snapshot_below_the_first_index_is_out_of_date() {
    storage_kit::apply_snapshot_below_the_first_index_is_out_of_date(MemStorage::new());
}

#[test]
fn snapshot_honours_the_requested_index() {
    storage_kit::snapshot_honours_the_requested_index(MemStorage::new());
}

#[test]
fn hard_state_commit_and_membership_persist() {
    storage_kit::hard_state_commit_and_membership_persist(MemStorage::new());
}

#[test]
fn set_commit_must_name_a_stored_index() {
    storage_kit::set_commit_must_name_a_stored_index(MemStorage::new());
}

#[test]
fn random_writes_match_a_plain_model() {
    for seed in 0..20 {
        storage_kit::random_writes_match_a_plain_model(MemStorage::new(), seed, 500);
    }
}

#[test]
fn run_all_runs_every_check() {
    storage_kit::run_all(MemStorage::new);
}
