//! Regression tests for bugs other Raft implementations shipped
//! and that concern the consensus core. Each test names the upstream
//! report or describes the scenario.

mod test_util;

use harness::*;
use protobuf::Message as PbMessage;
use raft::eraftpb::*;
use raft::*;
use test_util::*;

fn append_response(from: u64, term: u64, index: u64, reject: bool, hint: u64) -> Message {
    let mut m = new_message(from, 1, MessageType::MsgAppendResponse, 0);
    m.term = term;
    m.index = index;
    m.reject = reject;
    m.reject_hint = hint;
    m
}

/// Asserts the MsgAppend property of the batch_append merge bug raft-rs 0.7.0 shipped: the entries follow the
/// entry the message names, and are contiguous.
fn assert_append_well_formed(m: &Message) {
    if m.msg_type() != MessageType::MsgAppend || m.entries.is_empty() {
        return;
    }
    assert_eq!(
        m.index + 1,
        m.entries[0].index,
        "append to {} names {}@{} but carries entries from {}",
        m.to,
        m.index,
        m.log_term,
        m.entries[0].index
    );
    for pair in m.entries.windows(2) {
        assert_eq!(pair[0].index + 1, pair[1].index, "gap in {m:?}");
    }
}

/// Delivers `msgs` to quiescence like `Network::send`, checking after every
/// step that every append is well formed and that the leader never believes
/// a follower holds more than it does.
fn send_checking_matches(network: &mut Network, leader: u64, msgs: Vec<Message>) {
    let mut queue: std::collections::VecDeque<Message> = msgs.into();
    let mut steps = 0;
    while let Some(m) = queue.pop_front() {
        steps += 1;
        assert!(steps < 10_000, "no quiescence");
        assert_append_well_formed(&m);
        let Some(peer) = network.peers.get_mut(&m.to) else {
            continue;
        };
        let _ = peer.step(m);
        peer.persist();
        let replies = peer.read_messages();
        queue.extend(network.filter(replies));
        let leader = &network.peers[&leader];
        if leader.state != StateRole::Leader {
            continue;
        }
        for (&id, pr) in leader.prs().iter() {
            let held = network.peers[&id].raft_log.last_index();
            assert!(
                pr.matched <= held,
                "leader records matched {} for {id}, which holds up to {held}",
                pr.matched
            );
        }
    }
}

// the batch_append merge bug raft-rs 0.7.0 shipped: with batch_append, a new append merged into a queued
// entry-less append for the same peer must still name the entry just before
// its entries, and a follower never acknowledges an index it lacks.
#[test]
fn batched_appends_stay_contiguous() {
    let mut config = Network::default_config();
    config.batch_append = true;
    let mut network = elected_with(&config, 3);
    network.isolate(2);
    for i in 0..3 {
        network.send(vec![propose(1, &format!("p{i}"))]);
    }
    network.recover();
    let leader = network.peers.get_mut(&1).unwrap();
    // Queue entry-less appends (2 is believed to hold everything already),
    leader.bcast_append();
    // then learn that 2 lags, which makes the leader send 2 entries again
    // while the entry-less append is still queued.
    leader.step(append_response(2, 1, 4, true, 1)).unwrap();
    leader.step(propose(1, "more")).unwrap();
    let msgs = leader.read_messages();
    for m in &msgs {
        assert_append_well_formed(m);
    }
    send_checking_matches(&mut network, 1, msgs);
    network.send(vec![beat(1)]);
    assert_eq!(
        log_shape(&network.peers[&2].raft_log),
        log_shape(&network.peers[&1].raft_log)
    );
}

// the batch_append merge bug raft-rs 0.7.0 shipped: the same property through a lossy run with batching on.
#[test]
fn batched_appends_stay_contiguous_under_loss() {
    let mut config = Network::default_config();
    config.batch_append = true;
    let mut network = elected_with(&config, 3);
    network.set_seed(3);
    network.drop(1, 2, 0.4);
    network.drop(2, 1, 0.4);
    for i in 0..30 {
        let leader = network.peers.get_mut(&1).unwrap();
        let _ = leader.step(propose(1, &format!("p{i}")));
        if i % 3 == 0 {
            leader.step(beat(1)).unwrap();
        }
        leader.persist();
        let msgs = network.read_messages();
        send_checking_matches(&mut network, 1, msgs);
    }
}

// etcd-io/raft#149, tikv/raft-rs#555: a stale rejection never moves next_idx to or below matched.
#[test]
fn stale_rejection_never_moves_next_to_or_below_matched() {
    let mut network = elected(3);
    for i in 0..4 {
        network.send(vec![propose(1, &format!("p{i}"))]);
    }
    let leader = network.peers.get_mut(&1).unwrap();
    let matched = leader.prs().get(2).unwrap().matched;
    assert_eq!(matched, 5);

    // In replicate state: a rejection of an index already matched is stale.
    leader.step(append_response(2, 1, 3, true, 1)).unwrap();
    let pr = leader.prs().get(2).unwrap();
    assert_eq!(pr.matched, matched);
    assert!(pr.next_idx > pr.matched, "{pr:?}");

    // In probe state: a rejection at the probed index with a tiny hint. The
    // probe is of `matched` itself, so the rejection says the follower
    // lacks it (an earlier incarnation's acknowledgement can leave such a
    // `matched`): both move back together, never `next_idx` alone.
    leader
        .step(new_message(2, 1, MessageType::MsgUnreachable, 0))
        .unwrap();
    let probed = leader.prs().get(2).unwrap().next_idx - 1;
    assert_eq!(probed, matched);
    leader.step(append_response(2, 1, probed, true, 0)).unwrap();
    let pr = leader.prs().get(2).unwrap();
    assert_eq!((pr.matched, pr.next_idx), (0, 1), "{pr:?}");
}

// etcd-io/etcd#14633: the append stream pauses when the inflight window is full,
// and resumes (no leaked slots) when responses come back, also after the
// follower went through probe.
#[test]
fn inflight_window_limits_and_then_resumes_appends() {
    let mut config = Network::default_config();
    config.max_inflight_msgs = 3;
    let mut network = elected_with(&config, 3);
    let leader = network.peers.get_mut(&1).unwrap();
    for i in 0..10 {
        leader.step(propose(1, &format!("p{i}"))).unwrap();
    }
    leader.persist();
    let msgs = leader.read_messages();
    let to_2 = msgs
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgAppend && m.to == 2)
        .count();
    assert_eq!(to_2, 3, "the window of 3 was not respected");
    assert!(leader.prs().get(2).unwrap().ins.full());

    network.send(msgs);
    network.send(vec![beat(1)]);
    assert_eq!(network.peers[&2].raft_log.last_index(), 11);

    // Through probe and back: the window must be whole again.
    let leader = network.peers.get_mut(&1).unwrap();
    leader
        .step(new_message(2, 1, MessageType::MsgUnreachable, 0))
        .unwrap();
    let msgs = leader.read_messages();
    network.send(msgs);
    for i in 0..10 {
        network.send(vec![propose(1, &format!("q{i}"))]);
    }
    network.send(vec![beat(1)]);
    let leader = &network.peers[&1];
    assert_eq!(network.peers[&2].raft_log.last_index(), 21);
    let pr = leader.prs().get(2).unwrap();
    assert_eq!(pr.state, ProgressState::Replicate);
    assert_eq!(pr.ins.count(), 0, "inflight slots leaked: {pr:?}");
}

// etcd-io/raft#31: a follower reported unreachable is probed, and gets
// unstuck with the next append, without waiting for a heartbeat.
#[test]
fn unreachable_follower_gets_unstuck_without_heartbeat() {
    let mut network = elected(3);
    let leader = network.peers.get_mut(&1).unwrap();
    leader
        .step(new_message(2, 1, MessageType::MsgUnreachable, 0))
        .unwrap();
    assert_eq!(leader.prs().get(2).unwrap().state, ProgressState::Probe);
    network.send(vec![propose(1, "a")]);
    let leader = &network.peers[&1];
    let pr = leader.prs().get(2).unwrap();
    assert_eq!(pr.state, ProgressState::Replicate);
    assert_eq!(pr.matched, 2);
    network.send(vec![propose(1, "b")]);
    assert_eq!(network.peers[&2].raft_log.last_index(), 3);
}

// etcd-io/raft#31, second half: a slow follower behind a compaction catches
// up through a snapshot.
#[test]
fn slow_follower_after_compaction_catches_up() {
    let mut network = elected(3);
    network.isolate(3);
    for i in 0..5 {
        network.send(vec![propose(1, &format!("p{i}"))]);
    }
    let committed = network.peers[&1].raft_log.committed;
    network.storage[&1].wl().compact(committed).unwrap();
    network.recover();
    network.send(vec![beat(1)]);
    network.send(vec![propose(1, "after")]);
    let leader_last = network.peers[&1].raft_log.last_index();
    assert_eq!(network.peers[&3].raft_log.last_index(), leader_last);
    assert_eq!(network.peers[&3].raft_log.committed, leader_last);
}

fn follower_with_committed_log() -> Interface {
    // Log 1@1 2@1 3@2 4@2 5@2, committed through 3.
    let storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1, 1, 2, 2, 2]), 2);
    let mut r = TestRaft::builder(1)
        .voters([1, 2, 3])
        .storage(storage)
        .build();
    let mut heartbeat = new_message(2, 1, MessageType::MsgHeartbeat, 0);
    heartbeat.term = 2;
    heartbeat.commit = 3;
    r.step(heartbeat).unwrap();
    r.read_messages();
    assert_eq!(r.raft_log.committed, 3);
    r
}

// the stale-append panics etcd fixed: stale or malformed appends are handled without a panic,
// and never touch committed entries.
#[test]
fn stale_and_malformed_appends_do_not_panic_or_touch_committed_entries() {
    let cases: Vec<(&str, u64, u64, Vec<Entry>)> = vec![
        // (what, index, log_term, entries)
        (
            "stale, conflicting below commit",
            1,
            1,
            vec![empty_entry(3, 2), empty_entry(3, 3)],
        ),
        ("stale, before the log", 0, 0, vec![empty_entry(3, 1)]),
        ("past the end", 9, 2, vec![empty_entry(3, 10)]),
        ("entries not following index", 4, 2, vec![empty_entry(3, 9)]),
        (
            "entries with a gap",
            4,
            2,
            vec![empty_entry(3, 5), empty_entry(3, 7)],
        ),
        (
            "entries going back",
            4,
            2,
            vec![empty_entry(3, 5), empty_entry(3, 4)],
        ),
        (
            "terms going back",
            4,
            2,
            vec![empty_entry(3, 5), empty_entry(1, 6)],
        ),
        ("index overflow", u64::MAX, 2, vec![empty_entry(3, 0)]),
        (
            "log term from the future",
            5,
            u64::MAX,
            vec![empty_entry(3, 6)],
        ),
    ];
    for (what, index, log_term, entries) in cases {
        let mut r = follower_with_committed_log();
        let mut m = new_message_with_entries(2, 1, MessageType::MsgAppend, entries);
        m.term = 3;
        m.index = index;
        m.log_term = log_term;
        m.commit = 5;
        let _ = r.step(m);
        r.persist();
        let log = &r.raft_log;
        assert!(log.committed >= 3, "{what}: commit regressed");
        assert!(log.committed <= log.last_index(), "{what}: {}", ltoa(log));
        for (index, term) in [(1, 1), (2, 1), (3, 2)] {
            assert_eq!(
                log.term(index).unwrap(),
                term,
                "{what}: committed {index} changed"
            );
        }
    }
}

// cockroachdb/cockroach#31689, etcd-io/raft#11: the uncommitted-size limit holds across term changes and
// does not leak: a leader that lost leadership with an uncommitted tail
// starts its next term with a clean count.
#[test]
fn uncommitted_size_does_not_leak_across_term_changes() {
    let mut config = Network::default_config();
    config.max_uncommitted_size = 100;
    config.max_size_per_msg = 0;
    let mut network = elected_with(&config, 3);
    network.isolate(1);
    let payload = "x".repeat(30);
    let leader = network.peers.get_mut(&1).unwrap();
    while leader.step(propose(1, &payload)).is_ok() {}
    assert!(leader.uncommitted_size() > 0);

    // Another node takes over; the old leader comes back as a follower and
    // its uncommitted tail is discarded.
    network.send(vec![hup(2)]);
    network.recover();
    network.send(vec![beat(2)]);
    assert_eq!(network.peers[&1].state, StateRole::Follower);

    // Leadership returns to 1 in a later term: the count starts afresh.
    network.send(vec![new_message(1, 2, MessageType::MsgTransferLeader, 0)]);
    let leader = network.peers.get_mut(&1).unwrap();
    assert_eq!(leader.state, StateRole::Leader);
    assert!(
        leader.uncommitted_size() < 30,
        "{} bytes carried over from the last term",
        leader.uncommitted_size()
    );
    assert!(leader.step(propose(1, &payload)).is_ok());
    assert!(leader.step(propose(1, &payload)).is_ok());
}

// etcd-io/etcd#8334: with pre-vote and check quorum, a
// pre-candidate forgets the leader it knew, so that after the leader dies
// the others can still elect someone.
#[test]
fn pre_candidate_forgets_leader_so_group_is_not_wedged() {
    let mut config = Network::default_config();
    config.pre_vote = true;
    config.check_quorum = true;
    let mut network = elected_with(&config, 3);
    network.isolate(1);
    let mut ticks = 0;
    while leaders(&network).iter().all(|&id| id == 1) {
        ticks += 1;
        assert!(ticks < 500, "2 and 3 never elected a leader");
        for id in [2, 3] {
            network.peers.get_mut(&id).unwrap().tick();
            if network.peers[&id].state == StateRole::PreCandidate {
                assert_eq!(network.peers[&id].leader_id, INVALID_ID);
            }
        }
        let msgs = network.read_messages();
        network.send(msgs);
    }
    let new_leader = leaders(&network).into_iter().find(|&id| id != 1).unwrap();
    assert!([2, 3].contains(&new_leader));
}

// etcd-io/etcd#8501: a pre-vote node with the longer log but the
// lower term is not wedged by a plain node with the higher term and the
// shorter log: the rejection carries the higher term, which the
// pre-candidate adopts before trying again.
#[test]
fn pre_vote_node_with_longer_log_wins_over_higher_term_node() {
    let l = test_logger();
    let long = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1, 1]), 1);
    let short = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1]), 3);
    let n2 = TestRaft::builder(2)
        .voters([1, 2, 3])
        .storage(long)
        .pre_vote(true)
        .build();
    let n3 = TestRaft::builder(3)
        .voters([1, 2, 3])
        .storage(short)
        .pre_vote(false)
        .build();
    let mut network = Network::new(vec![nop(), Some(n2), Some(n3)], &l);
    for _ in 0..3 {
        if network.peers[&2].state == StateRole::Leader {
            break;
        }
        network.send(vec![hup(2)]);
    }
    assert_eq!(network.peers[&2].state, StateRole::Leader);
    assert!(network.peers[&2].term > 3);
}

// etcd-io/etcd#10998: a node that still believes it is a learner
// grants its vote when a candidate of a newer configuration asks.
#[test]
fn learner_grants_vote_when_asked() {
    let mut r = TestRaft::builder(2).voters([1]).learners([2]).build();
    let mut m = new_message(1, 2, MessageType::MsgRequestVote, 0);
    m.term = 2;
    r.step(m).unwrap();
    let resps = of_type(&r.read_messages(), MessageType::MsgRequestVoteResponse);
    assert_eq!(resps.len(), 1);
    assert!(!resps[0].reject);
    assert_eq!((r.term, r.vote), (2, 1));
}

fn conf_change_entry(term: u64, index: u64) -> Entry {
    let mut cc = ConfChange::default();
    cc.set_change_type(ConfChangeType::AddNode);
    cc.node_id = 4;
    let mut e = empty_entry(term, index);
    e.set_entry_type(EntryType::EntryConfChange);
    e.data = cc.write_to_bytes().unwrap().into();
    e
}

// etcd-io/etcd#7280: a node with a committed but unapplied
// configuration change does not campaign (its quorum would be computed
// against the wrong configuration); once applied it does.
#[test]
fn node_with_unapplied_committed_conf_change_does_not_campaign() {
    let storage = new_storage(vec![1, 2, 3]);
    let entries = vec![empty_entry(1, 1), conf_change_entry(1, 2)];
    storage.wl().append(&entries).unwrap();
    storage.wl().set_hardstate(hard_state(1, 2, 0));
    let mut r = TestRaft::builder(1).storage(storage).build();
    assert_eq!(r.raft_log.committed, 2);
    assert!(r.raft_log.applied < 2);

    r.step(hup(1)).unwrap();
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.term, 1);
    tick_past_election_timeout(&mut r);
    assert_eq!(r.state, StateRole::Follower);

    r.commit_apply(2);
    r.step(hup(1)).unwrap();
    assert_eq!(r.state, StateRole::Candidate);
    assert_eq!(r.term, 2);
}

// hashicorp/raft#661: term and vote are one hard state; a node
// restarted from its storage after voting cannot vote again in that term.
#[test]
fn restarted_node_cannot_vote_twice_in_a_term() {
    let storage = new_storage(vec![1, 2, 3]);
    let mut r = TestRaft::builder(1).storage(storage.clone()).build();
    let mut m = new_message(2, 1, MessageType::MsgRequestVote, 0);
    m.term = 5;
    r.step(m).unwrap();
    r.persist();
    let hs = r.hard_state();
    assert_eq!(hs, hard_state(5, 0, 2));
    assert_eq!(storage.initial_state().unwrap().hard_state, hs);
    drop(r);

    let mut restarted = TestRaft::builder(1).storage(storage).build();
    assert_eq!((restarted.term, restarted.vote), (5, 2));
    let mut m = new_message(3, 1, MessageType::MsgRequestVote, 0);
    m.term = 5;
    restarted.step(m).unwrap();
    let resps = of_type(
        &restarted.read_messages(),
        MessageType::MsgRequestVoteResponse,
    );
    assert_eq!(resps.len(), 1);
    assert!(resps[0].reject, "voted twice in term 5");
    assert_eq!(restarted.vote, 2);
}

fn conf_change(node: u64, change: ConfChangeType) -> ConfChangeV2 {
    let mut cc = ConfChangeV2::default();
    cc.changes
        .push(raft_proto::new_conf_change_single(node, change));
    cc
}

/// Elects 1 in a 3-node group, has 2 acknowledge index 2, then removes and
/// re-adds 2 in the same term and swaps in a fresh (empty) node 2. Returns
/// the acknowledgement of 2's first incarnation, not yet delivered.
fn readd_with_stale_ack() -> (Network, Message) {
    let mut network = elected(3);
    let leader = network.peers.get_mut(&1).unwrap();
    leader.step(propose(1, "a")).unwrap();
    leader.persist();
    let appends = leader.read_messages();
    network.dispatch(appends).unwrap();
    let follower = network.peers.get_mut(&2).unwrap();
    follower.persist();
    let stale = of_type(&follower.read_messages(), MessageType::MsgAppendResponse);
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].index, 2);

    let leader = network.peers.get_mut(&1).unwrap();
    let term = leader.term;
    leader
        .apply_conf_change(&conf_change(2, ConfChangeType::RemoveNode))
        .unwrap();
    // In a group the re-add is a configuration change of its own, proposed
    // only once the removal is applied (one change pending at a time), so
    // the log has grown past anything the first incarnation acknowledged.
    leader.step(propose(1, "re-add 2")).unwrap();
    leader.persist();
    leader.read_messages();
    leader
        .apply_conf_change(&conf_change(2, ConfChangeType::AddNode))
        .unwrap();
    assert_eq!(leader.term, term);
    let fresh = TestRaft::builder(2).voters([1, 2, 3]).build();
    network.peers.insert(2, fresh);
    (network, stale[0].clone())
}

// tikv/raft-rs#571, etcd-io/raft#349: a peer removed and added
// again in the same term starts from a fresh progress, and catches up from
// nothing.
#[test]
fn readded_peer_gets_fresh_progress_and_catches_up() {
    let (mut network, _) = readd_with_stale_ack();
    let pr = network.peers[&1].prs().get(2).unwrap().clone();
    assert_eq!(
        pr.matched, 0,
        "the new incarnation inherited progress: {pr:?}"
    );
    assert_eq!(pr.state, ProgressState::Probe);
    send_checking_matches(&mut network, 1, vec![beat(1)]);
    assert_eq!(
        log_shape(&network.peers[&2].raft_log),
        log_shape(&network.peers[&1].raft_log)
    );
}

// tikv/raft-rs#571, etcd-io/raft#349, the stronger property: an acknowledgement from the earlier
// incarnation, arriving late, must not make the leader believe the new one
// holds entries it does not. The re-added peer is probed at the leader's
// last index, so an acknowledgement below the probe is stale.
#[test]
fn stale_response_from_earlier_incarnation_cannot_raise_matched() {
    let (mut network, stale) = readd_with_stale_ack();
    network.peers.get_mut(&1).unwrap().step(stale).unwrap();
    let matched = network.peers[&1].prs().get(2).unwrap().matched;
    let held = network.peers[&2].raft_log.last_index();
    assert!(
        matched <= held,
        "leader believes 2 holds {matched}, the new incarnation holds {held}"
    );
}

// tikv/raft-rs#571, etcd-io/raft#349, the reordered case: the new incarnation
// rejects its first probe (it holds nothing), the leader backs off to probe
// from the start, that probe is lost, and only then the earlier
// incarnation's acknowledgement arrives: not below the probe, so nothing
// tells it apart from an answer to it, and the leader takes it. The new
// incarnation's rejection of the next append, at the index the leader
// wrongly believes matched, must undo that belief, or the follower is
// pinned and never catches up.
#[test]
fn stale_ack_after_the_new_incarnation_rejected_its_probe_does_not_pin_it() {
    let (mut network, stale) = readd_with_stale_ack();
    let leader = network.peers.get_mut(&1).unwrap();
    let probes: Vec<Message> = leader
        .read_messages()
        .into_iter()
        .filter(|m| m.to == 2)
        .collect();
    assert_eq!(probes.len(), 1);
    let follower = network.peers.get_mut(&2).unwrap();
    follower.step(probes[0].clone()).unwrap();
    let rejection = follower.read_messages();
    assert_eq!(rejection.len(), 1);
    assert!(rejection[0].reject);

    let leader = network.peers.get_mut(&1).unwrap();
    leader.step(rejection[0].clone()).unwrap();
    let lost = leader.read_messages();
    assert!(
        lost.iter()
            .any(|m| m.to == 2 && m.msg_type() == MessageType::MsgAppend && m.index == 0),
        "the leader did not back off to the start: {lost:?}"
    );
    leader.step(stale).unwrap();
    let msgs = leader.read_messages();
    network.send(msgs);
    for _ in 0..3 {
        network.send(vec![beat(1)]);
    }
    assert_eq!(
        log_shape(&network.peers[&2].raft_log),
        log_shape(&network.peers[&1].raft_log)
    );
    let pr = network.peers[&1].prs().get(2).unwrap().clone();
    assert_eq!(pr.matched, network.peers[&2].raft_log.last_index());
}
