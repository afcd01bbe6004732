//! The time index: live items by the timestamp of their latest version.
//!
//! Log timestamps never decrease, so entries are appended in time order
//! and the index is two sorted arrays (12 bytes an entry) instead of a
//! `BTreeSet<(u64, u32)>` (about 28 bytes an item). A new version does not
//! remove its item's old entry, which would shift the arrays: the old entry
//! goes stale, and readers keep only entries that still match the item's
//! latest event (see `Views::is_current_time`). Once stale entries
//! outnumber current ones, a compaction drops them, so the arrays stay
//! under twice the live item count and appends stay amortized O(1).

use roaring::RoaringBitmap;

/// Below this many entries, stale ones are never compacted away.
const COMPACT_ENTRY_COUNT_MIN: usize = 1024;

/// `(timestamp, item number)` entries in timestamp order.
#[derive(Debug, Clone, Default)]
pub struct TimeIndex {
    times_us: Vec<u64>,
    item_nos: Vec<u32>,
    /// Entries that no longer match their item's latest event.
    stale_count: usize,
}

impl TimeIndex {
    /// An index of `entries`, sorted here.
    pub fn from_entries(mut entries: Vec<(u64, u32)>) -> Self {
        entries.sort_unstable();
        let (times_us, item_nos) = entries.into_iter().unzip();
        Self { times_us, item_nos, stale_count: 0 }
    }

    /// The index's parts, for a checkpoint: times, item numbers and the
    /// count of stale entries.
    pub fn parts(&self) -> (&[u64], &[u32], usize) {
        (&self.times_us, &self.item_nos, self.stale_count)
    }

    /// An index from the parts [`TimeIndex::parts`] gave, after checking
    /// that they fit together and the times are in order.
    pub fn from_parts(times_us: Vec<u64>, item_nos: Vec<u32>, stale_count: usize) -> Result<Self, String> {
        if times_us.len() != item_nos.len() || stale_count > times_us.len() {
            return Err(format!(
                "time index of {} times, {} items, {stale_count} stale",
                times_us.len(),
                item_nos.len()
            ));
        }
        if times_us.windows(2).any(|pair| pair[0] > pair[1]) {
            return Err("time index out of order".to_string());
        }
        Ok(Self { times_us, item_nos, stale_count })
    }

    /// Number of entries, stale ones included.
    pub fn len(&self) -> usize {
        self.times_us.len()
    }

    /// Whether the index has no entries.
    pub fn is_empty(&self) -> bool {
        self.times_us.is_empty()
    }

    /// Adds item `item_no`'s latest version, stored at `timestamp_us`.
    pub fn push(&mut self, timestamp_us: u64, item_no: u32) {
        if self.times_us.last().is_none_or(|&last| last <= timestamp_us) {
            self.times_us.push(timestamp_us);
            self.item_nos.push(item_no);
            return;
        }
        // Only a log whose clock went backwards gets here; keep the order.
        let index = self.times_us.partition_point(|&t| t <= timestamp_us);
        self.times_us.insert(index, timestamp_us);
        self.item_nos.insert(index, item_no);
    }

    /// Notes that one entry no longer matches its item; returns whether
    /// the stale entries now outnumber the current ones, and the caller
    /// should [`TimeIndex::compact`].
    pub fn mark_stale(&mut self) -> bool {
        self.stale_count += 1;
        self.len() >= COMPACT_ENTRY_COUNT_MIN && self.stale_count * 2 > self.len()
    }

    /// Keeps the entries `is_current` accepts, each `(time, item)` once.
    pub fn compact(&mut self, is_current: impl Fn(u64, u32) -> bool) {
        let mut seen = RoaringBitmap::new();
        let mut kept = 0;
        for index in 0..self.len() {
            let (time_us, item_no) = (self.times_us[index], self.item_nos[index]);
            // An item has one current entry; a second equal one (two versions
            // in one batch) would be a duplicate, and anything else is stale.
            if is_current(time_us, item_no) && seen.insert(item_no) {
                self.times_us[kept] = time_us;
                self.item_nos[kept] = item_no;
                kept += 1;
            }
        }
        self.times_us.truncate(kept);
        self.item_nos.truncate(kept);
        self.stale_count = 0;
    }

    /// Entries with `since_us <= time < until_us`, stale ones included.
    pub fn between(&self, since_us: u64, until_us: u64) -> impl Iterator<Item = (u64, u32)> + '_ {
        let start = self.times_us.partition_point(|&t| t < since_us);
        let end = self.times_us.partition_point(|&t| t < until_us).max(start);
        (start..end).map(|index| (self.times_us[index], self.item_nos[index]))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Updates and removals against a `BTreeSet` of current entries.
        #[test]
        fn current_entries_match_a_set(ops in vec((0u32..40, 0u64..4, any::<bool>()), 1..1500)) {
            let (mut index, mut model) = (TimeIndex::default(), BTreeSet::<(u64, u32)>::new());
            let mut current: Vec<Option<u64>> = vec![None; 40];
            let mut now_us = 0;
            for (item_no, step_us, remove) in ops {
                now_us += step_us;
                if let Some(old) = current[item_no as usize].take() {
                    model.remove(&(old, item_no));
                    if index.mark_stale() {
                        index.compact(|t, n| current[n as usize] == Some(t));
                    }
                }
                if !remove {
                    index.push(now_us, item_no);
                    model.insert((now_us, item_no));
                    current[item_no as usize] = Some(now_us);
                }
                let (since, until) = (now_us / 2, now_us + 1);
                let got: BTreeSet<(u64, u32)> =
                    index.between(since, until).filter(|&(t, n)| current[n as usize] == Some(t)).collect();
                let expected: BTreeSet<(u64, u32)> = model.range((since, 0)..(until, 0)).copied().collect();
                prop_assert_eq!(got, expected);
                // The entry that reaches the minimum is the last one before a compaction.
                prop_assert!(index.len() <= (2 * model.len() + 2).max(COMPACT_ENTRY_COUNT_MIN + 1));
            }
        }
    }

    #[test]
    fn an_earlier_time_is_inserted_in_order() {
        let mut index = TimeIndex::default();
        for (time_us, item_no) in [(5, 0), (9, 1), (7, 2)] {
            index.push(time_us, item_no);
        }
        assert_eq!(index.between(0, 100).collect::<Vec<_>>(), vec![(5, 0), (7, 2), (9, 1)]);
    }
}
