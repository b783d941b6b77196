//! `cargo +nightly fuzz run raw_node`: see `harness::fuzzing::raw_node`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::fuzzing::raw_node(data);
});
