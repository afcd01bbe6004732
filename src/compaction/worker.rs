//! One compaction, start to finish: seal, plan, record, rewrite.
//!
//! Owns the order of the steps (see the module docs of `crate::compaction`)
//! and the per-record decision of the rewrite. It never decides retention
//! itself: the plan and the views run `retention::decide`, and the rewrite
//! only makes the log agree with what the views hold. Locks are taken for
//! one step each, never for the whole run: the store's writer lock for the
//! roll and for the append of the compaction record, the views' read lock
//! per chunk of items and per record, the views' write lock to apply the
//! record and to refresh read hints after each segment swap.

use std::borrow::Cow;
use std::time::Instant;

use super::pins::Pins;
use super::store_api::{CompactionPreview, CompactionProgress, CompactionReport};
use crate::error::{Error, Result};
use crate::limits::COMPACTION_PLAN_CHUNK_ITEMS_MAX;
use crate::log::{DirGuard, LogError, NewRecord, RecordAction, RecordRef, SegmentPlanner, SegmentRewrite};
use crate::records::codec::{self, CompactionRecord, DatasetRecord, DeleteRecord, StubTrailer, kind};
use crate::records::retention::Policy;
use crate::store::Store;
use crate::store::views::prune::PruneCount;
use crate::store::views::{ItemEvent, Views};

/// What a record of the segment being planned is, for refreshing its read
/// hint after a rewrite. Item numbers are stable while a compaction runs:
/// only a compaction record renumbers items.
enum HintTarget {
    Item(u32),
    Dataset(String),
}

/// Runs one compaction of `store` with `policy`, telling `on_progress`
/// after each sealed segment.
pub(super) fn compact(
    store: &Store,
    policy: Policy,
    on_progress: &dyn Fn(CompactionProgress),
) -> Result<CompactionReport> {
    policy.validate().map_err(Error::invalid)?;
    if store.options().read_only {
        return Err(Error::Log(LogError::ReadOnly { path: store.log().dir().to_path_buf() }));
    }
    let started = Instant::now();
    // The plan, the record and the rewrite must not interleave with another
    // compaction's: each assumes only compaction records change the history
    // below its eligible end.
    let _exclusive = DirGuard::acquire(store.dir());
    let eligible_end = seal(store)?;
    let pins = Pins::gather(store, eligible_end, &policy)?;
    let mut count = plan(store, eligible_end, &policy, &pins.pinned);
    count.horizon = pins.horizon_with_datasets(store, eligible_end, &policy, count.horizon)?;
    if count.dropped.total() > 0 {
        let (horizon_offset, horizon_timestamp_us) = count.horizon.expect("a drop implies a horizon");
        let record =
            CompactionRecord { policy, eligible_end, horizon_offset, horizon_timestamp_us, pinned: Vec::new() };
        append_record(store, record, pins)?;
    }
    let horizon_offset = store.read_views().state.compaction_horizon.map_or(0, |(offset, _)| offset);
    let mut planner = Planner { store, horizon_offset, hints: Vec::new(), on_progress };
    let pass = store.log().compact_sealed(eligible_end, &mut planner)?;
    if pass.rewrites.iter().any(|rewrite| rewrite.records_dropped > 0) {
        // A checkpoint whose last record was purged no longer matches the
        // log, and the next open would rebuild the views from scratch; a
        // fresh one avoids that. Stubs keep every checkpoint valid.
        store.checkpoint()?;
    }
    Ok(CompactionReport::new(policy, eligible_end, &count, &pass, store.compaction_horizon(), started.elapsed()))
}

/// What `compact` with `policy` would drop if it started now: the same
/// pins and plan, against everything written so far, changing nothing.
pub(super) fn preview(store: &Store, policy: Policy) -> Result<CompactionPreview> {
    policy.validate().map_err(Error::invalid)?;
    // Under the writer lock no write is between its append and its apply,
    // so the views hold every record below this offset.
    let eligible_end = store.with_writer_lock(|| store.log().next_offset());
    let pins = Pins::gather(store, eligible_end, &policy)?;
    let mut count = plan(store, eligible_end, &policy, &pins.pinned);
    count.horizon = pins.horizon_with_datasets(store, eligible_end, &policy, count.horizon)?;
    Ok(CompactionPreview::new(policy, eligible_end, &count))
}

/// Seals the active segment while no write is between its append and its
/// apply, so every record below the returned offset is in a sealed segment
/// and in the views.
fn seal(store: &Store) -> Result<u64> {
    store.with_writer_lock(|| {
        store.log().roll()?;
        Ok(store.log().next_offset())
    })
}

/// Counts what the policy, with `pinned` kept, would change, a chunk of
/// items at a time. Item numbers are stable until the compaction record is
/// applied, so the pins are numbered once.
fn plan(store: &Store, eligible_end: u64, policy: &Policy, pinned: &[(String, u32)]) -> PruneCount {
    let pinned = store.read_views().pinned_versions(pinned);
    let mut count = PruneCount::default();
    let mut start = 0;
    loop {
        let views = store.read_views();
        let item_count = views.state.items.len();
        if start >= item_count {
            return count;
        }
        let end = (start + COMPACTION_PLAN_CHUNK_ITEMS_MAX).min(item_count);
        views.count_prune(start..end, eligible_end, policy, &pinned, &mut count);
        start = end;
    }
}

/// Appends the compaction record, applies it to the views, and makes it
/// durable before any segment changes: a replay must meet the record
/// whenever it meets a stub or a gap it explains.
///
/// The pins are brought up to date under the writer lock, so a dataset
/// version written since they were gathered is honoured too. The report
/// still counts from the plan, which did not know those pins: a version
/// such a dataset rescued is counted as dropped, and the horizon may lie
/// later than needed (refusing a few more as-of reads, never too few).
fn append_record(store: &Store, mut record: CompactionRecord, mut pins: Pins) -> Result<()> {
    let (policy, eligible_end) = (record.policy, record.eligible_end);
    store.with_writer_lock(|| -> Result<()> {
        pins.catch_up(store, eligible_end, &policy)?;
        record.pinned = pins.pinned;
        let payload = codec::encode_json(&record);
        let new_record = NewRecord { kind: kind::COMPACTION, flags: 0, payload: &payload };
        let appended = store.log().append_pending(&[new_record])?;
        let applied = RecordRef {
            offset: appended.first_offset,
            timestamp_us: appended.timestamp_us,
            kind: kind::COMPACTION,
            flags: 0,
            payload: &payload,
        };
        if let Err(detail) = store.write_views().apply(applied, appended.positions_bytes[0]) {
            panic!("views refused the compaction record at offset {} they were planned from: {detail}", applied.offset);
        }
        Ok(())
    })?;
    store.log().sync()?;
    store.note_records_written(1);
    Ok(())
}

/// The rewrite's decisions, made against the views.
struct Planner<'a> {
    store: &'a Store,
    horizon_offset: u64,
    /// What each item or dataset record of the current segment is, in offset order.
    hints: Vec<(u64, HintTarget)>,
    on_progress: &'a dyn Fn(CompactionProgress),
}

impl SegmentPlanner for Planner<'_> {
    fn begin_segment(&mut self, _base_offset: u64) {
        self.hints.clear();
    }

    fn decide(&mut self, record: &RecordRef<'_>) -> RecordAction {
        decide_record(self.store, record, self.horizon_offset, &mut self.hints)
    }

    fn swapped(&mut self, rewrite: &SegmentRewrite) {
        refresh_hints(self.store, rewrite, &self.hints);
    }

    fn segment_done(&mut self, done: usize, total: usize) {
        (self.on_progress)(CompactionProgress { segments_done: done, segments_total: total });
    }
}

/// What the rewrite does with one record: whatever makes the log agree
/// with the views. A put whose version the views mark pruned becomes a stub;
/// an item record the views no longer hold was purged and goes. Everything
/// else is kept.
fn decide_record(
    store: &Store,
    record: &RecordRef<'_>,
    horizon_offset: u64,
    hints: &mut Vec<(u64, HintTarget)>,
) -> RecordAction {
    let (id, is_put): (Cow<'_, str>, bool) = match record.kind {
        kind::PUT | kind::AUDIT_STUB => match codec::decode_put_header(record.payload) {
            Ok(put) => (Cow::Borrowed(put.id), record.kind == kind::PUT),
            Err(_) => return RecordAction::Keep,
        },
        kind::DELETE => match codec::decode_json::<DeleteRecord>(record.payload) {
            Ok(delete) => (Cow::Owned(delete.id), false),
            Err(_) => return RecordAction::Keep,
        },
        kind::DATASET => {
            if let Ok(dataset) = codec::decode_json::<DatasetRecord>(record.payload) {
                hints.push((record.offset, HintTarget::Dataset(dataset.name)));
            }
            return RecordAction::Keep;
        }
        _ => return RecordAction::Keep,
    };
    let found = {
        let views = store.read_views();
        find_event(&views, &id, record.offset).map(|(item_no, event)| (item_no, event.stored.pruned))
    };
    let Some((item_no, pruned)) = found else {
        // Only a purge removes an item record from the views, and every
        // record a purge removes is below the horizon it set. Anything else
        // missing from the views is not ours to delete.
        if record.offset < horizon_offset {
            return RecordAction::Drop;
        }
        tracing::warn!(offset = record.offset, %id, "a record the views do not hold is above the horizon; keeping it");
        return RecordAction::Keep;
    };
    hints.push((record.offset, HintTarget::Item(item_no)));
    match pruned {
        Some(reason) if is_put => {
            let trailer = StubTrailer {
                reason: reason.code(),
                stored_size_bytes: u32::try_from(record.payload.len()).unwrap_or(u32::MAX),
                horizon_offset,
            };
            match codec::encode_stub(record.payload, &trailer) {
                Ok(payload) => RecordAction::Replace { kind: kind::AUDIT_STUB, flags: 0, payload },
                Err(_) => RecordAction::Keep,
            }
        }
        _ => RecordAction::Keep,
    }
}

/// The item number and event of the record at `offset`, if the views hold it.
fn find_event<'a>(views: &'a Views, id: &str, offset: u64) -> Option<(u32, &'a ItemEvent)> {
    let item_no = views.item_number(id)?;
    let events = views.row(item_no).events.as_slice();
    events.binary_search_by_key(&offset, |e| e.offset).ok().map(|index| (item_no, &events[index]))
}

/// Points the views' read hints at the records' new positions, so reads of
/// survivors stay one record check instead of a frame scan. Both lists are
/// in offset order.
fn refresh_hints(store: &Store, rewrite: &SegmentRewrite, hints: &[(u64, HintTarget)]) {
    let mut views = store.write_views();
    let mut hints = hints.iter().peekable();
    for &(offset, position_bytes) in &rewrite.positions {
        while hints.next_if(|(hinted, _)| *hinted < offset).is_some() {}
        let Some((_, target)) = hints.next_if(|(hinted, _)| *hinted == offset) else { continue };
        match target {
            HintTarget::Item(item_no) => views.state.items.set_position_hint(*item_no, offset, position_bytes),
            HintTarget::Dataset(name) => {
                let Some(versions) = views.state.datasets.get_mut(name) else { continue };
                if let Ok(index) = versions.binary_search_by_key(&offset, |e| e.offset) {
                    versions[index].position_bytes = position_bytes;
                }
            }
        }
    }
}
