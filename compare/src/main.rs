//! Measures this crate against raft-rs 0.7 on whole-cluster workloads driven
//! in memory, and prints time, throughput, the throughput ratio and heap
//! allocations per committed entry for each.
//!
//! Run it in release mode: `cargo run --release -p raft-compare [-- RUNS [SCALE]]`
//! (RUNS measured runs per side and workload, default 7; SCALE multiplies the
//! workload sizes, default 1.0; a third argument such as `cd` runs only the
//! workloads with those letters).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Heap allocations (alloc, alloc_zeroed, realloc) made by the process.
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// `System`, plus a count of allocation calls.
struct CountingAllocator;

// SAFETY: the only `unsafe` in the project, allowed here because this binary
// is not published. Every method forwards its arguments unchanged to `System`,
// which upholds the `GlobalAlloc` contract; counting touches no memory the
// allocator hands out.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Called by the workloads around their measured part.
pub trait Meter {
    /// A measured part begins.
    fn start(&mut self);
    /// A measured part ends (the meter sums the parts).
    fn stop(&mut self);
}

/// Wall time and allocations of the measured parts of one run.
#[derive(Default)]
struct Measurement {
    started: Option<(Instant, u64)>,
    elapsed: Duration,
    allocations: u64,
}

impl Meter for Measurement {
    #[expect(
        clippy::disallowed_methods,
        reason = "a benchmark measures wall time; the ban keeps clocks out of the library"
    )]
    fn start(&mut self) {
        self.started = Some((Instant::now(), ALLOCATIONS.load(Ordering::Relaxed)));
    }

    fn stop(&mut self) {
        let (at, allocations_before) = self.started.take().expect("start before stop");
        self.elapsed += at.elapsed();
        self.allocations += ALLOCATIONS.load(Ordering::Relaxed) - allocations_before;
    }
}

/// The workloads, instantiated for raft-rs 0.7.
#[expect(
    dead_code,
    reason = "busy_leader_ready serves the criterion benches only"
)]
mod theirs {
    use raft07 as raft_impl;
    include!("../../benches/support/cluster_workloads.rs");
}

/// The workloads, instantiated for this crate.
#[expect(
    dead_code,
    reason = "busy_leader_ready serves the criterion benches only"
)]
mod ours {
    use raft as raft_impl;
    include!("../../benches/support/cluster_workloads.rs");
}

/// Which workload, with its shape.
#[derive(Clone, Copy)]
enum Shape {
    /// A leader among `voters` proposes payloads `batch` at a time (with
    /// `RawNode::propose` when `batch` is 1, else one `MsgPropose` a batch).
    Replicate { voters: u64, batch: u64 },
    /// Fresh `voters` nodes elect a leader.
    Elect { voters: u64 },
    /// A leader among `voters` serves read-index rounds.
    ReadIndex { voters: u64 },
}

struct Workload {
    label: &'static str,
    shape: Shape,
    /// Units of work per run (entries, elections or reads).
    units: u64,
    unit: &'static str,
    /// Throughput ratio ours/raft-rs the issue asks for.
    target_ratio: f64,
}

const WORKLOADS: [Workload; 6] = [
    Workload {
        label: "(a) 1 node, 1 entry/cycle",
        shape: Shape::Replicate {
            voters: 1,
            batch: 1,
        },
        units: 50_000,
        unit: "entries",
        target_ratio: 2.0,
    },
    Workload {
        label: "(b) 1 node, 64 entries/cycle",
        shape: Shape::Replicate {
            voters: 1,
            batch: 64,
        },
        units: 200_000,
        unit: "entries",
        target_ratio: 2.0,
    },
    Workload {
        label: "(c) 3 nodes, batches of 64",
        shape: Shape::Replicate {
            voters: 3,
            batch: 64,
        },
        units: 200_000,
        unit: "entries",
        target_ratio: 3.0,
    },
    Workload {
        label: "(d) 3 nodes, 1 MsgAppend/entry",
        shape: Shape::Replicate {
            voters: 3,
            batch: 1,
        },
        units: 50_000,
        unit: "entries",
        target_ratio: 3.0,
    },
    Workload {
        label: "(e) 5-node election",
        shape: Shape::Elect { voters: 5 },
        units: 2_000,
        unit: "elections",
        target_ratio: 2.0,
    },
    Workload {
        label: "(f) 3-node read_index",
        shape: Shape::ReadIndex { voters: 3 },
        units: 50_000,
        unit: "reads",
        target_ratio: 2.0,
    },
];

/// Runs one workload once on one implementation.
type Runner = fn(Shape, u64, &mut Measurement) -> u64;

macro_rules! runner {
    ($side:ident) => {
        |shape: Shape, units: u64, meter: &mut Measurement| -> u64 {
            match shape {
                Shape::Replicate { voters, batch: 1 } => {
                    $side::propose_one_by_one(meter, voters, units)
                }
                Shape::Replicate { voters, batch } => {
                    $side::propose_batches(meter, voters, units, batch)
                }
                Shape::Elect { voters } => $side::elect(meter, voters, units),
                Shape::ReadIndex { voters } => $side::read_index(meter, voters, units),
            }
        }
    };
}

const THEIRS: Runner = runner!(theirs);
const OURS: Runner = runner!(ours);

/// Median wall time and allocations per unit over several runs of one side.
struct Summary {
    median: Duration,
    per_second: f64,
    allocations_per_unit: f64,
}

fn summarize(units: u64, runs: &mut [Measurement]) -> Summary {
    runs.sort_by_key(|run| run.elapsed);
    let middle = &runs[runs.len() / 2];
    let mut allocations: Vec<u64> = runs.iter().map(|run| run.allocations).collect();
    allocations.sort_unstable();
    Summary {
        median: middle.elapsed,
        per_second: units as f64 / middle.elapsed.as_secs_f64(),
        allocations_per_unit: allocations[allocations.len() / 2] as f64 / units as f64,
    }
}

fn human_rate(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.2}M/s", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.1}k/s", per_second / 1e3)
    } else {
        format!("{per_second:.0}/s")
    }
}

fn main() {
    let mut arguments = std::env::args().skip(1);
    let runs: usize = arguments
        .next()
        .map(|runs| runs.parse().expect("RUNS is a number"))
        .unwrap_or(7)
        .max(1);
    let scale: f64 = arguments
        .next()
        .map(|scale| scale.parse().expect("SCALE is a number"))
        .unwrap_or(1.0);
    let only: Option<String> = arguments.next();
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; use `cargo run --release -p raft-compare`");
    }
    println!("{runs} runs per side, alternating; medians; ratio = ours/raft-rs throughput");
    println!();
    println!(
        "| workload | unit | raft-rs 0.7 | ours | ratio | allocs/unit raft-rs | allocs/unit ours | target |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut all_met = true;
    for workload in &WORKLOADS {
        if let Some(only) = &only {
            if !only.contains(&workload.label[1..2]) {
                continue;
            }
        }
        let units = ((workload.units as f64 * scale) as u64).max(1);
        let mut theirs_runs = Vec::with_capacity(runs);
        let mut ours_runs = Vec::with_capacity(runs);
        for run in 0..runs {
            // Alternate which side goes first, so neither always runs on a
            // warmer (or more throttled) machine.
            let order: [(Runner, bool); 2] = if run % 2 == 0 {
                [(THEIRS, false), (OURS, true)]
            } else {
                [(OURS, true), (THEIRS, false)]
            };
            for (runner, is_ours) in order {
                let mut measurement = Measurement::default();
                let done = runner(workload.shape, units, &mut measurement);
                assert_eq!(done, units, "{}", workload.label);
                if is_ours {
                    ours_runs.push(measurement);
                } else {
                    theirs_runs.push(measurement);
                }
            }
        }
        let theirs = summarize(units, &mut theirs_runs);
        let ours = summarize(units, &mut ours_runs);
        let ratio = ours.per_second / theirs.per_second;
        let met = ratio >= workload.target_ratio
            && ours.allocations_per_unit < theirs.allocations_per_unit;
        all_met &= met;
        println!(
            "| {} | {} | {} ({:.1} ms) | {} ({:.1} ms) | {:.2}x | {:.1} | {:.1} | ≥{}x, fewer allocs: {} |",
            workload.label,
            workload.unit,
            human_rate(theirs.per_second),
            theirs.median.as_secs_f64() * 1e3,
            human_rate(ours.per_second),
            ours.median.as_secs_f64() * 1e3,
            ratio,
            theirs.allocations_per_unit,
            ours.allocations_per_unit,
            workload.target_ratio,
            if met { "target met" } else { "target MISSED" },
        );
    }
    println!();
    println!(
        "{}",
        if all_met {
            "all targets met"
        } else {
            "some targets MISSED"
        }
    );
}
