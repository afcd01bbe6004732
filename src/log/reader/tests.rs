//! The header-hopping batch bounds (`bounds.rs`) against the checked scans
//! they replace, and against what the appends said, on random logs: random
//! batch sizes, small and large records, several segments and the active
//! one, explicit rolls, compaction that replaces and drops records (offset
//! gaps), a reopen, and a read-only log following the writer.

use std::path::Path;

use proptest::collection::vec;
use proptest::prelude::*;

use super::bounds;
use crate::log::{Log, LogOptions, NewRecord, RecordAction, RecordRef, SegmentPlanner, SyncMode};

/// One batch of the random log: its records' payload sizes, and whether
/// the log rolls to a new segment first.
#[derive(Debug, Clone)]
struct BatchPlan {
    payload_sizes_bytes: Vec<usize>,
    roll_first: bool,
}

/// What compaction does to the sealed segments, if anything.
#[derive(Debug, Clone, Copy)]
struct CompactionPlan {
    seed: u64,
    /// Drop records at all (offset gaps), or only replace some (no gaps).
    drop: bool,
}

/// What one append returned: enough to know every bound it implies.
#[derive(Debug, Clone, Copy)]
struct Batch {
    first_offset: u64,
    last_offset: u64,
    timestamp_us: u64,
}

/// Mostly small records, some larger than a few index intervals' worth of
/// small frames, so that frames both share and own index entries.
fn payload_size_bytes() -> impl Strategy<Value = usize> {
    prop_oneof![6 => 0..300usize, 1 => 3_000..30_000usize]
}

fn batch_plan() -> impl Strategy<Value = BatchPlan> {
    (vec(payload_size_bytes(), 1..12), prop::bool::weighted(0.1))
        .prop_map(|(payload_sizes_bytes, roll_first)| BatchPlan { payload_sizes_bytes, roll_first })
}

fn compaction_plan() -> impl Strategy<Value = Option<CompactionPlan>> {
    prop::option::of((any::<u64>(), any::<bool>()).prop_map(|(seed, drop)| CompactionPlan { seed, drop }))
}

/// A small hash of the offset, so a plan is a pure function of its seed.
fn mix(seed: u64, offset: u64) -> u64 {
    (seed ^ offset).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29)
}

impl SegmentPlanner for CompactionPlan {
    fn decide(&mut self, record: &RecordRef<'_>) -> RecordAction {
        match mix(self.seed, record.offset) % 4 {
            0 if self.drop => RecordAction::Drop,
            1 => RecordAction::Replace { kind: 9, flags: 0, payload: vec![7; record.payload.len() / 3] },
            _ => RecordAction::Keep,
        }
    }
}

fn options(segment_size_bytes: u64) -> LogOptions {
    LogOptions { segment_size_bytes, sync: SyncMode::Never, ..LogOptions::default() }
}

fn write(log: &Log, plans: &[BatchPlan]) -> Result<Vec<Batch>, TestCaseError> {
    let fail = |error: crate::log::LogError| TestCaseError::fail(error.to_string());
    let mut batches = Vec::new();
    for plan in plans {
        if plan.roll_first {
            log.roll().map_err(fail)?;
        }
        let payloads: Vec<Vec<u8>> = plan.payload_sizes_bytes.iter().map(|&size| vec![b'p'; size]).collect();
        let records: Vec<NewRecord<'_>> =
            payloads.iter().map(|p| NewRecord { kind: 1, flags: 0, payload: p }).collect();
        let appended = log.append(&records).map_err(fail)?;
        batches.push(Batch {
            first_offset: appended.first_offset,
            last_offset: appended.last_offset,
            timestamp_us: appended.timestamp_us,
        });
    }
    Ok(batches)
}

/// Times worth asking about: each batch's stamp and its neighbours, and
/// both ends of the clock.
fn probe_times_us(batches: &[Batch]) -> Vec<u64> {
    let mut times: Vec<u64> = batches
        .iter()
        .flat_map(|b| [b.timestamp_us.saturating_sub(1), b.timestamp_us, b.timestamp_us.saturating_add(1)])
        .chain([0, u64::MAX])
        .collect();
    times.sort_unstable();
    times.dedup();
    times
}

/// Every answer of the fast path equals the checked scan's; with `dense`
/// (no offset gaps) the fast path answers every question itself.
fn check_against_scans(log: &Log, batches: &[Batch], dense: bool) -> Result<(), TestCaseError> {
    let next_offset = log.next_offset();
    for offset in 0..=next_offset {
        let checked = log.batch_end_checked(offset).ok();
        prop_assert_eq!(log.batch_end(offset).ok(), checked, "batch_end({})", offset);
        let fast = bounds::batch_end(&log.snapshot(), offset).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Some(fast) = fast {
            prop_assert_eq!(Some(fast), checked, "fast batch_end({})", offset);
        }
        prop_assert!(!dense || offset == next_offset || fast.is_some(), "dense log: fast path gave up on @{}", offset);
    }
    for timestamp_us in probe_times_us(batches) {
        let checked = log.offset_at_time_checked(timestamp_us).ok();
        prop_assert_eq!(log.offset_at_time(timestamp_us).ok(), checked, "offset_at_time({})", timestamp_us);
        let fast =
            bounds::offset_at_time(&log.snapshot(), timestamp_us).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Some(fast) = fast {
            prop_assert_eq!(Some(fast), checked, "fast offset_at_time({})", timestamp_us);
        }
        prop_assert!(!dense || fast.is_some(), "dense log: fast path gave up on time {}", timestamp_us);
    }
    Ok(())
}

/// Without compaction, the bounds are what the appends said.
fn check_against_appends(log: &Log, batches: &[Batch]) -> Result<(), TestCaseError> {
    for batch in batches {
        for offset in batch.first_offset..=batch.last_offset {
            prop_assert_eq!(log.batch_end(offset).ok(), Some(batch.last_offset + 1), "batch_end({})", offset);
        }
    }
    for timestamp_us in probe_times_us(batches) {
        let expected =
            batches.iter().find(|b| b.timestamp_us >= timestamp_us).map_or(log.next_offset(), |b| b.first_offset);
        prop_assert_eq!(log.offset_at_time(timestamp_us).ok(), Some(expected), "offset_at_time({})", timestamp_us);
    }
    Ok(())
}

#[test]
fn bounds_follow_appends_to_the_active_segment() -> Result<(), Box<dyn std::error::Error>> {
    // The map of the active segment is kept between calls (`active_map.rs`):
    // appends must show through it, a map the segment outgrew must be
    // replaced, and a segment rolled away must not be read through its map.
    let dir = tempfile::tempdir()?;
    let log = Log::open(dir.path(), options(crate::limits::SEGMENT_SIZE_BYTES_DEFAULT))?;
    let mut batches = Vec::new();
    for batch_index in 0..120u64 {
        if batch_index % 50 == 49 {
            log.roll()?;
        }
        let payloads: Vec<Vec<u8>> = (0..1 + batch_index % 5).map(|i| vec![b'a'; (50 * i) as usize]).collect();
        let records: Vec<NewRecord<'_>> =
            payloads.iter().map(|p| NewRecord { kind: 1, flags: 0, payload: p }).collect();
        let appended = log.append(&records)?;
        batches.push(Batch {
            first_offset: appended.first_offset,
            last_offset: appended.last_offset,
            timestamp_us: appended.timestamp_us,
        });
        let first_after =
            |timestamp_us: u64| batches.iter().find(|b| b.timestamp_us >= timestamp_us).map(|b| b.first_offset);
        for offset in appended.first_offset..=appended.last_offset {
            assert_eq!(bounds::batch_end(&log.snapshot(), offset)?, Some(appended.last_offset + 1), "@{offset}");
        }
        let time = appended.timestamp_us;
        assert_eq!(bounds::offset_at_time(&log.snapshot(), time)?, first_after(time), "time {time}");
        assert_eq!(bounds::offset_at_time(&log.snapshot(), time + 1)?, Some(log.next_offset()), "time {time} + 1");
    }
    Ok(())
}

fn reopen(dir: &Path, options: LogOptions) -> Result<Log, TestCaseError> {
    Log::open(dir, options).map_err(|e| TestCaseError::fail(e.to_string()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn fast_bounds_equal_checked_scans(
        plans in vec(batch_plan(), 1..40),
        segment_size_bytes in prop_oneof![Just(4_096u64), Just(300_000u64)],
        compaction in compaction_plan(),
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let log = reopen(dir.path(), options(segment_size_bytes))?;
        let batches = write(&log, &plans)?;
        check_against_appends(&log, &batches)?;
        check_against_scans(&log, &batches, true)?;
        let mut dense = true;
        if let Some(mut compaction) = compaction {
            let end_offset = log.next_offset();
            let pass = log.compact_sealed(end_offset, &mut compaction).map_err(|e| TestCaseError::fail(e.to_string()))?;
            dense = pass.rewrites.iter().all(|r| r.records_dropped == 0);
            check_against_scans(&log, &batches, dense)?;
        }
        // A read-only log beside the writer builds its own active index.
        let follower = reopen(dir.path(), LogOptions { read_only: true, ..options(segment_size_bytes) })?;
        check_against_scans(&follower, &batches, dense)?;
        drop(follower);
        drop(log);
        // Reopened: sealed indexes from their files, the active one rebuilt.
        let log = reopen(dir.path(), options(segment_size_bytes))?;
        check_against_scans(&log, &batches, dense)?;
        if dense && compaction.is_none() {
            check_against_appends(&log, &batches)?;
        }
    }
}
