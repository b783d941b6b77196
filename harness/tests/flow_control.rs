//! Flow control toward followers in replicate state (§5.3 leaves the pace
//! of appends to the implementation): the inflight window by message count
//! and by payload bytes (`Config::max_inflight_bytes`, etcd's
//! `MaxInflightBytes`), the way back from probe after `report_unreachable`,
//! and how a follower that missed the commit index learns it.

mod test_util;

use harness::*;
use raft::eraftpb::*;
use raft::*;
use test_util::*;

/// The payload of every proposal in these tests.
const PAYLOAD_BYTES: usize = 100;

/// A 3-node network, node 1 elected, one entry per append
/// (`max_size_per_msg` 0) and an inflight byte limit of `max_bytes`.
fn elected_with_byte_limit(max_bytes: u64) -> Network {
    let config = Config {
        max_size_per_msg: 0,
        max_inflight_bytes: max_bytes,
        ..Network::default_config()
    };
    elected_with(&config, 3)
}

/// A proposal of `PAYLOAD_BYTES` bytes of data.
fn propose_payload(to: u64) -> Message {
    let entry = Entry {
        data: vec![b'x'; PAYLOAD_BYTES].into(),
        ..Default::default()
    };
    new_message_with_entries(to, to, MessageType::MsgPropose, vec![entry])
}

/// Steps `m` into its receiver, persists it, and returns what it sent
/// (nothing is delivered further).
fn step_and_collect(network: &mut Network, m: Message) -> Vec<Message> {
    let peer = network.peers.get_mut(&m.to).expect("receiver exists");
    let _ = peer.step(m);
    peer.persist();
    peer.read_messages()
}

/// The messages of type `t` addressed to `to`.
fn to_peer(msgs: &[Message], t: MessageType, to: u64) -> Vec<Message> {
    msgs.iter()
        .filter(|m| m.msg_type() == t && m.to == to)
        .cloned()
        .collect()
}

/// Proposes `n` entries on node 1 and returns everything it sent.
fn propose_many(network: &mut Network, n: usize) -> Vec<Message> {
    let leader = network.peers.get_mut(&1).unwrap();
    for _ in 0..n {
        leader.step(propose_payload(1)).unwrap();
    }
    leader.persist();
    leader.read_messages()
}

// The leader stops sending to a follower once the payload bytes in flight
// reach the limit, before the message count does, and an acknowledgement
// frees the bytes of the messages it covers.
#[test]
fn byte_limit_pauses_replication_and_acks_free_bytes_in_order() {
    let mut network = elected_with_byte_limit(3 * PAYLOAD_BYTES as u64);
    let msgs = propose_many(&mut network, 10);
    let appends = to_peer(&msgs, MessageType::MsgAppend, 2);
    assert_eq!(appends.len(), 3, "300 bytes admit three 100-byte appends");
    let pr = network.peers[&1].prs().get(2).unwrap();
    assert_eq!(pr.state, ProgressState::Replicate);
    assert_eq!((pr.ins.count(), pr.ins.bytes()), (3, 300));
    assert!(pr.is_paused());

    // The follower acknowledges the first append only: its 100 bytes are
    // freed and exactly one more append goes out.
    let resp = step_and_collect(&mut network, appends[0].clone());
    let more = step_and_collect(&mut network, resp[0].clone());
    let more = to_peer(&more, MessageType::MsgAppend, 2);
    assert_eq!(more.len(), 1, "{more:?}");
    assert_eq!(more[0].entries[0].index, appends[2].entries[0].index + 1);
    let pr = network.peers[&1].prs().get(2).unwrap();
    assert_eq!((pr.ins.count(), pr.ins.bytes()), (3, 300));

    // An acknowledgement of everything frees everything, and the rest of
    // the log streams out in windows of three.
    network.send(vec![beat(1)]);
    let leader = &network.peers[&1];
    assert_eq!(
        network.peers[&2].raft_log.last_index(),
        leader.raft_log.last_index()
    );
    assert_eq!(leader.prs().get(2).unwrap().ins.bytes(), 0);
}

// A single append larger than the whole limit still goes out when nothing
// is in flight, or a big entry would wedge the follower forever; it then
// fills the window by itself.
#[test]
fn an_append_larger_than_the_byte_limit_is_sent_alone() {
    let mut network = elected_with_byte_limit(PAYLOAD_BYTES as u64 / 2);
    let msgs = propose_many(&mut network, 3);
    let appends = to_peer(&msgs, MessageType::MsgAppend, 2);
    assert_eq!(appends.len(), 1, "{appends:?}");
    assert_eq!(appends[0].entries.len(), 1);
    network.send(msgs);
    network.send(vec![beat(1)]);
    assert_eq!(
        network.peers[&2].raft_log.last_index(),
        network.peers[&1].raft_log.last_index(),
        "the follower caught up one big append at a time"
    );
}

// A follower paused by the byte limit receives no append, however many
// entries are proposed (etcd found appends leaking to paused followers),
// while heartbeats keep flowing to it.
#[test]
fn a_paused_follower_gets_heartbeats_but_no_appends() {
    let mut network = elected_with_byte_limit(2 * PAYLOAD_BYTES as u64);
    // Node 3 acknowledges everything, so entries commit and commit-only
    // broadcasts happen too; none of them may go to node 2 once it is
    // paused. Every message the leader sends is looked at; those to node 2
    // are not delivered.
    let mut to_2 = Vec::new();
    fn exchange(network: &mut Network, mut queue: Vec<Message>, to_2: &mut Vec<Message>) {
        while let Some(m) = queue.pop() {
            if m.to == 2 {
                if m.msg_type() == MessageType::MsgAppend {
                    to_2.push(m);
                }
                continue;
            }
            queue.extend(step_and_collect(network, m));
        }
    }
    let msgs = propose_many(&mut network, 2);
    exchange(&mut network, msgs, &mut to_2);
    assert!(network.peers[&1].prs().get(2).unwrap().is_paused());
    let paused_at = to_2.len();
    assert_eq!(paused_at, 2);

    for _ in 0..50 {
        let msgs = propose_many(&mut network, 1);
        exchange(&mut network, msgs, &mut to_2);
    }
    let leaked = &to_2[paused_at..];
    assert!(
        leaked.is_empty(),
        "appends sent to a paused follower: {leaked:?}"
    );
    let leader = network.peers.get_mut(&1).unwrap();
    assert!(leader.raft_log.committed > 50, "node 3 kept committing");
    assert!(leader.prs().get(2).unwrap().is_paused());

    // Heartbeats are not flow-controlled.
    leader.tick();
    let msgs = leader.read_messages();
    assert_eq!(to_peer(&msgs, MessageType::MsgHeartbeat, 2).len(), 1);
    assert!(to_peer(&msgs, MessageType::MsgAppend, 2).is_empty());
}

// etcd-io/raft#54: the bytes in flight are forgotten with the messages
// when the follower leaves replicate state (here through
// `report_unreachable`); a leaked counter would keep it paused forever
// once it is back in replicate state.
#[test]
fn leaving_replicate_state_resets_the_bytes_in_flight() {
    let mut network = elected_with_byte_limit(2 * PAYLOAD_BYTES as u64);
    network.cut(1, 2);
    let msgs = propose_many(&mut network, 4);
    network.filter_and_send(msgs);
    let pr = network.peers[&1].prs().get(2).unwrap();
    assert_eq!((pr.ins.bytes(), pr.is_paused()), (200, true));

    // Both appends were lost: the transport says so.
    let leader = network.peers.get_mut(&1).unwrap();
    leader
        .step(new_message(2, 1, MessageType::MsgUnreachable, 0))
        .unwrap();
    let pr = leader.prs().get(2).unwrap();
    assert_eq!(pr.state, ProgressState::Probe);
    assert_eq!((pr.ins.count(), pr.ins.bytes()), (0, 0));

    network.recover();
    network.send(vec![beat(1)]);
    for _ in 0..5 {
        let msgs = propose_many(&mut network, 1);
        network.send(msgs);
    }
    let leader = &network.peers[&1];
    let pr = leader.prs().get(2).unwrap();
    assert_eq!(pr.state, ProgressState::Replicate);
    assert_eq!(pr.ins.bytes(), 0, "{pr:?}");
    assert_eq!(
        network.peers[&2].raft_log.committed,
        leader.raft_log.committed
    );
}

// Without a byte limit (the default) nothing is recorded, and only the
// message count bounds the window, as in raft-rs 0.7.
#[test]
fn without_a_byte_limit_only_the_count_bounds_the_window() {
    let config = Config {
        max_size_per_msg: 0,
        max_inflight_msgs: 4,
        ..Network::default_config()
    };
    assert_eq!(config.max_inflight_bytes, 0);
    let mut network = elected_with(&config, 3);
    let msgs = propose_many(&mut network, 10);
    assert_eq!(to_peer(&msgs, MessageType::MsgAppend, 2).len(), 4);
    let pr = network.peers[&1].prs().get(2).unwrap();
    assert_eq!((pr.ins.count(), pr.ins.bytes()), (4, 0));
}

// A caught-up follower reported unreachable goes back to probe state; the
// next heartbeat response probes it (an empty append) and its answer puts
// it back in replicate state, without waiting for a proposal (etcd: a
// follower stuck in probe after ReportUnreachable).
#[test]
fn unreachable_caught_up_follower_is_probed_on_the_next_heartbeat_response() {
    let mut network = elected(3);
    let leader = network.peers.get_mut(&1).unwrap();
    leader
        .step(new_message(2, 1, MessageType::MsgUnreachable, 0))
        .unwrap();
    let pr = leader.prs().get(2).unwrap();
    assert_eq!(pr.state, ProgressState::Probe);
    assert_eq!(pr.matched, leader.raft_log.last_index(), "caught up");

    let heartbeats = step_and_collect(&mut network, beat(1));
    let hb = to_peer(&heartbeats, MessageType::MsgHeartbeat, 2).remove(0);
    let resp = step_and_collect(&mut network, hb).remove(0);
    let probe = step_and_collect(&mut network, resp);
    let probe = to_peer(&probe, MessageType::MsgAppend, 2);
    assert_eq!(probe.len(), 1, "the heartbeat response triggers a probe");
    assert!(probe[0].entries.is_empty());

    network.send(probe);
    let pr = network.peers[&1].prs().get(2).unwrap();
    assert_eq!(pr.state, ProgressState::Replicate);
}

// An unreachable follower that lags is probed with the entries it lacks,
// one append at a time, and streams again once it answers.
#[test]
fn unreachable_lagging_follower_catches_up_through_probe() {
    let mut network = elected(3);
    network.cut(1, 2);
    for _ in 0..3 {
        let msgs = propose_many(&mut network, 1);
        network.filter_and_send(msgs);
    }
    let leader = network.peers.get_mut(&1).unwrap();
    leader
        .step(new_message(2, 1, MessageType::MsgUnreachable, 0))
        .unwrap();
    assert_eq!(leader.prs().get(2).unwrap().state, ProgressState::Probe);
    network.recover();
    network.send(vec![beat(1)]);
    let leader = &network.peers[&1];
    let pr = leader.prs().get(2).unwrap();
    assert_eq!(pr.state, ProgressState::Replicate);
    assert_eq!(pr.matched, leader.raft_log.last_index());
    assert_eq!(
        network.peers[&2].raft_log.committed,
        leader.raft_log.committed
    );
}

// A follower whose acknowledgement shows it missed the commit index (the
// append that carried it was lost, and the heartbeat left before the
// leader knew the follower held the entry) is sent the commit at once, in
// an empty append, without a new proposal or another heartbeat round.
#[test]
fn a_follower_that_missed_the_commit_is_sent_it_on_its_next_ack() {
    let mut network = elected(3);
    let before = network.peers[&1].raft_log.committed;
    let msgs = propose_many(&mut network, 1);
    let index = before + 1;
    let to_2 = to_peer(&msgs, MessageType::MsgAppend, 2).remove(0);
    let to_3 = to_peer(&msgs, MessageType::MsgAppend, 3).remove(0);
    let ack_2 = step_and_collect(&mut network, to_2).remove(0);
    let ack_3 = step_and_collect(&mut network, to_3).remove(0);
    assert_eq!((ack_3.index, ack_3.commit), (index, before));

    // Node 2's ack commits the entry; the append carrying the commit to
    // node 3 is lost.
    let bcast = step_and_collect(&mut network, ack_2);
    assert_eq!(network.peers[&1].raft_log.committed, index);
    let commit_to_3 = to_peer(&bcast, MessageType::MsgAppend, 3);
    assert_eq!(commit_to_3.len(), 1);
    assert_eq!(commit_to_3[0].commit, index);

    // A heartbeat leaves while node 3's ack is still on its way, so it
    // carries only what node 3 was known to hold.
    let heartbeats = step_and_collect(&mut network, beat(1));
    let hb_3 = to_peer(&heartbeats, MessageType::MsgHeartbeat, 3).remove(0);
    assert_eq!(hb_3.commit, before);
    let sent = step_and_collect(&mut network, ack_3);
    assert!(to_peer(&sent, MessageType::MsgAppend, 3).is_empty());

    // Node 3 answers the heartbeat with its stale commit index: the leader
    // sends it the commit.
    let hb_resp = step_and_collect(&mut network, hb_3).remove(0);
    assert_eq!(hb_resp.commit, before);
    let sent = step_and_collect(&mut network, hb_resp);
    let commit = to_peer(&sent, MessageType::MsgAppend, 3);
    assert_eq!(commit.len(), 1, "{sent:?}");
    assert!(commit[0].entries.is_empty());
    assert_eq!(commit[0].commit, index);
    network.send(commit);
    assert_eq!(network.peers[&3].raft_log.committed, index);
}

// A follower that reports the leader's commit gets nothing extra from its
// heartbeat responses: the rule costs no messages in the steady state.
#[test]
fn heartbeat_responses_of_up_to_date_followers_trigger_nothing() {
    let mut network = elected(3);
    let msgs = propose_many(&mut network, 1);
    network.send(msgs);
    let heartbeats = step_and_collect(&mut network, beat(1));
    for hb in of_type(&heartbeats, MessageType::MsgHeartbeat) {
        let resp = step_and_collect(&mut network, hb).remove(0);
        let sent = step_and_collect(&mut network, resp);
        assert!(sent.is_empty(), "{sent:?}");
    }
}
