//! Log replication (§5.3): the consistency check, conflict resolution, fast
//! backtracking, progress states and flow control.

mod test_util;

use harness::*;
use raft::eraftpb::*;
use raft::*;
use test_util::*;

fn append(from: u64, to: u64, term: u64, index: u64, log_term: u64, ents: Vec<Entry>) -> Message {
    let mut m = new_message_with_entries(from, to, MessageType::MsgAppend, ents);
    m.term = term;
    m.index = index;
    m.log_term = log_term;
    m
}

fn only_append_response(r: &mut Interface) -> Message {
    let resps = of_type(&r.read_messages(), MessageType::MsgAppendResponse);
    assert_eq!(resps.len(), 1, "{resps:?}");
    resps[0].clone()
}

// §5.3: a MsgAppend names the entry just before its entries by index and
// term.
#[test]
fn append_names_the_previous_entry() {
    let mut network = elected(3);
    let leader = network.peers.get_mut(&1).unwrap();
    leader.step(propose(1, "x")).unwrap();
    let appends = of_type(&leader.read_messages(), MessageType::MsgAppend);
    assert_eq!(appends.len(), 2);
    for m in appends {
        assert_eq!((m.term, m.index, m.log_term), (1, 1, 1));
        assert_eq!(m.entries.len(), 1);
        assert_eq!((m.entries[0].index, m.entries[0].term), (2, 1));
        assert_eq!(m.commit, 1);
    }
}

// §5.3: a follower refuses entries whose predecessor it does not hold, and
// says where its log could match.
#[test]
fn follower_rejects_append_without_matching_predecessor() {
    let cases = [
        // (index, log_term): past the end, and a term mismatch at index 2.
        (3, 3),
        (2, 3),
    ];
    for (index, log_term) in cases {
        let storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1, 2]), 2);
        let mut r = TestRaft::builder(1)
            .voters([1, 2, 3])
            .storage(storage)
            .build();
        let ents = vec![empty_entry(3, index + 1)];
        r.step(append(2, 1, 3, index, log_term, ents)).unwrap();
        let resp = only_append_response(&mut r);
        assert!(resp.reject, "append at {index}@{log_term}");
        assert!(
            resp.reject_hint <= 2,
            "hint {} past the log",
            resp.reject_hint
        );
        assert_eq!(log_shape(&r.raft_log), vec![(1, 1), (2, 2)]);
    }
}

// §5.3: when an existing entry conflicts with a new one, the follower
// deletes it and all that follow, then appends.
#[test]
fn follower_truncates_conflicting_suffix() {
    let storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1, 2, 2]), 2);
    let mut r = TestRaft::builder(1)
        .voters([1, 2, 3])
        .storage(storage)
        .build();
    r.step(append(2, 1, 3, 1, 1, vec![empty_entry(3, 2)]))
        .unwrap();
    let resp = only_append_response(&mut r);
    assert!(!resp.reject);
    assert_eq!(resp.index, 2);
    assert_eq!(log_shape(&r.raft_log), vec![(1, 1), (2, 3)]);
    r.persist();
    assert_eq!(r.raft_log.store.last_index().unwrap(), 2);
}

// §5.3: an append that agrees with the log (a duplicate or reordered one)
// does not truncate entries after it.
#[test]
fn follower_keeps_suffix_on_matching_append() {
    let storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1, 1, 1]), 1);
    let mut r = TestRaft::builder(1)
        .voters([1, 2, 3])
        .storage(storage)
        .build();
    r.step(append(2, 1, 1, 0, 0, vec![empty_entry(1, 1)]))
        .unwrap();
    assert!(!only_append_response(&mut r).reject);
    assert_eq!(log_shape(&r.raft_log), vec![(1, 1), (2, 1), (3, 1)]);
}

// §5.3 (fast backtracking): the rejection hint carries the follower's term at
// the probe point, so the leader skips the whole conflicting term in one
// round instead of one entry per round.
#[test]
fn rejection_hint_skips_a_whole_term() {
    let l = test_logger();
    let mut leader_terms = vec![1];
    leader_terms.extend([3; 10]);
    let mut follower_terms = vec![1];
    follower_terms.extend([2; 10]);
    let leader_storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&leader_terms), 3);
    let follower_storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&follower_terms), 2);
    let mut leader = TestRaft::builder(1)
        .voters([1, 2, 3])
        .storage(leader_storage)
        .build();
    let follower = TestRaft::builder(2)
        .voters([1, 2, 3])
        .storage(follower_storage)
        .build();
    make_leader(&mut leader);
    let mut network = Network::new(vec![Some(leader), Some(follower), nop()], &l);

    let traffic = send_observed(&mut network, vec![propose(1, "x")]);
    let rejections = traffic
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgAppendResponse && m.reject)
        .count();
    assert!(
        rejections <= 2,
        "{rejections} rejections to skip one term of 10 entries"
    );
    assert_eq!(
        log_shape(&network.peers[&2].raft_log),
        log_shape(&network.peers[&1].raft_log)
    );
    assert_eq!(network.peers[&1].raft_log.committed, 13);
}

// §5.3 / Figure 7: whatever the follower's log (missing entries, extra
// uncommitted entries, both), the leader's log wins.
#[test]
fn figure_7_logs_converge_to_the_leader() {
    let l = test_logger();
    let leader_terms = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    let followers: [&[u64]; 6] = [
        &[1, 1, 1, 4, 4, 5, 5, 6, 6],
        &[1, 1, 1, 4],
        &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
        &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
        &[1, 1, 1, 4, 4, 4, 4],
        &[1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    ];
    for (i, follower_terms) in followers.iter().enumerate() {
        let leader_storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&leader_terms), 8);
        let follower_storage =
            storage_with_log(vec![1, 2, 3], &entries_with_terms(follower_terms), 7);
        let mut leader = TestRaft::builder(1)
            .voters([1, 2, 3])
            .storage(leader_storage)
            .build();
        let follower = TestRaft::builder(2)
            .voters([1, 2, 3])
            .storage(follower_storage)
            .build();
        make_leader(&mut leader);
        let mut network = Network::new(vec![Some(leader), Some(follower), nop()], &l);
        network.send(vec![propose(1, "x")]);
        let leader_log = ltoa(&network.peers[&1].raft_log);
        let follower_log = ltoa(&network.peers[&2].raft_log);
        assert_eq!(
            leader_log,
            follower_log,
            "follower ({})",
            (b'a' + i as u8) as char
        );
        assert_eq!(network.peers[&1].raft_log.committed, 12);
    }
}

// Progress: a follower that answers is replicated to optimistically; one
// reported unreachable is probed with one append at a time until it answers.
#[test]
fn probe_sends_one_append_until_answered() {
    let mut network = elected(3);
    let leader = network.peers.get_mut(&1).unwrap();
    assert_eq!(leader.prs().get(2).unwrap().state, ProgressState::Replicate);
    leader
        .step(new_message(2, 1, MessageType::MsgUnreachable, 0))
        .unwrap();
    assert_eq!(leader.prs().get(2).unwrap().state, ProgressState::Probe);
    for i in 0..3 {
        leader.step(propose(1, &format!("p{i}"))).unwrap();
    }
    let msgs = leader.read_messages();
    let to = |id| {
        of_type(&msgs, MessageType::MsgAppend)
            .iter()
            .filter(|m| m.to == id)
            .count()
    };
    assert_eq!(to(2), 1, "probe sends one append until answered");
    assert_eq!(to(3), 3, "replicate pipelines");

    network.send(msgs);
    let leader = &network.peers[&1];
    let pr = leader.prs().get(2).unwrap();
    assert_eq!(pr.state, ProgressState::Replicate);
    assert_eq!(pr.matched, leader.raft_log.last_index());
    assert_eq!(
        network.peers[&2].raft_log.last_index(),
        network.peers[&1].raft_log.last_index()
    );
}

// A follower whose log was compacted away on the leader gets a snapshot,
// then is replicated to normally.
#[test]
fn lagging_follower_behind_compaction_gets_snapshot() {
    let mut network = elected(3);
    network.isolate(3);
    for i in 0..5 {
        network.send(vec![propose(1, &format!("p{i}"))]);
    }
    let committed = network.peers[&1].raft_log.committed;
    assert_eq!(committed, 6);
    network.peers.get_mut(&1).unwrap().commit_apply(committed);
    network.storage[&1].wl().compact(committed).unwrap();
    network.recover();

    let traffic = send_observed(&mut network, vec![beat(1)]);
    assert!(
        traffic
            .iter()
            .any(|m| m.msg_type() == MessageType::MsgSnapshot && m.to == 3),
        "no snapshot sent"
    );
    network.send(vec![propose(1, "after")]);
    let leader = &network.peers[&1];
    let follower = &network.peers[&3];
    assert_eq!(follower.raft_log.committed, leader.raft_log.committed);
    assert_eq!(follower.raft_log.last_index(), leader.raft_log.last_index());
    assert_eq!(leader.prs().get(3).unwrap().state, ProgressState::Replicate);
}

// max_size_per_msg 0 sends one entry per append.
#[test]
fn zero_max_size_per_msg_sends_one_entry_per_append() {
    let mut config = Network::default_config();
    config.max_size_per_msg = 0;
    let mut network = Network::new_with_config(vec![None, None, None], &config, &test_logger());
    network.send(vec![hup(1)]);
    network.isolate(2);
    for i in 0..5 {
        network.send(vec![propose(1, &format!("p{i}"))]);
    }
    network.recover();
    let traffic = send_observed(&mut network, vec![beat(1)]);
    let appends: Vec<&Message> = traffic
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgAppend && m.to == 2)
        .collect();
    assert!(appends.iter().all(|m| m.entries.len() <= 1));
    assert!(appends.iter().filter(|m| m.entries.len() == 1).count() >= 5);
    assert_eq!(network.peers[&2].raft_log.last_index(), 6);
}

// max_size_per_msg bounds the entry bytes of one append (at least one entry
// always goes).
#[test]
fn max_size_per_msg_bounds_append_size() {
    let mut config = Network::default_config();
    config.max_size_per_msg = 250;
    let mut network = Network::new_with_config(vec![None, None, None], &config, &test_logger());
    network.send(vec![hup(1)]);
    network.isolate(2);
    let payload = "x".repeat(100);
    for _ in 0..6 {
        network.send(vec![propose(1, &payload)]);
    }
    network.recover();
    let traffic = send_observed(&mut network, vec![beat(1)]);
    let sizes: Vec<usize> = traffic
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgAppend && m.to == 2)
        .map(|m| m.entries.len())
        .collect();
    assert!(sizes.iter().all(|&n| n <= 2), "{sizes:?}");
    assert!(sizes.contains(&2), "{sizes:?}");
    assert_eq!(network.peers[&2].raft_log.last_index(), 7);
}

// Heartbeats carry min(matched, committed): a follower must not learn a
// commit index past what it is known to hold (§5.3 safety of commit).
#[test]
fn heartbeat_commit_is_min_of_matched_and_committed() {
    let mut network = elected(3);
    network.isolate(3);
    for i in 0..3 {
        network.send(vec![propose(1, &format!("p{i}"))]);
    }
    let leader = network.peers.get_mut(&1).unwrap();
    assert_eq!(leader.raft_log.committed, 4);
    leader.step(beat(1)).unwrap();
    let heartbeats = of_type(&leader.read_messages(), MessageType::MsgHeartbeat);
    let commit_to = |id| heartbeats.iter().find(|m| m.to == id).unwrap().commit;
    assert_eq!(commit_to(2), 4);
    assert_eq!(commit_to(3), 1);
}

// A heartbeat response from a follower that lags makes the leader send it
// the missing entries.
#[test]
fn heartbeat_response_from_lagging_follower_triggers_append() {
    let mut network = elected(3);
    network.isolate(3);
    for i in 0..3 {
        network.send(vec![propose(1, &format!("p{i}"))]);
    }
    network.recover();
    let traffic = send_observed(&mut network, vec![beat(1)]);
    let first_response = traffic
        .iter()
        .position(|m| m.msg_type() == MessageType::MsgHeartbeatResponse && m.from == 3)
        .expect("3 answered the heartbeat");
    assert!(traffic[first_response..]
        .iter()
        .any(|m| m.msg_type() == MessageType::MsgAppend && m.to == 3));
    assert_eq!(network.peers[&3].raft_log.last_index(), 4);
    assert_eq!(network.peers[&3].raft_log.committed, 4);
}

// §5.3, §5.4: a partitioned leader steps down when it hears the new term, and
// the entries it could not commit are overwritten by the new leader's.
#[test]
fn partitioned_old_leader_steps_down_and_loses_uncommitted_entries() {
    let mut network = elected(5);
    network.isolate(1);
    network.send(vec![propose(1, "lost-1"), propose(1, "lost-2")]);
    assert_eq!(network.peers[&1].raft_log.last_index(), 3);
    assert_eq!(network.peers[&1].raft_log.committed, 1);

    network.send(vec![hup(2)]);
    assert_eq!(network.peers[&2].state, StateRole::Leader);
    network.send(vec![propose(2, "kept")]);
    network.recover();
    network.send(vec![beat(2)]);
    network.send(vec![propose(2, "after")]);

    let old = &network.peers[&1];
    assert_eq!(old.state, StateRole::Follower);
    assert_eq!((old.term, old.leader_id), (2, 2));
    assert_eq!(
        log_shape(&old.raft_log),
        log_shape(&network.peers[&2].raft_log)
    );
    let lost = old
        .raft_log
        .all_entries()
        .iter()
        .any(|e| e.data.starts_with(b"lost"));
    assert!(!lost, "uncommitted entries of the old term survived");
    assert_eq!(old.raft_log.committed, network.peers[&2].raft_log.committed);
}

// Cut links and isolated peers catch up once healed.
#[test]
fn cut_and_isolated_peers_catch_up() {
    let mut network = elected(5);
    network.cut(1, 2);
    network.isolate(5);
    for i in 0..3 {
        network.send(vec![propose(1, &format!("p{i}"))]);
    }
    assert_eq!(network.peers[&1].raft_log.committed, 4);
    assert_eq!(network.peers[&2].raft_log.last_index(), 1);
    network.recover();
    network.send(vec![propose(1, "healed")]);
    let expected = log_shape(&network.peers[&1].raft_log);
    for id in 2..=5 {
        let node = &network.peers[&id];
        assert_eq!(log_shape(&node.raft_log), expected, "node {id}");
        assert_eq!(node.raft_log.committed, 5, "node {id}");
    }
}

// Lossy links: with a seeded 30% loss everywhere, the group still converges
// once the links heal.
#[test]
fn lossy_network_converges_after_healing() {
    let mut network = elected(3);
    network.set_seed(11);
    for from in 1..=3 {
        for to in 1..=3 {
            if from != to {
                network.drop(from, to, 0.3);
            }
        }
    }
    for i in 0..20 {
        network.send(vec![propose(1, &format!("p{i}"))]);
        tick_and_send(&mut network, 1, 1);
    }
    network.recover();
    // A heartbeat round unpauses followers whose probe was lost.
    network.send(vec![beat(1)]);
    network.send(vec![propose(1, "healed")]);
    let expected = log_shape(&network.peers[&1].raft_log);
    assert_eq!(expected.len(), 22);
    for id in 2..=3 {
        assert_eq!(
            log_shape(&network.peers[&id].raft_log),
            expected,
            "node {id}"
        );
    }
}
