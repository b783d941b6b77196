//! Elections: terms and votes (§5.1, §5.2), the election restriction
//! (§5.4.1), randomized timeouts, priorities, and who may campaign.

mod test_util;

use harness::*;
use raft::eraftpb::*;
use raft::*;
use test_util::*;

fn vote_request(from: u64, to: u64, term: u64, index: u64, log_term: u64) -> Message {
    let mut m = new_message(from, to, MessageType::MsgRequestVote, 0);
    m.term = term;
    m.index = index;
    m.log_term = log_term;
    m
}

/// The single vote response in `msgs`, as `(to, term, rejected)`.
fn vote_response(msgs: &[Message]) -> (u64, u64, bool) {
    let resps = of_type(msgs, MessageType::MsgRequestVoteResponse);
    assert_eq!(resps.len(), 1, "expected one vote response in {msgs:?}");
    (resps[0].to, resps[0].term, resps[0].reject)
}

fn three_node(id: u64) -> Interface {
    TestRaft::builder(id).voters([1, 2, 3]).build()
}

// §5.2: a candidate wins with votes from a majority of the full group, and
// only then.
#[test]
fn candidate_needs_majority_of_whole_group() {
    let l = test_logger();
    for pre_vote in [false, true] {
        let mut config = Network::default_config();
        config.pre_vote = pre_vote;
        let losing = if pre_vote {
            (StateRole::PreCandidate, 0)
        } else {
            (StateRole::Candidate, 1)
        };
        let cases = vec![
            (vec![None, None, None], (StateRole::Leader, 1)),
            (vec![None, None, nop()], (StateRole::Leader, 1)),
            (vec![None, nop(), nop()], losing),
            (vec![None, nop(), nop(), None], losing),
            (vec![None, nop(), nop(), None, None], (StateRole::Leader, 1)),
        ];
        for (i, (peers, (state, term))) in cases.into_iter().enumerate() {
            let mut network = Network::new_with_config(peers, &config, &l);
            network.send(vec![hup(1)]);
            let node = &network.peers[&1];
            assert_eq!(node.state, state, "case {i}, pre_vote {pre_vote}");
            assert_eq!(node.term, term, "case {i}, pre_vote {pre_vote}");
        }
    }
}

// §5.1: a node in any role that sees a higher term from a leader becomes its
// follower at that term.
#[test]
fn higher_term_append_makes_every_role_a_follower() {
    type Setup = fn(&mut Interface);
    let setups: Vec<(&str, Setup)> = vec![
        ("follower", |_| {}),
        ("pre-candidate", |r| r.become_pre_candidate()),
        ("candidate", |r| r.become_candidate()),
        ("leader", |r| {
            r.become_candidate();
            r.become_leader();
        }),
    ];
    for (role, setup) in setups {
        let mut r = three_node(1);
        setup(&mut r);
        let term = r.term + 1;
        let mut m = new_message(2, 1, MessageType::MsgAppend, 0);
        m.term = term;
        r.step(m).unwrap();
        assert_eq!(r.state, StateRole::Follower, "{role}");
        assert_eq!(r.term, term, "{role}");
        assert_eq!(r.leader_id, 2, "{role}");
    }
}

// §5.1: a higher-term vote request also turns a leader into a follower, but
// names no leader.
#[test]
fn higher_term_vote_request_makes_leader_a_follower_without_leader() {
    let mut r = three_node(1);
    r.become_candidate();
    r.become_leader();
    let last = r.raft_log.last_index();
    let last_term = r.raft_log.last_term();
    r.step(vote_request(2, 1, 5, last, last_term)).unwrap();
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.term, 5);
    assert_eq!(r.leader_id, INVALID_ID);
    assert_eq!(r.vote, 2);
}

// §5.1: a message with a stale term changes neither the log nor the term
// nor the known leader.
#[test]
fn lower_term_append_is_not_applied() {
    let mut r = three_node(1);
    r.become_follower(5, 2);
    let mut m = new_message_with_entries(3, 1, MessageType::MsgAppend, vec![empty_entry(3, 1)]);
    m.term = 3;
    m.commit = 1;
    r.step(m).unwrap();
    assert_eq!(r.term, 5);
    assert_eq!(r.leader_id, 2);
    assert_eq!(r.raft_log.last_index(), 0);
    assert_eq!(r.raft_log.committed, 0);
}

// §5.1 ("if the term is out of date, the receiver rejects"): a stale leader
// is told the current term so it steps down instead of waiting forever,
// with or without check quorum and pre-vote. raft-rs 0.7 answers only with
// one of them on; without, a member that missed configuration changes
// campaigns only towards its stale configuration and never hears from the
// leader's group again (simulator seed 10051259).
#[test]
fn lower_term_append_is_answered_with_current_term() {
    for (check_quorum, pre_vote) in [(true, false), (false, true), (false, false)] {
        let mut r = TestRaft::builder(1)
            .voters([1, 2, 3])
            .check_quorum(check_quorum)
            .pre_vote(pre_vote)
            .build();
        r.become_follower(5, 2);
        for msg_type in [MessageType::MsgAppend, MessageType::MsgHeartbeat] {
            let mut m = new_message(3, 1, msg_type, 0);
            m.term = 3;
            r.step(m).unwrap();
            let msgs = r.read_messages();
            let resps = of_type(&msgs, MessageType::MsgAppendResponse);
            assert_eq!(resps.len(), 1, "{msgs:?}");
            assert_eq!(resps[0].to, 3);
            assert_eq!(resps[0].term, 5);
            assert_eq!(r.term, 5);
        }
    }
}

// §5.1: a stale vote request does not change the voter's term or vote.
#[test]
fn lower_term_vote_request_is_not_granted() {
    let mut r = three_node(1);
    r.become_follower(5, INVALID_ID);
    r.step(vote_request(2, 1, 4, 10, 4)).unwrap();
    assert_eq!(r.term, 5);
    assert_eq!(r.vote, INVALID_ID);
    let granted = r
        .read_messages()
        .iter()
        .any(|m| m.msg_type() == MessageType::MsgRequestVoteResponse && !m.reject);
    assert!(!granted);
}

// §5.2: each server votes for at most one candidate in a term, but repeats
// its vote for the same candidate.
#[test]
fn one_vote_per_term() {
    let mut r = three_node(1);
    r.step(vote_request(2, 1, 1, 0, 0)).unwrap();
    assert_eq!(vote_response(&r.read_messages()), (2, 1, false));
    assert_eq!((r.term, r.vote), (1, 2));

    r.step(vote_request(3, 1, 1, 0, 0)).unwrap();
    assert_eq!(vote_response(&r.read_messages()), (3, 1, true));
    assert_eq!(r.vote, 2);

    r.step(vote_request(2, 1, 1, 0, 0)).unwrap();
    assert_eq!(vote_response(&r.read_messages()), (2, 1, false));

    // A new term frees the vote.
    r.step(vote_request(3, 1, 2, 0, 0)).unwrap();
    assert_eq!(vote_response(&r.read_messages()), (3, 2, false));
    assert_eq!((r.term, r.vote), (2, 3));
}

// §5.2: a follower that knows the leader of the term does not vote for
// someone else in that term.
#[test]
fn follower_with_known_leader_does_not_vote_in_same_term() {
    let mut r = three_node(1);
    r.become_follower(1, 2);
    r.step(vote_request(3, 1, 1, 0, 0)).unwrap();
    assert_eq!(vote_response(&r.read_messages()), (3, 1, true));
    assert_eq!(r.vote, INVALID_ID);
}

// §5.4.1: a vote goes only to a candidate whose log is at least as
// up-to-date: a higher last term wins, and for equal last terms the longer
// log.
#[test]
fn vote_only_for_up_to_date_candidates() {
    // The voter's log: 1@1 2@2.
    let cases = [
        // (candidate last index, candidate last term, granted)
        (2, 2, true),
        (3, 2, true),
        (1, 2, false),
        (1, 1, false),
        (3, 1, false),
        (10, 1, false),
        (1, 3, true),
        (0, 3, true),
    ];
    for (index, log_term, granted) in cases {
        let storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1, 2]), 2);
        let mut r = TestRaft::builder(1)
            .voters([1, 2, 3])
            .storage(storage)
            .build();
        r.step(vote_request(2, 1, 3, index, log_term)).unwrap();
        let (_, term, rejected) = vote_response(&r.read_messages());
        assert_eq!(
            rejected, !granted,
            "candidate at {index}@{log_term}, voter log 1@1 2@2"
        );
        assert_eq!(term, 3);
        assert_eq!(r.vote, if granted { 2 } else { INVALID_ID });
    }
}

// §5.2: term and vote are one hard state, visible as soon as they change.
#[test]
fn hard_state_reflects_term_vote_and_commit() {
    let mut r = three_node(1);
    assert_eq!(r.hard_state(), hard_state(0, 0, 0));
    r.step(vote_request(2, 1, 4, 0, 0)).unwrap();
    assert_eq!(r.hard_state(), hard_state(4, 0, 2));
    r.persist();
    let stored = r.raft_log.store.initial_state().unwrap().hard_state;
    assert_eq!(stored, hard_state(4, 0, 2));
}

// §5.2: a campaign increments the term, votes for itself and asks every
// other voter with its last index and term.
#[test]
fn campaign_bumps_term_votes_for_self_and_asks_peers() {
    let storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1, 2]), 2);
    let mut r = TestRaft::builder(1)
        .voters([1, 2, 3])
        .storage(storage)
        .build();
    r.step(hup(1)).unwrap();
    assert_eq!(r.state, StateRole::Candidate);
    assert_eq!((r.term, r.vote), (3, 1));
    let mut msgs = of_type(&r.read_messages(), MessageType::MsgRequestVote);
    msgs.sort_by_key(|m| m.to);
    assert_eq!(msgs.iter().map(|m| m.to).collect::<Vec<_>>(), vec![2, 3]);
    for m in msgs {
        assert_eq!((m.term, m.index, m.log_term), (3, 2, 2));
    }
}

// §5.2: a candidate that hears from the leader of its term steps down.
#[test]
fn candidate_steps_down_on_append_from_leader_of_same_term() {
    let mut r = three_node(1);
    r.become_candidate();
    let mut m = new_message(2, 1, MessageType::MsgAppend, 0);
    m.term = r.term;
    r.step(m).unwrap();
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.term, 1);
    assert_eq!(r.leader_id, 2);
}

// §5.2: a candidate rejected by a majority gives up the election.
#[test]
fn candidate_rejected_by_majority_becomes_follower() {
    let mut r = three_node(1);
    r.become_candidate();
    let mut reject = new_message(2, 1, MessageType::MsgRequestVoteResponse, 0);
    reject.term = 1;
    reject.reject = true;
    r.step(reject.clone()).unwrap();
    assert_eq!(
        r.state,
        StateRole::Candidate,
        "one rejection is not a majority"
    );
    reject.from = 3;
    r.step(reject).unwrap();
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.term, 1);
}

fn split_vote_network() -> Network {
    let l = test_logger();
    let mut network = Network::new(vec![None, None, None, None], &l);
    // 2 only hears 1, 4 only hears 3: 1 and 3 each get two of four votes.
    network.cut(1, 4);
    network.cut(3, 2);
    network.dispatch(vec![hup(1), hup(3)]).unwrap();
    let msgs = network.read_messages();
    network.send(msgs);
    network
}

// §5.2: split votes resolve because each node draws its own randomized
// election timeout (here from its own seed).
#[test]
fn split_vote_resolves_through_randomized_timeouts() {
    let mut network = split_vote_network();
    assert_eq!(network.peers[&1].state, StateRole::Candidate);
    assert_eq!(network.peers[&3].state, StateRole::Candidate);
    assert!(leaders(&network).is_empty());

    let timeouts: Vec<usize> = (1..=4)
        .map(|id| network.peers[&id].randomized_election_timeout())
        .collect();
    assert!(
        timeouts.iter().any(|&t| t != timeouts[0]),
        "seeded nodes drew the same timeouts: {timeouts:?}"
    );

    network.recover();
    let mut rounds = 0;
    while leaders(&network).is_empty() {
        rounds += 1;
        assert!(rounds <= 200, "no leader after 200 ticks");
        tick_all_and_send(&mut network);
    }
    let leader = leaders(&network);
    assert_eq!(leader.len(), 1);
    assert!(network.peers[&leader[0]].term >= 2);
}

// Elections replay exactly: same seeds, same winner, same term.
#[test]
fn split_vote_resolution_is_deterministic() {
    let run = || {
        let mut network = split_vote_network();
        network.recover();
        for _ in 0..200 {
            if !leaders(&network).is_empty() {
                break;
            }
            tick_all_and_send(&mut network);
        }
        let leader = leaders(&network);
        (leader.clone(), network.peers[&leader[0]].term)
    };
    assert_eq!(run(), run());
}

// The randomized election timeout lies in [min, max) and is a function of
// the seed.
#[test]
fn randomized_timeout_is_seeded_and_in_range() {
    let draws = |seed: u64| {
        let mut r = TestRaft::builder(1)
            .voters([1, 2, 3])
            .configure(|c| c.rng_seed = Some(seed))
            .build();
        (0..50)
            .map(|_| {
                r.reset_randomized_election_timeout();
                r.randomized_election_timeout()
            })
            .collect::<Vec<_>>()
    };
    let a = draws(7);
    assert_eq!(a, draws(7));
    assert_ne!(a, draws(8));
    assert!(a.iter().all(|&t| (10..20).contains(&t)), "{a:?}");
    assert!(a.iter().any(|&t| t != a[0]), "{a:?}");
}

// A follower campaigns once its randomized election timeout has passed
// without hearing from a leader, and not before.
#[test]
fn follower_campaigns_after_randomized_timeout() {
    let mut r = three_node(1);
    let timeout = r.randomized_election_timeout();
    for _ in 0..timeout - 1 {
        r.tick();
    }
    assert_eq!(r.state, StateRole::Follower);
    r.tick();
    assert_eq!(r.state, StateRole::Candidate);
    assert_eq!(r.term, 1);
}

// Learners replicate but never campaign.
#[test]
fn learner_never_campaigns() {
    let mut r = TestRaft::builder(2).voters([1]).learners([2]).build();
    assert!(!r.promotable());
    for _ in 0..100 {
        r.tick();
    }
    r.step(hup(2)).unwrap();
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.term, 0);
    assert!(of_type(&r.read_messages(), MessageType::MsgRequestVote).is_empty());
}

// A node that is not in the configuration (removed) never campaigns.
#[test]
fn removed_node_never_campaigns() {
    let mut r = TestRaft::builder(1).voters([2, 3]).build();
    assert!(!r.promotable());
    for _ in 0..100 {
        r.tick();
    }
    r.step(hup(1)).unwrap();
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.term, 0);
    assert!(r.read_messages().is_empty());
}

// Priority: a voter refuses a candidate of lower priority unless the
// candidate's log is longer than its own.
#[test]
fn voter_refuses_lower_priority_candidate_with_no_longer_log() {
    let cases = [
        // (candidate priority, candidate last index, granted)
        (1, 1, false),
        (1, 2, true),
        (3, 1, true),
        (5, 1, true),
    ];
    for (priority, index, granted) in cases {
        let storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1]), 1);
        let mut r = TestRaft::builder(1).priority(3).storage(storage).build();
        let mut m = vote_request(2, 1, 2, index, 1);
        m.priority = priority;
        r.step(m).unwrap();
        let (_, _, rejected) = vote_response(&r.read_messages());
        assert_eq!(rejected, !granted, "priority {priority}, index {index}");
    }
}

// A voter holding a longer log of an older term must not refuse a
// lower-priority candidate whose log is more up to date by §5.4.1 (a later
// last term): that candidate may be the only one a quorum can elect, and
// comparing lengths alone (as raft-rs 0.7 does) stalls the group for good.
// Found by the seeded simulator (seeds 3001337 and 3007685).
#[test]
fn lower_priority_candidate_with_a_later_last_term_is_granted() {
    let cases = [
        // (candidate last index, candidate last term, granted)
        (2, 2, true),  // shorter, but a later term: more up to date
        (3, 1, false), // same term, same length: not strictly newer
        (4, 1, true),  // same term, longer
        (2, 1, false), // shorter, same term: not even up to date
    ];
    for (index, log_term, granted) in cases {
        let storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1, 1, 1]), 2);
        let mut r = TestRaft::builder(1).priority(3).storage(storage).build();
        let mut m = vote_request(2, 1, 3, index, log_term);
        m.priority = 1;
        r.step(m).unwrap();
        let (_, _, rejected) = vote_response(&r.read_messages());
        assert_eq!(rejected, !granted, "index {index}, log term {log_term}");
    }
}

#[test]
fn vote_response_type_matches_request_type() {
    assert_eq!(
        vote_resp_msg_type(MessageType::MsgRequestVote),
        MessageType::MsgRequestVoteResponse
    );
    assert_eq!(
        vote_resp_msg_type(MessageType::MsgRequestPreVote),
        MessageType::MsgRequestPreVoteResponse
    );
}

#[test]
#[should_panic]
fn vote_response_type_of_non_vote_panics() {
    vote_resp_msg_type(MessageType::MsgAppend);
}

// §5.2: after winning, the leader tells everyone at once (heartbeats or
// appends), so the other nodes accept it before their timeouts fire.
#[test]
fn new_leader_is_accepted_by_all() {
    let l = test_logger();
    let mut network = Network::new(vec![None, None, None, None, None], &l);
    network.send(vec![hup(3)]);
    assert_eq!(leaders(&network), vec![3]);
    for id in 1..=5 {
        let node = &network.peers[&id];
        assert_eq!(node.term, 1, "node {id}");
        assert_eq!(node.leader_id, 3, "node {id}");
    }
}

// A node still at term 0 (a fresh node started with its membership) that
// rejects a pre-vote has no term to put on the rejection. It must not panic
// (found by the raw_node fuzz target: a higher-priority node at term 0
// refusing a lower-priority pre-candidate); it sends nothing, and the
// pre-candidate times out, as it would on a lost rejection.
#[test]
fn node_at_term_0_rejecting_a_pre_vote_sends_nothing() {
    let mut r = TestRaft::builder(1)
        .voters([1, 2, 3])
        .pre_vote(true)
        .priority(5)
        .build();
    assert_eq!(r.term, 0);
    let mut pre_vote = new_message(2, 1, MessageType::MsgRequestPreVote, 0);
    pre_vote.term = 1;
    pre_vote.priority = 1;
    r.step(pre_vote).unwrap();
    assert!(r.read_messages().is_empty());
    assert_eq!((r.term, r.vote), (0, 0));

    // Once it has a term, it rejects with it.
    r.become_follower(1, INVALID_ID);
    let mut pre_vote = new_message(2, 1, MessageType::MsgRequestPreVote, 0);
    pre_vote.term = 2;
    pre_vote.priority = 1;
    r.step(pre_vote).unwrap();
    let msgs = r.read_messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0].msg_type(), MessageType::MsgRequestPreVoteResponse);
    assert!(msgs[0].reject);
    assert_eq!(msgs[0].term, 1);
}
