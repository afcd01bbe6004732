//! Shutdown that always ends (issue 20, item 2). SIGTERM waited for every
//! connection to finish its response, so a log follower whose socket was
//! full, a client reading a large answer slowly, or a compaction whose body
//! never came kept the server running until SIGKILL; a second signal was
//! ignored. Now the listener closes at once, in-flight requests get
//! `--shutdown-grace-s`, and then the server checkpoints and exits 0; a
//! second signal exits at once. The tests assert the exit status, never how
//! fast it came: `EXIT_WAIT` only keeps a broken build from hanging CI.

mod server_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use serde_json::json;
use server_support::{Server, TestResult, runtime};

/// Far beyond the one-second grace the tests give.
const EXIT_WAIT: Duration = Duration::from_secs(120);

/// Waits for the server to exit, failing (and killing it) after `EXIT_WAIT`.
fn exit_status(server: Server) -> Result<ExitStatus, Box<dyn std::error::Error>> {
    let pid = server.pid();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(server.wait().map_err(|e| e.to_string()));
    });
    match receiver.recv_timeout(EXIT_WAIT) {
        Ok(status) => Ok(status?),
        Err(_) => {
            std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status()?;
            Err(format!("the server was still running {EXIT_WAIT:?} after SIGTERM").into())
        }
    }
}

/// Items whose events are large, so that a follower's socket fills up.
fn write_large_items(server: &Server, count: usize) -> TestResult {
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let padding = "word ".repeat(52_000);
        for n in 0..count {
            let item = json!({"data": {"n": n}, "metadata": {"id": format!("i{n}"), "note": padding}});
            http.post(server.url("/v1/items")).json(&item).send().await?.error_for_status()?;
        }
        Ok(())
    })
}

fn send(server: &Server, request: &str) -> Result<TcpStream, Box<dyn std::error::Error>> {
    let mut stream = TcpStream::connect(server.address())?;
    stream.write_all(request.as_bytes())?;
    Ok(stream)
}

#[test]
fn sigterm_ends_with_a_follower_that_never_reads() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &["--shutdown-grace-s", "1"])?;
    let _follower = send(&server, "GET /v1/log?from=0&follow=true HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    // About 16 MB of events: far more than the socket buffers hold.
    write_large_items(&server, 64)?;
    server.signal("TERM")?;
    assert!(exit_status(server)?.success(), "SIGTERM exits 0 although the follower never read");
    Ok(())
}

#[test]
fn sigterm_ends_with_a_slow_reader_of_a_large_answer() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &["--shutdown-grace-s", "1"])?;
    write_large_items(&server, 64)?;
    let mut reader = send(&server, "GET /v1/query?limit=1000 HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    let mut first = [0u8; 16];
    reader.read_exact(&mut first)?;
    assert!(first.starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&first));
    // A reader that takes a byte a second would need months for the rest.
    let slow = std::thread::spawn(move || {
        let mut byte = [0u8; 1];
        while matches!(reader.read(&mut byte), Ok(1)) {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    server.signal("TERM")?;
    assert!(exit_status(server)?.success(), "SIGTERM exits 0 although the reader is slow");
    drop(slow);
    Ok(())
}

#[test]
fn sigterm_ends_with_a_compaction_whose_body_never_comes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &["--shutdown-grace-s", "1"])?;
    let request = "POST /v1/admin/compact HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                   Content-Length: 100\r\n\r\n{";
    let _waiting = send(&server, request)?;
    // The server has the request once it answers another one after it.
    runtime().block_on(async { reqwest::get(server.url("/healthz")).await?.error_for_status() })?;
    server.signal("TERM")?;
    assert!(exit_status(server)?.success(), "SIGTERM exits 0 although the body never came");
    Ok(())
}

#[test]
fn a_second_signal_exits_at_once_and_new_connections_are_refused_meanwhile() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &["--shutdown-grace-s", "3600"])?;
    runtime().block_on(async {
        let item = json!({"data": 1, "metadata": {"id": "kept"}});
        reqwest::Client::new().post(server.url("/v1/items")).json(&item).send().await?.error_for_status()
    })?;
    let request = "POST /v1/admin/compact HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                   Content-Length: 100\r\n\r\n{";
    let _waiting = send(&server, request)?;
    runtime().block_on(async { reqwest::get(server.url("/healthz")).await?.error_for_status() })?;
    server.signal("TERM")?;
    let started = Instant::now();
    while TcpStream::connect(server.address()).is_ok() {
        assert!(started.elapsed() < EXIT_WAIT, "the listener stayed open after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    server.signal("INT")?;
    let status = exit_status(server)?;
    assert_eq!(status.code(), Some(1), "a second signal exits at once, with 1: {status}");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_recstore"))
        .arg("--data")
        .arg(dir.path())
        .args(["get", "kept"])
        .output()?;
    assert!(output.status.success(), "the acknowledged write survived: {output:?}");
    Ok(())
}
