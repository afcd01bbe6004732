//! `recstore search` end to end: field queries, free text, as-of, bad queries.

mod cli_support;

use cli_support::{Env, TestResult};

#[test]
fn search_finds_by_field_and_text_and_refuses_bad_queries() -> TestResult {
    let env = Env::new();
    env.put_json(
        r#"{"note": "calibrated in the north lab"}"#,
        &["--id", "a", "--type", "sensor_reading", "--tag", "raw_data"],
    );
    env.put_json(r#"{"note": "south field"}"#, &["--id", "b", "--type", "sensor_reading", "--tag", "clean"]);
    let (_, _, offset) = env.put_json(r#"{"note": "north again"}"#, &["--id", "c", "--type", "feature"]);
    env.put_json(r#"{"note": "moved south"}"#, &["--id", "c", "--type", "feature"]);

    let ids = |args: &[&str]| -> Vec<String> {
        let mut ids: Vec<String> =
            env.run(args).ok().lines().iter().map(|l| l["id"].as_str().unwrap_or_default().to_string()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&["search", "type:sensor_reading AND tags:raw_data"]), ["a"]);
    assert_eq!(ids(&["search", "north"]), ["a"], "c's current version no longer says north");
    assert_eq!(ids(&["search", "north", "--as-of", &format!("@{offset}")]), ["a", "c"]);
    assert_eq!(ids(&["search", "type:sensor_reading AND NOT tags:raw_data"]), ["b"], "AND NOT excludes");
    assert_eq!(ids(&["search", "type:sensor_reading -tags:raw_data"]), ["b"]);
    let deep = format!("{}north{}", "(".repeat(400), ")".repeat(400));
    let refused = env.run(&["search", &deep]).expect_code(1);
    assert!(refused.stderr.contains("nests 400 levels"), "refused, not a stack overflow: {}", refused.stderr);
    let bad = env.run(&["search", "type:(unclosed"]).expect_code(1);
    assert!(bad.stderr.contains("invalid input"), "{}", bad.stderr);
    Ok(())
}
