//! Membership changes in a running group (thesis chapter 4): one change
//! pending at a time, adding and removing voters, removed and demoted nodes,
//! and the etcd switches that change those rules. Joint consensus is in
//! `membership_joint.rs`, learners in `learners.rs`.
//!
//! The harness never applies entries; the helpers in `membership_util`
//! play the application: they read each node's committed entries, apply the
//! configuration changes among them with `apply_conf_change`, and report the
//! entries applied with `commit_apply`, as a driver does after `Ready`.

mod membership_util;
mod test_util;

use harness::*;
use membership_util::*;
use raft::eraftpb::*;
use raft::*;
use raft_proto::ConfChangeI;
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
