//! `/metrics` after a mixed workload, read by the official Prometheus
//! client's parser (issue 26): requests by route template and status with
//! latency histograms, the search view's and a consumer group's lag,
//! compaction totals, log size and process figures, and no label that
//! carries an item id (bounded cardinality).

mod server_support;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use server_support::{Server, TestResult, json_of, runtime};

/// One parsed sample: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: serde_json::Map<String, Value>,
    value: f64,
}

/// Parses `text` with `prometheus_client.parser` (tests/metrics/parse.py).
fn parse(text: &str) -> Result<Vec<Sample>, Box<dyn std::error::Error>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/metrics/parse.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().ok_or("stdin")?.write_all(text.as_bytes())?;
    let output = child.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Prometheus parser refused /metrics (pip install -r tests/requirements.txt): {stderr}"
    );
    let rows: Vec<(String, serde_json::Map<String, Value>, f64)> = serde_json::from_slice(&output.stdout)?;
    Ok(rows.into_iter().map(|(name, labels, value)| Sample { name, labels, value }).collect())
}

/// The value of the one sample named `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &Value) -> Option<f64> {
    let wanted = labels.as_object()?;
    let mut matching =
        samples.iter().filter(|s| s.name == name && wanted.iter().all(|(k, v)| s.labels.get(k) == Some(v)));
    let first = matching.next()?;
    assert!(matching.next().is_none(), "{name} {labels} names more than one sample");
    Some(first.value)
}

async fn scrape(server: &Server, http: &reqwest::Client) -> Result<Vec<Sample>, Box<dyn std::error::Error>> {
    let response = http.get(server.url("/metrics")).send().await?;
    assert_eq!(response.status(), 200);
    parse(&response.text().await?)
}

#[test]
fn metrics_follow_a_mixed_workload_and_parse_with_the_prometheus_client() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        for n in 0..5 {
            let body = json!({"data": {"n": n}, "metadata": {"id": format!("item-{n}"), "type": "reading"}});
            let response = http.post(server.url("/v1/items")).json(&body).send().await?;
            assert_eq!(response.status(), 201);
        }
        for _ in 0..3 {
            assert_eq!(http.get(server.url("/v1/items/no-such-item")).send().await?.status(), 404);
        }
        let (status, _) =
            json_of(http.post(server.url("/v1/consumers/ingest/commit")).json(&json!({"offset": 2})).send().await?)
                .await?;
        assert_eq!(status, 200);
        let (status, _) = json_of(http.get(server.url("/v1/search?q=type:reading")).send().await?).await?;
        assert_eq!(status, 200, "a search waits for the search view");
        let (status, _) =
            json_of(http.post(server.url("/v1/admin/compact")).json(&json!({"max_versions": 1})).send().await?).await?;
        assert_eq!(status, 200);

        let samples = scrape(&server, &http).await?;
        let requests = |route: &str, method: &str, status: &str| {
            value(
                &samples,
                "recstore_http_requests_total",
                &json!({"route": route, "method": method, "status": status}),
            )
        };
        assert_eq!(requests("/v1/items", "POST", "201"), Some(5.0));
        assert_eq!(requests("/v1/items/{id}", "GET", "404"), Some(3.0), "ids are folded into the route template");
        let latency = json!({"route": "/v1/items/{id}", "method": "GET"});
        assert_eq!(value(&samples, "recstore_http_request_duration_seconds_count", &latency), Some(3.0));
        let next_offset = value(&samples, "recstore_log_next_offset", &json!({})).ok_or("log_next_offset")?;
        assert!(next_offset >= 6.0, "five puts and a commit: {next_offset}");
        let group = json!({"group": "ingest"});
        assert_eq!(value(&samples, "recstore_consumer_group_committed_offset", &group), Some(2.0));
        assert_eq!(value(&samples, "recstore_consumer_group_lag_offsets", &group), Some(next_offset - 2.0));
        assert_eq!(value(&samples, "recstore_compaction_runs_total", &json!({})), Some(1.0));
        assert!(value(&samples, "recstore_log_segments", &json!({})).is_some_and(|n| n >= 1.0));
        assert!(value(&samples, "recstore_fsync_duration_seconds_count", &json!({})).is_some_and(|n| n >= 5.0));
        assert!(value(&samples, "process_resident_memory_bytes", &json!({})).is_some_and(|n| n > 0.0));
        let search_lag = value(&samples, "recstore_search_lag_offsets", &json!({})).ok_or("search lag")?;
        assert!(search_lag <= next_offset, "{search_lag}");
        for sample in &samples {
            assert!(
                sample
                    .labels
                    .values()
                    .all(|v| !v.as_str().is_some_and(|v| v.contains("item-") || v.contains("no-such"))),
                "a label carries an id: {sample:?}"
            );
        }

        // More writes move the group's lag, and the search view catches up.
        for n in 5..8 {
            let body = json!({"data": {"n": n}, "metadata": {"type": "reading"}});
            http.post(server.url("/v1/items")).json(&body).send().await?;
        }
        let (status, _) = json_of(http.get(server.url("/v1/search?q=type:reading")).send().await?).await?;
        assert_eq!(status, 200);
        let later = scrape(&server, &http).await?;
        let later_next = value(&later, "recstore_log_next_offset", &json!({})).ok_or("log_next_offset")?;
        assert_eq!(value(&later, "recstore_consumer_group_lag_offsets", &group), Some(later_next - 2.0));
        assert!(later_next > next_offset);
        assert_eq!(value(&later, "recstore_search_lag_offsets", &json!({})), Some(0.0), "a search waited for the view");
        Ok(())
    })
}

/// Scrapes until `recstore_http_open_connections` reads `wanted`, and says
/// what it last read when it never does: a connection is counted once the
/// accept loop has taken it, and uncounted once the server has seen it close.
async fn open_connections_reach(
    server: &Server,
    http: &reqwest::Client,
    wanted: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut last = None;
    for _ in 0..400 {
        last = value(&scrape(server, http).await?, "recstore_http_open_connections", &json!({}));
        if last == Some(wanted) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    Err(format!("recstore_http_open_connections stayed at {last:?}, not {wanted}").into())
}

/// `recstore_http_open_connections` counts connections from accept to
/// close, whether or not they ever send a request (issue 26).
#[test]
fn open_connections_are_counted_until_they_close() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        // One keep-alive connection scrapes throughout: it counts itself.
        let http = reqwest::Client::new();
        open_connections_reach(&server, &http, 1.0).await?;
        let idle: Vec<std::net::TcpStream> =
            (0..3).map(|_| std::net::TcpStream::connect(server.address())).collect::<Result<_, _>>()?;
        open_connections_reach(&server, &http, 4.0).await?;
        drop(idle);
        open_connections_reach(&server, &http, 1.0).await?;
        Ok(())
    })
}
