//! Idle connections are closed (issue 6, "request and idle timeouts"): a
//! client that connects and sends nothing, or goes quiet after a keep-alive
//! request, loses its connection after `--idle-timeout-s`; a live log follow
//! that has nothing to send for longer than that is not cut.

mod server_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use server_support::{Server, TestResult, runtime};

const IDLE_TIMEOUT_S: u64 = 1;
/// How long a test waits for the server to close a connection: well past
/// the timeout, so a loaded machine does not fail it.
const CLOSE_WAIT: Duration = Duration::from_secs(20);

fn connect(server: &Server) -> Result<TcpStream, Box<dyn std::error::Error>> {
    let address = server.url("").trim_start_matches("http://").trim_end_matches('/').to_string();
    let stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(CLOSE_WAIT))?;
    Ok(stream)
}

/// Reads until the server closes the connection; what it sent before that.
fn read_until_closed(stream: &mut TcpStream) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return Ok(received),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => return Ok(received),
            Err(error) => return Err(format!("the server did not close the connection: {error}").into()),
        }
    }
}

#[test]
fn a_silent_connection_is_closed_after_the_idle_timeout() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &["--idle-timeout-s", &IDLE_TIMEOUT_S.to_string()])?;
    let mut stream = connect(&server)?;
    let started = Instant::now();
    read_until_closed(&mut stream)?;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed after {:?}, before the timeout",
        started.elapsed()
    );
    Ok(())
}

#[test]
fn a_keep_alive_connection_is_closed_once_it_goes_quiet() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &["--idle-timeout-s", &IDLE_TIMEOUT_S.to_string()])?;
    let mut stream = connect(&server)?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    let received = read_until_closed(&mut stream)?;
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200"), "the request was answered before the close: {text:?}");
    Ok(())
}

#[test]
fn a_quiet_log_follow_outlives_the_idle_timeout() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &["--idle-timeout-s", &IDLE_TIMEOUT_S.to_string()])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let mut follow = http.get(server.url("/v1/log?from=0&follow=true")).send().await?.error_for_status()?;
        tokio::time::sleep(Duration::from_secs(3 * IDLE_TIMEOUT_S)).await;
        http.post(server.url("/v1/items")).json(&json!({"data": "late"})).send().await?.error_for_status()?;
        let mut buffer = Vec::new();
        while !buffer.contains(&b'\n') {
            let chunk = follow.chunk().await?.ok_or("the follow stream was cut while idle")?;
            buffer.extend_from_slice(&chunk);
        }
        let end = buffer.iter().position(|&b| b == b'\n').ok_or("no line")?;
        let event: Value = serde_json::from_slice(&buffer[..end])?;
        assert_eq!(event["offset"], 0, "the first event after the quiet spell: {event}");
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    assert!(server.terminate()?.success(), "clean shutdown with the follow stream open");
    Ok(())
}
