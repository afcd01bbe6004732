//! The store answers like a plain in-memory model of its documented semantics.
//!
//! Random sequences of puts (named ids from a small pool, or md5 ids),
//! identical re-puts, batches (with the same id twice), deletes (of live,
//! deleted and unknown ids), dataset puts, reopens, lost or stale
//! checkpoints and explicit checkpoints run against a `Store` and against
//! [`Model`], which keeps every version, event and dataset in maps. Each
//! operation's result must be what the model predicts (versions, `created`,
//! offsets, error variants), and after each operation every read, query,
//! count, stat and dataset of the store must agree with the model.
//!
//! Every version of every id is read back after each reopen and at the end
//! of a sequence; after other operations, only for the ids the operation
//! wrote. An old version's record never changes while the store stays open
//! (the log is append-only), and its place is still checked after every
//! operation through `history`, which reports each event's offset. Reading
//! every version after every operation cost a third more run time.
//!
//! `PROPTEST_CASES` sets the number of sequences (default 40) for a longer run.
//!
//! Proptest's failure file is turned off: the working tree is shared, and
//! a failure prints its minimal operation sequence anyway.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use recstore::{Data, Error, ItemRef, Metadata, NewItem, Query, Store, StoreOptions, SyncMode};
use serde_json::{Value, json};

type CaseResult = Result<(), TestCaseError>;

const POOL: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", "h"];
const TYPES: [&str; 3] = ["reading", "image", "label"];
const SOURCES: [&str; 3] = ["sensor-1", "sensor-2", "camera"];
const TAGS: [&str; 5] = ["raw", "clean", "priority", "test", "archived"];
const DATASETS: [&str; 2] = ["train", "eval"];
/// Distinct data values; few, so that md5 ids repeat and re-puts dedup.
const DATA_VARIANTS: u8 = 4;
/// An id no operation ever stores.
const NEVER_STORED: &str = "never-stored";

fn data_value(variant: u8) -> Value {
    // Long variants cross the compression threshold and fill the small segments.
    json!({"n": variant, "pad": "p".repeat(usize::from(variant) * 150)})
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The id the store gives data stored without one.
fn md5_id(variant: u8) -> String {
    md5_hex(&Data::Json(data_value(variant)).canonical_bytes())
}

/// Every id the checks look at: the pool, the md5 ids, and one never stored.
fn universe() -> Vec<String> {
    let mut ids: Vec<String> = POOL.iter().map(|s| (*s).to_string()).collect();
    ids.extend((0..DATA_VARIANTS).map(md5_id));
    ids.push(NEVER_STORED.to_string());
    ids
}

/// One item as the strategy draws it.
#[derive(Debug, Clone)]
struct ItemSpec {
    /// An index into `POOL`, or `None` for an md5 id.
    id: Option<usize>,
    data: u8,
    item_type: Option<usize>,
    source: Option<usize>,
    tags: Vec<usize>,
    /// A parent from the pool, pinned to version 1 when the flag is set.
    parent: Option<(usize, bool)>,
    note: Option<u8>,
}

impl ItemSpec {
    fn new_item(&self) -> NewItem {
        let metadata = Metadata {
            id: self.id.map(|i| POOL[i].to_string()),
            item_type: self.item_type.map(|i| TYPES[i].to_string()),
            source_id: self.source.map(|i| SOURCES[i].to_string()),
            // In the order generated: the model expects them stored as a set.
            tags: self.tags.iter().map(|&i| TAGS[i].to_string()).collect(),
            parents: self
                .parent
                .iter()
                .map(|&(i, pin)| format!("{}{}", POOL[i], if pin { "@1" } else { "" }))
                .collect(),
            extra: self.note.map(|n| json!({"note": n}).as_object().cloned().unwrap_or_default()).unwrap_or_default(),
        };
        NewItem { data: Data::Json(data_value(self.data)), metadata }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Put(ItemSpec),
    /// Puts the latest content of an id again, unchanged: a no-op if it is
    /// live, the next version if it was deleted. Md5 ids are re-put without an id.
    RePut(usize),
    /// A batch; `repeat` appends a copy of the first item (1: identical,
    /// 2: the same id with other data).
    Batch(Vec<ItemSpec>, u8),
    /// Deletes an id of the universe (pool, md5 ids, never stored); with
    /// the flag, deletes it a second time right after.
    Delete(usize, bool),
    Dataset(usize, Vec<ItemSpec>, u8),
    /// Drops and reopens the store (the drop writes a checkpoint).
    Reopen,
    /// Drops the store, removes its checkpoint and reopens: views rebuilt from the log.
    LoseCheckpoint,
    /// Drops the store, puts back the checkpoint saved by the last
    /// `Checkpoint` (older than the log) and reopens: checkpoint plus replay.
    StaleCheckpoint,
    Checkpoint,
}

fn item_spec() -> impl Strategy<Value = ItemSpec> {
    (
        prop_oneof![1 => Just(None), 4 => (0..POOL.len()).prop_map(Some)],
        0..DATA_VARIANTS,
        prop_oneof![1 => Just(None), 3 => (0..TYPES.len()).prop_map(Some)],
        prop_oneof![1 => Just(None), 3 => (0..SOURCES.len()).prop_map(Some)],
        proptest::sample::subsequence((0..TAGS.len()).collect::<Vec<_>>(), 0..=3),
        proptest::option::weighted(0.3, (0..POOL.len(), any::<bool>())),
        proptest::option::weighted(0.2, 0..2u8),
    )
        .prop_map(|(id, data, item_type, source, tags, parent, note)| ItemSpec {
            id,
            data,
            item_type,
            source,
            tags,
            parent,
            note,
        })
}

fn op() -> impl Strategy<Value = Op> {
    let universe_len = universe().len();
    prop_oneof![
        8 => item_spec().prop_map(Op::Put),
        4 => (0..universe_len - 1).prop_map(Op::RePut),
        4 => (proptest::collection::vec(item_spec(), 1..=4), 0..3u8).prop_map(|(items, repeat)| Op::Batch(items, repeat)),
        4 => (0..universe_len, proptest::bool::weighted(0.3)).prop_map(|(index, twice)| Op::Delete(index, twice)),
        3 => (0..DATASETS.len(), proptest::collection::vec(item_spec(), 0..=3), 0..3u8)
            .prop_map(|(name, items, info)| Op::Dataset(name, items, info)),
        // Reopens are few: each one opens and closes the search index too,
        // which dominates the run time in debug builds.
        2 => prop_oneof![Just(Op::Reopen), Just(Op::LoseCheckpoint), Just(Op::StaleCheckpoint)],
        1 => Just(Op::Checkpoint),
    ]
}

// ---------------------------------------------------------------- the model

#[derive(Debug, Clone)]
struct Version {
    data: Value,
    /// The metadata as stored: without the id.
    metadata: Metadata,
    offset: u64,
}

#[derive(Debug, Clone, PartialEq)]
struct Event {
    delete: bool,
    /// The version a put created, or the one a delete ended.
    version: u32,
    offset: u64,
}

#[derive(Debug, Default)]
struct ModelItem {
    versions: Vec<Version>,
    events: Vec<Event>,
    live: bool,
}

impl ModelItem {
    fn latest(&self) -> &Version {
        self.versions.last().expect("a model item is created by its first put")
    }
}

#[derive(Debug)]
struct ModelDataset {
    members: Vec<(String, u32)>,
    info: Value,
    offset: u64,
}

/// What the store should hold: every version, event and dataset.
#[derive(Debug, Default)]
struct Model {
    items: HashMap<String, ModelItem>,
    /// Ids in the order of their first put: the order of query results.
    first_put: Vec<String>,
    datasets: BTreeMap<String, Vec<ModelDataset>>,
    /// Children of each parent id, as `(child id, child version)` in put order.
    children: HashMap<String, Vec<(String, u32)>>,
    next_offset: u64,
}

/// What the model expects of one item of a write.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Planned {
    New {
        version: u32,
        record_index: u64,
    },
    Unchanged {
        version: u32,
        offset: u64,
    },
    /// Identical to item `earlier` of the same batch.
    Repeat {
        version: u32,
        earlier: usize,
    },
}

/// An error the model predicts.
#[derive(Debug, PartialEq)]
enum Refusal {
    NotFound,
    Deleted { offset: u64 },
}

impl Model {
    /// Applies a put batch (with a dataset record last, if named) and
    /// returns the expected refs as `(id, version, offset, created)` and the
    /// dataset's `(version, offset)`.
    #[allow(clippy::type_complexity, reason = "a test helper returning both halves of a write")]
    fn write(
        &mut self,
        items: Vec<(String, Value, Metadata)>,
        dataset: Option<(&str, Value)>,
    ) -> (Vec<(String, u32, u64, bool)>, Option<(u32, u64)>) {
        let mut pending: HashMap<&str, (usize, u32, &Value, &Metadata)> = HashMap::new();
        let mut plans = Vec::new();
        let mut new_count = 0;
        for (index, (id, data, metadata)) in items.iter().enumerate() {
            let plan = match pending.get(id.as_str()) {
                Some(&(earlier, version, d, m)) if d == data && m == metadata => Planned::Repeat { version, earlier },
                Some(&(_, version, _, _)) => Planned::New { version: version + 1, record_index: new_count },
                None => match self.items.get(id) {
                    Some(item) if item.live && item.latest().data == *data && item.latest().metadata == *metadata => {
                        Planned::Unchanged { version: item.versions.len() as u32, offset: item.latest().offset }
                    }
                    Some(item) => Planned::New { version: item.versions.len() as u32 + 1, record_index: new_count },
                    None => Planned::New { version: 1, record_index: new_count },
                },
            };
            if let Planned::New { .. } = plan {
                new_count += 1;
            }
            let version = match plan {
                Planned::New { version, .. } | Planned::Unchanged { version, .. } | Planned::Repeat { version, .. } => {
                    version
                }
            };
            pending.insert(id, (index, version, data, metadata));
            plans.push((plan, version));
        }
        let first_offset = self.next_offset;
        let mut refs: Vec<(String, u32, u64, bool)> = Vec::new();
        for ((id, data, metadata), (plan, version)) in items.iter().zip(&plans) {
            let (offset, created) = match *plan {
                Planned::New { record_index, .. } => (first_offset + record_index, true),
                Planned::Unchanged { offset, .. } => (offset, false),
                Planned::Repeat { earlier, .. } => (refs[earlier].2, false),
            };
            if let Planned::New { .. } = plan {
                self.add_version(id, data, metadata, offset);
            }
            refs.push((id.clone(), *version, offset, created));
        }
        let dataset = dataset.map(|(name, info)| {
            let offset = first_offset + new_count;
            let versions = self.datasets.entry(name.to_string()).or_default();
            let members = refs.iter().map(|(id, version, _, _)| (id.clone(), *version)).collect();
            versions.push(ModelDataset { members, info, offset });
            (versions.len() as u32, offset)
        });
        self.next_offset += new_count + u64::from(dataset.is_some());
        (refs, dataset)
    }

    fn add_version(&mut self, id: &str, data: &Value, metadata: &Metadata, offset: u64) {
        if !self.items.contains_key(id) {
            self.first_put.push(id.to_string());
        }
        let item = self.items.entry(id.to_string()).or_default();
        item.versions.push(Version { data: data.clone(), metadata: metadata.clone(), offset });
        let version = item.versions.len() as u32;
        item.events.push(Event { delete: false, version, offset });
        item.live = true;
        for parent in &metadata.parents {
            let parent_id = parent.split('@').next().unwrap_or(parent);
            self.children.entry(parent_id.to_string()).or_default().push((id.to_string(), version));
        }
    }

    fn delete(&mut self, id: &str) -> Result<u64, Refusal> {
        let item = self.items.get_mut(id).ok_or(Refusal::NotFound)?;
        if !item.live {
            let offset = item.events.last().map_or(0, |e| e.offset);
            return Err(Refusal::Deleted { offset });
        }
        let offset = self.next_offset;
        self.next_offset += 1;
        item.live = false;
        item.events.push(Event { delete: true, version: item.versions.len() as u32, offset });
        Ok(offset)
    }

    /// Live items matching a query, in the order of first put, as `(id, version, offset)`.
    fn query(&self, query: &Query) -> Vec<(String, u32, u64)> {
        self.first_put
            .iter()
            .filter_map(|id| {
                let item = &self.items[id];
                let latest = item.latest();
                let m = &latest.metadata;
                let matches = item.live
                    && query.item_type.as_ref().is_none_or(|t| m.item_type.as_ref() == Some(t))
                    && query.source.as_ref().is_none_or(|s| m.source_id.as_ref() == Some(s))
                    && query.tags.iter().all(|t| m.tags.contains(t));
                matches.then(|| (id.clone(), item.versions.len() as u32, latest.offset))
            })
            .collect()
    }
}

// ---------------------------------------------------------------- the checks

fn stored(spec: &ItemSpec) -> (String, Value, Metadata) {
    let NewItem { data, mut metadata } = spec.new_item();
    let Data::Json(value) = data else { unreachable!("specs make JSON data") };
    let id = metadata.id.take().unwrap_or_else(|| md5_id(spec.data));
    // The store keeps tags as a set: sorted, without repeats.
    metadata.tags.sort_unstable();
    metadata.tags.dedup();
    (id, value, metadata)
}

fn check_refs(got: &[ItemRef], expected: &[(String, u32, u64, bool)]) -> CaseResult {
    let got: Vec<_> = got.iter().map(|r| (r.id.clone(), r.version, r.offset, r.created)).collect();
    prop_assert_eq!(got, expected, "item refs as (id, version, offset, created)");
    Ok(())
}

/// Checks one id; `all_versions` reads back every version, else only the latest.
fn check_item(store: &Store, model: &Model, id: &str, all_versions: bool) -> CaseResult {
    let Some(item) = model.items.get(id) else {
        prop_assert!(matches!(store.get(id), Err(Error::NotFound { .. })), "get {}", id);
        prop_assert!(matches!(store.get_version(id, 1), Err(Error::NotFound { .. })), "get_version {}", id);
        prop_assert!(matches!(store.metadata(id, None), Err(Error::NotFound { .. })), "metadata {}", id);
        prop_assert!(matches!(store.history(id), Err(Error::NotFound { .. })), "history {}", id);
        return Ok(());
    };
    let latest = item.versions.len() as u32;
    if item.live {
        let got = store.get(id)?;
        prop_assert_eq!((got.version, got.offset), (latest, item.latest().offset), "get {}", id);
        prop_assert_eq!(got.json()?, item.latest().data.clone(), "get {} data", id);
        prop_assert_eq!(store.metadata(id, None)?.version, latest, "metadata {}", id);
    } else {
        let offset = item.events.last().map_or(0, |e| e.offset);
        prop_assert!(matches!(store.get(id), Err(Error::Deleted { offset: o, .. }) if o == offset), "get {}", id);
        let meta = store.metadata(id, None);
        prop_assert!(matches!(meta, Err(Error::Deleted { offset: o, .. }) if o == offset), "metadata {}", id);
    }
    let skipped = if all_versions { 0 } else { item.versions.len() - 1 };
    for (version, expected) in (1..).zip(&item.versions).skip(skipped) {
        let got = store.get_version(id, version)?;
        prop_assert_eq!(
            (got.version, got.offset, got.is_json),
            (version, expected.offset, true),
            "{} v{}",
            id,
            version
        );
        prop_assert_eq!(got.json()?, expected.data.clone(), "{} v{} data", id, version);
        let meta = store.metadata(id, Some(version))?;
        let bytes = Data::Json(expected.data.clone()).canonical_bytes();
        prop_assert_eq!((meta.id.as_str(), meta.version, meta.offset), (id, version, expected.offset));
        prop_assert_eq!((meta.md5, meta.size), (md5_hex(&bytes), bytes.len() as u64), "{} v{}", id, version);
        prop_assert_eq!(meta.content_type, "application/json");
        prop_assert_eq!(&meta.metadata, &expected.metadata, "{} v{} metadata", id, version);
    }
    for missing in [0, latest + 1] {
        let got = store.get_version(id, missing);
        prop_assert!(
            matches!(got, Err(Error::VersionNotFound { latest: l, .. }) if l == latest),
            "get_version {} {}: {:?}",
            id,
            missing,
            got.map(|d| d.version)
        );
    }
    let history: Vec<_> = store.history(id)?.into_iter().map(|h| (h.event == "delete", h.version, h.offset)).collect();
    let expected: Vec<_> = item.events.iter().map(|e| (e.delete, e.version, e.offset)).collect();
    prop_assert_eq!(history, expected, "history of {} as (delete, version, offset)", id);
    Ok(())
}

/// Children one step down from `id`, as the store's lineage walk reports them.
fn check_children(store: &Store, model: &Model, id: &str) -> CaseResult {
    let Some(item) = model.items.get(id) else { return Ok(()) };
    let start = (id.to_string(), item.versions.len() as u32);
    let mut seen = HashSet::from([start]);
    let expected: Vec<(String, u32)> = model
        .children
        .get(id)
        .map(|children| children.iter().filter(|c| seen.insert((*c).clone())).cloned().collect())
        .unwrap_or_default();
    let got: Vec<(String, u32)> =
        store.lineage(id, recstore::Direction::Down, 1)?.into_iter().map(|e| (e.id, e.version.unwrap_or(0))).collect();
    prop_assert_eq!(got, expected, "children of {}", id);
    Ok(())
}

/// Checks a query's hits and count; with `fetch_metadata`, also `query`,
/// which reads each hit's record (kept to a few queries, for speed).
fn check_query(store: &Store, model: &Model, query: &Query, fetch_metadata: bool) -> CaseResult {
    let expected = model.query(query);
    let hits: Vec<_> = store.query_hits(query)?.into_iter().map(|h| (h.id, h.version, h.offset)).collect();
    prop_assert_eq!(&hits, &expected, "query_hits {:?} as (id, version, offset)", query);
    prop_assert_eq!(store.count(query)?, expected.len() as u64, "count {:?}", query);
    if fetch_metadata {
        let metas: Vec<_> = store.query(query)?.into_iter().map(|m| (m.id, m.version, m.offset)).collect();
        prop_assert_eq!(&metas, &expected, "query {:?} as (id, version, offset)", query);
    }
    Ok(())
}

fn check_queries(store: &Store, model: &Model) -> CaseResult {
    let of_type = |t: &str| Query { item_type: Some(t.to_string()), ..Query::default() };
    let tagged = |t: &str| Query { tags: vec![t.to_string()], ..Query::default() };
    check_query(store, model, &Query::default(), true)?;
    for t in TYPES {
        check_query(store, model, &of_type(t), true)?;
        for tag in TAGS {
            check_query(store, model, &Query { tags: vec![tag.to_string()], ..of_type(t) }, false)?;
        }
    }
    let mut queries: Vec<Query> = TAGS.iter().map(|t| tagged(t)).collect();
    queries.extend(SOURCES.iter().map(|s| Query { source: Some(s.to_string()), ..Query::default() }));
    queries.push(Query { tags: vec![TAGS[0].into(), TAGS[1].into()], ..Query::default() });
    queries.push(Query { source: Some(SOURCES[0].into()), ..of_type(TYPES[0]) });
    queries.push(of_type("no-such-type"));
    for query in &queries {
        check_query(store, model, query, false)?;
    }
    Ok(())
}

fn check_stats(store: &Store, model: &Model) -> CaseResult {
    let stats = store.stats();
    let live = model.items.values().filter(|i| i.live).count() as u64;
    let versions = model.items.values().map(|i| i.versions.len() as u64).sum::<u64>();
    let deletes = model.items.values().map(|i| i.events.iter().filter(|e| e.delete).count() as u64).sum::<u64>();
    prop_assert_eq!(
        (stats.items_live, stats.items_deleted, stats.versions, stats.deletes),
        (live, model.items.len() as u64 - live, versions, deletes),
        "stats (items_live, items_deleted, versions, deletes)"
    );
    prop_assert_eq!(stats.next_offset, model.next_offset, "stats.next_offset");
    let dataset_versions = model.datasets.values().map(|v| v.len() as u64).sum::<u64>();
    prop_assert_eq!((stats.datasets, stats.dataset_versions), (model.datasets.len(), dataset_versions));
    let mut by_type = BTreeMap::new();
    let mut by_source = BTreeMap::new();
    let mut by_tag = BTreeMap::new();
    for item in model.items.values().filter(|i| i.live) {
        let m = &item.latest().metadata;
        m.item_type.iter().for_each(|t| *by_type.entry(t.clone()).or_insert(0) += 1);
        m.source_id.iter().for_each(|s| *by_source.entry(s.clone()).or_insert(0) += 1);
        m.tags.iter().for_each(|t| *by_tag.entry(t.clone()).or_insert(0) += 1);
    }
    prop_assert_eq!((stats.by_type, stats.by_source, stats.by_tag), (by_type, by_source, by_tag));
    Ok(())
}

fn check_datasets(store: &Store, model: &Model) -> CaseResult {
    let listed: Vec<_> =
        store.list_datasets().into_iter().map(|d| (d.name, d.version, d.item_count, d.offset)).collect();
    let expected: Vec<_> = model
        .datasets
        .iter()
        .filter_map(|(name, versions)| {
            let last = versions.last()?;
            Some((name.clone(), versions.len() as u32, last.members.len() as u32, last.offset))
        })
        .collect();
    prop_assert_eq!(listed, expected, "list_datasets as (name, version, item_count, offset)");
    for name in DATASETS {
        let versions = model.datasets.get(name).map_or(&[][..], Vec::as_slice);
        for (version, expected) in (1..).zip(versions) {
            let got = store.get_dataset(name, Some(version))?;
            prop_assert_eq!((got.version, got.offset), (version, expected.offset), "dataset {} v{}", name, version);
            prop_assert_eq!(&got.members, &expected.members, "dataset {} v{} members", name, version);
            prop_assert_eq!(&got.info, &expected.info, "dataset {} v{} info", name, version);
        }
        let latest = store.get_dataset(name, None);
        match versions.last() {
            Some(last) => prop_assert_eq!(latest?.offset, last.offset, "latest of dataset {}", name),
            None => prop_assert!(matches!(latest, Err(Error::DatasetNotFound { .. })), "dataset {}", name),
        }
        let beyond = store.get_dataset(name, Some(versions.len() as u32 + 1));
        prop_assert!(matches!(beyond, Err(Error::DatasetNotFound { .. })), "dataset {} beyond its latest", name);
    }
    Ok(())
}

/// Checks everything; every version of the ids in `swept`, or of all ids.
fn check_all(store: &Store, model: &Model, swept: Option<&HashSet<String>>) -> CaseResult {
    for id in universe() {
        check_item(store, model, &id, swept.is_none_or(|ids| ids.contains(&id)))?;
        check_children(store, model, &id)?;
    }
    check_queries(store, model)?;
    check_stats(store, model)?;
    check_datasets(store, model)
}

// ---------------------------------------------------------------- the runner

/// Compression is on unless `RECSTORE_TEST_UNCOMPRESSED` is set, so the
/// same model runs both ways: `RECSTORE_TEST_UNCOMPRESSED=1 cargo test --test NAME`.
fn compression() -> bool {
    std::env::var_os("RECSTORE_TEST_UNCOMPRESSED").is_none()
}

fn options() -> StoreOptions {
    StoreOptions::default()
        .sync(SyncMode::Never)
        .segment_size_bytes(2048)
        .compress_threshold_bytes(256)
        .checkpoint_interval_records(7)
        .compression(compression())
}

/// Drops the store, runs `between` on the closed directory and reopens it.
fn reopen(store: Store, dir: &Path, between: impl FnOnce() -> std::io::Result<()>) -> Result<Store, TestCaseError> {
    drop(store);
    between()?;
    Ok(Store::open(dir, options())?)
}

fn run_op(store: Store, model: &mut Model, op: &Op, dir: &Path, saved: &Path) -> Result<Store, TestCaseError> {
    let checkpoint = dir.join("views").join("checkpoint.bin");
    match op {
        Op::Put(spec) => {
            let NewItem { data, metadata } = spec.new_item();
            let got = store.put(data, metadata)?;
            let (expected, _) = model.write(vec![stored(spec)], None);
            check_refs(&[got], &expected)?;
        }
        Op::RePut(index) => {
            let id = &universe()[*index];
            let (item, expected) = match model.items.get(id) {
                Some(item) => {
                    let latest = item.latest();
                    let named = POOL.contains(&id.as_str()).then(|| id.clone());
                    let metadata = Metadata { id: named, ..latest.metadata.clone() };
                    (
                        NewItem { data: Data::Json(latest.data.clone()), metadata },
                        (latest.data.clone(), latest.metadata.clone()),
                    )
                }
                None => return Ok(store),
            };
            let got = store.put(item.data, item.metadata)?;
            let (refs, _) = model.write(vec![(id.clone(), expected.0, expected.1)], None);
            check_refs(&[got], &refs)?;
        }
        Op::Batch(specs, repeat) => {
            let mut specs = specs.clone();
            match repeat {
                1 => specs.push(specs[0].clone()),
                2 => specs.push(ItemSpec { data: (specs[0].data + 1) % DATA_VARIANTS, ..specs[0].clone() }),
                _ => {}
            }
            let got = store.put_batch(specs.iter().map(ItemSpec::new_item).collect())?;
            let (expected, _) = model.write(specs.iter().map(stored).collect(), None);
            check_refs(&got, &expected)?;
        }
        Op::Delete(index, twice) => {
            let id = &universe()[*index];
            for _ in 0..(1 + usize::from(*twice)) {
                let got = store.delete(id);
                match model.delete(id) {
                    Ok(offset) => prop_assert_eq!(got?, offset, "delete {}", id),
                    Err(Refusal::NotFound) => {
                        prop_assert!(matches!(got, Err(Error::NotFound { .. })), "delete {}: {:?}", id, got);
                    }
                    Err(Refusal::Deleted { offset }) => prop_assert!(
                        matches!(got, Err(Error::Deleted { offset: o, .. }) if o == offset),
                        "delete {} again: {:?}",
                        id,
                        got
                    ),
                }
            }
        }
        Op::Dataset(name, specs, info) => {
            let name = DATASETS[*name];
            let info = json!({"info": info});
            let got = store.put_dataset(name, specs.iter().map(ItemSpec::new_item).collect(), info.clone())?;
            let (expected, dataset) = model.write(specs.iter().map(stored).collect(), Some((name, info)));
            check_refs(&got.items, &expected)?;
            prop_assert_eq!(
                (got.name.as_str(), got.version, got.offset),
                (name, dataset.map_or(0, |d| d.0), dataset.map_or(0, |d| d.1))
            );
        }
        Op::Reopen => return reopen(store, dir, || Ok(())),
        Op::LoseCheckpoint => {
            return reopen(store, dir, || match std::fs::remove_file(&checkpoint) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            });
        }
        Op::StaleCheckpoint => {
            return reopen(store, dir, || {
                if saved.exists() {
                    std::fs::copy(saved, &checkpoint)?;
                }
                Ok(())
            });
        }
        Op::Checkpoint => {
            store.checkpoint()?;
            std::fs::copy(&checkpoint, saved)?;
        }
    }
    Ok(store)
}

fn run(ops: &[Op]) -> CaseResult {
    let temp = tempfile::tempdir()?;
    let dir: PathBuf = temp.path().join("store");
    let saved = temp.path().join("saved-checkpoint.bin");
    let mut store = Store::open(&dir, options())?;
    let mut model = Model::default();
    for (step, op) in ops.iter().enumerate() {
        let events_before: HashMap<String, usize> =
            model.items.iter().map(|(id, i)| (id.clone(), i.events.len())).collect();
        store = run_op(store, &mut model, op, &dir, &saved)
            .map_err(|e| TestCaseError::fail(format!("step {step} {op:?}: {e}")))?;
        let written: HashSet<String> = model
            .items
            .iter()
            .filter(|(id, item)| events_before.get(*id) != Some(&item.events.len()))
            .map(|(id, _)| id.clone())
            .collect();
        let reopened = matches!(op, Op::Reopen | Op::LoseCheckpoint | Op::StaleCheckpoint);
        let swept = (!reopened).then_some(&written);
        check_all(&store, &model, swept).map_err(|e| TestCaseError::fail(format!("after step {step} {op:?}: {e}")))?;
    }
    check_all(&store, &model, None).map_err(|e| TestCaseError::fail(format!("at the end: {e}")))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(40),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn store_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(&ops)?;
    }
}
