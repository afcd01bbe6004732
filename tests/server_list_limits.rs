//! Query and log responses are bounded and streamed (issue 20, item 6).
//! `/v1/query` had no default limit and built its whole JSON array in
//! memory (200,000 hits: 50 MB of body and +330 MB of RSS), and
//! `/v1/log?limit=1000000000` was accepted. Now both answer at most 10,000
//! results unless `limit` asks for more, refuse a `limit` over 1,000,000
//! naming the maximum, and write their bodies a chunk at a time.

mod server_support;

use serde_json::{Value, json};
use server_support::{Server, TestResult, json_of, runtime};

const ITEMS: usize = 10_050;

#[test]
fn query_and_log_answer_10000_by_default_and_refuse_a_limit_over_a_million() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let batch: Vec<Value> = (0..ITEMS).map(|n| json!({"data": n, "metadata": {"type": "t"}})).collect();
        http.post(server.url("/v1/items")).json(&batch).send().await?.error_for_status()?;

        let (status, hits) = json_of(http.get(server.url("/v1/query?type=t")).send().await?).await?;
        assert_eq!((status, hits.as_array().map(Vec::len)), (200, Some(10_000)), "the default limit");
        let (_, all) = json_of(http.get(server.url("/v1/query?type=t&limit=1000000")).send().await?).await?;
        assert_eq!(all.as_array().map(Vec::len), Some(ITEMS), "a request may raise the limit");
        let ndjson = http.get(server.url("/v1/query?type=t&limit=20000")).header("accept", "application/x-ndjson");
        let text = ndjson.send().await?.text().await?;
        assert_eq!(text.lines().filter(|l| serde_json::from_str::<Value>(l).is_ok()).count(), ITEMS);
        let (_, none) = json_of(http.get(server.url("/v1/query?type=nothing")).send().await?).await?;
        assert_eq!(none, json!([]), "an empty answer is still a JSON array");

        let log = http.get(server.url("/v1/log?from=0")).send().await?.text().await?;
        assert_eq!(log.lines().count(), 10_000, "the log's default limit");
        let log = http.get(server.url("/v1/log?from=0&limit=1000000")).send().await?.text().await?;
        assert_eq!(log.lines().count(), ITEMS, "the whole log in byte-bounded batches");
        let offsets: Vec<u64> = log
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).map(|e| e["offset"].as_u64().unwrap_or(u64::MAX)))
            .collect::<Result<_, _>>()?;
        assert!(offsets.iter().enumerate().all(|(n, &o)| o == n as u64), "every event once, in order");

        for route in ["/v1/query?type=t&limit=1000001", "/v1/log?limit=1000000000"] {
            let (status, error) = json_of(http.get(server.url(route)).send().await?).await?;
            assert_eq!(status, 400, "{route}: {error}");
            assert!(error["error"].as_str().is_some_and(|e| e.contains("1000000")), "names the maximum: {error}");
        }
        Ok(())
    })
}
