//! Fuzz target `import_line`: see `recstore::fuzzing::import_line` for what it feeds and why.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| recstore::fuzzing::import_line(data));
