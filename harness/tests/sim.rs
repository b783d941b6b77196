//! The cluster simulator on a fixed set of seeds: no violation, and a seed
//! replays exactly.

use harness::sim::{run_seed, FaultLevel, Options};

/// The seeds `cargo test` runs (the release binary runs many more).
const CI_SEEDS: std::ops::Range<u64> = 0..40;

fn assert_clean(seed: u64, options: Options) {
    let outcome = run_seed(seed, options);
    assert!(
        outcome.violations.is_empty(),
        "seed {seed}: {:#?}\nnodes: {:#?}\nreplay: cargo run --release -p harness --bin sim -- \
         --seed {seed} --trace",
        outcome.violations,
        outcome.node_states
    );
}

#[test]
fn default_faults_find_no_violation() {
    for seed in CI_SEEDS {
        assert_clean(seed, Options::default());
    }
}

#[test]
fn high_faults_find_no_violation() {
    let options = Options {
        faults: FaultLevel::High,
        ..Options::default()
    };
    for seed in CI_SEEDS.start..CI_SEEDS.start + 15 {
        assert_clean(seed, options);
    }
}

#[test]
fn a_seed_replays_exactly() {
    let options = Options {
        faults: FaultLevel::High,
        ..Options::default()
    };
    let first = run_seed(7, options);
    let second = run_seed(7, options);
    assert_eq!(first.digest, second.digest);
    assert_eq!(first.client_ops, second.client_ops);
    // And the digest does depend on the seed.
    assert_ne!(first.digest, run_seed(8, options).digest);
}

#[test]
fn the_clients_get_answers() {
    // A simulator whose clients never complete anything checks nothing.
    let outcome = run_seed(3, Options::default());
    assert!(outcome.client_ops.0 > 20, "{:?}", outcome.client_ops);
}
