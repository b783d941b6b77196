//! Commitment (§5.3, §5.4.2): quorum acknowledgement, the current-term rule,
//! the Figure 8 scenario, and what followers may learn of the commit index.

mod test_util;

use raft::eraftpb::*;
use raft::*;
use test_util::*;

fn append_response(from: u64, to: u64, term: u64, index: u64) -> Message {
    let mut m = new_message(from, to, MessageType::MsgAppendResponse, 0);
    m.term = term;
    m.index = index;
    m
}

fn append(from: u64, to: u64, term: u64, index: u64, log_term: u64, ents: Vec<Entry>) -> Message {
    let mut m = new_message_with_entries(from, to, MessageType::MsgAppend, ents);
    m.term = term;
    m.index = index;
    m.log_term = log_term;
    m
}

// A single node commits its own entries, but only once they are persisted.
#[test]
fn single_node_commits_after_persisting() {
    let mut r = TestRaft::builder(1).voters([1]).build();
    r.step(hup(1)).unwrap();
    assert_eq!(r.state, StateRole::Leader);
    assert_eq!(
        r.raft_log.committed, 0,
        "the empty entry is not yet durable"
    );
    r.persist();
    assert_eq!(r.raft_log.committed, 1);
    r.step(propose(1, "x")).unwrap();
    assert_eq!(r.raft_log.committed, 1);
    r.persist();
    assert_eq!(r.raft_log.committed, 2);
}

// The leader's own acknowledgement is its persistence: in a group of two,
// the follower's ack alone does not commit.
#[test]
fn leader_ack_counts_only_after_persist() {
    let mut network = elected(2);
    let leader = network.peers.get_mut(&1).unwrap();
    leader.step(propose(1, "x")).unwrap();
    let msgs = leader.read_messages();
    network.dispatch(msgs).unwrap();
    let follower = network.peers.get_mut(&2).unwrap();
    follower.persist();
    let acks = follower.read_messages();
    network.dispatch(acks).unwrap();
    let leader = network.peers.get_mut(&1).unwrap();
    assert_eq!(leader.raft_log.committed, 1);
    leader.persist();
    assert_eq!(leader.raft_log.committed, 2);
}

// §5.3: an entry is committed once stored on a majority, not before.
#[test]
fn entry_commits_once_a_majority_stores_it() {
    let mut network = elected(5);
    for id in 3..=5 {
        network.isolate(id);
    }
    network.send(vec![propose(1, "x")]);
    assert_eq!(network.peers[&2].raft_log.last_index(), 2);
    assert_eq!(
        network.peers[&1].raft_log.committed, 1,
        "2 of 5 is no majority"
    );

    network.recover();
    network.isolate(3);
    network.isolate(4);
    network.send(vec![beat(1)]);
    assert_eq!(
        network.peers[&1].raft_log.committed, 2,
        "3 of 5 is a majority"
    );
}

// §5.4.2: an entry of an earlier term is never committed by counting
// replicas; it commits along with an entry of the leader's term.
#[test]
fn old_term_entry_not_committed_by_counting_replicas() {
    let storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1, 1]), 1);
    let mut leader = TestRaft::builder(1)
        .voters([1, 2, 3])
        .storage(storage)
        .build();
    make_leader(&mut leader);
    assert_eq!(leader.term, 2);
    assert_eq!(leader.raft_log.last_index(), 3);

    leader.step(append_response(2, 1, 2, 2)).unwrap();
    assert_eq!(leader.prs().get(2).unwrap().matched, 2);
    assert_eq!(
        leader.raft_log.committed, 0,
        "index 2 (term 1) is on a majority but must not commit by counting"
    );

    leader.step(append_response(2, 1, 2, 3)).unwrap();
    assert_eq!(leader.raft_log.committed, 3);
}

// §5.4.2 / §8: a new leader appends an empty entry of its term at once, so
// it can commit earlier entries without waiting for a client.
#[test]
fn new_leader_appends_empty_entry_of_its_term() {
    let network = elected(3);
    let leader = &network.peers[&1];
    let entries = leader.raft_log.all_entries();
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].index, entries[0].term), (1, 1));
    assert!(entries[0].data.is_empty());
    assert_eq!(leader.raft_log.committed, 1);
    for id in 2..=3 {
        assert_eq!(network.peers[&id].raft_log.committed, 1, "node {id}");
    }
}

// §5.4.2, Figure 8: an old-term entry replicated to a majority by a later
// leader is safe only because it commits with an entry of that leader's
// term; the node holding the competing entry can then never win.
#[test]
fn figure_8_committed_entry_is_never_overwritten() {
    let mut network = elected(5);
    // (a) S1 replicates index 2 (term 1) to S2 only.
    for id in 3..=5 {
        network.isolate(id);
    }
    network.send(vec![propose(1, "a")]);
    assert_eq!(network.peers[&1].raft_log.committed, 1);

    // (b) S5 wins term 2 with S3 and S4 and writes index 2 locally only.
    network.recover();
    network.isolate(1);
    network.isolate(2);
    network.ignore(MessageType::MsgAppend);
    network.send(vec![hup(5)]);
    assert_eq!(network.peers[&5].state, StateRole::Leader);
    network.send(vec![propose(5, "b")]);
    assert_eq!(network.peers[&5].raft_log.term(2).unwrap(), 2);

    // (c) S1 restarts; S5 is gone. S1 needs a term after 2 to win.
    network.recover();
    restart(&mut network, 1);
    network.isolate(5);
    network.send(vec![hup(1)]);
    if network.peers[&1].state != StateRole::Leader {
        network.send(vec![hup(1)]);
    }
    assert_eq!(network.peers[&1].state, StateRole::Leader);
    let leader_term = network.peers[&1].term;
    assert!(leader_term >= 3);
    // Index 2 (term 1) is committed together with the leader's own entry.
    assert_eq!(network.peers[&1].raft_log.committed, 3);
    assert_eq!(network.peers[&1].raft_log.term(3).unwrap(), leader_term);

    // (d) S1 crashes; S5 restarts but cannot win: its log is behind.
    network.recover();
    network.isolate(1);
    restart(&mut network, 5);
    network.send(vec![hup(5)]);
    network.send(vec![hup(5)]);
    assert_ne!(network.peers[&5].state, StateRole::Leader);

    // A node with the committed entries wins and S5's entries are replaced.
    network.send(vec![hup(2)]);
    if network.peers[&2].state != StateRole::Leader {
        network.send(vec![hup(2)]);
    }
    assert_eq!(network.peers[&2].state, StateRole::Leader);
    network.send(vec![propose(2, "c")]);
    for id in 2..=5 {
        let log = &network.peers[&id].raft_log;
        assert_eq!(
            log.term(2).unwrap(),
            1,
            "node {id}: committed index 2 changed"
        );
        assert_eq!(log.term(3).unwrap(), leader_term, "node {id}: index 3");
        assert!(log.committed >= 3, "node {id}");
    }
}

// §5.3: a follower commits min(leader commit, index of last new entry): it
// never learns a commit beyond what the append made it match.
#[test]
fn follower_commit_bounded_by_last_new_entry() {
    let mut r = TestRaft::builder(1).voters([1, 2, 3]).build();
    let ents = vec![empty_entry(1, 1), empty_entry(1, 2)];
    let mut m = append(2, 1, 1, 0, 0, ents);
    m.commit = 10;
    r.step(m).unwrap();
    assert_eq!(r.raft_log.committed, 2);

    // A longer log from an older leader may not match this leader's: an
    // append that only matches index 1 commits no further.
    let storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1, 1, 1]), 1);
    let mut r = TestRaft::builder(1)
        .voters([1, 2, 3])
        .storage(storage)
        .build();
    let mut m = append(2, 1, 1, 1, 1, vec![]);
    m.commit = 3;
    r.step(m).unwrap();
    assert_eq!(r.raft_log.committed, 1);
}

// The commit index never moves backwards, whatever a message says.
#[test]
fn follower_commit_never_regresses() {
    let mut r = TestRaft::builder(1).voters([1, 2, 3]).build();
    let ents = vec![empty_entry(1, 1), empty_entry(1, 2), empty_entry(1, 3)];
    let mut m = append(2, 1, 1, 0, 0, ents);
    m.commit = 3;
    r.step(m).unwrap();
    assert_eq!(r.raft_log.committed, 3);

    let mut heartbeat = new_message(2, 1, MessageType::MsgHeartbeat, 0);
    heartbeat.term = 1;
    heartbeat.commit = 1;
    r.step(heartbeat).unwrap();
    assert_eq!(r.raft_log.committed, 3);

    let mut stale = append(2, 1, 1, 1, 1, vec![empty_entry(1, 2)]);
    stale.commit = 0;
    r.step(stale).unwrap();
    assert_eq!(r.raft_log.committed, 3);
    assert_eq!(r.raft_log.last_index(), 3);
}

// A heartbeat announcing a commit past the follower's log must not make it
// commit entries it does not have (nor panic).
#[test]
fn heartbeat_commit_past_log_is_not_applied_beyond_log() {
    let mut r = TestRaft::builder(1).voters([1, 2, 3]).build();
    r.step(append(2, 1, 1, 0, 0, vec![empty_entry(1, 1)]))
        .unwrap();
    let mut heartbeat = new_message(2, 1, MessageType::MsgHeartbeat, 0);
    heartbeat.term = 1;
    heartbeat.commit = 5;
    r.step(heartbeat).unwrap();
    assert!(r.raft_log.committed <= r.raft_log.last_index());
}

// The new commit index reaches the followers with the next append round.
#[test]
fn followers_learn_the_commit_index() {
    let mut network = elected(3);
    network.send(vec![propose(1, "x")]);
    for id in 1..=3 {
        assert_eq!(network.peers[&id].raft_log.committed, 2, "node {id}");
    }
}

// A follower's commit never passes its own log, at any point of a run with
// a lagging follower catching up.
#[test]
fn lagging_follower_commit_stays_within_its_log() {
    let mut network = elected(3);
    network.isolate(3);
    for i in 0..5 {
        network.send(vec![propose(1, &format!("p{i}"))]);
    }
    network.recover();
    let mut queue = vec![beat(1)];
    let mut steps = 0;
    while !queue.is_empty() {
        steps += 1;
        assert!(steps < 1000, "no quiescence");
        let m = queue.remove(0);
        let Some(peer) = network.peers.get_mut(&m.to) else {
            continue;
        };
        let _ = peer.step(m);
        peer.persist();
        let replies = peer.read_messages();
        let follower = &network.peers[&3];
        assert!(
            follower.raft_log.committed <= follower.raft_log.last_index(),
            "{}",
            ltoa(&follower.raft_log)
        );
        queue.extend(network.filter(replies));
    }
    assert_eq!(network.peers[&3].raft_log.committed, 6);
}
