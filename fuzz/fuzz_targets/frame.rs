//! Fuzz target `frame`: see `recstore::fuzzing::frame` for what it feeds and why.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| recstore::fuzzing::frame(data));
