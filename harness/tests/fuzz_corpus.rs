//! Replays the fuzz targets' checked-in corpus (`fuzz/corpus/<target>/`)
//! through the target logic in `harness::fuzzing`, on stable Rust, plus a
//! few hundred seeded pseudo-random inputs per target. Every file a fuzzer
//! found a crash with stays in the corpus as a regression test.
//!
//! The corpus as a whole must reach what the targets claim to exercise: a
//! leader, applied entries, installed snapshots, applied membership
//! changes, asynchronous acknowledgements, read states, injected storage
//! faults. A corpus that stopped reaching them would test much less.

use std::path::{Path, PathBuf};

use harness::fuzzing::{self, Coverage};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

/// Seeded pseudo-random inputs (SplitMix64), the same on every run.
fn generated_inputs(seed: u64, count: usize, max_len: usize) -> Vec<Vec<u8>> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    (0..count)
        .map(|_| {
            let len = (next() % max_len as u64) as usize;
            (0..len).map(|_| next() as u8).collect()
        })
        .collect()
}

fn replay(target: &str, run: fn(&[u8]) -> Coverage) -> Coverage {
    let mut total = Coverage::default();
    for (path, bytes) in corpus(target) {
        eprintln!("{}", path.display());
        total += run(&bytes);
    }
    total
}

#[test]
fn decode_corpus() {
    let coverage = replay("decode", fuzzing::decode);
    assert!(coverage.decoded > 0, "{coverage:?}");
}

#[test]
fn decode_generated_inputs() {
    for input in generated_inputs(1, 2_000, 64) {
        fuzzing::decode(&input);
    }
}

#[test]
fn raw_node_corpus() {
    let coverage = replay("raw_node", fuzzing::raw_node);
    eprintln!("{coverage:?}");
    assert!(coverage.leader_steps > 0, "{coverage:?}");
    assert!(coverage.applied_entries > 0, "{coverage:?}");
    assert!(coverage.snapshots_installed > 0, "{coverage:?}");
    assert!(coverage.conf_changes_applied > 0, "{coverage:?}");
    assert!(coverage.async_readies > 0, "{coverage:?}");
    assert!(coverage.read_states > 0, "{coverage:?}");
}

#[test]
fn raw_node_generated_inputs() {
    let mut coverage = Coverage::default();
    for input in generated_inputs(2, 300, 2_000) {
        coverage += fuzzing::raw_node(&input);
    }
    eprintln!("{coverage:?}");
}

#[test]
fn storage_faults_corpus() {
    let coverage = replay("storage_faults", fuzzing::storage_faults);
    eprintln!("{coverage:?}");
    assert!(coverage.faults_injected > 0, "{coverage:?}");
    assert!(coverage.leader_steps > 0, "{coverage:?}");
}

#[test]
fn storage_faults_generated_inputs() {
    let mut coverage = Coverage::default();
    for input in generated_inputs(3, 300, 2_000) {
        coverage += fuzzing::storage_faults(&input);
    }
    eprintln!("{coverage:?}");
}

#[test]
fn cluster_corpus() {
    let coverage = replay("cluster", fuzzing::cluster);
    eprintln!("{coverage:?}");
    assert!(coverage.leader_steps > 0, "{coverage:?}");
    assert!(coverage.applied_entries > 0, "{coverage:?}");
    assert!(coverage.snapshots_installed > 0, "{coverage:?}");
    assert!(coverage.conf_changes_applied > 0, "{coverage:?}");
    assert!(coverage.async_readies > 0, "{coverage:?}");
    assert!(coverage.read_states > 0, "{coverage:?}");
    assert!(coverage.crashes > 0, "{coverage:?}");
}

#[test]
fn cluster_generated_inputs() {
    let mut coverage = Coverage::default();
    for input in generated_inputs(4, 200, 3_000) {
        coverage += fuzzing::cluster(&input);
    }
    eprintln!("{coverage:?}");
    assert!(coverage.messages_delivered > 0, "{coverage:?}");
}
