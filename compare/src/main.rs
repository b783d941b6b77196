//! Measures this crate against raft-rs 0.7 on whole-cluster workloads driven
//! in memory.
//!
//! Run it in release mode, from the repository root:
//!
//! - `cargo run --release --manifest-path compare/Cargo.toml -- callgrind [SCALE [LETTERS]]`
//!   is the measure the targets are set on. For each workload and each crate
//!   it runs this binary under valgrind's callgrind four times (instruction
//!   counts are deterministic): the workload at SCALE (default 0.1) and its
//!   zero-size baseline (the same set-up with nothing measured), each once
//!   with every instruction counted and once with
//!   `--toggle-collect=*::in_core`, which counts only the instructions
//!   executed inside the calls the driver makes into the crate
//!   (`RawNode`, `Ready` and `LightReady` methods, each wrapped in the
//!   never-inlined `in_core` of the workload file). Per unit of work:
//!   whole = (all(N) − all(0)) / units, core = (in_core(N) − in_core(0)) /
//!   units, driver = whole − core. It also prints heap allocations per unit
//!   (one native run), heap bytes per idle replica, and the wall-clock
//!   throughput ratio of three alternating native runs as a secondary, noisy
//!   figure.
//! - `cargo run --release --manifest-path compare/Cargo.toml [-- RUNS [SCALE [LETTERS]]]`
//!   prints wall time, throughput, the throughput ratio and allocations per
//!   unit (RUNS measured runs per side and workload, alternating, default 7;
//!   SCALE multiplies the workload sizes, default 1.0; LETTERS such as `cd`
//!   runs only those workloads).
//!
//! Setting `COMPARE_SIDE=ours` or `COMPARE_SIDE=theirs` runs one side only
//! in the wall-clock mode (for profilers); the ratio columns are then
//! meaningless.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Heap allocations (alloc, alloc_zeroed, realloc) made by the process.
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// Heap bytes currently allocated by the process.
static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

/// `System`, plus a count of allocation calls and of live bytes.
struct CountingAllocator;

// SAFETY: the only `unsafe` in the project, allowed here because this binary
// is not published. Every method forwards its arguments unchanged to `System`,
// which upholds the `GlobalAlloc` contract; counting touches no memory the
// allocator hands out.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
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
    reason = "busy_leader_ready and HEARTBEAT_TICKS serve the criterion benches only"
)]
mod theirs {
    use raft07 as raft_impl;
    include!("../../benches/support/cluster_workloads.rs");
}

/// The workloads, instantiated for this crate.
#[expect(
    dead_code,
    reason = "busy_leader_ready and HEARTBEAT_TICKS serve the criterion benches only"
)]
mod ours {
    use raft as raft_impl;
    include!("../../benches/support/cluster_workloads.rs");
}

/// Which workload, with its shape.
#[derive(Clone, Copy)]
enum Shape {
    /// A leader among `voters` proposes payloads `batch` at a time (with
    /// `RawNode::propose` when `batch` is 1, else one `MsgPropose` a batch);
    /// size: entries.
    Replicate { voters: u64, batch: u64 },
    /// Fresh `voters` nodes elect a leader; size: elections.
    Elect { voters: u64 },
    /// A leader among `voters` serves read-index rounds; size: reads.
    ReadIndex { voters: u64 },
    /// Three nodes with `batch_append`, `per_ready` proposals between two
    /// `Ready`s, pipelined; size: entries.
    ProposeBetweenReadys { per_ready: u64 },
    /// Idle groups of three ticked for `heartbeat_intervals`; size: groups.
    IdleGroups { heartbeat_intervals: u64 },
    /// Groups of three with one proposal per group per round until each
    /// applied `entries_per_group`; size: groups.
    ManyGroups { entries_per_group: u64 },
}

struct Workload {
    letter: char,
    label: &'static str,
    shape: Shape,
    /// Size at SCALE 1 (what it counts depends on the shape).
    size: u64,
    unit: &'static str,
    /// Highest core-only instruction ratio ours/raft-rs the project accepts.
    core_target: f64,
}

const WORKLOADS: [Workload; 9] = [
    Workload {
        letter: 'a',
        label: "(a) 1 node, 1 entry/cycle",
        shape: Shape::Replicate {
            voters: 1,
            batch: 1,
        },
        size: 50_000,
        unit: "entry",
        core_target: 0.5,
    },
    Workload {
        letter: 'b',
        label: "(b) 1 node, 64 entries/cycle",
        shape: Shape::Replicate {
            voters: 1,
            batch: 64,
        },
        size: 200_000,
        unit: "entry",
        core_target: 0.5,
    },
    Workload {
        letter: 'c',
        label: "(c) 3 nodes, batches of 64",
        shape: Shape::Replicate {
            voters: 3,
            batch: 64,
        },
        size: 200_000,
        unit: "entry",
        core_target: 0.33,
    },
    Workload {
        letter: 'd',
        label: "(d) 3 nodes, 1 MsgAppend/entry",
        shape: Shape::Replicate {
            voters: 3,
            batch: 1,
        },
        size: 50_000,
        unit: "entry",
        core_target: 0.33,
    },
    Workload {
        letter: 'e',
        label: "(e) 5-node election",
        shape: Shape::Elect { voters: 5 },
        size: 2_000,
        unit: "election",
        core_target: 0.5,
    },
    Workload {
        letter: 'f',
        label: "(f) 3-node read_index",
        shape: Shape::ReadIndex { voters: 3 },
        size: 50_000,
        unit: "read",
        core_target: 0.5,
    },
    Workload {
        letter: 'g',
        label: "(g) 3 nodes, 64 propose/Ready, batch_append",
        shape: Shape::ProposeBetweenReadys { per_ready: 64 },
        size: 200_000,
        unit: "entry",
        core_target: 0.33,
    },
    Workload {
        letter: 'h',
        label: "(h) 10k idle groups of 3, 20 heartbeats",
        shape: Shape::IdleGroups {
            heartbeat_intervals: 20,
        },
        size: 10_000,
        unit: "tick",
        core_target: 0.5,
    },
    Workload {
        letter: 'j',
        label: "(j) 1k groups of 3, 1 entry/group/round",
        shape: Shape::ManyGroups {
            entries_per_group: 50,
        },
        size: 1_000,
        unit: "entry",
        core_target: 0.5,
    },
];

/// Groups built for (i), heap bytes per idle replica.
const IDLE_GROUPS_FOR_BYTES: u64 = 1_000;
/// Applied entries every replica of (i) holds.
const IDLE_ENTRIES_FOR_BYTES: u64 = 10;
/// Highest ratio of heap bytes per idle replica ours/raft-rs accepted.
const IDLE_BYTES_TARGET: f64 = 0.67;

/// Runs one workload once on one implementation: its shape, its size, and
/// whether the measured part runs (`false`: the zero-size baseline, the same
/// set-up with nothing measured). Returns the units of work done.
type Runner = fn(Shape, u64, bool, &mut Measurement) -> u64;

macro_rules! runner {
    ($side:ident) => {
        |shape: Shape, size: u64, measured: bool, meter: &mut Measurement| -> u64 {
            let sized = if measured { size } else { 0 };
            match shape {
                Shape::Replicate { voters, batch: 1 } => {
                    $side::propose_one_by_one(meter, voters, sized)
                }
                Shape::Replicate { voters, batch } => {
                    $side::propose_batches(meter, voters, sized, batch)
                }
                Shape::Elect { voters } => $side::elect(meter, voters, sized),
                Shape::ReadIndex { voters } => $side::read_index(meter, voters, sized),
                Shape::ProposeBetweenReadys { per_ready } => {
                    $side::propose_between_readys(meter, sized, per_ready)
                }
                Shape::IdleGroups {
                    heartbeat_intervals,
                } => {
                    $side::idle_groups(meter, size, if measured { heartbeat_intervals } else { 0 })
                }
                Shape::ManyGroups { entries_per_group } => $side::many_groups_propose(
                    meter,
                    size,
                    if measured { entries_per_group } else { 0 },
                ),
            }
        }
    };
}

const THEIRS: Runner = runner!(theirs);
const OURS: Runner = runner!(ours);

/// Heap bytes per idle replica (`RawNode` and its `MemStorage`), for (i),
/// and the inline size of a `RawNode` (part of those bytes).
type BytesProbe = fn() -> (f64, usize);

macro_rules! idle_replica_bytes {
    ($side:ident) => {
        || -> (f64, usize) {
            let mut groups = Vec::with_capacity(IDLE_GROUPS_FOR_BYTES as usize);
            let before = LIVE_BYTES.load(Ordering::Relaxed);
            for _ in 0..IDLE_GROUPS_FOR_BYTES {
                groups.push($side::idle_group(IDLE_ENTRIES_FOR_BYTES));
            }
            let after = LIVE_BYTES.load(Ordering::Relaxed);
            let driver: usize = groups.iter().map(|group| group.driver_heap_bytes()).sum();
            let bytes =
                (after - before - driver as i64) as f64 / (IDLE_GROUPS_FOR_BYTES * 3) as f64;
            (bytes, $side::raw_node_inline_bytes())
        }
    };
}

const THEIRS_BYTES: BytesProbe = idle_replica_bytes!(theirs);
const OURS_BYTES: BytesProbe = idle_replica_bytes!(ours);

fn scaled(workload: &Workload, scale: f64) -> u64 {
    ((workload.size as f64 * scale) as u64).max(1)
}

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

/// `runs` alternating runs of `workload` on each side (sides not in
/// `sides` are skipped and summarised as 1 ns, no allocation).
fn wall_clock(
    workload: &Workload,
    size: u64,
    runs: usize,
    sides: (bool, bool),
) -> (Summary, Summary, u64) {
    let (run_theirs, run_ours) = sides;
    let mut theirs_runs = Vec::with_capacity(runs);
    let mut ours_runs = Vec::with_capacity(runs);
    let mut units = 0;
    for run in 0..runs {
        // Alternate which side goes first, so neither always runs on a
        // warmer (or more throttled) machine.
        let order: [(Runner, bool); 2] = if run % 2 == 0 {
            [(THEIRS, false), (OURS, true)]
        } else {
            [(OURS, true), (THEIRS, false)]
        };
        for (runner, is_ours) in order {
            let runs = if is_ours {
                &mut ours_runs
            } else {
                &mut theirs_runs
            };
            if !(if is_ours { run_ours } else { run_theirs }) {
                runs.push(Measurement {
                    elapsed: Duration::from_nanos(1),
                    ..Measurement::default()
                });
                continue;
            }
            let mut measurement = Measurement::default();
            let done = runner(workload.shape, size, true, &mut measurement);
            assert!(units == 0 || units == done, "{}", workload.label);
            units = done;
            runs.push(measurement);
        }
    }
    let units = units.max(1);
    (
        summarize(units, &mut theirs_runs),
        summarize(units, &mut ours_runs),
        units,
    )
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

fn selected<'a>(only: &'a Option<String>) -> impl Iterator<Item = &'a Workload> + 'a {
    WORKLOADS.iter().filter(move |workload| {
        only.as_ref()
            .is_none_or(|only| only.contains(workload.letter))
    })
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: debug build; use `cargo run --release --manifest-path compare/Cargo.toml`"
        );
    }
    match arguments.first().map(String::as_str) {
        Some("once") => once(&arguments[1..]),
        Some("callgrind") => callgrind(&arguments[1..]),
        _ => wall_clock_table(&arguments),
    }
}

/// `once SIDE LETTER SIZE measured|zero`: one run of one workload, for a
/// child process under callgrind. Prints the units of work done.
fn once(arguments: &[String]) {
    let [side, letter, size, measured] = arguments else {
        panic!("usage: once ours|theirs LETTER SIZE measured|zero");
    };
    let workload = WORKLOADS
        .iter()
        .find(|workload| letter.starts_with(workload.letter))
        .expect("a workload letter");
    let runner = match side.as_str() {
        "ours" => OURS,
        "theirs" => THEIRS,
        _ => panic!("side is ours or theirs"),
    };
    let size: u64 = size.parse().expect("SIZE is a number");
    let mut measurement = Measurement::default();
    let units = runner(
        workload.shape,
        size,
        measured == "measured",
        &mut measurement,
    );
    println!("{units}");
}

/// Instructions counted by callgrind for one child run.
fn callgrind_count(
    side: &str,
    workload: &Workload,
    size: u64,
    measured: bool,
    core_only: bool,
) -> (u64, u64) {
    let exe = std::env::current_exe().expect("own path");
    let out = std::env::temp_dir().join(format!(
        "raft-compare-{}-{side}-{}-{measured}-{core_only}.callgrind",
        std::process::id(),
        workload.letter
    ));
    let mut command = std::process::Command::new("valgrind");
    command
        .arg("--tool=callgrind")
        .arg("-q")
        .arg(format!("--callgrind-out-file={}", out.display()));
    if core_only {
        command.arg("--toggle-collect=*::in_core");
    }
    let output = command
        .arg(&exe)
        .arg("once")
        .arg(side)
        .arg(workload.letter.to_string())
        .arg(size.to_string())
        .arg(if measured { "measured" } else { "zero" })
        .output()
        .expect("valgrind runs (is it installed?)");
    assert!(
        output.status.success(),
        "valgrind failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let units: u64 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("the child prints its units");
    let profile = std::fs::read_to_string(&out).expect("callgrind output");
    let _ = std::fs::remove_file(&out);
    let instructions = profile
        .lines()
        .find_map(|line| {
            line.strip_prefix("totals:")
                .or(line.strip_prefix("summary:"))
        })
        .expect("a totals line")
        .split_whitespace()
        .next()
        .expect("an event count")
        .parse()
        .expect("a count");
    (instructions, units)
}

/// Whole, driver and core instructions per unit for one side.
struct Instructions {
    whole: f64,
    driver: f64,
    core: f64,
}

fn instructions(side: &str, workload: &Workload, size: u64) -> (Instructions, u64) {
    let (all_n, units) = callgrind_count(side, workload, size, true, false);
    let (all_0, _) = callgrind_count(side, workload, size, false, false);
    let (core_n, _) = callgrind_count(side, workload, size, true, true);
    let (core_0, _) = callgrind_count(side, workload, size, false, true);
    let per_unit = |n: u64, zero: u64| n.saturating_sub(zero) as f64 / units as f64;
    let whole = per_unit(all_n, all_0);
    let core = per_unit(core_n, core_0);
    (
        Instructions {
            whole,
            driver: whole - core,
            core,
        },
        units,
    )
}

/// Instructions per unit, in a short human form.
fn human_count(count: f64) -> String {
    if count >= 1e6 {
        format!("{:.2}M", count / 1e6)
    } else if count >= 1e4 {
        format!("{:.1}k", count / 1e3)
    } else {
        format!("{count:.0}")
    }
}

/// `callgrind [SCALE [LETTERS]]`: the core-only instruction comparison.
fn callgrind(arguments: &[String]) {
    let scale: f64 = arguments
        .first()
        .map(|scale| scale.parse().expect("SCALE is a number"))
        .unwrap_or(0.1);
    let only = arguments.get(1).cloned();
    println!(
        "instructions per unit under callgrind (SCALE {scale}): whole run / driver / core; \
         core ratio = ours/raft-rs; allocations per unit from one native run; \
         wall ratio = ours/raft-rs throughput, median of 3 alternating native runs (noisy)"
    );
    println!();
    println!(
        "| workload | unit | raft-rs 0.7 whole / driver / core | ours whole / driver / core | core ratio | allocs/unit raft-rs / ours | wall ratio | target |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut all_met = true;
    for workload in selected(&only) {
        let size = scaled(workload, scale);
        let (theirs, theirs_units) = instructions("theirs", workload, size);
        let (ours, ours_units) = instructions("ours", workload, size);
        assert_eq!(theirs_units, ours_units, "{}", workload.label);
        let (theirs_wall, ours_wall, _) = wall_clock(workload, size, 3, (true, true));
        let core_ratio = ours.core / theirs.core;
        let met = core_ratio <= workload.core_target
            && ours_wall.allocations_per_unit < theirs_wall.allocations_per_unit;
        all_met &= met;
        println!(
            "| {} | {} | {} / {} / {} | {} / {} / {} | {:.2} | {:.2} / {:.2} | {:.2}x | core ≤{}, fewer allocs: {} |",
            workload.label,
            workload.unit,
            human_count(theirs.whole),
            human_count(theirs.driver),
            human_count(theirs.core),
            human_count(ours.whole),
            human_count(ours.driver),
            human_count(ours.core),
            core_ratio,
            theirs_wall.allocations_per_unit,
            ours_wall.allocations_per_unit,
            ours_wall.per_second / theirs_wall.per_second,
            workload.core_target,
            if met { "met" } else { "MISSED" },
        );
    }
    if only.as_ref().is_none_or(|only| only.contains('i')) {
        all_met &= idle_bytes_row();
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

/// Prints the (i) line, heap bytes per idle replica; returns whether its
/// target is met.
fn idle_bytes_row() -> bool {
    let (theirs, theirs_raw_node) = THEIRS_BYTES();
    let (ours, ours_raw_node) = OURS_BYTES();
    let ratio = ours / theirs;
    let met = ratio <= IDLE_BYTES_TARGET;
    println!();
    println!(
        "(i) heap bytes per idle replica ({IDLE_GROUPS_FOR_BYTES} groups of 3, \
         {IDLE_ENTRIES_FOR_BYTES} applied entries each, RawNode + MemStorage): \
         raft-rs 0.7 {theirs:.0}, ours {ours:.0}, ratio {ratio:.2} (target ≤{IDLE_BYTES_TARGET}: {}); \
         of which the RawNode itself: raft-rs 0.7 {theirs_raw_node}, ours {ours_raw_node}",
        if met { "met" } else { "MISSED" }
    );
    met
}

/// `[RUNS [SCALE [LETTERS]]]`: the wall-clock comparison.
fn wall_clock_table(arguments: &[String]) {
    let runs: usize = arguments
        .first()
        .map(|runs| runs.parse().expect("RUNS is a number"))
        .unwrap_or(7)
        .max(1);
    let scale: f64 = arguments
        .get(1)
        .map(|scale| scale.parse().expect("SCALE is a number"))
        .unwrap_or(1.0);
    let only = arguments.get(2).cloned();
    let side = std::env::var("COMPARE_SIDE").ok();
    let sides = (
        side.as_deref() != Some("ours"),
        side.as_deref() != Some("theirs"),
    );
    println!("{runs} runs per side, alternating; medians; ratio = ours/raft-rs throughput");
    println!();
    println!(
        "| workload | unit | raft-rs 0.7 | ours | ratio | allocs/unit raft-rs | allocs/unit ours |"
    );
    println!("|---|---|---|---|---|---|---|");
    for workload in selected(&only) {
        let size = scaled(workload, scale);
        let (theirs, ours, _) = wall_clock(workload, size, runs, sides);
        println!(
            "| {} | {} | {} ({:.1} ms) | {} ({:.1} ms) | {:.2}x | {:.2} | {:.2} |",
            workload.label,
            workload.unit,
            human_rate(theirs.per_second),
            theirs.median.as_secs_f64() * 1e3,
            human_rate(ours.per_second),
            ours.median.as_secs_f64() * 1e3,
            ours.per_second / theirs.per_second,
            theirs.allocations_per_unit,
            ours.allocations_per_unit,
        );
    }
    if only.as_ref().is_none_or(|only| only.contains('i')) {
        idle_bytes_row();
    }
}
