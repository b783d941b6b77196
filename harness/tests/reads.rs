//! Linearizable reads (thesis §6.4): ReadIndex in safe mode, lease-based
//! reads, forwarding from followers, and read bugs other implementations
//! shipped (etcd-io/etcd#7331, etcd-io/etcd#20418, tikv/raft-rs#140).

mod test_util;

use harness::*;
use raft::eraftpb::*;
use raft::*;
use test_util::*;

/// A leader confirms a read with a heartbeat round that carries a token of
/// its own (not the caller's context) and answers once a quorum acked it,
/// at the commit index it recorded when the read arrived.
#[test]
fn leader_confirms_read_with_a_heartbeat_round_then_answers_at_recorded_commit() {
    let mut network = elected(3);
    network.send(vec![propose(1, "x")]);
    let committed = network.peers[&1].raft_log.committed;
    assert_eq!(committed, 2);

    network
        .peers
        .get_mut(&1)
        .unwrap()
        .step(read_request(1, b"ctx1"))
        .unwrap();
    assert!(
        network.peers[&1].read_states.is_empty(),
        "answered before any ack"
    );
    assert_eq!(network.peers[&1].pending_read_count(), 1);

    let heartbeats = of_type(
        &network.peers.get_mut(&1).unwrap().read_messages(),
        MessageType::MsgHeartbeat,
    );
    assert_eq!(
        heartbeats.iter().map(|m| m.to).collect::<Vec<_>>(),
        vec![2, 3]
    );
    for hb in &heartbeats {
        assert!(
            !hb.context.is_empty(),
            "read round heartbeat without a token"
        );
        assert_ne!(
            hb.context.as_ref(),
            b"ctx1",
            "token must not be the caller's context"
        );
    }

    // One follower's ack plus the leader itself is a quorum of three.
    let resp = heartbeat_response_from(&mut network, &heartbeats[0]);
    network.peers.get_mut(&1).unwrap().step(resp).unwrap();
    let rs = std::mem::take(&mut network.peers.get_mut(&1).unwrap().read_states);
    assert_eq!(
        rs,
        vec![ReadState {
            index: committed,
            request_ctx: b"ctx1".to_vec()
        }]
    );
    assert_eq!(network.peers[&1].pending_read_count(), 0);

    // The second follower's late ack of the same round answers nothing more.
    let resp = heartbeat_response_from(&mut network, &heartbeats[1]);
    network.peers.get_mut(&1).unwrap().step(resp).unwrap();
    assert!(network.peers[&1].read_states.is_empty());
}

/// With five voters, one follower's ack is not a quorum; a second one is.
#[test]
fn read_waits_for_a_quorum_of_acks() {
    let mut network = elected(5);
    let leader = network.peers.get_mut(&1).unwrap();
    leader.step(read_request(1, b"q")).unwrap();
    let heartbeats = of_type(&leader.read_messages(), MessageType::MsgHeartbeat);
    assert_eq!(heartbeats.len(), 4);

    let first = heartbeat_response_from(&mut network, &heartbeats[0]);
    network
        .peers
        .get_mut(&1)
        .unwrap()
        .step(first.clone())
        .unwrap();
    // The same peer acking twice is still one ack.
    network.peers.get_mut(&1).unwrap().step(first).unwrap();
    assert!(network.peers[&1].read_states.is_empty());

    let second = heartbeat_response_from(&mut network, &heartbeats[1]);
    network.peers.get_mut(&1).unwrap().step(second).unwrap();
    assert_eq!(network.peers[&1].read_states.len(), 1);
    assert_eq!(network.peers[&1].read_states[0].request_ctx, b"q".to_vec());
}

/// A single voter is a quorum by itself: it answers without any message.
#[test]
fn single_voter_leader_answers_read_at_once() {
    let mut network = elected(1);
    network.send(vec![propose(1, "x")]);
    let leader = network.peers.get_mut(&1).unwrap();
    let committed = leader.raft_log.committed;
    leader.step(read_request(1, b"solo")).unwrap();
    assert!(leader.read_messages().is_empty());
    assert_eq!(
        leader.read_states,
        vec![ReadState {
            index: committed,
            request_ctx: b"solo".to_vec()
        }]
    );
}

/// A follower forwards a read to its leader and turns the leader's
/// MsgReadIndexResp into a ReadState of its own.
#[test]
fn follower_forwards_read_and_turns_response_into_read_state() {
    let mut network = elected(3);
    network.send(vec![propose(1, "x")]);
    let committed = network.peers[&1].raft_log.committed;

    let follower = network.peers.get_mut(&2).unwrap();
    follower.step(read_request(2, b"f")).unwrap();
    let forwarded = follower.read_messages();
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].msg_type(), MessageType::MsgReadIndex);
    assert_eq!((forwarded[0].from, forwarded[0].to), (2, 1));
    assert_eq!(forwarded[0].entries[0].data.as_ref(), b"f");

    let delivered = send_observed(&mut network, forwarded);
    let resps = of_type(&delivered, MessageType::MsgReadIndexResp);
    assert_eq!(resps.len(), 1);
    assert_eq!(resps[0].to, 2);
    assert!(
        network.peers[&1].read_states.is_empty(),
        "the leader kept a forwarded read"
    );
    assert_eq!(
        network.peers[&2].read_states,
        vec![ReadState {
            index: committed,
            request_ctx: b"f".to_vec()
        }]
    );
}

/// A follower that knows no leader drops the read.
#[test]
fn follower_without_leader_drops_read() {
    let mut network = Network::new(vec![None, None, None], &test_logger());
    let follower = network.peers.get_mut(&2).unwrap();
    assert_eq!(follower.leader_id, INVALID_ID);
    follower.step(read_request(2, b"lost")).unwrap();
    assert!(follower.read_messages().is_empty());
    assert!(follower.read_states.is_empty());
}

/// A malformed read response (not exactly one entry) is ignored.
#[test]
fn follower_ignores_malformed_read_response() {
    let mut network = elected(3);
    let mut resp = new_message(1, 2, MessageType::MsgReadIndexResp, 0);
    resp.term = network.peers[&1].term;
    resp.index = 1;
    network
        .peers
        .get_mut(&2)
        .unwrap()
        .step(resp.clone())
        .unwrap();
    resp.entries = vec![new_entry(0, 0, Some("a")), new_entry(0, 0, Some("b"))];
    network.peers.get_mut(&2).unwrap().step(resp).unwrap();
    assert!(network.peers[&2].read_states.is_empty());
}

// etcd-io/etcd#7331: a new leader whose commit index was inherited
// from an earlier term holds a read until it commits its own empty entry,
// and then answers at that newer commit index.
#[test]
fn new_leader_holds_read_until_it_commits_in_its_term() {
    let peers = (1..=3)
        .map(|id| {
            let storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1, 1]), 1);
            storage.wl().set_hardstate(hard_state(1, 2, 0));
            Some(TestRaft::builder(id).storage(storage).build())
        })
        .collect();
    let mut network = Network::new(peers, &test_logger());
    // The election goes through, but the new leader's empty entry does not.
    network.ignore(MessageType::MsgAppend);
    network.send(vec![hup(1)]);
    assert_eq!(leaders(&network), vec![1]);
    let leader = &network.peers[&1];
    assert_eq!(leader.term, 2);
    assert_eq!(leader.raft_log.committed, 2, "inherited commit index");
    assert!(!leader.commit_to_current_term());

    let delivered = send_observed(&mut network, vec![read_request(1, b"early")]);
    assert!(
        delivered
            .iter()
            .all(|m| m.msg_type() != MessageType::MsgHeartbeat),
        "a held read must not start a round: {delivered:?}"
    );
    assert!(
        network.peers[&1].read_states.is_empty(),
        "stale read answered"
    );
    assert_eq!(network.peers[&1].pending_read_count(), 0);

    // Heartbeats alone (no appends) still do not release it.
    network.send(vec![beat(1)]);
    assert!(
        network.peers[&1].read_states.is_empty(),
        "stale read answered"
    );

    network.recover();
    network.send(vec![beat(1)]);
    let leader = &network.peers[&1];
    assert_eq!(leader.raft_log.committed, 3);
    assert!(leader.commit_to_current_term());
    assert_eq!(
        leader.read_states,
        vec![ReadState {
            index: 3,
            request_ctx: b"early".to_vec()
        }]
    );
}

/// Reads held by a new leader are dropped, not answered, if it loses
/// leadership before committing in its term.
#[test]
fn held_reads_are_dropped_when_the_leader_steps_down() {
    let peers = (1..=3)
        .map(|id| {
            let storage = storage_with_log(vec![1, 2, 3], &entries_with_terms(&[1, 1]), 1);
            storage.wl().set_hardstate(hard_state(1, 2, 0));
            Some(TestRaft::builder(id).storage(storage).build())
        })
        .collect();
    let mut network = Network::new(peers, &test_logger());
    network.ignore(MessageType::MsgAppend);
    network.send(vec![hup(1)]);
    network.send(vec![read_request(1, b"held")]);
    network.isolate(1);
    network.send(vec![hup(2)]);
    assert_eq!(network.peers[&2].state, StateRole::Leader);
    network.recover();
    // Node 2's heartbeat carries a higher term: node 1 steps down.
    network.send(vec![beat(2)]);
    assert_eq!(network.peers[&1].state, StateRole::Follower);
    network.send(vec![beat(2)]);
    assert!(network.peers[&1].read_states.is_empty());
}

/// Lease-based reads (thesis §6.4.1) are answered at once, without a
/// heartbeat round, once the leader has committed in its term.
#[test]
fn lease_based_read_is_answered_without_a_round() {
    let mut config = Network::default_config();
    config.check_quorum = true;
    config.read_only_option = ReadOnlyOption::LeaseBased;
    let mut network = lease_elected(&config);
    network.send(vec![propose(1, "x")]);
    let leader = network.peers.get_mut(&1).unwrap();
    let committed = leader.raft_log.committed;
    leader.step(read_request(1, b"lease")).unwrap();
    assert!(
        leader.read_messages().is_empty(),
        "a lease read sent messages"
    );
    assert_eq!(
        leader.read_states,
        vec![ReadState {
            index: committed,
            request_ctx: b"lease".to_vec()
        }]
    );
}

/// A 3-node network in lease mode in which node 1 was elected and one of
/// its heartbeats acknowledged: in lease mode a node grants no vote during
/// its first election timeout, and the lease starts from an acknowledged
/// heartbeat.
fn lease_elected(config: &Config) -> Network {
    let mut network =
        Network::new_with_config((0..3).map(|_| None).collect(), config, &test_logger());
    for id in 1..=3 {
        let node = network.peers.get_mut(&id).unwrap();
        node.set_randomized_election_timeout(2 * config.election_tick - 1);
        for _ in 0..config.election_tick {
            node.tick();
        }
    }
    network.send(vec![hup(1)]);
    network.send(vec![beat(1)]);
    assert_eq!(leaders(&network), vec![1]);
    network
}

// tikv/raft-rs#140: lease reads without check quorum are refused
// by config validation, and so by node construction.
#[test]
fn lease_based_reads_require_check_quorum() {
    let mut config = TestRaft::builder(1).config();
    config.read_only_option = ReadOnlyOption::LeaseBased;
    config.check_quorum = false;
    assert!(matches!(config.validate(), Err(Error::ConfigInvalid(_))));
    assert!(Raft::new(&config, new_storage(vec![1]), &test_logger()).is_err());
    assert!(RawNode::new(&config, new_storage(vec![1]), &test_logger()).is_err());
    config.check_quorum = true;
    assert!(config.validate().is_ok());
}

/// Several outstanding reads are answered in the order they arrived, each
/// at the commit index of its own arrival, by one later round.
#[test]
fn outstanding_reads_are_answered_in_order() {
    let mut network = elected(3);
    // Lose every read round until the last one.
    network.ignore(MessageType::MsgHeartbeat);
    let mut want = vec![];
    for (i, ctx) in ["a", "b", "c"].iter().enumerate() {
        network.send(vec![propose(1, &format!("p{i}"))]);
        want.push(ReadState {
            index: network.peers[&1].raft_log.committed,
            request_ctx: ctx.as_bytes().to_vec(),
        });
        network.send(vec![read_request(1, ctx.as_bytes())]);
    }
    assert_eq!(
        want.iter().map(|r| r.index).collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
    assert!(network.peers[&1].read_states.is_empty());
    assert_eq!(network.peers[&1].pending_read_count(), 3);

    network.recover();
    // A regular heartbeat carries the newest read's token.
    network.send(vec![beat(1)]);
    assert_eq!(network.peers[&1].read_states, want);
    assert_eq!(network.peers[&1].pending_read_count(), 0);
}

/// An ack of an older read's round confirms only that read and the ones
/// before it, not reads registered after the round was sent.
#[test]
fn ack_of_an_older_round_does_not_confirm_newer_reads() {
    let mut network = elected(3);
    let leader = network.peers.get_mut(&1).unwrap();
    leader.step(read_request(1, b"old")).unwrap();
    let old_round = of_type(&leader.read_messages(), MessageType::MsgHeartbeat);
    leader.step(read_request(1, b"new")).unwrap();
    let new_round = of_type(&leader.read_messages(), MessageType::MsgHeartbeat);
    assert_ne!(old_round[0].context, new_round[0].context);

    let resp = heartbeat_response_from(&mut network, &old_round[0]);
    network.peers.get_mut(&1).unwrap().step(resp).unwrap();
    let answered: Vec<Vec<u8>> = network.peers[&1]
        .read_states
        .iter()
        .map(|r| r.request_ctx.clone())
        .collect();
    assert_eq!(answered, vec![b"old".to_vec()]);
    assert_eq!(network.peers[&1].pending_read_count(), 1);

    let resp = heartbeat_response_from(&mut network, &new_round[1]);
    network.peers.get_mut(&1).unwrap().step(resp).unwrap();
    assert_eq!(network.peers[&1].read_states.len(), 2);
    assert_eq!(
        network.peers[&1].read_states[1].request_ctx,
        b"new".to_vec()
    );
}

// etcd-io/etcd#20418: a retried read that reuses its context is not
// confirmed by delayed heartbeat responses of the earlier round.
#[test]
fn retried_read_is_not_confirmed_by_delayed_acks_of_an_earlier_round() {
    let mut network = elected(3);
    let leader = network.peers.get_mut(&1).unwrap();
    leader.step(read_request(1, b"same")).unwrap();
    let first_round = of_type(&leader.read_messages(), MessageType::MsgHeartbeat);
    let first_acks: Vec<Message> = first_round
        .iter()
        .map(|hb| heartbeat_response_from(&mut network, hb))
        .collect();

    // Node 2's ack answers the first read; node 3's is held back.
    network
        .peers
        .get_mut(&1)
        .unwrap()
        .step(first_acks[0].clone())
        .unwrap();
    assert_eq!(network.peers[&1].read_states.len(), 1);
    network.peers.get_mut(&1).unwrap().read_states.clear();

    // The application retries with the same context; the new round is lost.
    network.send(vec![propose(1, "meanwhile")]);
    let leader = network.peers.get_mut(&1).unwrap();
    leader.read_messages();
    leader.step(read_request(1, b"same")).unwrap();
    let second_round = of_type(&leader.read_messages(), MessageType::MsgHeartbeat);
    assert_eq!(leader.pending_read_count(), 1);

    // The delayed acks of the first round arrive: they confirm nothing.
    for ack in &first_acks {
        network
            .peers
            .get_mut(&1)
            .unwrap()
            .step(ack.clone())
            .unwrap();
    }
    assert!(
        network.peers[&1].read_states.is_empty(),
        "retried read confirmed by an old round"
    );
    assert_eq!(network.peers[&1].pending_read_count(), 1);

    // An ack of the new round does.
    let ack = heartbeat_response_from(&mut network, &second_round[1]);
    network.peers.get_mut(&1).unwrap().step(ack).unwrap();
    let leader = &network.peers[&1];
    assert_eq!(leader.read_states.len(), 1);
    assert_eq!(leader.read_states[0].index, leader.raft_log.committed);
}

/// Issue test: a leader partitioned away from the quorum never answers a
/// read in safe mode, however long it keeps heartbeating, even when a
/// minority keeps acking it; it drops the reads when it learns of the new
/// leader.
#[test]
fn reads_on_a_leader_partitioned_from_the_quorum_are_never_answered() {
    let mut network = elected(5);
    network.send(vec![propose(1, "before")]);
    // Node 1 keeps node 2; nodes 3, 4, 5 are the majority.
    for other in [3, 4, 5] {
        network.cut(1, other);
        network.cut(2, other);
    }
    for i in 0..5 {
        network.send(vec![read_request(1, format!("r{i}").as_bytes())]);
        tick_and_send(&mut network, 1, 1);
    }
    // The majority elects a leader and commits new writes meanwhile.
    network.send(vec![hup(3)]);
    assert_eq!(network.peers[&3].state, StateRole::Leader);
    network.send(vec![propose(3, "after")]);
    for _ in 0..20 {
        tick_and_send(&mut network, 1, 1);
        network.send(vec![beat(1)]);
    }
    assert_eq!(network.peers[&1].state, StateRole::Leader);
    assert!(
        network.peers[&1].read_states.is_empty(),
        "stale read answered by a minority leader: {:?}",
        network.peers[&1].read_states
    );
    assert_eq!(network.peers[&1].pending_read_count(), 5);

    network.recover();
    network.send(vec![beat(3)]);
    assert_eq!(network.peers[&1].state, StateRole::Follower);
    assert_eq!(network.peers[&1].pending_read_count(), 0);
    assert!(network.peers[&1].read_states.is_empty());
}

/// Issue test: a follower's read is answered with an index at least the
/// leader's commit index when the read was requested, even when the
/// follower itself lags behind.
#[test]
fn follower_read_index_is_at_least_leader_commit_at_request_time() {
    let mut network = elected(3);
    for round in 0..5 {
        // Node 2 misses a few writes, so its own commit index lags.
        network.cut(1, 2);
        for i in 0..3 {
            network.send(vec![propose(1, &format!("w{round}-{i}"))]);
        }
        network.recover();
        let leader_commit = network.peers[&1].raft_log.committed;
        let follower_commit = network.peers[&2].raft_log.committed;
        assert!(follower_commit < leader_commit);

        let ctx = format!("read{round}");
        network.send(vec![read_request(2, ctx.as_bytes())]);
        let rs = std::mem::take(&mut network.peers.get_mut(&2).unwrap().read_states);
        assert_eq!(rs.len(), 1, "round {round}");
        assert_eq!(rs[0].request_ctx, ctx.as_bytes());
        assert!(
            rs[0].index >= leader_commit,
            "round {round}: read index {} below the leader's commit {leader_commit}",
            rs[0].index
        );
        network.send(vec![beat(1)]);
    }
}

/// A read through a RawNode comes out in a Ready's read states.
#[test]
fn raw_node_read_index_comes_out_in_ready() {
    let storage = new_storage(vec![1]);
    let mut node = TestRaft::builder(1)
        .configure(|c| c.applied = 0)
        .storage(storage.clone())
        .raw_node();
    node.campaign().unwrap();
    handle_readies(&mut node, &storage);
    node.read_index(b"rn".to_vec());
    assert!(node.has_ready());
    let mut rd = node.ready();
    let rs = rd.take_read_states();
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].request_ctx, b"rn".to_vec());
    assert_eq!(rs[0].index, node.raft.raft_log.committed);
    node.advance(rd);
}

// ---- helpers ----

/// A local read request to `id` carrying `ctx`.
fn read_request(id: u64, ctx: &[u8]) -> Message {
    let mut m = new_message(id, id, MessageType::MsgReadIndex, 0);
    m.entries.push(Entry {
        data: ctx.to_vec().into(),
        ..Default::default()
    });
    m
}

/// Delivers `hb` to its receiver and returns the receiver's heartbeat
/// response (leaving nothing else queued in it).
fn heartbeat_response_from(network: &mut Network, hb: &Message) -> Message {
    let peer = network.peers.get_mut(&hb.to).unwrap();
    peer.step(hb.clone()).unwrap();
    peer.persist();
    let resps = of_type(&peer.read_messages(), MessageType::MsgHeartbeatResponse);
    assert_eq!(resps.len(), 1, "no heartbeat response from {}", hb.to);
    assert_eq!(resps[0].context, hb.context, "the token is echoed");
    resps[0].clone()
}
