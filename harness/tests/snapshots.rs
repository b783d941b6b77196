//! Snapshots (§7): the leader sends one when the entries a follower needs
//! are compacted, and a follower installs one newer than its commit index.
//! Includes etcd-io/etcd#10308 and tikv/raft-rs#417.

mod test_util;

use harness::*;
use raft::eraftpb::*;
use raft::*;
use test_util::*;

// ---- leader side ----

/// Issue test: a follower that falls behind a compacted log catches up
/// through one snapshot, then replicates through ordinary appends.
#[test]
fn follower_behind_compacted_log_catches_up_through_snapshot_then_replicates_normally() {
    let mut network = lagging_follower_behind_compaction();
    let snap_index = network.peers[&1].raft_log.committed;
    assert!(network.peers[&1].raft_log.first_index() > 2);

    let delivered = send_observed(&mut network, vec![beat(1)]);
    let snaps = of_type(&delivered, MessageType::MsgSnapshot);
    assert_eq!(snaps.len(), 1, "{delivered:?}");
    assert_eq!(snaps[0].to, 3);
    assert_eq!(snaps[0].get_snapshot().get_metadata().index, snap_index);
    assert_eq!(
        snaps[0]
            .get_snapshot()
            .get_metadata()
            .get_conf_state()
            .voters,
        vec![1, 2, 3]
    );
    let follower = &network.peers[&3];
    assert_eq!(follower.raft_log.committed, snap_index);
    assert_eq!(follower.raft_log.first_index(), snap_index + 1);
    assert_eq!(network.storage[&3].rl().hard_state().commit, snap_index);
    assert_ne!(
        network.peers[&1].prs().get(3).unwrap().state,
        ProgressState::Snapshot
    );

    let mut later = vec![];
    for i in 0..3 {
        later.extend(send_observed(
            &mut network,
            vec![propose(1, &format!("after{i}"))],
        ));
    }
    assert!(
        of_type(&later, MessageType::MsgSnapshot).is_empty(),
        "a second snapshot was sent"
    );
    let to_3 = of_type(&later, MessageType::MsgAppend)
        .into_iter()
        .filter(|m| m.to == 3 && !m.entries.is_empty())
        .count();
    assert!(to_3 >= 3, "appends to 3 did not resume");
    let leader = &network.peers[&1];
    let follower = &network.peers[&3];
    assert_eq!(follower.raft_log.last_index(), leader.raft_log.last_index());
    assert_eq!(follower.raft_log.committed, leader.raft_log.committed);
    assert_eq!(leader.prs().get(3).unwrap().state, ProgressState::Replicate);
    assert_eq!(
        leader.prs().get(3).unwrap().matched,
        leader.raft_log.last_index()
    );
}

/// While a snapshot is in flight the follower's progress is in snapshot
/// state, at the snapshot's index, and no appends are sent to it.
#[test]
fn leader_moves_progress_to_snapshot_state_and_pauses_appends() {
    let mut network = lagging_follower_behind_compaction();
    let snap_index = network.peers[&1].raft_log.committed;
    network.ignore(MessageType::MsgSnapshot);
    network.send(vec![beat(1)]);
    let pr = network.peers[&1].prs().get(3).unwrap().clone();
    assert_eq!(pr.state, ProgressState::Snapshot);
    assert_eq!(pr.pending_snapshot, snap_index);
    assert!(pr.is_paused());

    let delivered = send_observed(&mut network, vec![propose(1, "more")]);
    assert!(
        delivered
            .iter()
            .all(|m| m.to != 3 || m.msg_type() == MessageType::MsgHeartbeat),
        "sent to a follower installing a snapshot: {delivered:?}"
    );
}

/// SnapshotTemporarilyUnavailable is not an error: nothing is sent, the
/// progress stays out of snapshot state, and a later attempt succeeds.
#[test]
fn temporarily_unavailable_snapshot_is_tried_again_later() {
    let mut network = lagging_follower_behind_compaction();
    network.storage[&1].wl().trigger_snap_unavailable();
    let delivered = send_observed(&mut network, vec![beat(1)]);
    assert!(of_type(&delivered, MessageType::MsgSnapshot).is_empty());
    assert_ne!(
        network.peers[&1].prs().get(3).unwrap().state,
        ProgressState::Snapshot
    );
    assert_eq!(network.peers[&3].raft_log.last_index(), 1);

    let delivered = send_observed(&mut network, vec![beat(1)]);
    assert_eq!(of_type(&delivered, MessageType::MsgSnapshot).len(), 1);
    assert_eq!(
        network.peers[&3].raft_log.last_index(),
        network.peers[&1].raft_log.last_index()
    );
}

/// Issue test: a snapshot that fails (the driver reports Failure) moves the
/// progress back to probe, and the snapshot is sent again.
#[test]
fn failed_snapshot_is_retried() {
    let mut network = lagging_follower_behind_compaction();
    let snap_index = network.peers[&1].raft_log.committed;
    network.ignore(MessageType::MsgSnapshot);
    network.send(vec![beat(1)]);
    assert_eq!(
        network.peers[&1].prs().get(3).unwrap().state,
        ProgressState::Snapshot
    );

    network
        .peers
        .get_mut(&1)
        .unwrap()
        .step(snap_status(3, true))
        .unwrap();
    let pr = network.peers[&1].prs().get(3).unwrap().clone();
    assert_eq!(pr.state, ProgressState::Probe);
    assert_eq!(pr.pending_snapshot, 0);
    assert_eq!(
        pr.next_idx,
        pr.matched + 1,
        "a failed snapshot is not assumed"
    );
    assert!(pr.paused, "waits for the follower before sending again");
    assert!(network
        .peers
        .get_mut(&1)
        .unwrap()
        .read_messages()
        .is_empty());

    network.recover();
    let delivered = send_observed(&mut network, vec![beat(1)]);
    let snaps = of_type(&delivered, MessageType::MsgSnapshot);
    assert_eq!(snaps.len(), 1, "the snapshot was not retried");
    assert_eq!(snaps[0].get_snapshot().get_metadata().index, snap_index);
    assert_eq!(
        network.peers[&3].raft_log.last_index(),
        network.peers[&1].raft_log.last_index()
    );
}

/// A Finish report moves the progress to probe just past the snapshot.
#[test]
fn finished_snapshot_report_probes_past_the_snapshot() {
    let mut network = lagging_follower_behind_compaction();
    let snap_index = network.peers[&1].raft_log.committed;
    network.ignore(MessageType::MsgSnapshot);
    network.send(vec![beat(1)]);
    network
        .peers
        .get_mut(&1)
        .unwrap()
        .step(snap_status(3, false))
        .unwrap();
    let pr = network.peers[&1].prs().get(3).unwrap().clone();
    assert_eq!(pr.state, ProgressState::Probe);
    assert_eq!(pr.next_idx, snap_index + 1);
    assert!(pr.paused);

    // The snapshot never arrived: the probe is rejected and a snapshot is
    // sent again.
    network.recover();
    let delivered = send_observed(&mut network, vec![beat(1)]);
    assert_eq!(of_type(&delivered, MessageType::MsgSnapshot).len(), 1);
    assert_eq!(
        network.peers[&3].raft_log.last_index(),
        network.peers[&1].raft_log.last_index()
    );
}

/// A status report for a peer not in snapshot state changes nothing.
#[test]
fn snapshot_status_outside_snapshot_state_is_ignored() {
    let mut network = elected(3);
    network.send(vec![propose(1, "x")]);
    let before = network.peers[&1].prs().get(2).unwrap().clone();
    assert_eq!(before.state, ProgressState::Replicate);
    for reject in [true, false] {
        network
            .peers
            .get_mut(&1)
            .unwrap()
            .step(snap_status(2, reject))
            .unwrap();
        assert_eq!(network.peers[&1].prs().get(2).unwrap(), &before);
    }
}

// etcd-io/etcd#10308: an append response at or past the snapshot
// index takes the follower out of snapshot state, so replication resumes.
#[test]
fn append_response_at_or_past_snapshot_index_resumes_replication() {
    for past in [0, 1] {
        let mut network = lagging_follower_behind_compaction();
        network.ignore(MessageType::MsgSnapshot);
        // Two more entries, so the follower may hold more than the snapshot.
        network.send(vec![propose(1, "x")]);
        network.send(vec![propose(1, "y")]);
        network.send(vec![beat(1)]);
        assert_eq!(
            network.peers[&1].prs().get(3).unwrap().state,
            ProgressState::Snapshot
        );
        let term = network.peers[&1].term;
        let snap_index = network.peers[&1].prs().get(3).unwrap().pending_snapshot;
        assert!(snap_index >= 6);

        // An acknowledgement below the snapshot keeps waiting.
        let leader = network.peers.get_mut(&1).unwrap();
        leader
            .step(append_response(3, term, snap_index - 1))
            .unwrap();
        assert_eq!(
            leader.prs().get(3).unwrap().state,
            ProgressState::Snapshot,
            "past {past}"
        );
        leader.read_messages();

        leader
            .step(append_response(3, term, snap_index + past))
            .unwrap();
        let pr = leader.prs().get(3).unwrap().clone();
        assert_ne!(pr.state, ProgressState::Snapshot, "past {past}");
        assert_eq!(pr.matched, snap_index + past);

        // Replication resumes right after what 3 acknowledged: with the
        // ack (if the leader has entries past it) or with the next
        // proposal. (The acks were made up, so nothing is delivered: node 3
        // does not really hold those entries.)
        let mut sent = leader.read_messages();
        leader.step(propose(1, "z")).unwrap();
        sent.extend(leader.read_messages());
        let to_3: Vec<Message> = of_type(&sent, MessageType::MsgAppend)
            .into_iter()
            .filter(|m| m.to == 3)
            .collect();
        assert!(
            !to_3.is_empty(),
            "past {past}: replication to 3 did not resume"
        );
        assert_eq!(to_3[0].index, snap_index + past, "past {past}");
        assert!(
            to_3.iter().any(|m| !m.entries.is_empty()),
            "past {past}: no entries sent to 3: {to_3:?}"
        );
    }
}

// ---- follower side ----

/// A snapshot older than the commit index is ignored; the answer names the
/// commit index.
#[test]
fn snapshot_older_than_commit_is_ignored() {
    let mut r = follower_with_committed_log();
    let shape = log_shape(&r.raft_log);
    r.step(snapshot_msg(new_snapshot(2, 1, vec![1, 2, 3]), 2))
        .unwrap();
    assert!(r.snap().is_none());
    assert_eq!(log_shape(&r.raft_log), shape);
    assert_eq!(r.raft_log.committed, 3);
    assert_eq!(only_append_response(&mut r).index, 3);
}

/// A snapshot whose index and term the log already holds only moves the
/// commit index: the entries after it stay.
#[test]
fn snapshot_matching_the_log_only_fast_forwards_commit() {
    let mut r = follower_with_committed_log();
    let shape = log_shape(&r.raft_log);
    r.step(snapshot_msg(new_snapshot(4, 2, vec![1, 2, 3]), 2))
        .unwrap();
    assert!(r.snap().is_none(), "the log was reset");
    assert_eq!(log_shape(&r.raft_log), shape);
    assert_eq!(r.raft_log.committed, 4);
    assert_eq!(only_append_response(&mut r).index, 4);
}

/// A snapshot whose entry conflicts with the log (same index, other term)
/// or lies past it replaces the log.
#[test]
fn snapshot_conflicting_with_or_past_the_log_resets_it() {
    // (snapshot index, snapshot term)
    for (index, term) in [(4, 3), (10, 2), (5, 3)] {
        let mut r = follower_with_committed_log();
        r.step(snapshot_msg(new_snapshot(index, term, vec![1, 2, 3]), 3))
            .unwrap();
        let snap = r.snap().expect("snapshot pending").clone();
        assert_eq!(snap.get_metadata().index, index);
        assert_eq!(r.raft_log.last_index(), index, "({index}, {term})");
        assert_eq!(r.raft_log.last_term(), term);
        assert_eq!(r.raft_log.first_index(), index + 1);
        assert_eq!(r.raft_log.committed, index);
        assert_eq!(only_append_response(&mut r).index, index);
        r.persist();
        assert_eq!(r.raft_log.persisted, index);
        assert_eq!(r.raft_log.store.rl().hard_state().commit, index);
    }
}

/// The snapshot's ConfState becomes the node's configuration.
#[test]
fn snapshot_conf_state_becomes_the_configuration() {
    let mut r = follower_with_committed_log();
    let mut snap = new_snapshot(10, 3, vec![1, 2, 4]);
    snap.mut_metadata().mut_conf_state().learners = vec![5];
    r.step(snapshot_msg(snap, 3)).unwrap();
    let conf = r.prs().conf().to_conf_state();
    assert_eq!(sorted(conf.voters), vec![1, 2, 4]);
    assert_eq!(conf.learners, vec![5]);
    assert!(r.prs().get(3).is_none());
    assert!(r.prs().get(5).is_some());
    assert!(r.promotable());

    // Demoted to a learner by the next snapshot: no longer promotable.
    let mut snap = new_snapshot(12, 3, vec![1, 4]);
    snap.mut_metadata().mut_conf_state().learners = vec![2];
    r.step(snapshot_msg(snap, 3)).unwrap();
    assert_eq!(r.raft_log.last_index(), 12);
    assert!(!r.promotable());
    assert_eq!(r.prs().conf().to_conf_state().learners, vec![2]);
}

/// Malformed snapshots from a peer are ignored without a panic and change
/// neither the log nor the configuration.
#[test]
fn malformed_snapshots_are_ignored_without_panic() {
    let mut cases = vec![];
    // Index 0.
    cases.push(("index 0", new_snapshot(0, 3, vec![1, 2, 3])));
    // This node is not in the configuration.
    cases.push(("without this node", new_snapshot(10, 3, vec![1, 3])));
    // A learner that is also a voter.
    let mut s = new_snapshot(10, 3, vec![1, 2, 3]);
    s.mut_metadata().mut_conf_state().learners = vec![3];
    cases.push(("learner and voter", s));
    // No voters at all.
    let mut s = new_snapshot(10, 3, vec![]);
    s.mut_metadata().mut_conf_state().learners = vec![2];
    cases.push(("no voters", s));
    // A joint configuration whose outgoing voter is also a learner.
    let mut s = new_snapshot(10, 3, vec![1, 2]);
    s.mut_metadata().mut_conf_state().voters_outgoing = vec![1, 2, 3];
    s.mut_metadata().mut_conf_state().learners = vec![3];
    cases.push(("outgoing voter and learner", s));
    // No metadata at all.
    cases.push(("no metadata", Snapshot::default()));

    for (what, snap) in cases {
        let mut r = follower_with_committed_log();
        let shape = log_shape(&r.raft_log);
        let conf = r.prs().conf().to_conf_state();
        r.step(snapshot_msg(snap, 3)).unwrap();
        assert!(r.snap().is_none(), "{what}");
        assert_eq!(log_shape(&r.raft_log), shape, "{what}");
        assert_eq!(r.raft_log.committed, 3, "{what}");
        assert_eq!(r.prs().conf().to_conf_state(), conf, "{what}");
    }

    // A MsgSnapshot without any snapshot.
    let mut r = follower_with_committed_log();
    let mut m = new_message(1, 2, MessageType::MsgSnapshot, 0);
    m.term = 3;
    r.step(m).unwrap();
    assert!(r.snap().is_none());
    assert_eq!(r.raft_log.committed, 3);
}

// ---- request_snapshot ----

/// A follower asks its leader for a fresh snapshot; the leader sends one
/// covering the follower's last index, and replication goes on after it.
#[test]
fn request_snapshot_makes_the_leader_send_a_snapshot() {
    let mut network = elected(3);
    for i in 0..3 {
        network.send(vec![propose(1, &format!("p{i}"))]);
    }
    let last = network.peers[&2].raft_log.last_index();
    network
        .peers
        .get_mut(&2)
        .unwrap()
        .request_snapshot()
        .unwrap();
    assert_eq!(network.peers[&2].pending_request_snapshot, last);
    let msgs = network.peers.get_mut(&2).unwrap().read_messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].msg_type(), MessageType::MsgAppendResponse);
    assert!(msgs[0].reject);
    assert_eq!(msgs[0].request_snapshot, last);

    let delivered = send_observed(&mut network, msgs);
    let snaps = of_type(&delivered, MessageType::MsgSnapshot);
    assert_eq!(snaps.len(), 1, "{delivered:?}");
    assert_eq!(snaps[0].to, 2);
    assert!(snaps[0].get_snapshot().get_metadata().index >= last);
    assert_eq!(network.peers[&2].pending_request_snapshot, INVALID_INDEX);
    // The follower's acknowledgement of the snapshot (at an index the leader
    // already had as matched) ends the snapshot and serves the request
    // without the driver reporting (etcd-io/etcd#10308).
    let pr = network.peers[&1].prs().get(2).unwrap().clone();
    assert_ne!(pr.state, ProgressState::Snapshot, "{pr:?}");
    assert_eq!(pr.pending_request_snapshot, INVALID_INDEX, "{pr:?}");

    let delivered = send_observed(&mut network, vec![propose(1, "after")]);
    assert!(
        of_type(&delivered, MessageType::MsgSnapshot).is_empty(),
        "the request was served twice"
    );
    assert_eq!(
        network.peers[&2].raft_log.last_index(),
        network.peers[&1].raft_log.last_index()
    );
    assert_eq!(
        network.peers[&2].raft_log.committed,
        network.peers[&1].raft_log.committed
    );
}

/// While its request is pending, a follower answers appends and heartbeats
/// with the request again instead of accepting them.
#[test]
fn pending_snapshot_request_is_repeated_instead_of_appending() {
    let mut network = elected(3);
    network
        .peers
        .get_mut(&2)
        .unwrap()
        .request_snapshot()
        .unwrap();
    network.peers.get_mut(&2).unwrap().read_messages();
    let last = network.peers[&2].raft_log.last_index();

    let mut app = new_message(1, 2, MessageType::MsgAppend, 0);
    app.term = 1;
    app.index = last;
    app.log_term = 1;
    app.entries = vec![new_entry(1, last + 1, Some("x"))];
    let follower = network.peers.get_mut(&2).unwrap();
    follower.step(app).unwrap();
    assert_eq!(follower.raft_log.last_index(), last);
    let mut hb = new_message(1, 2, MessageType::MsgHeartbeat, 0);
    hb.term = 1;
    follower.step(hb).unwrap();
    let msgs = follower.read_messages();
    assert_eq!(msgs.len(), 2);
    for m in msgs {
        assert_eq!(m.msg_type(), MessageType::MsgAppendResponse);
        assert_eq!(m.request_snapshot, last);
    }
}

/// request_snapshot is dropped on a leader, without a leader, with a
/// snapshot or a request pending, and when the last entry is not of the
/// current term.
#[test]
fn request_snapshot_is_dropped_when_it_cannot_be_served() {
    // On the leader.
    let mut network = elected(3);
    assert_eq!(
        network.peers.get_mut(&1).unwrap().request_snapshot(),
        Err(Error::RequestSnapshotDropped)
    );

    // Without a leader.
    let mut fresh = Network::new(vec![None, None, None], &test_logger());
    assert_eq!(
        fresh.peers.get_mut(&2).unwrap().request_snapshot(),
        Err(Error::RequestSnapshotDropped)
    );

    // A request already pending.
    let follower = network.peers.get_mut(&2).unwrap();
    follower.request_snapshot().unwrap();
    follower.read_messages();
    assert_eq!(
        follower.request_snapshot(),
        Err(Error::RequestSnapshotDropped)
    );
    assert!(follower.read_messages().is_empty());

    // A snapshot received but not yet persisted.
    let mut r = follower_with_committed_log();
    r.step(snapshot_msg(new_snapshot(10, 2, vec![1, 2, 3]), 2))
        .unwrap();
    assert!(r.snap().is_some());
    r.read_messages();
    assert_eq!(r.request_snapshot(), Err(Error::RequestSnapshotDropped));
    assert!(r.read_messages().is_empty());
    assert_eq!(r.pending_request_snapshot, INVALID_INDEX);

    // A new term whose leader has not yet replicated anything.
    let mut network = elected(3);
    let mut hb = new_message(3, 2, MessageType::MsgHeartbeat, 0);
    hb.term = 5;
    let follower = network.peers.get_mut(&2).unwrap();
    follower.step(hb).unwrap();
    follower.read_messages();
    assert_eq!((follower.term, follower.leader_id), (5, 3));
    assert_eq!(
        follower.request_snapshot(),
        Err(Error::RequestSnapshotDropped)
    );
    assert_eq!(follower.pending_request_snapshot, INVALID_INDEX);
}

// ---- asynchronous persistence ----

// tikv/raft-rs#417, tikv/tikv#9349: a second snapshot arrives while
// the first is handed out but not yet persisted. Each is persisted in turn,
// the persisted index follows them exactly, and the node then appends after
// the second one.
#[test]
fn second_snapshot_before_the_first_is_persisted() {
    let storage = new_storage(vec![1, 2, 3]);
    let mut node = TestRaft::builder(2).storage(storage.clone()).raw_node();

    node.step(snapshot_msg(new_snapshot(5, 1, vec![1, 2, 3]), 1))
        .unwrap();
    let mut rd1 = node.ready();
    assert_eq!(rd1.snapshot().get_metadata().index, 5);
    let acks1 = rd1.take_persisted_messages();
    assert_eq!(acks1.len(), 1);
    assert_eq!(acks1[0].index, 5);
    assert!(rd1.must_sync());
    let number1 = rd1.number();
    // Written where the core reads it before the node is used again (the
    // driver contract); the write to disk finishes later.
    storage.wl().apply_snapshot(rd1.snapshot().clone()).unwrap();
    node.advance_append_async(rd1);

    // The second snapshot arrives before the first is on disk.
    node.step(snapshot_msg(new_snapshot(8, 1, vec![1, 2, 3]), 1))
        .unwrap();
    assert_eq!(node.raft.raft_log.committed, 8);
    let mut rd2 = node.ready();
    assert_eq!(rd2.snapshot().get_metadata().index, 8);
    let acks2 = rd2.take_persisted_messages();
    assert_eq!(acks2.len(), 1);
    assert_eq!(acks2[0].index, 8);
    let number2 = rd2.number();
    storage.wl().apply_snapshot(rd2.snapshot().clone()).unwrap();
    node.advance_append_async(rd2);
    assert_eq!(node.raft.raft_log.persisted, 0);

    // The first write completes: only index 5 is durable.
    node.on_persist_ready(number1);
    assert_eq!(node.raft.raft_log.persisted, 5);

    node.on_persist_ready(number2);
    assert_eq!(node.raft.raft_log.persisted, 8);
    assert_eq!(node.raft.raft_log.first_index(), 9);

    // Entries after the second snapshot are accepted and persisted.
    let mut app = new_message(1, 2, MessageType::MsgAppend, 0);
    app.term = 1;
    app.index = 8;
    app.log_term = 1;
    app.commit = 10;
    app.entries = vec![new_entry(1, 9, Some("a")), new_entry(1, 10, Some("b"))];
    node.step(app).unwrap();
    let mut rd3 = node.ready();
    let ents = rd3.take_entries();
    assert_eq!(
        ents.iter().map(|e| e.index).collect::<Vec<_>>(),
        vec![9, 10]
    );
    let acks3 = rd3.take_persisted_messages();
    assert_eq!(acks3[0].index, 10);
    assert!(!acks3[0].reject);
    storage.wl().append(&ents).unwrap();
    node.advance(rd3);
    assert_eq!(node.raft.raft_log.persisted, 10);
    assert_eq!(node.raft.raft_log.committed, 10);
}

/// Two snapshots received before any Ready is taken: only the newer one is
/// handed out.
#[test]
fn newer_snapshot_replaces_an_unhanded_one() {
    let storage = new_storage(vec![1, 2, 3]);
    let mut node = TestRaft::builder(2).storage(storage.clone()).raw_node();
    node.step(snapshot_msg(new_snapshot(5, 1, vec![1, 2, 3]), 1))
        .unwrap();
    node.step(snapshot_msg(new_snapshot(8, 1, vec![1, 2, 3]), 1))
        .unwrap();
    let rd = node.ready();
    assert_eq!(rd.snapshot().get_metadata().index, 8);
    storage.wl().apply_snapshot(rd.snapshot().clone()).unwrap();
    node.advance(rd);
    assert_eq!(node.raft.raft_log.persisted, 8);
    assert!(!node.has_ready() || node.ready().snapshot().get_metadata().index == 0);
}

// ---- helpers ----

/// Three nodes; node 3 missed five entries that the leader then compacted
/// away (its storage's first index is its commit index). All links healed.
fn lagging_follower_behind_compaction() -> Network {
    let mut network = elected(3);
    network.isolate(3);
    for i in 0..5 {
        network.send(vec![propose(1, &format!("p{i}"))]);
    }
    let committed = network.peers[&1].raft_log.committed;
    assert_eq!(committed, 6);
    network.storage[&1].wl().compact(committed).unwrap();
    network.recover();
    assert_eq!(network.peers[&3].raft_log.last_index(), 1);
    network
}

fn snap_status(from: u64, reject: bool) -> Message {
    let mut m = new_message(from, 1, MessageType::MsgSnapStatus, 0);
    m.reject = reject;
    m
}

fn append_response(from: u64, term: u64, index: u64) -> Message {
    let mut m = new_message(from, 1, MessageType::MsgAppendResponse, 0);
    m.term = term;
    m.index = index;
    m
}

/// A MsgSnapshot from node 1 to node 2 at `term`.
fn snapshot_msg(snap: Snapshot, term: u64) -> Message {
    let mut m = new_message(1, 2, MessageType::MsgSnapshot, 0);
    m.term = term;
    m.snapshot = Some(snap).into();
    m
}

/// Node 2 of {1, 2, 3}, following 1 in term 2, with log 1@1 2@1 3@2 4@2
/// 5@2 committed through 3.
fn follower_with_committed_log() -> Interface {
    let storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1, 1, 2, 2, 2]), 2);
    let mut r = TestRaft::builder(2)
        .voters([1, 2, 3])
        .storage(storage)
        .build();
    let mut heartbeat = new_message(1, 2, MessageType::MsgHeartbeat, 0);
    heartbeat.term = 2;
    heartbeat.commit = 3;
    r.step(heartbeat).unwrap();
    r.read_messages();
    assert_eq!(r.raft_log.committed, 3);
    r
}

fn only_append_response(r: &mut Interface) -> Message {
    let msgs = r.read_messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0].msg_type(), MessageType::MsgAppendResponse);
    assert!(!msgs[0].reject);
    msgs[0].clone()
}

fn sorted(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v
}

// §5.3: the leader of a term holds no entry of a later term, so a snapshot
// whose last entry is of a later term than its message is malformed. It is
// ignored (found by the storage_faults fuzz target: installing it raised
// the stored term above the node's, and the next hard state lowered it).
#[test]
fn snapshot_of_a_later_term_than_its_message_is_ignored() {
    let mut r = follower_with_committed_log();
    let before = log_shape(&r.raft_log);
    r.step(snapshot_msg(new_snapshot(10, 3, vec![1, 2, 3]), 2))
        .unwrap();
    assert_eq!(log_shape(&r.raft_log), before);
    assert_eq!(r.raft_log.committed, 3);
    assert_eq!(r.term, 2);
    let response = only_append_response(&mut r);
    assert_eq!(response.index, 3);

    // The same snapshot in a message of its own term installs.
    r.step(snapshot_msg(new_snapshot(10, 3, vec![1, 2, 3]), 3))
        .unwrap();
    assert_eq!(r.raft_log.committed, 10);
    assert_eq!(r.term, 3);
}
