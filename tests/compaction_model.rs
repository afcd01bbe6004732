//! After compaction the store answers like a model that knows which
//! versions the policy dropped.
//!
//! Each seeded round writes a random history (puts with tags and parents,
//! deletes, revivals, datasets pinning new or current versions) into a
//! store with tiny segments, then runs one to three compactions with random
//! policies (version limits, cutoffs at a random record's time, expiry,
//! purge), writing more history in between. The model decides drops with
//! its own copy of the documented rules (segments-format.md, "Retention
//! rules"), not with `retention::decide`, including the one for datasets:
//! a version that a dataset's latest version pins is kept, and with purge
//! nothing from the item's lowest pinned version on leaves the log. After
//! each compaction:
//! - every version reads as the model says: its data, or `Error::Pruned`,
//!   or (purged) not there at all; metadata of pruned versions still reads;
//! - history lists every event that is not purged, stubs included;
//! - the log holds stubs exactly at pruned puts, gaps exactly at purged
//!   records, and every other record at its old offset, byte for byte;
//! - as-of reads at bounds at or after the horizon see no dropped version
//!   as current, except an expired one, which says `Pruned`;
//! - queries and counts, now and as of each bound, list exactly the items
//!   whose current version kept its data: an expired one is gone, as a
//!   deleted one is (and `stats.items_expired` counts it apart);
//! - each dataset's latest version reads back with every member's data;
//! - stats match the model, and verify finds the log clean.
//!
//! At the end of each round the store is reopened from its checkpoint, and
//! again with the checkpoint deleted (a full replay of the compacted log),
//! and everything is checked again.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::ControlFlow;
use std::path::Path;

use recstore::compaction::Policy;
use recstore::log::Record;
use recstore::records::codec::{self, kind};
use recstore::timetravel::AsOf;
use recstore::{Data, Direction, Error, ItemRef, Metadata, NewItem, Query, Store, StoreOptions, SyncMode};
use serde_json::{Value, json};

use common::{Rng, TestResult};

const ROUNDS: u64 = 40;
const IDS: [&str; 10] = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
const TAGS: [&str; 3] = ["raw", "clean", "hot"];
const DATASETS: [&str; 2] = ["train", "eval"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Kept,
    Pruned { expired: bool },
    Purged,
}

#[derive(Debug, Clone)]
struct Event {
    offset: u64,
    timestamp_us: u64,
    /// 0 for a delete.
    version: u32,
    data: Option<Value>,
    tags: Vec<String>,
    parents: Vec<String>,
    fate: Fate,
}

impl Event {
    fn is_delete(&self) -> bool {
        self.version == 0
    }
}

#[derive(Default)]
struct Model {
    /// Every event ever written, purged ones included (as-of checks need them).
    items: BTreeMap<String, Vec<Event>>,
    /// The members of each dataset's latest version.
    datasets: BTreeMap<String, Vec<(String, u32)>>,
    counter: u64,
    /// Versions a pin kept from being dropped, and of those, how many a
    /// purge turned into stubs: proof that the rounds test the rule.
    rescued: (u64, u64),
}

/// What one compaction newly did to the model.
#[derive(Debug, Default, PartialEq, Eq)]
struct Newly {
    /// Puts that became stubs.
    pruned: u64,
    /// Records removed from the log (purge).
    purged: u64,
}

impl Model {
    /// The events the store still holds for `id`.
    fn held(&self, id: &str) -> Vec<&Event> {
        self.items.get(id).map_or(Vec::new(), |events| events.iter().filter(|e| e.fate != Fate::Purged).collect())
    }

    fn next_version(&self, id: &str) -> u32 {
        self.held(id).iter().rev().find(|e| !e.is_delete()).map_or(1, |e| e.version + 1)
    }

    fn is_live(&self, id: &str) -> bool {
        self.held(id).last().is_some_and(|e| !e.is_delete())
    }

    /// The lowest version of `id` each dataset's latest version pins, with
    /// the set of all pinned `(id, version)`.
    fn pins(&self) -> (HashMap<String, u32>, std::collections::HashSet<(String, u32)>) {
        let pinned: std::collections::HashSet<(String, u32)> = self.datasets.values().flatten().cloned().collect();
        let mut lowest: HashMap<String, u32> = HashMap::new();
        for (id, version) in &pinned {
            let entry = lowest.entry(id.clone()).or_insert(*version);
            *entry = (*entry).min(*version);
        }
        (lowest, pinned)
    }

    /// The documented rules, written out again: returns what this policy
    /// newly does.
    fn compact(&mut self, policy: &Policy) -> Newly {
        let mut newly = Newly::default();
        let (lowest_pin, pinned) = self.pins();
        for (id, events) in self.items.iter_mut() {
            let held: Vec<usize> = (0..events.len()).filter(|&i| events[i].fate != Fate::Purged).collect();
            let before_cutoff = |t: u64| policy.cutoff_us.is_some_and(|c| t < c);
            let mut drop = vec![None; held.len()];
            for (k, &i) in held.iter().enumerate() {
                if events[i].is_delete() {
                    continue;
                }
                let later_puts = held[k + 1..].iter().filter(|&&j| !events[j].is_delete()).count();
                let successor = held.get(k + 1).map(|&j| &events[j]);
                let expired = successor.is_none() && policy.expire && before_cutoff(events[i].timestamp_us);
                let superseded = successor.is_some_and(|s| before_cutoff(s.timestamp_us));
                let too_many = policy.max_versions.is_some_and(|m| later_puts >= m as usize);
                let is_pinned = pinned.contains(&(id.clone(), events[i].version));
                if (expired || superseded || too_many) && !is_pinned {
                    drop[k] = Some(expired);
                }
                self.rescued.0 += u64::from((expired || superseded || too_many) && is_pinned);
            }
            // With purge: the leading dropped puts below the lowest pinned
            // version leave, each with the tombstone that ended it.
            let mut purged = 0;
            if policy.purge {
                let lowest = lowest_pin.get(id).copied().unwrap_or(u32::MAX);
                for (k, &i) in held.iter().enumerate() {
                    let event = &events[i];
                    let leaves = if event.is_delete() { k > 0 } else { drop[k].is_some() && event.version < lowest };
                    if !leaves {
                        break;
                    }
                    purged = k + 1;
                }
            }
            for (k, &i) in held.iter().enumerate() {
                let event = &mut events[i];
                if k < purged {
                    event.fate = Fate::Purged;
                    newly.purged += 1;
                } else if let Some(expired) = drop[k]
                    && event.fate == Fate::Kept
                {
                    event.fate = Fate::Pruned { expired };
                    newly.pruned += 1;
                    self.rescued.1 += u64::from(policy.purge);
                }
            }
        }
        newly
    }
}

/// Compression is on unless `RECSTORE_TEST_UNCOMPRESSED` is set, so the
/// same model runs both ways: `RECSTORE_TEST_UNCOMPRESSED=1 cargo test --test NAME`.
fn compression() -> bool {
    std::env::var_os("RECSTORE_TEST_UNCOMPRESSED").is_none()
}

fn options() -> StoreOptions {
    StoreOptions::default()
        .sync(SyncMode::Never)
        .segment_size_bytes(2048)
        .checkpoint_interval_records(0)
        .compress_threshold_bytes(256)
        .compression(compression())
}

fn timestamp_of(store: &Store, offset: u64) -> Result<u64, Box<dyn std::error::Error>> {
    Ok(store.log().read(offset)?.timestamp_us)
}

/// Writes `count` random operations to the store and the model.
fn write_history(store: &Store, model: &mut Model, rng: &mut Rng, count: usize) -> TestResult {
    for _ in 0..count {
        let id = IDS[rng.below(IDS.len() as u64) as usize];
        if rng.chance(8, 100) {
            write_dataset(store, model, rng)?;
            continue;
        }
        if model.is_live(id) && rng.chance(20, 100) {
            let offset = store.delete(id)?;
            let timestamp_us = timestamp_of(store, offset)?;
            let event = Event {
                offset,
                timestamp_us,
                version: 0,
                data: None,
                tags: Vec::new(),
                parents: Vec::new(),
                fate: Fate::Kept,
            };
            model.items.entry(id.to_string()).or_default().push(event);
            continue;
        }
        let item = new_item(model, rng, id);
        let stored = store.put(item.data.clone(), item.metadata.clone())?;
        assert!(stored.created, "every value is new");
        record_put(store, model, &item, &stored)?;
    }
    Ok(())
}

/// A new value for `id`, with random tags and parents.
fn new_item(model: &mut Model, rng: &mut Rng, id: &str) -> NewItem {
    model.counter += 1;
    let data = json!({"n": model.counter, "pad": "x".repeat(rng.below(400) as usize)});
    let tags: Vec<String> = TAGS.iter().filter(|_| rng.chance(40, 100)).map(|t| t.to_string()).collect();
    let parents =
        if rng.chance(30, 100) { vec![IDS[rng.below(IDS.len() as u64) as usize].to_string()] } else { vec![] };
    NewItem { data: Data::Json(data), metadata: Metadata { id: Some(id.into()), tags, parents, ..Metadata::default() } }
}

/// Adds a put the store acknowledged to the model, if it wrote one.
fn record_put(store: &Store, model: &mut Model, item: &NewItem, stored: &ItemRef) -> TestResult {
    if !stored.created {
        return Ok(());
    }
    assert_eq!(stored.version, model.next_version(&stored.id), "version of {}", stored.id);
    let Data::Json(data) = &item.data else { return Err("the model stores JSON".into()) };
    let event = Event {
        offset: stored.offset,
        timestamp_us: timestamp_of(store, stored.offset)?,
        version: stored.version,
        data: Some(data.clone()),
        // The store keeps tags as a set: sorted, without repeats.
        tags: item.metadata.tags.iter().cloned().collect::<std::collections::BTreeSet<_>>().into_iter().collect(),
        parents: item.metadata.parents.clone(),
        fate: Fate::Kept,
    };
    model.items.entry(stored.id.clone()).or_default().push(event);
    Ok(())
}

/// Puts a new version of a random dataset pinning one to three ids: each
/// one's current version, stored again unchanged (which writes nothing), or
/// a new version.
fn write_dataset(store: &Store, model: &mut Model, rng: &mut Rng) -> TestResult {
    let name = DATASETS[rng.below(DATASETS.len() as u64) as usize];
    let first = rng.below(IDS.len() as u64) as usize;
    let count = 1 + rng.below(3) as usize;
    let mut items = Vec::new();
    let mut expected = Vec::new();
    for id in IDS.iter().cycle().skip(first).take(count) {
        let current = model.held(id).last().filter(|e| !e.is_delete() && e.fate == Fate::Kept).map(|e| (*e).clone());
        match current {
            Some(event) if rng.chance(50, 100) => {
                let data = Data::Json(event.data.clone().ok_or("a put has data")?);
                let metadata = Metadata {
                    id: Some(id.to_string()),
                    tags: event.tags,
                    parents: event.parents,
                    ..Metadata::default()
                };
                items.push(NewItem { data, metadata });
                expected.push((id.to_string(), event.version));
            }
            _ => {
                items.push(new_item(model, rng, id));
                expected.push((id.to_string(), model.next_version(id)));
            }
        }
    }
    let written = store.put_dataset(name, items.clone(), json!({"round": "model"}))?;
    for (item, stored) in items.iter().zip(&written.items) {
        record_put(store, model, item, stored)?;
    }
    let members: Vec<(String, u32)> = written.items.iter().map(|r| (r.id.clone(), r.version)).collect();
    assert_eq!(members, expected, "dataset {name}: pinned versions");
    model.datasets.insert(name.to_string(), members);
    Ok(())
}

fn random_policy(model: &Model, rng: &mut Rng) -> Policy {
    let timestamps: Vec<u64> = model.items.values().flatten().map(|e| e.timestamp_us).collect();
    let cutoff_us = (rng.chance(70, 100) && !timestamps.is_empty())
        .then(|| timestamps[rng.below(timestamps.len() as u64) as usize] + rng.below(2));
    Policy::keep_everything()
        .max_versions(rng.chance(70, 100).then(|| 1 + rng.below(4) as u32))
        .cutoff_us(cutoff_us)
        .expire(cutoff_us.is_some() && rng.chance(30, 100))
        .purge(rng.chance(35, 100))
}

fn all_records(store: &Store) -> Result<BTreeMap<u64, Record>, Box<dyn std::error::Error>> {
    let mut records = BTreeMap::new();
    store.log().scan(0, |record| {
        records.insert(record.offset, record.to_owned());
        ControlFlow::Continue(())
    })?;
    Ok(records)
}

/// The log after compaction against the log before it and the model.
fn check_log(store: &Store, model: &Model, before: &BTreeMap<u64, Record>, round: u64) -> TestResult {
    let after = all_records(store)?;
    let fates: HashMap<u64, (Fate, bool)> =
        model.items.values().flatten().map(|e| (e.offset, (e.fate, e.is_delete()))).collect();
    for (offset, old) in before {
        let fate = fates.get(offset).map(|(fate, _)| *fate);
        match (after.get(offset), fate) {
            (None, Some(Fate::Purged)) => {}
            (None, _) => panic!("round {round}: offset {offset} vanished but the model keeps it ({fate:?})"),
            (Some(_), Some(Fate::Purged)) => panic!("round {round}: purged offset {offset} is still in the log"),
            (Some(new), _) => {
                assert_eq!(new.timestamp_us, old.timestamp_us, "round {round}: timestamp of offset {offset}");
                if new.kind == old.kind {
                    assert_eq!(new.payload, old.payload, "round {round}: survivor at offset {offset} changed");
                    let is_put = new.kind == kind::PUT;
                    assert!(!is_put || fate == Some(Fate::Kept), "round {round}: pruned put {offset} was not stubbed");
                } else {
                    assert_eq!((old.kind, new.kind), (kind::PUT, kind::AUDIT_STUB), "round {round}: offset {offset}");
                    assert!(matches!(fate, Some(Fate::Pruned { .. })), "round {round}: stub at kept offset {offset}");
                    let put = codec::decode_put(&old.payload)?;
                    let stub = codec::decode_stub(&new.payload)?;
                    assert_eq!((stub.id, stub.version, stub.md5), (put.id, put.version, put.md5));
                    assert_eq!(stub.metadata_json, put.metadata_json, "round {round}: stub metadata at {offset}");
                    assert_eq!(stub.data_size_bytes, put.data_size_bytes);
                }
            }
        }
    }
    for (offset, record) in &after {
        if !before.contains_key(offset) {
            assert_eq!(record.kind, kind::COMPACTION, "round {round}: new record at {offset} is the compaction record");
        }
    }
    let report = recstore::log::verify(store.log().dir(), false)?;
    assert!(report.is_clean(), "round {round}: verify after compaction: {:?}", report.problems);
    Ok(())
}

/// Every read of the store against the model.
fn check_reads(store: &Store, model: &Model, round: u64, when: &str) -> TestResult {
    let context = |id: &str| format!("round {round} {when}: item {id}");
    let (mut versions, mut deletes, mut live, mut deleted, mut logical) = (0, 0, 0, 0, 0);
    let (mut expired, mut live_ids) = (0, BTreeSet::new());
    for id in IDS {
        let held = model.held(id);
        let Some(last) = held.last() else {
            assert!(matches!(store.get(id), Err(Error::NotFound { .. })), "{}: forgotten or never stored", context(id));
            assert!(matches!(store.history(id), Err(Error::NotFound { .. })), "{}", context(id));
            continue;
        };
        let history = store.history(id)?;
        let expected: Vec<(u64, bool)> = held.iter().map(|e| (e.offset, e.is_delete())).collect();
        let found: Vec<(u64, bool)> = history.iter().map(|h| (h.offset, h.event == "delete")).collect();
        assert_eq!(found, expected, "{}: history", context(id));
        if last.is_delete() {
            deleted += 1;
            assert!(matches!(store.get(id), Err(Error::Deleted { .. })), "{}: deleted", context(id));
        } else if last.fate == (Fate::Pruned { expired: true }) {
            // Its current version expired: gone from queries, as a delete is.
            expired += 1;
        } else {
            live += 1;
            live_ids.insert(id.to_string());
        }
        for event in &held {
            if event.is_delete() {
                deletes += 1;
                continue;
            }
            versions += 1;
            let read = store.get_version(id, event.version);
            match event.fate {
                Fate::Kept => {
                    logical += event.data.as_ref().map_or(0, |d| serde_json::to_vec(d).map_or(0, |b| b.len() as u64));
                    assert_eq!(&read?.json()?, event.data.as_ref().ok_or("a put has data")?, "{}", context(id));
                }
                Fate::Pruned { .. } => assert!(
                    matches!(read, Err(Error::Pruned { version, .. }) if version == event.version),
                    "{}: version {} is pruned, read gave {read:?}",
                    context(id),
                    event.version
                ),
                Fate::Purged => unreachable!("held() leaves purged events out"),
            }
            let meta = store.metadata(id, Some(event.version))?;
            assert_eq!((meta.offset, &meta.metadata.tags), (event.offset, &event.tags), "{}: metadata", context(id));
        }
        if !last.is_delete() {
            let latest = store.get(id);
            assert_eq!(latest.is_ok(), last.fate == Fate::Kept, "{}: latest read {latest:?}", context(id));
        }
        match store.lineage(id, Direction::Up, 2) {
            Ok(_) | Err(Error::NotFound { .. }) => {}
            Err(error) => panic!("{}: lineage over stubs failed: {error}", context(id)),
        }
        for purged in model.items[id].iter().filter(|e| e.fate == Fate::Purged && !e.is_delete()) {
            if held.iter().all(|e| e.version != purged.version) {
                let read = store.get_version(id, purged.version);
                assert!(
                    matches!(read, Err(Error::VersionNotFound { .. })),
                    "{}: purged version {}: {read:?}",
                    context(id),
                    purged.version
                );
            }
        }
    }
    for (name, members) in &model.datasets {
        let dataset = store.get_dataset(name, None)?;
        assert_eq!(&dataset.members, members, "round {round} {when}: dataset {name}");
        for (id, version) in members {
            let data = store.get_version(id, *version);
            assert!(data.is_ok(), "round {round} {when}: dataset {name} pins {id} v{version}, read {data:?}");
        }
        store.dataset_json(name, None, true)?;
    }
    let stats = store.stats();
    let found = (stats.versions, stats.deletes, stats.items_live, stats.items_deleted, stats.logical_bytes);
    assert_eq!(found, (versions, deletes, live, deleted, logical), "round {round} {when}: stats");
    assert_eq!(stats.items_expired, expired, "round {round} {when}: stats.items_expired");
    let everything = Query::default();
    let hits: BTreeSet<String> = store.query_hits(&everything)?.into_iter().map(|h| h.id).collect();
    assert_eq!(hits, live_ids, "round {round} {when}: query sees exactly the live items");
    assert_eq!(store.count(&everything)?, live, "round {round} {when}: query count");
    for meta in store.query(&everything)? {
        store.get(&meta.id)?;
    }
    check_as_of(store, model, round, when)
}

/// As-of reads at bounds from the horizon on see no dropped version as current.
fn check_as_of(store: &Store, model: &Model, round: u64, when: &str) -> TestResult {
    let Some((horizon, _)) = store.compaction_horizon() else { return Ok(()) };
    let next_offset = store.log().next_offset();
    let bounds: Vec<u64> = (horizon.max(1)..=next_offset).step_by(3).collect();
    for requested in bounds {
        let at = store.at(AsOf::Offset(requested - 1))?;
        // A dataset's batch ends after its last record; every other batch is one record.
        let bound = at.bound();
        assert!(bound >= requested, "as of offset {} reads to {bound}", requested - 1);
        let mut live = 0;
        for id in IDS {
            let current = model.items.get(id).and_then(|events| events.iter().rev().find(|e| e.offset < bound));
            live += u64::from(current.is_some_and(|e| !e.is_delete() && e.fate == Fate::Kept));
            let read = at.get(id);
            let context = format!("round {round} {when}: {id} as of bound {bound} (horizon {horizon})");
            match current {
                None => assert!(matches!(read, Err(Error::NotFound { .. })), "{context}: {read:?}"),
                // A purged record with no successor (a final tombstone, an
                // expired version): the item was forgotten, now and then.
                Some(event) if event.fate == Fate::Purged => {
                    assert!(matches!(read, Err(Error::NotFound { .. })), "{context}: forgotten, read {read:?}");
                }
                Some(event) if event.is_delete() => {
                    assert!(matches!(read, Err(Error::Deleted { .. })), "{context}: {read:?}");
                }
                Some(event) => match event.fate {
                    Fate::Kept => assert_eq!(Some(&read?.json()?), event.data.as_ref(), "{context}"),
                    Fate::Pruned { expired: true } => assert!(matches!(read, Err(Error::Pruned { .. })), "{context}"),
                    fate => panic!("{context}: the current version was dropped ({fate:?}) past the horizon"),
                },
            }
        }
        // Expired and purged current versions are gone from as-of queries too.
        let context = format!("round {round} {when}: as of bound {bound} (horizon {horizon})");
        assert_eq!(at.count(&Query::default())?, live, "{context}: query count");
        assert_eq!(at.stats().items_live, live, "{context}: stats.items_live");
    }
    Ok(())
}

/// Runs one round; returns the model's `rescued` counts.
fn run_round(round: u64, dir: &Path) -> Result<(u64, u64), Box<dyn std::error::Error>> {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ (round + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut model = Model::default();
    let store = Store::open(dir, options())?;
    let compactions = 1 + rng.below(3);
    for _ in 0..compactions {
        let ops = 20 + rng.below(60) as usize;
        write_history(&store, &mut model, &mut rng, ops)?;
        let policy = random_policy(&model, &mut rng);
        let before = all_records(&store)?;
        let newly = model.compact(&policy);
        let report = store.compact(policy)?;
        let dropped = newly.pruned + newly.purged;
        assert_eq!(report.records_dropped.total(), dropped, "round {round}: dropped count of {policy:?}");
        assert_eq!(report.stubs_written, newly.pruned, "round {round}: stubs written by {policy:?}");
        check_log(&store, &model, &before, round)?;
        check_reads(&store, &model, round, "after compaction")?;
        // The same policy again finds nothing to do.
        let again = store.compact(policy)?;
        assert_eq!((again.records_dropped.total(), again.segments_rewritten), (0, 0), "round {round}: idempotent");
    }
    drop(store);
    let store = Store::open(dir, options())?;
    check_reads(&store, &model, round, "after reopen")?;
    drop(store);
    std::fs::remove_dir_all(dir.join(recstore::store::VIEWS_DIR_NAME))?;
    let store = Store::open(dir, options())?;
    check_reads(&store, &model, round, "after a full replay")?;
    Ok(model.rescued)
}

#[test]
fn reads_after_compaction_match_the_model() -> TestResult {
    let mut rescued = (0, 0);
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir()?;
        let (kept, stubbed_in_purge) = run_round(round, dir.path())?;
        rescued = (rescued.0 + kept, rescued.1 + stubbed_in_purge);
    }
    assert!(rescued.0 > 0 && rescued.1 > 0, "no round kept a pinned version, or none purged past one: {rescued:?}");
    eprintln!("pinned versions kept: {}; stubs a purge left after a pin: {}", rescued.0, rescued.1);
    Ok(())
}

#[test]
fn default_policy_keeps_recent_history_and_stubs_old_versions() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), options())?;
    let id = Metadata { id: Some("x".into()), ..Metadata::default() };
    for n in 0..8 {
        store.put(Data::Json(json!(n)), id.clone())?;
    }
    let report = store.compact(Policy::default())?;
    assert_eq!(report.records_dropped.max_versions, 3, "five of eight versions stay");
    assert_eq!(report.stubs_written, 3);
    assert!(report.bytes_scanned > 0 && report.segments_scanned > 0);
    let error = store.get_version("x", 1).expect_err("version 1 is pruned");
    assert_eq!(error.kind(), recstore::ErrorKind::Pruned);
    assert!(error.to_string().contains("pruned by compaction"), "{error}");
    assert_eq!(store.get("x")?.json()?, json!(7));
    assert!(store.compaction_horizon().is_some());
    Ok(())
}

#[test]
fn background_compaction_runs_on_its_interval_and_stops_on_drop() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = std::sync::Arc::new(Store::open(dir.path(), options())?);
    let id = Metadata { id: Some("x".into()), ..Metadata::default() };
    for n in 0..4 {
        store.put(Data::Json(json!(n)), id.clone())?;
    }
    let policy = || Policy::keep_everything().max_versions(Some(1));
    let background = store.spawn_background_compaction(std::time::Duration::from_millis(20), policy);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while background.last_result().is_none() {
        assert!(std::time::Instant::now() < deadline, "no background run finished within 30 s");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    drop(background);
    assert!(matches!(store.get_version("x", 3), Err(Error::Pruned { .. })));
    assert_eq!(store.get("x")?.json()?, json!(3));
    // The thread holds the store only weakly and is gone: the store closes.
    let store = std::sync::Arc::into_inner(store).ok_or("the background thread still holds the store")?;
    store.close()?;
    Ok(())
}
