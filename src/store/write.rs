//! The write path: puts, batches, deletes and datasets.
//!
//! Everything is validated before anything is written, so bad input changes
//! nothing. One call is one log batch: all of it survives a crash or none.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::Store;
use super::item::{Data, ItemRef, Metadata, json_bytes, validate_name, validate_new_id};
use super::json_input::check_depth;
use crate::error::{Error, Result};
use crate::log::NewRecord;
use crate::log::format_timestamp;
use crate::records::codec::{self, DataKind, DatasetRecord, DeleteRecord, PutDraft, kind};

/// One item to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    /// The content.
    pub data: Data,
    /// What the caller says about it.
    pub metadata: Metadata,
}

/// Where a dataset version landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DatasetRef {
    /// The dataset's name.
    pub name: String,
    /// Its new version.
    pub version: u32,
    /// Offset of the dataset record.
    pub offset: u64,
    /// Ingestion time.
    pub timestamp: String,
    /// The pinned items.
    pub items: Vec<ItemRef>,
}

/// An item validated, hashed, named and encoded: all but its version,
/// which only the writer lock can decide (see [`codec::set_put_version`]).
pub(super) struct Prepared {
    pub(super) id: String,
    /// The put record's payload, data compressed where that pays.
    pub(super) payload: Vec<u8>,
    pub(super) flags: u8,
    /// The metadata JSON as encoded before compression: the dedup key
    /// compares it under the writer lock, which must not decompress it.
    pub(super) metadata_json: Vec<u8>,
}

/// Batches at least this long are prepared on several threads.
const PARALLEL_PREPARE_ITEMS_MIN: usize = 128;
/// At most this many threads prepare one batch, the writer's included.
const PREPARE_THREADS_MAX: usize = 4;
/// Items in one share of a parallel prepare: small enough that a helper
/// which gets a core late leaves the writer little to wait for, large
/// enough that claiming shares costs nothing.
const PREPARE_SHARE_ITEMS: usize = 64;

/// The threads that help writers prepare long batches: started on first
/// use, parked between batches, shared by every store of the process. A
/// thread spawned per batch waited a median 1.1 ms for a core (the kernel
/// places a new thread beside its parent), a third of the batch's prepare.
/// `None` on one core, or if no thread could be started.
fn prepare_helpers() -> Option<&'static rayon::ThreadPool> {
    static HELPERS: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    let start = || {
        let threads = std::thread::available_parallelism().map_or(1, usize::from).min(PREPARE_THREADS_MAX);
        if threads < 2 {
            return None;
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads - 1)
            .thread_name(|i| format!("recstore-prepare-{i}"))
            .build();
        pool.map_err(|error| tracing::warn!(%error, "no prepare helpers: the writer prepares batches alone")).ok()
    };
    HELPERS.get_or_init(start).as_ref()
}

/// Prepares a batch, in parallel when it is long: serializing, hashing,
/// compressing and encoding are most of a write's CPU time, and they need
/// nothing but the item, so they run before the writer lock is taken. The
/// first error in batch order is the one returned.
///
/// The calling thread starts at once and the helpers join in as they get
/// a core, each claiming shares from a counter until none is left.
pub(super) fn prepare_all(items: Vec<NewItem>, limits: PrepareLimits) -> Result<Vec<Prepared>> {
    let prepare_share = |share: Vec<NewItem>| share.into_iter().map(|item| prepare(item, limits)).collect();
    let helpers = prepare_helpers().filter(|_| items.len() >= PARALLEL_PREPARE_ITEMS_MIN);
    let Some(helpers) = helpers else { return prepare_share(items) };
    let item_count = items.len();
    let shares: Vec<Mutex<Share>> = split_into_shares(items).into_iter().map(Mutex::new).collect();
    let next_share = AtomicUsize::new(0);
    let work = || {
        while let Some(share) = shares.get(next_share.fetch_add(1, Ordering::Relaxed)) {
            let mut share = share.lock().unwrap_or_else(PoisonError::into_inner);
            if let Share::Items(items) = std::mem::replace(&mut *share, Share::Taken) {
                *share = Share::Prepared(prepare_share(items));
            }
        }
    };
    // The scope's own closure runs on this thread; a helper's panic reaches it.
    helpers.in_place_scope(|scope| {
        for _ in 0..helpers.current_num_threads() {
            scope.spawn(|_| work());
        }
        work();
    });
    let mut prepared = Vec::with_capacity(item_count);
    for share in shares {
        match share.into_inner().unwrap_or_else(PoisonError::into_inner) {
            Share::Prepared(result) => prepared.extend(result?),
            Share::Items(_) | Share::Taken => unreachable!("every share is prepared before the scope ends"),
        }
    }
    Ok(prepared)
}

/// One share of a parallel prepare, as it moves through it.
enum Share {
    Items(Vec<NewItem>),
    /// Claimed by a thread that is preparing it.
    Taken,
    Prepared(Result<Vec<Prepared>>),
}

/// Cuts a batch into shares of [`PREPARE_SHARE_ITEMS`], in batch order,
/// moving each item once.
fn split_into_shares(items: Vec<NewItem>) -> Vec<Share> {
    let mut shares = Vec::with_capacity(items.len().div_ceil(PREPARE_SHARE_ITEMS));
    let mut items = items.into_iter();
    loop {
        let share: Vec<NewItem> = items.by_ref().take(PREPARE_SHARE_ITEMS).collect();
        if share.is_empty() {
            return shares;
        }
        shares.push(Share::Items(share));
    }
}

/// What `prepare` needs of the store's options.
#[derive(Debug, Clone, Copy)]
pub(super) struct PrepareLimits {
    encoding: codec::PutEncoding,
    /// Largest data of one item, checked before compression: the limit is
    /// on what the caller gave and reads back, not on what is stored.
    data_size_bytes_max: u32,
}

impl Store {
    /// What preparing an item needs of this store's options.
    pub(super) fn prepare_limits(&self) -> PrepareLimits {
        PrepareLimits { encoding: self.options.put_encoding(), data_size_bytes_max: self.options.record_size_bytes_max }
    }
}

fn prepare(item: NewItem, limits: PrepareLimits) -> Result<Prepared> {
    let NewItem { data, mut metadata } = item;
    metadata.validate()?;
    metadata.normalize_tags();
    let (data_kind, content_type, bytes) = match data {
        Data::Json(value) => {
            check_depth(&value)?;
            (DataKind::Json, String::new(), json_bytes(&value))
        }
        Data::Bytes { bytes, content_type } => {
            validate_name("content_type", &content_type)?;
            (DataKind::Bytes, content_type, bytes)
        }
    };
    if bytes.len() as u64 > u64::from(limits.data_size_bytes_max) {
        let (size, limit) = (bytes.len() as u64, u64::from(limits.data_size_bytes_max));
        return Err(crate::log::LogError::TooLarge { what: "the item's data (before compression)", size, limit }.into());
    }
    let md5: [u8; 16] = Md5::digest(&bytes).into();
    let id = metadata.id.take().unwrap_or_else(|| crate::records::codec::hex(&md5));
    validate_new_id(&id)?;
    let metadata_json = serde_json::to_vec(&metadata).map_err(|e| Error::invalid(format!("metadata: {e}")))?;
    let draft = PutDraft {
        data_kind,
        id: &id,
        version: codec::VERSION_UNSET,
        md5,
        content_type: &content_type,
        metadata_json: &metadata_json,
        data: &bytes,
    };
    let (payload, flags) = codec::encode_put(&draft, limits.encoding);
    Ok(Prepared { id, payload, flags, metadata_json })
}

/// A stored put's metadata as it is written today: a record from before
/// tags were normalized keeps its order and repeats, and an identical put
/// compares equal only once they are sorted and dropped.
fn tags_normalized(metadata_json: &[u8]) -> Option<Vec<u8>> {
    let mut metadata: Metadata = serde_json::from_slice(metadata_json).ok()?;
    metadata.normalize_tags();
    serde_json::to_vec(&metadata).ok()
}

/// What the batch planner decided for one item.
enum Plan {
    /// Identical to the current version: nothing is written.
    Unchanged { version: u32, offset: u64, timestamp_us: u64 },
    /// Written as this version, at this index of the batch's records.
    New { version: u32, record_index: usize },
    /// Identical to item `earlier` of the same batch.
    Repeat { version: u32, earlier: usize },
}

/// Content identity used for dedup: equal keys mean an identical put.
/// The metadata is compared as JSON text, never as stored: a compressed
/// put and a plain one of the same content are the same.
#[derive(PartialEq, Eq, Clone)]
struct ContentKey<'a> {
    data_kind: u8,
    md5: [u8; 16],
    content_type: &'a str,
    metadata_json: std::borrow::Cow<'a, [u8]>,
}

impl<'a> ContentKey<'a> {
    fn of(put: codec::PutRecord<'a>) -> Self {
        ContentKey {
            data_kind: put.data_kind as u8,
            md5: put.md5,
            content_type: put.content_type,
            metadata_json: put.metadata_json,
        }
    }
}

impl Prepared {
    fn content_key(&self) -> ContentKey<'_> {
        let put = codec::decode_put_header(&self.payload).expect("prepare encoded a valid put");
        ContentKey { metadata_json: std::borrow::Cow::Borrowed(&self.metadata_json), ..ContentKey::of(put) }
    }
}

impl Store {
    /// Stores one item; returns its id and version. Storing content and
    /// metadata identical to the current version writes nothing and returns
    /// that version with `created: false`.
    pub fn put(&self, data: Data, metadata: Metadata) -> Result<ItemRef> {
        let mut refs = self.put_batch(vec![NewItem { data, metadata }])?;
        Ok(refs.remove(0))
    }

    /// Stores items atomically, in one log batch.
    pub fn put_batch(&self, items: Vec<NewItem>) -> Result<Vec<ItemRef>> {
        let (refs, _) = self.write_items(items, None)?;
        Ok(refs)
    }

    /// Stores `items` and a dataset record pinning each one's exact version,
    /// atomically. Putting an existing name creates its next version.
    pub fn put_dataset(&self, name: &str, items: Vec<NewItem>, info: serde_json::Value) -> Result<DatasetRef> {
        validate_name("dataset name", name)?;
        check_depth(&info).map_err(|e| Error::invalid(format!("dataset info: {e}")))?;
        let (items, dataset) = self.write_items(items, Some((name, info)))?;
        let (version, offset, timestamp_us) = dataset.expect("a dataset write returns its dataset record");
        Ok(DatasetRef { name: name.to_string(), version, offset, timestamp: format_timestamp(timestamp_us), items })
    }

    /// Deletes an item: later reads say it was deleted and where. A later
    /// put revives it with the next version.
    pub fn delete(&self, id: &str) -> Result<u64> {
        validate_name("id", id)?;
        let guard = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let version = {
            let views = self.read_views();
            let row = views.item(id).ok_or_else(|| Error::NotFound { id: id.to_string() })?;
            if !row.is_live() {
                return Err(Error::Deleted { id: id.to_string(), offset: row.last().offset });
            }
            row.last().version
        };
        let payload = codec::encode_json(&DeleteRecord { id: id.to_string(), version });
        self.append_one(guard, kind::DELETE, &payload)
    }

    /// Appends a consumer group's committed offset to the log and returns
    /// the offset of that record. Committing the offset the group already
    /// has appends nothing and returns the offset of the record that
    /// committed it: a consumer that commits after every poll, new events
    /// or not, does not grow the log.
    pub fn commit_consumer(&self, group: &str, offset: u64) -> Result<u64> {
        validate_name("consumer group", group)?;
        let payload = codec::encode_json(&codec::ConsumerCommitRecord { group: group.to_string(), offset });
        let guard = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Under the lock: the next offset cannot move before this commit's record.
        let next = self.log.next_offset();
        if offset > next {
            return Err(Error::invalid(format!(
                "offset {offset} is past the end of the log: a group can commit at most {next}, the next offset"
            )));
        }
        let unchanged = {
            let views = self.read_views();
            let state = &views.state;
            let record = state.consumer_commit_records.get(group).copied();
            record.filter(|_| state.consumer_offsets.get(group) == Some(&offset))
        };
        if let Some(record_offset) = unchanged {
            // The first commit's record may still be syncing: the answer
            // waits for it, as the first commit's caller did.
            drop(guard);
            self.log.wait_durable(record_offset + 1)?;
            return Ok(record_offset);
        }
        self.append_one(guard, kind::CONSUMER_COMMIT, &payload)
    }

    /// Deletes a consumer group: appends a record saying so and returns its
    /// offset. From then on the group has no committed offset, is not
    /// listed, and a reader that names it starts from offset 0, as for a
    /// new group; committing again brings it back. A group that has no
    /// committed offset (never committed, or deleted already) is
    /// [`Error::ConsumerGroupNotFound`] (kind `not_found`), and nothing is written.
    pub fn delete_consumer(&self, group: &str) -> Result<u64> {
        validate_name("consumer group", group)?;
        let guard = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Under the lock: no commit can bring the group in or out meanwhile.
        if !self.read_views().state.consumer_offsets.contains_key(group) {
            return Err(Error::ConsumerGroupNotFound { group: group.to_string() });
        }
        let payload = codec::encode_json(&codec::ConsumerDeleteRecord { group: group.to_string() });
        self.append_one(guard, kind::CONSUMER_DELETE, &payload)
    }

    /// Appends one record while `guard` holds the writer lock and applies
    /// it to the views, then releases the lock and returns the record's
    /// offset once it is as durable as the sync mode promises.
    fn append_one(&self, guard: std::sync::MutexGuard<'_, ()>, kind: u8, payload: &[u8]) -> Result<u64> {
        let records = [NewRecord { kind, flags: 0, payload }];
        let appended = self.log.append_pending(&records)?;
        self.apply_appended(&records, &appended);
        drop(guard);
        self.log.wait_durable(appended.last_offset + 1)?;
        self.note_records_written(1);
        Ok(appended.first_offset)
    }

    #[allow(clippy::type_complexity, reason = "private helper returning both halves of a write")]
    fn write_items(
        &self,
        items: Vec<NewItem>,
        dataset: Option<(&str, serde_json::Value)>,
    ) -> Result<(Vec<ItemRef>, Option<(u32, u64, u64)>)> {
        let mut prepared = prepare_all(items, self.prepare_limits())?;
        if prepared.is_empty() && dataset.is_none() {
            return Ok((Vec::new(), None));
        }
        let guard = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let plans = self.plan(&prepared)?;
        for (item, plan) in prepared.iter_mut().zip(&plans) {
            if let Plan::New { version, .. } = plan {
                codec::set_put_version(&mut item.payload, *version);
            }
        }
        let dataset_version = dataset.as_ref().map(|(name, _)| {
            self.read_views().state.datasets.get(*name).and_then(|v| v.last()).map_or(1, |v| v.version + 1)
        });
        let dataset_payload = dataset.zip(dataset_version).map(|((name, info), version)| {
            let members = prepared.iter().zip(&plans).map(|(item, plan)| (item.id.clone(), plan.version())).collect();
            codec::encode_json(&DatasetRecord { name: name.to_string(), version, info, members })
        });
        let puts = prepared.iter().zip(&plans).filter(|(_, plan)| matches!(plan, Plan::New { .. }));
        let mut records: Vec<NewRecord<'_>> =
            puts.map(|(item, _)| NewRecord { kind: kind::PUT, flags: item.flags, payload: &item.payload }).collect();
        if let Some(payload) = &dataset_payload {
            records.push(NewRecord { kind: kind::DATASET, flags: 0, payload });
        }
        if records.is_empty() {
            drop(guard);
            return Ok((item_refs(prepared, &plans, None), None));
        }
        let appended = self.log.append_pending(&records)?;
        self.apply_appended(&records, &appended);
        let record_count = records.len() as u64;
        drop(guard);
        // Built while the batch's fdatasync may still run (see `Log::append_pending`).
        let refs = item_refs(prepared, &plans, Some(&appended));
        self.log.wait_durable(appended.last_offset + 1)?;
        self.note_records_written(record_count);
        let dataset = dataset_version.map(|v| (v, appended.last_offset, appended.timestamp_us));
        Ok((refs, dataset))
    }

    /// Decides the version of each item, or that it is unchanged. Holds the writer lock.
    fn plan(&self, prepared: &[Prepared]) -> Result<Vec<Plan>> {
        // Items earlier in this batch: (index, version, content) of the last one per id.
        let mut pending: HashMap<&str, (usize, u32, ContentKey<'_>)> = HashMap::with_capacity(prepared.len());
        let mut plans = Vec::with_capacity(prepared.len());
        let mut record_index = 0;
        for (index, item) in prepared.iter().enumerate() {
            let key = item.content_key();
            let plan = match pending.get(item.id.as_str()) {
                Some((earlier, version, previous)) if *previous == key => {
                    Plan::Repeat { version: *version, earlier: *earlier }
                }
                Some((_, version, _)) => Plan::New { version: version + 1, record_index },
                None => self.plan_against_views(&item.id, &key, record_index)?,
            };
            if let Plan::New { .. } = plan {
                record_index += 1;
            }
            pending.insert(&item.id, (index, plan.version(), key));
            plans.push(plan);
        }
        Ok(plans)
    }

    fn plan_against_views(&self, id: &str, key: &ContentKey<'_>, record_index: usize) -> Result<Plan> {
        let (latest, live) = {
            let views = self.read_views();
            match views.item(id) {
                None => return Ok(Plan::New { version: 1, record_index }),
                Some(row) => (*row.last_put().expect("an item row has a put"), row.is_live()),
            }
        };
        // A pruned version has no data to compare with: storing it again restores it.
        let stored = latest.stored.pruned.is_none();
        if live && stored && self.stored_content_is(latest.offset, latest.position_bytes.into(), key)? {
            return Ok(Plan::Unchanged {
                version: latest.version,
                offset: latest.offset,
                timestamp_us: latest.timestamp_us,
            });
        }
        Ok(Plan::New { version: latest.version + 1, record_index })
    }

    /// Whether the put at `offset` has exactly the content `key` names.
    fn stored_content_is(&self, offset: u64, position_bytes: u64, key: &ContentKey<'_>) -> Result<bool> {
        let record = self.read_record(offset, position_bytes)?;
        let put = codec::decode_put(&record.payload).map_err(|detail| Error::BadRecord { offset, detail })?;
        let stored = ContentKey::of(put);
        if stored == *key {
            return Ok(true);
        }
        let stored_metadata = stored.metadata_json.clone();
        let same_but_metadata = ContentKey { metadata_json: key.metadata_json.clone(), ..stored } == *key;
        Ok(same_but_metadata && tags_normalized(&stored_metadata).as_deref() == Some(&key.metadata_json[..]))
    }

    /// Applies records just appended. They were validated against the views
    /// under the writer lock, so a refusal here is a bug, not bad input.
    pub(super) fn apply_appended(&self, records: &[NewRecord<'_>], appended: &crate::log::Appended) {
        let mut views = self.write_views();
        for (i, new) in records.iter().enumerate() {
            let record = crate::log::RecordRef {
                offset: appended.first_offset + i as u64,
                timestamp_us: appended.timestamp_us,
                kind: new.kind,
                flags: new.flags,
                payload: new.payload,
            };
            if let Err(detail) = views.apply(record, appended.positions_bytes[i]) {
                panic!("views refused record {} that the writer validated: {detail}", record.offset);
            }
        }
    }
}

impl Plan {
    fn version(&self) -> u32 {
        match self {
            Plan::Unchanged { version, .. } | Plan::New { version, .. } | Plan::Repeat { version, .. } => *version,
        }
    }
}

/// What each item of a write got; the ids move into the refs. Every item
/// of one batch shares its timestamp, so it is formatted once.
fn item_refs(prepared: Vec<Prepared>, plans: &[Plan], appended: Option<&crate::log::Appended>) -> Vec<ItemRef> {
    let batch_timestamp = appended.map(|a| format_timestamp(a.timestamp_us));
    let mut refs: Vec<ItemRef> = Vec::with_capacity(plans.len());
    for (item, plan) in prepared.into_iter().zip(plans) {
        let (offset, timestamp, created) = match (plan, appended, &batch_timestamp) {
            (Plan::Unchanged { offset, timestamp_us, .. }, _, _) => (*offset, format_timestamp(*timestamp_us), false),
            (Plan::New { record_index, .. }, Some(appended), Some(timestamp)) => {
                (appended.first_offset + *record_index as u64, timestamp.clone(), true)
            }
            (Plan::Repeat { earlier, .. }, _, _) => (refs[*earlier].offset, refs[*earlier].timestamp.clone(), false),
            (Plan::New { .. }, _, _) => unreachable!("a new version is planned only when records are appended"),
        };
        refs.push(ItemRef { id: item.id, version: plan.version(), offset, timestamp, created });
    }
    refs
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_record_from_before_tag_normalization_compares_by_its_tags_as_a_set() {
        // Records written before tags were sorted keep their order on disk.
        let legacy = br#"{"type":"t","tags":["raw","hot","raw"],"unit":"C"}"#;
        let normalized = super::tags_normalized(legacy).expect("legacy metadata parses");
        assert_eq!(String::from_utf8_lossy(&normalized), r#"{"type":"t","tags":["hot","raw"],"unit":"C"}"#);
    }
}
