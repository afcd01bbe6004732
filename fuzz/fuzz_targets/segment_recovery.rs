//! Fuzz target `segment_recovery`: see `recstore::fuzzing::segment_recovery` for what it feeds and why.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| recstore::fuzzing::segment_recovery(data));
