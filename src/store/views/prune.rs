//! What compaction does to the views: audit stubs, compaction records, and
//! the forgetting of purged items.
//!
//! Owns the views' side of the contract in `crate::compaction`: a
//! compaction record is applied by running the retention policy it carries,
//! with the dataset pins it lists, over every item's eligible events,
//! marking dropped versions pruned (or, with purge, removing the prefix the
//! policy removes), and adjusting the counters by exactly what changed,
//! never by a rescan. An audit stub is applied like the put it
//! replaced, then marked pruned, so a replay of a compacted log and the live
//! store that compacted it end with the same views. The policy itself lives
//! in `crate::records::retention`; the log rewrite in `crate::compaction::worker`.

use std::collections::{HashMap, HashSet};
use std::sync::PoisonError;

use serde::{Deserialize, Serialize};

use super::{Indices, ItemEvent, ItemRow, ItemState, Items, Parent, Views};
use crate::log::RecordRef;
use crate::records::codec::{self, kind};
use crate::records::retention::{self, Event, Policy, Reason, ReasonCounts};

/// An event's record as it is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    /// Payload size of the record, as stored (compressed where it paid).
    pub size_bytes: u32,
    /// Set once compaction dropped the version's data (the record is, or is
    /// about to become, an audit stub), with the reason.
    pub pruned: Option<Reason>,
}

/// What applying a policy would change, counted before it is applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PruneCount {
    /// Records the policy newly drops, by reason (tombstones included).
    pub dropped: ReasonCounts,
    /// Of those, tombstones (only with purge).
    pub tombstones: u64,
    /// The horizon these drops imply, `(offset, timestamp_us)`.
    pub horizon: Option<(u64, u64)>,
}

impl From<&ItemEvent> for Event {
    fn from(event: &ItemEvent) -> Self {
        Event { offset: event.offset, timestamp_us: event.timestamp_us, version: event.version }
    }
}

/// The versions a compaction's pins protect, by item number.
#[derive(Debug, Default)]
pub(crate) struct PinnedVersions(HashMap<u32, Vec<u32>>);

impl PinnedVersions {
    /// The pinned versions of item `item_no` (often none).
    fn of(&self, item_no: u32) -> &[u32] {
        self.0.get(&item_no).map_or(&[], Vec::as_slice)
    }
}

/// Per-item scratch space, so a pass over every item allocates once.
#[derive(Default)]
struct Scratch {
    events: Vec<Event>,
    fates: Vec<Option<Reason>>,
    removed_count: usize,
}

impl Scratch {
    /// Runs the policy over one row; returns whether it drops anything.
    fn decide(&mut self, row: ItemRow<'_>, pinned_versions: &[u32], eligible_end: u64, policy: &Policy) -> bool {
        self.events.clear();
        self.events.extend(row.events.iter().map(Event::from));
        self.fates.clear();
        self.fates.resize(self.events.len(), None);
        self.removed_count =
            retention::decide_into(&self.events, pinned_versions, eligible_end, policy, &mut self.fates);
        self.fates.iter().any(Option::is_some)
    }

    /// Whether the decision changes the event at `index`: a removed record,
    /// or a put pruned now that was not before.
    fn changes(&self, index: usize, event: &ItemEvent) -> bool {
        index < self.removed_count
            || (self.fates[index].is_some() && !event.is_delete() && event.stored.pruned.is_none())
    }
}

impl Views {
    /// Applies an audit stub or a compaction record.
    pub(super) fn apply_compaction_kinds(&mut self, record: RecordRef<'_>, position_bytes: u64) -> Result<(), String> {
        match record.kind {
            kind::AUDIT_STUB => self.apply_stub(record, position_bytes),
            kind::COMPACTION => self.apply_compaction(record),
            other => unreachable!("apply_compaction_kinds called with kind {other}"),
        }
    }

    /// A stub takes its put's place in the version chain, already pruned.
    fn apply_stub(&mut self, record: RecordRef<'_>, position_bytes: u64) -> Result<(), String> {
        let stub = codec::decode_stub(record.payload)?;
        let trailer = stub.stub.expect("decode_stub sets the trailer");
        let reason = Reason::from_code(trailer.reason).ok_or_else(|| format!("stub reason code {}", trailer.reason))?;
        let item_no = self.apply_put(record, position_bytes)?;
        let index = self.row(item_no).events.len() - 1;
        self.mark_pruned(item_no, index, reason);
        Ok(())
    }

    /// Applies a compaction record: the policy's marks, and the new horizon.
    fn apply_compaction(&mut self, record: RecordRef<'_>) -> Result<(), String> {
        let compaction: codec::CompactionRecord = codec::decode_json(record.payload)?;
        let (policy, eligible_end) = (compaction.policy, compaction.eligible_end);
        let pinned = self.pinned_versions(&compaction.pinned);
        let mut scratch = Scratch::default();
        let mut removed: Vec<(u32, u32)> = Vec::new();
        for item_no in 0..self.state.items.len() {
            let item_no = u32::try_from(item_no).expect("fewer than 4 billion items");
            if !scratch.decide(self.row(item_no), pinned.of(item_no), eligible_end, &policy) {
                continue;
            }
            // Marks first: removing the prefix shifts the indices after it.
            for (index, fate) in scratch.fates.iter().enumerate().skip(scratch.removed_count) {
                if let Some(reason) = *fate
                    && scratch.changes(index, &self.row(item_no).events[index])
                {
                    self.mark_pruned(item_no, index, reason);
                }
            }
            if scratch.removed_count > 0 {
                self.remove_prefix(item_no, scratch.removed_count, &mut removed);
            }
        }
        if !removed.is_empty() {
            self.after_purge(&removed);
        }
        let horizon = (compaction.horizon_offset, compaction.horizon_timestamp_us);
        self.state.compaction_horizon = Some(self.state.compaction_horizon.map_or(horizon, |old| old.max(horizon)));
        Ok(())
    }

    /// Marks a put pruned and takes its data out of the byte counters.
    fn mark_pruned(&mut self, item_no: u32, index: usize, reason: Reason) {
        let event = self.row(item_no).events[index];
        assert!(!event.is_delete(), "only puts are pruned");
        assert!(event.stored.pruned.is_none(), "a version is pruned once");
        let ends_item = index + 1 == self.row(item_no).events.len() && reason == Reason::Expired;
        if ends_item {
            // An expired current version leaves the queries as a delete would.
            self.unindex_item(item_no);
            self.recount_item(Some(ItemState::Live), Some(ItemState::Expired));
        }
        self.state.items.update_event(item_no, index, |event| event.stored.pruned = Some(reason));
        let (data_bytes, stored_bytes) = (u64::from(event.size_bytes), u64::from(event.stored.size_bytes));
        let counters = &mut self.state.counters;
        counters.logical_bytes = counters.logical_bytes.saturating_sub(data_bytes);
        counters.stored_bytes = counters.stored_bytes.saturating_sub(stored_bytes);
    }

    /// Purge: removes the first `removed_count` events of one row (the
    /// prefix `retention::decide` removes) and their counts; adds each
    /// removed put's `(item_no, version)` to `removed`.
    fn remove_prefix(&mut self, item_no: u32, removed_count: usize, removed: &mut Vec<(u32, u32)>) {
        let was = self.row(item_no).state();
        let dropped = self.state.items.remove_prefix(item_no, removed_count);
        let counters = &mut self.state.counters;
        for event in dropped {
            if event.is_delete() {
                counters.deletes = counters.deletes.saturating_sub(1);
                continue;
            }
            removed.push((item_no, event.version));
            counters.versions = counters.versions.saturating_sub(1);
            if event.stored.pruned.is_none() {
                counters.logical_bytes = counters.logical_bytes.saturating_sub(u64::from(event.size_bytes));
                counters.stored_bytes = counters.stored_bytes.saturating_sub(u64::from(event.stored.size_bytes));
            }
        }
        let row = self.state.items.row(item_no);
        if row.events.is_empty() {
            self.recount_item(Some(was), None);
        } else {
            assert_eq!(row.state(), was, "purge removes a prefix, so the last event stays");
        }
    }

    /// After a purge removed the puts in `removed`: items keep their numbers
    /// if none was left empty and the rows are still in order of their first
    /// event (the order a replay of the compacted log creates them in); then
    /// only lineage links to removed versions go. Otherwise every item is
    /// renumbered and the derived indices rebuilt, which costs a pass over
    /// all items under the views' write lock. The past bitmaps keep
    /// bits of removed versions until then (checkpoints keep them too): they
    /// only name candidates, which every as-of read checks against the rows.
    fn after_purge(&mut self, removed: &[(u32, u32)]) {
        let items = &self.state.items;
        let emptied = items.iter().any(|row| row.events.is_empty());
        let first_offsets = || items.iter().map(|row| row.events[0].offset);
        if emptied || first_offsets().zip(first_offsets().skip(1)).any(|(a, b)| a > b) {
            self.forget_empty_rows();
            return;
        }
        let removed: HashSet<(u32, u32)> = removed.iter().copied().collect();
        self.state.children.rebuild(|parent, child| (!removed.contains(&child)).then(|| (parent.clone(), child)));
    }

    /// After a purge: drops rows left empty, renumbers the rest in order of
    /// their first remaining event (the order a replay of the compacted log
    /// creates them in), and rebuilds the derived indices from the state.
    fn forget_empty_rows(&mut self) {
        let old = std::mem::take(&mut self.state.items);
        let mut kept: Vec<u32> = (0..old.len())
            .map(|n| u32::try_from(n).expect("fewer than 4 billion items"))
            .filter(|&n| !old.row(n).events.is_empty())
            .collect();
        kept.sort_by_key(|&n| old.row(n).events[0].offset);
        let mut renumbered: Vec<Option<u32>> = vec![None; old.len()];
        let mut items = Items::default();
        for &old_no in &kept {
            let events = old.row(old_no).events;
            let new_no = items.push(old.id(old_no), events[0]);
            for event in &events[1..] {
                items.push_event(new_no, *event);
            }
            renumbered[old_no as usize] = Some(new_no);
        }
        self.state.children.rebuild(|parent, (child_no, version)| {
            let child_no = renumbered[child_no as usize].filter(|&n| items.row(n).version(version).is_some())?;
            let parent = match parent {
                Parent::Item(old_no) => match renumbered[*old_no as usize] {
                    Some(new_no) => Parent::Item(new_no),
                    // The parent's row is gone: its children stay listed under its id.
                    None => Parent::Name(old.id(*old_no).into()),
                },
                Parent::Name(name) => Parent::Name(name.clone()),
            };
            Some((parent, (child_no, version)))
        });
        self.state.indices = Indices::build(&items, &self.state.tagsets);
        self.state.items = items;
        let renumber_count = self.renumber_count + 1;
        *self = Views::from_state(std::mem::take(&mut self.state));
        self.renumber_count = renumber_count;
    }

    /// The item numbers of a compaction's pins, `(id, version)`; pins of
    /// ids the views do not hold are left out.
    pub(crate) fn pinned_versions(&self, pinned: &[(String, u32)]) -> PinnedVersions {
        let mut by_item: HashMap<u32, Vec<u32>> = HashMap::new();
        for (id, version) in pinned {
            if let Some(item_no) = self.item_number(id) {
                by_item.entry(item_no).or_default().push(*version);
            }
        }
        PinnedVersions(by_item)
    }

    /// Counts what applying `policy` with `pinned` to the items numbered
    /// `items` would change, into `count`. The plan a compaction writes
    /// into its record.
    pub(crate) fn count_prune(
        &self,
        items: std::ops::Range<usize>,
        eligible_end: u64,
        policy: &Policy,
        pinned: &PinnedVersions,
        count: &mut PruneCount,
    ) {
        let mut scratch = Scratch::default();
        let end = items.end.min(self.state.items.len());
        for item_no in items.start.min(end)..end {
            let item_no = u32::try_from(item_no).expect("fewer than 4 billion items");
            let row = self.row(item_no);
            if !scratch.decide(row, pinned.of(item_no), eligible_end, policy) {
                continue;
            }
            let mut changed = false;
            for (index, event) in row.events.iter().enumerate() {
                if scratch.changes(index, event) {
                    changed = true;
                    count.dropped.add(scratch.fates[index].expect("a changed event has a fate"), 1);
                    count.tombstones += u64::from(event.is_delete());
                }
            }
            if changed {
                let horizon = retention::horizon(&scratch.events, &scratch.fates);
                count.horizon = count.horizon.max(horizon);
            }
        }
    }
}

impl crate::store::Store {
    /// Runs `f` holding the store's writer lock: no put, delete or dataset
    /// is between its append and its apply while `f` runs. Compaction takes
    /// it to seal the active segment and to append its record, never for a
    /// rewrite. It lives here because the lock is private to `crate::store`.
    pub(crate) fn with_writer_lock<T>(&self, f: impl FnOnce() -> T) -> T {
        let _guard = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        f()
    }
}
