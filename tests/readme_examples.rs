//! The README's `console` sessions, run as written: each block in a fresh
//! directory, each `$ ` line by bash with the built `recstore` first on the
//! PATH, and what it prints (stdout, then stderr) must be the lines shown
//! below it. Only what differs from run to run is masked, on both sides:
//! timestamps and durations.
//!
//! The `curl` examples of the HTTP sections (`sh` blocks that call `curl`)
//! run the same way against a server this test starts, one fresh server
//! per block, and what each prints must be the `# ` lines below it, times
//! masked (issue 22, item 10).

use std::path::Path;
use std::process::Command;

use regex::Regex;

const README: &str = include_str!("../README.md");

/// One `$ ` line of a session and the output shown for it.
#[derive(Debug)]
struct Step {
    /// Line number in README.md, for the failure message.
    line_no: usize,
    command: String,
    expected: String,
}

/// The steps of every ```` ```console ```` block, a block each.
fn console_sessions(markdown: &str) -> Vec<Vec<Step>> {
    let mut sessions = Vec::new();
    let mut current: Option<Vec<Step>> = None;
    for (index, line) in markdown.lines().enumerate() {
        match (&mut current, line.trim_end()) {
            (None, "```console") => current = Some(Vec::new()),
            (Some(_), "```") => sessions.extend(current.take()),
            (Some(steps), line) => match line.strip_prefix("$ ") {
                Some(command) => {
                    steps.push(Step { line_no: index + 1, command: command.to_owned(), expected: String::new() })
                }
                None => {
                    let step = steps.last_mut().expect("a console block starts with a `$ ` line");
                    step.expected.push_str(line);
                    step.expected.push('\n');
                }
            },
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "README.md ends inside a console block");
    sessions
}

/// Masks what differs between runs.
fn masked(text: &str) -> String {
    let timestamp = Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z").expect("a valid pattern");
    let duration = Regex::new(r"in \d+ ms").expect("a valid pattern");
    duration.replace_all(&timestamp.replace_all(text, "<time>"), "in <n> ms").into_owned()
}

fn run(step: &Step, dir: &Path, path_var: &str) -> String {
    let output = Command::new("bash")
        .args(["-c", &step.command])
        .current_dir(dir)
        .env("PATH", path_var)
        .env_remove("RECSTORE_DATA")
        .env_remove("RUST_LOG")
        .output()
        .unwrap_or_else(|e| panic!("README.md:{}: bash did not start: {e}", step.line_no));
    let mut printed = String::from_utf8_lossy(&output.stdout).into_owned();
    printed.push_str(&String::from_utf8_lossy(&output.stderr));
    printed
}

#[test]
fn the_readme_finds_its_console_sessions() {
    let sessions = console_sessions("text\n```console\n$ a\nout\n\n$ b\n```\n```sh\n$ c\n```\n");
    assert_eq!(sessions.len(), 1);
    let commands: Vec<_> = sessions[0].iter().map(|s| (s.command.as_str(), s.expected.as_str())).collect();
    assert_eq!(commands, [("a", "out\n\n"), ("b", "")]);
    assert_eq!(masked("at 2026-11-25T06:36:30.061204Z in 7 ms"), "at <time> in <n> ms");
}

#[test]
fn every_console_session_in_the_readme_prints_what_it_shows() {
    let binary_dir = Path::new(env!("CARGO_BIN_EXE_recstore")).parent().expect("the binary has a directory");
    let path_var = format!("{}:{}", binary_dir.display(), std::env::var("PATH").unwrap_or_default());
    let sessions = console_sessions(README);
    assert!(sessions.len() >= 2, "README.md should hold the command-line tour's sessions");
    let mut mismatches = Vec::new();
    for steps in &sessions {
        let dir = tempfile::tempdir().expect("a temp dir");
        for step in steps {
            let printed = run(step, dir.path(), &path_var);
            let (want, got) = (masked(step.expected.trim_end()), masked(printed.trim_end()));
            if want != got {
                mismatches
                    .push(format!("README.md:{}: $ {}\nshown:\n{want}\nprinted:\n{got}", step.line_no, step.command));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of the README's commands print otherwise:\n\n{}",
        mismatches.len(),
        mismatches.join("\n\n")
    );
}

mod server_support;

/// One shell command of a README `sh` block (continuation lines joined) and
/// the `# ` lines after it, which are its output when it is a `curl`.
#[derive(Debug)]
struct ShellStep {
    line_no: usize,
    command: String,
    expected: Vec<String>,
}

/// The `sh` blocks that call `curl`: the HTTP examples.
fn curl_blocks(markdown: &str) -> Vec<Vec<ShellStep>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<ShellStep>> = None;
    let mut continued = false;
    for (index, line) in markdown.lines().enumerate() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(steps), "```") => {
                if steps.iter().any(|s| s.command.starts_with("curl ")) {
                    blocks.push(std::mem::take(steps));
                }
                current = None;
            }
            (Some(steps), line) => {
                if continued {
                    let step = steps.last_mut().expect("a continued command");
                    step.command.push(' ');
                    step.command.push_str(line.trim().trim_end_matches('\\'));
                } else if let Some(comment) = line.strip_prefix("# ") {
                    if let Some(step) = steps.last_mut() {
                        step.expected.push(comment.to_string());
                    }
                } else if !line.trim().is_empty() {
                    let command = line.trim_end_matches('\\').trim_end().to_string();
                    steps.push(ShellStep { line_no: index + 1, command, expected: Vec::new() });
                }
                continued = line.ends_with('\\');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn every_curl_example_in_the_readme_answers_what_it_shows() {
    let blocks = curl_blocks(README);
    assert!(blocks.len() >= 2, "README.md should hold the HTTP examples: {blocks:?}");
    let mut mismatches = Vec::new();
    for steps in &blocks {
        let dir = tempfile::tempdir().expect("a temp dir");
        let server = server_support::Server::start(&dir.path().join("data"), &[]).expect("the server starts");
        let port = server.address().rsplit(':').next().expect("a port").to_string();
        for step in steps {
            let command = step.command.replace("localhost:7070", &format!("localhost:{port}"));
            let printed =
                run(&Step { line_no: step.line_no, command, expected: String::new() }, dir.path(), "/usr/bin:/bin");
            if !step.command.starts_with("curl ") && step.expected.is_empty() {
                continue;
            }
            let (want, got) = (masked(&step.expected.join("\n")), masked(printed.trim_end()));
            if want != got {
                mismatches
                    .push(format!("README.md:{}: {}\nshown:\n{want}\nanswered:\n{got}", step.line_no, step.command));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} curl examples answer otherwise:\n\n{}",
        mismatches.len(),
        mismatches.join("\n\n")
    );
}
