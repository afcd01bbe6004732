//! Regression tests for issue 21 and issue 22 items 3-5, through the built
//! binary: CLI put/get/meta, import/export JSON Lines, datasets, the log's
//! events, and HTTP; and a real public dataset imported and exported.
//!
//! What broke: serde_json's fast float parser changed some doubles by one
//! unit in the last place (`7.8100000000000005` came back as `7.81`), `-0`
//! came back as `-0.0`, integers beyond 64 bits were rounded in silence, and
//! `put` stored JSON nested 128 deep as bytes while import and HTTP refused
//! it. Every double is compared by its bits.

mod cli_support;
mod fidelity_support;
mod server_support;

use cli_support::{Env, TestResult, arg};
use fidelity_support::{double, fidelity_document, nested_arrays, same_bits};
use serde_json::{Value, json};

/// The fidelity document as text, with literals no serializer writes: the
/// issue's decimals as the caller typed them, and `-0`.
fn document_text() -> (String, Value) {
    let doc = fidelity_document(500);
    let text =
        format!(r#"{{"doc": {doc}, "typed": [7.8100000000000005, 0.30000000000000004, -0, 2.2250738585072014e-308]}}"#);
    let expected =
        json!({"doc": doc, "typed": [double(7.8100000000000005), double(0.1 + 0.2), 0, double(f64::MIN_POSITIVE)]});
    (text, expected)
}

#[test]
fn cli_put_get_meta_and_log_keep_every_number() -> TestResult {
    let env = Env::new();
    let (text, expected) = document_text();
    let meta = format!(r#"{{"custom": {text}}}"#);
    env.put_json(&text, &["--id", "f", "--meta", &meta]);
    same_bits(&expected, &env.run(&["get", "f"]).ok().json())?;
    same_bits(&expected, &env.run(&["meta", "f"]).ok().json()["custom"])?;
    let events = env.run(&["log"]).ok().lines();
    same_bits(&expected, &events[0]["metadata"]["custom"])?;
    Ok(())
}

#[test]
fn import_export_and_datasets_keep_every_number() -> TestResult {
    let env = Env::new();
    let (text, expected) = document_text();
    let line = format!("{{\"data\": {text}, \"metadata\": {{\"id\": \"f\", \"custom\": {text}}}}}\n");
    let file = env.write_file("in.jsonl", line.as_bytes());
    env.run(&["import", arg(&file)]).ok();
    let exported = env.run(&["export", "--out", "-"]).ok().lines();
    same_bits(&expected, &exported[0]["data"])?;
    same_bits(&expected, &exported[0]["metadata"]["custom"])?;

    let info = format!(r#"{{"custom": {text}}}"#);
    env.run(&["dataset", "put", "set", arg(&file), "--info", &info]).ok();
    let dataset = env.run(&["dataset", "get", "set", "--with-data"]).ok().json();
    same_bits(&expected, &dataset["info"]["custom"])?;
    same_bits(&expected, &dataset["items"][0]["data"])?;
    Ok(())
}

#[test]
fn http_items_and_datasets_keep_every_number() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = server_support::Server::start(dir.path(), &[])?;
    let (text, expected) = document_text();
    server_support::runtime().block_on(async {
        let http = reqwest::Client::new();
        let post = |path: &str, body: String| {
            http.post(server.url(path)).header("content-type", "application/json").body(body).send()
        };
        let item = format!(r#"{{"data": {text}, "metadata": {{"id": "f", "custom": {text}}}}}"#);
        assert_eq!(post("/v1/items", item.clone()).await?.status().as_u16(), 201);
        same_bits(&expected, &http.get(server.url("/v1/items/f")).send().await?.json::<Value>().await?)?;
        let meta: Value = http.get(server.url("/v1/items/f/metadata")).send().await?.json().await?;
        same_bits(&expected, &meta["custom"])?;
        let body = format!(r#"{{"items": [{item}], "info": {text}}}"#);
        let put = http.put(server.url("/v1/datasets/set")).header("content-type", "application/json").body(body);
        assert_eq!(put.send().await?.status().as_u16(), 201);
        let dataset: Value = http.get(server.url("/v1/datasets/set")).send().await?.json().await?;
        same_bits(&expected, &dataset["info"])?;
        same_bits(&expected, &dataset["items"][0]["data"])?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}

#[test]
fn a_real_dataset_exports_value_for_value_as_imported() -> TestResult {
    // vega_datasets 0.9.0 (PyPI, MIT licence) airports.csv, public domain
    // data from ourairports.com: 3376 rows, coordinates with 8 decimals.
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/vega-airports/airports.jsonl");
    let env = Env::new();
    env.run(&["import", fixture]).ok();
    let exported = env.run(&["export", "--out", "-"]).ok().lines();
    let mut by_id = std::collections::HashMap::new();
    for line in &exported {
        by_id.insert(line["metadata"]["id"].as_str().ok_or("an id")?.to_string(), line["data"].clone());
    }
    let input = std::fs::read_to_string(fixture)?;
    for line in input.lines() {
        let row: Value = serde_json::from_str(line)?;
        let id = row["metadata"]["id"].as_str().ok_or("an id")?;
        same_bits(&row["data"], by_id.get(id).ok_or_else(|| format!("{id} was not exported"))?)
            .map_err(|e| format!("{id}: {e}"))?;
    }
    assert_eq!(exported.len(), input.lines().count());
    Ok(())
}

#[test]
fn json_deeper_than_the_limit_is_refused_on_every_cli_path() -> TestResult {
    let env = Env::new();
    let limit = recstore::limits::JSON_DEPTH_MAX;
    let (at_limit, too_deep) = (nested_arrays(limit), nested_arrays(limit + 1));
    let said = format!("{limit} levels");
    let refused = |run: cli_support::Run| {
        let run = run.expect_code(1);
        assert!(run.stderr.contains(&said), "names the limit: {}", run.stderr);
    };
    env.put_json(&at_limit, &["--id", "ok"]);
    assert_eq!(env.run(&["get", "ok"]).ok().text(), at_limit, "stored as JSON, not bytes");
    refused(env.run_with_stdin(&["put", "--id", "deep", "-"], too_deep.as_bytes()));
    refused(env.run_with_stdin(&["put", "--id", "deeper", "-"], nested_arrays(1000).as_bytes()));
    refused(env.run_with_stdin(&["put", "--meta", &format!(r#"{{"m": {too_deep}}}"#), "-"], b"1"));
    let deep_line = env.write_file("deep.jsonl", format!("{{\"data\": {too_deep}}}\n").as_bytes());
    refused(env.run(&["import", arg(&deep_line)]));
    refused(env.run(&["dataset", "put", "d", arg(&deep_line)]));
    let one_line = env.write_file("one.jsonl", b"{\"data\": 1}\n");
    refused(env.run(&["dataset", "put", "d", arg(&one_line), "--info", &too_deep]));
    let ok_line =
        env.write_file("ok.jsonl", format!("{{\"data\": {at_limit}, \"metadata\": {{\"id\": \"i\"}}}}\n").as_bytes());
    env.run(&["import", arg(&ok_line)]).ok();
    let mixed = format!("{{\"data\": {too_deep}}}\n{{\"data\": 2, \"metadata\": {{\"id\": \"kept\"}}}}\n");
    let run = env.run_with_stdin(&["import", "--skip-bad", "-"], mixed.as_bytes()).ok();
    assert!(run.stderr.contains("skipped line 1") && run.stderr.contains(&said), "{}", run.stderr);
    assert_eq!(env.run(&["get", "kept"]).ok().text(), "2", "the batch's good line is written");
    Ok(())
}

#[test]
fn json_deeper_than_the_limit_is_refused_over_http() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = server_support::Server::start(dir.path(), &[])?;
    let limit = recstore::limits::JSON_DEPTH_MAX;
    let too_deep = nested_arrays(limit + 1);
    server_support::runtime().block_on(async {
        let http = reqwest::Client::new();
        for (path, body) in [
            ("/v1/items", format!(r#"{{"data": {too_deep}}}"#)),
            ("/v1/items", format!(r#"[{{"data": 1, "metadata": {{"m": {too_deep}}}}}]"#)),
            ("/v1/items", format!(r#"{{"data": {}}}"#, nested_arrays(1000))),
        ] {
            let response = http.post(server.url(path)).header("content-type", "application/json").body(body).send();
            let (status, error) = server_support::json_of(response.await?).await?;
            assert_eq!((status, error["kind"].clone()), (400, json!("invalid_input")), "{error}");
            assert!(error["error"].as_str().unwrap_or_default().contains(&format!("{limit} levels")), "{error}");
        }
        let body = format!(r#"{{"items": [], "info": {too_deep}}}"#);
        let response = http.put(server.url("/v1/datasets/d")).header("content-type", "application/json").body(body);
        assert_eq!(response.send().await?.status().as_u16(), 400);
        let at_limit = format!(r#"{{"data": {}}}"#, nested_arrays(limit));
        let response = http.post(server.url("/v1/items")).header("content-type", "application/json").body(at_limit);
        assert_eq!(response.send().await?.status().as_u16(), 201);
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}

#[test]
fn an_integer_beyond_64_bits_is_refused_on_every_path_with_its_path() -> TestResult {
    let env = Env::new();
    let item = r#"{"a": [0, {"b": 99999999999999999999}]}"#;
    let run = env.run_with_stdin(&["put", "-"], item.as_bytes()).expect_code(1);
    assert!(run.stderr.contains("99999999999999999999") && run.stderr.contains("$.a[1].b"), "{}", run.stderr);
    let file = env.write_file("big.jsonl", format!("{{\"data\": {item}}}\n").as_bytes());
    let run = env.run(&["import", arg(&file)]).expect_code(1);
    assert!(run.stderr.contains("$.data.a[1].b"), "{}", run.stderr);

    let dir = tempfile::tempdir()?;
    let server = server_support::Server::start(dir.path(), &[])?;
    server_support::runtime().block_on(async {
        let body = format!(r#"{{"data": {item}}}"#);
        let response =
            reqwest::Client::new().post(server.url("/v1/items")).header("content-type", "application/json").body(body);
        let (status, error) = server_support::json_of(response.send().await?).await?;
        assert_eq!(status, 400);
        assert!(error["error"].as_str().unwrap_or_default().contains("$.data.a[1].b"), "{error}");
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}

#[test]
fn cli_tags_are_a_set_and_a_blank_id_is_refused() -> TestResult {
    let env = Env::new();
    let first = env.put_json("1", &["--id", "t", "--tag", "b", "--tag", "a", "--tag", "b"]);
    let again = env.put_json("1", &["--id", "t", "--tag", "a", "--tag", "b"]);
    assert_eq!(first, again, "the same tags in another order are the same version");
    assert_eq!(env.run(&["meta", "t"]).ok().json()["tags"], json!(["a", "b"]));
    let run = env.run_with_stdin(&["put", "--id", "  ", "-"], b"1").expect_code(1);
    assert!(run.stderr.contains("whitespace"), "{}", run.stderr);
    Ok(())
}
