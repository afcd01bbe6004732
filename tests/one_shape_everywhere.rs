//! One JSON shape for an item version on every surface (issue 26): the
//! library's `ItemMeta`, `recstore meta`, `recstore query`, `recstore log`,
//! `GET /v1/items/{id}/metadata`, `GET /v1/query` and a dataset's items all
//! give the same object, with `type`, `source_id`, `tags` and `parents`
//! present when empty. Before, HTTP left the empty ones out while the CLI
//! filled them in, and log events carried a shorter object of their own.

mod cli_support;
mod server_support;

use cli_support::Env;
use recstore::{Store, StoreOptions};
use serde_json::{Value, json};
use server_support::{Server, TestResult, runtime};

#[test]
fn library_cli_http_and_log_events_agree_on_an_item_versions_metadata() -> TestResult {
    let env = Env::new();
    env.put_json(r#"{"bare": true}"#, &["--id", "bare"]);
    env.put_json(r#"{"full": true}"#, &["--id", "full", "--type", "t", "--tag", "k", "--meta", r#"{"site": "lab"}"#]);
    let items = env.write_file("items.jsonl", br#"{"data": {"d": 1}, "metadata": {"id": "member"}}"#);
    env.run(&["dataset", "put", "ds", cli_support::arg(&items)]).ok();

    let library: Vec<Value> = {
        let store = Store::open(env.data(), StoreOptions::default().read_only(true))?;
        ["bare", "full", "member"]
            .iter()
            .map(|id| Ok(serde_json::to_value(store.metadata(id, None)?)?))
            .collect::<Result<_, Box<dyn std::error::Error>>>()?
    };
    let bare = &library[0];
    for key in ["type", "source_id"] {
        assert_eq!(bare[key], Value::Null, "{key} is present and null: {bare}");
    }
    for key in ["tags", "parents"] {
        assert_eq!(bare[key], json!([]), "{key} is present and empty: {bare}");
    }
    let cli_meta: Vec<Value> = ["bare", "full", "member"].iter().map(|id| env.run(&["meta", id]).ok().json()).collect();
    assert_eq!(cli_meta, library, "recstore meta");
    let cli_query = env.run(&["query"]).ok().lines();
    assert_eq!(cli_query, library, "recstore query");
    let events = env.run(&["log", "--from", "0"]).ok().lines();
    let event_meta: Vec<Value> = events.iter().filter(|e| e["kind"] == "put").map(|e| e["metadata"].clone()).collect();
    assert_eq!(event_meta, library, "recstore log");
    let cli_dataset = env.run(&["dataset", "get", "ds", "--with-data"]).ok().json();

    let server = Server::start(&env.data(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        for (id, expected) in ["bare", "full", "member"].iter().zip(&library) {
            let got: Value = http.get(server.url(&format!("/v1/items/{id}/metadata"))).send().await?.json().await?;
            assert_eq!(&got, expected, "GET /v1/items/{id}/metadata");
        }
        let query: Value = http.get(server.url("/v1/query")).send().await?.json().await?;
        assert_eq!(query, Value::Array(library.clone()), "GET /v1/query");
        let dataset: Value = http.get(server.url("/v1/datasets/ds")).send().await?.json().await?;
        assert_eq!(dataset, cli_dataset, "GET /v1/datasets/ds and recstore dataset get --with-data");
        Ok(())
    })
}

/// `GET /v1/query?with_data=true` answers the objects `recstore query
/// --with-data` prints: the old store's `retrieve_by_query` returned data
/// with each hit, and over HTTP there was no way to ask for it.
#[test]
fn query_with_data_is_the_same_over_http_and_the_cli() -> TestResult {
    let env = Env::new();
    env.put_json(r#"{"reading": 21.5}"#, &["--id", "json", "--type", "t"]);
    let bytes = env.write_file("frame.bin", b"\x89PNG\x00\xff");
    env.run(&["put", "--id", "bytes", "--type", "t", "--content-type", "image/png", cli_support::arg(&bytes)]).ok();
    let cli = Value::Array(env.run(&["query", "--type", "t", "--with-data"]).ok().lines());
    assert_eq!(cli[0]["data"], json!({"reading": 21.5}), "{cli}");
    assert_eq!(cli[1]["data_base64"], json!("iVBORwD/"), "{cli}");

    let server = Server::start(&env.data(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let answer: Value = http.get(server.url("/v1/query?type=t&with_data=true")).send().await?.json().await?;
        assert_eq!(answer, cli, "GET /v1/query?with_data=true");
        let refused = http.get(server.url("/v1/query?with_data=true&ids_only=true")).send().await?;
        assert_eq!(refused.status(), 400);
        Ok(())
    })
}

/// A dataset GET gives its members' data unless `with_data=false`, which
/// answers what `recstore dataset get` prints without `--with-data`.
#[test]
fn dataset_gets_take_with_data_as_the_cli_does() -> TestResult {
    let env = Env::new();
    let items = env.write_file("items.jsonl", br#"{"data": {"d": 1}, "metadata": {"id": "member"}}"#);
    env.run(&["dataset", "put", "ds", cli_support::arg(&items)]).ok();
    let with_data = env.run(&["dataset", "get", "ds", "--with-data"]).ok().json();
    let without = env.run(&["dataset", "get", "ds"]).ok().json();
    assert_ne!(with_data, without);

    let server = Server::start(&env.data(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let get = |query: &'static str| {
            let url = server.url(&format!("/v1/datasets/ds{query}"));
            let http = http.clone();
            async move { http.get(url).send().await?.json::<Value>().await }
        };
        assert_eq!(get("").await?, with_data, "data by default");
        assert_eq!(get("?with_data=true").await?, with_data);
        assert_eq!(get("?with_data=false").await?, without);
        Ok(())
    })
}
