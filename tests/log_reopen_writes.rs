//! A log that refused writes after a failed write or fsync stayed refusing
//! until the process reopened it. `Log::reopen_writes` now recovers the
//! tail in place: what the failed write left is cut, what survived is
//! fsynced, and appends continue densely after it.

mod common;

use std::sync::Arc;

use recstore::log::{Log, LogError, LogOptions, NewRecord, SyncMode};
use recstore::storage::{Fault, FaultInjector};

use common::TestResult;

fn append(log: &Log, payload: &[u8]) -> Result<u64, LogError> {
    log.append(&[NewRecord { kind: 1, flags: 0, payload }]).map(|a| a.first_offset)
}

#[test]
fn after_a_failed_write_or_fsync_reopen_writes_recovers_in_place_and_appends_continue() -> TestResult {
    for fail_sync in [false, true] {
        let dir = tempfile::tempdir()?;
        let faults = Arc::new(FaultInjector::default());
        let options = LogOptions { sync: SyncMode::Always, faults: Some(Arc::clone(&faults)), ..LogOptions::default() };
        let log = Log::open(dir.path(), options)?;
        for i in 0..5u8 {
            append(&log, &[i; 100])?;
        }
        if fail_sync {
            faults.fail_sync_after(0, Fault::Eio);
        } else {
            faults.fail_write_after(0, Fault::NoSpace);
        }
        assert!(append(&log, b"fails").is_err());
        assert!(log.write_failure().is_some(), "the failure is remembered");
        assert!(matches!(append(&log, b"refused"), Err(LogError::Poisoned { .. })));

        let next = log.reopen_writes()?;

        assert!(log.write_failure().is_none());
        // A failed fsync left its frame in the file; a failed write only half of it.
        assert_eq!(next, if fail_sync { 6 } else { 5 }, "fail_sync={fail_sync}");
        assert_eq!(append(&log, b"after")?, next, "offsets continue densely");
        for i in 0..5u8 {
            assert_eq!(log.read(u64::from(i))?.payload, vec![i; 100]);
        }
        drop(log);
        let report = recstore::log::verify(dir.path(), false)?;
        assert!(report.problems.is_empty(), "fail_sync={fail_sync}: {:?}", report.problems);
    }
    Ok(())
}
