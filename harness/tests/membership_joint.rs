//! Joint consensus (thesis §4.3): entering and leaving a joint
//! configuration, automatically or explicitly, and replacing the leader
//! through one.
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
