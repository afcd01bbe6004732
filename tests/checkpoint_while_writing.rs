//! Checkpoints taken while writers run: each one is a consistent prefix of
//! the log, concurrent checkpoints never garble the file, and a writer waits
//! only while the views are serialized, not while the file is written and
//! fsynced.
//!
//! `Store::checkpoint` used to hold the views' read lock through the
//! serialization, the file write, its fsync, the rename and the directory
//! fsync. Every writer needs the views' write lock to apply its records, so
//! in tools/compaction_bench.rs writers stalled for up to 1.1 s behind one
//! checkpoint. The measurement at 200,000 items (plus 50,000 updates) is
//! `#[ignore]`d and asserts nothing but a valid checkpoint; run it with
//! `cargo test --release --test checkpoint_while_writing -- --ignored --nocapture`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use recstore::store::VIEWS_DIR_NAME;
use recstore::store::views::{ViewState, checkpoint};
use recstore::{Data, Metadata, NewItem, Store, StoreOptions, SyncMode};
use serde_json::json;

use common::TestResult;

fn item(id: String, n: u64) -> NewItem {
    let metadata = Metadata {
        id: Some(id),
        item_type: Some(format!("type-{}", n % 10)),
        tags: vec![format!("tag-{}", n % 50)],
        ..Metadata::default()
    };
    NewItem {
        data: Data::Json(json!({"n": n, "note": "a reading of about a hundred bytes, give or take a few"})),
        metadata,
    }
}

/// Puts single items under new ids until `stop`; returns each put's start
/// and duration.
fn spawn_writer(store: Arc<Store>, stop: Arc<AtomicBool>) -> thread::JoinHandle<Vec<(Instant, Duration)>> {
    thread::spawn(move || {
        let mut puts = Vec::new();
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let NewItem { data, metadata } = item(format!("w-{n:08}"), n);
            let started = Instant::now();
            store.put(data, metadata).expect("a put beside a checkpoint succeeds");
            puts.push((started, started.elapsed()));
        }
        puts
    })
}

/// What a loaded checkpoint must satisfy to be a prefix of `store`'s log.
fn check_prefix(store: &Store, state: &ViewState) -> TestResult {
    assert!(state.next_offset <= store.log().next_offset(), "the checkpoint covers no more than the log holds");
    if state.next_offset > 0 {
        let last = store.log().read(state.next_offset - 1)?;
        assert_eq!(last.timestamp_us, state.last_timestamp_us, "the checkpoint names its last record");
    }
    let mut versions = 0;
    for row in &state.items {
        for event in &row.events {
            assert!(event.offset < state.next_offset, "{}: event at {} past the checkpoint", row.id, event.offset);
            versions += u64::from(!event.is_delete());
        }
    }
    assert_eq!(versions, state.counters.versions, "counters match the rows they count");
    Ok(())
}

#[test]
fn concurrent_checkpoints_beside_a_writer_each_hold_a_prefix() -> TestResult {
    let dir = tempfile::tempdir()?;
    let options = StoreOptions::default().sync(SyncMode::Never).checkpoint_interval_records(0);
    let store = Arc::new(Store::open(dir.path(), options.clone())?);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(Arc::clone(&store), Arc::clone(&stop));
    let views_dir = dir.path().join(VIEWS_DIR_NAME);
    let checkpointers: Vec<_> = (0..2)
        .map(|_| {
            let store = Arc::clone(&store);
            thread::spawn(move || -> Result<(), String> {
                for _ in 0..15 {
                    store.checkpoint().map_err(|e| e.to_string())?;
                }
                Ok(())
            })
        })
        .collect();
    for _ in 0..30 {
        // Whatever is on disk between checkpoints loads and is a prefix.
        if let Ok(state) = checkpoint::load(&recstore::storage::Disk, &views_dir) {
            check_prefix(&store, &state)?;
        }
        thread::sleep(Duration::from_millis(5));
    }
    for checkpointer in checkpointers {
        checkpointer.join().map_err(|_| "checkpoint thread panicked")??;
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().map_err(|_| "writer panicked")?.len();
    assert!(written > 0, "the writer got puts through");
    let state = checkpoint::load(&recstore::storage::Disk, &views_dir)?;
    check_prefix(&store, &state)?;
    assert!(!dir.path().join(VIEWS_DIR_NAME).join("checkpoint.bin.tmp").exists(), "no temporary file is left");

    let store = Arc::into_inner(store).ok_or("the store is still shared")?;
    store.close()?;
    let reopened = Store::open(dir.path(), options)?;
    assert_eq!(reopened.stats().items_live, written as u64, "every acknowledged put is there after a reopen");
    Ok(())
}

/// Writes 8 MiB and fdatasyncs it, over and over, until `stop`: the disk
/// traffic of a compaction rewrite, which fsyncs queue behind.
fn spawn_disk_load(path: std::path::PathBuf, stop: Arc<AtomicBool>) -> thread::JoinHandle<std::io::Result<()>> {
    thread::spawn(move || {
        use std::io::Write;
        let chunk = vec![0x5a_u8; 8 << 20];
        let mut file = std::fs::File::create(&path)?;
        let mut written_bytes = 0;
        while !stop.load(Ordering::Relaxed) {
            file.write_all(&chunk)?;
            file.sync_data()?;
            written_bytes += chunk.len();
            if written_bytes >= 256 << 20 {
                file = std::fs::File::create(&path)?;
                written_bytes = 0;
            }
        }
        Ok(())
    })
}

#[test]
#[ignore = "measurement at 200,000 items; run in release with --ignored --nocapture"]
fn measure_how_long_a_checkpoint_of_200k_items_stalls_a_writer() -> TestResult {
    println!("-- idle disk");
    measure_checkpoint_stall(false)?;
    println!("-- while another thread writes and fdatasyncs 8 MiB at a time");
    measure_checkpoint_stall(true)
}

fn measure_checkpoint_stall(disk_load: bool) -> TestResult {
    const ITEMS: u64 = 200_000;
    const UPDATES: u64 = 50_000;
    let dir = tempfile::tempdir()?;
    let options = StoreOptions::default().sync(SyncMode::Never).checkpoint_interval_records(0);
    let store = Arc::new(Store::open(dir.path(), options)?);
    let ids: Vec<u64> = (0..ITEMS).chain((0..UPDATES).map(|u| (u * 7919) % ITEMS)).collect();
    for (batch_index, batch) in ids.chunks(1_000).enumerate() {
        let items =
            batch.iter().enumerate().map(|(i, &n)| item(format!("item-{n:08}"), (batch_index * 1_000 + i) as u64));
        store.put_batch(items.collect())?;
    }
    store.log().sync()?;

    let stop = Arc::new(AtomicBool::new(false));
    let disk_load = disk_load.then(|| spawn_disk_load(dir.path().join("disk-load"), Arc::clone(&stop)));
    let writer = spawn_writer(Arc::clone(&store), Arc::clone(&stop));
    thread::sleep(Duration::from_millis(500));
    let mut checkpoints = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        store.checkpoint()?;
        checkpoints.push((started, Instant::now()));
        thread::sleep(Duration::from_millis(300));
    }
    stop.store(true, Ordering::Relaxed);
    let puts = writer.join().map_err(|_| "writer panicked")?;
    if let Some(disk_load) = disk_load {
        disk_load.join().map_err(|_| "disk load panicked")??;
    }

    // A put overlapping a checkpoint may have waited for it.
    let overlaps = |(put_start, put_duration): &(Instant, Duration), (start, end): &(Instant, Instant)| {
        *put_start < *end && *put_start + *put_duration > *start
    };
    let longest_put_during: Vec<Duration> = checkpoints
        .iter()
        .map(|checkpoint| puts.iter().filter(|p| overlaps(p, checkpoint)).map(|p| p.1).max().unwrap_or_default())
        .collect();
    let mut outside: Vec<Duration> =
        puts.iter().filter(|p| !checkpoints.iter().any(|c| overlaps(p, c))).map(|p| p.1).collect();
    outside.sort_unstable();
    let percentile = |q: f64| outside.get(((outside.len() as f64 - 1.0) * q) as usize).copied().unwrap_or_default();
    let views_dir = dir.path().join(VIEWS_DIR_NAME);
    let size_bytes = std::fs::metadata(checkpoint::path(&views_dir))?.len();
    let state = checkpoint::load(&recstore::storage::Disk, &views_dir)?;
    check_prefix(&store, &state)?;
    // The machine may be shared: the fastest of five runs is the cost.
    let fastest = |f: &dyn Fn() -> Result<(), String>| -> Result<Duration, String> {
        let mut times = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            f()?;
            times.push(started.elapsed());
        }
        Ok(times.into_iter().min().unwrap_or_default())
    };
    let encoded = checkpoint::encode(&state)?;
    assert_eq!(encoded.len() as u64, size_bytes);
    let encode = fastest(&|| checkpoint::encode(&state).map(drop))?;
    let clone = fastest(&|| {
        drop(state.clone());
        Ok(())
    })?;
    let scratch_dir = dir.path().join("scratch-views");
    let write = fastest(&|| checkpoint::write(&recstore::storage::Disk, &scratch_dir, &encoded))?;
    let durations: Vec<Duration> = checkpoints.iter().map(|(start, end)| *end - *start).collect();
    println!(
        "checkpoint of {} items, {} versions, {:.1} MB: checkpoint() took {durations:?}; \
         encoding alone {encode:?} (cloning the state instead: {clone:?}); \
         write, fsync, rename and directory fsync alone {write:?}",
        state.items.len(),
        state.counters.versions,
        size_bytes as f64 / 1e6,
    );
    println!(
        "longest put overlapping each checkpoint {longest_put_during:?}; puts outside checkpoints: p99 {:?}, \
         p99.99 {:?}, max {:?} ({} puts)",
        percentile(0.99),
        percentile(0.9999),
        percentile(1.0),
        outside.len()
    );
    Ok(())
}
