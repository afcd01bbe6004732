//! A log closed and opened again in one process while another thread of it
//! spawns processes opens every time. A child holds a copy of every
//! descriptor of its parent from its fork to its exec, the log's lock file
//! included, so a reopen in that window found the lock held by its own
//! process and failed with `Locked` (seen now and then in tests that run
//! the CLI beside a store). The lock now waits out its own process's note.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::TestResult;
use recstore::log::{Log, LogOptions, NewRecord, SyncMode};

#[test]
fn reopens_succeed_while_another_thread_spawns_children() -> TestResult {
    let dir = tempfile::tempdir()?;
    let options = || LogOptions { sync: SyncMode::Never, ..LogOptions::default() };
    let stop = Arc::new(AtomicBool::new(false));
    let spawner = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || -> std::io::Result<u32> {
            let mut spawned = 0;
            while !stop.load(Ordering::Relaxed) {
                std::process::Command::new("true").status()?;
                spawned += 1;
            }
            Ok(spawned)
        })
    };
    let mut reopens = 0;
    let result = (|| -> TestResult {
        for n in 0..300u32 {
            let log = Log::open(dir.path(), options())?;
            log.append(&[NewRecord { kind: 1, flags: 0, payload: &n.to_le_bytes() }])?;
            reopens += 1;
        }
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    let spawned = spawner.join().map_err(|_| "the spawning thread panicked")??;
    println!("{reopens} reopens beside {spawned} spawned children");
    result
}
