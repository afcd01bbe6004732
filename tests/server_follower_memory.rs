//! A slow log follower is bounded in bytes (issue 20, item 5). A
//! subscription buffered up to 1,024 events whatever their size, so ten
//! followers that never read, and 600 items with 400 KB of metadata, took
//! the server to 2.3 GB. Now what a follower has not taken is bounded by
//! `FOLLOWER_BUFFER_BYTES_MAX` (8 MiB, plus one batch of the same size);
//! the rest stays in the log and is read from the follower's offset when it
//! reads again, so it still gets every event, in order.

mod server_support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};
use server_support::{Server, TestResult, runtime};

const FOLLOWERS: usize = 5;
const ITEMS: usize = 200;
const METADATA_BYTES: usize = 400 * 1024;
/// Peak resident memory the server may reach. Without the byte budget each
/// follower held all 80 MB of events (5 x 80 MB over the baseline); with
/// it, at most 16 MiB each.
const PEAK_RSS_BYTES_MAX: u64 = 300 * 1024 * 1024;

/// `VmHWM` (peak resident set) of a process, in bytes.
fn peak_rss_bytes(pid: u32) -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).ok_or("no VmHWM line")?;
    let kib: u64 = line.split_whitespace().nth(1).ok_or("no VmHWM value")?.parse()?;
    Ok(kib * 1024)
}

#[test]
fn followers_that_do_not_read_hold_a_bounded_number_of_bytes_and_miss_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    let mut followers = Vec::new();
    for _ in 0..FOLLOWERS {
        let mut stream = TcpStream::connect(server.address())?;
        stream.write_all(b"GET /v1/log?from=0&follow=true HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
        followers.push(stream);
    }
    runtime().block_on(async {
        let http = reqwest::Client::new();
        // Words, so that the search index takes it as text, not one token.
        let note: String = (0..METADATA_BYTES / 8).map(|n| format!("w{:06} ", n % 1_000_000)).collect();
        for n in 0..ITEMS {
            let item = json!({"data": n, "metadata": {"id": format!("i{n}"), "note": note}});
            http.post(server.url("/v1/items")).json(&item).send().await?.error_for_status()?;
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    // Give the followers' readers time to fill whatever they may hold.
    std::thread::sleep(Duration::from_secs(3));
    let peak = peak_rss_bytes(server.pid())?;
    println!("peak RSS with {FOLLOWERS} followers that do not read: {} MiB", peak / (1024 * 1024));
    assert!(peak < PEAK_RSS_BYTES_MAX, "peak RSS {peak} bytes, over the budget of {PEAK_RSS_BYTES_MAX}");

    // A follower that starts reading now gets every event, in order.
    let reader = followers.pop().ok_or("a follower")?;
    reader.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut lines = BufReader::new(reader).lines();
    let mut expected_offset = 0;
    while expected_offset < ITEMS as u64 {
        let line = lines.next().ok_or("the stream ended")??;
        if let Ok(event) = serde_json::from_str::<Value>(line.trim_start_matches(|c: char| c.is_ascii_hexdigit())) {
            assert_eq!(event["offset"], json!(expected_offset), "events in order, none missed");
            expected_offset += 1;
        }
    }
    Ok(())
}
