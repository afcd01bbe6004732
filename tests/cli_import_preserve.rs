//! `import --preserve` through the `recstore` binary: `export --all-versions`
//! of a store with version gaps (compaction pruned old versions), imported
//! with --preserve into an empty store, round-trips ids, versions,
//! timestamps, parents and data exactly; versions that do not go up and
//! times that go back are refused before anything of their batch is written.

mod cli_support;

use cli_support::{Env, TestResult, arg};
use serde_json::Value;

/// Export lines without the one field a copy cannot keep: the log offset.
fn without_offsets(lines: Vec<Value>) -> Vec<Value> {
    lines
        .into_iter()
        .map(|mut line| {
            if let Some(object) = line.as_object_mut() {
                object.remove("offset");
            }
            line
        })
        .collect()
}

fn exported(env: &Env, name: &str) -> Vec<Value> {
    let out = env.path(name);
    env.run(&["export", "--all-versions", "--out", arg(&out)]).ok();
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
}

#[test]
fn export_all_versions_then_import_preserve_round_trips() -> TestResult {
    let source = Env::new();
    for n in 1..=5 {
        source.put_json(&format!(r#"{{"n":{n}}}"#), &["--id", "raw", "--type", "reading", "--tag", "t"]);
    }
    source.put_json(r#"{"clean":true}"#, &["--id", "clean", "--parent", "raw@5", "--type", "feature"]);
    source.run_with_stdin(&["put", "--id", "blob", "--bytes", "--content-type", "image/png", "-"], b"\x89PNG").ok();
    source.run(&["compact", "--max-versions", "2"]).ok();
    let lines = exported(&source, "all.jsonl");
    let versions: Vec<u64> =
        lines.iter().filter(|l| l["metadata"]["id"] == "raw").filter_map(|l| l["version"].as_u64()).collect();
    assert_eq!(versions, vec![4, 5], "versions 1-3 were pruned: the export starts at 4");

    let copy = Env::new();
    let file = source.path("all.jsonl");
    copy.run(&["import", "--preserve", arg(&file)]).ok();
    assert_eq!(without_offsets(exported(&copy, "copy.jsonl")), without_offsets(lines.clone()));
    let history = copy.run(&["history", "raw"]).ok().lines();
    assert_eq!(history.iter().map(|e| e["version"].clone()).collect::<Vec<_>>(), vec![4, 5]);
    let meta = copy.run(&["meta", "clean"]).ok().json();
    assert_eq!(meta["parents"], serde_json::json!(["raw@5"]));

    // Again: every version is already there, so the first line goes backwards.
    let again = copy.run(&["import", "--preserve", arg(&file)]).expect_code(1);
    assert!(again.stderr.contains("versions only go up"), "{}", again.stderr);
    assert_eq!(without_offsets(exported(&copy, "copy2.jsonl")), without_offsets(lines), "nothing was written");
    Ok(())
}

#[test]
fn import_preserve_refuses_times_that_go_back_and_writes_nothing() -> TestResult {
    let env = Env::new();
    env.put_json(r#"{"now":1}"#, &["--id", "recent"]);
    let old = r#"{"data":{"old":1},"metadata":{"id":"old"},"version":1,"timestamp":"2020-01-01T00:00:00Z"}"#;
    let file = env.write_file("old.jsonl", format!("{old}\n").as_bytes());
    let refused = env.run(&["import", "--preserve", arg(&file)]).expect_code(1);
    assert!(refused.stderr.contains("times never go back"), "{}", refused.stderr);
    assert_eq!(env.run(&["query", "--count"]).ok().text(), "1\n");

    let fresh = Env::new();
    fresh.run(&["import", "--preserve", arg(&file)]).ok();
    let meta = fresh.run(&["meta", "old"]).ok().json();
    assert_eq!((meta["version"].as_u64(), meta["timestamp"].as_str()), (Some(1), Some("2020-01-01T00:00:00.000000Z")));
    let missing = fresh.write_file("bare.jsonl", br#"{"data":1,"metadata":{"id":"x"}}"#);
    let refused = fresh.run(&["import", "--preserve", arg(&missing)]).expect_code(1);
    assert!(refused.stderr.contains("needs each line's `version`"), "{}", refused.stderr);
    Ok(())
}
