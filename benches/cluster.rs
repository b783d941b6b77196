//! Whole-cluster workloads (a)–(h) and (j) of the raft-rs comparison, scaled
//! down, for this crate alone, plus `ready()` on a busy leader. Each iteration builds its cluster,
//! runs the workload, and panics unless every node applied exactly what was
//! proposed; only the workload itself is timed.
//!
//! The same workloads run against raft-rs 0.7 in `compare/`
//! (`cargo run --release --manifest-path compare/Cargo.toml`).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Called by the workloads around their measured parts.
pub trait Meter {
    /// A measured part begins.
    fn start(&mut self);
    /// A measured part ends (the meter sums the parts).
    fn stop(&mut self);
}

/// Sums wall time over measured parts.
#[derive(Default)]
struct Stopwatch {
    started: Option<Instant>,
    elapsed: Duration,
}

impl Meter for Stopwatch {
    #[expect(
        clippy::disallowed_methods,
        reason = "a benchmark measures wall time; the ban keeps clocks out of the library"
    )]
    fn start(&mut self) {
        self.started = Some(Instant::now());
    }

    fn stop(&mut self) {
        let started = self.started.take().expect("start before stop");
        self.elapsed += started.elapsed();
    }
}

/// The workloads shared with `compare/`, instantiated for this crate.
#[expect(
    dead_code,
    reason = "driver_heap_bytes serves the comparison's heap measurement only"
)]
mod workloads {
    use raft as raft_impl;
    include!("support/cluster_workloads.rs");
}

/// Times `iterations` runs of `workload`, counting only its measured parts.
fn timed(iterations: u64, mut workload: impl FnMut(&mut Stopwatch) -> u64) -> Duration {
    let mut stopwatch = Stopwatch::default();
    for _ in 0..iterations {
        workload(&mut stopwatch);
    }
    stopwatch.elapsed
}

fn bench_cluster_workloads(c: &mut Criterion) {
    let mut group = c.benchmark_group("cluster");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));

    let entries = 256;
    group.throughput(Throughput::Elements(entries));
    group.bench_function("a_one_node_one_entry_per_cycle", |b| {
        b.iter_custom(|iterations| {
            timed(iterations, |meter| {
                workloads::propose_one_by_one(meter, 1, entries)
            })
        })
    });
    group.bench_function("d_three_nodes_one_append_per_entry", |b| {
        b.iter_custom(|iterations| {
            timed(iterations, |meter| {
                workloads::propose_one_by_one(meter, 3, entries)
            })
        })
    });

    let entries = 4096;
    group.throughput(Throughput::Elements(entries));
    group.bench_function("b_one_node_64_entries_per_cycle", |b| {
        b.iter_custom(|iterations| {
            timed(iterations, |meter| {
                workloads::propose_batches(meter, 1, entries, 64)
            })
        })
    });
    group.bench_function("c_three_nodes_batches_of_64", |b| {
        b.iter_custom(|iterations| {
            timed(iterations, |meter| {
                workloads::propose_batches(meter, 3, entries, 64)
            })
        })
    });

    let elections = 8;
    group.throughput(Throughput::Elements(elections));
    group.bench_function("e_five_node_election", |b| {
        b.iter_custom(|iterations| timed(iterations, |meter| workloads::elect(meter, 5, elections)))
    });

    let reads = 256;
    group.throughput(Throughput::Elements(reads));
    group.bench_function("f_three_node_read_index", |b| {
        b.iter_custom(|iterations| {
            timed(iterations, |meter| workloads::read_index(meter, 3, reads))
        })
    });

    let entries = 4096;
    group.throughput(Throughput::Elements(entries));
    group.bench_function("g_three_nodes_64_proposals_per_ready_batch_append", |b| {
        b.iter_custom(|iterations| {
            timed(iterations, |meter| {
                workloads::propose_between_readys(meter, entries, 64)
            })
        })
    });

    let (groups, heartbeat_intervals) = (100, 20);
    group.throughput(Throughput::Elements(
        groups * 3 * heartbeat_intervals * workloads::HEARTBEAT_TICKS,
    ));
    group.bench_function("h_idle_groups_ticks", |b| {
        b.iter_custom(|iterations| {
            timed(iterations, |meter| {
                workloads::idle_groups(meter, groups, heartbeat_intervals)
            })
        })
    });

    let (groups, entries_per_group) = (50, 20);
    group.throughput(Throughput::Elements(groups * entries_per_group));
    group.bench_function("j_many_groups_one_entry_per_round", |b| {
        b.iter_custom(|iterations| {
            timed(iterations, |meter| {
                workloads::many_groups_propose(meter, groups, entries_per_group)
            })
        })
    });

    let cycles = 64;
    group.throughput(Throughput::Elements(cycles));
    group.bench_function("ready_on_busy_leader_batches_of_64", |b| {
        b.iter_custom(|iterations| {
            timed(iterations, |meter| {
                workloads::busy_leader_ready(meter, 3, cycles, 64)
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench_cluster_workloads);
criterion_main!(benches);
