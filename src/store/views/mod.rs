//! The materialized views of the item store, rebuilt by replaying the log.
//!
//! Owns every in-memory answer the store gives without reading the log:
//! which ids exist and their version chains (with record offsets), the
//! type/source/tag/time indices, datasets, lineage children and stats. It
//! sees nothing but `(record, position)` pairs through [`Views::apply`], so
//! deleting it and replaying the log gives the same views. It never writes
//! the log and never does I/O, except through `checkpoint`.

mod apply;
pub mod checkpoint;
mod children;
#[cfg(test)]
mod deferred_tests;
mod ids;
mod indices;
mod interner;
mod items;
pub(crate) mod prune;
mod state_codec;
mod time_index;

use std::collections::HashMap;

use ids::IdIndex;

use crate::limits::REPLAY_ID_RESERVE_ITEMS_MAX;
use serde::{Deserialize, Serialize};

pub use children::{Children, Link, Parent};
pub use indices::{ByAttribute, Indices};
pub use interner::{Interner, NONE, TagSets};
pub use items::{EventList, ItemRow, Items};
pub use prune::Stored;
pub use time_index::TimeIndex;

/// One event in an item's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemEvent {
    /// Offset of the record.
    pub offset: u64,
    /// Byte position of the record in its segment: a read hint (`u32::MAX`
    /// when unknown; a wrong hint only costs a slower read).
    pub position_bytes: u32,
    /// Ingestion time.
    pub timestamp_us: u64,
    /// The version a put created; 0 for a delete.
    pub version: u32,
    /// Data size in bytes (uncompressed); 0 for a delete.
    pub size_bytes: u32,
    /// Type id of this version, or [`NONE`].
    pub type_id: u32,
    /// Source id of this version, or [`NONE`].
    pub source_id: u32,
    /// Tag set id of this version.
    pub tagset_id: u32,
    /// The record's payload size, and whether compaction pruned it to an
    /// audit stub (see `prune.rs`).
    pub stored: Stored,
}

impl ItemEvent {
    /// Whether this event is a delete.
    pub fn is_delete(&self) -> bool {
        self.version == 0
    }

    /// Whether this is a put whose data `compact --expire` dropped while it
    /// was the current version: as the latest event it ends the item as a
    /// delete would (see [`ItemState`]).
    pub fn is_expired(&self) -> bool {
        self.stored.pruned == Some(crate::records::retention::Reason::Expired)
    }

    /// The state of an item whose latest event (below some bound) is this one.
    pub fn item_state(&self) -> ItemState {
        if self.is_delete() {
            ItemState::Deleted
        } else if self.is_expired() {
            ItemState::Expired
        } else {
            ItemState::Live
        }
    }
}

/// What an item is, by its latest event. Only a live item is in the query
/// indices and counted in `items_live`; an expired one keeps its history
/// (and `get` says its data was pruned) but queries no longer see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemState {
    /// The latest event is a put with its data.
    Live,
    /// The latest event is a put whose data `compact --expire` dropped.
    Expired,
    /// The latest event is a delete.
    Deleted,
}

/// One version of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetEntry {
    /// The dataset's version.
    pub version: u32,
    /// Offset of its record.
    pub offset: u64,
    /// Position hint of its record.
    pub position_bytes: u64,
    /// Ingestion time.
    pub timestamp_us: u64,
    /// Number of pinned items.
    pub member_count: u32,
}

/// Counters kept as records are applied; never computed by a rescan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Put records applied.
    pub versions: u64,
    /// Delete records applied.
    pub deletes: u64,
    /// Items whose latest event is a put that still has its data.
    pub items_live: u64,
    /// Items whose latest event is a delete.
    pub items_deleted: u64,
    /// Items whose latest event is a put that `compact --expire` pruned:
    /// gone from queries, as deleted items are, but counted apart.
    pub items_expired: u64,
    /// Sum of data sizes of all versions (uncompressed).
    pub logical_bytes: u64,
    /// Sum of put payload sizes as stored (compressed where it paid).
    pub stored_bytes: u64,
    /// Dataset records applied.
    pub dataset_versions: u64,
    /// Records of kinds this build does not know, skipped.
    pub unknown_records: u64,
}

/// The persistent part of the views: what a checkpoint stores.
#[derive(Debug, Clone, Default)]
pub struct ViewState {
    /// Log offset the views cover: every record below it is applied.
    pub next_offset: u64,
    /// Timestamp of the record at `next_offset - 1`, to recognise the log.
    pub last_timestamp_us: u64,
    /// Item rows, by item number (order of first put).
    pub items: Items,
    /// Type names.
    pub types: Interner,
    /// Source names.
    pub sources: Interner,
    /// Tag names.
    pub tags: Interner,
    /// Tag sets.
    pub tagsets: TagSets,
    /// Dataset versions by name.
    pub datasets: HashMap<String, Vec<DatasetEntry>>,
    /// Children of each parent id (which need not exist): `(child item number, child version)`.
    pub children: Children,
    /// Committed offsets of consumer groups.
    pub consumer_offsets: HashMap<String, u64>,
    /// Offset of the record of each group's last commit, so that a commit
    /// of an unchanged offset can answer as the first did without a record.
    pub consumer_commit_records: HashMap<String, u64>,
    /// Counters.
    pub counters: Counters,
    /// `(offset, timestamp_us)` before which as-of reads are no longer
    /// exact, once a compaction dropped anything (see `prune.rs`).
    pub compaction_horizon: Option<(u64, u64)>,
    /// The query indices over `items`, kept in step with them.
    pub indices: Indices,
}

/// The views: persistent state plus the id index derived from it.
#[derive(Debug, Default)]
pub struct Views {
    /// What a checkpoint stores.
    pub state: ViewState,
    /// Item number of each id.
    ids: IdIndex,
    /// Whether `state.indices` is left behind until a bulk build (see
    /// [`Views::with_indices_deferred`]).
    indices_deferred: bool,
    /// A put's tag ids, kept between puts for its capacity.
    tag_ids_scratch: Vec<u32>,
    /// How many times a purge renumbered the items: a reader that kept item
    /// numbers across a release of the lock (a [`crate::store::QueryCursor`])
    /// must not use them once this moved.
    renumber_count: u64,
}

impl Views {
    /// The views of a state loaded from a checkpoint (or rebuilt after a
    /// purge): its indices must match its items.
    pub fn from_state(mut state: ViewState) -> Self {
        for interner in [&mut state.types, &mut state.sources, &mut state.tags] {
            interner.reindex();
        }
        state.tagsets.reindex();
        let item_count = state.items.len();
        let mut ids = IdIndex::with_capacity(item_count);
        for item_no in 0..item_count {
            ids.insert(&state.items, u32::try_from(item_no).expect("fewer than 4 billion items"));
        }
        Views { state, ids, indices_deferred: false, tag_ids_scratch: Vec::new(), renumber_count: 0 }
    }

    /// Runs `apply_all`, which applies up to `record_count` records, without
    /// keeping the query indices in step, then builds them once from the
    /// item table: for a replay of many records, a bulk build costs a
    /// fraction of keeping thousands of bitmaps up to date record by record.
    /// The indices are the same either way (a function of the item table),
    /// but for bits that the past bitmaps keep after a purge, which
    /// name candidates only (see `prune.rs`). The id index is sized for
    /// `record_count` new items first (up to [`REPLAY_ID_RESERVE_ITEMS_MAX`]), as
    /// growing it rehashes every id, and shrunk after if that left it far too large.
    pub fn with_indices_deferred<T>(&mut self, record_count: usize, apply_all: impl FnOnce(&mut Self) -> T) -> T {
        self.ids.reserve(&self.state.items, record_count.min(REPLAY_ID_RESERVE_ITEMS_MAX));
        self.indices_deferred = true;
        let result = apply_all(self);
        self.indices_deferred = false;
        self.ids.shrink_if_oversized(&self.state.items);
        self.state.indices = Indices::build(&self.state.items, &self.state.tagsets);
        result
    }

    /// The row of `id`, if the id was ever stored.
    pub fn item(&self, id: &str) -> Option<ItemRow<'_>> {
        self.item_number(id).map(|n| self.state.items.row(n))
    }

    /// Whether the put at `offset` is the version of `id` current below
    /// `bound`, with its data still in the log (not pruned by compaction).
    pub fn is_current_put(&self, id: &str, offset: u64, bound: u64) -> bool {
        self.item(id)
            .and_then(|row| row.last_before(bound).copied())
            .is_some_and(|event| event.offset == offset && !event.is_delete() && event.stored.pruned.is_none())
    }

    /// The item number of `id`, if the id was ever stored.
    pub fn item_number(&self, id: &str) -> Option<u32> {
        self.ids.get(&self.state.items, id)
    }

    /// The row of item number `item_no`.
    pub fn row(&self, item_no: u32) -> ItemRow<'_> {
        self.state.items.row(item_no)
    }

    /// How many times a purge renumbered the items since these views were
    /// built: item numbers read under one lock stay valid under a later one
    /// only while this is unchanged.
    pub fn renumber_count(&self) -> u64 {
        self.renumber_count
    }

    /// Whether the time index entry `(timestamp_us, item_no)` is the live
    /// item's latest version (the index keeps stale entries for a while).
    pub fn is_current_time(&self, timestamp_us: u64, item_no: u32) -> bool {
        let latest = self.state.items.latest(item_no);
        latest.item_state() == ItemState::Live && latest.timestamp_us == timestamp_us
    }

    /// Adds a live item's latest version to the current indices.
    fn index_item(&mut self, item_no: u32) {
        if self.indices_deferred {
            return;
        }
        let state = &mut self.state;
        state.indices.index_item(&state.tagsets, item_no, state.items.latest(item_no));
    }

    /// The counter of items in `state`.
    fn item_count_mut(&mut self, state: ItemState) -> &mut u64 {
        let counters = &mut self.state.counters;
        match state {
            ItemState::Live => &mut counters.items_live,
            ItemState::Expired => &mut counters.items_expired,
            ItemState::Deleted => &mut counters.items_deleted,
        }
    }

    /// Moves one item from the count of `from` to that of `to`.
    fn recount_item(&mut self, from: Option<ItemState>, to: Option<ItemState>) {
        if from == to {
            return;
        }
        if let Some(from) = from {
            let count = self.item_count_mut(from);
            *count = count.saturating_sub(1);
        }
        if let Some(to) = to {
            *self.item_count_mut(to) += 1;
        }
    }

    /// Removes a live item's latest version from the current indices.
    fn unindex_item(&mut self, item_no: u32) {
        if self.indices_deferred {
            return;
        }
        let state = &mut self.state;
        let latest = *state.items.latest(item_no);
        state.indices.unindex_item(&state.tagsets, &state.items, item_no, &latest);
    }
}
