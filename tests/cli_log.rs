//! End to end through the `recstore` binary: `log` events and their shapes,
//! `log --follow` receiving a record another process writes after it
//! started, `log --group` resuming after its commit across runs, and
//! `verify` finding and repairing corruption (exit code 4).

mod cli_support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use cli_support::{Env, TestResult};
use recstore::{Data, Metadata, Store, StoreOptions};
use serde_json::json;

#[test]
fn log_prints_every_kind_of_event_from_an_offset() -> TestResult {
    let env = Env::new();
    env.put_json(r#"{"n": 1}"#, &["--id", "a", "--type", "reading", "--tag", "raw"]);
    env.run(&["delete", "a"]).ok();
    env.run_with_stdin(&["dataset", "put", "d", "-"], b"{\"data\": 2, \"metadata\": {\"id\": \"b\"}}\n").ok();
    let events = env.run(&["log"]).ok().lines();
    let kinds: Vec<_> = events.iter().map(|e| (e["offset"].clone(), e["kind"].clone())).collect();
    assert_eq!(
        kinds,
        [(json!(0), json!("put")), (json!(1), json!("delete")), (json!(2), json!("put")), (json!(3), json!("dataset"))]
    );
    assert!(events.iter().all(|e| e["timestamp"].as_str().is_some_and(|t| t.ends_with('Z'))));
    assert_eq!((events[0]["id"].clone(), events[0]["version"].clone()), (json!("a"), json!(1)));
    assert_eq!(
        (events[0]["metadata"]["type"].clone(), events[0]["metadata"]["tags"].clone()),
        (json!("reading"), json!(["raw"]))
    );
    assert_eq!((events[1]["id"].clone(), events[1]["version"].clone()), (json!("a"), json!(1)));
    assert_eq!(
        (events[3]["name"].clone(), events[3]["version"].clone(), events[3]["members"].clone()),
        (json!("d"), json!(1), json!([["b", 1]]))
    );

    let tail = env.run(&["log", "--from", "2"]).ok().lines();
    assert_eq!(tail.iter().map(|e| e["offset"].clone()).collect::<Vec<_>>(), [json!(2), json!(3)]);
    // The next offset is where a poller waits: nothing yet. Beyond it is an
    // error naming the next offset (issue 22.8).
    assert_eq!(env.run(&["log", "--from", "4"]).ok().text(), "");
    let past = env.run(&["log", "--from", "99"]).expect_code(1);
    assert!(past.stderr.contains("the next offset is 4"), "{}", past.stderr);
    Ok(())
}

#[test]
fn follow_receives_a_record_another_process_writes_after_it_started() -> TestResult {
    let env = Env::new();
    env.put_json(r#"{"n": 0}"#, &["--id", "before"]);
    let mut child = env.command(&["log", "--follow"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let stdout = child.stdout.take().ok_or("piped stdout")?;
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    let next_event = || -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        let line = lines.recv_timeout(Duration::from_secs(20))??;
        Ok(serde_json::from_str(&line)?)
    };
    let outcome = (|| -> TestResult {
        assert_eq!(next_event()?["id"], json!("before"), "the backlog comes first");
        // The follower is read-only, so this process can take the write lock.
        let writer = Store::open(env.data(), StoreOptions::default())?;
        writer.put(Data::Json(json!({"n": 1})), Metadata { id: Some("after".into()), ..Metadata::default() })?;
        let event = next_event()?;
        assert_eq!(
            (event["id"].clone(), event["offset"].clone(), event["kind"].clone()),
            (json!("after"), json!(1), json!("put"))
        );
        writer.delete("after")?;
        assert_eq!(next_event()?["kind"], json!("delete"));
        Ok(())
    })();
    child.kill()?;
    child.wait()?;
    outcome
}

#[test]
fn a_group_resumes_after_its_committed_offset_across_runs() -> TestResult {
    let env = Env::new();
    env.put_json("1", &["--id", "a"]);
    env.put_json("2", &["--id", "b"]);
    let first = env.run(&["log", "--group", "g"]).ok().lines();
    assert_eq!(first.iter().map(|e| e["id"].clone()).collect::<Vec<_>>(), [json!("a"), json!("b")]);
    assert_eq!(env.run(&["log", "--group", "g"]).ok().text(), "", "nothing new since the commit");

    env.put_json("3", &["--id", "c"]);
    let second = env.run(&["log", "--group", "g"]).ok().lines();
    assert_eq!(
        second.iter().map(|e| e["id"].clone()).collect::<Vec<_>>(),
        [json!("c")],
        "only what came after the commit"
    );

    let other = env.run(&["log", "--group", "other"]).ok().lines();
    assert!(
        other.iter().any(|e| e["kind"] == json!("consumer_commit") && e["group"] == json!("g")),
        "another group's commits are events"
    );
    assert_eq!(other.iter().filter(|e| e["kind"] == json!("put")).count(), 3);
    let commits = env.run(&["log"]).ok().lines().into_iter().filter(|e| e["kind"] == json!("consumer_commit")).count();
    assert!(commits >= 3, "every printed batch was committed");
    env.run(&["log", "--group", "g", "--from", "0"]).expect_code(2);
    let refused = env.run(&["log", "--group", "g", "--follow"]).expect_code(2);
    assert!(
        refused.stderr.contains("cannot be used with"),
        "holding the lock it could never see a write: {}",
        refused.stderr
    );
    env.run(&["log", "--group", ""]).expect_code(1);
    Ok(())
}

#[test]
fn verify_finds_corruption_with_exit_4_and_repair_restores_opening() -> TestResult {
    let env = Env::new();
    let clean = env.run(&["--json", "verify"]).ok().json();
    assert_eq!(clean["clean"], json!(true));
    env.put_json(r#"{"payload": "first item, long enough to corrupt"}"#, &["--id", "a"]);
    let segment = std::fs::read_dir(env.data().join("log"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "seg"))
        .ok_or("a segment file")?;
    let first_frame_end = std::fs::metadata(&segment)?.len();
    env.put_json(r#"{"payload": "second item"}"#, &["--id", "b"]);
    let report = env.run(&["verify"]).ok().text();
    assert!(report.contains(": clean"), "{report}");

    let mut bytes = std::fs::read(&segment)?;
    let position = usize::try_from(first_frame_end)? - 8;
    bytes[position] ^= 0xff;
    std::fs::write(&segment, &bytes)?;

    let found = env.run(&["--json", "verify"]).expect_code(4);
    assert_eq!(found.json()["clean"], json!(false));
    assert!(found.json()["problems"].as_array().is_some_and(|p| p.iter().any(|p| p["kind"] == json!("corruption"))));
    let error: serde_json::Value = serde_json::from_str(found.stderr.trim())?;
    assert_eq!(error["kind"], json!("corruption"));
    // Reads serve what lies before the damage, with a warning; writes refuse.
    let unreadable = env.run(&["get", "b"]).expect_code(3);
    assert!(unreadable.stderr.contains("verify --repair"), "{}", unreadable.stderr);
    env.run_with_stdin(&["put", "--id", "d", "-"], b"4").expect_code(4);

    let repaired = env.run(&["verify", "--repair"]).ok().text();
    assert!(repaired.contains("cut back to offset 0, the records from there on are in quarantine"), "{repaired}");
    env.run(&["verify"]).ok();
    env.run(&["get", "a"]).expect_code(3);
    env.put_json("3", &["--id", "c"]);
    Ok(())
}

#[test]
fn serve_holds_the_write_lock_while_cli_reads_keep_working() -> TestResult {
    let env = Env::new();
    env.put_json(r#"{"n": 1}"#, &["--id", "a"]);
    let mut child =
        env.command(&["serve", "--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut stdout = BufReader::new(child.stdout.take().ok_or("piped stdout")?);
    let mut banner = String::new();
    stdout.read_line(&mut banner)?;
    // Checked before the server is stopped, whatever the outcome, so that a
    // failed check never leaves a server running behind the test.
    let outcome = check_reads_beside_server(&env, &banner, child.id());
    let terminated = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status()?;
    assert!(terminated.success());
    let status = child.wait()?;
    outcome?;
    assert_eq!(status.code(), Some(0), "SIGTERM shuts the server down cleanly");
    Ok(())
}

/// While `serve` (pid `server_pid`) holds the store: a write exits 5 naming
/// the server, and reads still answer.
fn check_reads_beside_server(env: &Env, banner: &str, server_pid: u32) -> TestResult {
    assert!(banner.contains("listening on http://127.0.0.1:"), "serve announces its address: {banner:?}");
    let locked = env.run_with_stdin(&["put", "--id", "b", "-"], b"2").expect_code(5);
    assert!(locked.stderr.contains(&format!("pid {server_pid}")), "names the server: {}", locked.stderr);
    assert_eq!(env.run(&["get", "a"]).ok().stdout, br#"{"n":1}"#);
    assert_eq!(env.run(&["query", "--count"]).ok().text(), "1\n");
    Ok(())
}

#[test]
fn a_reader_closing_the_pipe_early_is_not_an_error() -> TestResult {
    let env = Env::new();
    let lines: String = (0..3000).map(|n| format!("{{\"data\": {n}, \"metadata\": {{\"id\": \"i{n}\"}}}}\n")).collect();
    env.run_with_stdin(&["import", "-"], lines.as_bytes()).ok();
    let mut child = env.command(&["log"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let mut stdout = BufReader::new(child.stdout.take().ok_or("piped stdout")?);
    let mut first = String::new();
    stdout.read_line(&mut first)?;
    assert!(first.contains("\"offset\":0"), "{first}");
    drop(stdout);
    let output = child.wait_with_output()?;
    assert_eq!(
        output.status.code(),
        Some(0),
        "like `recstore log | head -1`: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stderr.is_empty());
    Ok(())
}
