//! `cargo +nightly fuzz run cluster`: see `harness::fuzzing::cluster`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::fuzzing::cluster(data);
});
