//! A large query is streamed in bounded memory (issue 20, item 6). `GET
//! /v1/query?with_data=true` built every hit's JSON object in the library
//! before the first byte went out, so 200,000 hits with their data (some
//! 250 MB of JSON) took the server's resident memory up by about as much,
//! and a burst of such queries by a multiple of it. Now the matches are a
//! bitmap and each page of 64 objects is read while the body is sent, so
//! the server's peak stays under a fixed figure whatever the `limit`, and
//! after burst after burst its memory is back near where it started.
//!
//! `RECSTORE_TEST_QUERY_ITEMS` sets the number of items (200,000 unless
//! set): the import takes about 20 s and each full answer about 20 s in a
//! debug build on two cores.

mod server_support;

use std::io::Write;
use std::process::{Command, Stdio};

use server_support::{Server, TestResult, runtime};

/// Bytes of padding in each item's data: 200,000 items make an answer of
/// about 250 MB.
const PAD_BYTES: usize = 1000;
/// Peak resident memory the server may reach, its baseline included (about
/// 100 MiB for 200,000 items, mostly the views and the search index; the
/// peak measured 110 to 122 MiB). Whole answers held in memory took one
/// query to 900 MiB.
const PEAK_RSS_BYTES_MAX: u64 = 200 * 1024 * 1024;
/// How far above its baseline the server may stay after a burst: what the
/// allocator keeps for reuse, never an answer.
const RSS_AFTER_BURST_BYTES_MAX_ABOVE_BASELINE: u64 = 48 * 1024 * 1024;

fn item_count() -> Result<usize, Box<dyn std::error::Error>> {
    match std::env::var("RECSTORE_TEST_QUERY_ITEMS") {
        Ok(count) => Ok(count.parse()?),
        Err(_) => Ok(200_000),
    }
}

/// A field of `/proc/<pid>/status` (`VmHWM`: peak resident set; `VmRSS`:
/// resident set now), in bytes.
fn status_bytes(pid: u32, field: &str) -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with(field)).ok_or_else(|| format!("no {field} line"))?;
    let kib: u64 = line.split_whitespace().nth(1).ok_or("no value")?.parse()?;
    Ok(kib * 1024)
}

/// Loads `count` items with `recstore import -`, fed line by line.
fn import(dir: &std::path::Path, count: usize) -> TestResult {
    let mut child = Command::new(env!("CARGO_BIN_EXE_recstore"))
        .arg("--data")
        .arg(dir)
        .args(["import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    let mut stdin = std::io::BufWriter::new(child.stdin.take().ok_or("no stdin")?);
    let pad = "x".repeat(PAD_BYTES);
    for n in 0..count {
        writeln!(stdin, r#"{{"data":{{"n":{n},"pad":"{pad}"}},"metadata":{{"id":"i{n}","type":"bulk"}}}}"#)?;
    }
    drop(stdin);
    assert!(child.wait()?.success(), "the import succeeds");
    Ok(())
}

/// Reads a whole answer a chunk at a time; the number of objects in it
/// (each has one `"id":"i`) and its size in bytes.
async fn read_answer(http: &reqwest::Client, url: &str, ndjson: bool) -> Result<(usize, usize), reqwest::Error> {
    const NEEDLE: &[u8] = br#""id":"i"#;
    let accept = if ndjson { "application/x-ndjson" } else { "application/json" };
    let mut response = http.get(url).header("accept", accept).send().await?.error_for_status()?;
    let (mut objects, mut size_bytes) = (0, 0);
    // The end of the chunk before, so that a needle split between chunks counts once.
    let mut window: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        size_bytes += chunk.len();
        window.extend_from_slice(&chunk);
        objects += window.windows(NEEDLE.len()).filter(|w| *w == NEEDLE).count();
        window.drain(..window.len().saturating_sub(NEEDLE.len() - 1));
    }
    Ok((objects, size_bytes))
}

#[test]
fn a_query_of_every_item_with_its_data_streams_in_bounded_memory_burst_after_burst() -> TestResult {
    let count = item_count()?;
    let dir = tempfile::tempdir()?;
    import(dir.path(), count)?;
    let server = Server::start(dir.path(), &[])?;
    let url = server.url(&format!("/v1/query?with_data=true&limit={count}"));
    runtime().block_on(async {
        let http = reqwest::Client::new();
        // The baseline is the server at work but between answers: a search
        // waits until the index has taken the import (its writer's memory
        // counts), and a small query reads from every view.
        http.get(server.url("/v1/search?q=bulk")).send().await?.error_for_status()?;
        read_answer(&http, &server.url("/v1/query?with_data=true&limit=100"), false).await?;
        let baseline = status_bytes(server.pid(), "VmRSS:")?;
        println!("baseline RSS with {count} items: {} MiB", baseline / (1024 * 1024));
        let (objects, size_bytes) = read_answer(&http, &url, false).await?;
        assert_eq!(objects, count, "every item is in the JSON array");
        println!("one answer: {} MiB", size_bytes / (1024 * 1024));
        check_after_burst(server.pid(), baseline, 1)?;
        for burst in 2..=3 {
            // Two at once, one as a JSON array and one as NDJSON.
            let (array, lines) = tokio::join!(read_answer(&http, &url, false), read_answer(&http, &url, true));
            assert_eq!(array?.0, count, "every item is in the JSON array");
            assert_eq!(lines?.0, count, "every item is in the NDJSON");
            check_after_burst(server.pid(), baseline, burst)?;
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    let peak = status_bytes(server.pid(), "VmHWM:")?;
    println!("peak RSS: {} MiB", peak / (1024 * 1024));
    assert!(peak < PEAK_RSS_BYTES_MAX, "peak RSS {peak} bytes, over the budget of {PEAK_RSS_BYTES_MAX}");
    Ok(())
}

fn check_after_burst(pid: u32, baseline: u64, burst: u32) -> TestResult {
    let now = status_bytes(pid, "VmRSS:")?;
    println!("RSS after burst {burst}: {} MiB", now / (1024 * 1024));
    let allowed = baseline + RSS_AFTER_BURST_BYTES_MAX_ABOVE_BASELINE;
    assert!(now < allowed, "RSS {now} bytes after burst {burst}, over the baseline {baseline} by more than allowed");
    Ok(())
}

/// Members of the dataset of the test below, each with `DATASET_PAD_BYTES`
/// of data: an answer of about 80 MB.
const DATASET_ITEM_COUNT: usize = 20_000;
const DATASET_PAD_BYTES: usize = 4000;
/// How far the server's peak may rise above its baseline while it sends the
/// whole dataset: pages, never the answer (which is about 80 MB).
const DATASET_PEAK_RSS_BYTES_MAX_ABOVE_BASELINE: u64 = 48 * 1024 * 1024;

/// A dataset GET with its members' data streams too: it built the whole
/// object (every member with its data) before the first byte went out.
#[test]
fn a_dataset_with_its_data_streams_in_bounded_memory() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = recstore::Store::open(dir.path(), recstore::StoreOptions::default())?;
    let pad = "x".repeat(DATASET_PAD_BYTES);
    let items = (0..DATASET_ITEM_COUNT)
        .map(|n| recstore::NewItem {
            data: recstore::Data::Json(serde_json::json!({"n": n, "pad": pad})),
            metadata: recstore::Metadata { id: Some(format!("i{n}")), ..recstore::Metadata::default() },
        })
        .collect();
    store.put_dataset("big", items, serde_json::json!({"split": "train"}))?;
    store.close()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        read_answer(&http, &server.url("/v1/datasets/big?with_data=false"), false).await?;
        http.get(server.url("/v1/search?q=big")).send().await?.error_for_status()?;
        let baseline = status_bytes(server.pid(), "VmRSS:")?;
        // Resets the peak (VmHWM) to the resident set now (Linux 4.0 and later).
        std::fs::write(format!("/proc/{}/clear_refs", server.pid()), "5")?;
        let (members, size_bytes) = read_answer(&http, &server.url("/v1/datasets/big"), false).await?;
        assert_eq!(members, DATASET_ITEM_COUNT, "every member is in the answer");
        let peak = status_bytes(server.pid(), "VmHWM:")?;
        println!(
            "dataset answer: {} MiB; RSS baseline {} MiB, peak while sending {} MiB",
            size_bytes / (1024 * 1024),
            baseline / (1024 * 1024),
            peak / (1024 * 1024)
        );
        let allowed = baseline + DATASET_PEAK_RSS_BYTES_MAX_ABOVE_BASELINE;
        assert!(peak < allowed, "peak RSS {peak} bytes while sending the dataset, over {allowed}");
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
