//! The benchmark group settings shared by the criterion benches: few
//! samples and a short measurement, so `cargo bench` stays reasonable on a
//! small machine.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};

/// A benchmark group named `name` with 10 samples, 300 ms of warm-up and 1 s
/// of measurement.
pub fn short<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    group
}
