//! Fuzz target `record`: see `recstore::fuzzing::record` for what it feeds and why.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| recstore::fuzzing::record(data));
