//! Lease-based reads are never stale (thesis §6.4.1): the lease counts from
//! the tick a leader *sent* the heartbeats a quorum acknowledged, ends with
//! a leader transfer, and rests on every node refusing to vote within an
//! election timeout of hearing from a leader or of starting, whatever its
//! term does meanwhile.

use harness::sim::{run_seed, FaultLevel, Options};
use harness::{Interface, Network};
use raft::eraftpb::{Entry, Message, MessageType};
use raft::storage::MemStorage;
use raft::{Config, Raft, ReadOnlyOption, ReadState, StateRole, CAMPAIGN_TRANSFER};
use slog::{o, Discard, Logger};

/// The election timeout of every node here, in ticks.
const ELECTION_TICKS: usize = 10;

fn logger() -> Logger {
    Logger::root(Discard, o!())
}

fn lease_config() -> Config {
    Config {
        check_quorum: true,
        read_only_option: ReadOnlyOption::LeaseBased,
        ..Network::default_config()
    }
}

fn message(from: u64, to: u64, t: MessageType) -> Message {
    let mut m = Message {
        from,
        to,
        ..Default::default()
    };
    m.set_msg_type(t);
    m
}

fn read_request(to: u64, ctx: &[u8]) -> Message {
    let mut m = message(to, to, MessageType::MsgReadIndex);
    m.entries = vec![Entry {
        data: ctx.to_vec().into(),
        ..Default::default()
    }];
    m
}

fn propose(to: u64, data: &str) -> Message {
    let mut m = message(to, to, MessageType::MsgPropose);
    m.entries = vec![Entry {
        data: data.as_bytes().to_vec().into(),
        ..Default::default()
    }];
    m
}

fn peer(network: &mut Network, id: u64) -> &mut Interface {
    network.peers.get_mut(&id).unwrap()
}

/// Ticks each of `ids` once, then delivers what that produced (and
/// everything it causes) over the links that are up.
fn tick(network: &mut Network, ids: &[u64]) {
    for &id in ids {
        peer(network, id).tick();
    }
    let msgs = network.read_messages();
    network.send(msgs);
}

/// `n` voters in lease mode, node 1 their leader with an entry of its term
/// committed, every follower's election timeout at its longest, and one
/// heartbeat round acknowledged.
fn leading(n: u64) -> Network {
    let peers = (0..n).map(|_| None).collect();
    let mut network = Network::new_with_config(peers, &lease_config(), &logger());
    let ids: Vec<u64> = (1..=n).collect();
    // A node grants no vote during its first election timeout (it may
    // have acknowledged a heartbeat just before a restart): let it pass
    // without anyone campaigning.
    for &id in &ids {
        peer(&mut network, id).set_randomized_election_timeout(2 * ELECTION_TICKS - 1);
    }
    for _ in 0..ELECTION_TICKS {
        tick(&mut network, &ids);
    }
    network.send(vec![message(1, 1, MessageType::MsgHup)]);
    assert_eq!(network.peers[&1].state, StateRole::Leader);
    for &id in &ids[1..] {
        peer(&mut network, id).set_randomized_election_timeout(2 * ELECTION_TICKS - 1);
    }
    tick(&mut network, &ids);
    network
}

/// Steps a read into `id` and returns the read states it has afterwards
/// and whether it sent heartbeats (a round, when the lease does not hold).
fn read(network: &mut Network, id: u64, ctx: &[u8]) -> (Vec<ReadState>, bool) {
    let node = peer(network, id);
    node.step(read_request(id, ctx)).unwrap();
    let msgs = node.read_messages();
    let round = msgs
        .iter()
        .any(|m| m.msg_type() == MessageType::MsgHeartbeat);
    // Put the round on the wire, through the network's filters.
    let msgs = network.filter(msgs);
    network.send(msgs);
    let states = std::mem::take(&mut peer(network, id).read_states);
    (states, round)
}

/// While the lease holds, a read is answered at once, without a round.
#[test]
fn a_read_is_answered_from_the_lease_without_a_round() {
    let mut network = leading(3);
    let committed = network.peers[&1].raft_log.committed;
    let (states, round) = read(&mut network, 1, b"lease");
    assert!(!round);
    assert_eq!(
        states,
        vec![ReadState {
            index: committed,
            request_ctx: b"lease".to_vec()
        }]
    );
}

/// The shape of simulator seed 500896 (thesis §6.4.1): a leader cut off
/// just after a check-quorum round still leads for up to two election
/// timeouts, while the others elect a new leader after one and commit a
/// write. The old leader's lease ran out before that election could
/// happen, so its read is not answered from the lease: it waits for a
/// round the partition swallows, and is never answered stale.
#[test]
fn a_cut_off_leader_does_not_answer_from_an_expired_lease() {
    let mut network = leading(3);
    let all = [1, 2, 3];
    // Run until node 1 has just completed a check-quorum round, with a
    // heartbeat of this very tick acknowledged by both followers.
    tick(&mut network, &all);
    while network.peers[&1].election_elapsed != 0 {
        tick(&mut network, &all);
    }
    network.isolate(1);
    // Node 2 times out first; node 3 heard from node 1 as long ago.
    peer(&mut network, 2).set_randomized_election_timeout(ELECTION_TICKS);
    for _ in 0..ELECTION_TICKS - 2 {
        tick(&mut network, &all);
    }
    // Two ticks before anyone may vote, the lease still holds.
    let (states, round) = read(&mut network, 1, b"early");
    assert!(!round, "the lease ended early");
    assert_eq!(states.len(), 1);
    tick(&mut network, &all);
    // One tick before: the lease is one tick shorter than the promise.
    let (states, round) = read(&mut network, 1, b"late");
    assert!(round && states.is_empty(), "answered at the last tick");
    tick(&mut network, &all);
    assert_eq!(network.peers[&2].state, StateRole::Leader);
    network.send(vec![propose(2, "w")]);
    let write_index = network.peers[&2].raft_log.committed;
    assert_eq!(network.peers[&2].raft_log.term(write_index), Ok(2));

    // Node 1 still leads (its next check-quorum round is ten ticks after
    // the last), and is asked to read.
    assert_eq!(network.peers[&1].state, StateRole::Leader);
    let (states, round) = read(&mut network, 1, b"stale?");
    assert!(round, "no round was started");
    assert!(
        states.is_empty(),
        "answered from an expired lease: {states:?}"
    );
    for _ in 0..ELECTION_TICKS {
        tick(&mut network, &all);
        let stale = peer(&mut network, 1)
            .read_states
            .iter()
            .any(|rs| rs.index < write_index);
        assert!(!stale, "a stale read");
    }
    // The next check-quorum round deposes it; the reads were never
    // answered.
    assert_eq!(network.peers[&1].state, StateRole::Follower);
    assert!(network.peers[&1].read_states.is_empty());
}

/// An acknowledgement extends the lease from when its heartbeat was sent,
/// not from when it arrived: a late one answering an old heartbeat does
/// not restore the lease, and the read falls back to a round, which
/// answers it.
#[test]
fn a_late_acknowledgement_extends_the_lease_only_from_its_send_tick() {
    let mut network = leading(3);
    // The next heartbeat's acknowledgements are held back.
    peer(&mut network, 1).tick();
    let heartbeats = peer(&mut network, 1).read_messages();
    assert!(heartbeats
        .iter()
        .all(|m| m.msg_type() == MessageType::MsgHeartbeat));
    let mut acks = vec![];
    for m in heartbeats {
        let to = m.to;
        peer(&mut network, to).step(m).unwrap();
        acks.extend(peer(&mut network, to).read_messages());
    }
    assert_eq!(acks.len(), 2);
    network.ignore(MessageType::MsgHeartbeat);
    for _ in 0..ELECTION_TICKS - 1 {
        peer(&mut network, 1).tick();
        peer(&mut network, 1).read_messages();
    }
    network.recover();
    // Delivered now, nine ticks after that heartbeat left.
    for ack in acks {
        peer(&mut network, 1).step(ack).unwrap();
    }
    assert_eq!(network.peers[&1].state, StateRole::Leader);
    let (states, round) = read(&mut network, 1, b"r");
    assert!(round, "a late acknowledgement renewed the lease");
    // The round itself is acknowledged at once here: it answers the read.
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].request_ctx, b"r".to_vec());
    // And its acknowledgements, of a heartbeat sent now, renew the lease.
    let (states, round) = read(&mut network, 1, b"again");
    assert!(!round && states.len() == 1);
}

/// Reads waiting for a round when the lease comes back are answered by
/// it, in order, before the read that found the lease holding.
#[test]
fn reads_waiting_for_a_round_are_answered_when_the_lease_comes_back() {
    let mut network = leading(3);
    network.ignore(MessageType::MsgHeartbeatResponse);
    for _ in 0..ELECTION_TICKS {
        tick(&mut network, &[1]);
    }
    let (states, round) = read(&mut network, 1, b"a");
    assert!(round && states.is_empty());
    let (states, round) = read(&mut network, 1, b"b");
    assert!(round && states.is_empty());
    assert_eq!(network.peers[&1].pending_read_count(), 2);
    network.recover();
    tick(&mut network, &[1]);
    let answered: Vec<Vec<u8>> = network.peers[&1]
        .read_states
        .iter()
        .map(|rs| rs.request_ctx.clone())
        .collect();
    assert_eq!(answered, vec![b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(network.peers[&1].pending_read_count(), 0);
}

/// Once the leader sent `MsgTimeoutNow`, the transferee's vote requests
/// bypass the followers' promise, and the message may arrive at any later
/// time: the lease is not used again in the term, even once the transfer
/// was aborted. Reads are still answered, by rounds.
#[test]
fn a_leader_transfer_ends_the_lease_for_the_rest_of_the_term() {
    let mut network = leading(3);
    network.ignore(MessageType::MsgTimeoutNow);
    network.send(vec![message(3, 1, MessageType::MsgTransferLeader)]);
    assert_eq!(network.peers[&1].lead_transferee, Some(3));
    let (states, round) = read(&mut network, 1, b"during");
    assert!(round, "a lease read during a transfer");
    assert_eq!(states.len(), 1, "the round answers it");
    // The transfer times out and is aborted; the lease stays off.
    for _ in 0..ELECTION_TICKS {
        tick(&mut network, &[1, 2, 3]);
    }
    assert_eq!(network.peers[&1].lead_transferee, None);
    assert_eq!(network.peers[&1].state, StateRole::Leader);
    let (states, round) = read(&mut network, 1, b"after");
    assert!(round, "a lease read after a transfer in this term");
    assert_eq!(states.len(), 1);
}

/// A voter in lease mode restarted from its storage.
fn restarted_voter(network: &Network, id: u64) -> Raft<MemStorage> {
    let config = Config {
        id,
        rng_seed: Some(id),
        ..lease_config()
    };
    Raft::new(&config, network.storage[&id].clone(), &logger()).unwrap()
}

fn vote_request(from: u64, to: u64, term: u64, r: &Raft<MemStorage>) -> Message {
    let mut m = message(from, to, MessageType::MsgRequestVote);
    m.term = term;
    m.index = r.raft_log.last_index();
    m.log_term = r.raft_log.last_term();
    m
}

fn granted(r: &mut Raft<MemStorage>) -> bool {
    let msgs = std::mem::take(&mut r.msgs);
    msgs.iter()
        .any(|m| m.msg_type() == MessageType::MsgRequestVoteResponse && !m.reject)
}

/// A restarted node does not remember hearing from a leader and may have
/// acknowledged one's heartbeat just before it stopped: for its first
/// election timeout it grants no vote, but a transfer's, and does not
/// campaign.
#[test]
fn a_restarted_node_neither_votes_nor_campaigns_for_an_election_timeout() {
    let network = leading(3);
    let term = network.peers[&3].term;
    let mut node = restarted_voter(&network, 3);
    node.set_randomized_election_timeout(2 * ELECTION_TICKS - 1);
    for _ in 0..ELECTION_TICKS - 1 {
        node.step(vote_request(2, 3, term + 1, &node)).unwrap();
        assert!(!granted(&mut node));
        node.step(message(3, 3, MessageType::MsgHup)).unwrap();
        assert_eq!(node.state, StateRole::Follower, "campaigned");
        node.tick();
    }
    assert_eq!(node.term, term, "a refused request moved the term");
    // A leader transfer's request is granted even now.
    let mut transfer = restarted_voter(&network, 3);
    let mut m = vote_request(2, 3, term + 1, &transfer);
    m.context = CAMPAIGN_TRANSFER.to_vec().into();
    transfer.step(m).unwrap();
    assert!(granted(&mut transfer));
    // One election timeout after the start, it votes again.
    node.tick();
    node.step(vote_request(2, 3, term + 1, &node)).unwrap();
    assert!(granted(&mut node));
    assert_eq!(node.vote, 2);

    // The same in safe mode: no promise, the vote is granted at once.
    let config = Config {
        id: 3,
        read_only_option: ReadOnlyOption::Safe,
        ..lease_config()
    };
    let mut safe = Raft::new(&config, network.storage[&3].clone(), &logger()).unwrap();
    safe.step(vote_request(2, 3, term + 1, &safe)).unwrap();
    assert!(granted(&mut safe));
}

/// A message of a higher term that is not a vote request (here a vote
/// rejection answering an old campaign) moves a follower to that term
/// without a leader; the vote request of that term that follows must
/// still wait for the promise, which counts from the last contact with the
/// leader of the earlier term.
#[test]
fn a_new_term_does_not_end_the_promise_not_to_vote() {
    let mut network = leading(3);
    let term = network.peers[&3].term;
    let node = peer(&mut network, 3);
    let mut rejection = message(2, 3, MessageType::MsgRequestVoteResponse);
    rejection.term = term + 1;
    rejection.reject = true;
    node.step(rejection).unwrap();
    assert_eq!((node.term, node.leader_id), (term + 1, 0));
    node.set_randomized_election_timeout(2 * ELECTION_TICKS - 1);
    for _ in 0..ELECTION_TICKS - 1 {
        node.tick();
    }
    let request = vote_request(2, 3, term + 1, node);
    node.step(request.clone()).unwrap();
    assert!(!granted(node), "voted within the promise");
    assert_eq!(node.vote, 0);
    node.tick();
    node.step(request).unwrap();
    assert!(granted(node));
    assert_eq!(node.vote, 2);
}

/// `forget_leader` does nothing in lease mode (as in etcd): the follower
/// keeps its leader and still ignores candidates.
#[test]
fn forget_leader_does_not_let_a_follower_vote_inside_the_lease() {
    let mut network = leading(3);
    let term = network.peers[&2].term;
    let node = peer(&mut network, 2);
    node.forget_leader();
    assert_eq!(node.leader_id, 1);
    let request = vote_request(3, 2, term + 1, node);
    node.step(request).unwrap();
    assert!(!granted(node));
    assert_eq!(node.term, term);
}

/// The simulator seeds that found stale lease reads (the old leader of
/// the test above answering after a new leader acknowledged a write) stay
/// clean. (Found first at seeds 500896, 501575, 1001502 and 1002269; the
/// simulator's draws have changed since, and these are the seeds that show
/// it with today's draws, the second with every fault weight raised.)
#[test]
fn the_simulator_seeds_that_found_stale_lease_reads_stay_clean() {
    for (seed, faults) in [
        (3_013_822, FaultLevel::Default),
        (4_002_170, FaultLevel::High),
    ] {
        let options = Options {
            faults,
            ..Options::default()
        };
        let outcome = run_seed(seed, options);
        assert!(
            outcome.params.lease_reads,
            "seed {seed} no longer reads by lease"
        );
        assert!(
            outcome.violations.is_empty(),
            "seed {seed}: {:#?}\nreplay: cargo run --release -p harness --bin sim -- --seed {seed} --trace",
            outcome.violations
        );
    }
}
