//! The HTTP API end to end: a real `recstore serve` process on an ephemeral
//! loopback port, a real HTTP client, real files.

mod server_support;

use std::process::Command;

use serde_json::{Value, json};
use server_support::{Server, TestResult, json_of, runtime};

#[test]
fn items_round_trip_through_every_item_route() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let body = json!({"data": {"t": 21.5}, "metadata": {"id": "s1", "type": "sensor_reading", "tags": ["raw_data", "priority_high"]}});
        let (status, stored) = json_of(http.post(server.url("/v1/items")).json(&body).send().await?).await?;
        assert_eq!((status, stored["id"].clone(), stored["version"].clone()), (201, json!("s1"), json!(1)));
        let (status, again) = json_of(http.post(server.url("/v1/items")).json(&body).send().await?).await?;
        assert_eq!((status, again["version"].clone(), again["created"].clone()), (200, json!(1), json!(false)));

        let update = json!({"data": {"t": 22.0}, "metadata": {"type": "sensor_reading", "tags": ["raw_data"]}});
        let (status, v2) = json_of(http.put(server.url("/v1/items/s1")).json(&update).send().await?).await?;
        assert_eq!((status, v2["version"].clone()), (201, json!(2)));

        let data = http.get(server.url("/v1/items/s1?version=1")).send().await?;
        assert_eq!(data.headers()["content-type"], "application/json");
        assert_eq!(data.json::<Value>().await?, json!({"t": 21.5}));
        let (_, meta) = json_of(http.get(server.url("/v1/items/s1/metadata")).send().await?).await?;
        assert_eq!((meta["version"].clone(), meta["type"].clone()), (json!(2), json!("sensor_reading")));

        let (_, hits) = json_of(http.get(server.url("/v1/query?type=sensor_reading&tag=raw_data")).send().await?).await?;
        assert_eq!(hits.as_array().map(Vec::len), Some(1));
        let (_, none) = json_of(http.get(server.url("/v1/query?tag=raw_data&tag=priority_high")).send().await?).await?;
        assert_eq!(none, json!([]), "v2 dropped priority_high; tags are all-of");
        let (status, found) = json_of(http.get(server.url("/v1/search?q=tags:raw_data")).send().await?).await?;
        assert_eq!((status, found[0]["id"].clone()), (200, json!("s1")));
        let (status, error) = json_of(http.get(server.url("/v1/search?q=type:(")).send().await?).await?;
        assert_eq!((status, error["kind"].clone()), (400, json!("invalid_input")));
        let (status, error) = json_of(http.get(server.url("/v1/search?q=id:*")).send().await?).await?;
        assert_eq!((status, error["kind"].clone()), (400, json!("invalid_input")), "a schema mismatch is the query's: {error}");
        let ndjson = http.get(server.url("/v1/query?type=sensor_reading")).header("accept", "application/x-ndjson").send().await?;
        assert_eq!(ndjson.headers()["content-type"], "application/x-ndjson");
        assert_eq!(ndjson.text().await?.lines().count(), 1);

        let (status, deleted) = json_of(http.delete(server.url("/v1/items/s1")).send().await?).await?;
        assert_eq!((status, deleted["deleted"].clone()), (200, json!(true)));
        let (status, error) = json_of(http.get(server.url("/v1/items/s1")).send().await?).await?;
        assert_eq!((status, error["kind"].clone()), (404, json!("deleted")));
        let (status, history) = json_of(http.get(server.url("/v1/items/s1/history")).send().await?).await?;
        let events: Vec<_> = history.as_array().ok_or("array")?.iter().map(|h| h["event"].clone()).collect();
        assert_eq!((status, events), (200, vec![json!("put"), json!("put"), json!("delete")]));
        let (status, error) = json_of(http.get(server.url("/v1/items/missing")).send().await?).await?;
        assert_eq!((status, error["kind"].clone()), (404, json!("not_found")));
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    assert!(server.terminate()?.success(), "SIGTERM is a clean shutdown with exit 0");
    assert!(dir.path().join("views/checkpoint.bin").exists(), "shutdown writes a checkpoint");
    Ok(())
}

#[test]
fn bad_input_gets_400_or_413_and_changes_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let bad_bodies: [(&str, Vec<u8>); 8] = [
            ("an item as an array of its fields", br#"[1, {"id": "u1"}]"#.to_vec()),
            ("a batch holding an array of fields", br#"[{"data": 1}, [2, {}]]"#.to_vec()),
            ("a batch holding a number", br#"[{"data": 1}, 3]"#.to_vec()),
            ("malformed JSON", b"{\"data\": ".to_vec()),
            ("missing data", br#"{"metadata": {}}"#.to_vec()),
            ("tags of the wrong type", br#"{"data": 1, "metadata": {"tags": "x"}}"#.to_vec()),
            ("control character in id", br#"{"data": 1, "metadata": {"id": "a\u0001b"}}"#.to_vec()),
            ("unknown top-level field", br#"{"data": 1, "extra": true}"#.to_vec()),
        ];
        for (what, body) in bad_bodies {
            let response =
                http.post(server.url("/v1/items")).header("content-type", "application/json").body(body).send().await?;
            let (status, error) = json_of(response).await?;
            assert_eq!(status, 400, "{what}: {error}");
            assert_eq!(error["kind"], json!("invalid_input"), "{what}");
        }
        let (status, _) = json_of(http.get(server.url("/v1/query?limit=ten")).send().await?).await?;
        assert_eq!(status, 400);
        let (status, _) = json_of(http.get(server.url("/v1/query?colour=red")).send().await?).await?;
        assert_eq!(status, 400, "unknown parameters are refused, not ignored");
        for (method, route) in [(reqwest::Method::PATCH, "/v1/items/x"), (reqwest::Method::GET, "/v1/admin/compact")] {
            let (status, error) = json_of(http.request(method.clone(), server.url(route)).send().await?).await?;
            assert_eq!((status, error["kind"].clone()), (405, json!("method_not_allowed")), "{method} {route}");
        }
        // tantivy's parser recurses per level: deep nesting once overflowed the stack and aborted the server.
        let nested = format!("{}fox{}", "(".repeat(400), ")".repeat(400));
        for q in [nested.as_str(), &"NOT ".repeat(2000)] {
            let encoded: String = form_urlencoded::byte_serialize(q.as_bytes()).collect();
            let response = http.get(server.url(&format!("/v1/search?q={encoded}"))).send().await?;
            let (status, error) = json_of(response).await?;
            assert_eq!((status, error["kind"].clone()), (400, json!("invalid_input")), "{error}");
        }
        let (status, _) = json_of(http.get(server.url("/healthz")).send().await?).await?;
        assert_eq!(status, 200, "the server is still up");
        let (status, error) = json_of(http.get(server.url("/v1/items/%FF")).send().await?).await?;
        assert_eq!((status, error["kind"].clone()), (400, json!("invalid_input")), "invalid UTF-8 in an id: {error}");
        let (status, error) = json_of(http.get(server.url("/v1/nowhere")).send().await?).await?;
        assert_eq!((status, error["kind"].clone()), (404, json!("not_found")));
        let huge = vec![b' '; 65 * 1024 * 1024];
        let response =
            http.post(server.url("/v1/items")).header("content-type", "application/json").body(huge).send().await;
        if let Ok(response) = response {
            assert_eq!(response.status().as_u16(), 413);
            let connection = response.headers().get("connection").and_then(|v| v.to_str().ok());
            assert_eq!(connection, Some("close"), "the unread body leaves the connection unusable");
        }
        let (_, stats) = json_of(http.get(server.url("/v1/stats")).send().await?).await?;
        assert_eq!(stats["next_offset"], json!(0), "nothing was written");
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

#[test]
fn a_json_array_is_a_batch_of_any_length() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let one = json!([{"data": 1, "metadata": {"id": "u1"}}]);
        let (status, refs) = json_of(http.post(server.url("/v1/items")).json(&one).send().await?).await?;
        assert_eq!((status, refs[0]["id"].clone(), refs.as_array().map(Vec::len)), (201, json!("u1"), Some(1)));
        let two = json!([{"data": 1, "metadata": {"id": "b1"}}, {"data": 2, "metadata": {"id": "b2"}}]);
        let (status, refs) = json_of(http.post(server.url("/v1/items")).json(&two).send().await?).await?;
        let ids: Vec<_> = refs.as_array().ok_or("array")?.iter().map(|r| r["id"].clone()).collect();
        assert_eq!((status, ids), (201, vec![json!("b1"), json!("b2")]));
        let data = http.get(server.url("/v1/items/b2")).send().await?.json::<Value>().await?;
        assert_eq!(data, json!(2));
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

#[test]
fn query_times_take_offsets_and_a_repeated_single_parameter_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        for id in ["a", "b", "c"] {
            let body = json!({"data": id, "metadata": {"type": "t"}});
            http.put(server.url(&format!("/v1/items/{id}"))).json(&body).send().await?.error_for_status()?;
        }
        let (status, hits) = json_of(http.get(server.url("/v1/query?since=@1&until=@2")).send().await?).await?;
        let ids: Vec<_> = hits.as_array().ok_or("array")?.iter().map(|h| h["id"].clone()).collect();
        assert_eq!((status, ids), (200, vec![json!("b")]), "since/until @N mean the times of those records");
        let (status, error) = json_of(http.get(server.url("/v1/query?until=@99")).send().await?).await?;
        assert_eq!((status, error["kind"].clone()), (400, json!("invalid_input")), "{error}");
        for repeated in ["/v1/query?type=t&type=u", "/v1/items/a?version=1&version=2", "/v1/search?q=a&q=b"] {
            let (status, error) = json_of(http.get(server.url(repeated)).send().await?).await?;
            assert_eq!(status, 400, "{repeated}: {error}");
            assert!(error["error"].as_str().is_some_and(|e| e.contains("more than once")), "{error}");
        }
        let (status, error) = json_of(http.get(server.url("/v1/items/a?version=99999999999999")).send().await?).await?;
        assert!(status == 400 && error["error"].as_str().is_some_and(|e| e.contains("too large")), "{error}");
        let dry_run = json!({"before": "@2", "expire": true, "dry_run": true});
        let (status, preview) =
            json_of(http.post(server.url("/v1/admin/compact")).json(&dry_run).send().await?).await?;
        assert_eq!((status, preview["records_dropped"]["expired"].clone()), (200, json!(2)), "{preview}");
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

#[test]
fn token_guards_everything_but_healthz() -> TestResult {
    let dir = tempfile::tempdir()?;
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret\n")?;
    let token_arg = token_file.to_string_lossy().to_string();
    let server = Server::start(&dir.path().join("data"), &["--token-file", &token_arg])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        assert_eq!(http.get(server.url("/healthz")).send().await?.status().as_u16(), 200);
        let (status, error) = json_of(http.get(server.url("/v1/stats")).send().await?).await?;
        assert_eq!((status, error["kind"].clone()), (401, json!("unauthorized")));
        let wrong = http.get(server.url("/v1/stats")).bearer_auth("s3cres").send().await?;
        assert_eq!(wrong.status().as_u16(), 401);
        let right = http.get(server.url("/v1/stats")).bearer_auth("s3cret").send().await?;
        assert_eq!(right.status().as_u16(), 200);
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    let refused = Command::new(env!("CARGO_BIN_EXE_recstore"))
        .arg("--data")
        .arg(dir.path().join("other"))
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()?;
    assert!(!refused.status.success(), "a non-loopback address without a token is refused at start");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("token"));
    Ok(())
}

#[test]
fn datasets_are_stored_atomically_and_read_with_data() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let body = json!({"items": [{"data": {"a": 1}, "metadata": {"type": "typeA"}}, {"data": {"a": 2}}], "info": {"note": "two"}});
        let (status, stored) = json_of(http.put(server.url("/v1/datasets/typeA_collection")).json(&body).send().await?).await?;
        assert_eq!((status, stored["version"].clone()), (201, json!(1)));
        let (_, dataset) = json_of(http.get(server.url("/v1/datasets/typeA_collection")).send().await?).await?;
        assert_eq!(dataset["info"], json!({"note": "two"}));
        let items = dataset["items"].as_array().ok_or("items")?;
        assert_eq!(items.iter().map(|i| i["data"]["a"].clone()).collect::<Vec<_>>(), [json!(1), json!(2)]);
        let (_, list) = json_of(http.get(server.url("/v1/datasets")).send().await?).await?;
        assert_eq!(list[0]["name"], json!("typeA_collection"));
        let (status, _) = json_of(http.get(server.url("/v1/datasets/typeA_collection?version=2")).send().await?).await?;
        assert_eq!(status, 404);
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

#[test]
fn a_follower_sees_every_record_in_order_and_groups_resume_after_restart() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let mut follow = http.get(server.url("/v1/log?from=0&follow=true")).send().await?;
        for i in 0..50 {
            http.post(server.url("/v1/items")).json(&json!({"data": i})).send().await?.error_for_status()?;
        }
        let mut buffer = Vec::new();
        let mut offsets = Vec::new();
        while offsets.len() < 50 {
            let chunk = follow.chunk().await?.ok_or("stream ended early")?;
            buffer.extend_from_slice(&chunk);
            while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let event: Value = serde_json::from_slice(&line)?;
                offsets.push(event["offset"].as_u64().ok_or("offset")?);
            }
        }
        assert_eq!(offsets, (0..50).collect::<Vec<u64>>(), "every record, in order, no gaps or duplicates");
        let (status, _) =
            json_of(http.post(server.url("/v1/consumers/audit/commit")).json(&json!({"offset": 30})).send().await?)
                .await?;
        assert_eq!(status, 200);
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    assert!(server.terminate()?.success());
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let (_, group) = json_of(http.get(server.url("/v1/consumers/audit")).send().await?).await?;
        assert_eq!(group["offset"], json!(30), "the commit survived the restart");
        let text = http.get(server.url("/v1/log?group=audit&limit=5")).send().await?.text().await?;
        let first: Value = serde_json::from_str(text.lines().next().ok_or("no events")?)?;
        assert_eq!(first["offset"], json!(30), "the group resumes exactly at its commit");
        // Its commit record (offset 50) is not shown to the group itself, but to others.
        let (_, _) =
            json_of(http.post(server.url("/v1/consumers/audit/commit")).json(&json!({"offset": 50})).send().await?)
                .await?;
        let own = http.get(server.url("/v1/log?group=audit")).send().await?.text().await?;
        assert_eq!(own, "", "a group does not read its own commits");
        let all = http.get(server.url("/v1/log?from=50")).send().await?.text().await?;
        assert!(all.lines().all(|l| l.contains("consumer_commit")) && all.lines().count() == 2, "{all}");
        for bad in ["/v1/log?group=audit&from=3", "/v1/log?limit=0"] {
            let (status, error) = json_of(http.get(server.url(bad)).send().await?).await?;
            assert_eq!((status, error["kind"].clone()), (400, json!("invalid_input")), "{bad}: {error}");
        }
        let response = http.post(server.url("/v1/consumers/audit/commit")).json(&json!([5])).send().await?;
        assert_eq!(json_of(response).await?.0, 400, "a commit body is an object");
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

#[test]
fn compaction_over_http_prunes_and_reports() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        for value in 0..4 {
            let body = json!({"data": {"v": value}, "metadata": {"type": "t"}});
            http.put(server.url("/v1/items/x")).json(&body).send().await?.error_for_status()?;
        }
        let (status, error) = json_of(http.post(server.url("/v1/admin/compact?dry_run=true")).send().await?).await?;
        assert_eq!(status, 400, "options as query parameters are refused, never ignored: {error}");
        let old = http.get(server.url("/v1/items/x?version=1")).send().await?.json::<Value>().await?;
        assert_eq!(old, json!({"v": 0}), "a refused compaction changes nothing");
        let dry_run = json!({"max_versions": 1, "dry_run": true});
        let (status, preview) =
            json_of(http.post(server.url("/v1/admin/compact")).json(&dry_run).send().await?).await?;
        assert_eq!((status, preview["records_dropped"]["max_versions"].clone()), (200, json!(3)), "{preview}");
        let old = http.get(server.url("/v1/items/x?version=1")).send().await?.json::<Value>().await?;
        assert_eq!(old, json!({"v": 0}), "a dry run changes nothing");
        let (status, report) =
            json_of(http.post(server.url("/v1/admin/compact")).json(&json!({"max_versions": 1})).send().await?).await?;
        assert_eq!((status, report["records_dropped"]["max_versions"].clone()), (200, json!(3)));
        let (status, error) = json_of(http.get(server.url("/v1/items/x?version=1")).send().await?).await?;
        assert_eq!((status, error["kind"].clone()), (404, json!("pruned")));
        assert!(error["error"].as_str().is_some_and(|e| e.contains("pruned")), "{error}");
        let latest = http.get(server.url("/v1/items/x")).send().await?.json::<Value>().await?;
        assert_eq!(latest, json!({"v": 3}));
        let (status, _) =
            json_of(http.post(server.url("/v1/admin/compact")).json(&json!({"max_versions": 0})).send().await?).await?;
        assert_eq!(status, 400, "a policy that would drop every version is refused");
        let both = json!({"before": "@1", "retention_days": 3, "dry_run": true});
        let (status, _) = json_of(http.post(server.url("/v1/admin/compact")).json(&both).send().await?).await?;
        assert_eq!(status, 400, "two cutoffs are refused, as on the command line");
        let metrics = http.get(server.url("/metrics")).send().await?.text().await?;
        assert!(metrics.contains("recstore_compaction_runs_total 1"), "{metrics}");
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

#[test]
fn concurrent_clients_lose_no_acknowledged_write() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let mut tasks = Vec::new();
        for writer in 0..16 {
            let (http, url) = (http.clone(), server.url("/v1/items"));
            tasks.push(tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for i in 0..20 {
                    let body = json!({"data": {"w": writer, "i": i}, "metadata": {"id": format!("w{writer}-{i}")}});
                    let response = http.post(&url).json(&body).send().await?;
                    if response.status().as_u16() == 201 {
                        acknowledged.push(format!("w{writer}-{i}"));
                    }
                }
                Ok::<_, reqwest::Error>(acknowledged)
            }));
        }
        for _reader in 0..16 {
            let (http, url) = (http.clone(), server.url("/v1/query?limit=5"));
            tasks.push(tokio::spawn(async move {
                for _ in 0..20 {
                    http.get(&url).send().await?.error_for_status()?;
                }
                Ok(Vec::new())
            }));
        }
        let mut acknowledged = Vec::new();
        for task in tasks {
            acknowledged.extend(task.await??);
        }
        assert_eq!(acknowledged.len(), 320);
        for id in acknowledged {
            let status = http.get(server.url(&format!("/v1/items/{id}"))).send().await?.status();
            assert_eq!(status.as_u16(), 200, "{id} was acknowledged and must be readable");
        }
        let metrics = http.get(server.url("/metrics")).send().await?.text().await?;
        assert!(metrics.contains("recstore_fsync_duration_seconds_count"));
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
