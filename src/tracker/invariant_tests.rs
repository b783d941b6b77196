//! Each invariant of [`ProgressTracker::check_invariants`] and
//! [`Progress::check_invariants`] fails on a tracker built to break it.

use slog::{o, Logger};

use super::{ProgressState, ProgressTracker};
use crate::confchange::restore;
use crate::eraftpb::ConfState;

fn logger() -> Logger {
    Logger::root(slog::Discard, o!("raft_id" => 1))
}

/// Voters 1, 2, 3 and learner 4, every peer at next index 5.
fn tracker() -> ProgressTracker {
    let mut t = ProgressTracker::new(4);
    let cs = ConfState {
        voters: vec![1, 2, 3],
        learners: vec![4],
        ..Default::default()
    };
    restore(&mut t, 5, &cs).unwrap();
    t.check_invariants(&logger());
    t
}

#[test]
fn a_joint_configuration_from_a_restore_passes() {
    let mut t = ProgressTracker::new(4);
    let cs = ConfState {
        voters: vec![1, 2],
        voters_outgoing: vec![1, 3],
        learners_next: vec![3],
        auto_leave: true,
        ..Default::default()
    };
    restore(&mut t, 5, &cs).unwrap();
    t.check_invariants(&logger());
}

#[test]
fn a_replicating_peer_with_appends_in_flight_passes() {
    let mut t = tracker();
    let pr = t.get_mut(2).unwrap();
    pr.become_replicate();
    pr.sent_entries(6, 0);
    pr.sent_entries(8, 0);
    assert!(pr.maybe_update(6));
    pr.ins.free_to(6);
    t.check_invariants(&logger());
}

#[test]
#[should_panic(
    expected = "peer 9 has a progress but is not in the configuration voters=(1 2 3) learners=(4), raft_id: 1"
)]
fn a_progress_outside_the_configuration_fails() {
    let mut t = tracker();
    let pr = t.get(2).unwrap().clone();
    t.progress.insert(9, pr);
    t.check_invariants(&logger());
}

#[test]
#[should_panic(
    expected = "peer 3 of the configuration voters=(1 2 3) learners=(4) has no progress"
)]
fn a_voter_without_a_progress_fails() {
    let mut t = tracker();
    t.progress.remove(3);
    t.check_invariants(&logger());
}

#[test]
#[should_panic(
    expected = "peer 4 of the configuration voters=(1 2 3) learners=(4) has no progress"
)]
fn a_learner_without_a_progress_fails() {
    let mut t = tracker();
    t.progress.remove(4);
    t.check_invariants(&logger());
}

#[test]
#[should_panic(expected = "peer 3 is both a learner and a voter")]
fn a_learner_that_votes_fails() {
    let mut t = tracker();
    t.conf.learners.insert(3);
    t.check_invariants(&logger());
}

#[test]
#[should_panic(expected = "learners_next or auto-leave out of a joint configuration")]
fn learners_next_outside_a_joint_configuration_fails() {
    let mut t = tracker();
    t.conf.learners_next.insert(3);
    t.check_invariants(&logger());
}

#[test]
#[should_panic(expected = "learners_next or auto-leave out of a joint configuration")]
fn auto_leave_outside_a_joint_configuration_fails() {
    let mut t = tracker();
    t.conf.auto_leave = true;
    t.check_invariants(&logger());
}

#[test]
#[should_panic(expected = "progress of peer 2: matched 5 is not below next_idx 5")]
fn matched_at_next_idx_fails() {
    let mut t = tracker();
    t.get_mut(2).unwrap().matched = 5;
    t.check_invariants(&logger());
}

#[test]
#[should_panic(expected = "progress of peer 3 in state Probe: 1 in flight")]
fn appends_in_flight_while_probing_fail() {
    let mut t = tracker();
    let pr = t.get_mut(3).unwrap();
    pr.become_replicate();
    pr.sent_entries(7, 0);
    pr.state = ProgressState::Probe;
    t.check_invariants(&logger());
}

#[test]
#[should_panic(expected = "progress of peer 2 in state Replicate: 0 in flight, paused true")]
fn a_paused_replicating_peer_fails() {
    let mut t = tracker();
    let pr = t.get_mut(2).unwrap();
    pr.become_replicate();
    pr.pause();
    t.check_invariants(&logger());
}

#[test]
#[should_panic(expected = "pending snapshot 9")]
fn a_pending_snapshot_outside_snapshot_state_fails() {
    let mut t = tracker();
    t.get_mut(2).unwrap().pending_snapshot = 9;
    t.check_invariants(&logger());
}

#[test]
#[should_panic(expected = "inflights of peer 2 have the byte limit 100, the tracker 0")]
fn a_window_with_another_byte_limit_fails() {
    let mut t = tracker();
    t.get_mut(2).unwrap().ins.set_max_bytes(100);
    t.check_invariants(&logger());
}
