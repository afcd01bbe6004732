//! `--as-of` on every read command and `recstore restore`, end to end
//! through the built binary.

mod cli_support;

use cli_support::{Env, TestResult, arg};

#[test]
fn reads_as_of_an_offset_see_the_state_after_that_record() -> TestResult {
    let env = Env::new();
    let (_, _, first) = env.put_json(r#"{"t": 1}"#, &["--id", "r", "--type", "reading", "--tag", "old"]);
    env.put_json(r#"{"t": 2}"#, &["--id", "r", "--type", "reading", "--tag", "new"]);
    env.run(&["delete", "r"]).ok();
    let at = format!("@{first}");

    assert_eq!(env.run(&["get", "r", "--as-of", &at]).ok().text(), r#"{"t":1}"#);
    env.run(&["get", "r"]).expect_code(3);
    assert_eq!(env.run(&["meta", "r", "--as-of", &at]).ok().json()["version"], 1);
    assert_eq!(env.run(&["history", "r", "--as-of", &at]).ok().lines().len(), 1);
    let old = env.run(&["query", "--tag", "old", "--as-of", &at]).ok().lines();
    assert_eq!(old.len(), 1, "the version current then carried tag old");
    assert_eq!(env.run(&["query", "--tag", "new", "--as-of", &at, "--count"]).ok().text().trim(), "0");
    let stats = env.run(&["--json", "stats", "--as-of", &at]).ok().json();
    assert_eq!((stats["items_live"].clone(), stats["versions"].clone()), (1.into(), 1.into()));
    env.run(&["get", "r", "--as-of", "@999"]).expect_code(1);
    env.run(&["get", "r", "--as-of", "yesterday"]).expect_code(2);
    Ok(())
}

#[test]
fn after_a_compaction_the_earliest_exact_as_of_it_names_reads_and_the_one_before_fails() -> TestResult {
    let env = Env::new();
    for t in 0..3 {
        env.put_json(&format!(r#"{{"t": {t}}}"#), &["--id", "r"]);
    }
    let preview = env.run(&["compact", "--max-versions", "1", "--dry-run"]).ok().text();
    assert!(preview.contains("as-of reads before @2 "), "{preview}");
    env.run(&["compact", "--max-versions", "1"]).ok();
    assert_eq!(env.run(&["get", "r", "--as-of", "@2"]).ok().text(), r#"{"t":2}"#);
    let failed = env.run(&["get", "r", "--as-of", "@1"]).expect_code(1);
    assert!(failed.stderr.contains("the earliest exact as-of is @2"), "{}", failed.stderr);
    Ok(())
}

#[test]
fn restore_builds_an_independent_store_equal_to_the_as_of_reads() -> TestResult {
    let env = Env::new();
    for i in 0..20 {
        env.put_json(&format!(r#"{{"i": {i}}}"#), &["--id", &format!("k{}", i % 7), "--type", "t"]);
    }
    let point = "@9";
    let expected = env.run(&["query", "--type", "t", "--as-of", point]).ok().text();
    let target = env.path("restored");
    let report = env.run(&["--json", "restore", "--as-of", point, "--into", arg(&target)]).ok().json();
    assert_eq!(report["next_offset"], 10);

    let restored = std::process::Command::new(env!("CARGO_BIN_EXE_recstore"))
        .args(["--data", arg(&target), "query", "--type", "t"])
        .output()?;
    assert_eq!(String::from_utf8(restored.stdout)?, expected);
    let verify =
        std::process::Command::new(env!("CARGO_BIN_EXE_recstore")).args(["--data", arg(&target), "verify"]).output()?;
    assert!(verify.status.success(), "the restored store verifies clean");

    let occupied = env.path("occupied");
    std::fs::create_dir_all(&occupied)?;
    std::fs::write(occupied.join("mine"), "keep")?;
    let refused = env.run(&["restore", "--as-of", point, "--into", arg(&occupied)]).expect_code(1);
    assert!(refused.stderr.contains("not empty"), "{}", refused.stderr);
    assert_eq!(std::fs::read_to_string(occupied.join("mine"))?, "keep");
    Ok(())
}
