//! Learners (thesis §4.2.1): they receive the log but neither vote nor
//! count toward a quorum, until promoted.
//!
//! The harness never applies entries; the helpers in `membership_util`
//! play the application: they read each node's committed entries, apply the
//! configuration changes among them with `apply_conf_change`, and report the
//! entries applied with `commit_apply`, as a driver does after `Ready`.

mod membership_util;
mod test_util;

use membership_util::*;
use raft::eraftpb::*;
use raft::*;
use test_util::*;

use ConfChangeType::{AddLearnerNode, AddNode, RemoveNode};

// ---------------------------------------------------------------------------
// Learners (thesis §4.2.1)
// ---------------------------------------------------------------------------

// A learner gets every entry and the commit index, but its
// acknowledgement never makes a quorum.
#[test]
fn learner_receives_the_log_but_its_ack_does_not_commit() {
    let mut network = with_learners(&[1, 2, 3], &[4]);
    network.send(vec![hup(1)]);
    network.send(vec![propose(1, "x")]);
    let last = network.peers[&1].raft_log.last_index();
    assert_eq!(network.peers[&1].raft_log.committed, last);
    assert_eq!(
        log_shape(&network.peers[&4].raft_log),
        log_shape(&network.peers[&1].raft_log)
    );
    assert_eq!(network.peers[&4].raft_log.committed, last);

    network.isolate(2);
    network.isolate(3);
    network.send(vec![propose(1, "y")]);
    let last = network.peers[&1].raft_log.last_index();
    assert_eq!(network.peers[&1].prs().get(4).unwrap().matched, last);
    assert!(network.peers[&1].raft_log.committed < last);
}

// A candidate asks only voters, and a (granting) vote response from a
// learner does not count toward winning.
#[test]
fn learner_is_not_asked_to_vote_and_its_vote_is_ignored() {
    let mut network = with_learners(&[1, 2, 3], &[4]);
    let msgs = send_observed(&mut network, vec![hup(1)]);
    let asked: Vec<u64> = of_type(&msgs, MessageType::MsgRequestVote)
        .iter()
        .map(|m| m.to)
        .collect();
    assert_eq!(asked, vec![2, 3]);

    let mut r = TestRaft::builder(1).voters([1, 2, 3]).learners([4]).build();
    r.step(hup(1)).unwrap();
    assert_eq!(r.state, StateRole::Candidate);
    let term = r.term;
    let mut granted = new_message(4, 1, MessageType::MsgRequestVoteResponse, 0);
    granted.term = term;
    let _ = r.step(granted);
    assert_eq!(r.state, StateRole::Candidate, "a learner's vote counted");
    let mut granted = new_message(2, 1, MessageType::MsgRequestVoteResponse, 0);
    granted.term = term;
    r.step(granted).unwrap();
    assert_eq!(r.state, StateRole::Leader);
}

// A learner that stops hearing from the leader never campaigns; the voters
// elect a new leader and the learner follows it.
#[test]
fn learner_never_campaigns_when_the_leader_is_gone() {
    let mut network = with_learners(&[1, 2, 3], &[4]);
    network.send(vec![hup(1)]);
    let term = network.peers[&4].term;
    network.isolate(1);
    let r = network.peers.get_mut(&4).unwrap();
    for _ in 0..10 * r.election_timeout() {
        r.tick();
    }
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.term, term);
    assert!(r.read_messages().is_empty());

    let leader = tick_until_leader(&mut network, &[2, 3]);
    network.send(vec![propose(leader, "x")]);
    assert_eq!(network.peers[&4].leader_id, leader);
    assert_ne!(network.peers[&4].state, StateRole::Leader);
}

// Adding a learner gives it the log; removing it stops the replication.
#[test]
fn adding_and_removing_a_learner() {
    let mut network = elected_and_applied(3);
    add_peer(&mut network, 4, &[1, 2, 3], &[]);
    network.send(vec![propose_cc(1, &simple(AddLearnerNode, 4))]);
    apply_committed(&mut network);
    for id in 1..=4 {
        assert_eq!(
            conf(&network, id),
            conf_state(&[1, 2, 3], &[4]),
            "node {id}"
        );
    }
    assert!(!network.peers[&4].promotable());
    network.send(vec![propose(1, "x")]);
    let last = network.peers[&1].raft_log.last_index();
    assert_eq!(network.peers[&4].raft_log.last_index(), last);

    network.send(vec![propose_cc(1, &simple(RemoveNode, 4))]);
    apply_committed(&mut network);
    assert_eq!(conf(&network, 1), conf_state(&[1, 2, 3], &[]));
    assert!(network.peers[&1].prs().get(4).is_none());
    let learner_last = network.peers[&4].raft_log.last_index();

    let traffic = send_observed(&mut network, vec![propose(1, "not for 4")]);
    assert!(traffic.iter().all(|m| m.to != 4), "still sent to 4");
    for _ in 0..5 {
        tick_and_send(&mut network, 1, 1);
    }
    assert_eq!(network.peers[&4].raft_log.last_index(), learner_last);
    assert!(network.peers[&1].raft_log.last_index() > learner_last);
}

// A learner promoted to voter becomes promotable and can be elected.
#[test]
fn promoted_learner_can_be_elected() {
    let mut network = with_learners(&[1, 2, 3], &[4]);
    network.send(vec![hup(1)]);
    apply_committed(&mut network);
    network.send(vec![propose_cc(1, &simple(AddNode, 4))]);
    apply_committed(&mut network);
    for id in 1..=4 {
        assert_eq!(
            conf(&network, id),
            conf_state(&[1, 2, 3, 4], &[]),
            "node {id}"
        );
    }
    assert!(network.peers[&4].promotable());

    network.isolate(1);
    network.send(vec![hup(4)]);
    assert_eq!(network.peers[&4].state, StateRole::Leader);
}

// etcd-io/etcd#10998: node 4 was promoted, but has not applied the promotion
// and still thinks it is a learner. A candidate of the new configuration
// needs its vote, and gets it.
#[test]
fn learner_not_yet_aware_of_its_promotion_votes() {
    let mut network = with_learners(&[1, 2, 3], &[4]);
    network.send(vec![hup(1)]);
    apply_committed(&mut network);
    network.send(vec![propose_cc(1, &simple(AddNode, 4))]);
    for id in 1..=3 {
        apply_committed_on(&mut network, id);
    }
    let msgs = network.read_messages();
    network.send(msgs);
    assert_eq!(conf(&network, 2), conf_state(&[1, 2, 3, 4], &[]));
    assert_eq!(conf(&network, 4), conf_state(&[1, 2, 3], &[4]));
    assert!(!network.peers[&4].promotable());

    // Without 1, node 2 needs three of {1, 2, 3, 4}: its own, 3's and 4's.
    network.isolate(1);
    network.send(vec![hup(2)]);
    assert_eq!(network.peers[&2].state, StateRole::Leader);
    assert_eq!(network.peers[&4].vote, 2);
    assert_eq!(network.peers[&4].term, network.peers[&2].term);
}

// etcd-io/etcd#7280 in a running group: a follower that knows a configuration
// change is committed but has not applied it refuses to campaign, ticks or
// no ticks; once it applies it, it campaigns and wins.
#[test]
fn follower_with_committed_unapplied_conf_change_does_not_campaign() {
    let mut network = elected_and_applied(3);
    apply_committed(&mut network);
    network.send(vec![propose_cc(1, &simple(AddLearnerNode, 4))]);
    let cc_index = network.peers[&1].raft_log.last_index();
    assert_eq!(network.peers[&2].raft_log.committed, cc_index);
    network.isolate(1);

    let term = network.peers[&2].term;
    network.send(vec![hup(2)]);
    let r = network.peers.get_mut(&2).unwrap();
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.term, term);
    tick_past_election_timeout(r);
    tick_past_election_timeout(r);
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.term, term);
    assert!(of_type(&r.read_messages(), MessageType::MsgRequestVote).is_empty());

    apply_committed_on(&mut network, 2);
    network.send(vec![hup(2)]);
    assert_eq!(network.peers[&2].state, StateRole::Leader);
    assert!(network.peers[&2].term > term);
}
