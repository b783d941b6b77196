//! The cluster simulator on a fixed set of seeds: no violation, and a seed
//! replays exactly.

use harness::sim::{run_seed, FaultLevel, Options, CI_BUDGET};

fn assert_clean(seed: u64, options: Options) {
    let outcome = run_seed(seed, options);
    assert!(
        outcome.violations.is_empty(),
        "seed {seed}: {:#?}\nnodes: {:#?}\nreplay: cargo run --release -p harness --bin sim -- \
         --seed {seed}{} --trace",
        outcome.violations,
        outcome.node_states,
        if options.faults == FaultLevel::High {
            " --faults high"
        } else {
            ""
        }
    );
}

/// Runs the CI budget's seeds of `level`.
fn budget(level: FaultLevel) {
    let (_, seeds) = CI_BUDGET
        .iter()
        .find(|(l, _)| *l == level)
        .expect("the budget names every level");
    let options = Options {
        faults: level,
        ..Options::default()
    };
    for seed in seeds.clone() {
        assert_clean(seed, options);
    }
}

#[test]
fn default_faults_find_no_violation() {
    budget(FaultLevel::Default);
}

#[test]
fn high_faults_find_no_violation() {
    budget(FaultLevel::High);
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
