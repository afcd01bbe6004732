//! The read path: items, versions, metadata, history, datasets, lineage, stats.
//!
//! Views say which record holds the answer; the log supplies its bytes.
//! No read holds the views lock while it touches the log.

use std::collections::{BTreeMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::Store;
use super::item::{Data, ItemMeta, Metadata, ParentRef};
use super::views::{ItemEvent, ItemState, Views};
use crate::error::{Error, Result};
use crate::log::format_timestamp;
use crate::records::codec::{self, DataKind, DatasetRecord};

/// The bound that sees every applied record: reads of the latest state.
pub(crate) const LATEST: u64 = u64::MAX;

/// One item version's data, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemData {
    /// The id.
    pub id: String,
    /// The version.
    pub version: u32,
    /// Offset of its record.
    pub offset: u64,
    /// Ingestion time in microseconds.
    pub timestamp_us: u64,
    /// `application/json` for JSON data, else the stored content type.
    pub content_type: String,
    /// Whether the bytes are JSON.
    pub is_json: bool,
    /// The data bytes exactly as stored (compact JSON, or raw bytes).
    pub bytes: Vec<u8>,
}

impl ItemData {
    /// Parses JSON data.
    pub fn json(&self) -> Result<serde_json::Value> {
        if !self.is_json {
            return Err(Error::invalid(format!("item {:?} holds {} bytes, not JSON", self.id, self.content_type)));
        }
        serde_json::from_slice(&self.bytes).map_err(|e| Error::BadRecord { offset: self.offset, detail: e.to_string() })
    }

    /// The data as [`Data`].
    pub fn to_data(&self) -> Result<Data> {
        if self.is_json {
            return self.json().map(Data::Json);
        }
        Ok(Data::Bytes { bytes: self.bytes.clone(), content_type: self.content_type.clone() })
    }
}

/// One event of an item's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    /// The item's id.
    pub id: String,
    /// `put` or `delete`.
    pub event: String,
    /// The version a put created, or the version a delete ended.
    pub version: u32,
    /// Offset of the record.
    pub offset: u64,
    /// Ingestion time.
    pub timestamp: String,
    /// Data size of a put.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Set when compaction dropped this put's data (its metadata stays), so
    /// a reader knows which versions can be read without trying each; null
    /// for a readable put and for a delete.
    pub pruned: Option<PrunedMark>,
}

/// A consumer group as `recstore groups` and `GET /v1/consumers` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsumerGroup {
    /// The group's name.
    pub group: String,
    /// Its committed offset: the next record it will read.
    pub offset: u64,
    /// Records in the log from its committed offset on (its own commits
    /// included): how far behind the log it is.
    pub lag: u64,
}

/// Why and when compaction dropped a version's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PrunedMark {
    /// `max_versions`, `retention`, `expired` or `deleted`.
    pub reason: String,
    /// The compaction horizon: as-of reads are exact from
    /// `@(horizon_offset - 1)` on.
    pub horizon_offset: u64,
}

/// A dataset version with its pinned members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// The name.
    pub name: String,
    /// The version.
    pub version: u32,
    /// Offset of its record.
    pub offset: u64,
    /// Ingestion time.
    pub timestamp: String,
    /// Free-form description.
    pub info: serde_json::Value,
    /// Each member as `(id, version)`.
    pub members: Vec<(String, u32)>,
}

/// A line of `list_datasets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DatasetSummary {
    /// The name.
    pub name: String,
    /// The latest version.
    pub version: u32,
    /// Items in the latest version.
    pub item_count: u32,
    /// Offset of the latest version's record.
    pub offset: u64,
    /// Ingestion time of the latest version.
    pub timestamp: String,
}

/// Which way a lineage walk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Towards parents (ancestors).
    Up,
    /// Towards children (descendants).
    Down,
}

/// One item version reached by a lineage walk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LineageEntry {
    /// The id reached.
    pub id: String,
    /// Its version (for `Up`, the pinned version or the one current when the
    /// child was stored); `None` if the id was never stored.
    pub version: Option<u32>,
    /// Steps from the start.
    pub depth: u32,
    /// The id it was reached from.
    pub from: String,
}

/// Counts kept by the views and the log, without a rescan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoreStats {
    /// Items whose latest event is a put that still has its data.
    pub items_live: u64,
    /// Items whose latest event is a delete.
    pub items_deleted: u64,
    /// Items whose current version `compact --expire` pruned: gone from
    /// queries and from `items_live`, as deleted items are.
    pub items_expired: u64,
    /// Item versions stored.
    pub versions: u64,
    /// Delete records.
    pub deletes: u64,
    /// Sum of data sizes of all versions.
    pub logical_bytes: u64,
    /// Sum of put payloads as stored (after compression).
    pub stored_bytes: u64,
    /// Bytes of all segment files.
    pub log_bytes: u64,
    /// Segment files.
    pub segment_count: usize,
    /// First offset the log holds.
    pub first_offset: u64,
    /// Offset the next record will get.
    pub next_offset: u64,
    /// Datasets (names).
    pub datasets: usize,
    /// Dataset versions.
    pub dataset_versions: u64,
    /// Live items by type.
    pub by_type: BTreeMap<String, u64>,
    /// Live items by source.
    pub by_source: BTreeMap<String, u64>,
    /// Live items by tag.
    pub by_tag: BTreeMap<String, u64>,
}

impl Store {
    /// The latest version of an item.
    pub fn get(&self, id: &str) -> Result<ItemData> {
        self.get_at(id, None, LATEST)
    }

    /// A given version of an item (also of a deleted item: history stays readable).
    pub fn get_version(&self, id: &str, version: u32) -> Result<ItemData> {
        self.get_at(id, Some(version), LATEST)
    }

    pub(crate) fn get_at(&self, id: &str, version: Option<u32>, bound: u64) -> Result<ItemData> {
        let event = self.event_at(id, version, bound)?;
        self.read_data(id, &event)
    }

    /// Metadata of the latest version, or of `version`.
    pub fn metadata(&self, id: &str, version: Option<u32>) -> Result<ItemMeta> {
        self.metadata_at(id, version, LATEST)
    }

    pub(crate) fn metadata_at(&self, id: &str, version: Option<u32>, bound: u64) -> Result<ItemMeta> {
        let event = self.event_at(id, version, bound)?;
        self.read_meta(id, &event)
    }

    /// Every put and delete of an item, in order. Works for deleted items.
    pub fn history(&self, id: &str) -> Result<Vec<HistoryEntry>> {
        self.history_at(id, LATEST)
    }

    pub(crate) fn history_at(&self, id: &str, bound: u64) -> Result<Vec<HistoryEntry>> {
        let views = self.read_views();
        let row = views.item(id).filter(|r| r.events[0].offset < bound);
        let row = row.ok_or_else(|| Error::NotFound { id: id.to_string() })?;
        let horizon_offset = views.state.compaction_horizon.map_or(0, |(offset, _)| offset);
        let mut version = 0;
        Ok(row
            .events
            .iter()
            .take_while(|e| e.offset < bound)
            .map(|e| {
                version = if e.is_delete() { version } else { e.version };
                HistoryEntry {
                    id: id.to_string(),
                    event: if e.is_delete() { "delete" } else { "put" }.to_string(),
                    version,
                    offset: e.offset,
                    timestamp: format_timestamp(e.timestamp_us),
                    size: (!e.is_delete()).then_some(u64::from(e.size_bytes)),
                    pruned: e
                        .stored
                        .pruned
                        .map(|reason| PrunedMark { reason: reason.name().to_string(), horizon_offset }),
                }
            })
            .collect())
    }

    /// A dataset's latest version, or `version`.
    pub fn get_dataset(&self, name: &str, version: Option<u32>) -> Result<Dataset> {
        self.dataset_at(name, version, LATEST)
    }

    pub(crate) fn dataset_at(&self, name: &str, version: Option<u32>, bound: u64) -> Result<Dataset> {
        let entry = {
            let views = self.read_views();
            let versions = views.state.datasets.get(name).map(|vs| &vs[..vs.partition_point(|e| e.offset < bound)]);
            let entry = match version {
                Some(v) => versions.and_then(|vs| vs.iter().find(|e| e.version == v)),
                None => versions.and_then(|vs| vs.last()),
            };
            *entry.ok_or_else(|| Error::DatasetNotFound { name: name.to_string(), version })?
        };
        let record = self.read_record(entry.offset, entry.position_bytes)?;
        let dataset: DatasetRecord =
            codec::decode_json(&record.payload).map_err(|detail| Error::BadRecord { offset: entry.offset, detail })?;
        Ok(Dataset {
            name: dataset.name,
            version: dataset.version,
            offset: entry.offset,
            timestamp: format_timestamp(entry.timestamp_us),
            info: dataset.info,
            members: dataset.members,
        })
    }

    /// The dataset as one JSON object: name, version, info, and its items'
    /// metadata (with `data` when asked). The CLI and the server print this.
    pub fn dataset_json(&self, name: &str, version: Option<u32>, with_data: bool) -> Result<serde_json::Value> {
        self.dataset_json_at(name, version, with_data, LATEST)
    }

    pub(crate) fn dataset_json_at(
        &self,
        name: &str,
        version: Option<u32>,
        with_data: bool,
        bound: u64,
    ) -> Result<serde_json::Value> {
        let dataset = self.dataset_at(name, version, bound)?;
        let items = dataset
            .members
            .iter()
            .map(|(id, version)| self.item_json(id, Some(*version), with_data))
            .collect::<Result<Vec<_>>>()?;
        Ok(dataset_object(&dataset, items))
    }

    /// An item version's metadata as a JSON object, with `data` when asked
    /// (JSON data as a value; bytes as `data_base64`).
    pub fn item_json(&self, id: &str, version: Option<u32>, with_data: bool) -> Result<serde_json::Value> {
        self.item_json_at(id, version, with_data, LATEST)
    }

    pub(crate) fn item_json_at(
        &self,
        id: &str,
        version: Option<u32>,
        with_data: bool,
        bound: u64,
    ) -> Result<serde_json::Value> {
        let meta = self.metadata_at(id, version, bound)?;
        let mut object = serde_json::to_value(&meta).map_err(|e| Error::invalid(e.to_string()))?;
        if with_data {
            let data = self.get_version(id, meta.version)?;
            let (key, value) = if data.is_json {
                ("data", data.json()?)
            } else {
                ("data_base64", serde_json::Value::String(crate::base64::encode(&data.bytes)))
            };
            if let Some(map) = object.as_object_mut() {
                map.insert(key.to_string(), value);
            }
        }
        Ok(object)
    }

    /// Every dataset's latest version, by name.
    pub fn list_datasets(&self) -> Vec<DatasetSummary> {
        self.list_datasets_at(LATEST)
    }

    pub(crate) fn list_datasets_at(&self, bound: u64) -> Vec<DatasetSummary> {
        let views = self.read_views();
        let mut list: Vec<DatasetSummary> = views
            .state
            .datasets
            .iter()
            .filter_map(|(name, versions)| {
                let last = versions[..versions.partition_point(|e| e.offset < bound)].last()?;
                Some(DatasetSummary {
                    name: name.clone(),
                    version: last.version,
                    item_count: last.member_count,
                    offset: last.offset,
                    timestamp: format_timestamp(last.timestamp_us),
                })
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// Walks `parents` links from an item: ancestors (`Up`) or descendants
    /// (`Down`), breadth first, at most `depth` steps, each version once.
    pub fn lineage(&self, id: &str, direction: Direction, depth: u32) -> Result<Vec<LineageEntry>> {
        self.lineage_at(id, direction, depth, LATEST)
    }

    pub(crate) fn lineage_at(
        &self,
        id: &str,
        direction: Direction,
        depth: u32,
        bound: u64,
    ) -> Result<Vec<LineageEntry>> {
        let start = self.version_at(id, bound)?;
        let mut seen: HashSet<(String, Option<u32>)> = HashSet::from([(id.to_string(), Some(start))]);
        let mut queue = VecDeque::from([(id.to_string(), Some(start), 0u32)]);
        let mut out = Vec::new();
        while let Some((current, version, level)) = queue.pop_front() {
            if level >= depth {
                continue;
            }
            let next = match direction {
                Direction::Up => self.parents_of(&current, version, bound)?,
                Direction::Down => self.children_of(&current, bound),
            };
            for (next_id, next_version) in next {
                if seen.insert((next_id.clone(), next_version)) {
                    out.push(LineageEntry {
                        id: next_id.clone(),
                        version: next_version,
                        depth: level + 1,
                        from: current.clone(),
                    });
                    queue.push_back((next_id, next_version, level + 1));
                }
            }
        }
        Ok(out)
    }

    /// Counts from the views and the log.
    pub fn stats(&self) -> StoreStats {
        let views = self.read_views();
        let counters = &views.state.counters;
        let count = |bitmaps: &[roaring::RoaringBitmap], names: &super::views::Interner| {
            bitmaps
                .iter()
                .enumerate()
                .filter(|(_, b)| !b.is_empty())
                .map(|(i, b)| (names.name(i as u32).to_string(), b.len()))
                .collect::<BTreeMap<_, _>>()
        };
        StoreStats {
            items_live: counters.items_live,
            items_deleted: counters.items_deleted,
            items_expired: counters.items_expired,
            versions: counters.versions,
            deletes: counters.deletes,
            logical_bytes: counters.logical_bytes,
            stored_bytes: counters.stored_bytes,
            log_bytes: self.log.size_bytes(),
            segment_count: self.log.segment_count(),
            first_offset: self.log.first_offset(),
            next_offset: self.log.next_offset(),
            datasets: views.state.datasets.len(),
            dataset_versions: counters.dataset_versions,
            by_type: count(&views.state.indices.current.by_type, &views.state.types),
            by_source: count(&views.state.indices.current.by_source, &views.state.sources),
            by_tag: count(&views.state.indices.current.by_tag, &views.state.tags),
        }
    }

    /// Counts as of `bound`, recomputed from the version chains: O(items),
    /// never a log replay. The log's size, segment count and first offset
    /// are those of the log now: segments are files, not history.
    pub(crate) fn stats_at(&self, bound: u64) -> StoreStats {
        let mut stats = self.stats();
        if bound >= stats.next_offset {
            return stats;
        }
        let views = self.read_views();
        let state = &views.state;
        let (mut live, mut deleted, mut expired) = (0, 0, 0);
        let (mut versions, mut deletes, mut logical, mut stored) = (0, 0, 0, 0);
        let (mut by_type, mut by_source, mut by_tag) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
        for row in &state.items {
            let visible = &row.events[..row.events.partition_point(|e| e.offset < bound)];
            let Some(last) = visible.last() else { continue };
            for event in visible {
                if event.is_delete() {
                    deletes += 1
                } else {
                    versions += 1;
                    // As in the live counters, a pruned version's data is
                    // gone at every bound: compaction's drops are physical.
                    if event.stored.pruned.is_none() {
                        logical += u64::from(event.size_bytes);
                        stored += u64::from(event.stored.size_bytes);
                    }
                }
            }
            match last.item_state() {
                ItemState::Deleted => {
                    deleted += 1;
                    continue;
                }
                ItemState::Expired => {
                    expired += 1;
                    continue;
                }
                ItemState::Live => live += 1,
            }
            if last.type_id != super::views::NONE {
                *by_type.entry(state.types.name(last.type_id).to_string()).or_insert(0) += 1;
            }
            if last.source_id != super::views::NONE {
                *by_source.entry(state.sources.name(last.source_id).to_string()).or_insert(0) += 1;
            }
            for &tag in state.tagsets.tags(last.tagset_id) {
                *by_tag.entry(state.tags.name(tag).to_string()).or_insert(0) += 1;
            }
        }
        let datasets = state.datasets.values().map(|vs| vs.partition_point(|e| e.offset < bound));
        let (names, dataset_versions) =
            datasets.fold((0, 0), |(n, v), count| (n + usize::from(count > 0), v + count as u64));
        stats.items_live = live;
        stats.items_deleted = deleted;
        stats.items_expired = expired;
        stats.versions = versions;
        stats.deletes = deletes;
        stats.logical_bytes = logical;
        stats.stored_bytes = stored;
        stats.datasets = names;
        stats.dataset_versions = dataset_versions;
        stats.by_type = by_type;
        stats.by_source = by_source;
        stats.by_tag = by_tag;
        stats.next_offset = bound;
        stats
    }

    /// Every consumer group that committed, by name, with its committed
    /// offset and its lag behind the log.
    ///
    /// ```
    /// use recstore::{Store, StoreOptions};
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path(), StoreOptions::default())?;
    /// store.commit_consumer("ingest", 0)?;
    /// let groups = store.consumer_groups();
    /// assert_eq!((groups[0].group.as_str(), groups[0].offset, groups[0].lag), ("ingest", 0, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn consumer_groups(&self) -> Vec<ConsumerGroup> {
        let log_next = self.log.next_offset();
        let views = self.read_views();
        let mut groups: Vec<ConsumerGroup> = views
            .state
            .consumer_offsets
            .iter()
            .map(|(group, &offset)| ConsumerGroup {
                group: group.clone(),
                offset,
                lag: log_next.saturating_sub(offset),
            })
            .collect();
        groups.sort_unstable_by(|a, b| a.group.cmp(&b.group));
        groups
    }

    /// Committed offset of a consumer group, if it ever committed.
    pub fn consumer_offset(&self, group: &str) -> Option<u64> {
        self.read_views().state.consumer_offsets.get(group).copied()
    }

    /// The put an id resolves to below `bound`: `version`, or the latest.
    pub(crate) fn event_at(&self, id: &str, version: Option<u32>, bound: u64) -> Result<ItemEvent> {
        let views = self.read_views();
        let row = views.item(id).filter(|r| r.events[0].offset < bound);
        let row = row.ok_or_else(|| Error::NotFound { id: id.to_string() })?;
        let visible = &row.events[..row.events.partition_point(|e| e.offset < bound)];
        let Some(version) = version else {
            let last = visible.last().expect("the first event is visible");
            if last.is_delete() {
                return Err(Error::Deleted { id: id.to_string(), offset: last.offset });
            }
            return Ok(*last);
        };
        let found = visible.iter().find(|e| e.version == version && !e.is_delete() && version > 0);
        found.copied().ok_or_else(|| Error::VersionNotFound {
            id: id.to_string(),
            version,
            latest: visible.iter().rev().find(|e| !e.is_delete()).map_or(0, |e| e.version),
        })
    }

    /// The latest version an id had below `bound` (also for deleted items).
    fn version_at(&self, id: &str, bound: u64) -> Result<u32> {
        let views = self.read_views();
        let row = views.item(id).filter(|r| r.events[0].offset < bound);
        let row = row.ok_or_else(|| Error::NotFound { id: id.to_string() })?;
        let last_put = row.events.iter().take_while(|e| e.offset < bound).filter(|e| !e.is_delete()).last();
        Ok(last_put.map_or(0, |e| e.version))
    }

    fn read_put<T>(&self, event: &ItemEvent, f: impl FnOnce(codec::PutRecord<'_>, u8) -> Result<T>) -> Result<T> {
        let record = self.read_record(event.offset, event.position_bytes.into())?;
        let put = codec::decode_put_like(record.kind, &record.payload)
            .map_err(|detail| Error::BadRecord { offset: event.offset, detail })?;
        f(put, record.flags)
    }

    pub(crate) fn read_data(&self, id: &str, event: &ItemEvent) -> Result<ItemData> {
        if let Some(pruned) = self.pruned_error(id, event) {
            return Err(pruned);
        }
        self.read_put(event, |put, flags| {
            if let Some(stub) = put.stub {
                let horizon_offset = stub.horizon_offset;
                return Err(Error::Pruned { id: id.to_string(), version: event.version, horizon_offset });
            }
            let bytes = put.data(flags).map_err(|detail| Error::BadRecord { offset: event.offset, detail })?;
            Ok(ItemData {
                id: id.to_string(),
                version: event.version,
                offset: event.offset,
                timestamp_us: event.timestamp_us,
                content_type: content_type_of(&put),
                is_json: put.data_kind == DataKind::Json,
                bytes,
            })
        })
    }

    pub(crate) fn read_meta(&self, id: &str, event: &ItemEvent) -> Result<ItemMeta> {
        let meta = self.read_put(event, |put, _| {
            ItemMeta::of_put(&put, event.offset, event.timestamp_us)
                .map_err(|detail| Error::BadRecord { offset: event.offset, detail })
        })?;
        assert_eq!((meta.id.as_str(), meta.version), (id, event.version), "the views point at this item's put");
        Ok(meta)
    }

    fn parents_of(&self, id: &str, version: Option<u32>, bound: u64) -> Result<Vec<(String, Option<u32>)>> {
        let Some(version) = version else { return Ok(Vec::new()) };
        let event = match self.event_at(id, Some(version), bound) {
            Ok(event) => event,
            // A link may name an item or version never stored: the walk ends there.
            Err(Error::NotFound { .. } | Error::VersionNotFound { .. }) => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let meta = self.read_meta(id, &event)?;
        let views = self.read_views();
        meta.metadata
            .parents
            .iter()
            .map(|text| {
                let parent = ParentRef::parse(text)?;
                let version = parent.version.or_else(|| version_current_at(&views, &parent.id, event.offset));
                Ok((parent.id, version))
            })
            .collect()
    }

    fn children_of(&self, id: &str, bound: u64) -> Vec<(String, Option<u32>)> {
        let views = self.read_views();
        let children = match views.item_number(id) {
            Some(item_no) => views.state.children.of_item(item_no),
            None => views.state.children.of_name(id),
        };
        children
            .into_iter()
            .filter(|&(item_no, version)| views.row(item_no).version(version).is_some_and(|e| e.offset < bound))
            .map(|(item_no, version)| (views.state.items.id(item_no).to_string(), Some(version)))
            .collect()
    }
}

/// The version of `id` that was current just before `offset`.
fn version_current_at(views: &Views, id: &str, offset: u64) -> Option<u32> {
    let row = views.item(id)?;
    row.events.iter().rev().find(|e| e.offset < offset && !e.is_delete()).map(|e| e.version)
}

impl ItemMeta {
    /// The metadata of a put (or of the audit stub that replaced it) stored
    /// at `offset` at `timestamp_us`: what `meta`, queries and log events show.
    pub(crate) fn of_put(put: &codec::PutRecord<'_>, offset: u64, timestamp_us: u64) -> Result<Self, String> {
        let metadata: Metadata = serde_json::from_slice(&put.metadata_json).map_err(|e| e.to_string())?;
        Ok(ItemMeta {
            id: put.id.to_string(),
            version: put.version,
            offset,
            timestamp: format_timestamp(timestamp_us),
            size: u64::from(put.data_size_bytes),
            md5: codec::hex(&put.md5),
            content_type: content_type_of(put),
            metadata,
        })
    }
}

fn content_type_of(put: &codec::PutRecord<'_>) -> String {
    match put.data_kind {
        DataKind::Json => "application/json".to_string(),
        DataKind::Bytes => put.content_type.to_string(),
    }
}

/// A dataset version as the JSON object `dataset get` prints, with `items`
/// (its members' objects) last: one shape for the CLI and the server, which
/// streams the items into it.
pub(crate) fn dataset_object(dataset: &Dataset, items: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({
        "name": dataset.name, "version": dataset.version, "offset": dataset.offset,
        "timestamp": dataset.timestamp, "info": dataset.info, "items": items,
    })
}
