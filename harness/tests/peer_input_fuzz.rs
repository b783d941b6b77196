//! Seeded fuzzing of peer input: thousands of
//! random, nonsensical and mutated messages stepped into single nodes in
//! every role and into 3-node clusters. Nothing a peer sends may panic a
//! node, and the node's invariants hold throughout: the commit index never
//! regresses, `applied <= committed <= last_index`, terms never go back, no
//! committed entry ever changes, and (with honest peers on a faulty network)
//! at most one leader per term and one committed entry per index.
//!
//! Every run is seeded with `StdRng::seed_from_u64`, so a failure names the
//! seed and step that replay it.

mod test_util;

use std::collections::{BTreeMap, HashMap};

use harness::*;
use raft::eraftpb::*;
use raft::storage::MemStorage;
use raft::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use test_util::*;

const SINGLE_NODE_SEEDS: u64 = 100;
const SINGLE_NODE_STEPS: usize = 150;
const CLUSTER_SEEDS: u64 = 20;
const CLUSTER_STEPS: usize = 800;

/// Multiplies the number of seeds for a longer soak:
/// `HARNESS_FUZZ_SCALE=20 cargo test -p harness --test peer_input_fuzz`.
/// Runs stay deterministic: seed `n` is the same run at any scale.
fn scale() -> u64 {
    std::env::var("HARNESS_FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
    Learner,
}

const ROLES: [Role; 5] = [
    Role::Follower,
    Role::PreCandidate,
    Role::Candidate,
    Role::Leader,
    Role::Learner,
];

fn pick<T: Copy>(rng: &mut StdRng, xs: &[T]) -> T {
    xs[rng.gen_range(0..xs.len())]
}

/// A number near `around`, or one of the values that break careless
/// arithmetic (0, 1, u64::MAX and its neighbours), or anything at all.
fn nasty_u64(rng: &mut StdRng, around: u64) -> u64 {
    match rng.gen_range(0..12) {
        0 => 0,
        1 => 1,
        2 => around.saturating_sub(1),
        3 | 4 => around,
        5 => around.saturating_add(1),
        6 => around.saturating_add(rng.gen_range(2..100)),
        7 => u64::MAX,
        8 => u64::MAX - rng.gen_range(1..10),
        9 => rng.gen(),
        10 => around.saturating_sub(rng.gen_range(2..10)),
        _ => rng.gen_range(0..10),
    }
}

fn random_bytes(rng: &mut StdRng, max_len: usize) -> Vec<u8> {
    let len = rng.gen_range(0..=max_len);
    (0..len).map(|_| rng.gen()).collect()
}

fn random_entries(rng: &mut StdRng, start: u64, term: u64) -> Vec<Entry> {
    let n = pick(rng, &[0, 0, 1, 1, 2, 3, 5]);
    let mode = rng.gen_range(0..6);
    let mut index = start;
    let mut ents = Vec::with_capacity(n);
    for _ in 0..n {
        let entry_index = match mode {
            // Contiguous, as an honest leader sends them.
            0..=2 => index,
            // Anywhere.
            3 => nasty_u64(rng, start),
            // Gaps.
            4 => index.saturating_add(rng.gen_range(0..3)),
            // Backwards.
            _ => index.saturating_sub(2),
        };
        index = entry_index.saturating_add(1);
        let entry_term = if rng.gen_bool(0.7) {
            term
        } else {
            nasty_u64(rng, term)
        };
        let mut e = Entry {
            index: entry_index,
            term: entry_term,
            ..Default::default()
        };
        e.set_entry_type(pick(
            rng,
            &[
                EntryType::EntryNormal,
                EntryType::EntryNormal,
                EntryType::EntryNormal,
                EntryType::EntryConfChange,
                EntryType::EntryConfChangeV2,
            ],
        ));
        e.data = random_bytes(rng, 16).into();
        if rng.gen_bool(0.1) {
            e.context = random_bytes(rng, 8).into();
        }
        ents.push(e);
    }
    ents
}

fn random_conf_state(rng: &mut StdRng) -> ConfState {
    let mut voters = Vec::new();
    let mut learners = Vec::new();
    for id in 1..=4 {
        match rng.gen_range(0..3) {
            0 => voters.push(id),
            1 => learners.push(id),
            _ => {}
        }
    }
    ConfState::from((voters, learners))
}

/// A message to `node` whose every field may be nonsense, though often
/// plausible enough to get past the first checks.
fn random_message(rng: &mut StdRng, node: &Raft<MemStorage>) -> Message {
    let last = node.raft_log.last_index();
    let mut m = Message::default();
    if rng.gen_ratio(1, 40) {
        m.msg_type = protobuf::EnumOrUnknown::from_i32(rng.gen_range(19..1000));
    } else {
        m.set_msg_type(pick(rng, MessageType::values()));
    }
    m.to = if rng.gen_ratio(1, 20) {
        rng.gen()
    } else {
        node.id
    };
    m.from = pick(rng, &[0, 1, 2, 2, 3, 3, 4, 9, u64::MAX]);
    m.term = nasty_u64(rng, node.term);
    m.index = nasty_u64(rng, last);
    // Often the true term at that index, so appends pass the log check.
    m.log_term = match node.raft_log.term(m.index) {
        Ok(t) if rng.gen_bool(0.6) => t,
        _ => nasty_u64(rng, node.raft_log.last_term()),
    };
    m.commit = nasty_u64(rng, node.raft_log.committed.max(last));
    m.commit_term = nasty_u64(rng, node.term);
    let entry_term = m.term;
    m.entries = random_entries(rng, m.index.saturating_add(1), entry_term);
    m.reject = rng.gen_bool(0.3);
    m.reject_hint = nasty_u64(rng, last);
    if rng.gen_ratio(1, 5) {
        let meta = m.mut_snapshot().mut_metadata();
        meta.index = nasty_u64(rng, last);
        meta.term = nasty_u64(rng, node.term);
        meta.set_conf_state(random_conf_state(rng));
    }
    m.context = match rng.gen_range(0..4) {
        0 => CAMPAIGN_TRANSFER.to_vec(),
        1 => CAMPAIGN_ELECTION.to_vec(),
        2 => random_bytes(rng, 8),
        _ => Vec::new(),
    }
    .into();
    m.request_snapshot = if rng.gen_bool(0.2) {
        nasty_u64(rng, last)
    } else {
        0
    };
    m.priority = pick(rng, &[0, 0, -1, 1, 5, i64::MAX, i64::MIN]);
    m.deprecated_priority = pick(rng, &[0, 0, 3, u64::MAX]);
    m
}

/// A message an honest peer sent, with one field turned into nonsense.
fn mutate(rng: &mut StdRng, mut m: Message) -> Message {
    match rng.gen_range(0..9) {
        0 => m.term = nasty_u64(rng, m.term),
        1 => m.index = nasty_u64(rng, m.index),
        2 => m.log_term = nasty_u64(rng, m.log_term),
        3 => m.commit = nasty_u64(rng, m.commit),
        4 => m.entries = random_entries(rng, m.index.saturating_add(1), m.term),
        5 => m.reject = !m.reject,
        6 => m.reject_hint = nasty_u64(rng, m.reject_hint),
        7 => m.from = pick(rng, &[0, 4, 9, u64::MAX]),
        _ => m.set_msg_type(pick(rng, MessageType::values())),
    }
    m
}

/// The invariants of one node, checked after every input.
#[derive(Default)]
struct NodeChecker {
    commit: u64,
    term: u64,
    /// Term of every entry this node has reported committed.
    committed_terms: BTreeMap<u64, u64>,
}

impl NodeChecker {
    fn check(&mut self, node: &Raft<MemStorage>, at: &str) {
        let log = &node.raft_log;
        assert!(
            log.committed >= self.commit,
            "{at}: commit regressed from {} to {}",
            self.commit,
            log.committed
        );
        assert!(
            log.applied <= log.committed,
            "{at}: applied {} > committed {}",
            log.applied,
            log.committed
        );
        assert!(
            log.committed <= log.last_index(),
            "{at}: committed {} past last index {}",
            log.committed,
            log.last_index()
        );
        assert!(
            node.term >= self.term,
            "{at}: term went back from {} to {}",
            self.term,
            node.term
        );
        let first = log.first_index();
        let newly_committed = self.commit.saturating_add(1).max(first)..=log.committed;
        for index in newly_committed {
            if let Ok(term) = log.term(index) {
                self.committed_terms.insert(index, term);
            }
        }
        for (&index, &term) in self.committed_terms.range(first..) {
            if let Ok(now) = log.term(index) {
                if now != 0 {
                    assert_eq!(now, term, "{at}: committed entry {index} changed term");
                }
            }
        }
        self.commit = log.committed;
        self.term = node.term;
    }
}

fn node_in_role(role: Role, rng: &mut StdRng) -> Interface {
    let builder = TestRaft::builder(1).configure(|config| {
        config.pre_vote = role == Role::PreCandidate || rng.gen_bool(0.5);
        config.check_quorum = rng.gen_bool(0.5);
        config.batch_append = rng.gen_bool(0.3);
        config.max_size_per_msg = pick(rng, &[0, 100, NO_LIMIT]);
        config.max_inflight_msgs = pick(rng, &[1, 3, 256]);
        config.rng_seed = Some(rng.gen());
    });
    let storage = if role == Role::Learner {
        new_storage_with_learners(vec![2, 3], vec![1])
    } else {
        new_storage(vec![1, 2, 3])
    };
    storage
        .wl()
        .append(&entries_with_terms(&[1, 1, 2, 2]))
        .unwrap();
    storage.wl().set_hardstate(hard_state(2, 2, 0));
    let mut node = builder.storage(storage).build();
    match role {
        Role::Follower | Role::Learner => {}
        Role::PreCandidate => node.become_pre_candidate(),
        Role::Candidate => node.become_candidate(),
        Role::Leader => {
            node.become_candidate();
            node.become_leader();
            node.persist();
        }
    }
    node.read_messages();
    node
}

/// What a run did, so the sweep can check it exercised something.
#[derive(Default)]
struct Coverage {
    commit_advanced: bool,
    role_changed: bool,
    log_rewritten: bool,
}

fn run_single_node(seed: u64, role: Role) -> Coverage {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut node = node_in_role(role, &mut rng);
    let mut checker = NodeChecker::default();
    checker.check(&node, &format!("seed {seed} {role:?} start"));
    let (start_commit, start_state) = (node.raft_log.committed, node.state);
    let start_log = log_shape(&node.raft_log);
    let mut coverage = Coverage::default();
    for step in 0..SINGLE_NODE_STEPS {
        let at = format!("seed {seed} {role:?} step {step}");
        match rng.gen_range(0..20) {
            0 | 1 => {
                node.tick();
            }
            2 => {
                let _ = node.step(propose(1, "p"));
            }
            3 | 4 => node.persist(),
            5 => {
                let (applied, committed) = (node.raft_log.applied, node.raft_log.committed);
                if committed > applied {
                    let to = rng.gen_range(applied + 1..=committed);
                    node.commit_apply(to);
                }
            }
            _ => {
                let m = random_message(&mut rng, &node);
                let _ = node.step(m);
            }
        }
        node.read_messages();
        checker.check(&node, &at);
        coverage.commit_advanced |= node.raft_log.committed > start_commit;
        coverage.role_changed |= node.state != start_state;
    }
    let end_log = log_shape(&node.raft_log);
    coverage.log_rewritten =
        end_log.len() < start_log.len() || end_log[..start_log.len()] != start_log[..];
    coverage
}

macro_rules! single_node_fuzz {
    ($name:ident, $role:expr, $roles_change:expr) => {
        #[test]
        fn $name() {
            let runs: Vec<Coverage> = (0..SINGLE_NODE_SEEDS * scale())
                .map(|seed| run_single_node(seed, $role))
                .collect();
            // The sweep is not vacuous: nonsense got far enough to move
            // the commit index, change roles and rewrite uncommitted
            // entries in some runs.
            assert!(runs.iter().any(|c| c.commit_advanced), "commit never moved");
            if $roles_change {
                assert!(runs.iter().any(|c| c.role_changed), "role never changed");
            }
            assert!(runs.iter().any(|c| c.log_rewritten), "log never rewritten");
        }
    };
}

single_node_fuzz!(random_peer_input_into_follower, ROLES[0], true);
single_node_fuzz!(random_peer_input_into_pre_candidate, ROLES[1], true);
single_node_fuzz!(random_peer_input_into_candidate, ROLES[2], true);
single_node_fuzz!(random_peer_input_into_leader, ROLES[3], true);
// A learner never campaigns, so it rarely leaves the follower role.
single_node_fuzz!(random_peer_input_into_learner, ROLES[4], false);

// Every message type, with a spread of terms, in every role: a small
// exhaustive sweep ahead of the random ones.
#[test]
fn every_message_type_in_every_role() {
    let mut rng = StdRng::seed_from_u64(99);
    for role in ROLES {
        for &t in MessageType::values() {
            for term in [0, 1, 2, 3, 10, u64::MAX] {
                let mut node = node_in_role(role, &mut rng);
                let mut checker = NodeChecker::default();
                checker.check(&node, "start");
                let at = format!("{role:?} {t:?} term {term}");
                for from in [2, 9] {
                    let mut m = random_message(&mut rng, &node);
                    m.set_msg_type(t);
                    m.term = term;
                    m.from = from;
                    m.to = 1;
                    let _ = node.step(m);
                    node.persist();
                    node.read_messages();
                    checker.check(&node, &at);
                }
            }
        }
    }
}

/// A 3-node cluster driven by random ticks, proposals, elections and
/// transfers, over a network that reorders, duplicates, drops and replays
/// old messages. With `mutate_rate > 0`, some messages are also corrupted
/// in flight; then only each node's own invariants are checked (a corrupted
/// message may carry a forged leadership claim).
fn run_cluster(seed: u64, mutate_rate: f64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut config = Network::default_config();
    config.pre_vote = rng.gen_bool(0.5);
    config.check_quorum = rng.gen_bool(0.5);
    config.batch_append = rng.gen_bool(0.3);
    config.max_inflight_msgs = pick(&mut rng, &[2, 256]);
    config.rng_seed = Some(rng.gen());
    let mut network = Network::new_with_config(vec![None, None, None], &config, &test_logger());
    let honest = mutate_rate == 0.0;

    let mut in_flight: Vec<Message> = Vec::new();
    let mut history: Vec<Message> = Vec::new();
    let mut checkers: HashMap<u64, NodeChecker> =
        (1..=3).map(|id| (id, NodeChecker::default())).collect();
    let mut leader_of_term: HashMap<u64, u64> = HashMap::new();
    let mut committed_everywhere: BTreeMap<u64, u64> = BTreeMap::new();

    for step in 0..CLUSTER_STEPS {
        let at = format!("seed {seed} mutate {mutate_rate} step {step}");
        let id = rng.gen_range(1..=3u64);
        match rng.gen_range(0..100) {
            0..=29 => {
                network.peers.get_mut(&id).unwrap().tick();
            }
            30..=39 => {
                let _ = network.peers.get_mut(&id).unwrap().step(propose(id, "p"));
            }
            40..=41 => {
                let transferee = rng.gen_range(1..=3u64);
                let m = new_message(transferee, id, MessageType::MsgTransferLeader, 0);
                let _ = network.peers.get_mut(&id).unwrap().step(m);
            }
            42..=43 => {
                let _ = network.peers.get_mut(&id).unwrap().step(hup(id));
            }
            44..=45 => {
                let other = rng.gen_range(1..=3u64);
                let m = new_message(other, id, MessageType::MsgUnreachable, 0);
                let _ = network.peers.get_mut(&id).unwrap().step(m);
            }
            46..=89 if !in_flight.is_empty() => {
                let i = rng.gen_range(0..in_flight.len());
                let m = if rng.gen_bool(0.1) {
                    in_flight[i].clone()
                } else {
                    in_flight.swap_remove(i)
                };
                if rng.gen_bool(0.1) {
                    // Lost.
                } else {
                    let m = if rng.gen_bool(mutate_rate) {
                        mutate(&mut rng, m)
                    } else {
                        m
                    };
                    if history.len() < 300 {
                        history.push(m.clone());
                    } else {
                        let slot = rng.gen_range(0..history.len());
                        history[slot] = m.clone();
                    }
                    if let Some(peer) = network.peers.get_mut(&m.to) {
                        let _ = peer.step(m);
                    }
                }
            }
            90..=94 if !history.is_empty() => {
                // A stale message arrives late.
                let m = history[rng.gen_range(0..history.len())].clone();
                if let Some(peer) = network.peers.get_mut(&m.to) {
                    let _ = peer.step(m);
                }
            }
            _ => {
                let m = beat(id);
                let _ = network.peers.get_mut(&id).unwrap().step(m);
            }
        }
        for id in 1..=3u64 {
            let peer = network.peers.get_mut(&id).unwrap();
            peer.persist();
            if rng.gen_bool(0.3) {
                let (applied, committed) = (peer.raft_log.applied, peer.raft_log.committed);
                if committed > applied {
                    peer.commit_apply(committed);
                }
            }
            in_flight.extend(peer.read_messages());
            checkers
                .get_mut(&id)
                .unwrap()
                .check(&network.peers[&id], &format!("{at} node {id}"));
        }
        if honest {
            check_cluster_safety(
                &network,
                &mut leader_of_term,
                &mut committed_everywhere,
                &at,
            );
        }
    }
    if honest {
        // Healing: deliver everything, then wait for a settled leader and
        // have it commit a last entry (a pending leader transfer may drop
        // the proposal until it finishes or aborts).
        let msgs = std::mem::take(&mut in_flight);
        network.send(msgs);
        let mut attempts = 0;
        let leader = loop {
            attempts += 1;
            assert!(
                attempts < 100,
                "seed {seed}: healed group takes no proposal"
            );
            let leader = settled_leader(&mut network, seed);
            let accepted = network
                .peers
                .get_mut(&leader)
                .unwrap()
                .step(propose(leader, "final"))
                .is_ok();
            let msgs = network.peers.get_mut(&leader).unwrap().read_messages();
            network.send(msgs);
            if accepted {
                break leader;
            }
            tick_all_and_send(&mut network);
        };
        network.send(vec![beat(leader)]);
        check_cluster_safety(
            &network,
            &mut leader_of_term,
            &mut committed_everywhere,
            "healed",
        );
        let log = &network.peers[&leader].raft_log;
        assert_eq!(
            log.committed,
            log.last_index(),
            "seed {seed}: healed group did not commit"
        );
        let last = log.all_entries().last().cloned().unwrap();
        assert_eq!(&last.data[..], b"final", "seed {seed}");
    }
}

/// Ticks until every node follows one leader of the latest term (a stale
/// leader of an older term does not count), and returns it.
fn settled_leader(network: &mut Network, seed: u64) -> u64 {
    for _ in 0..500 {
        let max_term = (1..=3u64).map(|id| network.peers[&id].term).max().unwrap();
        let settled = leaders(network).into_iter().find(|&l| {
            network.peers[&l].term == max_term
                && (1..=3u64).all(|id| network.peers[&id].leader_id == l)
        });
        if let Some(leader) = settled {
            return leader;
        }
        tick_all_and_send(network);
    }
    panic!("seed {seed}: no settled leader after healing");
}

/// Election safety (one leader per term, §5.2) and state machine safety (no
/// two nodes commit different entries at an index, §5.4.3).
fn check_cluster_safety(
    network: &Network,
    leader_of_term: &mut HashMap<u64, u64>,
    committed_everywhere: &mut BTreeMap<u64, u64>,
    at: &str,
) {
    for id in 1..=3u64 {
        let node = &network.peers[&id];
        if node.state == StateRole::Leader {
            let leader = *leader_of_term.entry(node.term).or_insert(id);
            assert_eq!(leader, id, "{at}: two leaders in term {}", node.term);
        }
        let log = &node.raft_log;
        for index in log.first_index()..=log.committed {
            let Ok(term) = log.term(index) else {
                continue;
            };
            let agreed = *committed_everywhere.entry(index).or_insert(term);
            assert_eq!(
                agreed, term,
                "{at}: node {id} committed {index}@{term}, another node {index}@{agreed}"
            );
        }
    }
}

#[test]
fn cluster_on_faulty_network_keeps_safety() {
    for seed in 0..CLUSTER_SEEDS * scale() {
        run_cluster(seed, 0.0);
    }
}

#[test]
fn cluster_with_corrupted_messages_does_not_panic() {
    for seed in 0..CLUSTER_SEEDS * scale() {
        run_cluster(1000 + seed, 0.05);
    }
}

// Found by this fuzzer: a peer's message at term u64::MAX is adopted
// (§5.1), after which the election timeout must not overflow term + 1.
#[test]
fn node_at_maximum_term_does_not_campaign() {
    for pre_vote in [false, true] {
        let mut r = TestRaft::builder(1)
            .voters([1, 2, 3])
            .pre_vote(pre_vote)
            .build();
        let mut m = new_message(2, 1, MessageType::MsgHeartbeat, 0);
        m.term = u64::MAX;
        r.step(m).unwrap();
        assert_eq!(r.term, u64::MAX);
        for _ in 0..100 {
            r.tick();
        }
        r.step(hup(1)).unwrap();
        assert_eq!(r.state, StateRole::Follower, "pre_vote {pre_vote}");
        assert_eq!(r.term, u64::MAX);
    }
}

// Found by this fuzzer: a snapshot at index u64::MAX has no next index and
// is ignored.
#[test]
fn snapshot_at_maximum_index_is_ignored() {
    let mut r = TestRaft::builder(1).voters([1, 2, 3]).build();
    let mut m = new_message(2, 1, MessageType::MsgSnapshot, 0);
    m.term = 1;
    m.snapshot = Some(new_snapshot(u64::MAX, 1, vec![1, 2, 3])).into();
    r.step(m).unwrap();
    r.persist();
    assert_eq!(r.raft_log.last_index(), 0);
    assert_eq!(r.raft_log.committed, 0);
}

/// The highest log index a peer may name (half the index space: the rest
/// is headroom for this node's own appends).
const MAX_PEER_LOG_INDEX: u64 = u64::MAX / 2;

// Found by this fuzzer (soak): an entry at index u64::MAX would make the
// log's length overflow; an append carrying an entry past the highest index
// a peer may name is ignored.
#[test]
fn append_reaching_maximum_index_is_ignored() {
    let mut r = TestRaft::builder(1).voters([1, 2, 3]).build();
    let mut snap = new_message(2, 1, MessageType::MsgSnapshot, 0);
    snap.term = 1;
    snap.snapshot = Some(new_snapshot(MAX_PEER_LOG_INDEX - 1, 1, vec![1, 2, 3])).into();
    r.step(snap).unwrap();
    r.persist();
    assert_eq!(r.raft_log.last_index(), MAX_PEER_LOG_INDEX - 1);
    let ents = vec![
        empty_entry(1, MAX_PEER_LOG_INDEX),
        empty_entry(1, MAX_PEER_LOG_INDEX + 1),
    ];
    let mut m = new_message_with_entries(2, 1, MessageType::MsgAppend, ents);
    m.term = 1;
    m.index = MAX_PEER_LOG_INDEX - 1;
    m.log_term = 1;
    r.step(m).unwrap();
    r.persist();
    assert_eq!(r.raft_log.last_index(), MAX_PEER_LOG_INDEX - 1);
}

// Found by the raw_node fuzz target: a snapshot accepted at u64::MAX - 1
// left the node's own empty entry, on becoming leader, at u64::MAX, and the
// log's length overflowed. Snapshots past the highest index a peer may name
// are ignored; at that index, the node still has room to lead.
#[test]
fn snapshot_near_the_maximum_index_is_ignored() {
    let mut r = TestRaft::builder(1).voters([1, 2, 3]).build();
    for index in [u64::MAX - 1, MAX_PEER_LOG_INDEX + 1, MAX_PEER_LOG_INDEX] {
        let mut snap = new_message(2, 1, MessageType::MsgSnapshot, 0);
        snap.term = 1;
        snap.snapshot = Some(new_snapshot(index, 1, vec![1, 2, 3])).into();
        r.step(snap).unwrap();
        r.persist();
    }
    assert_eq!(r.raft_log.last_index(), MAX_PEER_LOG_INDEX);
    r.become_candidate();
    r.become_leader();
    assert_eq!(r.raft_log.last_index(), MAX_PEER_LOG_INDEX + 1);
}

// Found by this fuzzer (soak): a snapshot at exactly the commit index but
// of another term contradicts a committed entry (§5.4.3) and is ignored.
#[test]
fn snapshot_contradicting_committed_entry_is_ignored() {
    let mut r = TestRaft::builder(1).voters([1, 2, 3]).build();
    let mut snap = new_message(2, 1, MessageType::MsgSnapshot, 0);
    snap.term = 2;
    snap.snapshot = Some(new_snapshot(3, 1, vec![1, 2, 3])).into();
    r.step(snap.clone()).unwrap();
    r.persist();
    assert_eq!((r.raft_log.committed, r.raft_log.term(3).unwrap()), (3, 1));

    snap.snapshot = Some(new_snapshot(3, 2, vec![1, 2, 3])).into();
    r.step(snap).unwrap();
    r.persist();
    assert_eq!(
        r.raft_log.term(3).unwrap(),
        1,
        "committed entry 3 rewritten"
    );
}
