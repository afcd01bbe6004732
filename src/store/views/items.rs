//! The item table: each item's id and events, by item number.
//!
//! Owns the per-item part of the view state, laid out for memory and for
//! queries at a million items. Ids live in one string buffer. Each item has
//! one row in a dense array: where its id lies (8 bytes) beside its latest
//! event, which is all a query reads: one row per hit, no pointer to chase.
//! Only items with more than one event (about a fifth of issue 3's
//! workload) get a heap block, in a side map, holding all their events; its
//! last entry is a copy of the dense one. Every change goes through this
//! type, which keeps the two copies equal.

use std::ops::{Deref, Range};

use hashbrown::HashMap;

use super::ItemEvent;

/// The full event lists of the items with more than one event.
pub type MultiEvents = HashMap<u32, Box<[ItemEvent]>>;

/// Ids and events of every item ever stored, by item number.
#[derive(Debug, Clone, Default)]
pub struct Items {
    /// Every id, one after the other.
    id_bytes: String,
    /// Each item's id span and latest event, by item number.
    rows: Vec<Row>,
    /// All events of the items with more than one, in offset order (empty
    /// only for a row a purge emptied, until the views renumber).
    multi: MultiEvents,
}

/// One item of the dense table. The span comes first and the row is
/// `repr(C)`, so that a hit's span, offset and version lie in the row's
/// first 32 bytes: one cache line for most rows, where a separate array of
/// id ends cost a line of its own.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct Row {
    id: IdSpan,
    latest: ItemEvent,
}

/// Where an id lies in `id_bytes`: its start in the high 48 bits, its
/// length in the low 16 (a put record stores an id's length as a u16).
#[derive(Debug, Clone, Copy)]
struct IdSpan(u64);

impl IdSpan {
    fn new(start: usize, len: usize) -> Option<Self> {
        let len = u16::try_from(len).ok()?;
        let start = u64::try_from(start).ok().filter(|&start| start < 1 << 48)?;
        Some(Self(start << 16 | u64::from(len)))
    }

    fn range(self) -> Range<usize> {
        #[allow(clippy::cast_possible_truncation, reason = "the start was a usize when it was packed")]
        let start = (self.0 >> 16) as usize;
        start..start + usize::from(self.0 as u16)
    }
}

/// A latest event's id, version and offset, borrowed from [`Items`].
#[derive(Debug, Clone, Copy)]
pub struct LatestHit<'a> {
    /// The id.
    pub id: &'a str,
    /// The version.
    pub version: u32,
    /// The offset.
    pub offset: u64,
}

/// One item's id and events, borrowed from [`Items`].
#[derive(Debug, Clone, Copy)]
pub struct ItemRow<'a> {
    /// The id.
    pub id: &'a str,
    /// Puts and deletes, in offset order. A delete carries the attributes
    /// of the version it ended, so the indices can drop exactly those.
    pub events: EventList<'a>,
}

/// An item's events, in offset order: a slice with a lifetime of its own.
#[derive(Debug, Clone, Copy)]
pub struct EventList<'a>(&'a [ItemEvent]);

impl<'a> EventList<'a> {
    /// The events as a slice that lives as long as the table borrow.
    pub fn as_slice(self) -> &'a [ItemEvent] {
        self.0
    }
}

impl Deref for EventList<'_> {
    type Target = [ItemEvent];

    fn deref(&self) -> &[ItemEvent] {
        self.0
    }
}

impl<'a> IntoIterator for &EventList<'a> {
    type Item = &'a ItemEvent;
    type IntoIter = std::slice::Iter<'a, ItemEvent>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'a> ItemRow<'a> {
    /// The latest event.
    pub fn last(&self) -> &'a ItemEvent {
        self.events.as_slice().last().expect("an item row is created by its first put")
    }

    /// The latest put.
    pub fn last_put(&self) -> Option<&'a ItemEvent> {
        self.events.as_slice().iter().rev().find(|e| !e.is_delete())
    }

    /// The put that created `version`.
    pub fn version(&self, version: u32) -> Option<&'a ItemEvent> {
        self.events.as_slice().iter().find(|e| e.version == version)
    }

    /// Whether the latest event is a put (its data may have expired).
    pub fn is_live(&self) -> bool {
        !self.last().is_delete()
    }

    /// The item's state by its latest event: live, expired or deleted.
    pub fn state(&self) -> super::ItemState {
        self.last().item_state()
    }

    /// The latest event below `next_offset`: the item's state as of then.
    pub fn last_before(&self, next_offset: u64) -> Option<&'a ItemEvent> {
        let events = self.events.as_slice();
        let count = events.partition_point(|e| e.offset < next_offset);
        count.checked_sub(1).map(|i| &events[i])
    }
}

impl Items {
    /// Number of items (rows), including deleted ones.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no item was ever stored.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The ids, versions and offsets of the latest events of `item_numbers`:
    /// a query's hits.
    ///
    /// A hit costs two cache misses in tables of megabytes: its row, then
    /// its id's bytes. Each pass here makes loads that do not depend on
    /// each other, so the CPU overlaps the misses of many hits; one pass
    /// doing both, or allocating between them, pays them one after the
    /// other. The first pass reads the rows, the second slices the ids (the
    /// char-boundary checks load their bytes), and the caller copies them
    /// from lines already cached. Rows replaced a separate array of id ends
    /// (a third miss): at 1,000,000 items a query of 10,267 hits got about
    /// 10% faster, in 8 of 10 interleaved runs.
    pub fn latest_hits(&self, item_numbers: &[u32]) -> Vec<LatestHit<'_>> {
        let gathered: Vec<(Range<usize>, u32, u64)> = item_numbers
            .iter()
            .map(|&n| {
                let row = &self.rows[n as usize];
                (row.id.range(), row.latest.version, row.latest.offset)
            })
            .collect();
        gathered
            .into_iter()
            .map(|(span, version, offset)| LatestHit { id: &self.id_bytes[span], version, offset })
            .collect()
    }

    /// The id of item `item_no`.
    pub fn id(&self, item_no: u32) -> &str {
        &self.id_bytes[self.rows[item_no as usize].id.range()]
    }

    /// The latest event of item `item_no`, read from the dense array.
    pub fn latest(&self, item_no: u32) -> &ItemEvent {
        &self.rows[item_no as usize].latest
    }

    /// The row of item `item_no`.
    pub fn row(&self, item_no: u32) -> ItemRow<'_> {
        let events = match self.multi.get(&item_no) {
            Some(events) => &events[..],
            None => std::slice::from_ref(&self.rows[item_no as usize].latest),
        };
        ItemRow { id: self.id(item_no), events: EventList(events) }
    }

    /// Every row, in item number order.
    pub fn iter(&self) -> impl Iterator<Item = ItemRow<'_>> {
        (0..self.len()).map(|n| self.row(u32::try_from(n).expect("fewer than 4 billion items")))
    }

    /// Adds a new item with its first event; returns its number.
    pub fn push(&mut self, id: &str, first: ItemEvent) -> u32 {
        let item_no = u32::try_from(self.len()).expect("fewer than 4 billion items");
        let span = IdSpan::new(self.id_bytes.len(), id.len()).expect("put records hold ids under 64 KiB");
        self.id_bytes.push_str(id);
        self.rows.push(Row { id: span, latest: first });
        item_no
    }

    /// Appends an event to item `item_no`; it becomes the latest.
    pub fn push_event(&mut self, item_no: u32, event: ItemEvent) {
        let latest = &mut self.rows[item_no as usize].latest;
        let events: Box<[ItemEvent]> = match self.multi.remove(&item_no) {
            // An exact-size block: most items that have a second event never get a third.
            Some(old) => old.iter().copied().chain([event]).collect(),
            None => Box::new([*latest, event]),
        };
        *latest = event;
        self.multi.insert(item_no, events);
    }

    /// Changes event `index` of item `item_no` through `change`, keeping the
    /// dense copy of the latest event equal to the list's last.
    pub fn update_event(&mut self, item_no: u32, index: usize, change: impl FnOnce(&mut ItemEvent)) {
        let latest = &mut self.rows[item_no as usize].latest;
        match self.multi.get_mut(&item_no) {
            Some(events) => {
                change(&mut events[index]);
                if index + 1 == events.len() {
                    *latest = events[index];
                }
            }
            None => {
                assert_eq!(index, 0, "an item without a side list has one event");
                change(latest);
            }
        }
    }

    /// Points the read hint of item `item_no`'s event at `offset` to
    /// `position_bytes`; does nothing if the item has no such event.
    pub fn set_position_hint(&mut self, item_no: u32, offset: u64, position_bytes: u64) {
        let found = self.row(item_no).events.binary_search_by_key(&offset, |e| e.offset);
        if let Ok(index) = found {
            let hint = u32::try_from(position_bytes).unwrap_or(u32::MAX);
            self.update_event(item_no, index, |event| event.position_bytes = hint);
        }
    }

    /// Removes the first `count` events of item `item_no` and returns them.
    /// Removing them all leaves an empty row, which the caller must drop by
    /// rebuilding the table (see `prune.rs`).
    pub fn remove_prefix(&mut self, item_no: u32, count: usize) -> Vec<ItemEvent> {
        let events = self.row(item_no).events.as_slice();
        assert!(count <= events.len(), "cannot remove {count} of {} events", events.len());
        let (removed, kept) = (events[..count].to_vec(), events[count..].to_vec());
        match kept.as_slice() {
            [only] => {
                self.rows[item_no as usize].latest = *only;
                self.multi.remove(&item_no);
            }
            _ => {
                if let Some(last) = kept.last() {
                    self.rows[item_no as usize].latest = *last;
                }
                self.multi.insert(item_no, kept.into_boxed_slice());
            }
        }
        removed
    }

    /// The table's parts, for a checkpoint: id bytes, id ends, latest
    /// events, and the full lists of the items with more than one event.
    pub fn parts(
        &self,
    ) -> (&str, impl ExactSizeIterator<Item = u64>, impl ExactSizeIterator<Item = &ItemEvent>, &MultiEvents) {
        let ends = self.rows.iter().map(|row| row.id.range().end as u64);
        (&self.id_bytes, ends, self.rows.iter().map(|row| &row.latest), &self.multi)
    }

    /// A table from the parts [`Items::parts`] gave, as (id end, latest
    /// event) per item, after checking that they fit together: ids on
    /// character boundaries and each side list ending with its latest event.
    pub fn from_parts(
        id_bytes: String,
        rows: impl ExactSizeIterator<Item = (u64, ItemEvent)>,
        multi: MultiEvents,
    ) -> Result<Self, String> {
        let mut table = Vec::with_capacity(rows.len());
        let mut start = 0;
        for (item_no, (end, latest)) in rows.enumerate() {
            let end_index = usize::try_from(end).map_err(|_| format!("item {item_no}: id end {end}"))?;
            if end_index < start || !id_bytes.is_char_boundary(end_index) {
                return Err(format!("item {item_no}: id end {end} is not a boundary after {start}"));
            }
            let id = IdSpan::new(start, end_index - start).ok_or_else(|| format!("item {item_no}: id over 64 KiB"))?;
            table.push(Row { id, latest });
            start = end_index;
        }
        for (&item_no, events) in &multi {
            let row = table.get(item_no as usize).ok_or_else(|| format!("event list of unknown item {item_no}"))?;
            if events.last() != Some(&row.latest) {
                return Err(format!("item {item_no}: event list does not end with its latest event"));
            }
        }
        Ok(Self { id_bytes, rows: table, multi })
    }
}

impl<'a> IntoIterator for &'a Items {
    type Item = ItemRow<'a>;
    type IntoIter = Box<dyn Iterator<Item = ItemRow<'a>> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::store::views::Stored;

    fn event(offset: u64, version: u32) -> ItemEvent {
        ItemEvent {
            offset,
            position_bytes: 0,
            timestamp_us: offset * 10,
            version,
            size_bytes: 1,
            type_id: 0,
            source_id: 0,
            tagset_id: 0,
            stored: Stored::default(),
        }
    }

    /// One step against the table and its model.
    #[derive(Debug, Clone)]
    enum Op {
        /// A new item with this id suffix.
        Push(u8),
        /// An event for the item at this index (modulo the item count).
        Event(usize),
        /// Remove this many events (modulo the row's length + 1) from an item.
        RemovePrefix(usize, usize),
        /// Change the position hint of one event of an item.
        Hint(usize, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            any::<u8>().prop_map(Op::Push),
            any::<usize>().prop_map(Op::Event),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::RemovePrefix(a, b)),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Hint(a, b)),
        ]
    }

    fn check(items: &Items, model: &[(String, Vec<ItemEvent>)]) {
        assert_eq!(items.len(), model.len());
        for (n, (id, events)) in model.iter().enumerate() {
            let row = items.row(n as u32);
            assert_eq!(row.id, id.as_str());
            assert_eq!(row.events.as_slice(), events.as_slice());
            if let Some(last) = events.last() {
                assert_eq!(items.latest(n as u32), last);
            }
        }
        if model.iter().any(|(_, events)| events.is_empty()) {
            // A purge's empty row is never checkpointed: the views renumber first.
            return;
        }
        let (bytes, ends, latest, multi) = items.parts();
        let rebuilt = Items::from_parts(bytes.to_string(), ends.zip(latest.copied()), multi.clone());
        let rebuilt = rebuilt.expect("the parts of a table fit together");
        assert_eq!(rebuilt.iter().map(|r| r.events.to_vec()).collect::<Vec<_>>(), items_events(items));
    }

    fn items_events(items: &Items) -> Vec<Vec<ItemEvent>> {
        items.iter().map(|r| r.events.to_vec()).collect()
    }

    proptest! {
        #[test]
        fn the_table_matches_a_vec_of_rows(ops in vec(op(), 1..120)) {
            let (mut items, mut model) = (Items::default(), Vec::<(String, Vec<ItemEvent>)>::new());
            let mut next_offset = 0;
            for op in ops {
                next_offset += 1;
                match op {
                    Op::Push(suffix) => {
                        let id = format!("id-{suffix}-é{}", model.len());
                        prop_assert_eq!(items.push(&id, event(next_offset, 1)) as usize, model.len());
                        model.push((id, vec![event(next_offset, 1)]));
                    }
                    Op::Event(i) if !model.is_empty() => {
                        let n = i % model.len();
                        if model[n].1.is_empty() {
                            continue;
                        }
                        let version = model[n].1.len() as u32 + 1;
                        items.push_event(n as u32, event(next_offset, version));
                        model[n].1.push(event(next_offset, version));
                    }
                    Op::RemovePrefix(i, count) if !model.is_empty() => {
                        let n = i % model.len();
                        let count = count % (model[n].1.len() + 1);
                        let removed = items.remove_prefix(n as u32, count);
                        let expected: Vec<ItemEvent> = model[n].1.drain(..count).collect();
                        prop_assert_eq!(removed, expected);
                    }
                    Op::Hint(i, j) if !model.is_empty() => {
                        let n = i % model.len();
                        if model[n].1.is_empty() {
                            continue;
                        }
                        let index = j % model[n].1.len();
                        let offset = model[n].1[index].offset;
                        items.set_position_hint(n as u32, offset, next_offset);
                        model[n].1[index].position_bytes = next_offset as u32;
                    }
                    _ => {}
                }
                check(&items, &model);
            }
        }
    }

    #[test]
    fn from_parts_refuses_an_id_end_inside_a_character() {
        let parts = Items::from_parts("é".to_string(), [(1, event(0, 1))].into_iter(), HashMap::new());
        assert!(parts.is_err());
    }

    #[test]
    fn from_parts_refuses_an_id_too_long_for_its_span() {
        let parts = Items::from_parts("a".repeat(1 << 16), [(1 << 16, event(0, 1))].into_iter(), HashMap::new());
        assert_eq!(parts.err().as_deref(), Some("item 0: id over 64 KiB"));
        let fits = Items::from_parts("a".repeat(u16::MAX.into()), [(65_535, event(0, 1))].into_iter(), HashMap::new());
        assert_eq!(fits.expect("an id of 65,535 bytes fits").id(0).len(), 65_535);
    }
}
