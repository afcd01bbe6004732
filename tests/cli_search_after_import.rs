//! `recstore search` right after a large import: the read-only CLI builds
//! the search view from the log, and the search waits for it while it
//! makes progress (issue 22.11; the wait rule itself is unit-tested with a
//! fake index in `src/search/wait.rs`). Here: the whole path through the
//! built binary, with the index on disk removed so that the search starts
//! from an index that covers nothing, and the wait and its progress
//! callback run.

mod cli_support;

use std::fmt::Write as _;

use cli_support::{Env, TestResult};

const ITEMS: usize = 5_000;

#[test]
fn a_search_right_after_an_import_waits_for_the_index_and_finds_the_last_line() -> TestResult {
    let env = Env::new();
    let mut lines = String::new();
    for n in 0..ITEMS {
        writeln!(lines, r#"{{"data": {{"n": {n}, "word": "w{n}"}}, "metadata": {{"id": "i{n}", "type": "bulk"}}}}"#)?;
    }
    let file = env.write_file("bulk.jsonl", lines.as_bytes());
    env.run(&["import", cli_support::arg(&file)]).ok();
    // Without its index on disk the read-only search starts from nothing.
    std::fs::remove_dir_all(env.data().join(recstore::search::SEARCH_DIR_NAME))?;
    let last = format!("w{}", ITEMS - 1);
    let found = env.run(&["search", &last]).ok().lines();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["id"], format!("i{}", ITEMS - 1));
    let count = env.run(&["search", "type:bulk", "--limit", "100000"]).ok().lines().len();
    assert_eq!(count, ITEMS, "every imported item is searchable");
    Ok(())
}
