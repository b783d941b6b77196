//! `cargo +nightly fuzz run decode`: see `harness::fuzzing::decode`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::fuzzing::decode(data);
});
