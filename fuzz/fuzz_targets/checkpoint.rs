//! Fuzz target `checkpoint`: see `recstore::fuzzing::checkpoint` for what it feeds and why.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| recstore::fuzzing::checkpoint(data));
