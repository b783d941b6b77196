//! Node-level benches: `Raft::new`, `campaign` (pre-election, election,
//! transfer) and `RawNode::new` for several cluster shapes, and a leader's
//! `propose` for payloads from 0 B to 1 MiB.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use raft::prelude::{ConfState, Config, RawNode};
use raft::storage::MemStorage;
use raft::{Raft, StateRole, CAMPAIGN_ELECTION, CAMPAIGN_PRE_ELECTION, CAMPAIGN_TRANSFER};

#[path = "support/short_group.rs"]
mod short_group;
use short_group::short;

/// (voters, learners) shapes measured, as in raft-rs's benches.
const SHAPES: [(u64, u64); 4] = [(0, 0), (3, 1), (5, 2), (7, 3)];

fn quiet_logger() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

/// Storage whose configuration has voters `1..=voters` and the next
/// `learners` ids as learners.
fn storage(voters: u64, learners: u64) -> MemStorage {
    let voter_ids: Vec<u64> = (1..=voters).collect();
    let learner_ids: Vec<u64> = (voters + 1..=voters + learners).collect();
    MemStorage::new_with_conf_state(ConfState::from((voter_ids, learner_ids)))
}

fn bench_raft_new(c: &mut Criterion) {
    let logger = quiet_logger();
    let config = Config::new(1);
    let mut group = short(c, "raft_new");
    for (voters, learners) in SHAPES {
        let id = BenchmarkId::from_parameter(format!("{voters}_voters_{learners}_learners"));
        group.bench_function(id, |b| {
            b.iter_batched(
                || storage(voters, learners),
                |store| Raft::new(&config, store, &logger).expect("valid config"),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn bench_campaign(c: &mut Criterion) {
    let logger = quiet_logger();
    let config = Config::new(1);
    let mut group = short(c, "campaign");
    let kinds: [(&str, &'static [u8]); 3] = [
        ("pre_election", CAMPAIGN_PRE_ELECTION),
        ("election", CAMPAIGN_ELECTION),
        ("transfer", CAMPAIGN_TRANSFER),
    ];
    for (voters, learners) in SHAPES {
        for (kind_name, kind) in kinds {
            let id = BenchmarkId::new(kind_name, format!("{voters}_voters_{learners}_learners"));
            group.bench_function(id, |b| {
                b.iter_batched(
                    || {
                        Raft::new(&config, storage(voters, learners), &logger)
                            .expect("valid config")
                    },
                    |mut raft| {
                        raft.campaign(kind);
                        // Handed back so the drop is not timed.
                        raft
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

fn bench_raw_node_new(c: &mut Criterion) {
    let logger = quiet_logger();
    let config = Config::new(1);
    let mut group = short(c, "raw_node_new");
    for (voters, learners) in SHAPES {
        let id = BenchmarkId::from_parameter(format!("{voters}_voters_{learners}_learners"));
        group.bench_function(id, |b| {
            b.iter_batched(
                || storage(voters, learners),
                |store| RawNode::new(&config, store, &logger).expect("valid config"),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// A single-voter node that has elected itself and applied its first entry.
fn single_leader(logger: &slog::Logger) -> RawNode<MemStorage> {
    let mut node = RawNode::new(&Config::new(1), storage(1, 0), logger).expect("valid config");
    node.campaign().expect("campaign");
    settle(&mut node);
    assert_eq!(
        node.raft.state,
        StateRole::Leader,
        "a lone voter elects itself"
    );
    node
}

/// Runs the driver loop of a lone node until it has nothing left to do, then
/// compacts its storage up to what it applied, so the log stays short.
fn settle(node: &mut RawNode<MemStorage>) {
    while node.has_ready() {
        let mut ready = node.ready();
        if !ready.entries().is_empty() {
            node.store().wl().append(ready.entries()).expect("append");
        }
        if let Some(hard_state) = ready.hs() {
            node.store().wl().set_hardstate(hard_state.clone());
        }
        drop(ready.take_committed_entries());
        let mut light = node.advance(ready);
        if let Some(commit) = light.commit_index() {
            node.store().wl().mut_hard_state().set_commit(commit);
        }
        drop(light.take_committed_entries());
        node.advance_apply();
    }
    let applied = node.raft.raft_log.applied;
    node.store().wl().compact(applied).expect("compact");
}

fn bench_leader_propose(c: &mut Criterion) {
    let logger = quiet_logger();
    let mut group = short(c, "leader_propose");
    for size in [0, 32, 128, 1024, 16 * 1024, 128 * 1024, 1024 * 1024] {
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            let mut node = single_leader(&logger);
            let data = vec![7u8; size];
            b.iter_custom(|iterations| {
                let mut elapsed = Duration::ZERO;
                for iteration in 0..iterations {
                    let payload = data.clone();
                    #[expect(
                        clippy::disallowed_methods,
                        reason = "a benchmark measures wall time; the ban keeps clocks out of the library"
                    )]
                    let started = Instant::now();
                    node.propose(Vec::new(), payload).expect("proposal accepted");
                    elapsed += started.elapsed();
                    // Keep the unstable log and storage short, untimed.
                    if iteration % 64 == 63 {
                        settle(&mut node);
                    }
                }
                settle(&mut node);
                elapsed
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_raft_new,
    bench_campaign,
    bench_raw_node_new,
    bench_leader_propose
);
criterion_main!(benches);
