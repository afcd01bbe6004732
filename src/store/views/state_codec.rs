//! The checkpoint body: the view state in columns, so a load is one pass
//! over the bytes with a handful of allocations, not two per item.
//!
//! Little-endian throughout. In order:
//! - `meta`: a u64 length, then postcard of the small, irregular parts
//!   (offsets, counters, interners, datasets, consumer offsets, horizon,
//!   lineage heads by name);
//! - ids: u64 byte length, the ids' UTF-8 bytes back to back, u64 item
//!   count, then each item's id end (u64);
//! - latest events: u64 count, then [`EVENT_SIZE_BYTES`] per event (layout
//!   in [`put_event`]);
//! - full event lists of items with more than one event: u64 count, then
//!   per item its number (u32), its event count (u32) and the events;
//! - lineage heads by parent item number: u64 count, u32 each;
//! - lineage links: u64 count, then child item number, child version and
//!   previous link (u32 each);
//! - the query indices (`indices.rs`): for the current and the past
//!   bitmaps, by type, source and tag in turn, a u64 bitmap count and each
//!   bitmap as a u64 size and roaring's own serialization; the live
//!   bitmap the same way; the time index as its times (u64 count, u64
//!   each), its item numbers (u64 count, u32 each) and its stale count (u64).
//!
//! Only the id index is rebuilt on load (`Views::from_state`).

use hashbrown::HashMap;
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use super::{
    ByAttribute, Children, Counters, DatasetEntry, Indices, Interner, ItemEvent, Items, Link, Stored, TagSets,
    TimeIndex, ViewState,
};
use crate::records::retention::Reason;

/// Bytes of one encoded event.
const EVENT_SIZE_BYTES: usize = 45;
/// Bytes of one encoded lineage link.
const LINK_SIZE_BYTES: usize = 12;

/// The parts of the state that are small or irregular, encoded with postcard.
#[derive(Serialize, Deserialize)]
struct Meta {
    next_offset: u64,
    last_timestamp_us: u64,
    types: Interner,
    sources: Interner,
    tags: Interner,
    tagsets: TagSets,
    datasets: std::collections::HashMap<String, Vec<DatasetEntry>>,
    consumer_offsets: std::collections::HashMap<String, u64>,
    consumer_commit_records: std::collections::HashMap<String, u64>,
    counters: Counters,
    compaction_horizon: Option<(u64, u64)>,
    children_by_name: Vec<(String, u32)>,
}

/// Encodes `state` as a checkpoint body.
pub fn encode(state: &ViewState) -> Result<Vec<u8>, String> {
    let (id_bytes, id_ends, latest, multi) = state.items.parts();
    let (heads, by_name, links) = state.children.parts();
    let meta = Meta {
        next_offset: state.next_offset,
        last_timestamp_us: state.last_timestamp_us,
        types: state.types.clone(),
        sources: state.sources.clone(),
        tags: state.tags.clone(),
        tagsets: state.tagsets.clone(),
        datasets: state.datasets.clone(),
        consumer_offsets: state.consumer_offsets.clone(),
        consumer_commit_records: state.consumer_commit_records.clone(),
        counters: state.counters.clone(),
        compaction_horizon: state.compaction_horizon,
        children_by_name: by_name.iter().map(|(name, &head)| (name.to_string(), head)).collect(),
    };
    let meta = postcard::to_stdvec(&meta).map_err(|e| format!("encoding the view state: {e}"))?;
    let multi_event_count: usize = multi.values().map(|events| events.len()).sum();
    let size_bytes = meta.len()
        + id_bytes.len()
        + 8 * id_ends.len()
        + EVENT_SIZE_BYTES * (latest.len() + multi_event_count)
        + 8 * multi.len()
        + 4 * heads.len()
        + LINK_SIZE_BYTES * links.len()
        + 8 * 8;
    let mut out = Vec::with_capacity(size_bytes);
    put_u64(&mut out, meta.len());
    out.extend_from_slice(&meta);
    put_u64(&mut out, id_bytes.len());
    out.extend_from_slice(id_bytes.as_bytes());
    put_u64(&mut out, id_ends.len());
    id_ends.for_each(|end| out.extend_from_slice(&end.to_le_bytes()));
    put_u64(&mut out, latest.len());
    latest.for_each(|event| put_event(&mut out, event));
    put_u64(&mut out, multi.len());
    for (&item_no, events) in multi {
        out.extend_from_slice(&item_no.to_le_bytes());
        let event_count =
            u32::try_from(events.len()).map_err(|_| format!("item {item_no} has over 4 billion events"))?;
        out.extend_from_slice(&event_count.to_le_bytes());
        events.iter().for_each(|event| put_event(&mut out, event));
    }
    put_u64(&mut out, heads.len());
    heads.iter().for_each(|head| out.extend_from_slice(&head.to_le_bytes()));
    put_u64(&mut out, links.len());
    for link in links {
        for field in [link.child_item_no, link.child_version, link.previous] {
            out.extend_from_slice(&field.to_le_bytes());
        }
    }
    put_indices(&mut out, &state.indices)?;
    Ok(out)
}

fn put_indices(out: &mut Vec<u8>, indices: &Indices) -> Result<(), String> {
    for bitmaps in indices.current.groups().into_iter().chain(indices.past.groups()) {
        put_u64(out, bitmaps.len());
        for bitmap in bitmaps {
            put_bitmap(out, bitmap)?;
        }
    }
    put_bitmap(out, &indices.live)?;
    let (times_us, item_nos, stale_count) = indices.by_time.parts();
    put_u64(out, times_us.len());
    times_us.iter().for_each(|time_us| out.extend_from_slice(&time_us.to_le_bytes()));
    put_u64(out, item_nos.len());
    item_nos.iter().for_each(|item_no| out.extend_from_slice(&item_no.to_le_bytes()));
    put_u64(out, stale_count);
    Ok(())
}

fn put_bitmap(out: &mut Vec<u8>, bitmap: &RoaringBitmap) -> Result<(), String> {
    put_u64(out, bitmap.serialized_size());
    bitmap.serialize_into(&mut *out).map_err(|e| format!("encoding a bitmap: {e}"))
}

/// The inverse of [`put_indices`], checking that no bitmap names an item
/// at or past `item_count`.
fn get_indices(reader: &mut Reader<'_>, item_count: usize) -> Result<Indices, String> {
    let mut groups = Vec::with_capacity(6);
    for _ in 0..6 {
        let bitmap_count = reader.count(8)?;
        let bitmaps = (0..bitmap_count).map(|_| get_bitmap(reader, item_count)).collect::<Result<Vec<_>, _>>()?;
        groups.push(bitmaps);
    }
    let live = get_bitmap(reader, item_count)?;
    let times_us = reader.column(8, |bytes| u64::from_le_bytes(array(bytes)))?;
    let item_nos = reader.column(4, |bytes| u32::from_le_bytes(array(bytes)))?;
    if let Some(item_no) = item_nos.iter().find(|&&n| n as usize >= item_count) {
        return Err(format!("time index names item {item_no} of {item_count}"));
    }
    let stale_count = reader.count(0)?;
    let by_time = TimeIndex::from_parts(times_us, item_nos, stale_count)?;
    let mut groups = groups.into_iter();
    let mut by_attribute = || ByAttribute {
        by_type: groups.next().unwrap_or_default(),
        by_source: groups.next().unwrap_or_default(),
        by_tag: groups.next().unwrap_or_default(),
    };
    let current = by_attribute();
    let past = by_attribute();
    Ok(Indices { current, live, by_time, past })
}

fn get_bitmap(reader: &mut Reader<'_>, item_count: usize) -> Result<RoaringBitmap, String> {
    let size_bytes = reader.count(1)?;
    let bitmap = RoaringBitmap::deserialize_from(reader.take(size_bytes)?).map_err(|e| format!("a bitmap: {e}"))?;
    match bitmap.max() {
        Some(max) if max as usize >= item_count => Err(format!("a bitmap names item {max} of {item_count}")),
        _ => Ok(bitmap),
    }
}

/// Decodes a checkpoint body; any inconsistency is an error (the caller
/// then rebuilds the views from the log).
pub fn decode(body: &[u8]) -> Result<ViewState, String> {
    let mut reader = Reader { bytes: body, position_bytes: 0 };
    let meta_size_bytes = reader.count(1)?;
    let meta: Meta = postcard::from_bytes(reader.take(meta_size_bytes)?).map_err(|e| e.to_string())?;
    let id_size_bytes = reader.count(1)?;
    let id_bytes = String::from_utf8(reader.take(id_size_bytes)?.to_vec()).map_err(|e| format!("ids: {e}"))?;
    let id_ends = reader.column_bytes(8)?;
    let latest = reader.column_bytes(EVENT_SIZE_BYTES)?;
    let item_count = id_ends.len() / 8;
    if latest.len() / EVENT_SIZE_BYTES != item_count {
        return Err(format!("{item_count} ids but {} latest events", latest.len() / EVENT_SIZE_BYTES));
    }
    let multi_count = reader.count(8)?;
    let mut multi = HashMap::with_capacity(multi_count);
    for _ in 0..multi_count {
        let item_no = u32::from_le_bytes(array(reader.take(4)?));
        let event_count = u32::from_le_bytes(array(reader.take(4)?)) as usize;
        let events = reader.take_checked(event_count, EVENT_SIZE_BYTES)?;
        let events: Box<[ItemEvent]> = events.chunks_exact(EVENT_SIZE_BYTES).map(get_event).collect();
        if events.len() < 2 || multi.insert(item_no, events).is_some() {
            return Err(format!("item {item_no}: a second or too short event list"));
        }
    }
    let heads = reader.column(4, |bytes| u32::from_le_bytes(array(bytes)))?;
    let links = reader.column(LINK_SIZE_BYTES, |bytes| Link {
        child_item_no: u32::from_le_bytes(array(&bytes[0..4])),
        child_version: u32::from_le_bytes(array(&bytes[4..8])),
        previous: u32::from_le_bytes(array(&bytes[8..12])),
    })?;
    let indices = get_indices(&mut reader, item_count)?;
    if reader.position_bytes != body.len() {
        return Err(format!("{} bytes after the last column", body.len() - reader.position_bytes));
    }
    let by_name = meta.children_by_name.into_iter().map(|(name, head)| (name.into_boxed_str(), head)).collect();
    Ok(ViewState {
        next_offset: meta.next_offset,
        last_timestamp_us: meta.last_timestamp_us,
        items: Items::from_parts(id_bytes, rows(id_ends, latest), multi)?,
        types: meta.types,
        sources: meta.sources,
        tags: meta.tags,
        tagsets: meta.tagsets,
        datasets: meta.datasets,
        children: Children::from_parts(heads, by_name, links)?,
        consumer_offsets: meta.consumer_offsets,
        consumer_commit_records: meta.consumer_commit_records,
        counters: meta.counters,
        compaction_horizon: meta.compaction_horizon,
        indices,
    })
}

fn put_u64(out: &mut Vec<u8>, value: usize) {
    out.extend_from_slice(&(value as u64).to_le_bytes());
}

/// offset (u64), position hint (u32), timestamp (u64), version, data size,
/// type id, source id, tag set id, stored size (u32 each), pruned reason
/// code (u8, 0 for none).
/// The (id end, latest event) of each item, decoded from their two columns
/// in one pass, so that the table is built without a copy of either.
fn rows<'a>(id_ends: &'a [u8], latest: &'a [u8]) -> impl ExactSizeIterator<Item = (u64, ItemEvent)> + 'a {
    let ends = id_ends.chunks_exact(8).map(|bytes| u64::from_le_bytes(array(bytes)));
    ends.zip(latest.chunks_exact(EVENT_SIZE_BYTES).map(get_event))
}

fn put_event(out: &mut Vec<u8>, event: &ItemEvent) {
    out.extend_from_slice(&event.offset.to_le_bytes());
    out.extend_from_slice(&event.position_bytes.to_le_bytes());
    out.extend_from_slice(&event.timestamp_us.to_le_bytes());
    for field in [event.version, event.size_bytes, event.type_id, event.source_id, event.tagset_id] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(&event.stored.size_bytes.to_le_bytes());
    out.push(event.stored.pruned.map_or(0, Reason::code));
}

/// The inverse of [`put_event`]; `bytes` is [`EVENT_SIZE_BYTES`] long. An
/// unknown reason code reads as "pruned for retention": the data is gone
/// either way, and the reason only labels reports.
fn get_event(bytes: &[u8]) -> ItemEvent {
    let u32_at = |at: usize| u32::from_le_bytes(array(&bytes[at..at + 4]));
    let pruned = match bytes[44] {
        0 => None,
        code => Some(Reason::from_code(code).unwrap_or(Reason::Retention)),
    };
    ItemEvent {
        offset: u64::from_le_bytes(array(&bytes[0..8])),
        position_bytes: u32_at(8),
        timestamp_us: u64::from_le_bytes(array(&bytes[12..20])),
        version: u32_at(20),
        size_bytes: u32_at(24),
        type_id: u32_at(28),
        source_id: u32_at(32),
        tagset_id: u32_at(36),
        stored: Stored { size_bytes: u32_at(40), pruned },
    }
}

/// The first `N` bytes of `bytes`, which the caller sized.
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

/// A cursor over the body that never reads past its end.
struct Reader<'a> {
    bytes: &'a [u8],
    position_bytes: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, size_bytes: usize) -> Result<&'a [u8], String> {
        let end = self.position_bytes.checked_add(size_bytes).filter(|&end| end <= self.bytes.len());
        let end =
            end.ok_or_else(|| format!("{size_bytes} bytes wanted at byte {}, past the end", self.position_bytes))?;
        let taken = &self.bytes[self.position_bytes..end];
        self.position_bytes = end;
        Ok(taken)
    }

    /// A u64 count of elements of at least `element_size_bytes` each,
    /// refused if that many could not fit in the rest of the body (so a
    /// bad count cannot make us allocate).
    fn count(&mut self, element_size_bytes: usize) -> Result<usize, String> {
        let count = u64::from_le_bytes(array(self.take(8)?));
        let remaining = (self.bytes.len() - self.position_bytes) as u64;
        if count.saturating_mul(element_size_bytes as u64) > remaining {
            return Err(format!("count {count} at byte {} exceeds the body", self.position_bytes - 8));
        }
        usize::try_from(count).map_err(|_| format!("count {count}"))
    }

    fn take_checked(&mut self, count: usize, element_size_bytes: usize) -> Result<&'a [u8], String> {
        let size_bytes = count.checked_mul(element_size_bytes).ok_or_else(|| format!("count {count}"))?;
        self.take(size_bytes)
    }

    /// A count, then that many fixed-size elements, each decoded by `decode`.
    fn column<T>(&mut self, element_size_bytes: usize, decode: impl Fn(&[u8]) -> T) -> Result<Vec<T>, String> {
        Ok(self.column_bytes(element_size_bytes)?.chunks_exact(element_size_bytes).map(decode).collect())
    }

    /// A count, then the bytes of that many fixed-size elements.
    fn column_bytes(&mut self, element_size_bytes: usize) -> Result<&'a [u8], String> {
        let count = self.count(element_size_bytes)?;
        self.take_checked(count, element_size_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_roundtrips_with_every_field_distinct() {
        let event = ItemEvent {
            offset: 0x0102_0304_0506_0708,
            position_bytes: 9,
            timestamp_us: 0x1112_1314_1516_1718,
            version: 19,
            size_bytes: 20,
            type_id: 21,
            source_id: 22,
            tagset_id: 23,
            stored: Stored { size_bytes: 24, pruned: Some(Reason::Expired) },
        };
        let mut bytes = Vec::new();
        put_event(&mut bytes, &event);
        assert_eq!(bytes.len(), EVENT_SIZE_BYTES);
        assert_eq!(get_event(&bytes), event);
    }

    #[test]
    fn a_truncated_body_is_an_error() -> Result<(), String> {
        let mut state = ViewState::default();
        let event = get_event(&[0; EVENT_SIZE_BYTES]);
        let item_no = state.items.push("a", event);
        state.items.push_event(item_no, ItemEvent { offset: 1, ..event });
        state.children.add_to_name("p", item_no, 1);
        let body = encode(&state)?;
        let decoded = decode(&body)?;
        assert_eq!(decoded.items.row(0).events.len(), 2);
        assert_eq!(decoded.children.of_name("p"), vec![(0, 1)]);
        for cut in 0..body.len() {
            assert!(decode(&body[..cut]).is_err(), "a body cut at {cut} bytes decodes");
        }
        Ok(())
    }
}
