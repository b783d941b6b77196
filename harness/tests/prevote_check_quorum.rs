//! Pre-vote (thesis §9.6), check quorum and leader stickiness (thesis
//! §6.2, §4.2.3).

mod test_util;

use harness::*;
use raft::eraftpb::*;
use raft::*;
use test_util::*;

fn pre_vote_node(id: u64, storage: raft::storage::MemStorage) -> Interface {
    TestRaft::builder(id)
        .voters([1, 2, 3])
        .storage(storage)
        .pre_vote(true)
        .build()
}

fn network_with(pre_vote: bool, check_quorum: bool) -> Network {
    let mut config = Network::default_config();
    config.pre_vote = pre_vote;
    config.check_quorum = check_quorum;
    Network::new_with_config(vec![None, None, None], &config, &test_logger())
}

fn pre_vote_request(from: u64, to: u64, term: u64, index: u64, log_term: u64) -> Message {
    let mut m = new_message(from, to, MessageType::MsgRequestPreVote, 0);
    m.term = term;
    m.index = index;
    m.log_term = log_term;
    m
}

// Thesis §9.6: a pre-candidate asks for votes at term + 1 without
// incrementing its own term or voting.
#[test]
fn pre_candidate_does_not_bump_term_or_vote() {
    let storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1, 2]), 2);
    let mut r = pre_vote_node(1, storage);
    r.step(hup(1)).unwrap();
    assert_eq!(r.state, StateRole::PreCandidate);
    assert_eq!(r.term, 2);
    assert_eq!(r.vote, INVALID_ID);
    assert_eq!(r.hard_state(), hard_state(2, 0, 0));
    let mut msgs = of_type(&r.read_messages(), MessageType::MsgRequestPreVote);
    msgs.sort_by_key(|m| m.to);
    assert_eq!(msgs.len(), 2);
    for m in msgs {
        assert_eq!((m.term, m.index, m.log_term), (3, 2, 2));
    }
}

// Thesis §9.6: granting a pre-vote changes neither the voter's term nor its
// recorded vote, and the grant carries the requested term.
#[test]
fn granting_pre_vote_is_not_recorded() {
    let mut r = pre_vote_node(2, new_storage(vec![1, 2, 3]));
    r.step(pre_vote_request(1, 2, 1, 0, 0)).unwrap();
    let resps = of_type(&r.read_messages(), MessageType::MsgRequestPreVoteResponse);
    assert_eq!(resps.len(), 1);
    assert!(!resps[0].reject);
    assert_eq!(resps[0].term, 1);
    assert_eq!((r.term, r.vote), (0, INVALID_ID));

    // A second pre-candidate at the same future term is granted too: no vote
    // was spent.
    r.step(pre_vote_request(3, 2, 1, 0, 0)).unwrap();
    let resps = of_type(&r.read_messages(), MessageType::MsgRequestPreVoteResponse);
    assert!(!resps[0].reject);
}

// Thesis §9.6 with §5.4.1: a pre-vote is refused to a pre-candidate whose
// log is behind.
#[test]
fn pre_vote_refused_to_stale_log() {
    let storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1, 2]), 2);
    let mut r = pre_vote_node(2, storage);
    r.step(pre_vote_request(1, 2, 3, 1, 1)).unwrap();
    let resps = of_type(&r.read_messages(), MessageType::MsgRequestPreVoteResponse);
    assert_eq!(resps.len(), 1);
    assert!(resps[0].reject);
    assert_eq!(r.term, 2);
}

// Thesis §9.6: a pre-vote majority turns the pre-candidate into a real
// candidate at term + 1.
#[test]
fn pre_vote_majority_starts_real_election() {
    let mut r = pre_vote_node(1, new_storage(vec![1, 2, 3]));
    r.step(hup(1)).unwrap();
    r.read_messages();
    let mut grant = new_message(2, 1, MessageType::MsgRequestPreVoteResponse, 0);
    grant.term = 1;
    r.step(grant).unwrap();
    assert_eq!(r.state, StateRole::Candidate);
    assert_eq!((r.term, r.vote), (1, 1));
    assert_eq!(
        of_type(&r.read_messages(), MessageType::MsgRequestVote).len(),
        2
    );
}

// A pre-vote request from a higher term does not move the receiver's term,
// even a leader's.
#[test]
fn pre_vote_request_does_not_change_receiver_term() {
    let mut r = pre_vote_node(1, new_storage(vec![1, 2, 3]));
    r.become_candidate();
    r.become_leader();
    r.step(pre_vote_request(2, 1, 5, 0, 0)).unwrap();
    assert_eq!(r.state, StateRole::Leader);
    assert_eq!(r.term, 1);
}

// A rejection from a higher term makes the pre-candidate a follower of that
// term, so its next pre-vote can succeed.
#[test]
fn pre_vote_rejection_with_higher_term_makes_follower() {
    let mut r = pre_vote_node(1, new_storage(vec![1, 2, 3]));
    r.step(hup(1)).unwrap();
    let mut reject = new_message(2, 1, MessageType::MsgRequestPreVoteResponse, 0);
    reject.term = 5;
    reject.reject = true;
    r.step(reject).unwrap();
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.term, 5);
}

fn isolate_tick_and_rejoin(network: &mut Network) {
    network.send(vec![hup(1)]);
    assert_eq!(leaders(network), vec![1]);
    network.isolate(3);
    // The leader moves on while 3 is away, so 3's log falls behind.
    network.send(vec![propose(1, "while 3 was away")]);
    for _ in 0..5 {
        tick_and_send(network, 3, 20);
    }
    network.recover();
    // 3 campaigns again now that it can reach the others.
    tick_and_send(network, 3, 20);
    network.send(vec![beat(1)]);
}

// Thesis §9.6: a partitioned node with pre-vote never increments its term,
// so when it rejoins the stable leader keeps its term and leadership.
#[test]
fn rejoining_partitioned_node_with_pre_vote_does_not_disrupt_leader() {
    let mut network = network_with(true, false);
    isolate_tick_and_rejoin(&mut network);
    assert_eq!(leaders(&network), vec![1]);
    for id in 1..=3 {
        assert_eq!(network.peers[&id].term, 1, "node {id}");
    }
    assert_eq!(network.peers[&3].state, StateRole::Follower);
    assert_eq!(network.peers[&3].leader_id, 1);
    assert_eq!(
        network.peers[&3].raft_log.last_index(),
        network.peers[&1].raft_log.last_index()
    );
}

// The same scenario without pre-vote: the rejoining node's inflated term
// deposes the leader. This is what the previous test guards against.
#[test]
fn rejoining_partitioned_node_without_pre_vote_bumps_term() {
    let mut network = network_with(false, false);
    isolate_tick_and_rejoin(&mut network);
    assert!(network.peers[&1].term > 1);
}

// Thesis §6.2: with check quorum, a leader that has not heard from a quorum
// for an election timeout steps down.
#[test]
fn leader_without_quorum_steps_down() {
    let mut network = network_with(false, true);
    network.send(vec![hup(1)]);
    assert_eq!(leaders(&network), vec![1]);
    network.isolate(1);
    // The first check after isolation may still count the answers heard
    // before it; by the second, nobody has answered.
    let election_timeout = network.peers[&1].election_timeout();
    for _ in 0..=2 * election_timeout {
        tick_and_send(&mut network, 1, 1);
    }
    assert_eq!(network.peers[&1].state, StateRole::Follower);
    assert_eq!(network.peers[&1].term, 1);
}

// Thesis §6.2: a leader that keeps hearing from a quorum stays leader.
#[test]
fn leader_with_quorum_stays_leader() {
    let mut network = network_with(false, true);
    network.send(vec![hup(1)]);
    // Node 3 is gone; 2 still answers.
    network.isolate(3);
    for _ in 0..100 {
        tick_and_send(&mut network, 1, 1);
        // Keep the followers from timing out: only the leader ticks.
    }
    assert_eq!(network.peers[&1].state, StateRole::Leader);
    assert_eq!(network.peers[&1].term, 1);
}

// Without check quorum the isolated leader stays leader forever: the step
// down above is the check's doing.
#[test]
fn isolated_leader_without_check_quorum_stays_leader() {
    let mut network = network_with(false, false);
    network.send(vec![hup(1)]);
    network.isolate(1);
    for _ in 0..100 {
        tick_and_send(&mut network, 1, 1);
    }
    assert_eq!(network.peers[&1].state, StateRole::Leader);
}

fn vote_request(from: u64, to: u64, term: u64, index: u64, log_term: u64) -> Message {
    let mut m = new_message(from, to, MessageType::MsgRequestVote, 0);
    m.term = term;
    m.index = index;
    m.log_term = log_term;
    m
}

// Thesis §4.2.3: a node that heard from a leader within the election
// timeout ignores vote requests (no term change, no answer) ...
#[test]
fn node_in_lease_ignores_vote_requests() {
    let mut network = network_with(false, true);
    network.send(vec![hup(1)]);
    let follower = network.peers.get_mut(&2).unwrap();
    assert_eq!(follower.leader_id, 1);
    let (last, last_term) = (
        follower.raft_log.last_index(),
        follower.raft_log.last_term(),
    );
    follower
        .step(vote_request(3, 2, 2, last, last_term))
        .unwrap();
    assert_eq!(follower.term, 1);
    assert_eq!(follower.vote, 1);
    assert_eq!(follower.leader_id, 1);
    assert!(follower.read_messages().is_empty());
}

// ... except requests of a leader transfer (context CAMPAIGN_TRANSFER).
#[test]
fn node_in_lease_grants_transfer_vote_requests() {
    let mut network = network_with(false, true);
    network.send(vec![hup(1)]);
    let follower = network.peers.get_mut(&2).unwrap();
    let (last, last_term) = (
        follower.raft_log.last_index(),
        follower.raft_log.last_term(),
    );
    let mut m = vote_request(3, 2, 2, last, last_term);
    m.context = CAMPAIGN_TRANSFER.to_vec().into();
    follower.step(m).unwrap();
    assert_eq!(follower.term, 2);
    assert_eq!(follower.vote, 3);
    let resps = of_type(
        &follower.read_messages(),
        MessageType::MsgRequestVoteResponse,
    );
    assert_eq!(resps.len(), 1);
    assert!(!resps[0].reject);
}

// Leader stickiness only holds with check quorum: without it, the same
// request is granted.
#[test]
fn node_without_check_quorum_grants_higher_term_vote() {
    let mut network = network_with(false, false);
    network.send(vec![hup(1)]);
    let follower = network.peers.get_mut(&2).unwrap();
    let (last, last_term) = (
        follower.raft_log.last_index(),
        follower.raft_log.last_term(),
    );
    follower
        .step(vote_request(3, 2, 2, last, last_term))
        .unwrap();
    assert_eq!((follower.term, follower.vote), (2, 3));
}

// Thesis §9.6 with check quorum: pre-votes are ignored by nodes in lease, so
// a pre-candidate cannot even get its pre-vote through while the leader is
// alive.
#[test]
fn pre_vote_ignored_by_node_in_lease() {
    let mut network = network_with(true, true);
    network.send(vec![hup(1)]);
    let follower = network.peers.get_mut(&2).unwrap();
    let (last, last_term) = (
        follower.raft_log.last_index(),
        follower.raft_log.last_term(),
    );
    follower
        .step(pre_vote_request(3, 2, 2, last, last_term))
        .unwrap();
    assert!(follower.read_messages().is_empty());
    assert_eq!(follower.term, 1);
}
