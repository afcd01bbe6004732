//! Runs the built `recstore serve` on an ephemeral loopback port, for the
//! `tests/server_*.rs` end-to-end tests.

#![allow(dead_code, reason = "each test binary uses a different part of this helper")]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    base: String,
}

impl Server {
    /// Starts `recstore --data DIR serve` with `extra` arguments and waits
    /// until it announces its address.
    pub fn start(dir: &Path, extra: &[&str]) -> Result<Self, Box<dyn std::error::Error>> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_recstore"))
            .arg("--data")
            .arg(dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let base =
            line.trim().strip_prefix("recstore listening on ").ok_or_else(|| format!("unexpected line {line:?}"))?;
        Ok(Self { base: base.to_string(), child })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `127.0.0.1:PORT`, for raw sockets and `Host` headers.
    pub fn address(&self) -> &str {
        self.base.trim_start_matches("http://").trim_end_matches('/')
    }

    /// The child's process id, for signals and `/proc/<pid>/status`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`TERM`, `INT`, `HUP`) to the server.
    pub fn signal(&self, signal: &str) -> Result<(), Box<dyn std::error::Error>> {
        Command::new("kill").args([&format!("-{signal}"), &self.child.id().to_string()]).status()?;
        Ok(())
    }

    /// Waits for the server to exit; its exit status.
    pub fn wait(mut self) -> Result<std::process::ExitStatus, Box<dyn std::error::Error>> {
        Ok(self.child.wait()?)
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> Result<std::process::ExitStatus, Box<dyn std::error::Error>> {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status()?;
        Ok(self.child.wait()?)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime")
}

/// Sends `request` exactly as given on a new connection (which it should
/// end with `Connection: close`) and returns everything the server sent
/// until it closed: the status line, headers and body.
pub fn raw_exchange(address: &str, request: &[u8]) -> Result<String, Box<dyn std::error::Error>> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(60)))?;
    stream.write_all(request)?;
    let mut received = Vec::new();
    stream.read_to_end(&mut received)?;
    Ok(String::from_utf8_lossy(&received).into_owned())
}

/// The status code of a raw HTTP/1.1 response.
pub fn raw_status(response: &str) -> Option<u16> {
    response.split(' ').nth(1)?.parse().ok()
}

/// The JSON body of a raw response that is not chunked.
pub fn raw_json(response: &str) -> Result<Value, Box<dyn std::error::Error>> {
    let (_, body) = response.split_once("\r\n\r\n").ok_or("no end of headers")?;
    Ok(serde_json::from_str(body)?)
}

/// The status and the JSON body of a response.
pub async fn json_of(response: reqwest::Response) -> Result<(u16, Value), Box<dyn std::error::Error>> {
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}
