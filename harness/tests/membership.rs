//! Membership changes in a running group (thesis chapter 4): one change
//! pending at a time, simple changes, joint consensus with automatic and
//! explicit leave, removed and demoted nodes, and learners.
//!
//! The harness never applies entries; the helpers at the bottom of this file
//! play the application: they read each node's committed entries, apply the
//! configuration changes among them with `apply_conf_change`, and report the
//! entries applied with `commit_apply`, as a driver does after `Ready`.

mod test_util;

use harness::*;
use protobuf::Message as PbMessage;
use raft::eraftpb::*;
use raft::storage::MemStorage;
use raft::*;
use raft_proto::{parse_conf_change, ConfChangeI};
use test_util::*;

use ConfChangeType::{AddLearnerNode, AddNode, RemoveNode};

// ---------------------------------------------------------------------------
// One change at a time (thesis §4.1)
// ---------------------------------------------------------------------------

// A second change proposed before the first is applied is refused, but it
// still takes its place in the log as an empty normal entry, so the indexes
// the proposer expects stay right.
#[test]
fn second_conf_change_before_first_is_applied_becomes_empty_entry() {
    let mut network = elected_and_applied(3);
    let before = network.peers[&1].raft_log.last_index();

    network.send(vec![propose_cc(1, &simple(AddLearnerNode, 4))]);
    network.send(vec![propose_cc(1, &simple(AddLearnerNode, 5))]);

    let leader = &network.peers[&1];
    assert_eq!(leader.raft_log.last_index(), before + 2);
    assert_eq!(leader.pending_conf_index, before + 1);
    let first = entry_at(&network, 1, before + 1);
    let second = entry_at(&network, 1, before + 2);
    assert_eq!(first.entry_type(), EntryType::EntryConfChange);
    assert_eq!(second.entry_type(), EntryType::EntryNormal);
    assert!(second.data.is_empty(), "refused change kept its payload");
    for id in [2, 3] {
        assert_eq!(
            log_shape(&network.peers[&id].raft_log),
            log_shape(&network.peers[&1].raft_log),
            "node {id}"
        );
        assert_eq!(
            entry_at(&network, id, before + 2).entry_type(),
            EntryType::EntryNormal
        );
    }

    apply_committed(&mut network);
    for id in 1..=3 {
        assert_eq!(
            conf(&network, id),
            conf_state(&[1, 2, 3], &[4]),
            "node {id}"
        );
    }

    // Once the first change is applied, the next one is accepted.
    network.send(vec![propose_cc(1, &simple(AddLearnerNode, 5))]);
    let last = network.peers[&1].raft_log.last_index();
    assert_eq!(network.peers[&1].pending_conf_index, last);
    assert_eq!(
        entry_at(&network, 1, last).entry_type(),
        EntryType::EntryConfChange
    );
    apply_committed(&mut network);
    for id in 1..=3 {
        assert_eq!(
            conf(&network, id),
            conf_state(&[1, 2, 3], &[4, 5]),
            "node {id}"
        );
    }
}

// Two changes in one proposal: the first is accepted, the second is
// pending behind it and becomes an empty entry at its own index.
#[test]
fn two_conf_changes_in_one_proposal_keep_only_the_first() {
    let mut network = elected_and_applied(3);
    let before = network.peers[&1].raft_log.last_index();
    let mut m = propose_cc(1, &simple(AddLearnerNode, 4));
    m.entries.push(cc_entry(&simple(AddLearnerNode, 5)));
    m.entries.push(new_entry(0, 0, Some("data")));
    network.send(vec![m]);

    let leader = &network.peers[&1];
    assert_eq!(leader.raft_log.last_index(), before + 3);
    assert_eq!(leader.pending_conf_index, before + 1);
    assert_eq!(
        entry_at(&network, 1, before + 1).entry_type(),
        EntryType::EntryConfChange
    );
    let refused = entry_at(&network, 1, before + 2);
    assert_eq!(refused.entry_type(), EntryType::EntryNormal);
    assert!(refused.data.is_empty());
    assert_eq!(&entry_at(&network, 1, before + 3).data[..], b"data");

    apply_committed(&mut network);
    assert_eq!(conf(&network, 2), conf_state(&[1, 2, 3], &[4]));
}

// Changes that fail validation on the leader are appended as empty
// entries: leaving a joint configuration when not joint, and any change
// other than the leave while joint.
#[test]
fn invalid_conf_change_proposals_become_empty_entries() {
    let mut network = elected_and_applied(3);

    let pending = network.peers[&1].pending_conf_index;
    network.send(vec![propose_cc(1, &ConfChangeV2::default())]);
    let last = network.peers[&1].raft_log.last_index();
    assert_refused(&network, last);
    assert_eq!(network.peers[&1].pending_conf_index, pending);
    apply_committed(&mut network);
    assert_eq!(conf(&network, 1), conf_state(&[1, 2, 3], &[]));

    // Enter a joint configuration the application must leave itself.
    network.send(vec![propose_cc(
        1,
        &joint("l4 l5", ConfChangeTransition::Explicit),
    )]);
    apply_committed(&mut network);
    assert!(is_joint(&network, 1));

    // While joint: a v1 change, a simple v2 change and another joint
    // change are all refused.
    let refused: Vec<Message> = vec![
        propose_cc(1, &simple(AddNode, 6)),
        propose_cc(1, &simple(RemoveNode, 3).into_v2()),
        propose_cc(1, &joint("l6 l7", ConfChangeTransition::Explicit)),
    ];
    for m in refused {
        network.send(vec![m]);
        let last = network.peers[&1].raft_log.last_index();
        assert_refused(&network, last);
        apply_committed(&mut network);
        assert!(is_joint(&network, 1));
    }

    // The leave is accepted and leaves.
    network.send(vec![propose_cc(1, &ConfChangeV2::default())]);
    let last = network.peers[&1].raft_log.last_index();
    assert_eq!(
        entry_at(&network, 1, last).entry_type(),
        EntryType::EntryConfChangeV2
    );
    apply_committed(&mut network);
    for id in 1..=3 {
        assert_eq!(
            conf(&network, id),
            conf_state(&[1, 2, 3], &[4, 5]),
            "node {id}"
        );
    }
}

// A new leader cannot know whether the entries it inherited hold a change
// it has not applied, so it refuses new changes until it has applied its
// whole log as it stood at the election.
#[test]
fn new_leader_refuses_conf_changes_until_it_applies_its_inherited_log() {
    let mut network = elected_and_applied(3);
    network.drop(2, 1, 1.0);
    network.drop(3, 1, 1.0);
    network.send(vec![propose_cc(1, &simple(AddLearnerNode, 4))]);
    let inherited = network.peers[&1].raft_log.last_index();
    network.recover();
    network.isolate(1);
    network.send(vec![hup(2)]);
    assert_eq!(network.peers[&2].state, StateRole::Leader);
    assert_eq!(network.peers[&2].pending_conf_index, inherited);

    network.send(vec![propose_cc(2, &simple(AddLearnerNode, 5))]);
    let last = network.peers[&2].raft_log.last_index();
    let e = entry_at(&network, 2, last);
    assert_eq!(e.entry_type(), EntryType::EntryNormal);
    assert!(e.data.is_empty());

    apply_committed(&mut network);
    assert_eq!(conf(&network, 2), conf_state(&[1, 2, 3], &[4]));
    network.send(vec![propose_cc(2, &simple(AddLearnerNode, 5))]);
    let last = network.peers[&2].raft_log.last_index();
    assert_eq!(
        entry_at(&network, 2, last).entry_type(),
        EntryType::EntryConfChange
    );
    apply_committed(&mut network);
    assert_eq!(conf(&network, 3), conf_state(&[1, 2, 3], &[4, 5]));
}

// ---------------------------------------------------------------------------
// Joint consensus: leaving (thesis §4.3)
// ---------------------------------------------------------------------------

// With the Auto transition and several changes, the leader proposes the
// leave itself as soon as it applies the entry that entered the joint
// configuration, and every node ends in the new configuration.
#[test]
fn leader_proposes_leave_once_enter_joint_is_applied() {
    let mut network = elected_and_applied(3);
    add_peer(&mut network, 4, &[1, 2, 3], &[]);
    network.send(vec![propose_cc(
        1,
        &joint("v4 l5", ConfChangeTransition::Auto),
    )]);
    let enter = network.peers[&1].raft_log.last_index();
    assert_eq!(network.peers[&1].raft_log.committed, enter);
    assert!(!is_joint(&network, 1), "nothing is applied yet");

    apply_committed_on(&mut network, 1);
    let leader = &network.peers[&1];
    assert!(is_joint(&network, 1));
    assert!(*leader.prs().conf().auto_leave());
    assert_eq!(leader.raft_log.last_index(), enter + 1);
    assert_eq!(leader.pending_conf_index, enter + 1);
    assert!(is_leave_joint(&entry_at(&network, 1, enter + 1)));

    apply_committed(&mut network);
    for id in 1..=4 {
        assert_eq!(
            conf(&network, id),
            conf_state(&[1, 2, 3, 4], &[5]),
            "node {id}"
        );
        assert_eq!(count_leaves(&network, id), 1, "node {id}");
    }
}

// The Implicit transition leaves automatically even for a single change.
#[test]
fn implicit_transition_leaves_automatically() {
    let mut network = elected_and_applied(3);
    network.send(vec![propose_cc(
        1,
        &joint("l4", ConfChangeTransition::Implicit),
    )]);
    apply_committed(&mut network);
    for id in 1..=3 {
        assert_eq!(
            conf(&network, id),
            conf_state(&[1, 2, 3], &[4]),
            "node {id}"
        );
        assert_eq!(count_leaves(&network, id), 1, "node {id}");
    }
}

// With the Explicit transition the group stays joint until the
// application proposes the leave.
#[test]
fn explicit_joint_change_waits_for_the_application_to_leave() {
    let mut network = elected_and_applied(3);
    network.send(vec![propose_cc(
        1,
        &joint("l4 l5", ConfChangeTransition::Explicit),
    )]);
    let enter = network.peers[&1].raft_log.last_index();
    apply_committed(&mut network);
    for _ in 0..30 {
        tick_all_and_send(&mut network);
        apply_committed(&mut network);
    }
    assert_eq!(network.peers[&1].raft_log.last_index(), enter);
    for id in 1..=3 {
        assert!(is_joint(&network, id), "node {id}");
        assert!(!*network.peers[&id].prs().conf().auto_leave());
    }

    network.send(vec![propose_cc(1, &ConfChangeV2::default())]);
    apply_committed(&mut network);
    for id in 1..=3 {
        assert_eq!(
            conf(&network, id),
            conf_state(&[1, 2, 3], &[4, 5]),
            "node {id}"
        );
    }
}

// auto-leave after a leader change: the leader changes after the enter-joint entry is
// replicated but before anyone knows it committed. The new leader commits
// it under its own term and, once it applies it, proposes the leave.
#[test]
fn new_leader_proposes_leave_when_enter_joint_committed_after_election() {
    let mut network = elected_and_applied(3);
    // The followers take the entry, but the leader never hears back.
    network.drop(2, 1, 1.0);
    network.drop(3, 1, 1.0);
    network.send(vec![propose_cc(
        1,
        &joint("l4 l5", ConfChangeTransition::Auto),
    )]);
    let enter = network.peers[&1].raft_log.last_index();
    for id in 1..=3 {
        let r = &network.peers[&id];
        assert_eq!(r.raft_log.last_index(), enter, "node {id}");
        assert!(r.raft_log.committed < enter, "node {id}");
    }

    network.recover();
    network.isolate(1);
    network.send(vec![hup(2)]);
    assert_eq!(network.peers[&2].state, StateRole::Leader);
    assert_eq!(network.peers[&2].raft_log.committed, enter + 1);

    apply_committed(&mut network);
    for id in [2, 3] {
        assert_eq!(
            conf(&network, id),
            conf_state(&[1, 2, 3], &[4, 5]),
            "node {id}"
        );
        assert_eq!(count_leaves(&network, id), 1, "node {id}");
    }
    let leave = network.peers[&2].raft_log.last_index();
    assert!(is_leave_joint(&entry_at(&network, 2, leave)));
    assert_eq!(entry_at(&network, 2, leave).term, network.peers[&2].term);

    // The old leader rejoins, catches up and ends in the same place.
    network.recover();
    tick_and_send(&mut network, 2, 1);
    apply_committed(&mut network);
    assert_eq!(network.peers[&1].state, StateRole::Follower);
    assert_eq!(conf(&network, 1), conf_state(&[1, 2, 3], &[4, 5]));
}

// auto-leave after a leader change, second shape: the new leader applied the enter-joint
// entry while it was a follower. It proposes the leave once it applies the
// entries up to its own first entry.
#[test]
fn new_leader_proposes_leave_when_it_applied_enter_joint_as_follower() {
    let mut network = elected_and_applied(3);
    network.send(vec![propose_cc(
        1,
        &joint("l4 l5", ConfChangeTransition::Auto),
    )]);
    let enter = network.peers[&1].raft_log.last_index();
    for id in [2, 3] {
        assert_eq!(network.peers[&id].raft_log.committed, enter, "node {id}");
        apply_committed_on(&mut network, id);
        assert!(is_joint(&network, id), "node {id}");
    }

    // The old leader dies before it applies the entry.
    network.isolate(1);
    network.send(vec![hup(2)]);
    assert_eq!(network.peers[&2].state, StateRole::Leader);
    assert!(is_joint(&network, 2));

    apply_committed(&mut network);
    for id in [2, 3] {
        assert_eq!(
            conf(&network, id),
            conf_state(&[1, 2, 3], &[4, 5]),
            "node {id}"
        );
        assert_eq!(count_leaves(&network, id), 1, "node {id}");
    }

    // Meanwhile the isolated old leader applied the entry too and proposed
    // a leave in its stale term; rejoining replaces it, and it ends left.
    network.recover();
    tick_and_send(&mut network, 2, 1);
    apply_committed(&mut network);
    assert_eq!(network.peers[&1].state, StateRole::Follower);
    assert_eq!(conf(&network, 1), conf_state(&[1, 2, 3], &[4, 5]));
    assert_eq!(count_leaves(&network, 1), 1);
}

// The leave was already proposed (and replicated) by the old leader when
// the leadership changed: the new leader commits that one and proposes no
// second leave, which would fail to apply.
#[test]
fn new_leader_does_not_propose_a_second_leave() {
    let mut network = elected_and_applied(3);
    network.send(vec![propose_cc(
        1,
        &joint("l4 l5", ConfChangeTransition::Auto),
    )]);
    for id in 1..=3 {
        apply_committed_on(&mut network, id);
    }
    let leave = network.peers[&1].raft_log.last_index();
    assert!(is_leave_joint(&entry_at(&network, 1, leave)));

    // The leave reaches the followers; the acknowledgements are lost.
    network.drop(2, 1, 1.0);
    network.drop(3, 1, 1.0);
    let msgs = network.read_messages();
    network.send(msgs);
    assert_eq!(network.peers[&2].raft_log.last_index(), leave);
    assert!(network.peers[&2].raft_log.committed < leave);

    network.recover();
    network.isolate(1);
    network.send(vec![hup(2)]);
    assert_eq!(network.peers[&2].state, StateRole::Leader);
    apply_committed(&mut network);
    for _ in 0..5 {
        tick_all_and_send(&mut network);
        apply_committed(&mut network);
    }
    for id in [2, 3] {
        assert_eq!(
            conf(&network, id),
            conf_state(&[1, 2, 3], &[4, 5]),
            "node {id}"
        );
        assert_eq!(count_leaves(&network, id), 1, "node {id}");
    }
}

// tikv/raft-rs#192: in a joint configuration, a commit needs a majority of
// both halves. With one half cut off nothing commits; once it is back,
// commits proceed.
#[test]
fn joint_half_without_quorum_blocks_commits_until_it_recovers() {
    let mut network = elected_and_applied(3);
    add_peer(&mut network, 4, &[1, 2, 3], &[]);
    add_peer(&mut network, 5, &[1, 2, 3], &[]);
    network.send(vec![propose_cc(
        1,
        &joint("v4 v5 r2 r3", ConfChangeTransition::Explicit),
    )]);
    apply_committed(&mut network);
    for id in 1..=5 {
        let cs = conf(&network, id);
        assert_eq!(cs.voters, vec![1, 4, 5], "node {id}");
        assert_eq!(cs.voters_outgoing, vec![1, 2, 3], "node {id}");
    }

    // First the incoming half {1, 4, 5}, then the outgoing half {1, 2, 3}.
    for (cut, ackers) in [([4, 5], [2, 3]), ([2, 3], [4, 5])] {
        for id in cut {
            network.isolate(id);
        }
        network.send(vec![propose(1, "blocked")]);
        let last = network.peers[&1].raft_log.last_index();
        for id in ackers {
            assert_eq!(network.peers[&1].prs().get(id).unwrap().matched, last);
        }
        assert!(
            network.peers[&1].raft_log.committed < last,
            "committed without a quorum of one half (cut {cut:?})"
        );
        for _ in 0..5 {
            tick_and_send(&mut network, 1, 1);
        }
        assert!(network.peers[&1].raft_log.committed < last);

        network.recover();
        tick_and_send(&mut network, 1, 1);
        assert_eq!(
            network.peers[&1].raft_log.committed, last,
            "commit still blocked after the half (cut {cut:?}) recovered"
        );
        apply_committed(&mut network);
    }

    // After the leave, the old half no longer matters.
    network.send(vec![propose_cc(1, &ConfChangeV2::default())]);
    apply_committed(&mut network);
    assert_eq!(conf(&network, 1), conf_state(&[1, 4, 5], &[]));
    network.isolate(2);
    network.isolate(3);
    network.send(vec![propose(1, "x")]);
    let last = network.peers[&1].raft_log.last_index();
    assert_eq!(network.peers[&1].raft_log.committed, last);
}

// ---------------------------------------------------------------------------
// Adding and removing voters
// ---------------------------------------------------------------------------

// A new voter catches up, and then its acknowledgement is needed and
// counted: in a group of four, three acknowledgements commit, two do not.
#[test]
fn added_voter_catches_up_and_counts_toward_quorum() {
    let mut network = elected_and_applied(3);
    add_peer(&mut network, 4, &[1, 2, 3], &[]);
    network.send(vec![propose(1, "before")]);
    network.send(vec![propose_cc(1, &simple(AddNode, 4))]);
    apply_committed(&mut network);
    for id in 1..=4 {
        assert_eq!(
            conf(&network, id),
            conf_state(&[1, 2, 3, 4], &[]),
            "node {id}"
        );
    }
    assert_eq!(
        log_shape(&network.peers[&4].raft_log),
        log_shape(&network.peers[&1].raft_log)
    );
    assert!(network.peers[&4].promotable());

    network.isolate(3);
    network.send(vec![propose(1, "three of four")]);
    let last = network.peers[&1].raft_log.last_index();
    assert_eq!(network.peers[&1].raft_log.committed, last);
    assert_eq!(network.peers[&4].raft_log.last_index(), last);

    network.isolate(4);
    network.send(vec![propose(1, "two of four")]);
    let last = network.peers[&1].raft_log.last_index();
    assert!(network.peers[&1].raft_log.committed < last);
}

// Removing a voter shrinks the quorum: in {1, 2, 3, 4} two nodes cannot
// commit, in {1, 2, 3} they can.
#[test]
fn removed_voter_no_longer_counts_toward_quorum() {
    let mut network = elected_and_applied(4);
    network.send(vec![propose_cc(1, &simple(RemoveNode, 4))]);
    apply_committed(&mut network);
    for id in 1..=3 {
        assert_eq!(conf(&network, id), conf_state(&[1, 2, 3], &[]), "node {id}");
    }
    assert!(network.peers[&1].prs().get(4).is_none());

    network.isolate(3);
    network.isolate(4);
    network.send(vec![propose(1, "two of three")]);
    let last = network.peers[&1].raft_log.last_index();
    assert_eq!(network.peers[&1].raft_log.committed, last);
}

// An entry waiting on the node being removed commits as soon as the leader
// applies the removal (the quorum is recomputed then).
#[test]
fn pending_entry_commits_when_the_leader_applies_a_removal() {
    let mut network = elected_and_applied(2);
    network.send(vec![propose_cc(1, &simple(RemoveNode, 2))]);
    network.isolate(2);
    network.send(vec![propose(1, "waits for 2")]);
    let last = network.peers[&1].raft_log.last_index();
    assert!(network.peers[&1].raft_log.committed < last);

    apply_committed_on(&mut network, 1);
    assert_eq!(conf(&network, 1), conf_state(&[1], &[]));
    assert_eq!(network.peers[&1].raft_log.committed, last);
}

// A removed follower is no longer promotable and never campaigns, however
// long it goes without hearing from a leader.
#[test]
fn removed_follower_never_campaigns() {
    let mut network = elected_and_applied(3);
    network.send(vec![propose_cc(1, &simple(RemoveNode, 3))]);
    apply_committed(&mut network);
    let r = &network.peers[&3];
    assert!(!r.promotable());
    let term = r.term;

    network.isolate(3);
    let r = network.peers.get_mut(&3).unwrap();
    for _ in 0..10 * r.election_timeout() {
        r.tick();
    }
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.term, term);
    let sent = r.read_messages();
    assert!(sent.is_empty(), "removed node sent {sent:?}");
}

// etcd-io/etcd#11038: a leader that removes itself steps down once it applies
// the removal, stops heartbeating, never campaigns, and the rest elect a
// new leader that commits without it.
#[test]
fn removed_leader_steps_down_and_the_rest_elect_a_leader() {
    let mut network = elected_and_applied(3);
    network.send(vec![propose_cc(1, &simple(RemoveNode, 1))]);
    apply_committed(&mut network);
    for id in 1..=3 {
        assert_eq!(conf(&network, id), conf_state(&[2, 3], &[]), "node {id}");
    }
    assert_old_leader_retired(&mut network, 1);

    let leader = tick_until_leader(&mut network, &[2, 3]);
    network.send(vec![propose(leader, "after")]);
    let last = network.peers[&leader].raft_log.last_index();
    for id in [2, 3] {
        assert_eq!(network.peers[&id].raft_log.committed, last, "node {id}");
    }
    assert_eq!(network.peers[&1].state, StateRole::Follower);
    assert!(!network.peers[&1].promotable());
}

// A node demoted to learner stops campaigning but keeps receiving the log.
#[test]
fn demoted_follower_stops_campaigning_but_keeps_replicating() {
    let mut network = elected_and_applied(3);
    network.send(vec![propose_cc(1, &simple(AddLearnerNode, 3))]);
    apply_committed(&mut network);
    for id in 1..=3 {
        assert_eq!(conf(&network, id), conf_state(&[1, 2], &[3]), "node {id}");
    }
    assert!(!network.peers[&3].promotable());

    network.send(vec![propose(1, "still replicated")]);
    let last = network.peers[&1].raft_log.last_index();
    assert_eq!(network.peers[&3].raft_log.last_index(), last);

    network.isolate(3);
    let r = network.peers.get_mut(&3).unwrap();
    let term = r.term;
    for _ in 0..10 * r.election_timeout() {
        r.tick();
    }
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.term, term);
    assert!(of_type(&r.read_messages(), MessageType::MsgRequestVote).is_empty());
}

// A leader demoted to learner steps down; a voter takes over, and the old
// leader follows it as a learner.
#[test]
fn demoted_leader_steps_down_and_follows_as_learner() {
    let mut network = elected_and_applied(3);
    network.send(vec![propose_cc(1, &simple(AddLearnerNode, 1))]);
    apply_committed(&mut network);
    assert_eq!(conf(&network, 1), conf_state(&[2, 3], &[1]));
    assert_old_leader_retired(&mut network, 1);

    let leader = tick_until_leader(&mut network, &[2, 3]);
    network.send(vec![propose(leader, "to the learner too")]);
    let last = network.peers[&leader].raft_log.last_index();
    let learner = &network.peers[&1];
    assert_eq!(learner.raft_log.last_index(), last);
    assert_eq!(learner.leader_id, leader);
    assert_eq!(learner.state, StateRole::Follower);
}

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

// ---------------------------------------------------------------------------
// Replacing the leader through a joint configuration
// ---------------------------------------------------------------------------

// Enter a joint configuration that removes the leader and adds node 4; the
// leader keeps leading through it, leaves it automatically, then steps
// down; the new voters elect a leader and the old one goes quiet.
#[test]
fn leader_replaced_through_a_joint_configuration() {
    let mut network = elected_and_applied(3);
    add_peer(&mut network, 4, &[1, 2, 3], &[]);
    network.send(vec![propose_cc(
        1,
        &joint("r1 v4", ConfChangeTransition::Auto),
    )]);
    let enter = network.peers[&1].raft_log.last_index();

    apply_committed_on(&mut network, 1);
    let cs = conf(&network, 1);
    assert_eq!(
        (cs.voters, cs.voters_outgoing),
        (vec![2, 3, 4], vec![1, 2, 3])
    );
    assert_eq!(network.peers[&1].state, StateRole::Leader);
    assert!(is_leave_joint(&entry_at(&network, 1, enter + 1)));

    apply_committed(&mut network);
    for id in 1..=4 {
        assert_eq!(conf(&network, id), conf_state(&[2, 3, 4], &[]), "node {id}");
    }
    assert_old_leader_retired(&mut network, 1);

    let leader = tick_until_leader(&mut network, &[2, 3, 4]);
    network.send(vec![propose(leader, "new era")]);
    let last = network.peers[&leader].raft_log.last_index();
    for id in [2, 3, 4] {
        assert_eq!(network.peers[&id].raft_log.committed, last, "node {id}");
    }
    assert_ne!(network.peers[&1].state, StateRole::Leader);
    assert!(network.peers[&1].raft_log.last_index() < last);
}

// The same replacement with the Explicit transition: the removed leader
// leads until the application proposes the leave.
#[test]
fn leader_replaced_through_an_explicit_joint_configuration() {
    let mut network = elected_and_applied(3);
    add_peer(&mut network, 4, &[1, 2, 3], &[]);
    network.send(vec![propose_cc(
        1,
        &joint("r1 v4", ConfChangeTransition::Explicit),
    )]);
    apply_committed(&mut network);
    assert!(is_joint(&network, 1));
    assert_eq!(network.peers[&1].state, StateRole::Leader);
    // Still leading the joint group: entries commit.
    network.send(vec![propose(1, "joint")]);
    let last = network.peers[&1].raft_log.last_index();
    assert_eq!(network.peers[&4].raft_log.committed, last);

    network.send(vec![propose_cc(1, &ConfChangeV2::default())]);
    apply_committed(&mut network);
    assert_eq!(conf(&network, 1), conf_state(&[2, 3, 4], &[]));
    assert_old_leader_retired(&mut network, 1);
    tick_until_leader(&mut network, &[2, 3, 4]);
}

// The auto-leave through the RawNode API: an application that applies the
// enter-joint entry and calls `advance_apply` finds the leave in its next
// `Ready`, and ends in the new, non-joint configuration.
#[test]
fn raw_node_application_leaves_joint_automatically() {
    let store = new_storage(vec![1]);
    let mut node = TestRaft::builder(1).storage(store.clone()).raw_node();
    node.campaign().unwrap();
    let applied = drive_raw_node(&mut node, &store);
    assert_eq!(node.raft.state, StateRole::Leader);
    assert!(!applied.is_empty());

    node.propose_conf_change(vec![], joint("l2 l3", ConfChangeTransition::Auto))
        .unwrap();
    let applied = drive_raw_node(&mut node, &store);
    let kinds: Vec<bool> = applied
        .iter()
        .filter_map(decode_cc)
        .map(|cc| cc.leave_joint())
        .collect();
    assert_eq!(kinds, vec![false, true], "enter, then the automatic leave");
    assert_eq!(
        node.raft.prs().conf().to_conf_state(),
        conf_state(&[1], &[2, 3])
    );
    assert_eq!(
        store.initial_state().unwrap().conf_state,
        conf_state(&[1], &[2, 3])
    );
}

// ---------------------------------------------------------------------------
// Switches from etcd: StepDownOnRemoval, DisableConfChangeValidation
// ---------------------------------------------------------------------------

/// [`elected_and_applied`] with `config`.
fn elected_and_applied_with(config: &Config, n: usize) -> Network {
    let mut network = elected_with(config, n);
    apply_committed(&mut network);
    network
}

// Thesis §4.2.2: a leader removed from the configuration manages the group
// until the removal commits. With `step_down_on_removal` (the default) it
// then steps down; with it off it stays leader, as raft-rs 0.7 does,
// heartbeating the group (which keeps the others from campaigning) and
// refusing proposals, until the application hands leadership over.
#[test]
fn removed_leader_steps_down_only_with_step_down_on_removal() {
    assert!(Config::default().step_down_on_removal);
    for step_down in [true, false] {
        let config = Config {
            step_down_on_removal: step_down,
            check_quorum: true,
            ..Network::default_config()
        };
        let mut network = elected_and_applied_with(&config, 3);
        network.send(vec![propose_cc(1, &simple(RemoveNode, 1))]);
        apply_committed(&mut network);
        for id in 1..=3 {
            assert_eq!(conf(&network, id), conf_state(&[2, 3], &[]), "node {id}");
        }
        let old = network.peers.get_mut(&1).unwrap();
        if step_down {
            assert_eq!(old.state, StateRole::Follower);
            continue;
        }
        assert_eq!(old.state, StateRole::Leader, "step_down_on_removal off");
        assert!(!old.promotable());
        assert_eq!(
            old.step(propose(1, "refused")),
            Err(Error::ProposalDropped),
            "a leader outside the configuration cannot commit"
        );
        old.tick();
        let heartbeats = of_type(&old.read_messages(), MessageType::MsgHeartbeat);
        assert_eq!(heartbeats.iter().map(|m| m.to).collect::<Vec<_>>(), [2, 3]);

        // The application transfers leadership to a member. The new leader
        // does not talk to the removed node; with check quorum the members
        // answer its next heartbeats with their newer term, and it steps
        // down.
        let term = network.peers[&1].term;
        network.send(vec![new_message(2, 1, MessageType::MsgTransferLeader, 0)]);
        let new_leader = &network.peers[&2];
        assert_eq!(new_leader.state, StateRole::Leader);
        assert!(new_leader.term > term);
        network.send(vec![beat(1)]);
        let old = &network.peers[&1];
        assert_eq!(old.state, StateRole::Follower);
        assert_eq!(old.term, network.peers[&2].term);
        assert_eq!(leaders(&network), vec![2]);
        network.send(vec![propose(2, "after")]);
        let committed = network.peers[&2].raft_log.committed;
        assert_eq!(network.peers[&3].raft_log.committed, committed);
    }
}

// With `disable_conf_change_validation` the leader appends a second change
// while the first is unapplied, instead of replacing it by an empty entry
// (see `second_conf_change_before_first_is_applied_becomes_empty_entry` for
// the default); both apply, in order.
#[test]
fn disabled_validation_appends_a_second_pending_change() {
    let config = Config {
        disable_conf_change_validation: true,
        ..Network::default_config()
    };
    let mut network = elected_and_applied_with(&config, 3);
    let before = network.peers[&1].raft_log.last_index();
    network.send(vec![propose_cc(1, &simple(AddLearnerNode, 4))]);
    network.send(vec![propose_cc(1, &simple(AddLearnerNode, 5))]);
    let leader = &network.peers[&1];
    assert_eq!(leader.pending_conf_index, before + 2);
    for index in [before + 1, before + 2] {
        assert_eq!(
            entry_at(&network, 1, index).entry_type(),
            EntryType::EntryConfChange,
            "index {index}"
        );
    }
    apply_committed(&mut network);
    for id in 1..=3 {
        assert_eq!(
            conf(&network, id),
            conf_state(&[1, 2, 3], &[4, 5]),
            "node {id}"
        );
    }
}

// Joint changes that make no sense in order are appended when validation
// is off, and refused when applied: the Changer still checks each change
// against the configuration in force.
#[test]
fn disabled_validation_leaves_joint_checks_to_apply_time() {
    for disabled in [false, true] {
        let config = Config {
            disable_conf_change_validation: disabled,
            ..Network::default_config()
        };
        let mut network = elected_and_applied_with(&config, 3);
        let before = network.peers[&1].raft_log.last_index();
        let enter = joint("l4", ConfChangeTransition::Explicit);
        network.send(vec![propose_cc(1, &enter)]);
        apply_committed(&mut network);
        assert!(is_joint(&network, 1));

        // Entering again while joint.
        network.send(vec![propose_cc(
            1,
            &joint("l5", ConfChangeTransition::Explicit),
        )]);
        let second = entry_at(&network, 1, before + 2);
        if !disabled {
            assert_eq!(second.entry_type(), EntryType::EntryNormal);
            assert!(second.data.is_empty());
            continue;
        }
        assert_eq!(second.entry_type(), EntryType::EntryConfChangeV2);
        let cc = decode_cc(&second).unwrap();
        let r = network.peers.get_mut(&1).unwrap();
        match r.apply_conf_change(&cc) {
            Err(Error::ConfChangeError(msg)) => assert!(msg.contains("already joint"), "{msg}"),
            other => panic!("entering a joint configuration twice applied: {other:?}"),
        }
        assert!(r.prs().conf().voters().is_joint(), "nothing changed");
        assert!(!r.prs().conf().learners().contains(&5));
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A network of `n` voters with node 1 elected and its first entry applied.
/// [`test_util::elected`], with every committed entry applied on every node.
fn elected_and_applied(n: usize) -> Network {
    let mut network = elected(n);
    apply_committed(&mut network);
    network
}

/// A network whose nodes all start from the given voters and learners
/// (ids `1..=` the largest of them). No one is elected.
fn with_learners(voters: &[u64], learners: &[u64]) -> Network {
    let n = voters.iter().chain(learners).copied().max().unwrap_or(0);
    let peers = (1..=n)
        .map(|id| Some(new_peer(id, voters, learners)))
        .collect();
    Network::new(peers, &test_logger())
}

/// A fresh node `id` whose storage starts from the given configuration,
/// with the network's default config.
fn new_peer(id: u64, voters: &[u64], learners: &[u64]) -> Interface {
    TestRaft::builder(id)
        .voters(voters.iter().copied())
        .learners(learners.iter().copied())
        .build()
}

/// Adds a fresh node `id` to a running network. Its storage starts from
/// the group's initial configuration, so replaying the leader's log from
/// index 1 (configuration changes included) brings it up to date.
fn add_peer(network: &mut Network, id: u64, voters: &[u64], learners: &[u64]) {
    let peer = new_peer(id, voters, learners);
    network.storage.insert(id, peer.raft_log.store.clone());
    network.peers.insert(id, peer);
}

/// A simple (v1) change.
fn simple(change_type: ConfChangeType, node_id: u64) -> ConfChange {
    let mut cc = ConfChange::default();
    cc.set_change_type(change_type);
    cc.node_id = node_id;
    cc
}

/// A v2 change of the given changes (`"v4 l5 r1"`) and transition.
fn joint(changes: &str, transition: ConfChangeTransition) -> ConfChangeV2 {
    let mut cc = ConfChangeV2::default();
    cc.set_transition(transition);
    cc.changes = parse_conf_change(changes).expect("valid change list");
    cc
}

/// The entry an application proposes for `cc`: v1 in `EntryConfChange`, v2
/// in `EntryConfChangeV2`.
fn cc_entry(cc: &impl ConfChangeI) -> Entry {
    let mut e = Entry::default();
    match cc.as_v1() {
        Some(v1) => {
            e.set_entry_type(EntryType::EntryConfChange);
            e.data = v1.write_to_bytes().expect("encode ConfChange").into();
        }
        None => {
            e.set_entry_type(EntryType::EntryConfChangeV2);
            e.data = cc
                .as_v2()
                .write_to_bytes()
                .expect("encode ConfChangeV2")
                .into();
        }
    }
    e
}

/// A local proposal of `cc` to node `to`.
fn propose_cc(to: u64, cc: &impl ConfChangeI) -> Message {
    new_message_with_entries(to, to, MessageType::MsgPropose, vec![cc_entry(cc)])
}

/// The configuration change an entry carries, if it carries one.
fn decode_cc(e: &Entry) -> Option<ConfChangeV2> {
    match e.entry_type() {
        EntryType::EntryNormal => None,
        EntryType::EntryConfChange => Some(
            ConfChange::parse_from_bytes(&e.data)
                .unwrap_or_else(|err| panic!("entry {} holds a bad ConfChange: {err}", e.index))
                .into_v2(),
        ),
        EntryType::EntryConfChangeV2 => Some(
            ConfChangeV2::parse_from_bytes(&e.data)
                .unwrap_or_else(|err| panic!("entry {} holds a bad ConfChangeV2: {err}", e.index)),
        ),
    }
}

/// Whether `e` is the empty `EntryConfChangeV2` that leaves a joint
/// configuration.
fn is_leave_joint(e: &Entry) -> bool {
    e.entry_type() == EntryType::EntryConfChangeV2
        && decode_cc(e).is_some_and(|cc| cc.leave_joint())
}

/// How many leave-joint entries node `id`'s log holds.
fn count_leaves(network: &Network, id: u64) -> usize {
    network.peers[&id]
        .raft_log
        .all_entries()
        .iter()
        .filter(|e| is_leave_joint(e))
        .count()
}

/// Plays the application on node `id`: applies its committed entries
/// (configuration changes through `apply_conf_change`, which must
/// succeed), reports them applied with `commit_apply`, and persists what
/// that may have appended. Messages stay queued. Returns whether anything
/// was applied.
fn apply_committed_on(network: &mut Network, id: u64) -> bool {
    let Some(r) = network.peers.get_mut(&id).and_then(|p| p.raft.as_mut()) else {
        return false;
    };
    let Some(ents) = r.raft_log.next_entries(None) else {
        return false;
    };
    let Some(last) = ents.last().map(|e| e.index) else {
        return false;
    };
    for e in &ents {
        if let Some(cc) = decode_cc(e) {
            if let Err(err) = r.apply_conf_change(&cc) {
                panic!(
                    "node {id}: applying the conf change at index {} failed: {err:?} ({cc:?})",
                    e.index
                );
            }
        }
    }
    r.commit_apply(last);
    network.peers.get_mut(&id).unwrap().persist();
    true
}

/// Applies committed entries on every node and delivers what that causes,
/// until nothing is left to apply.
fn apply_committed(network: &mut Network) {
    for _ in 0..100 {
        let mut ids: Vec<u64> = network.peers.keys().copied().collect();
        ids.sort_unstable();
        let mut applied = false;
        for id in ids {
            applied |= apply_committed_on(network, id);
        }
        let msgs = network.read_messages();
        if !applied && msgs.is_empty() {
            return;
        }
        network.send(msgs);
    }
    panic!("applying committed entries did not settle");
}

/// Node `id`'s entry at `index`.
fn entry_at(network: &Network, id: u64, index: u64) -> Entry {
    network.peers[&id]
        .raft_log
        .all_entries()
        .into_iter()
        .find(|e| e.index == index)
        .unwrap_or_else(|| panic!("node {id} has no entry at {index}"))
}

/// Node `id`'s current configuration.
fn conf(network: &Network, id: u64) -> ConfState {
    network.peers[&id].prs().conf().to_conf_state()
}

/// Whether node `id` is in a joint configuration.
fn is_joint(network: &Network, id: u64) -> bool {
    network.peers[&id].prs().conf().voters().is_joint()
}

/// A non-joint configuration (id lists ascending).
fn conf_state(voters: &[u64], learners: &[u64]) -> ConfState {
    ConfState {
        voters: voters.to_vec(),
        learners: learners.to_vec(),
        ..Default::default()
    }
}

/// Asserts that the last entry of node 1's log is a refused change: an
/// empty normal entry.
fn assert_refused(network: &Network, index: u64) {
    let e = entry_at(network, 1, index);
    assert_eq!(e.entry_type(), EntryType::EntryNormal, "entry {index}");
    assert!(e.data.is_empty(), "entry {index} kept its payload");
}

/// Asserts that node `id`, a leader no longer among the voters, stepped
/// down and stays quiet: no heartbeats, no campaigns, whatever the ticks.
fn assert_old_leader_retired(network: &mut Network, id: u64) {
    let r = network.peers.get_mut(&id).unwrap();
    assert_eq!(r.state, StateRole::Follower, "node {id} still leads");
    assert!(!r.promotable());
    let term = r.term;
    for _ in 0..5 * r.election_timeout() {
        r.tick();
    }
    let sent = r.read_messages();
    assert!(sent.is_empty(), "retired leader {id} sent {sent:?}");
    assert_eq!(r.term, term);
    assert_eq!(r.state, StateRole::Follower);
}

/// Ticks every node until one of `candidates` leads; returns it.
fn tick_until_leader(network: &mut Network, candidates: &[u64]) -> u64 {
    for _ in 0..200 {
        tick_all_and_send(network);
        apply_committed(network);
        let found: Vec<u64> = leaders(network)
            .into_iter()
            .filter(|id| candidates.contains(id))
            .collect();
        if let [leader] = found[..] {
            return leader;
        }
    }
    panic!("none of {candidates:?} became leader");
}

/// Drives a single `RawNode` the way an application does until it has no
/// `Ready`: persist entries and hard state, advance, apply committed
/// entries (recording each new configuration in the storage), and report
/// them applied. Returns the entries applied.
fn drive_raw_node(node: &mut RawNode<MemStorage>, store: &MemStorage) -> Vec<Entry> {
    let mut applied = Vec::new();
    for _ in 0..100 {
        let Some(handled) = persist_and_advance(node, store) else {
            return applied;
        };
        let committed = handled.committed_entries();
        for e in &committed {
            if let Some(cc) = decode_cc(e) {
                let cs = node
                    .apply_conf_change(&cc)
                    .unwrap_or_else(|err| panic!("conf change at {}: {err:?}", e.index));
                store.wl().set_conf_state(cs);
            }
        }
        applied.extend(committed);
        node.advance_apply();
    }
    panic!("the node kept producing Ready");
}
