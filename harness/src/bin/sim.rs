//! Runs the cluster simulator over a range of seeds.
//!
//! ```text
//! cargo run --release -p harness --bin sim -- --seeds N [--first-seed S] [--steps K] [--faults high]
//! cargo run --release -p harness --bin sim -- --seed S --trace
//! cargo run --release -p harness --bin sim -- --ci-budget
//! ```
//!
//! `--ci-budget` runs exactly the seeds of `cargo test -p harness --test
//! sim` ([`harness::sim::CI_BUDGET`]) and prints one line per failing seed
//! and one summary line per fault level, `ci-budget faults=F found=N/M
//! first=S` (`first=-` when none failed): what the mutation table in
//! `harness/mutations` records.
//!
//! The last line is `sim: seeds=N steps=K violations=V`; the exit status is
//! non-zero iff `V > 0`. Each violation prints the seed, the parameters it
//! drew, every node's state, the last steps and the command that replays it.

use std::process::ExitCode;

use harness::sim::{run_seed, FaultLevel, Options, SeedOutcome, CI_BUDGET};

struct Args {
    first_seed: u64,
    seeds: u64,
    options: Options,
    ci_budget: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        first_seed: 0,
        seeds: 100,
        options: Options::default(),
        ci_budget: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--seeds" => args.seeds = value("--seeds")?,
            "--first-seed" => args.first_seed = value("--first-seed")?,
            "--steps" => args.options.steps = value("--steps")?,
            "--seed" => {
                args.first_seed = value("--seed")?;
                args.seeds = 1;
            }
            "--trace" => args.options.print_trace = true,
            "--ci-budget" => args.ci_budget = true,
            "--faults" => match it.next().as_deref() {
                Some("high") => args.options.faults = FaultLevel::High,
                Some("default") => args.options.faults = FaultLevel::Default,
                other => return Err(format!("--faults takes high or default, not {other:?}")),
            },
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn report(outcome: &SeedOutcome, options: &Options) {
    println!("=== violation in seed {} ===", outcome.seed);
    for v in &outcome.violations {
        println!("{v}");
    }
    println!("--- parameters ---\n{:#?}", outcome.params);
    println!("--- nodes ---");
    for line in &outcome.node_states {
        println!("{line}");
    }
    // Replay with the trace kept, to show the last steps.
    let replay = run_seed(
        outcome.seed,
        Options {
            keep_trace: true,
            ..*options
        },
    );
    println!("--- last steps ---");
    for line in &replay.last_lines {
        println!("{line}");
    }
    let faults = if options.faults == FaultLevel::High {
        " --faults high"
    } else {
        ""
    };
    println!(
        "--- replay: cargo run --release -p harness --bin sim -- --seed {} --steps {}{faults} --trace",
        outcome.seed, options.steps
    );
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(problem) => {
            eprintln!("sim: {problem}");
            return ExitCode::from(2);
        }
    };
    // Panics inside a seed are reported as violations, with their message;
    // keep the hook to one line so the report stays readable.
    std::panic::set_hook(Box::new(|info| eprintln!("sim: {info}")));
    if args.ci_budget {
        return run_ci_budget();
    }
    let mut violations = 0;
    let (mut completed, mut unknown) = (0, 0);
    for seed in args.first_seed..args.first_seed + args.seeds {
        let outcome = run_seed(seed, args.options);
        completed += outcome.client_ops.0;
        unknown += outcome.client_ops.1;
        if !outcome.violations.is_empty() {
            violations += 1;
            report(&outcome, &args.options);
        }
    }
    println!("client operations: completed={completed} unknown={unknown}");
    println!(
        "sim: seeds={} steps={} violations={violations}",
        args.seeds, args.options.steps
    );
    if violations > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs the CI budget, one line per failing seed and a summary per level.
fn run_ci_budget() -> ExitCode {
    let mut any = false;
    for (level, seeds) in CI_BUDGET {
        let name = match level {
            FaultLevel::Default => "default",
            FaultLevel::High => "high",
        };
        let options = Options {
            faults: level,
            ..Options::default()
        };
        let (mut found, mut first) = (0, None);
        for seed in seeds.clone() {
            let outcome = run_seed(seed, options);
            if let Some(violation) = outcome.violations.first() {
                found += 1;
                first.get_or_insert(seed);
                let line = violation.lines().next().unwrap_or("");
                println!("violation faults={name} seed={seed}: {line}");
            }
        }
        any |= found > 0;
        let first = first.map_or("-".to_string(), |s| s.to_string());
        println!(
            "ci-budget faults={name} found={found}/{} first={first}",
            seeds.end - seeds.start
        );
    }
    if any {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
