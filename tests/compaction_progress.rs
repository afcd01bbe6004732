//! `Store::compact_with_progress` reports each sealed segment once, in
//! order, against the total it reads, and ends at the report's count: what
//! `recstore compact` draws its progress bar from.

mod common;

use std::sync::Mutex;

use recstore::compaction::{CompactionProgress, Policy};
use recstore::{Data, Metadata, Store, StoreOptions, SyncMode};

use common::TestResult;

#[test]
fn progress_counts_every_sealed_segment_in_order() -> TestResult {
    let dir = tempfile::tempdir()?;
    let options = StoreOptions::default().sync(SyncMode::Never).segment_size_bytes(4096);
    let store = Store::open(dir.path(), options)?;
    for version in 0..200 {
        let metadata = Metadata { id: Some(format!("item-{}", version % 20)), ..Metadata::default() };
        store.put(Data::Json(serde_json::json!({"version": version, "pad": "x".repeat(100)})), metadata)?;
    }
    let calls = Mutex::new(Vec::new());
    let report = store.compact_with_progress(Policy::keep_everything().max_versions(Some(1)), |progress| {
        if let Ok(mut calls) = calls.lock() {
            calls.push(progress);
        }
    })?;
    let calls = calls.into_inner().map_err(|_| "poisoned")?;
    let total = usize::try_from(report.segments_scanned)?;
    assert!(total > 3, "the test needs several sealed segments, got {total}");
    let expected: Vec<CompactionProgress> =
        (1..=total).map(|done| CompactionProgress { segments_done: done, segments_total: total }).collect();
    assert_eq!(calls, expected);
    assert!(report.segments_rewritten > 0, "{report:?}");
    Ok(())
}
