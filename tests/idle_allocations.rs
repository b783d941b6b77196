//! Idle groups cost little by design: a settled follower's `tick` allocates
//! nothing and produces no `Ready`, and a settled leader's tick allocates
//! only its heartbeat messages.
//!
//! Allocations are counted by a counting global allocator defined here, in
//! this test binary (the library crates forbid `unsafe`; a `GlobalAlloc`
//! needs it). The count is per thread, so tests running in parallel do not
//! disturb each other.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use raft::prelude::*;
use raft::storage::MemStorage;
use raft::StateRole;

thread_local! {
    /// Heap allocations (alloc, alloc_zeroed, realloc) made by this thread.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// `System`, plus a per-thread count of allocation calls.
struct CountingAllocator;

fn count_one() {
    // `try_with`: a thread being torn down may allocate after its
    // thread-locals are gone; those allocations are not counted.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds the `GlobalAlloc` contract; counting touches only a const-initialised
// thread-local `Cell<u64>` (no allocation, no destructor).
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Three nodes over `MemStorage`, `check_quorum` and `pre_vote` on, driven
/// synchronously with every message delivered at once.
struct Group {
    nodes: Vec<RawNode<MemStorage>>,
    in_flight: Vec<Message>,
}

impl Group {
    fn new() -> Group {
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let nodes = (1..=3)
            .map(|id| {
                let config = Config {
                    election_tick: 10,
                    heartbeat_tick: 1,
                    check_quorum: true,
                    pre_vote: true,
                    rng_seed: Some(id),
                    ..Config::new(id)
                };
                let storage =
                    MemStorage::new_with_conf_state(ConfState::from((vec![1, 2, 3], vec![])));
                RawNode::new(&config, storage, &logger).unwrap()
            })
            .collect();
        Group {
            nodes,
            in_flight: Vec::new(),
        }
    }

    /// Handles `Ready`s and delivers messages until nothing is left.
    fn run_until_quiet(&mut self) {
        loop {
            for node in &mut self.nodes {
                if !node.has_ready() {
                    continue;
                }
                let mut ready = node.ready();
                self.in_flight.extend(ready.take_messages());
                node.store().wl().append(ready.entries()).unwrap();
                if let Some(hard_state) = ready.hs() {
                    node.store().wl().set_hardstate(hard_state.clone());
                }
                self.in_flight.extend(ready.take_persisted_messages());
                let mut light = node.advance(ready);
                if let Some(commit) = light.commit_index() {
                    node.store().wl().mut_hard_state().set_commit(commit);
                }
                self.in_flight.extend(light.take_messages());
                node.advance_apply();
            }
            if self.in_flight.is_empty() {
                return;
            }
            for message in std::mem::take(&mut self.in_flight) {
                let to = message.to as usize;
                self.nodes[to - 1].step(message).unwrap();
            }
        }
    }

    /// Node 1 elected, a few entries committed and applied, and then two
    /// election timeouts of heartbeats so every buffer reached its steady
    /// size.
    fn settled() -> Group {
        let mut group = Group::new();
        group.nodes[0].campaign().unwrap();
        group.run_until_quiet();
        for round in 0..5u8 {
            group.nodes[0].propose(vec![], vec![round; 128]).unwrap();
            group.run_until_quiet();
        }
        for _ in 0..20 {
            group.tick_all();
            group.run_until_quiet();
        }
        assert_eq!(group.nodes[0].raft.state, StateRole::Leader);
        group
    }

    fn tick_all(&mut self) {
        for node in &mut self.nodes {
            node.tick();
        }
    }
}

#[test]
fn idle_follower_tick_allocates_nothing_and_needs_no_ready() {
    let mut group = Group::settled();
    let term = group.nodes[0].raft.term;
    for _ in 0..50 {
        for follower in 1..3 {
            let node = &mut group.nodes[follower];
            let before = allocations();
            node.tick();
            assert_eq!(
                allocations() - before,
                0,
                "node {} allocated on an idle tick",
                follower + 1
            );
            assert!(!node.has_ready(), "an idle follower's tick made a Ready");
        }
        // The leader's heartbeats keep the followers idle (and reset their
        // election timers, so none of them starts a pre-vote).
        group.nodes[0].tick();
        group.run_until_quiet();
    }
    assert_eq!(group.nodes[0].raft.term, term, "an election happened");
}

#[test]
fn settled_leader_tick_allocates_only_its_heartbeats() {
    let mut group = Group::settled();
    for _ in 0..50 {
        let before = allocations();
        group.nodes[0].tick();
        let leader_tick = allocations() - before;
        // At most: one heartbeat to each of the two followers, and the
        // Vec that holds them.
        assert!(
            leader_tick <= 3,
            "the leader's tick made {leader_tick} allocations"
        );
        for follower in 1..3 {
            group.nodes[follower].tick();
        }
        group.run_until_quiet();
    }
}

#[test]
fn idle_group_produces_no_ready_between_heartbeats() {
    let group = Group::settled();
    // Everything was handled: nothing is pending on any node.
    for node in &group.nodes {
        assert!(!node.has_ready(), "node {} has a Ready", node.raft.id);
    }
}
