//! Dataset pins: the item versions that compaction must keep because the
//! latest version of some dataset names them.
//!
//! Owns finding those versions (reading each dataset's latest record from
//! the log) for the `pinned` list of the compaction record
//! ([`crate::records::codec::CompactionRecord`]), which carries them to the
//! views. Only the latest version of each dataset name protects its
//! members: a member of an older dataset version is pruned like any other
//! version, and reads as pruned through that old dataset version.
//!
//! The pins go into the record rather than being worked out again when the
//! record is applied, for two reasons. The views keep no dataset members
//! (only their count), so a replay could not work them out without reading
//! the log. And a replay must decide as the live store did at the record's
//! offset, also for records written before pins existed, which list none.
//! Only pins that change the decision are listed: versions the policy would
//! otherwise drop. A pin of a version the policy keeps anyway changes
//! nothing, neither what is dropped nor what a purge removes.

use crate::error::{Error, Result};
use crate::limits::COMPACTION_PIN_CHUNK_IDS_MAX;
use crate::records::codec::{self, DatasetRecord};
use crate::records::retention::{self, Event, Policy};
use crate::store::Store;
use crate::store::views::DatasetEntry;

/// The pins one compaction honours, and what the views held when they
/// were gathered, to notice dataset versions written after that.
#[derive(Debug)]
pub(super) struct Pins {
    /// Sorted, without duplicates.
    pub pinned: Vec<(String, u32)>,
    dataset_version_count: u64,
    next_offset: u64,
}

impl Pins {
    /// Reads the members of each dataset's latest version and keeps those
    /// that `policy` would drop below `eligible_end`. Takes no lock of the
    /// store's writers.
    pub(super) fn gather(store: &Store, eligible_end: u64, policy: &Policy) -> Result<Self> {
        let (latest, dataset_version_count, next_offset) = {
            let views = store.read_views();
            let latest: Vec<DatasetEntry> = views.state.datasets.values().filter_map(|v| v.last().copied()).collect();
            (latest, views.state.counters.dataset_versions, views.state.next_offset)
        };
        let members = read_members(store, &latest)?;
        let pinned = that_matter(store, members, eligible_end, policy);
        Ok(Self { pinned, dataset_version_count, next_offset })
    }

    /// Adds the pins of dataset versions written since [`Pins::gather`].
    /// Call it holding the store's writer lock, just before appending the
    /// compaction record, so that no dataset version can slip in between.
    /// The pins of the versions they replaced stay: keeping a version a
    /// little longer is safe, and the record lists what was decided.
    pub(super) fn catch_up(&mut self, store: &Store, eligible_end: u64, policy: &Policy) -> Result<()> {
        let added: Vec<DatasetEntry> = {
            let views = store.read_views();
            if views.state.counters.dataset_versions == self.dataset_version_count {
                return Ok(());
            }
            let versions = views.state.datasets.values();
            versions.filter_map(|v| v.last().copied()).filter(|e| e.offset >= self.next_offset).collect()
        };
        let members = read_members(store, &added)?;
        self.pinned.extend(that_matter(store, members, eligible_end, policy));
        self.pinned.sort_unstable();
        self.pinned.dedup();
        Ok(())
    }
}

impl Pins {
    /// The horizon `items_horizon` (what the items' own drops imply) moved
    /// past the dataset versions whose pins this compaction drops. An older
    /// version of a dataset is what as-of reads see until the next one, so
    /// dropping one of its members means an exact read must see past the
    /// next version's record. Only versions superseded at or above the
    /// items' horizon can move it, and only their records are read.
    pub(super) fn horizon_with_datasets(
        &self,
        store: &Store,
        eligible_end: u64,
        policy: &Policy,
        items_horizon: Option<(u64, u64)>,
    ) -> Result<Option<(u64, u64)>> {
        let Some(mut horizon) = items_horizon else { return Ok(None) };
        let superseded: Vec<(DatasetEntry, DatasetEntry)> = {
            let views = store.read_views();
            let pairs = views.state.datasets.values().flat_map(|versions| versions.windows(2).map(|w| (w[0], w[1])));
            pairs.filter(|(_, next)| next.offset >= horizon.0).collect()
        };
        for (old, next) in superseded {
            let dropped = that_matter(store, read_members(store, &[old])?, eligible_end, policy);
            if dropped.iter().any(|member| self.pinned.binary_search(member).is_err()) {
                horizon = horizon.max((next.offset + 1, next.timestamp_us));
            }
        }
        Ok(Some(horizon))
    }
}

/// The members of the dataset versions at `entries`. A dataset record that
/// cannot be read fails the compaction: going on could prune what it pins.
fn read_members(store: &Store, entries: &[DatasetEntry]) -> Result<Vec<(String, u32)>> {
    let mut members = Vec::new();
    for entry in entries {
        let record = store.read_record(entry.offset, entry.position_bytes)?;
        let dataset: DatasetRecord =
            codec::decode_json(&record.payload).map_err(|detail| Error::BadRecord { offset: entry.offset, detail })?;
        members.extend(dataset.members);
    }
    Ok(members)
}

/// Of `members`, the versions `policy` would drop below `eligible_end` if
/// nothing were pinned, sorted and without duplicates. The views' read lock
/// is taken per chunk of ids.
fn that_matter(
    store: &Store,
    mut members: Vec<(String, u32)>,
    eligible_end: u64,
    policy: &Policy,
) -> Vec<(String, u32)> {
    members.sort_unstable();
    members.dedup();
    let by_id: Vec<&[(String, u32)]> = members.chunk_by(|a, b| a.0 == b.0).collect();
    let mut pinned = Vec::new();
    let mut events: Vec<Event> = Vec::new();
    for chunk in by_id.chunks(COMPACTION_PIN_CHUNK_IDS_MAX) {
        let views = store.read_views();
        for same_id in chunk {
            let id = &same_id[0].0;
            let Some(row) = views.item(id) else { continue };
            events.clear();
            events.extend(row.events.iter().map(Event::from));
            let fates = retention::decide(&events, &[], eligible_end, policy).fates;
            let dropped = |version: u32| events.iter().zip(&fates).any(|(e, f)| e.is_put_of(version) && f.is_some());
            pinned.extend(same_id.iter().filter(|(_, version)| dropped(*version)).cloned());
        }
    }
    pinned
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Data, Metadata, NewItem, StoreOptions};

    fn x(value: i64) -> NewItem {
        NewItem { data: Data::Json(value.into()), metadata: Metadata { id: Some("x".into()), ..Metadata::default() } }
    }

    #[test]
    fn catch_up_adds_the_pins_of_a_dataset_put_after_the_gather() -> std::result::Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let store = Store::open(dir.path(), StoreOptions::default())?;
        store.put_batch(vec![x(1)])?;
        let eligible_end = store.log().next_offset();
        let policy = Policy::keep_everything().cutoff_us(Some(u64::MAX)).expire(true);
        let mut pins = Pins::gather(&store, eligible_end, &policy)?;
        assert!(pins.pinned.is_empty(), "no dataset yet");
        pins.catch_up(&store, eligible_end, &policy)?;
        assert!(pins.pinned.is_empty(), "nothing was written since");
        // Storing x unchanged pins its current version, which expire would drop.
        let dataset = store.put_dataset("d", vec![x(1)], serde_json::Value::Null)?;
        assert!(!dataset.items[0].created);
        pins.catch_up(&store, eligible_end, &policy)?;
        assert_eq!(pins.pinned, [("x".to_string(), 1)]);
        Ok(())
    }
}
