//! Each invariant of [`Inflights::check_invariants`] fails on a window
//! built to break it.

use slog::{o, Logger};

use super::Inflights;

fn logger() -> Logger {
    Logger::root(slog::Discard, o!("raft_id" => 1))
}

/// A window of 4 messages and 100 bytes with messages up to 3 and 5 in
/// flight, of 30 and 50 bytes.
fn window() -> Inflights {
    let mut ins = Inflights::new(4);
    ins.set_max_bytes(100);
    ins.add_with_bytes(3, 30);
    ins.add_with_bytes(5, 50);
    ins.check_invariants(2, &logger());
    ins
}

#[test]
fn a_window_shrunk_below_its_count_passes_until_drained() {
    let mut ins = window();
    ins.add_with_bytes(6, 40);
    ins.check_invariants(2, &logger());
    ins.set_cap(1);
    ins.check_invariants(2, &logger());
    ins.free_to(5);
    ins.check_invariants(2, &logger());
    ins.free_to(6);
    ins.check_invariants(2, &logger());
    assert_eq!((ins.count(), ins.bytes(), ins.buffer_capacity()), (0, 0, 0));
}

#[test]
#[should_panic(
    expected = "inflights of peer 2 over their limits: count 5, cap 4, ring 4, raft_id: 1"
)]
fn more_in_flight_than_the_ring_holds_fails() {
    let mut ins = window();
    ins.count = 5;
    ins.check_invariants(2, &logger());
}

#[test]
#[should_panic(expected = "keep a ring of 4 over the cap 2 with nothing in flight")]
fn an_oversized_ring_with_nothing_in_flight_fails() {
    let mut ins = window();
    ins.cap = 2;
    ins.count = 0;
    ins.bytes = 0;
    ins.check_invariants(2, &logger());
}

#[test]
#[should_panic(expected = "count 90 bytes but the 2 messages in flight carry 80")]
fn bytes_that_drifted_from_the_sizes_fail() {
    let mut ins = window();
    ins.bytes = 90;
    ins.check_invariants(2, &logger());
}

#[test]
#[should_panic(expected = "count 7 bytes but the 0 messages in flight carry 0 (max bytes 0)")]
fn bytes_without_a_limit_fail() {
    let mut ins = Inflights::new(4);
    ins.bytes = 7;
    ins.check_invariants(2, &logger());
}

#[test]
#[should_panic(expected = "carry 150 bytes, past the limit 100 before the newest message of 50")]
fn bytes_past_the_limit_before_the_newest_message_fail() {
    let mut ins = window();
    ins.sizes[0] = 100;
    ins.bytes = 150;
    ins.check_invariants(2, &logger());
}

#[test]
#[should_panic(expected = "record 3 sizes for a ring of 4")]
fn sizes_out_of_step_with_the_ring_fail() {
    let mut ins = window();
    ins.sizes.truncate(3);
    ins.check_invariants(2, &logger());
}
