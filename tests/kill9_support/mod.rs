//! The SIGKILL harness the crash tests share: a copy of the running test
//! binary that runs only its `child_entry` test, whose stdout lines come
//! back over a channel, killed with SIGKILL at a moment the test picks.
//!
//! The child writes each acknowledgement as one line, with a leading newline
//! that keeps it apart from the test harness's own output. A line that the
//! kill cuts short has no final newline and is never forwarded: it
//! acknowledges nothing.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const SIGKILL: i32 = 9;

/// A running child and the complete lines it has written so far.
pub struct Child {
    process: std::process::Child,
    lines: mpsc::Receiver<String>,
    forwarder: JoinHandle<()>,
}

impl Child {
    /// Starts this test binary's `child_entry` with `envs` set.
    pub fn spawn(envs: &[(&str, String)]) -> Result<Self> {
        let mut process = Command::new(std::env::current_exe()?)
            .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
            .envs(envs.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = process.stdout.take().ok_or("the child's stdout is piped")?;
        let (line_tx, lines) = mpsc::channel();
        let forwarder = std::thread::spawn(move || forward_lines(stdout, line_tx));
        Ok(Self { process, lines, forwarder })
    }

    /// Waits (at most a minute) for a line that `wanted` accepts; returns
    /// every line up to and including it.
    pub fn wait_for(&self, wanted: impl Fn(&str) -> bool) -> Result<Vec<String>> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let line = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now()))?;
            let found = wanted(&line);
            seen.push(line);
            if found {
                return Ok(seen);
            }
        }
    }

    /// Kills the child with SIGKILL, checks that the signal is what ended
    /// it, and returns the complete lines not yet taken by `wait_for`.
    pub fn kill(mut self, round: u64) -> Result<Vec<String>> {
        self.process.kill()?;
        let status = self.process.wait()?;
        self.forwarder.join().map_err(|_| "the stdout reader panicked")?;
        assert_eq!(status.signal(), Some(SIGKILL), "round {round}: the child stopped before the kill: {status}");
        Ok(self.lines.try_iter().collect())
    }
}

fn forward_lines(stdout: std::process::ChildStdout, lines: mpsc::Sender<String>) {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if !line.ends_with('\n') => return,
            Ok(_) => {}
        }
        if lines.send(line.trim_end().to_string()).is_err() {
            return;
        }
    }
}
