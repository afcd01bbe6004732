//! Fuzz target `search_query`: see `recstore::fuzzing::search_query` for what it feeds and why.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| recstore::fuzzing::search_query(data));
