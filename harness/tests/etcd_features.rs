//! Features etcd's raft has that raft-rs 0.7 lacks: forgetting the leader
//! (etcd's `ForgetLeader`) and cheap status for monitoring many groups
//! (`BasicStatus`, `WithProgress`). Flow control by bytes is in
//! `flow_control.rs`; the membership switches (`step_down_on_removal`,
//! `disable_conf_change_validation`) are in `membership.rs`.

mod test_util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use harness::*;
use raft::eraftpb::*;
use raft::storage::MemStorage;
use raft::*;
use test_util::*;

// ---------------------------------------------------------------------------
// Counting allocations (per thread, so tests running in parallel do not
// disturb each other)
// ---------------------------------------------------------------------------

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter is a const-initialized thread-local that never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded with the caller's arguments.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// The allocations `f` makes on this thread.
fn allocations_of(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

// ---------------------------------------------------------------------------
// Forgetting the leader (etcd's ForgetLeader)
// ---------------------------------------------------------------------------

fn check_quorum_config() -> Config {
    Config {
        check_quorum: true,
        ..Network::default_config()
    }
}

/// A vote request from `from` to `to` for `term`, with a log as long as
/// the leader's.
fn vote_request(network: &Network, from: u64, to: u64, term: u64) -> Message {
    let candidate = &network.peers[&from];
    let mut m = new_message(from, to, MessageType::MsgRequestVote, 0);
    m.term = term;
    m.index = candidate.raft_log.last_index();
    m.log_term = candidate.raft_log.last_term();
    m
}

// A follower that forgot its leader drops proposals instead of forwarding
// them to a leader the application believes dead.
#[test]
fn proposals_after_forget_leader_are_dropped_not_forwarded() {
    let mut network = elected(3);
    let follower = network.peers.get_mut(&2).unwrap();
    follower.step(propose(2, "before")).unwrap();
    let forwarded = of_type(&follower.read_messages(), MessageType::MsgPropose);
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].to, 1);

    let (term, elapsed) = (follower.term, follower.election_elapsed);
    follower.forget_leader();
    assert_eq!(follower.leader_id, INVALID_ID);
    assert_eq!(follower.state, StateRole::Follower);
    assert_eq!(follower.term, term, "no new term");
    assert_eq!(follower.election_elapsed, elapsed, "the timer is untouched");
    assert!(
        follower.read_messages().is_empty(),
        "no campaign, no message"
    );

    assert_eq!(
        follower.step(propose(2, "after")),
        Err(Error::ProposalDropped)
    );
    assert!(follower.read_messages().is_empty());

    // The next message from the leader makes it known again.
    network.send(vec![beat(1)]);
    assert_eq!(network.peers[&2].leader_id, 1);
}

// Thesis §4.2.3: with check quorum a follower that heard from its leader
// within the election timeout ignores vote requests. Once it forgot the
// leader it grants them at once, without waiting for the timeout.
#[test]
fn forget_leader_lets_a_check_quorum_follower_vote_at_once() {
    let mut network = elected_with(&check_quorum_config(), 3);
    let term = network.peers[&1].term;

    let request = vote_request(&network, 2, 3, term + 1);
    let voter = network.peers.get_mut(&3).unwrap();
    voter.step(request.clone()).unwrap();
    assert!(voter.read_messages().is_empty(), "in lease: ignored");
    assert_eq!(voter.term, term);

    voter.forget_leader();
    voter.step(request).unwrap();
    let resp = of_type(&voter.read_messages(), MessageType::MsgRequestVoteResponse);
    assert_eq!(resp.len(), 1);
    assert!(!resp[0].reject, "{:?}", resp[0]);
    assert_eq!((voter.term, voter.vote), (term + 1, 2));
}

// The same with pre-vote: the pre-vote is granted right after
// forget_leader, while it is refused before.
#[test]
fn forget_leader_lets_a_check_quorum_follower_grant_a_pre_vote() {
    let config = Config {
        pre_vote: true,
        ..check_quorum_config()
    };
    let mut network = elected_with(&config, 3);
    let term = network.peers[&1].term;
    let mut request = vote_request(&network, 2, 3, term + 1);
    request.set_msg_type(MessageType::MsgRequestPreVote);

    let voter = network.peers.get_mut(&3).unwrap();
    voter.step(request.clone()).unwrap();
    assert!(voter.read_messages().is_empty(), "in lease: ignored");

    voter.forget_leader();
    voter.step(request).unwrap();
    let resp = of_type(
        &voter.read_messages(),
        MessageType::MsgRequestPreVoteResponse,
    );
    assert_eq!(resp.len(), 1);
    assert!(!resp[0].reject, "{:?}", resp[0]);
    assert_eq!(voter.term, term, "a pre-vote changes no term");
}

#[test]
fn forget_leader_is_a_no_op_on_leaders_and_candidates() {
    let mut network = elected(3);
    let leader = network.peers.get_mut(&1).unwrap();
    leader.forget_leader();
    assert_eq!((leader.state, leader.leader_id), (StateRole::Leader, 1));
    assert!(leader.read_messages().is_empty());

    let candidate = network.peers.get_mut(&2).unwrap();
    candidate.become_candidate();
    let (term, vote) = (candidate.term, candidate.vote);
    candidate.forget_leader();
    assert_eq!(candidate.state, StateRole::Candidate);
    assert_eq!((candidate.term, candidate.vote), (term, vote));
}

// Lease reads rely on followers not voting while the leader's lease holds:
// forgetting the leader would break that, so it is refused.
#[test]
fn forget_leader_is_refused_with_lease_based_reads() {
    let config = Config {
        read_only_option: ReadOnlyOption::LeaseBased,
        ..check_quorum_config()
    };
    let mut network =
        Network::new_with_config((0..3).map(|_| None).collect(), &config, &test_logger());
    // In lease mode a node grants no vote during its first election timeout.
    for id in 1..=3 {
        let node = network.peers.get_mut(&id).unwrap();
        node.set_randomized_election_timeout(2 * config.election_tick - 1);
        for _ in 0..config.election_tick {
            node.tick();
        }
    }
    network.send(vec![hup(1)]);
    let follower = network.peers.get_mut(&2).unwrap();
    follower.forget_leader();
    assert_eq!(follower.leader_id, 1);
}

// ---------------------------------------------------------------------------
// Cheap status (etcd's BasicStatus and WithProgress)
// ---------------------------------------------------------------------------

/// A RawNode leading voters 1, 2, 3 and learners 4, 5.
fn raw_leader() -> RawNode<MemStorage> {
    let mut node = TestRaft::builder(1)
        .voters([1, 2, 3])
        .learners([4, 5])
        .raw_node();
    node.raft.become_candidate();
    node.raft.become_leader();
    node
}

#[test]
fn raw_node_forget_leader_shows_in_the_next_ready() {
    let mut node = TestRaft::builder(2).voters([1, 2, 3]).raw_node();
    let mut heartbeat = new_message(1, 2, MessageType::MsgHeartbeat, 0);
    heartbeat.term = 1;
    node.step(heartbeat).unwrap();
    let rd = node.ready();
    assert_eq!(rd.ss().map(|ss| ss.leader_id), Some(1));
    node.advance(rd);

    node.forget_leader();
    assert!(node.has_ready());
    let rd = node.ready();
    assert_eq!(rd.ss().map(|ss| ss.leader_id), Some(INVALID_ID));
    assert!(rd.messages().is_empty() && rd.persisted_messages().is_empty());
    assert_eq!(node.basic_status().ss.leader_id, INVALID_ID);
}

#[test]
fn basic_status_matches_status_and_allocates_nothing() {
    let mut node = raw_leader();
    node.transfer_leader(2);
    let mut basic = BasicStatus::default();
    let allocations = allocations_of(|| basic = node.basic_status());
    assert_eq!(allocations, 0);

    let status = node.status();
    assert_eq!(basic.id, status.id);
    assert_eq!(basic.hs, status.hs);
    assert_eq!(basic.ss, status.ss);
    assert_eq!(basic.applied, status.applied);
    assert_eq!(basic.ss.raft_state, StateRole::Leader);
    assert_eq!(basic.lead_transferee, Some(2));
}

#[test]
fn with_progress_visits_every_peer_once_in_place_without_allocating() {
    let node = raw_leader();
    // Room for the visits, allocated before counting.
    let mut seen: Vec<(u64, ProgressKind, *const Progress)> = Vec::with_capacity(8);
    let allocations = allocations_of(|| {
        node.with_progress(|id, kind, pr| seen.push((id, kind, pr as *const Progress)));
    });
    assert_eq!(allocations, 0, "with_progress allocated");

    use ProgressKind::*;
    let ids: Vec<(u64, ProgressKind)> = seen.iter().map(|&(id, kind, _)| (id, kind)).collect();
    assert_eq!(
        ids,
        vec![
            (1, Voter),
            (2, Voter),
            (3, Voter),
            (4, Learner),
            (5, Learner)
        ]
    );
    // The progress handed out is the tracker's own, not a copy.
    let prs = node.raft.prs();
    for (id, _, pr) in seen {
        assert!(std::ptr::eq(pr, prs.get(id).unwrap()), "peer {id} copied");
    }
}

// Node 1 being demoted in a joint configuration is a voter of the outgoing
// configuration and so still a voter; a voter being added is a voter.
#[test]
fn with_progress_in_a_joint_configuration_counts_both_halves_as_voters() {
    let mut node = raw_leader();
    let mut cc = ConfChangeV2::default();
    cc.set_transition(ConfChangeTransition::Explicit);
    cc.changes = raft_proto::parse_conf_change("l3 v4").unwrap();
    node.apply_conf_change(&cc).unwrap();
    let mut seen = Vec::new();
    node.with_progress(|id, kind, _| seen.push((id, kind)));
    use ProgressKind::*;
    assert_eq!(
        seen,
        vec![(1, Voter), (2, Voter), (3, Voter), (4, Voter), (5, Learner)]
    );
}
