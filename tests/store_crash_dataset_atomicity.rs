//! Kill -9 during dataset puts: a dataset is never half-present.
//!
//! A child process (this test binary again, running only `child_entry`)
//! opens a [`Store`] with `SyncMode::Always` and loops calling
//! `put_dataset` with 50 to 300 items each: new ids, and new versions of ids
//! that earlier datasets wrote, some with `parents`. Each item's data names
//! the dataset version that wrote it and its place in it. After each call
//! returns the child prints an acknowledgement: name, version, offset and
//! the pinned `(id, version)` members. The parent kills it with SIGKILL at a
//! pseudo-random moment, at least 30 times on the same directory, so later
//! rounds write new versions of items that crashed rounds wrote, and open
//! from a checkpoint the child wrote or (every third round) replay the
//! whole log. After each kill [`check_store`] checks:
//!
//! - verify finds no corruption, before the reopen and after it, and the
//!   reopen leaves no torn tail behind;
//! - the log is whole datasets only: the puts between two dataset records
//!   are exactly the members the later one pins, in order, in the same batch
//!   (one timestamp), and no put follows the last dataset record;
//! - the views agree: every dataset version in the log reads back with its
//!   members, each member's version reads back with the data and parents
//!   that dataset version wrote, every item's versions are dense and each is
//!   pinned by exactly one dataset version, and the stats count exactly the
//!   item versions the datasets account for;
//! - every acknowledged dataset version is among them, with exactly the
//!   members it was acknowledged with.

mod common;
mod kill9_support;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use kill9_support::Child;
use recstore::log::{ProblemKind, RecordRef};
use recstore::records::codec::{self, DatasetRecord, kind};
use recstore::{Data, Error, Metadata, NewItem, Store, StoreOptions, SyncMode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use common::{Rng, TestResult};

/// Set in the child's environment to the data directory it writes to.
const CHILD_DIR_ENV: &str = "RECSTORE_DATASET_CRASH_DIR";
/// Set in the child's environment to the round number, its seed.
const CHILD_ROUND_ENV: &str = "RECSTORE_DATASET_CRASH_ROUND";
const ACK_PREFIX: &str = "ACK ";
const READY_LINE: &str = "READY";
const ROUNDS: u64 = 30;
const DATASET_NAMES: [&str; 3] = ["train", "eval", "holdout"];
const ITEM_COUNT_MIN: u64 = 50;
const ITEM_COUNT_MAX: u64 = 300;
const ITEM_TYPE: &str = "member";

/// Default options but for checkpoints: one every 250 records (about every
/// dataset) instead of every million, so that kills also land while the
/// child writes one, and reopens start from one.
fn options() -> StoreOptions {
    StoreOptions::default().sync(SyncMode::Always).checkpoint_interval_records(250)
}

/// Every item id the child writes: new ids are handed out densely, so the
/// store holds exactly `item_id(0..items_live)` (the child never deletes).
fn item_id(number: u64) -> String {
    format!("item-{number:05}")
}

/// Padding that depends only on the item's place, 0 to 299 bytes (the
/// search view indexes it as text, and closing a store waits for that).
fn pad(name: &str, version: u32, index: usize) -> String {
    let seed = name.len() as u64 * 7919 + u64::from(version) * 104_729 + index as u64 * 31;
    "p".repeat((seed.wrapping_mul(0x9E37_79B9) % 300) as usize)
}

/// The data of member `index` of dataset `name` version `version`.
fn item_data(name: &str, version: u32, index: usize, parents: &[String]) -> Value {
    json!({"ds": name, "dv": version, "i": index, "parents": parents, "pad": pad(name, version, index)})
}

/// An acknowledged dataset version, as the child prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Ack {
    name: String,
    version: u32,
    offset: u64,
    members: Vec<(String, u32)>,
}

/// The latest version of an item the store holds.
fn latest_version(store: &Store, id: &str) -> Result<u32, Error> {
    let history = store.history(id)?;
    Ok(history.last().map_or(0, |entry| entry.version))
}

/// Chooses the next dataset version's members, writes it, and checks the
/// versions the store gave back against the ones the child expected.
fn put_one_dataset(store: &Store, rng: &mut Rng) -> TestResult<Ack> {
    let name = DATASET_NAMES[rng.below(DATASET_NAMES.len() as u64) as usize];
    let version = store.list_datasets().iter().find(|d| d.name == name).map_or(1, |d| d.version + 1);
    let existing_count = store.stats().items_live;
    let item_count = ITEM_COUNT_MIN + rng.below(ITEM_COUNT_MAX - ITEM_COUNT_MIN + 1);
    let mut next_new = existing_count;
    let mut chosen: HashSet<u64> = HashSet::new();
    let mut items = Vec::new();
    let mut expected: Vec<(String, u32)> = Vec::new();
    for index in 0..item_count as usize {
        // About 40% new versions of earlier items, each id once per dataset.
        let earlier = (existing_count > 0 && rng.chance(40, 100)).then(|| rng.below(existing_count));
        let number = match earlier {
            Some(number) if chosen.insert(number) => number,
            _ => {
                next_new += 1;
                next_new - 1
            }
        };
        let id = item_id(number);
        let expected_version = if number < existing_count { latest_version(store, &id)? + 1 } else { 1 };
        let mut parents = Vec::new();
        if rng.chance(30, 100) {
            if index > 0 && rng.chance(50, 100) {
                parents.push(expected[rng.below(index as u64) as usize].0.clone());
            } else if existing_count > 0 {
                let parent = item_id(rng.below(existing_count));
                parents.push(format!("{parent}@{}", latest_version(store, &parent)?));
            }
        }
        let metadata = Metadata {
            id: Some(id.clone()),
            item_type: Some(ITEM_TYPE.into()),
            tags: vec!["crash".into()],
            parents: parents.clone(),
            ..Metadata::default()
        };
        items.push(NewItem { data: Data::Json(item_data(name, version, index, &parents)), metadata });
        expected.push((id, expected_version));
    }
    let info = json!({"round_item_count": item_count});
    let stored = store.put_dataset(name, items, info)?;
    assert_eq!(stored.version, version, "the child is the only writer");
    let members: Vec<(String, u32)> = stored.items.iter().map(|item| (item.id.clone(), item.version)).collect();
    assert_eq!(members, expected, "dataset {name} v{version}: the store chose other versions");
    assert!(stored.items.iter().all(|item| item.created), "every member is new content");
    Ok(Ack { name: name.to_string(), version, offset: stored.offset, members })
}

/// Runs in the child process only: writes datasets until killed.
#[test]
fn child_entry() -> TestResult {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else { return Ok(()) };
    let round: u64 = std::env::var(CHILD_ROUND_ENV)?.parse()?;
    let store = Store::open(Path::new(&dir), options())?;
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "\n{READY_LINE}\n")?;
    stdout.flush()?;
    let mut rng = rng_for(round, 1);
    // A guard so an orphaned child cannot run forever; the parent kills
    // it long before.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let ack = put_one_dataset(&store, &mut rng)?;
        // One write per line; the leading newline keeps it apart from the
        // test harness's output. A line the kill cuts short has no final
        // newline, and the parent ignores it.
        let line = format!("\n{ACK_PREFIX}{}\n", serde_json::to_string(&ack)?);
        stdout.write_all(line.as_bytes())?;
        stdout.flush()?;
    }
    Ok(())
}

/// Runs one child, kills it, and returns what it acknowledged.
fn run_child_and_kill(dir: &Path, round: u64) -> TestResult<Vec<Ack>> {
    let mut rng = rng_for(round, 7);
    let child = Child::spawn(&[(CHILD_DIR_ENV, dir.display().to_string()), (CHILD_ROUND_ENV, round.to_string())])?;
    let mut seen = Vec::new();
    if round % 5 == 4 {
        // Kill early: while the store opens, loads its checkpoint and
        // replays, or during the first dataset.
        std::thread::sleep(Duration::from_millis(rng.below(40)));
    } else {
        // Wait for the first acknowledgement, so every such round makes
        // progress, then kill somewhere in the next datasets.
        seen = child.wait_for(|line| line.starts_with(ACK_PREFIX))?;
        std::thread::sleep(Duration::from_millis(rng.below(100)));
    }
    seen.extend(child.kill(round)?);
    let mut acked = Vec::new();
    for line in &seen {
        if let Some(json) = line.strip_prefix(ACK_PREFIX) {
            acked.push(serde_json::from_str(json)?);
        }
    }
    Ok(acked)
}

/// One dataset record of the log.
struct LoggedDataset {
    record: DatasetRecord,
    offset: u64,
}

/// A put since the last dataset record.
struct PendingPut {
    offset: u64,
    timestamp_us: u64,
    member: (String, u32),
}

/// What a scan of the log has found so far.
#[derive(Default)]
struct LogScan {
    datasets: Vec<LoggedDataset>,
    pending: Vec<PendingPut>,
    put_count: u64,
    next_offset: u64,
}

impl LogScan {
    /// Takes the next record: a put joins the pending batch, and a dataset
    /// record must close exactly that batch.
    fn take(&mut self, record: &RecordRef<'_>) -> Result<(), String> {
        if record.offset != self.next_offset {
            return Err(format!("offset {} where {} was next: offsets must be dense", record.offset, self.next_offset));
        }
        self.next_offset += 1;
        match record.kind {
            kind::PUT => {
                let put = codec::decode_put(record.payload)?;
                let member = (put.id.to_string(), put.version);
                self.pending.push(PendingPut { offset: record.offset, timestamp_us: record.timestamp_us, member });
                self.put_count += 1;
            }
            kind::DATASET => {
                let dataset: DatasetRecord = codec::decode_json(record.payload)?;
                let batch: Vec<(String, u32)> = self.pending.iter().map(|p| p.member.clone()).collect();
                if batch != dataset.members {
                    return Err(format!(
                        "dataset {} v{} at offset {} pins {} members, but the {} puts before it differ",
                        dataset.name,
                        dataset.version,
                        record.offset,
                        dataset.members.len(),
                        batch.len()
                    ));
                }
                // One append gives one timestamp to every record of its batch.
                if let Some(put) = self.pending.iter().find(|p| p.timestamp_us != record.timestamp_us) {
                    return Err(format!(
                        "put at offset {} is not in the batch of offset {}",
                        put.offset, record.offset
                    ));
                }
                self.pending.clear();
                self.datasets.push(LoggedDataset { record: dataset, offset: record.offset });
            }
            other => return Err(format!("record kind {other} at offset {}: the child writes none", record.offset)),
        }
        Ok(())
    }
}

/// Scans the whole log and checks that it holds whole datasets only;
/// returns them, and how many put records there are.
fn logged_datasets(store: &Store, context: &str) -> TestResult<(Vec<LoggedDataset>, u64)> {
    let mut scan = LogScan::default();
    let mut failure: Option<String> = None;
    store.log().scan(0, |record| match scan.take(&record) {
        Ok(()) => ControlFlow::Continue(()),
        Err(message) => {
            failure = Some(message);
            ControlFlow::Break(())
        }
    })?;
    if let Some(message) = failure {
        return Err(format!("{context}: {message}").into());
    }
    assert_eq!(scan.next_offset, store.log().next_offset(), "{context}: the scan must reach the log's end");
    if let Some(first) = scan.pending.first() {
        let count = scan.pending.len();
        panic!("{context}: {count} puts from offset {} have no dataset record: half a dataset", first.offset);
    }
    Ok((scan.datasets, scan.put_count))
}

/// Reads one dataset version through the views, and each member's version
/// (data and parents) when `deep`.
fn check_dataset_reads(store: &Store, logged: &LoggedDataset, deep: bool, context: &str) -> TestResult {
    let DatasetRecord { name, version, members, .. } = &logged.record;
    let read = store.get_dataset(name, Some(*version))?;
    assert_eq!(read.offset, logged.offset, "{context}: dataset {name} v{version} offset");
    assert_eq!(&read.members, members, "{context}: dataset {name} v{version} members");
    if !deep {
        return Ok(());
    }
    for (index, (id, member_version)) in members.iter().enumerate() {
        let meta = store.metadata(id, Some(*member_version))?;
        let data = store.get_version(id, *member_version)?.json()?;
        let expected = item_data(name, *version, index, &meta.metadata.parents);
        assert_eq!(data, expected, "{context}: {id} v{member_version}, member {index} of {name} v{version}");
    }
    Ok(())
}

/// What one check saw, for the summary.
#[derive(Debug, Default)]
struct Seen {
    /// Dataset records in the log.
    dataset_count: usize,
    /// Offset of the newest dataset record.
    newest_offset: Option<u64>,
    /// The log's next offset.
    next_offset: u64,
    /// Whether verify found a torn tail before the reopen.
    torn_tail: bool,
}

/// The checks of the module docs. Member data is read for datasets at
/// offsets from `deep_from` on (the others were read in earlier rounds and
/// their records are compared in full by the log scan).
fn check_store(dir: &Path, acked: &[Ack], deep_from: u64, context: &str) -> TestResult<Seen> {
    let log_dir = dir.join(recstore::store::LOG_DIR_NAME);
    let before = recstore::log::verify(&log_dir, false)?;
    assert!(before.is_clean(), "{context}: verify before reopen: {:?}", before.problems);
    let torn_tail = before.problems.iter().any(|p| p.kind == ProblemKind::TornTail);

    let store = Store::open(dir, options())?;
    let (datasets, put_count) = logged_datasets(&store, context)?;
    let stats = store.stats();
    assert_eq!(stats.dataset_versions, datasets.len() as u64, "{context}: dataset versions in stats vs. log");
    assert_eq!(stats.versions, put_count, "{context}: item versions in stats vs. puts in the log");
    let member_count: usize = datasets.iter().map(|d| d.record.members.len()).sum();
    assert_eq!(stats.versions, member_count as u64, "{context}: item versions vs. members of present datasets");

    // Every item version is pinned by exactly one present dataset version.
    let mut pinned: HashSet<(String, u32)> = HashSet::new();
    for logged in &datasets {
        for member in &logged.record.members {
            assert!(pinned.insert(member.clone()), "{context}: {member:?} is pinned twice");
        }
        check_dataset_reads(&store, logged, logged.offset >= deep_from, context)?;
    }
    // And every pinned item version is stored: the two sets are equal.
    let mut stored: HashSet<(String, u32)> = HashSet::new();
    for number in 0..stats.items_live {
        let id = item_id(number);
        let history = store.history(&id)?;
        for (index, entry) in history.iter().enumerate() {
            assert_eq!((entry.event.as_str(), entry.version), ("put", index as u32 + 1), "{context}: {id} history");
            assert!(pinned.contains(&(id.clone(), entry.version)), "{context}: {id} v{} has no dataset", entry.version);
            stored.insert((id.clone(), entry.version));
        }
    }
    if let Some(missing) = pinned.difference(&stored).next() {
        panic!("{context}: {missing:?} is pinned by a dataset but not stored");
    }
    let beyond = store.history(&item_id(stats.items_live));
    assert!(matches!(beyond, Err(Error::NotFound { .. })), "{context}: ids are dense, yet {beyond:?}");
    assert_eq!(stats.items_deleted, 0, "{context}: the child never deletes");

    let mut latest: BTreeMap<String, u32> = BTreeMap::new();
    for logged in &datasets {
        latest.insert(logged.record.name.clone(), logged.record.version);
    }
    let listed: BTreeMap<String, u32> = store.list_datasets().into_iter().map(|d| (d.name, d.version)).collect();
    assert_eq!(listed, latest, "{context}: list_datasets vs. the log");

    for ack in acked {
        let logged = datasets.iter().find(|d| d.record.name == ack.name && d.record.version == ack.version);
        let logged = logged.ok_or_else(|| format!("{context}: acknowledged {} v{} is gone", ack.name, ack.version))?;
        assert_eq!(logged.offset, ack.offset, "{context}: {} v{} offset", ack.name, ack.version);
        assert_eq!(logged.record.members, ack.members, "{context}: {} v{} members", ack.name, ack.version);
    }
    let next_offset = store.log().next_offset();
    drop(store);

    let after = recstore::log::verify(&log_dir, false)?;
    assert!(after.is_clean(), "{context}: verify after reopen: {:?}", after.problems);
    let torn_after = after.problems.iter().any(|p| p.kind == ProblemKind::TornTail);
    assert!(!torn_after, "{context}: the reopen left a torn tail: {:?}", after.problems);
    let newest_offset = datasets.last().map(|d| d.offset);
    Ok(Seen { dataset_count: datasets.len(), newest_offset, next_offset, torn_tail })
}

#[test]
fn dataset_is_never_half_present_after_kill9() -> TestResult {
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let mut acked: Vec<Ack> = Vec::new();
    let mut deep_from = 0;
    let (mut unacked_present, mut torn_tails, mut dataset_count, mut checkpoint_opens) = (0, 0, 0, 0);
    let mut newest_before: Option<u64> = None;
    for round in 0..ROUNDS {
        acked.extend(run_child_and_kill(dir.path(), round)?);
        let checkpoint = dir.path().join(recstore::store::VIEWS_DIR_NAME).join("checkpoint.bin");
        if round % 3 == 2 {
            // Make the reopen replay the whole log instead of starting
            // from the child's last checkpoint.
            match std::fs::remove_file(&checkpoint) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error.into()),
                _ => {}
            }
        }
        checkpoint_opens += usize::from(checkpoint.exists());
        // The last round reads every member of every dataset again.
        let deep_from_now = if round + 1 == ROUNDS { 0 } else { deep_from };
        let seen = check_store(dir.path(), &acked, deep_from_now, &format!("round {round}"))?;
        // A dataset newer than every acknowledgement, and new this round,
        // was durable but not yet acknowledged when the kill came.
        let acked_newest = acked.iter().map(|a| a.offset).max();
        unacked_present += usize::from(seen.newest_offset > acked_newest.max(newest_before));
        newest_before = seen.newest_offset;
        torn_tails += usize::from(seen.torn_tail);
        dataset_count = seen.dataset_count;
        deep_from = seen.next_offset;
    }
    assert!(acked.len() as u64 >= ROUNDS * 4 / 5, "every round but the early kills acknowledges a dataset");
    assert!(checkpoint_opens > 0, "no reopen started from a checkpoint the child wrote");
    eprintln!(
        "{ROUNDS} rounds in {:.1} s: {dataset_count} dataset versions, {} acknowledged; {unacked_present} kills \
         left an unacknowledged dataset present, {torn_tails} left a torn tail; {checkpoint_opens} reopens \
         started from a checkpoint",
        started.elapsed().as_secs_f64(),
        acked.len()
    );
    Ok(())
}

/// A generator for `round`, apart from the others of the round by `salt`.
fn rng_for(round: u64, salt: u64) -> Rng {
    Rng(0x9E37_79B9_7F4A_7C15 ^ (round + salt).wrapping_mul(0xD1B5_4A32_D192_ED03))
}
