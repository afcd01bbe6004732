//! A writer, readers and a log follower keep working, and see consistent
//! data, while compactions run.
//!
//! One thread puts and deletes items (every version's data follows from
//! its id and version), two threads read latest versions, old versions,
//! metadata and histories, and a subscriber follows the log from offset 0.
//! Meanwhile the main thread compacts a dozen times with `max_versions = 3`,
//! purging every other time. No read may ever return wrong data or an error
//! other than the ones compaction explains (`Pruned`, or `VersionNotFound`
//! for a purged version); histories stay ordered; the follower sees offsets
//! strictly increasing and every version the policy can never drop; and
//! writes keep being acknowledged during compaction (the longest wait is
//! printed).

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use recstore::compaction::Policy;
use recstore::{Data, Error, Metadata, Store, StoreOptions, SyncMode};
use serde_json::{Value, json};
use tokio_stream::StreamExt;

use common::{Rng, TestResult};

const ID_COUNT: u64 = 30;
const MAX_VERSIONS: u32 = 3;
const COMPACTIONS: u64 = 12;

fn id(n: u64) -> String {
    format!("item-{n:02}")
}

fn data(id: &str, version: u32) -> Value {
    json!({"id": id, "version": version, "pad": "q".repeat(((version * 37) % 400) as usize)})
}

/// Acknowledged puts: `(id, version, offset)`, in order.
type Acks = Arc<Mutex<Vec<(String, u32, u64)>>>;

struct Writer {
    versions: HashMap<String, (u32, bool)>,
    rng: Rng,
    acks: Acks,
}

impl Writer {
    /// One put (or, sometimes, a delete); returns how long it took.
    fn step(&mut self, store: &Store) -> Result<Duration, Error> {
        let id = id(self.rng.next_u64() % ID_COUNT);
        let (version, live) = self.versions.get(&id).copied().unwrap_or((0, false));
        let started = Instant::now();
        if live && self.rng.next_u64().is_multiple_of(10) {
            store.delete(&id)?;
            self.versions.insert(id, (version, false));
            return Ok(started.elapsed());
        }
        let metadata = Metadata { id: Some(id.clone()), ..Metadata::default() };
        let stored = store.put(Data::Json(data(&id, version + 1)), metadata)?;
        let elapsed = started.elapsed();
        assert_eq!(stored.version, version + 1, "{id}: the only writer knows the next version");
        self.acks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((
            id.clone(),
            stored.version,
            stored.offset,
        ));
        self.versions.insert(id, (stored.version, true));
        Ok(elapsed)
    }
}

/// Reads one item every way there is and checks what comes back.
fn read_item(store: &Store, id: &str, rng: &mut Rng) -> TestResult {
    match store.get(id) {
        Ok(item) => assert_eq!(item.json()?, data(id, item.version), "{id}: latest"),
        Err(Error::Deleted { .. } | Error::NotFound { .. }) => {}
        Err(error) => panic!("{id}: latest read failed: {error}"),
    }
    let history = match store.history(id) {
        Ok(history) => history,
        Err(Error::NotFound { .. }) => return Ok(()),
        Err(error) => panic!("{id}: history failed: {error}"),
    };
    assert!(history.windows(2).all(|w| w[0].offset < w[1].offset), "{id}: history out of order");
    let puts: Vec<u32> = history.iter().filter(|h| h.event == "put").map(|h| h.version).collect();
    assert!(puts.windows(2).all(|w| w[0] < w[1]), "{id}: versions out of order: {puts:?}");
    let Some(&latest) = puts.last() else { return Ok(()) };
    let version = 1 + (rng.next_u64() % u64::from(latest)) as u32;
    match store.get_version(id, version) {
        Ok(item) => assert_eq!(item.json()?, data(id, version), "{id} v{version}"),
        Err(Error::Pruned { .. } | Error::VersionNotFound { .. }) => {}
        Err(error) => panic!("{id} v{version}: read failed: {error}"),
    }
    match store.metadata(id, Some(version)) {
        Ok(meta) => assert_eq!((meta.id.as_str(), meta.version), (id, version)),
        Err(Error::VersionNotFound { .. }) => {}
        Err(error) => panic!("{id} v{version}: metadata failed: {error}"),
    }
    Ok(())
}

/// Follows the log from offset 0 until it has seen everything below
/// `target` (once set); returns the puts it saw, by `(id, version)` → offset.
fn follow(store: Arc<Store>, target: Arc<AtomicU64>) -> Result<HashMap<(String, u32), u64>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let mut stream = store.subscribe(0);
        let mut seen = HashMap::new();
        let mut next_offset = 0;
        let mut progress = Instant::now();
        loop {
            let target_offset = target.load(Ordering::Acquire);
            if target_offset > 0 && next_offset >= target_offset {
                return Ok(seen);
            }
            if progress.elapsed() > Duration::from_secs(30) {
                return Err(format!("the follower waited 30 s at offset {next_offset} (target {target_offset})"));
            }
            // Short waits, so a target set while the follower is caught up is noticed.
            let Ok(event) = tokio::time::timeout(Duration::from_millis(50), stream.next()).await else { continue };
            progress = Instant::now();
            let event = event.ok_or("the stream ended")?.map_err(|e| e.to_string())?;
            if event.offset < next_offset {
                return Err(format!("offset {} after {}", event.offset, next_offset - 1));
            }
            next_offset = event.offset + 1;
            if event.kind == "put" {
                let key = (event.id.ok_or("a put names its id")?, event.version.ok_or("a put has a version")?);
                seen.insert(key, event.offset);
            }
        }
    })
}

#[test]
fn writer_readers_and_follower_see_consistent_data_during_compaction() -> TestResult {
    let dir = tempfile::tempdir()?;
    let options = StoreOptions::default().sync(SyncMode::Interval { interval_ms: 5 }).segment_size_bytes(16 * 1024);
    let store = Arc::new(Store::open(dir.path(), options)?);
    let acks: Acks = Arc::default();
    let mut writer = Writer { versions: HashMap::new(), rng: Rng(0x1234_5678_9ABC_DEF1), acks: acks.clone() };
    for _ in 0..ID_COUNT * 5 {
        writer.step(&store)?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let target = Arc::new(AtomicU64::new(0));
    let reads = Arc::new(AtomicU64::new(0));

    let writer_thread = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || -> Result<(u64, Duration), String> {
            let (mut writes, mut longest) = (0, Duration::ZERO);
            while !stop.load(Ordering::Acquire) {
                longest = longest.max(writer.step(&store).map_err(|e| e.to_string())?);
                writes += 1;
            }
            Ok((writes, longest))
        })
    };
    let readers: Vec<_> = (0..2u64)
        .map(|n| {
            let (store, stop, reads) = (store.clone(), stop.clone(), reads.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let mut rng = Rng(0xDEAD_BEEF_0000_0001 + n);
                while !stop.load(Ordering::Acquire) {
                    read_item(&store, &id(rng.next_u64() % ID_COUNT), &mut rng).map_err(|e| e.to_string())?;
                    reads.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    let follower = {
        let (store, target) = (store.clone(), target.clone());
        std::thread::spawn(move || follow(store, target))
    };

    let mut rewritten = 0;
    for round in 0..COMPACTIONS {
        std::thread::sleep(Duration::from_millis(30));
        let report = store.compact(Policy::keep_everything().max_versions(Some(MAX_VERSIONS)).purge(round % 2 == 1))?;
        rewritten += report.segments_rewritten + report.segments_removed;
    }
    stop.store(true, Ordering::Release);
    let (writes, longest) = writer_thread.join().map_err(|_| "the writer panicked")??;
    for reader in readers {
        reader.join().map_err(|_| "a reader panicked")??;
    }
    target.store(store.log().next_offset(), Ordering::Release);
    let seen = follower.join().map_err(|_| "the follower panicked")??;
    eprintln!(
        "{writes} writes (longest {longest:?}), {} reads, {rewritten} segments rewritten during {COMPACTIONS} compactions",
        reads.load(Ordering::Relaxed)
    );
    assert!(writes > 0 && rewritten > 0, "compaction and writes must have overlapped");
    assert!(longest < Duration::from_secs(5), "a write waited {longest:?} during compaction");

    // Every version the policy can never drop (fewer than three later
    // versions) reached the follower at its offset, and still reads back.
    let acks = acks.lock().map_err(|_| "poisoned")?.clone();
    let mut later: HashMap<String, u32> = HashMap::new();
    let mut checked = HashSet::new();
    for (id, version, offset) in acks.iter().rev() {
        let count = later.entry(id.clone()).or_insert(0);
        if *count < MAX_VERSIONS {
            assert_eq!(seen.get(&(id.clone(), *version)), Some(offset), "the follower missed {id} v{version}");
            assert_eq!(store.get_version(id, *version)?.json()?, data(id, *version));
            checked.insert((id.clone(), *version));
        }
        *count += 1;
    }
    assert!(checked.len() >= ID_COUNT as usize, "every item's newest versions were checked");
    Ok(())
}
