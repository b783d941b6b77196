//! `cargo +nightly fuzz run storage_faults`: see `harness::fuzzing::storage_faults`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::fuzzing::storage_faults(data);
});
