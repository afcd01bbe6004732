//! Imports that keep each version's number and time: `recstore import
//! --preserve` and the Python package's migration from the old store.
//!
//! Owns the checks that make such an import safe: versions only go up per
//! item, and times never go back (as-of reads by time rely on the log's
//! times being ordered). It skips the identical-content no-op of ordinary
//! puts, since a kept history may repeat content. It never rewrites what is
//! in the log: an import appends, like every write.

use std::collections::HashMap;

use super::Store;
use super::item::ItemRef;
use super::write::{NewItem, prepare_all};
use crate::error::{Error, Result};
use crate::log::NewRecord;
use crate::log::format_timestamp;
use crate::records::codec::{self, kind};

/// An item version to append as it was: its version number and time kept.
#[derive(Debug, Clone, PartialEq)]
pub struct PreservedItem {
    /// The content and metadata (with the id).
    pub item: NewItem,
    /// The version number to keep; above the item's latest.
    pub version: u32,
    /// The ingestion time to keep, microseconds since the epoch; not
    /// earlier than the store's last record or the previous item.
    pub timestamp_us: u64,
}

impl Store {
    /// Appends item versions with the numbers and times they were given, in
    /// order. Refused before anything is written if a version does not go
    /// above the item's latest one (in the store or earlier in `items`), or
    /// a time is earlier than the store's last record or the item before
    /// it. Consecutive items with one time share a log batch (a batch has
    /// one time), so a crash mid-call keeps a prefix of the batches.
    /// Versions skipped (e.g. ones the old store deleted) are gaps.
    pub fn put_preserved(&self, items: Vec<PreservedItem>) -> Result<Vec<ItemRef>> {
        let stamps: Vec<(u32, u64)> = items.iter().map(|p| (p.version, p.timestamp_us)).collect();
        let mut prepared = prepare_all(items.into_iter().map(|p| p.item).collect(), self.prepare_limits())?;
        let guard = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.check_preserved(&prepared, &stamps)?;
        for (item, (version, _)) in prepared.iter_mut().zip(&stamps) {
            codec::set_put_version(&mut item.payload, *version);
        }
        let mut refs = Vec::with_capacity(prepared.len());
        let mut start = 0;
        while start < prepared.len() {
            let timestamp_us = stamps[start].1;
            let end = start + stamps[start..].iter().take_while(|(_, t)| *t == timestamp_us).count();
            let records: Vec<NewRecord<'_>> = prepared[start..end]
                .iter()
                .map(|item| NewRecord { kind: kind::PUT, flags: item.flags, payload: &item.payload })
                .collect();
            let appended = self.log.append_pending_stamped(&records, timestamp_us)?;
            self.apply_appended(&records, &appended);
            let timestamp = format_timestamp(appended.timestamp_us);
            for (i, item) in prepared[start..end].iter().enumerate() {
                let (version, offset) = (stamps[start + i].0, appended.first_offset + i as u64);
                refs.push(ItemRef {
                    id: item.id.clone(),
                    version,
                    offset,
                    timestamp: timestamp.clone(),
                    created: true,
                });
            }
            start = end;
        }
        drop(guard);
        if let Some(last) = refs.last() {
            self.log.wait_durable(last.offset + 1)?;
            self.note_records_written(refs.len() as u64);
        }
        Ok(refs)
    }

    /// The checks of [`Store::put_preserved`]; holds the writer lock.
    fn check_preserved(&self, prepared: &[super::write::Prepared], stamps: &[(u32, u64)]) -> Result<()> {
        let mut latest: HashMap<&str, u32> = HashMap::new();
        let mut last_time_us = self.log.last_timestamp_us();
        let views = self.read_views();
        for (index, (item, &(version, timestamp_us))) in prepared.iter().zip(stamps).enumerate() {
            let before = match latest.get(item.id.as_str()) {
                Some(version) => *version,
                None => views.item(&item.id).and_then(|row| row.last_put().map(|e| e.version)).unwrap_or(0),
            };
            if version <= before {
                return Err(Error::invalid(format!(
                    "item {index} ({:?}) has version {version}, not above its version {before}: versions only go up; \
                     nothing was written",
                    item.id
                )));
            }
            if timestamp_us < last_time_us {
                return Err(Error::invalid(format!(
                    "item {index} ({:?}) has time {}, earlier than {} already in the store or before it: times \
                     never go back; nothing was written",
                    item.id,
                    format_timestamp(timestamp_us),
                    format_timestamp(last_time_us)
                )));
            }
            latest.insert(&item.id, version);
            last_time_us = timestamp_us;
        }
        Ok(())
    }
}
