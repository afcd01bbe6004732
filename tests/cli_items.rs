//! End to end through the `recstore` binary: put, get, meta, history,
//! lineage, delete, query and stats; exit codes, `--json` shapes, stdin
//! input, reads on a missing data directory, and the write lock.

mod cli_support;

use cli_support::{Env, TestResult, arg};
use recstore::{Data, Metadata, Store, StoreOptions};
use serde_json::json;

#[test]
fn put_from_stdin_and_file_then_get_prints_data_exactly() -> TestResult {
    let env = Env::new();
    let (id, version, offset) = env.put_json(r#"{"b": 2, "a": [1, 2]}"#, &["--type", "t"]);
    assert_eq!((id.len(), version, offset), (32, 1, 0), "without --id the id is the md5 hex of the data");
    assert_eq!(env.run(&["get", &id]).ok().stdout, br#"{"a":[1,2],"b":2}"#, "compact JSON, sorted keys");

    let bytes: Vec<u8> = (0..=255u8).rev().collect();
    let file = env.write_file("blob.bin", &bytes);
    let run = env.run(&["put", "--id", "blob", "--content-type", "image/x-test", arg(&file)]).ok();
    assert_eq!(run.text(), "blob 1 1\n");
    assert_eq!(env.run(&["get", "blob"]).ok().stdout, bytes, "byte items come out raw");
    let meta = env.run(&["meta", "blob"]).ok().json();
    assert_eq!((meta["content_type"].clone(), meta["size"].clone()), (json!("image/x-test"), json!(256)));

    let forced = env.run_with_stdin(&["put", "--id", "text", "--bytes", "-"], b"[1, 2]").ok();
    assert_eq!(forced.text(), "text 1 2\n");
    assert_eq!(env.run(&["get", "text"]).ok().stdout, b"[1, 2]", "--bytes keeps the input unparsed");
    Ok(())
}

#[test]
fn put_json_output_and_dedup_and_versions() -> TestResult {
    let env = Env::new();
    let args = ["--json", "put", "--id", "r1", "--tag", "raw", "--meta", r#"{"unit": "c"}"#, "-"];
    let first = env.run_with_stdin(&args, b"{\"t\": 21.5}").ok().json();
    for key in ["id", "version", "offset", "timestamp"] {
        assert!(first.get(key).is_some(), "put --json has {key}: {first}");
    }
    assert_eq!(
        (first["id"].clone(), first["version"].clone(), first["created"].clone()),
        (json!("r1"), json!(1), json!(true))
    );
    let again = env.run_with_stdin(&args, b"{\"t\": 21.5}").ok().json();
    assert_eq!(
        (again["version"].clone(), again["created"].clone()),
        (json!(1), json!(false)),
        "identical put is a no-op"
    );
    assert_eq!(again["offset"], first["offset"]);

    let (_, version, _) = env.put_json(r#"{"t": 22.0}"#, &["--id", "r1", "--tag", "raw", "--meta", r#"{"unit": "c"}"#]);
    assert_eq!(version, 2);
    assert_eq!(env.run(&["get", "r1", "--version", "1"]).ok().stdout, br#"{"t":21.5}"#);
    assert_eq!(env.run(&["get", "r1"]).ok().stdout, br#"{"t":22.0}"#);
    let old = env.run(&["meta", "r1", "--version", "1"]).ok().json();
    assert_eq!(old["version"], json!(1));

    let meta = env.run(&["meta", "r1"]).ok().json();
    for key in ["id", "version", "type", "source_id", "tags", "parents", "timestamp", "size", "md5"] {
        assert!(meta.get(key).is_some(), "meta has {key}: {meta}");
    }
    assert_eq!(
        (meta["unit"].clone(), meta["tags"].clone(), meta["type"].clone()),
        (json!("c"), json!(["raw"]), json!(null))
    );

    let with_data = env.run(&["--json", "get", "r1"]).ok().json();
    assert_eq!((with_data["data"].clone(), with_data["version"].clone()), (json!({"t": 22.0}), json!(2)));
    Ok(())
}

#[test]
fn unknown_deleted_and_missing_versions_exit_3() -> TestResult {
    let env = Env::new();
    let run = env.run(&["get", "nope"]).expect_code(3);
    assert_eq!(run.stderr.lines().count(), 1, "one error line: {}", run.stderr);
    assert!(run.stderr.contains("nope"), "{}", run.stderr);
    let error: serde_json::Value =
        serde_json::from_str(env.run(&["--json", "meta", "nope"]).expect_code(3).stderr.trim())?;
    assert_eq!(error["kind"], json!("not_found"));
    assert!(error["error"].as_str().is_some_and(|m| m.contains("nope")));

    env.put_json("1", &["--id", "x"]);
    env.run(&["get", "x", "--version", "9"]).expect_code(3);
    env.run(&["history", "nope"]).expect_code(3);
    env.run(&["lineage", "nope"]).expect_code(3);
    env.run(&["delete", "nope"]).expect_code(3);

    let deleted = env.run(&["--json", "delete", "x"]).ok().json();
    assert_eq!((deleted["id"].clone(), deleted["offset"].clone()), (json!("x"), json!(1)));
    let run = env.run(&["--json", "get", "x"]).expect_code(3);
    let error: serde_json::Value = serde_json::from_str(run.stderr.trim())?;
    assert_eq!(error["kind"], json!("deleted"));
    env.run(&["meta", "x"]).expect_code(3);
    env.run(&["delete", "x"]).expect_code(3);
    assert_eq!(env.run(&["get", "x", "--version", "1"]).ok().stdout, b"1", "old versions stay readable");

    let history = env.run(&["history", "x"]).ok().lines();
    let events: Vec<_> = history.iter().map(|e| (e["event"].clone(), e["version"].clone())).collect();
    assert_eq!(events, [(json!("put"), json!(1)), (json!("delete"), json!(1))]);
    env.run(&["lineage", "x"]).ok();
    Ok(())
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    env.run(&[]).expect_code(2);
    env.run(&["get"]).expect_code(2);
    env.run(&["frobnicate"]).expect_code(2);
    env.run(&["query", "--no-such-flag"]).expect_code(2);
    env.run(&["lineage", "x", "--up", "--down"]).expect_code(2);
    env.run(&["get", "x", "--version", "two"]).expect_code(2);
    env.run(&["import", "-", "--batch-size", "0"]).expect_code(2);
    env.run(&["serve", "--listen", "not an address"]).expect_code(2);
    for args in [
        &["--json", "lineage", "x", "--up", "--down"][..],
        &["--json", "frobnicate"],
        &["get", "x", "--json", "--version", "two"],
    ] {
        let run = env.run(args).expect_code(2);
        let error: serde_json::Value = serde_json::from_str(run.stderr.trim())
            .unwrap_or_else(|e| panic!("{args:?}: with --json a usage error is JSON ({e}): {}", run.stderr));
        assert_eq!(error["kind"], json!("usage"), "{args:?}");
        assert!(error["error"].as_str().is_some_and(|e| !e.is_empty() && !e.starts_with("error:")), "{error}");
    }
    assert!(env.run(&["--json", "--help"]).ok().text().contains("Usage"), "help stays text");
    let logged = env.run(&["-vv", "query", "--count"]).ok().stderr;
    assert!(
        logged.contains("DEBUG") && !logged.contains('\u{1b}'),
        "plain logs when stderr is no terminal: {logged:?}"
    );
}

#[test]
fn bad_input_exits_1_and_writes_nothing() {
    let env = Env::new();
    let run = env.run_with_stdin(&["put", "--meta", "{not json", "-"], b"1").expect_code(1);
    assert!(run.stderr.contains("--meta"), "{}", run.stderr);
    env.run_with_stdin(&["put", "--id", "", "-"], b"1").expect_code(1);
    env.run_with_stdin(&["put", "--meta", r#"{"version": 3}"#, "-"], b"1").expect_code(1);
    env.run(&["put", arg(&env.path("missing.json"))]).expect_code(1);
    // A time that does not parse is a usage error, as on every flag (issue 22.6).
    env.run(&["query", "--since", "yesterday"]).expect_code(2);
    assert_eq!(env.run(&["query", "--count"]).ok().text(), "0\n");
}

#[test]
fn reads_on_a_missing_data_dir_see_an_empty_store_and_create_nothing() {
    let env = Env::new();
    assert_eq!(env.run(&["query"]).ok().text(), "");
    assert_eq!(env.run(&["--json", "query", "--count"]).ok().json(), json!({"count": 0}));
    assert_eq!(env.run(&["--json", "stats"]).ok().json()["items_live"], json!(0));
    assert_eq!(env.run(&["log"]).ok().text(), "");
    assert_eq!(env.run(&["dataset", "list"]).ok().text(), "");
    env.run(&["verify"]).ok();
    env.run(&["dataset", "get", "nope"]).expect_code(3);
    assert!(!env.data().exists(), "a read must not create the data directory");
}

#[test]
fn queries_filter_count_page_and_carry_data() -> TestResult {
    let env = Env::new();
    env.put_json(r#"{"n": 1}"#, &["--id", "a", "--type", "reading", "--source", "s1", "--tag", "raw"]);
    env.put_json(r#"{"n": 2}"#, &["--id", "b", "--type", "reading", "--source", "s2", "--tag", "raw", "--tag", "hot"]);
    env.put_json(r#"{"n": 3}"#, &["--id", "c", "--type", "other", "--tag", "hot"]);
    let ids = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["query"];
        full.extend_from_slice(args);
        env.run(&full).ok().lines().iter().map(|l| l["id"].as_str().unwrap_or_default().to_string()).collect()
    };
    assert_eq!(ids(&["--type", "reading"]), ["a", "b"]);
    assert_eq!(ids(&["--tag", "raw", "--tag", "hot"]), ["b"]);
    assert_eq!(ids(&["--source", "s1"]), ["a"]);
    assert_eq!(ids(&["--limit", "1", "--offset", "1"]), ["b"]);
    assert_eq!(ids(&["--since", "2000-01-01T00:00:00Z", "--until", "2999-01-01T00:00:00Z"]), ["a", "b", "c"]);
    assert!(ids(&["--since", "2999-01-01T00:00:00Z"]).is_empty());
    assert_eq!(env.run(&["query", "--tag", "hot", "--count"]).ok().text(), "2\n");

    let lines = env.run(&["query", "--type", "other", "--with-data"]).ok().lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (lines[0]["data"].clone(), lines[0]["type"].clone(), lines[0]["version"].clone()),
        (json!({"n": 3}), json!("other"), json!(1))
    );
    assert!(env.run(&["query"]).ok().lines()[0].get("data").is_none(), "no data without --with-data");

    env.run(&["delete", "a"]).ok();
    assert_eq!(ids(&["--type", "reading"]), ["b"], "deleted items are not returned");
    Ok(())
}

#[test]
fn lineage_walks_up_and_down() -> TestResult {
    let env = Env::new();
    env.put_json("1", &["--id", "raw"]);
    env.put_json("2", &["--id", "clean", "--parent", "raw"]);
    env.put_json("3", &["--id", "model", "--parent", "clean@1", "--parent", "elsewhere@3"]);
    let up = env.run(&["lineage", "model"]).ok().lines();
    let reached: Vec<_> = up.iter().map(|l| (l["id"].clone(), l["depth"].clone(), l["version"].clone())).collect();
    assert_eq!(
        reached,
        [
            (json!("clean"), json!(1), json!(1)),
            (json!("elsewhere"), json!(1), json!(3)),
            (json!("raw"), json!(2), json!(1))
        ],
        "a link to an item never stored is listed, and the walk goes on past it"
    );
    let down = env.run(&["lineage", "raw", "--down", "--depth", "1"]).ok().lines();
    assert_eq!(down.len(), 1);
    assert_eq!((down[0]["id"].clone(), down[0]["from"].clone()), (json!("clean"), json!("raw")));
    Ok(())
}

#[test]
fn stats_reports_counts_in_both_shapes() -> TestResult {
    let env = Env::new();
    env.put_json(r#"{"n": 1}"#, &["--id", "a", "--type", "reading", "--tag", "raw"]);
    env.put_json(r#"{"n": 2}"#, &["--id", "a", "--type", "reading", "--tag", "raw"]);
    let stats = env.run(&["--json", "stats"]).ok().json();
    assert_eq!((stats["items_live"].clone(), stats["versions"].clone()), (json!(1), json!(2)));
    assert_eq!(stats["by_type"], json!({"reading": 1}));
    let text = env.run(&["stats"]).ok().text();
    assert!(text.contains("items live") && text.contains("versions"), "{text}");
    Ok(())
}

#[test]
fn writes_fail_with_exit_5_naming_the_holder_while_reads_still_work() -> TestResult {
    let env = Env::new();
    env.put_json(r#"{"n": 1}"#, &["--id", "a", "--type", "reading"]);
    let writer = Store::open(env.data(), StoreOptions::default())?;
    writer.put(Data::Json(json!({"n": 2})), Metadata { id: Some("b".into()), ..Metadata::default() })?;

    let run = env.run_with_stdin(&["put", "--id", "c", "-"], b"3").expect_code(5);
    assert!(run.stderr.contains(&format!("pid {}", std::process::id())), "names the holder: {}", run.stderr);
    let error: serde_json::Value =
        serde_json::from_str(env.run(&["--json", "delete", "a"]).expect_code(5).stderr.trim())?;
    assert_eq!(error["kind"], json!("locked"));
    env.run_with_stdin(&["import", "-"], b"{\"data\": 1}\n").expect_code(5);
    env.run_with_stdin(&["dataset", "put", "d", "-"], b"{\"data\": 1}\n").expect_code(5);
    env.run(&["log", "--group", "g"]).expect_code(5);
    env.run(&["compact", "--max-versions", "1"]).expect_code(5);
    let preview = env.run(&["compact", "--max-versions", "1", "--dry-run"]).ok().text();
    assert!(preview.starts_with("would drop 0 records"), "a dry run reads beside the writer: {preview}");

    assert_eq!(env.run(&["get", "a"]).ok().stdout, br#"{"n":1}"#);
    assert_eq!(env.run(&["get", "b"]).ok().stdout, br#"{"n":2}"#, "reads see what the writer wrote before they opened");
    assert_eq!(env.run(&["meta", "b"]).ok().json()["version"], json!(1));
    assert_eq!(env.run(&["query", "--count"]).ok().text(), "2\n");
    assert_eq!(env.run(&["history", "a"]).ok().lines().len(), 1);
    assert_eq!(env.run(&["log"]).ok().lines().len(), 2);
    env.run(&["stats"]).ok();
    env.run(&["verify"]).ok();
    drop(writer);
    env.put_json("3", &["--id", "c"]);
    Ok(())
}

#[test]
fn help_teaches_exit_codes_data_dir_and_examples() {
    let env = Env::new();
    let top = env.run(&["--help"]).ok().text();
    for needle in ["Exit codes", "RECSTORE_DATA", "./recstore-data", "5  the store is locked"] {
        assert!(top.contains(needle), "top-level help mentions {needle:?}");
    }
    let subcommands: [&[&str]; 16] = [
        &["put"],
        &["get"],
        &["meta"],
        &["history"],
        &["lineage"],
        &["delete"],
        &["query"],
        &["import"],
        &["export"],
        &["dataset", "put"],
        &["dataset", "get"],
        &["dataset", "list"],
        &["log"],
        &["stats"],
        &["verify"],
        &["serve"],
    ];
    for subcommand in subcommands {
        let mut args = subcommand.to_vec();
        args.push("--help");
        let help = env.run(&args).ok().text();
        assert!(help.contains("Examples:"), "{subcommand:?} --help has examples:\n{help}");
    }
}
