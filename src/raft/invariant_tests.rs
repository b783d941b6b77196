//! Each invariant of [`Raft::check_invariants`] fails on a node built to
//! break it, and [`RawNode`](crate::RawNode) runs the checks at its entry
//! points.

use slog::{o, Logger};

use super::{Raft, StateRole};
use crate::eraftpb::{ConfState, Entry};
use crate::storage::MemStorage;
use crate::{Config, RawNode};

fn logger() -> Logger {
    Logger::root(slog::Discard, o!())
}

fn store(voters: Vec<u64>) -> MemStorage {
    MemStorage::new_with_conf_state(ConfState::from((voters, vec![])))
}

/// Node 1 of voters 1, 2, 3, follower at term 0.
fn follower() -> Raft<MemStorage> {
    let mut r = Raft::new(&Config::new(1), store(vec![1, 2, 3]), &logger()).unwrap();
    r.check_invariants();
    r
}

/// Node 1 of voters 1, 2, 3, leader of term 1 with its empty entry (index 1).
fn leader() -> Raft<MemStorage> {
    let mut r = follower();
    r.become_candidate();
    r.become_leader();
    r.check_invariants();
    r
}

/// Hands the unstable entries out and writes them to the storage, as the
/// application does with a `Ready`.
fn persist(r: &mut Raft<MemStorage>) {
    let entries = r.raft_log.take_unstable_entries();
    r.mut_store().wl().append(&entries).unwrap();
    let last = entries.last().unwrap();
    r.on_persist_entries(last.index, last.term);
}

#[test]
fn a_leader_that_proposes_and_commits_passes() {
    let mut r = leader();
    assert!(r.append_entry(&mut [Entry::default(), Entry::default()]));
    r.check_invariants();
    persist(&mut r);
    assert!(r.prs.get_mut(2).unwrap().maybe_update(3));
    assert!(r.maybe_commit());
    r.check_invariants();
    assert_eq!(r.raft_log.committed, 3);
}

#[test]
#[should_panic(expected = "term went back from 1 to 0, raft_id: 1")]
fn a_term_that_goes_back_fails() {
    let mut r = leader();
    r.term = 0;
    r.check_invariants();
}

#[test]
#[should_panic(expected = "commit index went back from 1 to 0")]
fn a_commit_index_that_goes_back_fails() {
    let mut r = leader();
    persist(&mut r);
    assert!(r.prs.get_mut(2).unwrap().maybe_update(1));
    assert!(r.maybe_commit());
    r.check_invariants();
    r.raft_log.committed = 0;
    r.check_invariants();
}

#[test]
#[should_panic(expected = "leader of term 1 truncated its log: last index 3 (term 1) became 2")]
fn a_leader_that_drops_entries_fails() {
    let mut r = leader();
    assert!(r.append_entry(&mut [Entry::default(), Entry::default()]));
    r.check_invariants();
    r.raft_log.unstable.entries.pop();
    r.check_invariants();
}

#[test]
#[should_panic(
    expected = "leader of term 2 truncated its log: last index 2 (term 2) became 2, term there now 1"
)]
fn a_leader_that_rewrites_its_last_entry_fails() {
    let mut r = follower();
    r.become_candidate();
    r.become_candidate();
    r.become_leader();
    assert!(r.append_entry(&mut [Entry::default()]));
    r.check_invariants();
    r.raft_log.unstable.entries[1].term = 1;
    r.check_invariants();
}

#[test]
#[should_panic(expected = "leader of term 1 names 2 as the leader")]
fn a_leader_naming_another_leader_fails() {
    let mut r = leader();
    r.leader_id = 2;
    r.check_invariants();
}

#[test]
#[should_panic(expected = "candidate of term 1 voted for 3")]
fn a_candidate_that_did_not_vote_for_itself_fails() {
    let mut r = follower();
    r.become_candidate();
    r.vote = 3;
    r.check_invariants();
}

#[test]
#[should_panic(expected = "PreCandidate of term 0 knows leader 2")]
fn a_pre_candidate_that_knows_a_leader_fails() {
    let mut r = follower();
    r.become_pre_candidate();
    r.leader_id = 2;
    r.check_invariants();
}

#[test]
#[should_panic(expected = "leader's last entry of term 2 is past its term 1")]
fn an_entry_of_a_later_term_fails() {
    let mut r = leader();
    r.raft_log.unstable.entries[0].term = 2;
    r.check_invariants();
}

#[test]
#[should_panic(expected = "leader with last index 1 has next_idx 5 for peer 3")]
fn a_leader_that_knows_a_peer_past_its_log_fails() {
    let mut r = leader();
    r.prs.get_mut(3).unwrap().next_idx = 5;
    r.check_invariants();
}

#[test]
#[should_panic(expected = "progress of peer 2: matched 2 is not below next_idx 1")]
fn the_progress_tracker_is_checked() {
    let mut r = leader();
    r.prs.get_mut(2).unwrap().matched = 2;
    r.check_invariants();
}

#[test]
#[should_panic(expected = "applied 1 <= committed 0 <= last index 1 does not hold")]
fn the_log_is_checked() {
    let mut r = leader();
    r.raft_log.applied = 1;
    r.check_invariants();
}

#[test]
#[should_panic(expected = "read queue of 1 does not match 0 pending reads")]
fn the_read_queue_is_checked() {
    let mut r = leader();
    r.read_only.read_index_queue.push_back(b"x".to_vec());
    r.check_invariants();
}

/// A single-voter node, campaigned and its first `Ready` handled.
fn raw_leader() -> RawNode<MemStorage> {
    let mut node = RawNode::new(&Config::new(1), store(vec![1]), &logger()).unwrap();
    node.campaign().unwrap();
    let rd = node.ready();
    node.mut_store().wl().append(rd.entries()).unwrap();
    node.advance(rd);
    assert_eq!(node.raft.state, StateRole::Leader);
    node
}

/// Breaks the log cursors of a leader: every check fails from then on.
fn corrupt(node: &mut RawNode<MemStorage>) {
    node.raft.raft_log.applied = node.raft.raft_log.committed + 1;
}

#[test]
#[should_panic(expected = "does not hold")]
fn raw_node_tick_checks() {
    let mut node = raw_leader();
    corrupt(&mut node);
    node.tick();
}

#[test]
#[should_panic(expected = "does not hold")]
fn raw_node_step_checks() {
    let mut node = raw_leader();
    corrupt(&mut node);
    let _ = node.propose(vec![], vec![1]);
}

#[test]
#[should_panic(expected = "does not hold")]
fn raw_node_ready_checks() {
    let mut node = raw_leader();
    corrupt(&mut node);
    node.ready();
}

#[test]
#[should_panic(expected = "does not hold")]
fn raw_node_advance_append_async_checks() {
    let mut node = raw_leader();
    node.propose(vec![], vec![1]).unwrap();
    let rd = node.ready();
    corrupt(&mut node);
    node.advance_append_async(rd);
}

#[test]
#[should_panic(expected = "does not hold")]
fn raw_node_on_persist_ready_checks() {
    let mut node = raw_leader();
    corrupt(&mut node);
    node.on_persist_ready(1);
}

#[test]
#[should_panic(expected = "commit index went back from 1 to 0")]
fn raw_node_advance_apply_checks() {
    let mut node = raw_leader();
    node.raft.raft_log.committed = 0;
    node.advance_apply_to(0);
}
