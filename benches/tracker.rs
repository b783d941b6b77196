//! Hot paths of replication flow control: `Progress` updates and the
//! `Inflights` ring, and the leader's commit computation over the tracker.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use raft::prelude::{ConfState, Config};
use raft::storage::MemStorage;
use raft::{Inflights, Progress, Raft};

#[path = "support/short_group.rs"]
mod short_group;
use short_group::short;

/// A follower in replicate state: 64 optimistic sends (each recorded in
/// flight), then one acknowledgement for all of them.
fn bench_progress(c: &mut Criterion) {
    let mut group = short(c, "progress");
    group.throughput(Throughput::Elements(64));
    group.bench_function("replicate_64_sends_then_ack", |b| {
        let mut progress = Progress::new(1, 256);
        progress.become_replicate();
        let mut last = 0u64;
        b.iter(|| {
            for _ in 0..64 {
                last += 1;
                assert!(!progress.is_paused(), "window of 256 holds 64 in flight");
                progress.optimistic_update(last);
                progress.ins.add(last);
            }
            assert!(progress.maybe_update(last), "ack of {last} is news");
            progress.ins.free_to(last);
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("probe_reject_then_accept", |b| {
        b.iter_batched(
            || {
                let mut progress = Progress::new(1000, 256);
                progress.matched = 100;
                progress
            },
            |mut progress| {
                assert!(progress.maybe_decr_to(999, 500, 0), "rejection lowers next");
                progress.maybe_update(500);
                progress.become_replicate();
                progress
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn bench_inflights(c: &mut Criterion) {
    let mut group = short(c, "inflights");
    group.throughput(Throughput::Elements(256));
    group.bench_function("fill_256_free_half_twice", |b| {
        let mut inflights = Inflights::new(256);
        let mut next = 1u64;
        b.iter(|| {
            while !inflights.full() {
                inflights.add(next);
                next += 1;
            }
            inflights.free_to(next - 129);
            while !inflights.full() {
                inflights.add(next);
                next += 1;
            }
            inflights.free_to(next - 1);
            assert_eq!(inflights.count(), 0, "everything acknowledged");
        })
    });
    // The same with a byte limit (`Config::max_inflight_bytes`) that never
    // binds: the cost of recording and freeing the sizes.
    group.bench_function("fill_256_free_half_twice_byte_limit", |b| {
        let mut inflights = Inflights::new(256);
        inflights.set_max_bytes(u64::MAX);
        let mut next = 1u64;
        b.iter(|| {
            while !inflights.full() {
                inflights.add_with_bytes(next, 100);
                next += 1;
            }
            inflights.free_to(next - 129);
            while !inflights.full() {
                inflights.add_with_bytes(next, 100);
                next += 1;
            }
            inflights.free_to(next - 1);
            assert_eq!(inflights.bytes(), 0, "everything acknowledged");
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("add_free_first_one", |b| {
        let mut inflights = Inflights::new(256);
        let mut next = 1u64;
        b.iter(|| {
            inflights.add(next);
            next += 1;
            inflights.free_first_one();
        })
    });
    group.finish();
}

/// The leader's commit index over 3, 5 and 7 voters with distinct matches.
fn bench_maximal_committed_index(c: &mut Criterion) {
    let logger = slog::Logger::root(slog::Discard, slog::o!());
    let mut group = short(c, "maximal_committed_index");
    for voters in [3u64, 5, 7] {
        let ids: Vec<u64> = (1..=voters).collect();
        let store = MemStorage::new_with_conf_state(ConfState::from((ids, Vec::new())));
        let mut raft = Raft::new(&Config::new(1), store, &logger).expect("valid config");
        for id in 1..=voters {
            raft.mut_prs()
                .get_mut(id)
                .expect("voter has progress")
                .matched = id * 10;
        }
        let expected = (voters / 2 + 1) * 10;
        group.bench_function(BenchmarkId::from_parameter(voters), |b| {
            b.iter(|| {
                let (index, _) = raft.mut_prs().maximal_committed_index();
                assert_eq!(index, expected, "median of the voters' matches");
                index
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_progress,
    bench_inflights,
    bench_maximal_committed_index
);
criterion_main!(benches);
