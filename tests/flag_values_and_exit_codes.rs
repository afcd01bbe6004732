//! Regression: one rule for every flag and parameter that takes a time or
//! a number. A bad time was exit 1 in `--since`/`--until`/`--before` but 2
//! in `--as-of`; `compact --max-versions 0` was 1; `--retention-days
//! 4270079647` multiplied into a u64 that wrapped (a panic in debug builds,
//! a cutoff hours ago in release ones, deleting recent history). Now a
//! value that does not parse or lies outside the flag's documented range is
//! a usage error (exit 2; HTTP 400) that names the range, refused before
//! anything runs; a well-formed value the store cannot honour (an offset
//! past the end, an unknown version) keeps its kind (exit 1 or 3; HTTP 400
//! or 404).

mod cli_support;
mod server_support;

use cli_support::{Env, TestResult};
use serde_json::json;
use server_support::{Server, json_of, runtime};

/// A store of one item `x` (offset 0), so that offsets from 1 on are past the end.
fn store() -> Env {
    let env = Env::new();
    env.put_json(r#"{"a": 1}"#, &["--id", "x"]);
    env
}

#[test]
fn malformed_or_out_of_range_values_are_usage_errors_on_every_flag() -> TestResult {
    let env = store();
    let cases: &[&[&str]] = &[
        &["query", "--since", "yesterday"],
        &["query", "--until", "2026-13-01T00:00:00Z"],
        &["query", "--since", "@-1"],
        &["query", "--limit", "-1"],
        &["query", "--offset", "ten"],
        &["query", "--as-of", "@x"],
        &["search", "a", "--limit", "1e3"],
        &["get", "x", "--version", "one"],
        &["get", "x", "--as-of", "noon"],
        &["meta", "x", "--version", "4294967296"],
        &["history", "x", "--as-of", "2026-11-25"],
        &["lineage", "x", "--depth", "-2"],
        &["log", "--from", "-1"],
        &["log", "--from", "18446744073709551616"],
        &["import", "-", "--batch-size", "0"],
        &["dataset", "get", "d", "--version", "v1"],
        &["export", "--as-of", "soon"],
        &["stats", "--as-of", "1970"],
        &["restore", "--as-of", "@", "--into", "out"],
        &["compact", "--before", "last week"],
        &["compact", "--max-versions", "0"],
        &["compact", "--max-versions", "-1"],
        &["compact", "--retention-days", "36501"],
        &["compact", "--retention-days", "4270079647", "--dry-run"],
        &["compact", "--retention-days", "213503983", "--dry-run"],
        &["serve", "--compact-every-s", "60", "--retention-days", "36501"],
        &["serve", "--compact-every-s", "60", "--max-versions", "0"],
        &["serve", "--idle-timeout-s", "0"],
    ];
    for args in cases {
        let run = env.run(args);
        assert_eq!(run.code, 2, "{args:?} is a usage error; stderr: {}", run.stderr);
    }
    let too_many = env.run(&["compact", "--retention-days", "36501"]).expect_code(2);
    assert!(too_many.stderr.contains("36500"), "the error names the maximum: {}", too_many.stderr);
    let log = env.run(&["--json", "log"]).ok().lines();
    assert_eq!(log.len(), 1, "no refused command wrote anything: {log:?}");
    Ok(())
}

#[test]
fn well_formed_values_the_store_cannot_honour_keep_their_kind() -> TestResult {
    let env = store();
    let cases: &[(&[&str], i32)] = &[
        (&["query", "--since", "@5"], 1),
        (&["query", "--until", "@1"], 1),
        (&["query", "--as-of", "@1"], 1),
        (&["compact", "--before", "@7", "--dry-run"], 1),
        (&["log", "--from", "2"], 1),
        (&["get", "x", "--version", "2"], 3),
        (&["dataset", "get", "d", "--version", "1"], 3),
    ];
    for (args, code) in cases {
        let run = env.run(args);
        assert_eq!(run.code, *code, "{args:?}; stderr: {}", run.stderr);
    }
    env.run(&["query", "--since", "@0"]).ok();
    env.run(&["compact", "--retention-days", "36500", "--dry-run"]).ok();
    env.run(&["compact", "--retention-days", "0", "--max-versions", "1", "--dry-run"]).ok();
    Ok(())
}

#[test]
fn the_matching_http_parameters_answer_400_or_keep_their_kind() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        http.post(server.url("/v1/items")).json(&json!({"data": 1, "metadata": {"id": "x"}})).send().await?;
        let gets = [
            ("/v1/query?since=yesterday", 400),
            ("/v1/query?until=@-1", 400),
            ("/v1/query?limit=-1", 400),
            ("/v1/query?offset=18446744073709551616", 400),
            ("/v1/query?as_of=noon", 400),
            ("/v1/search?q=a&limit=x", 400),
            ("/v1/items/x?version=one", 400),
            ("/v1/items/x/lineage?depth=-1", 400),
            ("/v1/log?from=-1", 400),
            ("/v1/stats?as_of=1970", 400),
            ("/v1/query?since=@5", 400),
            ("/v1/query?as_of=@1", 400),
            ("/v1/log?from=2", 400),
            ("/v1/items/x?version=2", 404),
        ];
        for (path, status) in gets {
            let (found, body) = json_of(http.get(server.url(path)).send().await?).await?;
            assert_eq!(found, status, "{path}: {body}");
        }
        let bodies = [
            json!({"retention_days": 36501, "dry_run": true}),
            json!({"retention_days": 4_270_079_647_u64, "dry_run": true}),
            json!({"retention_days": 213_503_983, "dry_run": true}),
            json!({"max_versions": 0, "dry_run": true}),
            json!({"before": "last week", "dry_run": true}),
            json!({"before": "@7", "dry_run": true}),
        ];
        for body in bodies {
            let response = http.post(server.url("/v1/admin/compact")).json(&body).send().await?;
            let (status, error) = json_of(response).await?;
            assert_eq!(status, 400, "{body}: {error}");
            if body.get("retention_days").is_some() {
                let message = error["error"].as_str().unwrap_or_default();
                assert!(message.contains("36500"), "names the maximum: {error}");
            }
        }
        let ok = http.post(server.url("/v1/admin/compact")).json(&json!({"retention_days": 36500, "dry_run": true}));
        assert_eq!(ok.send().await?.status(), 200);
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    assert!(server.terminate()?.success());
    Ok(())
}
