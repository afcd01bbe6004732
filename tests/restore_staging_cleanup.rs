//! A restore killed part-way leaves its staging directory
//! (`.TARGET.restoring-PID`) beside the target; the next restore into the
//! same target removes the ones whose process is gone, and leaves those of
//! a process still running alone. Before, they stayed until removed by hand.

mod common;

use std::process::Command;

use common::TestResult;
use recstore::timetravel::AsOf;
use recstore::{Data, Metadata, Store, StoreOptions};
use serde_json::json;

#[test]
fn a_restore_removes_the_staging_directories_of_dead_restores_only() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("source"), StoreOptions::default())?;
    store.put(Data::Json(json!({"n": 1})), Metadata::default())?;
    let mut finished = Command::new("true").spawn()?;
    let dead_pid = finished.id();
    finished.wait()?;
    let mut running = Command::new("sleep").arg("30").spawn()?;
    let dead = dir.path().join(format!(".target.restoring-{dead_pid}"));
    let alive = dir.path().join(format!(".target.restoring-{}", running.id()));
    for staging in [&dead, &alive] {
        std::fs::create_dir_all(staging.join("log"))?;
        std::fs::write(staging.join("log").join("00000000000000000000.seg"), b"partial")?;
    }
    let result = store.restore(AsOf::Offset(0), &dir.path().join("target"));
    running.kill()?;
    running.wait()?;
    result?;
    assert!(!dead.exists(), "the staging directory of a restore whose process is gone is removed");
    assert!(alive.exists(), "a running restore's staging directory is left alone");
    Ok(())
}
