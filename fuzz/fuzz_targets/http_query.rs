//! Fuzz target `http_query`: see `recstore::fuzzing::http_query` for what it feeds and why.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| recstore::fuzzing::http_query(data));
