//! Durable append throughput of raft-redb: one `write` (one transaction,
//! one fsync) of 1, 64 or 1,024 entries of 128 bytes with a hard state, as
//! a leader persists a `Ready`. Criterion's element throughput is entries
//! per second; writes (fsyncs) per second are that divided by the batch
//! size.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use raft::eraftpb::{Entry, HardState};
use raft_redb::{RedbStorage, WriteBatch};

const ENTRY_BYTES: usize = 128;

fn batch(first: u64, count: u64) -> WriteBatch {
    WriteBatch {
        entries: (first..first + count)
            .map(|index| Entry {
                index,
                term: 1,
                data: vec![0xAB; ENTRY_BYTES].into(),
                ..Default::default()
            })
            .collect(),
        hard_state: Some(HardState {
            term: 1,
            vote: 1,
            commit: first - 1,
            ..Default::default()
        }),
        snapshot: None,
    }
}

fn bench_durable_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("durable_append");
    // Every iteration is an fsync: few, long samples.
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(4));
    for entries_per_write in [1u64, 64, 1024] {
        let dir = std::env::temp_dir().join(format!(
            "raft-redb-bench-{}-{entries_per_write}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let store = RedbStorage::open(&dir).expect("open the bench store");
        let mut next = 1;
        group.throughput(Throughput::Elements(entries_per_write));
        group.bench_function(
            BenchmarkId::new("entries_per_write", entries_per_write),
            |b| {
                b.iter(|| {
                    store
                        .write(&batch(next, entries_per_write))
                        .expect("durable write");
                    next += entries_per_write;
                })
            },
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
    group.finish();
}

criterion_group!(benches, bench_durable_append);
criterion_main!(benches);
