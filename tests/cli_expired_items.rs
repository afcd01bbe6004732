//! Regression: after `compact --expire` without `--purge`, an item whose
//! current version expired still counted as live. `query` listed it,
//! `query --count` and `stats.items_live` counted it, and `query
//! --with-data` failed on it with "pruned", because the views only knew
//! puts and deletes: the expired version stayed in the query indices as
//! the item's latest put. Now expiry ends the item as a delete does
//! (counted apart, in `items_expired`), now and in as-of reads, and a new
//! put brings it back.

mod cli_support;

use cli_support::{Env, TestResult};

/// An item `old` whose only version expires, and a `new` one stored at the cutoff.
fn store_with_one_expired_item() -> Result<Env, Box<dyn std::error::Error>> {
    let env = Env::new();
    env.put_json(r#"{"v": "old"}"#, &["--id", "old", "--type", "t"]);
    // Records are stamped in microseconds: a pause makes the two times differ.
    std::thread::sleep(std::time::Duration::from_millis(5));
    env.put_json(r#"{"v": "new"}"#, &["--id", "new", "--type", "t"]);
    let log = env.run(&["--json", "log"]).ok().lines();
    let cutoff = log[1]["timestamp"].as_str().ok_or("a timestamp")?.to_string();
    let report = env.run(&["--json", "compact", "--before", &cutoff, "--expire"]).ok().json();
    assert_eq!(report["records_dropped"]["expired"], 1, "{report}");
    Ok(env)
}

#[test]
fn an_expired_item_leaves_queries_counts_and_live_stats() -> TestResult {
    let env = store_with_one_expired_item()?;
    let ids: Vec<String> =
        env.run(&["query", "--type", "t"]).ok().lines().iter().map(|l| l["id"].to_string()).collect();
    assert_eq!(ids, [r#""new""#], "query lists only the live item");
    assert_eq!(env.run(&["query", "--count"]).ok().text().trim(), "1");
    assert_eq!(env.run(&["query", "--type", "t", "--count"]).ok().text().trim(), "1");
    let with_data = env.run(&["query", "--with-data"]).ok().lines();
    assert_eq!(with_data.len(), 1, "{with_data:?}");
    let stats = env.run(&["--json", "stats"]).ok().json();
    assert_eq!((stats["items_live"].as_u64(), stats["items_expired"].as_u64()), (Some(1), Some(1)), "{stats}");
    assert_eq!(stats["by_type"]["t"], 1, "{stats}");
    let pruned = env.run(&["get", "old"]).expect_code(3);
    assert!(pruned.stderr.contains("pruned"), "get still says why: {}", pruned.stderr);
    let at_end = env.run(&["query", "--count", "--as-of", "@2"]).ok();
    assert_eq!(at_end.text().trim(), "1", "as of the compaction record: {}", at_end.stderr);
    Ok(())
}

#[test]
fn a_put_revives_an_expired_item_and_a_delete_ends_it() -> TestResult {
    let env = store_with_one_expired_item()?;
    env.put_json(r#"{"v": "again"}"#, &["--id", "old", "--type", "t"]);
    let stats = env.run(&["--json", "stats"]).ok().json();
    assert_eq!((stats["items_live"].as_u64(), stats["items_expired"].as_u64()), (Some(2), Some(0)), "{stats}");
    assert_eq!(env.run(&["query", "--count"]).ok().text().trim(), "2");
    assert_eq!(env.run(&["get", "old"]).ok().text(), r#"{"v":"again"}"#);
    env.run(&["delete", "old"]).ok();
    let stats = env.run(&["--json", "stats"]).ok().json();
    let counts = (stats["items_live"].as_u64(), stats["items_expired"].as_u64(), stats["items_deleted"].as_u64());
    assert_eq!(counts, (Some(1), Some(0), Some(1)), "{stats}");
    Ok(())
}

#[test]
fn expired_items_stay_gone_after_a_full_replay() -> TestResult {
    let env = store_with_one_expired_item()?;
    std::fs::remove_dir_all(env.data().join("views"))?;
    assert_eq!(env.run(&["query", "--count"]).ok().text().trim(), "1");
    let stats = env.run(&["--json", "stats"]).ok().json();
    assert_eq!((stats["items_live"].as_u64(), stats["items_expired"].as_u64()), (Some(1), Some(1)), "{stats}");
    Ok(())
}
