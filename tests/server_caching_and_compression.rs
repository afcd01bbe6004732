//! Item GETs carry an ETag naming their record, answer `If-None-Match` with
//! 304, and a fixed version may be cached for ever; large answers go
//! compressed to a client that asks, but never the live log (issue 26).

mod server_support;

use std::io::Read;

use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, ETAG, IF_NONE_MATCH};
use serde_json::{Value, json};
use server_support::{Server, TestResult, runtime};

#[test]
fn item_gets_answer_if_none_match_with_304_and_fixed_versions_are_immutable() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        for n in 0..2 {
            let body = json!({"data": {"n": n}, "metadata": {"id": "x"}});
            http.put(server.url("/v1/items/x")).json(&body).send().await?.error_for_status()?;
        }
        let first = http.get(server.url("/v1/items/x?version=1")).send().await?;
        let etag = first.headers().get(ETAG).ok_or("an ETag")?.clone();
        assert_eq!(etag, "\"o0\"", "the ETag names the record's offset");
        assert!(first.headers().get(CACHE_CONTROL).is_some_and(|v| v.to_str().is_ok_and(|v| v.contains("immutable"))));
        let again = http.get(server.url("/v1/items/x?version=1")).header(IF_NONE_MATCH, etag.clone()).send().await?;
        assert_eq!(again.status(), 304);
        assert_eq!(again.headers().get(ETAG), Some(&etag));
        assert!(again.bytes().await?.is_empty(), "a 304 has no body");

        let latest = http.get(server.url("/v1/items/x")).send().await?;
        assert_eq!(latest.headers().get(ETAG).ok_or("an ETag")?, "\"o1\"");
        assert_eq!(latest.headers().get(CACHE_CONTROL).ok_or("Cache-Control")?, "no-cache", "the latest may move on");
        let stale = http.get(server.url("/v1/items/x")).header(IF_NONE_MATCH, "W/\"o0\", \"o7\"").send().await?;
        assert_eq!(stale.status(), 200, "an old ETag gets the new version");
        assert_eq!(stale.json::<Value>().await?, json!({"n": 1}));
        Ok(())
    })
}

#[test]
fn large_answers_are_compressed_on_request_and_the_log_is_not() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let items: Vec<Value> = (0..200)
            .map(|n| json!({"data": {"n": n}, "metadata": {"type": "reading", "tags": ["raw_data"]}}))
            .collect();
        http.post(server.url("/v1/items")).json(&items).send().await?.error_for_status()?;

        let plain = http.get(server.url("/v1/query?type=reading")).send().await?;
        assert!(plain.headers().get(CONTENT_ENCODING).is_none(), "no compression unless asked");
        let plain: Value = plain.json().await?;
        let gzipped = http.get(server.url("/v1/query?type=reading")).header(ACCEPT_ENCODING, "gzip").send().await?;
        assert_eq!(gzipped.headers().get(CONTENT_ENCODING).ok_or("Content-Encoding")?, "gzip");
        let compressed = gzipped.bytes().await?;
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(&compressed[..]).read_to_end(&mut text)?;
        assert!(compressed.len() < text.len() / 2, "{} of {} bytes", compressed.len(), text.len());
        assert_eq!(serde_json::from_slice::<Value>(&text)?, plain);
        let zstd = http.get(server.url("/v1/query?type=reading")).header(ACCEPT_ENCODING, "zstd").send().await?;
        assert_eq!(zstd.headers().get(CONTENT_ENCODING).ok_or("Content-Encoding")?, "zstd");

        let log = http.get(server.url("/v1/log?from=0")).header(ACCEPT_ENCODING, "gzip").send().await?;
        assert!(log.headers().get(CONTENT_ENCODING).is_none(), "the log streams uncompressed");
        Ok(())
    })
}
