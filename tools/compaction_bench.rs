//! Benchmark of compaction: its speed, what it costs concurrent ingest, and
//! what it gives back on disk.
//!
//! The workload is issue 3's: N items (default 200,000) of about 512 bytes
//! of JSON with type, source, tags and some parents, then N/4 updates of
//! random items, then deletes of 10% of the items, written with
//! `SyncMode::Never` and synced once. The store's segments are 32 MiB, so a
//! compaction has several segments to rewrite one at a time. Then, on one
//! copy of that store, three compactions run one after the other, each
//! alone:
//! - (a) `Policy::default()`: 5 versions, 30 days. On a workload written a
//!   minute ago it drops only versions beyond the fifth;
//! - (b) keep the latest version, cut off now: every superseded version and
//!   every deleted item's versions become audit stubs;
//! - (c) the same with `purge`: the stubs go too, and deleted items vanish.
//!
//! Each prints MB/s of input segments (bytes of sealed segments read over
//! wall time) and the log's size after. A compaction that rewrites is bound
//! by the disk, so the run also times a plain write of 128 MiB with one
//! fdatasync (what `dd conv=fdatasync` reports), before and after, as the
//! baseline to read those MB/s against.
//!
//! Then, three times, on a fresh copy: ingest (batches of 1,000 new items,
//! `SyncMode::Always`) runs alone, then during compaction (b), then alone
//! again. The ratio of items/s during compaction to the mean of the two
//! idle windows around it is the one issue 5 targets (>= 70%); the median
//! of the three is judged, because the fdatasync latency of a shared or
//! virtual disk moves several-fold within seconds. The search view is on,
//! as in every store: its follower indexes the ingested items in both
//! phases. Each window also reports its longest batch, which shows whether
//! a lock that compaction holds stalled a writer. Compaction runs at a lower
//! CPU priority (see `src/background.rs`), so during it the MB/s are those
//! of the cores that ingest leaves. Units: MB = 10^6 bytes.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use recstore::compaction::{CompactionReport, Policy};
use recstore::{Data, Metadata, NewItem, Store, StoreOptions, SyncMode};
use serde_json::{Value, json};

#[path = "common/mod.rs"]
mod common;

use common::process;
use common::workload::Rng;

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const SEGMENT_SIZE_BYTES: u64 = 32 * 1024 * 1024;
const BATCH_ITEM_COUNT: usize = 1_000;
const DATA_SIZE_BYTES: usize = 512;
const DELETE_PERCENT: u64 = 10;
const IDLE_INGEST: Duration = Duration::from_secs(3);
const INGEST_REPETITIONS: usize = 3;
const DISK_BASELINE_BYTES: usize = 128 * 1024 * 1024;
const INGEST_RATIO_MIN: f64 = 0.70;
/// This benchmark's items are its own (uniform tags, one parent, a shorter
/// data object), drawn from the shared generator under their own seed, so
/// that its figures stay comparable with earlier runs.
const SEED: u64 = 0x636f_6d70_6163_7421;

const USAGE: &str = "usage: cargo bench --bench compaction_bench -- [--items N] [--quick] [--json]
  --items N    items stored first (default 200000); N/4 updates and N/10 deletes follow
  --quick      smoke run: 20000 items
  --json       print one JSON object on stdout instead of the table";

fn main() -> BenchResult<()> {
    let mut item_count = 200_000;
    let mut json_output = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--items" => item_count = args.next().ok_or("--items needs a number")?.parse()?,
            "--quick" => item_count = 20_000,
            "--json" => json_output = true,
            "--bench" => {}
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
        }
    }
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let report = run(item_count, dir.path())?;
    if json_output {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

fn progress(message: &str) {
    eprintln!("compaction_bench: {message}");
}

fn id(index: usize) -> String {
    format!("item-{index:08}")
}

fn item(index: usize, revision: usize) -> NewItem {
    let mut rng = Rng::seeded(SEED, 1, index as u64);
    let parents = if index > 0 && rng.below(5) == 0 { vec![id(rng.below(index as u64) as usize)] } else { vec![] };
    let metadata = Metadata {
        id: Some(id(index)),
        item_type: Some(format!("type-{}", rng.below(10))),
        source_id: Some(format!("source-{:04}", rng.below(1_000))),
        tags: (0..1 + rng.below(3)).map(|_| format!("tag-{:02}", rng.below(50))).collect(),
        parents,
        extra: serde_json::Map::new(),
    };
    let mut rng = Rng::seeded(SEED, 2, (index as u64) << 24 ^ revision as u64);
    let note: String = (0..DATA_SIZE_BYTES - 80).map(|_| char::from(b'a' + rng.below(26) as u8)).collect();
    let data: Value = json!({"seq": index, "revision": revision, "value": rng.below(1_000_000), "note": note});
    NewItem { data: Data::Json(data), metadata }
}

fn options(sync: SyncMode) -> StoreOptions {
    StoreOptions::default().sync(sync).segment_size_bytes(SEGMENT_SIZE_BYTES).checkpoint_interval_records(0)
}

/// Bytes of every file in the log directory: segments and their indexes.
fn log_dir_bytes(store_dir: &Path) -> BenchResult<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(store_dir.join(recstore::store::LOG_DIR_NAME))? {
        total += entry?.metadata()?.len();
    }
    Ok(total)
}

fn build(item_count: usize, dir: &Path) -> BenchResult<()> {
    let store = Store::open(dir, options(SyncMode::Never))?;
    let started = Instant::now();
    for first in (0..item_count).step_by(BATCH_ITEM_COUNT) {
        store.put_batch((first..(first + BATCH_ITEM_COUNT).min(item_count)).map(|i| item(i, 0)).collect())?;
    }
    let update_count = item_count / 4;
    let mut rng = Rng::seeded(SEED, 3, 0);
    let mut revisions = vec![0usize; item_count];
    for first in (0..update_count).step_by(BATCH_ITEM_COUNT) {
        let batch = (first..(first + BATCH_ITEM_COUNT).min(update_count))
            .map(|_| {
                let index = rng.below(item_count as u64) as usize;
                revisions[index] += 1;
                item(index, revisions[index])
            })
            .collect();
        store.put_batch(batch)?;
    }
    let mut rng = Rng::seeded(SEED, 4, 0);
    let mut deleted = 0;
    for index in 0..item_count {
        if rng.below(100) < DELETE_PERCENT {
            store.delete(&id(index))?;
            deleted += 1;
        }
    }
    store.log().sync()?;
    // The search view indexes in the background; let it finish, so the
    // measurements below do not share the CPU with the catch-up.
    store.search_wait_for(store.log().next_offset())?;
    progress(&format!(
        "built {item_count} items, {update_count} updates, {deleted} deletes in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    store.close()?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if entry.file_name() != "LOCK" {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct Run {
    name: &'static str,
    mb_per_s: f64,
    cpu_s: f64,
    log_bytes_after: u64,
    report: CompactionReport,
}

fn compact_alone(store: &Store, dir: &Path, name: &'static str, policy: Policy) -> BenchResult<Run> {
    // Compaction runs on a thread of its own, so this is the whole
    // process's CPU: the store is otherwise idle here.
    let cpu_before = process_cpu_s();
    let report = store.compact(policy)?;
    let cpu_s = process_cpu_s() - cpu_before;
    let mb_per_s = report.bytes_scanned as f64 / 1e6 / report.duration().as_secs_f64();
    progress(&format!("{name}: {mb_per_s:.0} MB/s, {cpu_s:.2} s CPU, {} bytes reclaimed", report.bytes_reclaimed()));
    Ok(Run { name, mb_per_s, cpu_s, log_bytes_after: log_dir_bytes(dir)?, report })
}

/// Items/s of batched, fdatasynced ingest of new items while `busy` holds.
struct Ingest {
    items: Arc<AtomicU64>,
    /// Longest `put_batch` since the last `take_longest_batch_us`.
    longest_batch_us: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<BenchResult<()>>,
}

impl Ingest {
    fn start(store: Arc<Store>, first_index: usize) -> Self {
        let items = Arc::new(AtomicU64::new(0));
        let longest_batch_us = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counter, longest, stopped) = (items.clone(), longest_batch_us.clone(), stop.clone());
        let thread = std::thread::spawn(move || -> BenchResult<()> {
            let mut next = first_index;
            while !stopped.load(Ordering::Relaxed) {
                let started = Instant::now();
                store.put_batch((next..next + BATCH_ITEM_COUNT).map(|i| item(i, 0)).collect())?;
                longest.fetch_max(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                next += BATCH_ITEM_COUNT;
                counter.fetch_add(BATCH_ITEM_COUNT as u64, Ordering::Relaxed);
            }
            Ok(())
        });
        Self { items, longest_batch_us, stop, thread }
    }

    fn take_longest_batch_us(&self) -> u64 {
        self.longest_batch_us.swap(0, Ordering::Relaxed)
    }

    fn count(&self) -> u64 {
        self.items.load(Ordering::Relaxed)
    }

    fn stop(self) -> BenchResult<()> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().map_err(|_| "the ingest thread panicked")?
    }
}

/// One ingest repetition: idle, during compaction (b), idle again.
#[derive(serde::Serialize)]
struct IngestRun {
    idle_before_items_per_s: f64,
    during_items_per_s: f64,
    idle_after_items_per_s: f64,
    ratio: f64,
    compaction_mb_per_s: f64,
    compaction_s: f64,
    cpu_cores_idle: f64,
    cpu_cores_during: f64,
    /// Longest batch of `BATCH_ITEM_COUNT` puts: alone before, during, alone after.
    longest_batch_ms: [f64; 3],
}

#[derive(serde::Serialize)]
struct Report {
    item_count: usize,
    log_bytes_before: u64,
    disk_mb_per_s: [f64; 2],
    runs: Vec<Run>,
    ingest: Vec<IngestRun>,
    ingest_ratio_median: f64,
}

/// Writes `DISK_BASELINE_BYTES` in 1 MiB writes and fdatasyncs, timed.
fn disk_baseline(dir: &Path) -> BenchResult<f64> {
    use std::io::Write;
    let path = dir.join("disk-baseline");
    let buffer: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let started = Instant::now();
    let mut file = std::fs::File::create(&path)?;
    for _ in 0..DISK_BASELINE_BYTES / buffer.len() {
        file.write_all(&buffer)?;
    }
    file.sync_data()?;
    let mb_per_s = DISK_BASELINE_BYTES as f64 / 1e6 / started.elapsed().as_secs_f64();
    drop(file);
    std::fs::remove_file(path)?;
    progress(&format!("disk baseline: {mb_per_s:.0} MB/s"));
    Ok(mb_per_s)
}

/// Items/s and CPU cores the process used over `window`.
fn items_per_s_over(ingest: &Ingest, window: Duration) -> (f64, f64) {
    let (start_count, started, cpu) = (ingest.count(), Instant::now(), process_cpu_s());
    std::thread::sleep(window);
    let elapsed = started.elapsed().as_secs_f64();
    ((ingest.count() - start_count) as f64 / elapsed, (process_cpu_s() - cpu) / elapsed)
}

/// CPU time of the whole process (user + system), from `/proc/self/stat`.
fn process_cpu_s() -> f64 {
    process::process_cpu().as_secs_f64()
}

fn ingest_during_compaction(built: &Path, dir: &Path, item_count: usize, repetition: usize) -> BenchResult<IngestRun> {
    let busy = dir.join(format!("busy-{repetition}"));
    copy_dir(built, &busy)?;
    let store = Arc::new(Store::open(&busy, options(SyncMode::Always))?);
    store.search_wait_for(store.log().next_offset())?;
    let ingest = Ingest::start(store.clone(), item_count * (2 + repetition));
    std::thread::sleep(Duration::from_millis(500));
    ingest.take_longest_batch_us();
    let (idle_before, cores_idle_before) = items_per_s_over(&ingest, IDLE_INGEST);
    let longest_before_us = ingest.take_longest_batch_us();
    let (start_count, started, cpu) = (ingest.count(), Instant::now(), process_cpu_s());
    let report = store.compact(Policy::keep_everything().max_versions(Some(1)).cutoff_us(Some(now_us())))?;
    let compaction_s = started.elapsed().as_secs_f64();
    let during = (ingest.count() - start_count) as f64 / compaction_s;
    let cores_during = (process_cpu_s() - cpu) / compaction_s;
    let longest_during_us = ingest.take_longest_batch_us();
    let (idle_after, cores_idle_after) = items_per_s_over(&ingest, IDLE_INGEST);
    let longest_batch_ms =
        [longest_before_us, longest_during_us, ingest.take_longest_batch_us()].map(|us| us as f64 / 1e3);
    ingest.stop()?;
    drop(store);
    std::fs::remove_dir_all(&busy)?;
    let ratio = during / ((idle_before + idle_after) / 2.0);
    progress(&format!(
        "ingest {idle_before:.0} / {during:.0} during compaction / {idle_after:.0} items/s: {:.0}%; \
         CPU cores used {cores_idle_before:.2} / {cores_during:.2} / {cores_idle_after:.2}",
        ratio * 100.0
    ));
    Ok(IngestRun {
        idle_before_items_per_s: idle_before,
        during_items_per_s: during,
        idle_after_items_per_s: idle_after,
        ratio,
        compaction_mb_per_s: report.bytes_scanned as f64 / 1e6 / compaction_s,
        compaction_s,
        cpu_cores_idle: (cores_idle_before + cores_idle_after) / 2.0,
        cpu_cores_during: cores_during,
        longest_batch_ms,
    })
}

fn run(item_count: usize, dir: &Path) -> BenchResult<Report> {
    let built = dir.join("built");
    build(item_count, &built)?;
    let log_bytes_before = log_dir_bytes(&built)?;

    let disk_before = disk_baseline(dir)?;
    let alone = dir.join("alone");
    copy_dir(&built, &alone)?;
    let store = Store::open(&alone, options(SyncMode::Always))?;
    store.search_wait_for(store.log().next_offset())?;
    let now = Policy::keep_everything().max_versions(Some(1)).cutoff_us(Some(now_us()));
    let runs = vec![
        compact_alone(&store, &alone, "(a) default policy", Policy::default())?,
        compact_alone(&store, &alone, "(b) latest only, stubs", now)?,
        compact_alone(&store, &alone, "(c) latest only, purge", now.purge(true))?,
    ];
    drop(store);
    std::fs::remove_dir_all(&alone)?;

    let disk_after = disk_baseline(dir)?;
    let ingest = (0..INGEST_REPETITIONS)
        .map(|repetition| ingest_during_compaction(&built, dir, item_count, repetition))
        .collect::<BenchResult<Vec<_>>>()?;
    let mut ratios: Vec<f64> = ingest.iter().map(|run| run.ratio).collect();
    ratios.sort_by(f64::total_cmp);
    Ok(Report {
        item_count,
        log_bytes_before,
        disk_mb_per_s: [disk_before, disk_after],
        runs,
        ingest,
        ingest_ratio_median: ratios[ratios.len() / 2],
    })
}

fn now_us() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0)
}

fn print_table(report: &Report) {
    let mb = |bytes: u64| bytes as f64 / 1e6;
    println!("compaction_bench: {} items, N/4 updates, 10% deletes", report.item_count);
    println!("log before compaction: {:.1} MB", mb(report.log_bytes_before));
    println!(
        "{:<26} {:>9} {:>9} {:>7} {:>10} {:>10} {:>9} {:>9} {:>10}",
        "run", "input MB", "MB/s", "CPU s", "stubs", "removed", "segs rw", "segs rm", "log MB"
    );
    for run in &report.runs {
        let r = &run.report;
        println!(
            "{:<26} {:>9.1} {:>9.0} {:>7.2} {:>10} {:>10} {:>9} {:>9} {:>10.1}",
            run.name,
            mb(r.bytes_scanned),
            run.mb_per_s,
            run.cpu_s,
            r.stubs_written,
            r.records_removed,
            r.segments_rewritten,
            r.segments_removed,
            mb(run.log_bytes_after)
        );
    }
    for run in &report.runs {
        let after = run.log_bytes_after as f64 / report.log_bytes_before as f64 * 100.0;
        println!("  {}: log at {after:.1}% of before; dropped {:?}", run.name, run.report.records_dropped);
    }
    println!(
        "disk baseline (write + fdatasync of 128 MiB): {:.0} MB/s before, {:.0} MB/s after",
        report.disk_mb_per_s[0], report.disk_mb_per_s[1]
    );
    for (index, run) in report.ingest.iter().enumerate() {
        println!(
            "ingest #{index}: {:.0} items/s alone, {:.0} during compaction (b), {:.0} alone after: {:.0}% \
             (compaction {:.0} MB/s over {:.2} s; CPU cores used {:.2} alone, {:.2} during; \
             longest batch {:.1} / {:.1} / {:.1} ms)",
            run.idle_before_items_per_s,
            run.during_items_per_s,
            run.idle_after_items_per_s,
            run.ratio * 100.0,
            run.compaction_mb_per_s,
            run.compaction_s,
            run.cpu_cores_idle,
            run.cpu_cores_during,
            run.longest_batch_ms[0],
            run.longest_batch_ms[1],
            run.longest_batch_ms[2]
        );
    }
    let verdict = if report.ingest_ratio_median >= INGEST_RATIO_MIN { "ok" } else { "BELOW TARGET" };
    println!(
        "ingest during compaction, median: {:.0}% of ingest alone (target >= {:.0}%: {verdict})",
        report.ingest_ratio_median * 100.0,
        INGEST_RATIO_MIN * 100.0
    );
}
