//! The token file and the `Authorization` header (issue 20, items 7 and 9,
//! and the token rotation of "Operations"). A non-ASCII or two-line token
//! file was accepted at start although no header could ever match it,
//! `--token-file /dev/zero` grew memory without bound, a world-readable
//! file gave no warning, `bearer` in lower case was refused, and changing
//! the token needed a restart. Now the file is checked at start (size,
//! characters), a world-readable one is warned about, the scheme is
//! case-insensitive, and SIGHUP reads the file again.

mod server_support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use server_support::{Server, TestResult, runtime};

fn private_token_file(path: &Path, token: &str) -> TestResult {
    std::fs::write(path, token)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

fn serve_refused(dir: &Path, token_file: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let output = Command::new(env!("CARGO_BIN_EXE_recstore"))
        .arg("--data")
        .arg(dir.join("data"))
        .args(["serve", "--listen", "127.0.0.1:0", "--token-file"])
        .arg(token_file)
        .stdin(Stdio::null())
        .output()?;
    assert!(!output.status.success(), "the server started with {}", token_file.display());
    Ok(String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_token_file_no_header_could_match_is_refused_at_start() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("token");
    for (content, expected) in [("sécret\n", "byte 1"), ("one\ntwo\n", "byte 3"), ("with space", "byte 4")] {
        private_token_file(&file, content)?;
        let stderr = serve_refused(dir.path(), &file)?;
        assert!(stderr.contains("visible ASCII") && stderr.contains(expected), "{content:?}: {stderr}");
    }
    let stderr = serve_refused(dir.path(), Path::new("/dev/zero"))?;
    assert!(stderr.contains("over 4096 bytes"), "/dev/zero is refused, not read for ever: {stderr}");
    Ok(())
}

#[test]
fn a_world_readable_token_file_is_warned_about() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("token");
    std::fs::write(&file, "s3cret\n")?;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_recstore"))
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(["serve", "--listen", "127.0.0.1:0", "--token-file"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let warned = BufReader::new(stderr).lines().take(20).map_while(Result::ok).any(|l| l.contains("chmod 600"));
    child.kill()?;
    child.wait()?;
    assert!(warned, "a world-readable token file is warned about on stderr");
    Ok(())
}

#[test]
fn the_scheme_is_case_insensitive_and_sighup_rotates_the_token() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("token");
    private_token_file(&file, "old-token\n")?;
    let server = Server::start(&dir.path().join("data"), &["--token-file", &file.to_string_lossy()])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let status = |authorization: &'static str| {
            let request = http.get(server.url("/v1/stats")).header("authorization", authorization);
            async move { Ok::<_, reqwest::Error>(request.send().await?.status().as_u16()) }
        };
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let header = format!("{scheme} old-token").leak();
            assert_eq!(status(header).await?, 200, "{scheme}");
        }
        private_token_file(&file, "new-token\n")?;
        server.signal("HUP")?;
        let started = Instant::now();
        while status("Bearer new-token").await? != 200 {
            assert!(started.elapsed() < Duration::from_secs(60), "SIGHUP did not put the new token in force");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(status("Bearer old-token").await?, 401, "the old token is no longer accepted");

        // A broken file on SIGHUP keeps the token in force.
        private_token_file(&file, "two\nlines\n")?;
        server.signal("HUP")?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(status("Bearer new-token").await?, 200, "a bad file leaves the token in force");
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    assert!(server.terminate()?.success());
    Ok(())
}
