//! Leadership transfer (thesis §3.10): MsgTransferLeader, catch-up, then
//! MsgTimeoutNow; aborts on timeout or removal of the transferee.

mod test_util;

use harness::*;
use raft::eraftpb::*;
use raft::*;
use raft_proto::new_conf_change_single;
use test_util::*;

fn elected_with(check_quorum: bool) -> Network {
    let mut config = Network::default_config();
    config.check_quorum = check_quorum;
    let mut network = Network::new_with_config(vec![None, None, None], &config, &test_logger());
    network.send(vec![hup(1)]);
    assert_eq!(leaders(&network), vec![1]);
    network
}

/// A request, made to `to`, that `transferee` become leader.
fn transfer(transferee: u64, to: u64) -> Message {
    new_message(transferee, to, MessageType::MsgTransferLeader, 0)
}

// Thesis §3.10: an up-to-date transferee is told to time out at once and
// wins, even through leader stickiness (its requests carry
// CAMPAIGN_TRANSFER).
#[test]
fn transfer_to_up_to_date_follower() {
    for check_quorum in [false, true] {
        let mut network = elected_with(check_quorum);
        network.send(vec![transfer(2, 1)]);
        assert_eq!(leaders(&network), vec![2], "check_quorum {check_quorum}");
        let old = &network.peers[&1];
        assert_eq!(old.state, StateRole::Follower);
        assert_eq!((old.term, old.leader_id), (2, 2));
        assert_eq!(old.lead_transferee, None);
    }
}

// Thesis §3.10: a lagging transferee is first brought up to date; only then
// does the leader send MsgTimeoutNow.
#[test]
fn transfer_to_lagging_follower_catches_it_up_first() {
    let mut network = elected_with(false);
    network.isolate(3);
    network.send(vec![propose(1, "a"), propose(1, "b")]);
    network.recover();
    let leader_last = network.peers[&1].raft_log.last_index();

    let traffic = send_observed(&mut network, vec![transfer(3, 1)]);
    let timeout_now = traffic
        .iter()
        .position(|m| m.msg_type() == MessageType::MsgTimeoutNow)
        .expect("MsgTimeoutNow sent");
    assert_eq!(traffic[timeout_now].to, 3);
    let caught_up = traffic.iter().position(|m| {
        m.msg_type() == MessageType::MsgAppendResponse
            && m.from == 3
            && !m.reject
            && m.index == leader_last
    });
    assert!(
        caught_up.is_some_and(|p| p < timeout_now),
        "MsgTimeoutNow went out before 3 held the leader's log: {traffic:?}"
    );
    assert_eq!(leaders(&network), vec![3]);
}

// The transferee campaigns at once on MsgTimeoutNow, with the transfer
// context.
#[test]
fn timeout_now_makes_transferee_campaign_immediately() {
    let mut network = elected_with(true);
    let follower = network.peers.get_mut(&2).unwrap();
    let mut m = new_message(1, 2, MessageType::MsgTimeoutNow, 0);
    m.term = 1;
    follower.step(m).unwrap();
    assert_eq!(follower.state, StateRole::Candidate);
    assert_eq!(follower.term, 2);
    let requests = of_type(&follower.read_messages(), MessageType::MsgRequestVote);
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|m| &m.context[..] == CAMPAIGN_TRANSFER));
}

// Thesis §3.10: a transfer that does not finish within an election timeout
// is aborted and the leader serves again.
#[test]
fn transfer_aborts_after_election_timeout() {
    let mut network = elected_with(false);
    network.isolate(3);
    network.send(vec![transfer(3, 1)]);
    let leader = network.peers.get_mut(&1).unwrap();
    assert_eq!(leader.lead_transferee, Some(3));
    for _ in 0..leader.election_timeout() {
        leader.tick();
    }
    assert_eq!(leader.lead_transferee, None);
    assert_eq!(leader.state, StateRole::Leader);
    assert!(leader.step(propose(1, "x")).is_ok());
}

// Removing the transferee from the group aborts the transfer.
#[test]
fn transfer_aborts_when_transferee_is_removed() {
    let mut network = elected_with(false);
    network.isolate(3);
    network.send(vec![transfer(3, 1)]);
    let leader = network.peers.get_mut(&1).unwrap();
    assert_eq!(leader.lead_transferee, Some(3));
    let mut cc = ConfChangeV2::default();
    cc.changes
        .push(new_conf_change_single(3, ConfChangeType::RemoveNode));
    leader.apply_conf_change(&cc).unwrap();
    assert_eq!(leader.lead_transferee, None);
}

// A transfer to the leader itself, or to a node outside the group, changes
// nothing.
#[test]
fn transfer_to_self_or_stranger_is_ignored() {
    let mut network = elected_with(false);
    network.send(vec![transfer(1, 1)]);
    let leader = network.peers.get_mut(&1).unwrap();
    assert_eq!(leader.lead_transferee, None);
    assert_eq!(leader.state, StateRole::Leader);
    leader.step(transfer(9, 1)).unwrap();
    assert_eq!(leader.lead_transferee, None);
    assert!(leader.read_messages().is_empty());
    assert_eq!(leaders(&network), vec![1]);
}

// A new transfer to another node replaces a pending one.
#[test]
fn second_transfer_to_another_node_replaces_pending_one() {
    let mut network = elected_with(false);
    network.isolate(3);
    network.send(vec![transfer(3, 1)]);
    assert_eq!(network.peers[&1].lead_transferee, Some(3));
    network.send(vec![transfer(2, 1)]);
    assert_eq!(leaders(&network), vec![2]);
}

// A follower passes a transfer request on to its leader.
#[test]
fn follower_forwards_transfer_request_to_leader() {
    let mut network = elected_with(false);
    network.send(vec![transfer(2, 2)]);
    assert_eq!(leaders(&network), vec![2]);
    assert_eq!(network.peers[&2].term, 2);
}
