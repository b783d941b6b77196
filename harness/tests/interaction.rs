//! Interaction scenarios: every file in `testdata/interaction` drives an
//! environment of `RawNode`s through a small command language and pins the
//! output (Readys, messages, node log lines). Run with `REWRITE=1` to accept
//! new output after checking it line by line.

use std::fs;
use std::path::PathBuf;

use harness::datadriven::{run_dir, scenario_files};
use harness::interaction::Env;

fn scenario_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/interaction")
}

#[test]
fn interaction_scenarios() {
    run_dir(&scenario_dir(), || {
        let mut env = Env::new();
        move |case| env.handle(case)
    });
}

/// Each scenario says what it pins before its first command, so that a
/// reader can check the output against the rule.
#[test]
fn every_scenario_opens_with_a_comment() {
    for file in scenario_files(&scenario_dir()) {
        let text = fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("# "),
            "{} does not open with a `# ` comment saying what it pins",
            file.display()
        );
    }
}
