//! Proposals: the leader appends them, followers forward them, and they are
//! dropped (ProposalDropped) when no leader can take them.

mod test_util;

use harness::*;
use raft::eraftpb::*;
use raft::*;
use test_util::*;

// §5.3: the leader appends a proposal to its log at its own term.
#[test]
fn leader_appends_proposal_at_its_term() {
    let mut network = elected(3);
    let leader = network.peers.get_mut(&1).unwrap();
    leader.step(propose(1, "x")).unwrap();
    let last = leader.raft_log.all_entries().last().cloned().unwrap();
    assert_eq!((last.index, last.term), (2, 1));
    assert_eq!(&last.data[..], b"x");
}

// A proposal reaches the log of every node and commits, from whichever
// node it was made on.
#[test]
fn proposal_commits_on_every_node() {
    for proposer in 1..=3 {
        let mut network = elected(3);
        network.send(vec![propose(proposer, "x")]);
        for id in 1..=3 {
            let log = &network.peers[&id].raft_log;
            assert_eq!(log.committed, 2, "proposer {proposer}, node {id}");
            let e = log.all_entries().last().cloned().unwrap();
            assert_eq!(&e.data[..], b"x");
        }
    }
}

// A follower with a known leader forwards proposals to it.
#[test]
fn follower_forwards_proposal_to_leader() {
    let mut network = elected(3);
    let follower = network.peers.get_mut(&2).unwrap();
    follower.step(propose(2, "x")).unwrap();
    let forwarded = of_type(&follower.read_messages(), MessageType::MsgPropose);
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].to, 1);
    assert_eq!(&forwarded[0].entries[0].data[..], b"x");
    assert_eq!(
        follower.raft_log.last_index(),
        1,
        "followers do not append proposals"
    );
}

// With forwarding disabled, a follower drops the proposal and says so.
#[test]
fn follower_drops_proposal_when_forwarding_is_disabled() {
    let mut config = Network::default_config();
    config.disable_proposal_forwarding = true;
    let mut network = Network::new_with_config(vec![None, None, None], &config, &test_logger());
    network.send(vec![hup(1)]);
    let follower = network.peers.get_mut(&2).unwrap();
    assert_eq!(follower.step(propose(2, "x")), Err(Error::ProposalDropped));
    assert!(follower.read_messages().is_empty());
}

// No leader, no proposal: followers without a leader, pre-candidates and
// candidates drop proposals.
#[test]
fn proposal_dropped_without_leader() {
    type Setup = fn(&mut Interface);
    let setups: Vec<(&str, Setup)> = vec![
        ("follower", |_| {}),
        ("pre-candidate", |r| r.become_pre_candidate()),
        ("candidate", |r| r.become_candidate()),
    ];
    for (role, setup) in setups {
        let mut r = TestRaft::builder(1).voters([1, 2, 3]).build();
        setup(&mut r);
        let last = r.raft_log.last_index();
        assert_eq!(
            r.step(propose(1, "x")),
            Err(Error::ProposalDropped),
            "{role}"
        );
        assert_eq!(r.raft_log.last_index(), last, "{role}");
        assert!(of_type(&r.read_messages(), MessageType::MsgPropose).is_empty());
    }
}

// Proposals only commit in a group that can elect a leader.
#[test]
fn proposal_commits_only_where_a_majority_is_up() {
    let l = test_logger();
    let cases = vec![
        (vec![None, None, None], true),
        (vec![None, None, nop()], true),
        (vec![None, nop(), nop()], false),
        (vec![None, nop(), nop(), None], false),
        (vec![None, nop(), nop(), None, None], true),
    ];
    for (i, (peers, commits)) in cases.into_iter().enumerate() {
        let mut network = Network::new(peers, &l);
        network.send(vec![hup(1)]);
        network.send(vec![propose(1, "x")]);
        let committed = network.peers[&1].raft_log.committed;
        assert_eq!(committed == 2, commits, "case {i}: committed {committed}");
    }
}

// A leader transferring leadership drops proposals: they would be lost when
// the transferee takes over.
#[test]
fn proposal_dropped_during_leader_transfer() {
    let mut network = elected(3);
    network.isolate(3);
    network.send(vec![new_message(3, 1, MessageType::MsgTransferLeader, 0)]);
    let leader = network.peers.get_mut(&1).unwrap();
    assert_eq!(leader.lead_transferee, Some(3));
    assert_eq!(leader.step(propose(1, "x")), Err(Error::ProposalDropped));
}

fn limited_leader(limit: u64) -> Network {
    let mut config = Network::default_config();
    config.max_uncommitted_size = limit;
    config.max_size_per_msg = 0;
    let mut network = Network::new_with_config(vec![None, None, None], &config, &test_logger());
    network.send(vec![hup(1)]);
    network
}

// max_uncommitted_size: proposals are dropped while the uncommitted tail is
// over the limit, and accepted again once it commits.
#[test]
fn proposals_dropped_past_uncommitted_limit_then_accepted_after_commit() {
    let mut network = limited_leader(100);
    network.isolate(2);
    network.isolate(3);
    let payload = "x".repeat(30);
    let leader = network.peers.get_mut(&1).unwrap();
    let mut accepted = 0;
    while leader.step(propose(1, &payload)).is_ok() {
        accepted += 1;
        assert!(accepted < 10, "the limit never held");
    }
    assert!(
        (2..=4).contains(&accepted),
        "{accepted} proposals of 30 bytes"
    );
    assert_eq!(
        leader.step(propose(1, &payload)),
        Err(Error::ProposalDropped)
    );

    network.recover();
    network.send(vec![beat(1)]);
    let leader = network.peers.get_mut(&1).unwrap();
    let committed = leader.raft_log.committed;
    assert_eq!(committed, leader.raft_log.last_index());
    // What a driver does when handing committed entries to the application.
    let entries = leader.raft_log.all_entries();
    leader.reduce_uncommitted_size(&entries);
    assert_eq!(leader.uncommitted_size(), 0);
    assert!(leader.step(propose(1, &payload)).is_ok());
}
