//! Interaction scenarios: every file in `testdata/interaction` drives an
//! environment of `RawNode`s through a small command language and pins the
//! output (Readys, messages, node log lines). Run with `REWRITE=1` to accept
//! new output after checking it line by line.

use std::path::Path;

use harness::datadriven::run_dir;
use harness::interaction::Env;

#[test]
fn interaction_scenarios() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/interaction");
    run_dir(&dir, || {
        let mut env = Env::new();
        move |case| env.handle(case)
    });
}
