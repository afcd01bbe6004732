//! `recstore search` writes nothing in `search/` (issue 20, item 9). Read
//! commands open the store read-only, but opening the search index took
//! tantivy's meta lock, a file it creates in `search/`, so a search failed
//! without write permission there (a server run by another user). Now a
//! read-only open takes no lock file: the folder is left exactly as it was.

mod cli_support;

use std::collections::BTreeSet;
use std::path::Path;

use cli_support::{Env, TestResult};

/// The names in `dir`, hidden lock files included.
fn names(dir: &Path) -> Result<BTreeSet<String>, std::io::Error> {
    std::fs::read_dir(dir)?.map(|entry| Ok(entry?.file_name().to_string_lossy().into_owned())).collect()
}

#[test]
fn search_leaves_the_search_folder_untouched() -> TestResult {
    let env = Env::new();
    env.put_json(r#"{"note": "hello world"}"#, &["--type", "greeting"]);
    let search_dir = env.data().join("search");
    // The writer's lock file, if it left one, goes: the search must not make it again.
    for lock in [".tantivy-meta.lock", ".tantivy-writer.lock"] {
        let _ = std::fs::remove_file(search_dir.join(lock));
    }
    let before = names(&search_dir)?;
    let found = env.run(&["search", "hello"]).ok();
    assert!(found.text().contains("greeting"), "the search finds the item: {}", found.text());
    assert_eq!(names(&search_dir)?, before, "the search created or removed files in search/");
    Ok(())
}
