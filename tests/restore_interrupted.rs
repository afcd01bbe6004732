//! A restore killed part-way must never harm its source. It used to write
//! straight into the target: killed after its hard links were made and
//! before the last piece was copied, the target opened as a store whose
//! newest (active) segment was a hard link to a sealed segment of the
//! source, so one `put` into the target appended to the source's file and
//! the source failed `verify`. Restore now builds beside the target and
//! renames the finished copy into place, and always copies its last piece.
//!
//! The kill is real: `strace` sends SIGKILL at the Nth call of each syscall
//! that marks a step (link, rename, fsync, mkdir), for N = 1, 2, ... until
//! a restore runs to the end.

mod common;

use std::path::Path;
use std::process::Command;

use recstore::{Data, Metadata, Store, StoreOptions, SyncMode};

use common::TestResult;

const STEP_SYSCALLS: &str = "link,linkat,rename,renameat,renameat2,fsync,fdatasync,mkdir,mkdirat";

fn recstore(data: &Path, args: &[&str]) -> Result<std::process::Output, std::io::Error> {
    Command::new(env!("CARGO_BIN_EXE_recstore")).arg("--data").arg(data).args(args).env("CI", "true").output()
}

/// A source store with several sealed segments.
fn make_source(data: &Path) -> Result<u64, Box<dyn std::error::Error>> {
    let options = StoreOptions::default().sync(SyncMode::Never).segment_size_bytes(4096);
    let store = Store::open(data, options)?;
    for i in 0..240 {
        let data = Data::Json(serde_json::json!({ "i": i, "pad": "x".repeat(40) }));
        store.put(data, Metadata { id: Some(format!("k{i}")), ..Metadata::default() })?;
    }
    let segments = std::fs::read_dir(data.join("log"))?
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
        .count();
    assert!(segments >= 6, "the source has several sealed segments ({segments})");
    let next = store.log().next_offset();
    store.close()?;
    Ok(next)
}

/// Runs the restore under strace, killed at the `when`th call of each step
/// syscall; true if it ran to the end.
fn restore_killed_at(source: &Path, target: &Path, as_of: &str, when: u32) -> Result<bool, std::io::Error> {
    let output = Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "-e", &format!("trace={STEP_SYSCALLS}")])
        .arg("-e")
        .arg(format!("inject={STEP_SYSCALLS}:signal=KILL:when={when}"))
        .arg(env!("CARGO_BIN_EXE_recstore"))
        .arg("--data")
        .arg(source)
        .args(["restore", "--as-of", as_of, "--into"])
        .arg(target)
        .env("CI", "true")
        .output()?;
    Ok(output.status.success())
}

#[test]
fn a_restore_killed_at_any_step_leaves_the_source_intact_after_a_put_into_the_target() -> TestResult {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("skipped: strace is not installed, and it is what kills the restore");
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let source = dir.path().join("source");
    let next = make_source(&source)?;
    let as_of = format!("@{}", next - 3);
    for when in 1..200 {
        let target = dir.path().join(format!("target-{when}"));
        let finished = restore_killed_at(&source, &target, &as_of, when)?;
        let put = Command::new(env!("CARGO_BIN_EXE_recstore"))
            .arg("--data")
            .arg(&target)
            .args(["put", "--id", "after-restore", "-"])
            .env("CI", "true")
            .stdin(std::process::Stdio::piped())
            .output()?;
        assert!(put.status.success(), "put into the target after a kill at step {when}: {put:?}");
        let verify = recstore(&source, &["verify"])?;
        assert!(
            verify.status.success(),
            "the source verifies clean after a kill at step {when} and a put into the target: {}",
            String::from_utf8_lossy(&verify.stdout)
        );
        if finished {
            assert!(when > 1, "strace killed no restore: the test proves nothing");
            let get = recstore(&target, &["get", &format!("k{}", 50)])?;
            assert!(get.status.success(), "the finished restore holds the history");
            return Ok(());
        }
        assert!(
            !target.join("log").exists() || recstore(&target, &["get", "k0"])?.status.code() == Some(3),
            "an interrupted restore leaves no store holding a prefix at the target (step {when})"
        );
    }
    Err("the restore never ran to the end".into())
}
