//! Fuzz target `http_body`: see `recstore::fuzzing::http_body` for what it feeds and why.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| recstore::fuzzing::http_body(data));
