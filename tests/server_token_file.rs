//! The token file and the `Authorization` header (issue 20, items 7 and 9,
//! and the token rotation of "Operations"). A non-ASCII or two-line token
//! file was accepted at start although no header could ever match it,
//! `--token-file /dev/zero` grew memory without bound, a world-readable
//! file gave no warning, `bearer` in lower case was refused, and changing
//! the token needed a restart. Now the file is checked at start (size,
//! characters), a world-readable one is warned about, the scheme is
//! case-insensitive, and SIGHUP reads the file again. A rotation also cut
//! off every client still on the old token at the SIGHUP: now the file
//! holds one token a line, all accepted, so old and new overlap.

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
    let cases = [("sécret\n", "line 1: byte 1"), ("good\nwith space\n", "line 2: byte 9"), ("# none\n\n", "no token")];
    for (content, expected) in cases {
        private_token_file(&file, content)?;
        let stderr = serve_refused(dir.path(), &file)?;
        assert!(stderr.contains(expected), "{content:?}: {stderr}");
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
        private_token_file(&file, "two words\n")?;
        server.signal("HUP")?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(status("Bearer new-token").await?, 200, "a bad file leaves the token in force");
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    assert!(server.terminate()?.success());
    Ok(())
}

/// Both tokens of a two-line file are accepted, so an operator can add the
/// new token, move clients at their pace, then remove the old one; each
/// step takes effect on SIGHUP, and no request fails in between.
#[test]
fn a_rotation_overlaps_while_the_file_holds_the_old_and_the_new_token() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("token");
    private_token_file(&file, "old-token\n")?;
    let server = Server::start(&dir.path().join("data"), &["--token-file", &file.to_string_lossy()])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let status = |token: &'static str| {
            let request = http.get(server.url("/v1/stats")).bearer_auth(token);
            async move { Ok::<_, reqwest::Error>(request.send().await?.status().as_u16()) }
        };
        let wait_until = |token: &'static str, expected: u16| async move {
            let started = Instant::now();
            while status(token).await? != expected {
                assert!(started.elapsed() < Duration::from_secs(60), "SIGHUP did not take effect for {token}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok::<_, Box<dyn std::error::Error>>(())
        };
        assert_eq!(status("new-token").await?, 401, "the new token is not in force before it is added");

        private_token_file(&file, "old-token\n# added for the rotation\nnew-token\n")?;
        server.signal("HUP")?;
        wait_until("new-token", 200).await?;
        assert_eq!(status("old-token").await?, 200, "the old token still works during the overlap");
        assert_eq!(status("other-token").await?, 401, "a token in neither line is refused");

        private_token_file(&file, "new-token\n")?;
        server.signal("HUP")?;
        wait_until("old-token", 401).await?;
        assert_eq!(status("new-token").await?, 200, "the new token goes on working");
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    assert!(server.terminate()?.success());
    Ok(())
}
