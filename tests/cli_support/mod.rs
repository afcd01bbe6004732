//! Runs the built `recstore` binary against a data directory in a temp dir,
//! for the `tests/cli_*.rs` end-to-end tests.

#![allow(dead_code, reason = "each test binary uses a different part of this helper")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A temp dir holding a data directory (not created until a write).
pub struct Env {
    pub dir: tempfile::TempDir,
}

/// What a finished run printed, and its exit code.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The stdout as one JSON value.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.text()))
    }

    /// The stdout as NDJSON.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("line is not JSON ({e}): {line}")))
            .collect()
    }

    /// Panics with the whole output unless the exit code is `code`.
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(self.code, code, "exit code; stdout: {}; stderr: {}", self.text(), self.stderr);
        self
    }

    pub fn ok(self) -> Self {
        self.expect_code(0)
    }
}

impl Env {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("a temp dir") }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The binary with `--data` set and the environment made predictable.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_recstore"));
        command.arg("--data").arg(self.data()).args(args);
        command.env_remove("RECSTORE_DATA").env_remove("RUST_LOG").env("CI", "true");
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, b"")
    }

    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the recstore binary starts");
        let mut stdin = child.stdin.take().expect("piped stdin");
        let input = input.to_vec();
        let feeder = std::thread::spawn(move || stdin.write_all(&input));
        let output = child.wait_with_output().expect("the recstore binary runs");
        // A command that does not read stdin closes it early; that is fine.
        let _ = feeder.join();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `put` of JSON text from stdin with extra flags; returns (id, version, offset).
    pub fn put_json(&self, json: &str, flags: &[&str]) -> (String, u32, u64) {
        let mut args = vec!["put"];
        args.extend_from_slice(flags);
        args.push("-");
        let run = self.run_with_stdin(&args, json.as_bytes()).ok();
        let text = run.text();
        let fields: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(fields.len(), 3, "put prints `ID VERSION OFFSET`, got {text:?}");
        (fields[0].to_string(), fields[1].parse().expect("a version"), fields[2].parse().expect("an offset"))
    }

    pub fn write_file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).expect("a temp file is writable");
        path
    }
}

/// A path as a command-line argument.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}
