//! The server after a failed write. The first failed write answered 500,
//! later ones 503 "reopen the store" until a restart, even after the disk
//! had space again, while `/healthz` kept saying ok; SIGTERM then exited 1.
//! Now every refused write answers 503 with kind `unavailable` and the
//! cause, `/healthz` answers 503 while writes are refused, the log is
//! recovered in place once the disk takes writes again, and SIGTERM exits 0.
//!
//! The full disk is real: the server runs with a file size limit
//! (RLIMIT_FSIZE, SIGXFSZ ignored), so its writes past 64 KiB fail with
//! EFBIG, and `prlimit --pid` lifts the limit while it runs.

mod server_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use server_support::{TestResult, json_of, runtime};

const FILE_SIZE_LIMIT_BYTES: u64 = 64 * 1024;

struct Limited {
    child: Child,
    base: String,
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An append-only file beside `data` holding more than the size limit.
fn stderr_past_the_limit(data: &std::path::Path) -> Result<std::fs::File, Box<dyn std::error::Error>> {
    let path = data.with_extension("stderr");
    std::fs::write(&path, vec![b'#'; 2 * FILE_SIZE_LIMIT_BYTES as usize])?;
    Ok(std::fs::OpenOptions::new().append(true).open(path)?)
}

fn start_limited(data: &std::path::Path) -> Result<Limited, Box<dyn std::error::Error>> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; exec prlimit --fsize={FILE_SIZE_LIMIT_BYTES}:unlimited -- \"$0\" --data \"$1\" serve --listen 127.0.0.1:0"
        ))
        .arg(env!("CARGO_BIN_EXE_recstore"))
        .arg(data)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        // A file already past the size limit: every log line the server
        // writes fails, as on a full disk, and must not fail its requests
        // (tracing's report of the failure panicked them into 500s).
        .stderr(Stdio::from(stderr_past_the_limit(data)?))
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let base = line.trim().strip_prefix("recstore listening on ").ok_or_else(|| format!("unexpected {line:?}"))?;
    Ok(Limited { base: base.to_string(), child })
}

#[test]
fn a_full_disk_refuses_writes_with_503_until_space_returns_then_writes_resume_without_a_restart() -> TestResult {
    if Command::new("prlimit").arg("--version").output().is_err() {
        eprintln!("skipped: prlimit (util-linux) is not installed, and it is what fills the disk");
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let server = start_limited(&data)?;
    let url = |path: &str| format!("{}{path}", server.base);
    runtime().block_on(async {
        let http = reqwest::Client::new();
        // Letters from a xorshift generator: puts are compressed, and a
        // repeated pad would shrink to nothing and never reach the limit.
        let body = |i: usize| {
            let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ i as u64;
            let pad: String = (0..2000)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    char::from(b'a' + (state % 26) as u8)
                })
                .collect();
            serde_json::json!({"data": {"i": i, "pad": pad}})
        };
        let mut acknowledged = Vec::new();
        let mut refusals = 0;
        let mut healthz_refused = false;
        for i in 0..200 {
            let response = http.put(url(&format!("/v1/items/k{i}"))).json(&body(i)).send().await?;
            let (status, answer) = json_of(response).await?;
            if status < 300 {
                assert_eq!(refusals, 0, "no write succeeds while the limit holds");
                acknowledged.push(i);
                continue;
            }
            assert_eq!(status, 503, "a refused write is 503 from the first on: {answer}");
            assert_eq!(answer["kind"], "unavailable", "{answer}");
            let message = answer["error"].as_str().unwrap_or_default().to_string();
            assert!(message.contains("File too large") || message.contains("os error 27"), "the cause: {message}");
            refusals += 1;
            let (health, _) = json_of(http.get(url("/healthz")).send().await?).await?;
            healthz_refused |= health == 503;
            let (read, _) = json_of(http.get(url("/v1/items/k0")).send().await?).await?;
            assert_eq!(read, 200, "reads keep working while writes are refused");
            if refusals == 5 {
                break;
            }
        }
        assert!(refusals == 5 && acknowledged.len() > 5, "the limit was reached after some writes");
        assert!(healthz_refused, "/healthz answered 503 right after a refused write");

        let raised =
            Command::new("prlimit").args(["--pid", &server.child.id().to_string(), "--fsize=unlimited"]).status()?;
        assert!(raised.success(), "prlimit lifts the limit");
        let mut resumed = None;
        for attempt in 0..100 {
            let response = http.put(url("/v1/items/after")).json(&body(attempt)).send().await?;
            if response.status().is_success() {
                resumed = Some(attempt);
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(resumed.is_some(), "writes resume without a restart once the disk takes them");
        let (health, _) = json_of(http.get(url("/healthz")).send().await?).await?;
        assert_eq!(health, 200);
        for i in &acknowledged {
            let (status, item) = json_of(http.get(url(&format!("/v1/items/k{i}"))).send().await?).await?;
            assert_eq!((status, item["i"].as_u64()), (200, Some(*i as u64)), "acknowledged write k{i} is there");
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    let mut server = server;
    Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status()?;
    let status = server.child.wait()?;
    assert_eq!(status.code(), Some(0), "SIGTERM after a write failure exits 0");
    let verify = Command::new(env!("CARGO_BIN_EXE_recstore")).arg("--data").arg(&data).arg("verify").output()?;
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    Ok(())
}
