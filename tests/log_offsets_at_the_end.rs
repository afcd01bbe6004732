//! Regressions at the end of the log, through the library, the CLI and HTTP.
//!
//! A consumer commit of an unchanged offset appended a record every time,
//! so a consumer that commits after each poll grew the log (and woke every
//! follower) while nothing happened; now it appends nothing and answers as
//! the first commit did. And `log --from N` with N past the log's next
//! offset printed nothing and exited 0 (`GET /v1/log?from=N` answered 200
//! with an empty body), as if N were a real place to wait at: N equal to
//! the next offset still answers nothing, N beyond it is `invalid_input`
//! naming the next offset.

mod cli_support;
mod server_support;

use cli_support::{Env, TestResult};
use recstore::{Data, Metadata, Store, StoreOptions};
use serde_json::json;
use server_support::{Server, json_of, runtime};

#[test]
fn committing_an_unchanged_offset_appends_nothing_and_answers_the_same() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), StoreOptions::default())?;
    store.put(Data::Json(json!(1)), Metadata::default())?;
    let first = store.commit_consumer("g", 1)?;
    let next_offset = store.log().next_offset();
    assert_eq!(store.commit_consumer("g", 1)?, first, "the same commit answers with the first one's record");
    assert_eq!(store.log().next_offset(), next_offset, "and appends nothing");
    let moved = store.commit_consumer("g", 0)?;
    assert_eq!(moved, next_offset, "a changed offset (even backwards) is a new record");
    drop(store);
    let store = Store::open(dir.path(), StoreOptions::default())?;
    assert_eq!(store.commit_consumer("g", 0)?, moved, "after a reopen too");
    assert_eq!(store.log().next_offset(), next_offset + 1);
    Ok(())
}

#[test]
fn log_from_the_next_offset_prints_nothing_and_beyond_it_fails() -> TestResult {
    let env = Env::new();
    env.put_json("1", &[]);
    env.put_json("2", &[]);
    let at_end = env.run(&["log", "--from", "2"]).ok();
    assert_eq!(at_end.text(), "", "the next offset: nothing yet");
    for args in [&["log", "--from", "3"][..], &["log", "--from", "3", "--follow"], &["log", "--from", "99"]] {
        let past = env.run(args).expect_code(1);
        assert!(past.stderr.contains("the next offset is 2"), "{args:?}: {}", past.stderr);
    }
    let json = env.run(&["--json", "log", "--from", "3"]).expect_code(1);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&json.stderr)?["kind"], "invalid_input");
    Ok(())
}

#[test]
fn http_log_past_the_end_is_refused_and_unchanged_commits_are_no_ops() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        for i in 0..2 {
            http.post(server.url("/v1/items")).json(&json!({"data": i})).send().await?.error_for_status()?;
        }
        let at_end = http.get(server.url("/v1/log?from=2")).send().await?;
        assert_eq!(at_end.status(), 200);
        assert_eq!(at_end.text().await?, "");
        for past in ["/v1/log?from=3", "/v1/log?from=3&follow=true"] {
            let (status, error) = json_of(http.get(server.url(past)).send().await?).await?;
            assert_eq!((status, &error["kind"]), (400, &json!("invalid_input")), "{past}: {error}");
            assert!(error["error"].as_str().is_some_and(|e| e.contains("the next offset is 2")), "{error}");
        }
        let commit = || http.post(server.url("/v1/consumers/audit/commit")).json(&json!({"offset": 2})).send();
        let (status, first) = json_of(commit().await?).await?;
        assert_eq!(status, 200, "{first}");
        let (_, stats) = json_of(http.get(server.url("/v1/stats")).send().await?).await?;
        let (status, second) = json_of(commit().await?).await?;
        assert_eq!((status, &second), (200, &first), "an unchanged commit answers the same");
        let (_, again) = json_of(http.get(server.url("/v1/stats")).send().await?).await?;
        assert_eq!(again["next_offset"], stats["next_offset"], "and appends no record");
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    assert!(server.terminate()?.success());
    Ok(())
}
