//! `recstore compact` end to end: old versions are pruned with audit stubs,
//! the latest stay readable, as-of before the horizon is refused, and the
//! server runs the same compaction over HTTP.

mod cli_support;

use cli_support::{Env, TestResult};

#[test]
fn compact_prunes_old_versions_and_guards_the_horizon() -> TestResult {
    let env = Env::new();
    for value in 0..5 {
        env.put_json(&format!(r#"{{"v": {value}}}"#), &["--id", "x", "--type", "t"]);
    }
    let log_before = env.run(&["--json", "stats"]).ok().json();
    let preview = env.run(&["--json", "compact", "--max-versions", "2", "--dry-run"]).ok().json();
    assert_eq!(preview["records_dropped"]["max_versions"], 3, "{preview}");
    assert_eq!(preview["horizon"][0], 4, "just past v4, which superseded the last dropped version: {preview}");
    assert_eq!(env.run(&["--json", "stats"]).ok().json(), log_before, "a dry run writes nothing");
    let text = env.run(&["compact", "--max-versions", "2", "--dry-run"]).ok().text();
    assert!(text.starts_with("would drop 3 records (max_versions 3,"), "{text}");
    assert!(text.contains("as-of reads before @3 "), "the earliest exact as-of is @3, bound 4: {text}");
    let report = env.run(&["--json", "compact", "--max-versions", "2"]).ok().json();
    assert_eq!(report["records_dropped"]["max_versions"], 3, "{report}");
    assert_eq!(env.run(&["get", "x"]).ok().text(), r#"{"v":4}"#);
    assert_eq!(env.run(&["get", "x", "--version", "4"]).ok().text(), r#"{"v":3}"#);
    let pruned = env.run(&["get", "x", "--version", "1"]).expect_code(3);
    assert!(pruned.stderr.contains("pruned"), "{}", pruned.stderr);
    assert_eq!(env.run(&["history", "x"]).ok().lines().len(), 5, "history keeps the audit stubs");
    let before = env.run(&["get", "x", "--as-of", "@0"]).expect_code(1);
    assert!(before.stderr.contains("horizon"), "{}", before.stderr);
    env.run(&["verify"]).ok();
    env.run(&["compact", "--retention-days", "1", "--before", "2026-01-01T00:00:00Z"]).expect_code(2);
    Ok(())
}
