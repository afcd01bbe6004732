//! `recstore serve --compact-every-s N` compacts on its own (issue 5,
//! "Scheduling"): with `--max-versions 1`, a superseded version written
//! through the API becomes pruned without anyone asking, its history stays,
//! the current version reads back, and SIGTERM still exits 0. Without the
//! flag nothing is compacted, and the policy flags alone are refused.

mod server_support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use server_support::{Server, TestResult, json_of, runtime};

/// How long the test waits for a background run: many intervals, so a
/// loaded machine does not fail it.
const PRUNE_WAIT: Duration = Duration::from_secs(60);

async fn put_versions(http: &reqwest::Client, server: &Server) -> TestResult {
    for value in 1..=3 {
        let body = json!({"data": {"value": value}, "metadata": {"id": "x"}});
        let response = http.post(server.url("/v1/items")).json(&body).send().await?;
        assert!(response.status().is_success(), "{}", response.status());
    }
    Ok(())
}

#[test]
fn a_superseded_version_is_pruned_without_a_request() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &["--compact-every-s", "1", "--max-versions", "1"])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        put_versions(&http, &server).await?;
        let started = Instant::now();
        loop {
            let (status, body) = json_of(http.get(server.url("/v1/items/x?version=1")).send().await?).await?;
            if status == 404 {
                assert!(body.to_string().contains("pruned"), "{body}");
                break;
            }
            assert_eq!(status, 200, "{body}");
            assert!(started.elapsed() < PRUNE_WAIT, "version 1 was not pruned within {PRUNE_WAIT:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (status, latest) = json_of(http.get(server.url("/v1/items/x")).send().await?).await?;
        assert_eq!((status, latest), (200, json!({"value": 3})));
        let (status, history) = json_of(http.get(server.url("/v1/items/x/history")).send().await?).await?;
        assert_eq!(status, 200);
        assert_eq!(history.as_array().map(Vec::len), Some(3), "history keeps pruned versions: {history}");
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    assert!(server.terminate()?.success(), "SIGTERM exits 0 with background compaction on");
    Ok(())
}

#[test]
fn without_the_flag_nothing_is_compacted() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        put_versions(&http, &server).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (status, old) = json_of(http.get(server.url("/v1/items/x?version=1")).send().await?).await?;
        assert_eq!((status, old), (200, json!({"value": 1})));
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    assert!(server.terminate()?.success());
    Ok(())
}

#[test]
fn policy_flags_without_an_interval_are_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let output = Command::new(env!("CARGO_BIN_EXE_recstore"))
        .arg("--data")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--max-versions", "2"])
        .output()?;
    assert_eq!(output.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--compact-every-s"), "{stderr}");
    Ok(())
}
