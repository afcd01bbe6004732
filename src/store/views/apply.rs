//! Applying one log record to the views: the only way views change.

use super::{DatasetEntry, ItemEvent, ItemState, NONE, Stored, Views};
use crate::log::RecordRef;
use crate::records::IndexedFields;
use crate::records::codec::{self, ConsumerCommitRecord, ConsumerDeleteRecord, DatasetRecord, DeleteRecord, kind};
use crate::store::item::ParentRef;

/// A position as a read hint; `u32::MAX` (a hint that never matches) past 4 GiB.
fn hint(position_bytes: u64) -> u32 {
    u32::try_from(position_bytes).unwrap_or(u32::MAX)
}

impl Views {
    /// Applies the record at `position_bytes`. Records must come in offset
    /// order; a record that breaks a view invariant is an error and changes nothing.
    pub fn apply(&mut self, record: RecordRef<'_>, position_bytes: u64) -> Result<(), String> {
        assert!(
            record.offset >= self.state.next_offset,
            "records are applied in offset order: got {} after {}",
            record.offset,
            self.state.next_offset
        );
        match record.kind {
            kind::PUT => {
                self.apply_put(record, position_bytes)?;
            }
            kind::DELETE => self.apply_delete(record, position_bytes)?,
            kind::DATASET => self.apply_dataset(record, position_bytes)?,
            kind::AUDIT_STUB | kind::COMPACTION => self.apply_compaction_kinds(record, position_bytes)?,
            kind::CONSUMER_COMMIT => {
                let commit: ConsumerCommitRecord = codec::decode_json(record.payload)?;
                self.state.consumer_commit_records.insert(commit.group.clone(), record.offset);
                self.state.consumer_offsets.insert(commit.group, commit.offset);
            }
            kind::CONSUMER_DELETE => {
                let deleted: ConsumerDeleteRecord = codec::decode_json(record.payload)?;
                self.state.consumer_commit_records.remove(&deleted.group);
                self.state.consumer_offsets.remove(&deleted.group);
            }
            other => {
                tracing::debug!(offset = record.offset, kind = other, "skipping a record of unknown kind");
                self.state.counters.unknown_records += 1;
            }
        }
        self.state.next_offset = record.offset + 1;
        self.state.last_timestamp_us = record.timestamp_us;
        Ok(())
    }

    /// Applies a put, or (called from `prune.rs`) an audit stub, whose
    /// payload starts like a put's. Returns the item's number.
    pub(super) fn apply_put(&mut self, record: RecordRef<'_>, position_bytes: u64) -> Result<u32, String> {
        let put = codec::decode_put(record.payload)?;
        let fields = IndexedFields::parse(&put.metadata_json)?;
        let parent_ids = fields
            .parents
            .iter()
            .map(|p| ParentRef::parse_borrowed(p).map(|(id, _)| id).map_err(|e| e.to_string()))
            .collect::<Result<Vec<&str>, _>>()?;
        let existing = self.item_number(put.id);
        let expected = existing.map_or(1, |n| self.row(n).last_put().map_or(1, |e| e.version + 1));
        // A version above the next one is a gap that a purging compaction
        // left (segments-format.md, "Compaction"); one below it is a bug.
        if put.version < expected {
            return Err(format!("put of {:?} has version {} but the next version is {expected}", put.id, put.version));
        }
        let was = existing.map(|n| self.state.items.latest(n).item_state());
        if let (Some(item_no), Some(ItemState::Live)) = (existing, was) {
            self.unindex_item(item_no);
        }
        let type_id = fields.item_type.as_deref().map_or(NONE, |t| self.state.types.intern(t));
        let source_id = fields.source_id.as_deref().map_or(NONE, |s| self.state.sources.intern(s));
        let mut tag_ids = std::mem::take(&mut self.tag_ids_scratch);
        tag_ids.clear();
        tag_ids.extend(fields.tags.iter().map(|t| self.state.tags.intern(t)));
        let tagset_id = self.state.tagsets.intern(&mut tag_ids);
        self.tag_ids_scratch = tag_ids;
        let event = ItemEvent {
            offset: record.offset,
            position_bytes: hint(position_bytes),
            timestamp_us: record.timestamp_us,
            version: put.version,
            size_bytes: put.data_size_bytes,
            type_id,
            source_id,
            tagset_id,
            stored: Stored { size_bytes: u32::try_from(record.payload.len()).unwrap_or(u32::MAX), pruned: None },
        };
        let item_no = match existing {
            Some(item_no) => {
                self.state.items.push_event(item_no, event);
                item_no
            }
            None => self.new_item(put.id, event),
        };
        for parent_id in parent_ids {
            match self.item_number(parent_id) {
                Some(parent_no) => self.state.children.add_to_item(parent_no, item_no, put.version),
                None => self.state.children.add_to_name(parent_id, item_no, put.version),
            }
        }
        self.index_item(item_no);
        let counters = &mut self.state.counters;
        counters.versions += 1;
        counters.logical_bytes += u64::from(put.data_size_bytes);
        counters.stored_bytes += record.payload.len() as u64;
        self.recount_item(was, Some(ItemState::Live));
        Ok(item_no)
    }

    fn apply_delete(&mut self, record: RecordRef<'_>, position_bytes: u64) -> Result<(), String> {
        let delete: DeleteRecord = codec::decode_json(record.payload)?;
        let Some(item_no) = self.item_number(&delete.id) else {
            return Err(format!("delete of unknown item {:?}", delete.id));
        };
        let was = self.row(item_no).state();
        match was {
            ItemState::Deleted => return Err(format!("delete of item {:?}, which is already deleted", delete.id)),
            ItemState::Live => self.unindex_item(item_no),
            // Expiry took it out of the indices already.
            ItemState::Expired => {}
        }
        let ended = *self.state.items.latest(item_no);
        self.state.items.push_event(
            item_no,
            ItemEvent {
                offset: record.offset,
                position_bytes: hint(position_bytes),
                timestamp_us: record.timestamp_us,
                version: 0,
                size_bytes: 0,
                stored: Stored { size_bytes: u32::try_from(record.payload.len()).unwrap_or(u32::MAX), pruned: None },
                ..ended
            },
        );
        self.state.counters.deletes += 1;
        self.recount_item(Some(was), Some(ItemState::Deleted));
        Ok(())
    }

    fn apply_dataset(&mut self, record: RecordRef<'_>, position_bytes: u64) -> Result<(), String> {
        let dataset: DatasetRecord = codec::decode_json(record.payload)?;
        let versions = self.state.datasets.entry(dataset.name.clone()).or_default();
        let expected = versions.last().map_or(1, |v| v.version + 1);
        if dataset.version != expected {
            return Err(format!("dataset {:?} version {} but the next is {expected}", dataset.name, dataset.version));
        }
        versions.push(DatasetEntry {
            version: dataset.version,
            offset: record.offset,
            position_bytes,
            timestamp_us: record.timestamp_us,
            member_count: u32::try_from(dataset.members.len()).unwrap_or(u32::MAX),
        });
        self.state.counters.dataset_versions += 1;
        Ok(())
    }

    /// Adds a new item with its first event, to the id index too, and
    /// gives it the children that named its id before it existed.
    fn new_item(&mut self, id: &str, first: ItemEvent) -> u32 {
        let item_no = self.state.items.push(id, first);
        self.ids.insert(&self.state.items, item_no);
        self.state.children.adopt(id, item_no);
        item_no
    }
}
